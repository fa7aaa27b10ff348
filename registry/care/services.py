"""Care for frontline cadres: the rules of a care record, and what the pages and the gaps
worklist read.

Rules:
- a record belongs to one posting of the person; the office that dispatched the posting
  (县派 the county, 市派 the city, 省派 and 中央 the province) records it, or an office
  above it (a province may insure every cadre at once); townships, units, villages,
  viewers and cadres read only;
- the item is one of the kind's (``core.enums.CARE_ITEMS``); a health check is one day,
  not in the future; an allowance, an insurance or a leave has a period (end ≥ start, not
  implausibly far ahead); the period (or the day) lies within the posting's time;
- an allowance has an amount (> 0); an insurance may state its sum insured and a health
  check its cost (≥ 0); a leave has none;
- nothing is deleted: a wrong record is cancelled (作废) with a reason, by the same offices;
- a closed year (``closing.rules``, kind ``care``) does not change: a record whose date
  (a health check's day, a period's first day) lies in a year closed for the place copied on
  it (the posting's village, ``region_code``) is neither added nor cancelled;
- every change is an audit event in the same transaction.

Gaps (``dashboard.gaps``): a resident cadre (an active posting of a village role) with no
accident insurance (人身意外伤害保险) covering today, or with no health check this year.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, func, or_, select

from ..assessment.services import user_region
from ..closing.rules import ensure_year_open
from ..audit.services import record, snapshot
from ..core.enums import ACCIDENT_INSURANCE, CARE_ITEMS, CARE_KINDS, VILLAGE_ROLES
from ..core.formatting import date_cn
from ..core.paging import Key, order_by
from ..core.parsing import check_plausible_date, check_text, parse_amount, parse_date, to_id
from ..core.queries import every
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..notifications.recipients import dispatching_region
from ..people.models import Person, Posting
from .models import ZERO, CareRecord, accident_insurance, health_check

STALE_MESSAGE = "该记录已被他人修改，请刷新页面后再试"
PERIOD_KINDS = ("allowance", "insurance", "leave")


def provider_code(posting: Posting) -> str:
    """The office that dispatched ``posting`` and provides for its cadre."""
    return dispatching_region(posting)


def may_record(user, posting: Posting) -> bool:
    """The dispatching office of ``posting`` or an office above it (administrators too)."""
    if user.role == "admin":
        return True
    region = user_region(user)
    return region is not None and region.level != "township" and region.contains(provider_code(posting))


def may_record_any(user) -> bool:
    """Whether ``user`` is an office that records care at all (a township dispatches nobody):
    who sees the import."""
    if user.role == "admin":
        return True
    region = user_region(user)
    return region is not None and region.level != "township"


def recordable_postings(user, person: Person) -> list[Posting]:
    """The person's postings ``user`` may record care under, the active one first."""
    postings = db.session.scalars(select(Posting).where(Posting.person_id == person.id)
                                  .order_by(Posting.end_date.is_not(None), Posting.start_date.desc())).all()
    return [p for p in postings if may_record(user, p)]


@dataclass
class CareData:
    posting_id: object
    kind: str | None
    item: str | None
    start_date: object
    end_date: object = None
    amount: object = None
    provider_name: str | None = None
    reference: str | None = None
    note: str | None = None


def _text(value, field: str, label: str, limit: int, errors: Collector, multiline: bool = False) -> str | None:
    text = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if not text:
        return None
    if len(text) > limit:
        errors.add(field, f"{label}最多{limit}字")
        return None
    check_text(text, field, label, errors, multiline=multiline)
    return text


def _date(value) -> date | None:
    from ..core.parsing import to_date

    return value if isinstance(value, date) else to_date(value)


def check_care(person: Person, data: CareData, user) -> dict:
    """The rule of a new care record (the form's and the import's): the posting one of the
    person's that ``user`` may record under, the kind's item, the period or the day within
    the posting's time, the amount the kind asks for. Returns the clean values."""
    errors = Collector()
    posting = None
    posting_id = to_id(data.posting_id)  # None: no id any row can hold
    if posting_id is not None:
        posting = db.session.get(Posting, posting_id)
    if posting is None or posting.person_id != person.id:
        errors.add("posting_id", "请选择该干部的一次选派")
        errors.raise_if_any()
    if not may_record(user, posting):
        raise RuleViolation(f"该选派为{posting.dispatch_level_label}，只有派出机关（或其上级）可以登记关心关爱事项", "posting_id")
    kind = data.kind
    if kind not in CARE_KINDS:
        errors.add("kind", "请选择类别（补助、保险、体检或休假）")
    elif data.item not in CARE_ITEMS[kind]:
        errors.add("item", f"请选择{CARE_KINDS[kind]}项目（{'、'.join(CARE_ITEMS[kind])}）")
    start = end = None
    if kind == "health_check":
        start = parse_date(data.start_date, "start_date", "体检日期", errors)
    else:
        start = _date(data.start_date)
        if start is None:
            errors.add("start_date", "请填写开始日期（年-月-日）")
        elif not check_plausible_date(start, "start_date", "开始日期", errors):
            start = None
        end = _date(data.end_date)
        if end is None:
            errors.add("end_date", "请填写结束日期（年-月-日）")
        elif not check_plausible_date(end, "end_date", "结束日期", errors):
            end = None
        elif start is not None and end < start:
            errors.add("end_date", "结束日期不能早于开始日期")
    if start is not None and posting is not None:
        last = end or start
        posting_end = posting.end_date or date.max
        if last < posting.start_date or start > posting_end:
            errors.add("start_date", f"须在选派期间内（{date_cn(posting.start_date)}起"
                                     f"{'至' + date_cn(posting.end_date) if posting.end_date else ''}）")
    amount = ZERO
    if kind == "allowance":
        amount = parse_amount(data.amount, "amount", "补助金额", errors, positive=True)
    elif kind in ("insurance", "health_check"):
        amount = parse_amount(data.amount, "amount", "保额" if kind == "insurance" else "体检费用", errors)
    elif kind == "leave" and str(data.amount or "").strip() not in ("", "0", "0.00"):
        errors.add("amount", "休假不填写金额")
    provider_name = _text(data.provider_name, "provider_name", "承保、体检或发放单位", 100, errors)
    reference = _text(data.reference, "reference", "保单号或文号", 100, errors)
    note = _text(data.note, "note", "备注", 1000, errors, multiline=True)
    errors.raise_if_any()
    ensure_year_open(start.year, posting.region_code, "care", "start_date")
    return dict(posting=posting, kind=kind, item=data.item, start_date=start, end_date=end,
                amount=amount if amount is not None else ZERO, provider_name=provider_name, reference=reference,
                note=note)


def add_care(person: Person, data: CareData, user, *, commit: bool = True) -> CareRecord:
    """``commit=False``: flushed only (an import commits all its rows at once)."""
    values = check_care(person, data, user)
    posting = values.pop("posting")
    care = CareRecord(
        person_id=person.id, posting_id=posting.id, organization_id=posting.organization_id,
        region_code=posting.region_code, provider_region_code=provider_code(posting), status="active",
        recorded_by_id=getattr(user, "id", None), **values,
    )
    db.session.add(care)
    db.session.flush()
    record("create", care, summary=f"登记{care.kind_label}：{person.name} {care.item}，{period_text(care)}")
    if commit:
        db.session.commit()
    return care


def cancel_care(care: CareRecord, reason: str | None, user, version=None) -> CareRecord:
    """作废 a wrong record: it stays, marked, with the reason."""
    if not may_record(user, care.posting):
        raise RuleViolation("只有派出机关（或其上级）可以作废关心关爱记录", "")
    if care.status != "active":
        raise RuleViolation("该记录已作废", "")
    ensure_year_open(care.start_date.year, care.region_code, "care")
    reason = (reason or "").strip()
    if not reason:
        raise RuleViolation("请填写作废原因", "reason")
    if len(reason) > 500:
        raise RuleViolation("作废原因最多500字", "reason")
    errors = Collector()
    check_text(reason, "reason", "作废原因", errors, multiline=True)
    errors.raise_if_any()
    if version not in (None, "") and str(version) != str(care.version):
        raise RuleViolation(STALE_MESSAGE, "")
    before = snapshot(care)
    care.status, care.cancel_reason = "cancelled", reason
    care.cancelled_at, care.cancelled_by_id = utcnow(), getattr(user, "id", None)
    flush_or_refuse(STALE_MESSAGE)
    record("cancel", care, before=before, summary=f"作废{care.kind_label}记录：{care.person.name} {care.item}，原因：{reason[:80]}")
    db.session.commit()
    return care


def period_text(care: CareRecord) -> str:
    if care.end_date is None:
        return date_cn(care.start_date)
    return f"{date_cn(care.start_date)}至{date_cn(care.end_date)}"


# -- what the pages read ------------------------------------------------------------------------------

# newest first (ix_care_record_start_id)
CARE_ORDER = (Key(CareRecord.start_date, descending=True), Key(CareRecord.id, descending=True))


def care_for(user, *, kind: str = "", year: int | None = None, status: str = "active") -> Select:
    """Care records ``user`` may see, by kind, year (of the period) and status; newest first."""
    stmt = scoped(select(CareRecord), CareRecord, user)
    if kind in CARE_KINDS:
        stmt = stmt.where(CareRecord.kind == kind)
    if year:
        stmt = stmt.where(CareRecord.start_date <= date(year, 12, 31),
                          func.coalesce(CareRecord.end_date, CareRecord.start_date) >= date(year, 1, 1))
    if status in ("active", "cancelled"):
        stmt = stmt.where(CareRecord.status == status)
    return stmt.order_by(*order_by(CARE_ORDER))


def person_care(user, person_id: int) -> list[CareRecord]:
    return every(scoped(select(CareRecord), CareRecord, user).where(CareRecord.person_id == person_id)
                 .order_by(CareRecord.start_date.desc(), CareRecord.id.desc()))


@dataclass
class CareStatus:
    """Where a cadre stands today: insured, checked, paid, rested."""

    insurance: CareRecord | None  # accident insurance covering today
    health_check: CareRecord | None  # this year's latest
    allowances: Decimal  # paid for periods in this year
    leave_days: int  # days of leave in this year
    resident: bool  # holds an active village posting (the gaps apply)
    year: int

    @property
    def gaps(self) -> list[str]:
        if not self.resident:
            return []
        out = []
        if self.insurance is None:
            out.append("没有覆盖今天的人身意外伤害保险")
        if self.health_check is None:
            out.append(f"{self.year}年尚未体检")
        return out


def care_status(records: list[CareRecord], person_id: int, today: date | None = None) -> CareStatus:
    today = today or local_today()
    active = [r for r in records if r.is_active]
    insurance = next((r for r in active if r.kind == "insurance" and r.item == ACCIDENT_INSURANCE and r.covers(today)), None)
    checks = [r for r in active if r.kind == "health_check" and r.start_date.year == today.year]
    year_start, year_end = date(today.year, 1, 1), date(today.year, 12, 31)
    allowances = sum((r.amount for r in active if r.kind == "allowance" and r.start_date.year == today.year), ZERO)
    leave = 0
    for r in active:
        if r.kind == "leave" and r.end_date is not None:
            first, last = max(r.start_date, year_start), min(r.end_date, year_end)
            leave += max((last - first).days + 1, 0)
    resident = db.session.scalar(select(func.count()).select_from(Posting).where(
        Posting.person_id == person_id, Posting.is_active, Posting.role.in_(VILLAGE_ROLES))) > 0
    return CareStatus(insurance=insurance, health_check=max(checks, key=lambda r: r.start_date, default=None),
                      allowances=allowances, leave_days=leave, resident=resident, year=today.year)


# -- the gaps (dashboard.gaps) ---------------------------------------------------------------------

def _has(*conditions):
    return select(CareRecord.id).where(CareRecord.person_id == Posting.person_id, *conditions).exists()


def uninsured(active: Select, today: date) -> Select:
    """Of the active postings ``active``: the resident cadres with no accident insurance
    covering ``today``."""
    covering = _has(*accident_insurance(), CareRecord.start_date <= today,
                    or_(CareRecord.end_date.is_(None), CareRecord.end_date >= today))
    return active.where(Posting.role.in_(VILLAGE_ROLES), ~covering)


def unchecked(active: Select, year: int | None = None, *, year_bounds=None) -> Select:
    """Of the active postings ``active``: the resident cadres with no health check in ``year``
    (or between ``year_bounds``, its first and last day, as bound parameters)."""
    first, last = (date(year, 1, 1), date(year, 12, 31)) if year_bounds is None else year_bounds
    checked = _has(*health_check(), CareRecord.start_date >= first, CareRecord.start_date <= last)
    return active.where(Posting.role.in_(VILLAGE_ROLES), ~checked)
