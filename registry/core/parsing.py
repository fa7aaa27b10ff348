"""How typed-in fields become values: one parser for every form, import, API and CLI.

Text is taken as typed and trimmed; numbers, dates and codes are read after full-width
characters become ASCII (a Chinese input method gives ``１２，５００``). Each ``parse_*``
returns the value, or ``None`` after adding a Chinese message that names the field
to the ``Collector``: callers check all their fields, then raise once.

The messages are the records' wording; a feature that has always shown other words
passes its own (``wording``) so that what users read does not change.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from flask import current_app

from .rules import Collector
from .timeutil import local_today

MAX_AMOUNT = Decimal("999999999999.99")
MAX_COUNT = 10_000_000
CENT = Decimal("0.01")

# {label} is the field's Chinese name. Amounts and counts share the keys they both use.
WORDING: dict[str, str] = {
    "blank": "请填写{label}",
    "not_amount": "{label}应为数字（单位：元），如 12500.50",
    "not_finite": "{label}应为数字（单位：元）",
    "not_count": "{label}应为整数",
    "negative": "{label}不能为负数",
    "zero": "{label}应大于零",
    "decimals": "{label}最多保留两位小数（精确到分）",
    "too_large": "{label}超出可登记的范围",
    "not_date": "{label}格式应为 年-月-日，如 2025-06-18",
    "future": "{label}不能晚于今天",
    "too_early": "{label}不能早于{earliest.year}年{earliest.month}月{earliest.day}日",
}


def clean_text(value) -> str:
    """Text as typed, trimmed (Chinese full-width punctuation is kept)."""
    return str(value).strip() if value is not None else ""


def halfwidth(value) -> str:
    """For numbers, dates and codes: full-width digits, letters and signs become ASCII
    (NFKC), trimmed."""
    return unicodedata.normalize("NFKC", str(value) if value is not None else "").strip()


def _say(errors: Collector, field: str, key: str, label: str, wording: Mapping[str, str] | None, **extra) -> None:
    template = (wording or {}).get(key) or WORDING[key]
    errors.add(field, template.format(label=label, **extra))


def parse_amount(value, field: str, label: str, errors: Collector, *, required: bool = False,
                 positive: bool = False, wording: Mapping[str, str] | None = None) -> Decimal | None:
    """An amount in 元, to the cent: full-width digits, thousands commas, spaces and a
    trailing 元 are accepted. Blank is 0 unless ``required`` (or ``positive``); ≥ 0, or > 0
    when ``positive``; at most two decimals; at most ``MAX_AMOUNT``."""
    if isinstance(value, Decimal):
        amount = value
    else:
        raw = halfwidth(value).replace(",", "").replace(" ", "").removesuffix("元")
        if raw == "":
            if required or positive:
                _say(errors, field, "blank", label, wording)
                return None
            return Decimal("0.00")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            _say(errors, field, "not_amount", label, wording)
            return None
    if not amount.is_finite():
        _say(errors, field, "not_finite", label, wording)
        return None
    if amount < 0:
        _say(errors, field, "negative", label, wording)
        return None
    if positive and amount == 0:
        _say(errors, field, "zero", label, wording)
        return None
    if amount != amount.quantize(CENT):
        _say(errors, field, "decimals", label, wording)
        return None
    if amount > MAX_AMOUNT:
        _say(errors, field, "too_large", label, wording)
        return None
    return amount.quantize(CENT)


def parse_count(value, field: str, label: str, errors: Collector, *, required: bool = False,
                maximum: int | None = MAX_COUNT, wording: Mapping[str, str] | None = None) -> int | None:
    """A whole number ≥ 0 (and ≤ ``maximum``): full-width digits and thousands commas are
    accepted. Blank is 0 unless ``required``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raw = halfwidth(value).replace(",", "")
        if raw == "":
            if required:
                _say(errors, field, "blank", label, wording)
                return None
            return 0
        if not raw.removeprefix("-").isdecimal():
            _say(errors, field, "not_count", label, wording)
            return None
        number = int(raw)
    if number < 0:
        _say(errors, field, "negative", label, wording)
        return None
    if maximum is not None and number > maximum:
        _say(errors, field, "too_large", label, wording)
        return None
    return number


def parse_date(value, field: str, label: str, errors: Collector, *,
               wording: Mapping[str, str] | None = None) -> date | None:
    """A date written 2025-06-18, 2025/06/18, 2025.06.18 or 20250618 (full-width too), required, not in
    the future (Hunan's today) and not before the registry's first date
    (``REGISTRY_RECORD_EARLIEST_DATE``)."""
    if isinstance(value, date):
        day = value
    else:
        raw = halfwidth(value).replace("/", "-").replace(".", "-")
        if raw == "":
            _say(errors, field, "blank", label, wording)
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            _say(errors, field, "not_date", label, wording)
            return None
    earliest = current_app.config["REGISTRY_RECORD_EARLIEST_DATE"]
    if day > local_today():
        _say(errors, field, "future", label, wording)
        return None
    if day < earliest:
        _say(errors, field, "too_early", label, wording, earliest=earliest)
        return None
    return day
