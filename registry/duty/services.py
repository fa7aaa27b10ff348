"""Filing, correcting and checking months in the village (驻村纪实).

Rules (DESIGN.md section 5): a record per village posting and month; the month is not in
the future and lies within the posting's term; days are whole numbers that fit the days
the posting covers in that month; leave needs who approved it; a checked month is locked.
Fewer days than ``REGISTRY_MIN_DAYS_IN_VILLAGE`` (20) is a gap that is flagged, not an error;
in the posting's first or last month the minimum is pro rata to the days it covers.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, select

from ..core.enums import DUTY_STATUSES, VILLAGE_ROLES
from ..core.formatting import month_cn
from ..core.paging import Key, count_up_to, order_by
from ..core.queries import every
from ..core.parsing import parse_count
from ..core.review import ReviewCycle
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..closing.rules import ensure_year_open
from ..core.timeutil import local_today
from ..extensions import db
from ..people.models import Posting
from .models import DutyMonth

STALE_MESSAGE = "该月纪实已被他人修改，请刷新页面后重新填写"
SUMMARY_MAX = 1000


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def posting_days_in_month(posting: Posting, month: date, until: date | None = None) -> int:
    """Days of ``month`` inside the posting's term (and up to ``until``, if given)."""
    first, last = month_start(month), month_end(month)
    lo = max(first, posting.start_date)
    hi = min(last, posting.end_date or last, until or last)
    return max(0, (hi - lo).days + 1)


def posting_months(posting: Posting, today: date | None = None) -> list[date]:
    """The months a village posting should have a record for, oldest first, up to the
    current month (or the month the posting ended)."""
    today = today or local_today()
    last = month_start(min(today, posting.end_date or today))
    month, out = month_start(posting.start_date), []
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def min_days() -> int:
    return int(current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"])


@dataclass
class DutyData:
    month: date | None
    days_in_village: int | None
    leave_days: int | None
    leave_approved_by: str | None
    absences: int | None
    summary: str | None


def _check(posting: Posting, data: DutyData, existing: DutyMonth | None, today: date) -> dict:
    errors = Collector()
    if posting.role not in VILLAGE_ROLES:
        raise RuleViolation("只有驻村第一书记和驻村工作队员填报驻村纪实", "")
    month = month_start(data.month) if data.month else None
    if month is None:
        errors.add("month", "请选择月份")
    elif existing is not None and month != existing.month:
        errors.add("month", "已填报的纪实不能更改月份")
    elif month > month_start(today):
        errors.add("month", "不能填报未来月份的纪实")
    elif month < month_start(posting.start_date):
        errors.add("month", f"月份不能早于选派开始的{month_cn(posting.start_date)}")
    elif posting.end_date is not None and month > month_start(posting.end_date):
        errors.add("month", f"月份不能晚于选派结束的{month_cn(posting.end_date)}")
    elif existing is None and db.session.scalar(
        select(DutyMonth.id).where(DutyMonth.posting_id == posting.id, DutyMonth.month == month)
    ):
        errors.add("month", f"{month_cn(month)}的纪实已填报，请在原记录上修改")
    days = parse_count(data.days_in_village, "days_in_village", "在村天数", errors, required=True, maximum=None)
    leave = parse_count(data.leave_days, "leave_days", "请假天数", errors, maximum=None)  # blank: none
    absences = parse_count(data.absences, "absences", "无故缺勤天数", errors, maximum=None)
    approved_by = (data.leave_approved_by or "").strip() or None
    summary = (data.summary or "").strip()
    if month is not None and not errors.errors.get("month"):
        # Days that can be accounted for: the posting's days in that month, up to today.
        possible = posting_days_in_month(posting, month, until=today)
        days_in_month = calendar.monthrange(month.year, month.month)[1]
        if days is not None and days > days_in_month:
            errors.add("days_in_village", f"在村天数不能超过当月天数（{days_in_month}天）")
        elif days is not None and days > possible:
            errors.add("days_in_village", f"在村天数不能超过该月在岗天数（{possible}天）")
        elif days is not None and leave is not None and absences is not None and days + leave + absences > possible:
            errors.add("leave_days", f"在村、请假和无故缺勤天数合计不能超过该月在岗天数（{possible}天）")
    if leave and not approved_by:
        errors.add("leave_approved_by", "有请假天数时须填写请假批准人")
    if approved_by and len(approved_by) > 100:
        errors.add("leave_approved_by", "请假批准人最多100字")
    if not summary:
        errors.add("summary", "请填写工作纪实")
    elif len(summary) > SUMMARY_MAX:
        errors.add("summary", f"工作纪实最多{SUMMARY_MAX}字")
    errors.raise_if_any()
    ensure_year_open(month.year, posting.region_code, "duty", "month")
    return dict(
        month=month, month_days=calendar.monthrange(month.year, month.month)[1],
        available_days=posting_days_in_month(posting, month), days_in_village=days,
        leave_days=leave, leave_approved_by=approved_by if leave else None, absences=absences, summary=summary,
    )


def _describe(duty: DutyMonth) -> str:
    flag = "，不足最低要求" if duty.is_short else ""
    return (f"{duty.posting.person.name} {month_cn(duty.month)}：在村{duty.days_in_village}天，请假{duty.leave_days}天，"
            f"无故缺勤{duty.absences}天{flag}")


def _tell_returned(duty: DutyMonth, reason: str, user) -> None:
    """The filer of a returned month, the village and the person's own account are told."""
    from ..notifications import link_for, notify, recipients

    posting = duty.posting
    told = ([duty.filed_by_id] if duty.filed_by_id else []) + recipients.village_users(duty.region_code)
    notify("duty_returned", told + recipients.person_users(posting.person_id),
           title=f"驻村纪实被退回：{posting.person.name} {duty.month.year}年{duty.month.month}月",
           body=f"退回原因：{reason}。请修改后重新填报。", link=link_for("duty.posting", posting_id=posting.id), actor=user)


REVIEW = ReviewCycle(
    checked="checked", action="check", verb="核实", noun="纪实", title="驻村纪实",
    stale=STALE_MESSAGE, locked="该月纪实已核实，不能再修改", refiled="退回后重新填报：", describe=_describe,
    frozen=lambda duty: ensure_year_open(duty.month.year, duty.region_code, "duty"),
    on_return=_tell_returned,
)


def clean_month(posting: Posting, data: DutyData, existing: DutyMonth | None = None,
                today: date | None = None) -> dict:
    """The month rule (the form's and the import's): the values to store, or one
    ``RuleViolation`` naming every field that is wrong."""
    return _check(posting, data, existing, today or local_today())


def file_month(posting: Posting, data: DutyData, user, today: date | None = None, *, commit: bool = True) -> DutyMonth:
    """Create the record of one month (status 待核实)."""
    today = today or local_today()
    values = _check(posting, data, None, today)
    duty = DutyMonth(
        posting_id=posting.id, region_code=posting.region_code, organization_id=posting.organization_id, **values,
    )
    return REVIEW.file(duty, user, commit=commit)


def file_months(rows: list[tuple[Posting, dict]], user, *, commit: bool = True) -> list[DutyMonth]:
    """``file_month`` for many months at once (an import), each given as its posting and
    the values ``clean_month`` returned for it: one flush, one batch of audit events."""
    months = [DutyMonth(posting=posting, posting_id=posting.id, region_code=posting.region_code,
                        organization_id=posting.organization_id, **values) for posting, values in rows]
    return REVIEW.file_many(months, user, commit=commit)


def update_month(duty: DutyMonth, data: DutyData, user, version=None, today: date | None = None, *,
                 commit: bool = True) -> DutyMonth:
    """Correct a month before it is checked; a returned month goes back to 待核实."""
    today = today or local_today()
    REVIEW.open_for_edit(duty, version)
    return REVIEW.refile(duty, _check(duty.posting, data, duty, today), user, commit=commit)


def check_month(duty: DutyMonth, user, version=None) -> DutyMonth:
    """核实: region staff whose jurisdiction holds the village confirm the month."""
    return REVIEW.decide(duty, True, None, user, version)


def return_month(duty: DutyMonth, reason: str | None, user, version=None) -> DutyMonth:
    """Send a filed month back to the filer with a reason."""
    return REVIEW.decide(duty, False, reason, user, version)


# -- reading, for the posting page and the assessment evidence ---------------------------------


@dataclass
class MonthRow:
    month: date
    duty: DutyMonth | None
    current: bool = False  # the month in progress: not missing until it is over

    @property
    def missing(self) -> bool:
        return self.duty is None and not self.current


def posting_month_rows(posting: Posting, today: date | None = None) -> list[MonthRow]:
    """Every month the posting should have, newest first, with its record if filed."""
    today = today or local_today()
    records = {
        d.month: d for d in db.session.scalars(select(DutyMonth).where(DutyMonth.posting_id == posting.id))
    }
    this_month = month_start(today)
    return [MonthRow(m, records.get(m), m == this_month) for m in reversed(posting_months(posting, today))]


@dataclass
class YearSummary:
    year: int
    months: list[MonthRow]
    days: int
    leave_days: int
    absences: int
    short_months: int
    missing_months: int


def year_summary(posting: Posting, year: int, today: date | None = None) -> YearSummary:
    """The posting's months of ``year`` (oldest first) with the year's totals."""
    today = today or local_today()
    months = [m for m in posting_months(posting, today) if m.year == year]
    records = {
        d.month: d
        for d in db.session.scalars(
            select(DutyMonth).where(
                DutyMonth.posting_id == posting.id, DutyMonth.month.between(date(year, 1, 1), date(year, 12, 1))
            )
        )
    }
    this_month = month_start(today)
    rows = [MonthRow(m, records.get(m), m == this_month) for m in months]
    # a record outside the expected months (e.g. the posting's start was corrected) still counts
    rows += [MonthRow(m, d) for m, d in records.items() if m not in set(months)]
    rows.sort(key=lambda r: r.month)
    filed = [r.duty for r in rows if r.duty is not None]
    return YearSummary(
        year=year, months=rows, days=sum(d.days_in_village for d in filed), leave_days=sum(d.leave_days for d in filed),
        absences=sum(d.absences for d in filed), short_months=sum(1 for d in filed if d.is_short),
        missing_months=sum(1 for r in rows if r.missing),
    )


def absences_in_year(posting_id: int, year: int) -> int:
    """Total unexcused absences of a posting in a calendar year (every filed month counts,
    whether checked yet or not)."""
    return db.session.scalar(
        select(func.coalesce(func.sum(DutyMonth.absences), 0)).where(
            DutyMonth.posting_id == posting_id, DutyMonth.month.between(date(year, 1, 1), date(year, 12, 1))
        )
    ) or 0


def latest_months(posting_ids: list[int], months: int = 3, today: date | None = None) -> dict[int, dict[date, DutyMonth]]:
    """{posting id: {month: record}} for the last ``months`` months, one query."""
    today = today or local_today()
    first = add_months(month_start(today), -(months - 1))
    out: dict[int, dict[date, DutyMonth]] = defaultdict(dict)
    if posting_ids:
        for duty in db.session.scalars(
            select(DutyMonth).where(DutyMonth.posting_id.in_(posting_ids), DutyMonth.month >= first)
        ):
            out[duty.posting_id][duty.month] = duty
    return out


def recent_months(count: int = 3, today: date | None = None) -> list[date]:
    today = today or local_today()
    return [add_months(month_start(today), -i) for i in range(count - 1, -1, -1)]


def previous_month(today: date | None = None) -> date:
    return month_start(month_start(today or local_today()) - timedelta(days=1))


def filter_months(selected: date | None = None, today: date | None = None) -> list[tuple[int, list[date]]]:
    """The months a list can be filtered by, newest first, grouped by year: from this month
    back to the registry's earliest date (``REGISTRY_RECORD_EARLIEST_DATE``), and
    ``selected`` if it lies outside."""
    first = month_start(current_app.config["REGISTRY_RECORD_EARLIEST_DATE"])
    months, month = [], month_start(today or local_today())
    while month >= first:
        months.append(month)
        month = add_months(month, -1)
    if selected and selected not in months:
        months = sorted([*months, selected], reverse=True)
    years: dict[int, list[date]] = {}
    for month in months:
        years.setdefault(month.year, []).append(month)
    return list(years.items())


# -- queries: what the pages read --------------------------------------------------------------


def duty_months_for(user, *, status: str = "", short: bool = False, month: date | None = None) -> Select:
    """Months ``user`` may see, filtered by status, shortness and month; newest month first."""
    stmt = scoped(select(DutyMonth), DutyMonth, user)
    if status in DUTY_STATUSES:
        stmt = stmt.where(DutyMonth.status == status)
    if short:
        stmt = stmt.where(DutyMonth.short_clause())
    if month:
        stmt = stmt.where(DutyMonth.month == month)
    return stmt.order_by(*order_by(DUTY_MONTH_ORDER))


DUTY_MONTH_ORDER = (Key(DutyMonth.month, descending=True), Key(DutyMonth.region_code), Key(DutyMonth.id))
VILLAGE_POSTING_ORDER = (Key(Posting.region_code), Key(Posting.role), Key(Posting.id))  # by place


def duty_status_counts(user, limit: int | None = None, known: dict[str, int] | None = None) -> dict[str, int]:
    """{status: months ``user`` may see in it}; with ``limit``, each counted up to ``limit``
    + 1 only (the list's tabs: a province's months are never all read to say "more than").
    ``known``: counts already made the same way (the list's own pager), not made again."""
    if limit is None:
        stmt = scoped(select(DutyMonth.status, func.count()), DutyMonth, user).group_by(DutyMonth.status)
        return dict(db.session.execute(stmt).all())
    known = known or {}
    months = scoped(select(DutyMonth.id), DutyMonth, user)
    return {status: known[status] if status in known else
            count_up_to(months.where(DutyMonth.status == status), limit, DutyMonth.id)
            for status in DUTY_STATUSES}


def short_month_count(user, limit: int | None = None) -> int:
    """Months ``user`` may see with fewer days in the village than required (with
    ``limit``: counted up to ``limit`` + 1 only)."""
    if limit is not None:
        months = scoped(select(DutyMonth.id), DutyMonth, user).where(DutyMonth.short_clause())
        return count_up_to(months, limit, DutyMonth.id)
    stmt = scoped(select(func.count()).select_from(DutyMonth), DutyMonth, user).where(DutyMonth.short_clause())
    return db.session.scalar(stmt) or 0


def months_to_check(user) -> Select:
    """Months in scope awaiting the township's check (待核实), oldest first. The range over
    every month steers SQLite's planner to read them along ix_duty_month_status_list by
    month (sorting one month's ids) instead of sorting a province's months."""
    return (duty_months_for(user, status="filed").where(DutyMonth.month.between(date.min, date.max))
            .order_by(None).order_by(DutyMonth.month, DutyMonth.id))


def months_to_check_count(user, limit: int) -> int:
    """How many months ``user`` may see await the check, counted up to ``limit`` + 1 only.
    Counted without ``months_to_check``'s range over every month: that range makes SQLite
    read the months in month order (ix_duty_month_status_oldest), every filed month of the
    province, to find a county's few thousand; without it they are the one range of
    ix_duty_month_status_region (status, place)."""
    return count_up_to(scoped(select(DutyMonth.id), DutyMonth, user).where(DutyMonth.status == "filed"), limit,
                       DutyMonth.id)


def returned_months(user) -> Select:
    """Months in scope sent back to the filer (已退回), oldest first."""
    return duty_months_for(user, status="returned").order_by(None).order_by(DutyMonth.month)


def _village_postings(user) -> Select:
    """Postings in scope in a village role (first secretary, work team), unordered."""
    return scoped(select(Posting), Posting, user).where(Posting.role.in_(VILLAGE_ROLES))


def _no_record_for(month: date) -> ColumnElement[bool]:
    """Condition on ``Posting``: it has no record for ``month``."""
    return ~select(DutyMonth.id).where(DutyMonth.posting_id == Posting.id, DutyMonth.month == month).exists()


def active_village_postings(user, *, unfiled: date | None = None) -> Select:
    """Active village postings in scope (only those with no record for ``unfiled``, if given), by place."""
    stmt = _village_postings(user).where(Posting.is_active)
    if unfiled:
        stmt = stmt.where(_no_record_for(unfiled))
    return stmt.order_by(*order_by(VILLAGE_POSTING_ORDER))


def postings_to_file(user, month: date) -> Select:
    """Active village postings in scope, started by the end of ``month``, with no record for it."""
    return _village_postings(user).where(
        Posting.is_active, Posting.start_date <= month_end(month), _no_record_for(month)
    ).order_by(Posting.id)


def village_postings_at(user, village_code: str) -> list[Posting]:
    """Active village postings at one village that ``user`` may see, by role."""
    stmt = _village_postings(user).where(Posting.region_code == village_code, Posting.is_active)
    return every(stmt.order_by(Posting.role))
