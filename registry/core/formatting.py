"""Jinja filters: dates as 2026年11月28日, money in 元/万元, enumeration labels."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask import Flask

from . import enums
from .parsing import parse_amount
from .rules import Collector
from .timeutil import local_today, to_local


def date_cn(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_local(value)
    return f"{value.year}年{value.month}月{value.day}日"


def datetime_cn(value: datetime | None, *, seconds: bool = False) -> str:
    if value is None:
        return ""
    local = to_local(value)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}" if seconds else \
        f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def date_padded(value: date | None) -> str:
    """A date as printed on paper, two-digit month and day: 2026年12月04日."""
    if value is None:
        return ""
    return f"{value.year}年{value.month:02d}月{value.day:02d}日"


def printed_on() -> str:
    """Today in Hunan, for a printed page's header."""
    return date_padded(local_today())


def month_cn(value: date | None) -> str:
    return "" if value is None else f"{value.year}年{value.month}月"


def yuan(value: Decimal | int | float | None) -> str:
    if value is None:
        return ""
    amount = Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{amount:,.2f} 元"


def wan(value: Decimal | int | float | None) -> str:
    """Amount in 万元 with two decimals (e.g. 12.35 万元)."""
    if value is None:
        return ""
    amount = (Decimal(value) / Decimal(10000)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return f"{amount:,.2f} 万元"


def money(value) -> str:
    """元 below 10,000, 万元 above: what a reader of a Chinese report expects."""
    if value is None:
        return ""
    return wan(value) if abs(Decimal(value)) >= 10000 else yuan(value)


def amount_hint(raw) -> str:
    """What a typed amount stands for, in both units ("5万" -> "＝50,000.00 元＝5.00 万元"),
    read by the one amount parser (``parsing.parse_amount``); "" for a blank or unreadable
    one (its error says why). static/js/money.js writes the same words as the user types."""
    if raw is None or str(raw).strip() == "":
        return ""
    amount = parse_amount(raw, "amount", "金额", Collector())
    return "" if amount is None else f"＝{yuan(amount)}＝{wan(amount)}"


# The parts of a support record's value (SupportRecord.amount, amount_attracted, amount_in_kind).
MONEY_PARTS = {"amount": "直接投入资金", "attracted": "引进资金", "in_kind": "实物折价"}


def money_basis(year: int | None, *parts: str) -> str:
    """What a money figure counts (口径): its period and which parts of a record's value,
    e.g. '2026年；直接投入资金、引进资金、实物折价合计' or '历年累计；仅直接投入资金，不含引进资金、实物折价'.
    Every page that shows a sum says it with this, so two figures never look alike by accident."""
    parts = parts or tuple(MONEY_PARTS)
    period = f"{year}年" if year else "历年累计"
    counted = "、".join(MONEY_PARTS[p] for p in MONEY_PARTS if p in parts)
    left_out = "、".join(MONEY_PARTS[p] for p in MONEY_PARTS if p not in parts)
    return f"{period}；{counted}合计" if not left_out else f"{period}；仅{counted}，不含{left_out}"


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        date_cn=date_cn, datetime_cn=datetime_cn, month_cn=month_cn, yuan=yuan, wan=wan, money=money, percent=percent,
        amount_hint=amount_hint,
    )
    app.jinja_env.globals.update(enums=enums, label=enums.label, money_basis=money_basis, printed_on=printed_on)
