"""Closing a year, and reopening it for a while: the moves, who may make them, and what
the close page lists. Every move is audited in its own transaction.

- Close: region staff of a county, city or the province close year Y for their
  jurisdiction, once; a close above already covers it.
- Reopen: staff at the closing level or below request it, for their own region, named
  kinds of data, a reason and a deadline; staff at the closing level or above approve or
  refuse it, never the requester; then the closing level (or the requester) closes it
  again, or the deadline passes and it is closed by itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Select, func, select

from ..audit.services import record as audit, snapshot
from ..core.formatting import date_cn
from ..core.queries import every
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..notifications import link_for, notify, recipients
from ..regions.models import Region
from .models import KINDS, PENDING_CHOICES, ReopenRequest, YearClose
from .rules import closes_of

CLOSING_LEVELS = ("province", "city", "county")
REASON_MAX = 1000
REOPEN_DAYS_MAX = 90  # a reopening lasts at most this long


def acting_region(user) -> Region | None:
    """The jurisdiction a region account acts for (others act for none here)."""
    return user.region if getattr(user, "role", None) == "region" else None


def may_close(user) -> bool:
    region = acting_region(user)
    return region is not None and region.level in CLOSING_LEVELS


def earliest_year() -> int:
    return current_app.config["REGISTRY_RECORD_EARLIEST_DATE"].year


def closable_years() -> list[int]:
    """Years that may be closed: from the earliest the registry holds up to this year."""
    return list(range(local_today().year, earliest_year() - 1, -1))


def covering_close(year: int, code: str) -> YearClose | None:
    """The close of ``year`` at ``code`` or above it (the highest one), if any."""
    for closed in closes_of(year):
        if closed.covers(code):
            return db.session.get(YearClose, closed.id)
    return None


# -- what is still pending in a jurisdiction's year -----------------------------------------


@dataclass
class Pending:
    label: str
    count: int
    endpoint: str  # where to finish them
    args: dict
    unit: str = "条"


def pending_items(region: Region, year: int) -> list[Pending]:
    """What is still waiting in ``region``'s ``year`` (only the kinds with something)."""
    from ..dashboard.models import YEAR_TOTAL, SupportTotal
    from ..dashboard.ungraded import ungraded_count
    from ..duty.models import DutyMonth
    from ..projects.models import ProjectConfirmation, ProjectProgress
    from ..results.models import VillageResult

    first, last = date(year, 1, 1), date(year, 12, 31)

    def count(model, *conditions) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(*conditions)) or 0

    # the region's records of the year by status, from the summaries kept with every change
    # (a province's year is some 400,000 records: counting them took 0.1-0.3 s a status)
    by_status = dict(db.session.execute(
        select(SupportTotal.status, func.sum(SupportTotal.record_count))
        .where(SupportTotal.region_code == region.code, SupportTotal.year == year,
               SupportTotal.month == YEAR_TOTAL).group_by(SupportTotal.status)).all())
    records = lambda status: int(by_status.get(status) or 0)  # noqa: E731
    duty = lambda status: count(DutyMonth, region.within(DutyMonth.region_code),  # noqa: E731
                                DutyMonth.month.between(first, last), DutyMonth.status == status)
    results = lambda status: count(VillageResult, region.within(VillageResult.village_code),  # noqa: E731
                                   VillageResult.year == year, VillageResult.status == status)
    in_year = {"date_from": first.isoformat(), "date_to": last.isoformat()}  # the list shows the year's only
    items = [
        Pending("帮扶记录 待确认", records("submitted"), "records.index", {"status": "submitted", **in_year}),
        Pending("帮扶记录 有异议", records("disputed"), "records.index", {"status": "disputed", **in_year}),
        Pending("帮扶记录 草稿", records("draft"), "records.index", {"status": "draft", **in_year}),
        Pending("驻村纪实 待核实", duty("filed"), "duty.index", {"status": "filed"}),
        Pending("驻村纪实 已退回", duty("returned"), "duty.index", {"status": "returned"}),
        Pending("帮扶实效 待核验", results("filed"), "results.index", {"status": "filed", "year": year}),
        Pending("帮扶实效 已退回", results("returned"), "results.index", {"status": "returned", "year": year}),
    ]
    project_entries = db.session.scalar(
        select(func.count(func.distinct(ProjectConfirmation.progress_id)))
        .join(ProjectProgress, ProjectProgress.id == ProjectConfirmation.progress_id)
        .where(region.within(ProjectConfirmation.village_code), ProjectConfirmation.state == "pending",
               ProjectProgress.entry_date.between(first, last))) or 0
    items.append(Pending("企业项目进展 待村确认", project_entries, "projects.index", {"area": region.code}))
    items += [
        Pending("未考核的选派干部", ungraded_count(region, year), "assessment.todo", {"year": year}, "人"),
        Pending("考核 依据已变化", len(flagged_grades(region, year)), "assessment.index", {"year": year, "kind": "person"}),
    ]
    return [item for item in items if item.count]


def flagged_grades(region: Region, year: int, chunk: int = 500) -> dict:
    """The person grades of ``year`` in ``region`` whose evidence changed after grading:
    of a province's tens of thousands, those a query finds may have changed
    (``evidence.possibly_changed``), checked by ``evidence_changes``."""
    from .evidence import evidence_changes, possibly_changed

    grades: dict[int, object] = {}
    moved: dict[int, set[str]] = {}
    for row in db.session.execute(possibly_changed(region, year)):
        grades[row.id] = row
        moved.setdefault(row.id, set()).add(row.kind)
    rows = list(grades.values())
    out: dict = {}
    for start in range(0, len(rows), chunk):
        out.update(evidence_changes(rows[start:start + chunk], moved))
    return out


def pending_note(items: list[Pending]) -> str | None:
    return "；".join(f"{item.label} {item.count} {item.unit}" for item in items) or None


# -- closing ---------------------------------------------------------------------------------


def close_year(user, year, pending_choice: str | None, confirmed: bool) -> YearClose:
    """Close ``year`` for the user's jurisdiction. With items still pending, the user must
    have chosen what becomes of them (``PENDING_CHOICES``); ``confirmed``: the user ticked
    that they read what closing freezes."""
    region = acting_region(user)
    if region is None or region.level not in CLOSING_LEVELS:
        raise RuleViolation("只有县市区、市州和省级的行政区工作人员可以年度关账", "")
    errors = Collector()
    try:
        year = int(str(year).strip())
    except (TypeError, ValueError):
        year = None
    if year not in closable_years():
        errors.add("year", f"关账年度应在{earliest_year()}年至{local_today().year}年之间")
        errors.raise_if_any()
    existing = covering_close(year, region.code)
    if existing is not None:
        who = "本级" if existing.region_code == region.code else existing.region.name
        errors.add("year", f"{year}年度已由{who}关账（{date_cn(existing.closed_at)}），无需再次关账")
    items = pending_items(region, year)
    if items and pending_choice not in PENDING_CHOICES:
        errors.add("pending_choice", "本年度还有待处理的事项：请先处理完毕，或选择“照原样冻结”后再关账")
    if not confirmed:
        errors.add("confirm", "请确认已阅读关账将冻结的内容")
    errors.raise_if_any()
    close = YearClose(year=year, region_code=region.code, state="closed",
                      pending_choice=pending_choice if items else "freeze", pending_note=pending_note(items),
                      closed_by_id=user.id, closed_at=utcnow())
    db.session.add(close)
    db.session.flush()
    summary = f"{region.name}{year}年度关账"
    if items:
        summary += f"；待处理事项照原样冻结：{close.pending_note}"
    audit("year_close", close, summary=summary[:300], region_code=close.region_code, actor=user)
    db.session.commit()
    return close


# -- reopening -------------------------------------------------------------------------------


def may_request(user, close: YearClose) -> bool:
    """Staff of the closing jurisdiction or of a region under it."""
    region = acting_region(user)
    return region is not None and close.region.contains(region.code)


def may_decide(user, request: ReopenRequest) -> bool:
    """Staff of the closing jurisdiction or above it, other than the requester."""
    region = acting_region(user)
    return (region is not None and region.contains(request.year_close.region_code)
            and user.id != request.requested_by_id)


def request_reopen(close: YearClose, user, kinds, reason: str | None, deadline: date | None) -> ReopenRequest:
    if not may_request(user, close):
        raise RuleViolation("只有关账单位及其下级的行政区工作人员可以申请重新开放", "")
    if close.state != "closed":
        raise RuleViolation("该年度未关账，无需申请重新开放", "")
    errors = Collector()
    kinds = [k for k in KINDS if k in set(kinds or ())]
    if not kinds:
        errors.add("kinds", "请选择要重新开放的数据类别")
    reason = (reason or "").strip()
    if not reason:
        errors.add("reason", "请填写申请理由")
    elif len(reason) > REASON_MAX:
        errors.add("reason", f"申请理由最多{REASON_MAX}字")
    today = local_today()
    if deadline is None:
        errors.add("deadline", "请填写开放截止日期")
    elif deadline < today:
        errors.add("deadline", "开放截止日期不能早于今天")
    elif deadline > today + timedelta(days=REOPEN_DAYS_MAX):
        errors.add("deadline", f"开放期限最长{REOPEN_DAYS_MAX}天（截止日期不能晚于{date_cn(today + timedelta(days=REOPEN_DAYS_MAX))}）")
    errors.raise_if_any()
    region = acting_region(user)
    request = ReopenRequest(year_close_id=close.id, region_code=region.code, kinds=",".join(kinds), reason=reason,
                            deadline=deadline, state="requested", requested_by_id=user.id, requested_at=utcnow())
    db.session.add(request)
    db.session.flush()
    audit("reopen_request", request, summary=(
        f"申请重新开放{region.name}{close.year}年度的{request.kinds_label}至{date_cn(deadline)}；理由：{reason}")[:300],
        region_code=request.region_code, actor=user)
    notify("reopen", recipients.region_staff(close.region_code),
           title=f"重新开放申请待审批：{region.name}{close.year}年度{request.kinds_label}",
           body=f"申请开放至{date_cn(deadline)}；理由：{reason}", link=link_for("closing.detail", close_id=close.id), actor=user)
    db.session.commit()
    return request


def _decide(request: ReopenRequest, user, approve: bool, note: str | None) -> ReopenRequest:
    if request.requested_by_id == getattr(user, "id", None):
        raise RuleViolation("不能审批本人提出的重新开放申请", "")
    if not may_decide(user, request):
        raise RuleViolation("只有关账单位或其上级的行政区工作人员可以审批重新开放申请", "")
    if request.state != "requested":
        raise RuleViolation(f"该申请{request.state_label}，不能再审批", "")
    note = (note or "").strip() or None
    if not approve and not note:
        raise RuleViolation("不批准时须填写理由", "note")
    if note and len(note) > REASON_MAX:
        raise RuleViolation(f"审批意见最多{REASON_MAX}字", "note")
    if approve and request.deadline < local_today():
        raise RuleViolation("申请的开放截止日期已过，请重新申请", "")
    before = snapshot(request)
    request.state = "approved" if approve else "rejected"
    request.decided_by_id, request.decided_at, request.decision_note = user.id, utcnow(), note
    db.session.flush()
    verb = "批准" if approve else "不批准"
    audit("reopen_approve" if approve else "reopen_reject", request, before=before, summary=(
        f"{verb}重新开放{request.region.name}{request.year_close.year}年度的{request.kinds_label}"
        f"（至{date_cn(request.deadline)}）" + (f"；意见：{note}" if note else ""))[:300],
        region_code=request.region_code, actor=user)
    if request.requested_by_id is not None:
        notify("reopen", [request.requested_by_id],
               title=f"重新开放申请{verb}：{request.region.name}{request.year_close.year}年度{request.kinds_label}",
               body=f"审批意见：{note}" if note else "", link=link_for("closing.detail", close_id=request.year_close_id),
               actor=user)
    db.session.commit()
    return request


def approve_reopen(request: ReopenRequest, user, note: str | None = None) -> ReopenRequest:
    return _decide(request, user, True, note)


def reject_reopen(request: ReopenRequest, user, note: str | None) -> ReopenRequest:
    return _decide(request, user, False, note)


def may_reclose(user, request: ReopenRequest) -> bool:
    region = acting_region(user)
    return region is not None and (region.contains(request.year_close.region_code) or user.id == request.requested_by_id)


def reclose(request: ReopenRequest, user) -> ReopenRequest:
    """End an approved reopening before (or after) its deadline: the year is closed again."""
    if not may_reclose(user, request):
        raise RuleViolation("只有关账单位、其上级或申请人可以重新关账", "")
    if request.state != "approved":
        raise RuleViolation(f"该申请{request.state_label}，无需重新关账", "")
    before = snapshot(request)
    request.state, request.reclosed_by_id, request.reclosed_at = "reclosed", user.id, utcnow()
    db.session.flush()
    audit("reclose", request, before=before, summary=(
        f"重新关账：{request.region.name}{request.year_close.year}年度的{request.kinds_label}"),
        region_code=request.region_code, actor=user)
    db.session.commit()
    return request


def is_expired(request: ReopenRequest, today: date | None = None) -> bool:
    """An approved reopening past its deadline: closed again by itself."""
    return request.state == "approved" and request.deadline < (today or local_today())


def reopening_text(request: ReopenRequest) -> str:
    """One reopening as the close's list shows it (and its export): where, which ledgers,
    until when, and where it stands."""
    state = "已到期（已自动关闭）" if is_expired(request) else request.state_label
    return f"{request.region.name} · {request.kinds_label} · 至{date_cn(request.deadline)} · {state}"


# -- what the pages read -----------------------------------------------------------------------


def closes_for(user, year: int | None = None) -> Select:
    stmt = scoped(select(YearClose), YearClose, user)
    if year:
        stmt = stmt.where(YearClose.year == year)
    return stmt.order_by(YearClose.year.desc(), YearClose.region_code)


def requests_for(user, close: YearClose | None = None) -> list[ReopenRequest]:
    stmt = scoped(select(ReopenRequest), ReopenRequest, user)
    if close is not None:
        stmt = stmt.where(ReopenRequest.year_close_id == close.id)
    return every(stmt.order_by(ReopenRequest.requested_at.desc()))


def requests_by_close(user, closes: list[YearClose]) -> dict[int, list[ReopenRequest]]:
    """``requests_for`` each of ``closes``, in one query (a province's list holds every
    county's and city's close of every year)."""
    found: dict[int, list[ReopenRequest]] = {close.id: [] for close in closes}
    if found:
        stmt = scoped(select(ReopenRequest), ReopenRequest, user).where(ReopenRequest.year_close_id.in_(list(found)))
        for request in every(stmt.order_by(ReopenRequest.requested_at.desc())):
            found[request.year_close_id].append(request)
    return found
