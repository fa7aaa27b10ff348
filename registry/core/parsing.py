"""How typed-in fields become values: one parser for every form, import, API and CLI.

Text is taken as typed and trimmed; numbers, dates and codes are read after full-width
characters become ASCII (a Chinese input method gives ``１２，５００``). Each ``parse_*``
returns the value, or ``None`` after adding a Chinese message that names the field
to the ``Collector``: callers check all their fields, then raise once.

The messages are the records' wording; a feature that has always shown other words
passes its own (``wording``) so that what users read does not change.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from werkzeug.routing import IntegerConverter

from .rules import Collector, RuleViolation
from .timeutil import local_today

MAX_AMOUNT = Decimal("999999999999.99")
MAX_COUNT = 10_000_000
# The largest id any table holds: ids (and counts) are INTEGER columns, 32-bit on PostgreSQL. A larger
# number names nothing, and handed to the database it is an error (SQLite cannot bind an
# integer above 2^63 - 1), so it is refused before any query.
ID_MAX = 2**31 - 1
CENT = Decimal("0.01")
ZERO_CENTS = Decimal("0.00")
_MAX_WHOLE = int(MAX_AMOUNT)  # the largest whole number of 元 an amount may be
TENTH = Decimal("0.1")

# {label} is the field's Chinese name. Amounts and counts share the keys they both use.
WORDING: dict[str, str] = {
    "blank": "请填写{label}",
    "not_amount": "{label}应为金额：单位为元，如 12500.50；也可写万元，如 5万、5.2万元",
    "not_finite": "{label}应为数字（单位：元）",
    "not_count": "{label}应为整数",
    "negative": "{label}不能为负数",
    "zero": "{label}应大于零",
    "decimals": "{label}最多保留两位小数（精确到分）",
    "too_large": "{label}超出可登记的范围",
    # hours
    "not_number": "{label}应为数字",
    "not_positive": "{label}应大于0",
    "above": "{label}不能超过{maximum}",
    "tenths": "{label}最多保留1位小数",
    "not_date": "{label}格式应为 年-月-日，如 2025-06-18",
    "future": "{label}不能晚于今天",
    "too_early": "{label}不能早于{earliest.year}年{earliest.month}月{earliest.day}日",
}


def clean_text(value) -> str:
    """Text as typed, trimmed (Chinese full-width punctuation is kept)."""
    return str(value).strip() if value is not None else ""


def halfwidth(value) -> str:
    """For numbers, dates and codes: full-width digits, letters and signs become ASCII
    (NFKC), trimmed. ASCII text is its own NFKC form: only trimmed (most cells are)."""
    if value.__class__ is str and value.isascii():
        return value.strip()
    return unicodedata.normalize("NFKC", str(value) if value is not None else "").strip()


# -- characters text may not hold -------------------------------------------------------------

# Invisible characters that change how text reads without showing themselves: C0 and C1
# controls, DEL, and the bidirectional marks, embeddings, overrides and isolates (U+202E
# turns "村（代码）" around on screen: a name that reads as another). PostgreSQL also
# refuses NUL in text (a 500 before this rule).
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# a name (one line): also tab and line breaks, zero-width and other format characters
# (two names that look alike must be alike), and the line and paragraph separators
_NAME_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200d\u2028\u2029\u2060-\u2064\ufeff{_BIDI}]")
# free text (a description, a note): line breaks and tabs are its own
_TEXT_UNSAFE = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}]")


def unsafe_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of ``text`` that a name (or, ``multiline``, a free text) may
    not hold, as "U+202E"; None when there is none."""
    found = (_TEXT_UNSAFE if multiline else _NAME_UNSAFE).search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def check_text(text: str | None, field: str, label: str, errors: Collector, *, multiline: bool = False) -> bool:
    """*The* rule for characters in typed text, used by every form, import and command:
    no control or bidirectional-override character in a name (``multiline`` for a free
    text, which keeps its line breaks and tabs). Adds a message naming the field and the
    character; True when the text is clean (or blank)."""
    if text is None or text == "":
        return True
    bad = unsafe_character(str(text), multiline=multiline)
    if bad is None:
        return True
    errors.add(field, f"{label}含有不可见的控制字符（{bad}），请删除后重新填写")
    return False


def refuse_nul(values) -> None:
    """A request whose query string or form holds NUL (U+0000) anywhere is refused (400):
    no one types it, and PostgreSQL refuses it in text, so any field a rule does not check
    (a search box, a free-text note) would otherwise reach the database and fail there."""
    for name, value in values.items(multi=True):
        if "\x00" in value or "\x00" in name:
            raise BadArgument(f"提交的内容含有不可见的控制字符（U+0000），请删除后重新提交（{name[:40]}）", name[:40])


def _say(errors: Collector, field: str, key: str, label: str, wording: Mapping[str, str] | None, **extra) -> None:
    template = (wording or {}).get(key) or WORDING[key]
    errors.add(field, template.format(label=label, **extra))


# A number as typed: ASCII digits (after ``halfwidth``), a point, an exponent. Decimal
# alone would also take 1_000, NaN, Infinity and other scripts' digits.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = {"nan", "snan", "inf", "infinity"}


def _decimal(raw: str) -> Decimal | str:
    """Cleaned text (half-width, no separators) as a Decimal, or why it is not one: the
    ``WORDING`` key "not_amount", "not_finite", "too_large" or "decimals" (an exponent
    beyond what Decimal holds: far too large, or far too many decimals)."""
    if not _NUMBER.fullmatch(raw):
        return "not_finite" if raw.lstrip("+-").lower() in _NOT_FINITE else "not_amount"
    try:
        return Decimal(raw)
    except InvalidOperation:
        return "decimals" if re.search(r"[eE]-", raw) else "too_large"


def _as_decimal(value) -> Decimal | str | None:
    """A spreadsheet's number or a Decimal as a Decimal; None for anything else (text)."""
    kind = value.__class__
    if kind is float:  # a spreadsheet's number (the commonest case, tested first)
        return Decimal(repr(value))
    if kind is int or kind is Decimal or isinstance(value, Decimal):
        return Decimal(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None


def parse_amount(value, field: str, label: str, errors: Collector, *, required: bool = False,
                 positive: bool = False, wording: Mapping[str, str] | None = None) -> Decimal | None:
    """An amount in 元, to the cent: *the* reading of money for every form, import, API
    and CLI. Written in 元 or in 万元: "50000", "50,000元", "5万", "5万元", "5.2万",
    "¥50000" and full-width digits (``５万``) are all accepted, with spaces anywhere;
    "5万" is 50000.00. Blank is 0 unless ``required`` (or ``positive``); ≥ 0, or > 0
    when ``positive``; at most two decimals; at most ``MAX_AMOUNT`` (what the column
    holds; a deployment's ceiling per record is ``check_amounts``). Every range is checked
    before any arithmetic: 1e308, NaN, Infinity and huge exponents are refused, -0 is 0."""
    kind = value.__class__
    # a spreadsheet's number in range, as most cells are: the general path below gives
    # the same cents (and sends anything else, below a cent too, to its messages)
    if kind is int:
        if 0 < value <= _MAX_WHOLE:
            return Decimal(value).quantize(CENT)
        if value == 0 and not (required or positive):
            return ZERO_CENTS
    elif kind is float and 0 < value < _MAX_WHOLE:
        amount = Decimal(repr(value))
        cents = amount.quantize(CENT)
        if cents == amount:
            return cents
    amount = _as_decimal(value)
    if amount is None:
        raw = halfwidth(value).replace(",", "").replace(" ", "").removeprefix("¥").removesuffix("元")
        tenthousands = raw.endswith("万")  # "5万", "1.5万元": spreadsheets often count in 万元
        raw = raw.removesuffix("万")
        if raw == "" and tenthousands:  # "万" alone is no amount, not a blank one
            _say(errors, field, "not_amount", label, wording)
            return None
        if raw == "":
            if required or positive:
                _say(errors, field, "blank", label, wording)
                return None
            return ZERO_CENTS
        amount = _decimal(raw)
        if isinstance(amount, str):
            _say(errors, field, amount, label, wording)
            return None
        if tenthousands and amount.is_finite():
            if amount.adjusted() > MAX_AMOUNT.adjusted():  # before multiplying
                _say(errors, field, "too_large", label, wording)
                return None
            amount = amount * 10000
    if not amount.is_finite():
        _say(errors, field, "not_finite", label, wording)
        return None
    if amount < 0:
        _say(errors, field, "negative", label, wording)
        return None
    if positive and amount == 0:
        _say(errors, field, "zero", label, wording)
        return None
    if amount > MAX_AMOUNT:  # before quantize, which cannot hold 1e308 to the cent
        _say(errors, field, "too_large", label, wording)
        return None
    if amount == 0:
        return ZERO_CENTS  # also -0 and 0E-999999
    if amount.adjusted() < -2:  # a non-zero amount below a cent: quantize would round it away
        _say(errors, field, "decimals", label, wording)
        return None
    cents = amount.quantize(CENT)
    if amount != cents:
        _say(errors, field, "decimals", label, wording)
        return None
    return cents


# -- a deployment's limits on one record's amounts ------------------------------------------

CONFIRM_FIELD = "amount_confirmed"  # the form's checkbox, the import's column
CONFIRM_LABEL = "以上金额已核对无误"
FORM_CONFIRM_HINT = f"，核对无误后勾选下面的“{CONFIRM_LABEL}”再保存"
CONFIRM_HEADER = "大额已核实"  # the import's column, added to the file when a row needs it
IMPORT_CONFIRM_HINT = f"；核对无误请在该行“{CONFIRM_HEADER}”列填“是”（文件中没有此列的，在表头添加一列“{CONFIRM_HEADER}”）"


@dataclass(frozen=True)
class AmountLimits:
    """``REGISTRY_AMOUNT_MAX_YUAN``: no single amount above it; ``REGISTRY_AMOUNT_CONFIRM_YUAN``:
    one above it only when the user confirms it (a slip of the keyboard adds a digit)."""

    ceiling: Decimal
    confirm_above: Decimal
    # the lower of the two: an amount at or below it is within both (``check_amounts``
    # has nothing to say of it, and says so first)
    lower: Decimal = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lower", min(self.ceiling, self.confirm_above))


def amount_limits() -> AmountLimits:
    """The settings, read once (an import reads them once for its file)."""
    cfg = current_app.config
    return AmountLimits(Decimal(cfg["REGISTRY_AMOUNT_MAX_YUAN"]), Decimal(cfg["REGISTRY_AMOUNT_CONFIRM_YUAN"]))


def _wan(amount: Decimal) -> str:
    return f"{(amount / 10000).quantize(CENT):,} 万元"


def check_amounts(amounts: Mapping[str, tuple[str, Decimal | None]], errors: Collector, *, confirmed: bool,
                  stored: Mapping[str, Decimal | None] | None = None, hint: str = FORM_CONFIRM_HINT,
                  limits: AmountLimits | None = None) -> None:
    """One record's amounts (field -> (label, parsed amount)) against the deployment's limits:
    above the ceiling refused on the field; above the confirmation threshold refused on
    ``CONFIRM_FIELD`` unless ``confirmed``, with ``hint`` saying how to confirm. An amount
    equal to the ``stored`` one (an edit that leaves it as it was) was confirmed before."""
    limits = limits or amount_limits()
    lower = limits.lower
    if all(amount is None or amount <= lower for _, amount in amounts.values()):
        return  # most records: every amount within both limits (an import checks each row)
    for field, (label, amount) in amounts.items():
        if amount is None:
            continue
        if amount > limits.ceiling:
            errors.add(field, f"{label}（{_wan(amount)}）超过单条记录的上限 {_wan(limits.ceiling)}，请核对金额（单位：元）")
        elif amount > limits.confirm_above and not confirmed and (stored or {}).get(field) != amount:
            errors.add(CONFIRM_FIELD, f"{label}金额较大（{_wan(amount)}），请确认{hint}")


def parse_hours(value, field: str, label: str, errors: Collector, *, maximum: Decimal,
                wording: Mapping[str, str] | None = None) -> Decimal | None:
    """Hours (学时) to a tenth: required, above 0, at most ``maximum``; full-width digits
    are accepted. Checked before any arithmetic, like ``parse_amount``."""
    hours = _as_decimal(value)
    if hours is None:
        raw = halfwidth(value)
        if raw == "":
            _say(errors, field, "blank", label, wording)
            return None
        hours = _decimal(raw)
        if hours == "too_large":
            _say(errors, field, "above", label, wording, maximum=maximum)
            return None
        if isinstance(hours, str):
            _say(errors, field, {"not_finite": "not_positive", "decimals": "tenths"}.get(hours, "not_number"),
                 label, wording)
            return None
    if not hours.is_finite() or hours <= 0:
        _say(errors, field, "not_positive", label, wording)
        return None
    if hours > maximum:  # before quantize, which cannot hold 1e308 to a tenth
        _say(errors, field, "above", label, wording, maximum=maximum)
        return None
    if hours.adjusted() < -1 or hours != hours.quantize(TENTH):
        _say(errors, field, "tenths", label, wording)
        return None
    return hours.quantize(TENTH)  # as stored: "12" and "12.0" are the same hours


def parse_count(value, field: str, label: str, errors: Collector, *, required: bool = False,
                maximum: int | None = MAX_COUNT, wording: Mapping[str, str] | None = None) -> int | None:
    """A whole number ≥ 0 (and ≤ ``maximum``; with None, what an INTEGER column holds):
    full-width digits and thousands commas are accepted. Blank is 0 unless ``required``."""
    ceiling = ID_MAX if maximum is None else maximum
    if value.__class__ is int or (isinstance(value, int) and not isinstance(value, bool)):
        number = value
    elif isinstance(value, float):  # a spreadsheet's number
        if not value.is_integer():
            _say(errors, field, "not_count", label, wording)
            return None
        number = int(value)
    else:
        raw = halfwidth(value).replace(",", "")
        if raw == "":
            if required:
                _say(errors, field, "blank", label, wording)
                return None
            return 0
        digits = raw.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            _say(errors, field, "not_count", label, wording)
            return None
        if len(digits) > len(str(ceiling)):  # before int(), which refuses 4,300 digits
            _say(errors, field, "negative" if raw.startswith("-") else "too_large", label, wording)
            return None
        number = int(raw)
    if number < 0:
        _say(errors, field, "negative", label, wording)
        return None
    if number > ceiling:
        _say(errors, field, "too_large", label, wording)
        return None
    return number


@dataclass(frozen=True)
class DateBounds:
    """The dates ``parse_date`` accepts: from the registry's first date to Hunan's today."""

    earliest: date
    latest: date


def date_bounds() -> DateBounds:
    """``parse_date``'s bounds as of now, for a caller checking many dates at once (an
    import reads the setting and the clock once for its file, not once per row)."""
    return DateBounds(current_app.config["REGISTRY_RECORD_EARLIEST_DATE"], local_today())


def parse_date(value, field: str, label: str, errors: Collector, *,
               wording: Mapping[str, str] | None = None, bounds: DateBounds | None = None) -> date | None:
    """A date written 2025-06-18, 2025/6/18, 2025.06.18, 2025年6月18日 or 20250618
    (full-width too), or a spreadsheet's date cell or date serial number; required, not in
    the future (Hunan's today) and not before the registry's first date
    (``REGISTRY_RECORD_EARLIEST_DATE``). ``bounds`` (``date_bounds()``, read once by
    the caller) saves reading the setting and the clock for each date."""
    day = value if value.__class__ is date else to_date(value)  # a date cell, as it usually is
    if day is None:
        raw = halfwidth(value)
        if raw == "":
            _say(errors, field, "blank", label, wording)
            return None
        _say(errors, field, "not_date", label, wording)
        return None
    if bounds is None:
        bounds = date_bounds()
    earliest = bounds.earliest
    if day > bounds.latest:
        _say(errors, field, "future", label, wording)
        return None
    if day < earliest:
        _say(errors, field, "too_early", label, wording, earliest=earliest)
        return None
    return day


# The earliest date anything in the registry can be about (a pairing, a posting, a course):
# below it a date is a typing error, and date arithmetic near year 1 overflows.
EARLIEST_PLAUSIBLE = date(1990, 1, 1)


def latest_plausible(today: date | None = None) -> date:
    """The latest date a planned event may have: ``REGISTRY_DATE_YEARS_AHEAD`` years
    after today (29 February falls back to the 28th)."""
    today = today or local_today()
    years = int(current_app.config["REGISTRY_DATE_YEARS_AHEAD"])
    try:
        return today.replace(year=today.year + years)
    except ValueError:
        return today.replace(year=today.year + years, day=28)


def check_plausible_date(day: date | None, field: str, label: str, errors: Collector, *,
                         latest: date | None = None) -> bool:
    """A date that may lie ahead (a course's end, a posting's start or planned end, a
    pairing's end) is plausible: not before ``EARLIEST_PLAUSIBLE`` and not more than
    ``REGISTRY_DATE_YEARS_AHEAD`` years after today (``latest``, read once by a caller
    checking many). A blank date passes (its rule says whether it is required)."""
    if day is None:
        return True
    latest = latest or latest_plausible()
    if day > latest:
        errors.add(field, f"{label}不能晚于{latest.year}年{latest.month}月{latest.day}日"
                          f"（今天起{current_app.config['REGISTRY_DATE_YEARS_AHEAD']}年内）")
        return False
    if day < EARLIEST_PLAUSIBLE:
        errors.add(field, f"{label}不能早于{EARLIEST_PLAUSIBLE.year}年{EARLIEST_PLAUSIBLE.month}月{EARLIEST_PLAUSIBLE.day}日")
        return False
    return True


_DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def to_date(value) -> date | None:
    """The date ``value`` stands for, or None when it is blank or not a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # a spreadsheet cell holding a date serial (days since 1899-12-30)
        if float(value).is_integer() and 1 <= value <= 2_958_465:
            return _EXCEL_EPOCH + timedelta(days=int(value))
        return None
    raw = halfwidth(value)
    match = _DATE_TEXT.match(raw)
    try:
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if len(raw) == 8 and raw.isdigit():
            return date.fromisoformat(f"{raw[:4]}-{raw[4:6]}-{raw[6:]}")
    except ValueError:
        return None
    return None


# -- ids, in paths and query strings ---------------------------------------------------------

# A year in a query string: any plausible one; a page narrows it further (its own default)
YEAR_MIN, YEAR_MAX = 2000, 2100


def to_id(value) -> int | None:
    """``value`` (an int, or text of ASCII digits, e.g. a form's hidden id) as an id, or
    None when it is not one: not a whole number, below 1 or above ``ID_MAX``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip() if value is not None else ""
        if not (text.isascii() and text.isdigit()) or len(text) > len(str(ID_MAX)):
            return None
        number = int(text)
    return number if 1 <= number <= ID_MAX else None


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route (``create_app`` puts it in place of werkzeug's): ASCII
    digits up to ``ID_MAX``. A larger number is no object's id, so the route does not match
    and the answer is 404, as for any id that does not exist."""

    regex = r"[0-9]+"  # not \d, which also matches other scripts' digits

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = ID_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


class BadArgument(RuleViolation):
    """A query-string argument the page cannot use: 400, with a message naming it (as a
    page, or as JSON for the API)."""

    status_code = 400
    title = "请求参数有误"


def int_arg(args: Mapping[str, str], name: str, label: str, *, default: int | None = None,
            minimum: int = 1, maximum: int = ID_MAX) -> int | None:
    """The whole number ``args[name]`` (a request's query string or form): ``default``
    when absent or blank; ``BadArgument`` (400, naming ``label`` and ``name``) when it is
    not a whole number or lies outside [``minimum``, ``maximum``]. Every query argument
    read as a number goes through here: ids (the default range), page numbers, offsets,
    years (``YEAR_MIN``..``YEAR_MAX``; a page may then fall back to its own default year
    for one it does not offer)."""
    raw = args.get(name)
    text = halfwidth(raw) if raw is not None else ""
    if text == "":
        return default
    digits = text.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()):
        raise BadArgument(f"{label}（{name}）应为整数", name)
    if len(digits) > len(str(max(abs(minimum), abs(maximum)))):
        raise BadArgument(f"{label}（{name}）应在{minimum}至{maximum}之间", name)
    number = int(text)
    if not minimum <= number <= maximum:
        raise BadArgument(f"{label}（{name}）应在{minimum}至{maximum}之间", name)
    return number


def page_arg(args: Mapping[str, str], name: str = "page") -> int:
    """The page number of a paged list (``?page=``): 1 when absent; 400 when not 1..ID_MAX."""
    return int_arg(args, name, "页码", default=1)
