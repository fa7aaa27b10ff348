"""Postings 选派: the posting rule, creating and ending a posting, and the posting lists.

``check_posting`` is *the* posting rule of DESIGN.md section 5: the form, the end
action, any import and the CLI call it (through ``create_posting`` / ``end_posting``),
so a posting the registry holds has always passed it.
"""
from __future__ import annotations

from datetime import MAXYEAR, MINYEAR, date, timedelta

from flask import current_app
from sqlalchemy import Integer, Select, func, literal, or_, select
from sqlalchemy.orm import lazyload

from ..audit.services import record, record_many, snapshot
from ..core.enums import DISPATCH_LEVELS, END_REASONS, POSTING_ROLES, VILLAGE_ROLES
from ..core.formatting import date_cn
from ..core.paging import Key, flag, joined, order_by
from ..core.parsing import check_plausible_date
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import local_today
from ..dashboard.coverage import ending_total, seen_whole
from ..extensions import db
from ..organizations.services import STALE, in_jurisdiction
from ..regions.models import Region
from .models import Person, Posting


def default_planned_end(start: date) -> date | None:
    """Start + the planned term (*setting* REGISTRY_PLANNED_TERM_YEARS); 29 February
    falls back to the 28th. None past the last year a date can hold (a start in year
    9999, which ``check_posting`` refuses as implausible anyway)."""
    year = start.year + int(current_app.config["REGISTRY_PLANNED_TERM_YEARS"])
    if not MINYEAR <= year <= MAXYEAR:
        return None
    try:
        return start.replace(year=year)
    except ValueError:
        return start.replace(year=year, day=28)


def _overlap(stmt: Select, start: date, end: date | None) -> Select:
    """Postings (half-open periods [start, end), end None = still active) that share a
    day with [start, end). A posting ending on D and another starting on D do not."""
    stmt = stmt.where(or_(Posting.is_active, Posting.end_date > start))
    if end is not None:
        stmt = stmt.where(Posting.start_date < end)
    return stmt


def _describe(p: Posting) -> str:
    until = f"至{date_cn(p.end_date)}" if p.end_date else "至今"
    return f"{p.region.name}{p.role_label}，{date_cn(p.start_date)}{until}"


def check_posting(
    *,
    person: Person | None,
    role: str | None,
    region: Region | None,
    dispatch_level: str | None,
    start_date: date | None,
    planned_end: date | None,
    post_held: str | None = None,
    end_date: date | None = None,
    end_reason: str | None = None,
    end_note: str | None = None,
    posting_id: int | None = None,
) -> None:
    """Every posting rule of DESIGN.md section 5; raises one ``RuleViolation``.

    - the role exists; first secretary and work team go to a village, a seconded cadre
      to a county or township (and names the post held);
    - dispatch level exists; planned end after the start; actual end not before the
      start and not in the future; an end has a reason; a recall has its grounds;
    - an individual helper (个人帮扶) is sent by nobody: never posted;
    - a person holds at most one active posting and their postings never overlap;
    - a village has at most one active first secretary (first-secretary periods of a
      village never overlap).

    The look-ups load the clashing posting alone (its person and place only when a
    message names them): an import runs the rule for every row.
    """
    errors = Collector()
    if person is None:
        errors.add("person_id", "请选择选派干部")
    elif person.organization is not None and person.organization.is_individual:
        errors.add("person_id", f"{person.name}是个人帮扶者，不是单位选派的干部，不能选派")
    if role not in POSTING_ROLES:
        errors.add("role", "请选择选派类型")
    if region is None:
        errors.add("region_code", "派驻地不存在，请填写有效的12位区划代码")
    elif role in VILLAGE_ROLES and region.level != "village":
        errors.add("region_code", f"{POSTING_ROLES[role]}只能派驻到村（社区），“{region.name}”不是村")
    elif role == "seconded_cadre" and region.level not in ("county", "township"):
        errors.add("region_code", f"挂职干部只能派往县市区或乡镇，不能派往{region.level_label}（“{region.name}”）")
    if role == "seconded_cadre" and not (post_held or "").strip():
        errors.add("post_held", "挂职干部须填写挂职职务（如副县长、县长助理）")
    if dispatch_level not in DISPATCH_LEVELS:
        errors.add("dispatch_level", "请选择选派层级")
    if start_date is None:
        errors.add("start_date", "请填写开始日期")
    elif not check_plausible_date(start_date, "start_date", "开始日期", errors):
        start_date = None  # the rules below compare with it
    if planned_end is None:
        errors.add("planned_end", "请填写计划结束日期")
    elif start_date is not None and planned_end <= start_date:
        errors.add("planned_end", "计划结束日期须晚于开始日期")
    else:
        check_plausible_date(planned_end, "planned_end", "计划结束日期", errors)
    if end_date is not None:
        if start_date is not None and end_date < start_date:
            errors.add("end_date", f"结束日期不能早于开始日期（{date_cn(start_date)}）")
        if end_date > local_today():
            errors.add("end_date", "结束日期不能晚于今天；到期后再办理结束")
        if end_reason not in END_REASONS:
            errors.add("end_reason", "请选择结束原因")
        elif end_reason == "recalled" and not (end_note or "").strip():
            errors.add("end_note", "召回须写明召回事由")
    elif end_reason or (end_note or "").strip():
        errors.add("end_date", "填写结束原因时须同时填写结束日期")

    if person is not None and start_date is not None and not errors.errors.get("end_date"):
        others = select(Posting).options(lazyload("*")).where(Posting.person_id == person.id)
        if posting_id is not None:
            others = others.where(Posting.id != posting_id)
        if end_date is None:
            active = db.session.scalars(others.where(Posting.is_active).limit(1)).first()
            if active is not None:
                errors.add("person_id", f"{person.name}已有在岗选派（{_describe(active)}），一人同时只能有一个在岗选派，请先结束原选派")
        if not errors.errors.get("person_id"):
            clash = db.session.scalars(_overlap(others, start_date, end_date).order_by(Posting.start_date).limit(1)).first()
            if clash is not None:
                errors.add("start_date", f"任职时间与{person.name}的另一选派重叠（{_describe(clash)}）")
    if role == "first_secretary" and region is not None and region.level == "village" and start_date is not None:
        secretaries = select(Posting).options(lazyload("*")).where(Posting.region_code == region.code,
                                                                   Posting.role == "first_secretary")
        if posting_id is not None:
            secretaries = secretaries.where(Posting.id != posting_id)
        clash = db.session.scalars(_overlap(secretaries, start_date, end_date).order_by(Posting.start_date).limit(1)).first()
        if clash is not None:
            if clash.end_date is None:
                message = f"{region.name}已有在岗第一书记{clash.person.name}（{date_cn(clash.start_date)}起），一个村同时只能有一名第一书记"
            else:
                message = f"任职时间与{region.name}的另一任第一书记{clash.person.name}重叠（{_describe(clash)}）"
            errors.add("region_code", message)
    errors.raise_if_any()


def _lock(*rows) -> None:
    """Serialise concurrent postings of one person or to one place (PostgreSQL row
    locks; SQLite already serialises writers with BEGIN IMMEDIATE)."""
    for model, key in rows:
        if key is not None:
            pk = model.__mapper__.primary_key[0]
            db.session.execute(select(pk).where(pk == key).with_for_update())


POSTING_FIELDS = ("region_code", "role", "post_held", "dispatch_level", "round", "start_date", "planned_end")
# a posting already over when it is registered (an import of past postings) brings its end
END_FIELDS = ("end_date", "end_reason", "end_note")
MAY_POST = "只有行政区工作人员可以办理选派"


def may_post(actor) -> bool:
    """Who may post people (the form, the import): the staff of a region, and the admin."""
    return getattr(actor, "role", None) in ("admin", "region")


def posting_values(values: dict) -> tuple[dict, dict]:
    """The posting fields and the end fields of ``values`` as they would be stored
    (trimmed; no post held in a village role; the default planned end), unchecked."""
    data = {key: values.get(key) for key in POSTING_FIELDS}
    for key in ("region_code", "post_held", "round"):
        data[key] = (data[key] or "").strip() or None
    if data["role"] in VILLAGE_ROLES:
        data["post_held"] = None
    if data["start_date"] is not None and data["planned_end"] is None:
        data["planned_end"] = default_planned_end(data["start_date"])
    end = {key: values.get(key) for key in END_FIELDS}
    end["end_note"] = (end["end_note"] or "").strip() or None
    return data, end


def clean_posting(person: Person, values: dict, *, actor, lock: bool = False) -> dict:
    """The values of a new posting of ``person`` as they will be stored (``POSTING_FIELDS``
    and ``END_FIELDS``), checked: who may post, the place in the actor's jurisdiction, the
    lengths, and ``check_posting``. The form and the import call it alike (``lock``: the
    rows are locked first, as ``create_posting`` does before it writes)."""
    data, end = posting_values(values)
    if not may_post(actor):
        raise RuleViolation(MAY_POST)
    errors = Collector()
    errors.check(not data["round"] or len(data["round"]) <= 20, "round", "届次最多20字")
    errors.check(not data["post_held"] or len(data["post_held"]) <= 100, "post_held", "挂职职务最多100字")
    if data["region_code"] and not in_jurisdiction(actor, data["region_code"]):
        errors.add("region_code", "派驻地不在您的管辖范围内")
        errors.raise_if_any()
    if lock:
        _lock((Person, person.id), (Region, data["region_code"]))
    region = db.session.get(Region, data["region_code"] or "")
    try:
        check_posting(
            person=person, role=data["role"], region=region, dispatch_level=data["dispatch_level"],
            start_date=data["start_date"], planned_end=data["planned_end"], post_held=data["post_held"], **end,
        )
    except RuleViolation as violation:
        for field, messages in violation.errors.items():
            for message in messages:
                errors.add(field, message)
    errors.raise_if_any()
    return {**data, **end}


def create_posting(person: Person, values: dict, *, actor, commit: bool = True, demo: bool = False) -> Posting:
    """Post ``person`` (sent by their employer) as ``values['role']`` to a place in the
    actor's jurisdiction. ``planned_end`` defaults to start + the planned term. The form
    posts from today on; an import may also register a posting that has already ended
    (``end_date``, ``end_reason``, ``end_note``), checked by the same rule as ending one."""
    data = clean_posting(person, values, actor=actor, lock=True)
    posting = Posting(person_id=person.id, organization_id=person.organization_id, is_demo=demo, **data)
    db.session.add(posting)
    db.session.flush()
    db.session.refresh(posting, ["person", "organization", "region"])
    record("create", posting, before=None, actor=actor, summary=_created(posting))
    if commit:
        db.session.commit()
    return posting


def _created(posting: Posting) -> str:
    ended = f"，{date_cn(posting.end_date)}{posting.end_reason_label}" if posting.end_date else ""
    return f"选派：{posting.person.name}任{posting.region.name}{posting.role_label}（{date_cn(posting.start_date)}起{ended}）"


def create_postings(rows: list[tuple[Person, dict]], *, actor, commit: bool = True) -> list[Posting]:
    """``create_posting`` for many postings at once (an import), each given as the person
    and the values ``clean_posting`` returned: one flush for them all, then the posting
    rule once more for each, now that the others are in (two rows of one file may clash
    with each other), then one batch of the audit events ``create_posting`` writes."""
    if not may_post(actor):
        raise RuleViolation(MAY_POST)
    if any(not in_jurisdiction(actor, values["region_code"]) for _, values in rows):
        raise RuleViolation("派驻地不在您的管辖范围内", "region_code")
    postings = [Posting(person_id=person.id, organization_id=person.organization_id, is_demo=False, **values)
                for person, values in rows]
    db.session.add_all(postings)
    db.session.flush()
    for posting, (person, values) in zip(postings, rows):
        try:
            check_posting(person=person, role=posting.role, region=posting.region, dispatch_level=posting.dispatch_level,
                          start_date=posting.start_date, planned_end=posting.planned_end, post_held=posting.post_held,
                          end_date=posting.end_date, end_reason=posting.end_reason, end_note=posting.end_note,
                          posting_id=posting.id)
        except RuleViolation as broken:
            db.session.rollback()
            raise RuleViolation({"": f"{person.name}自{date_cn(values['start_date'])}起的选派：{broken.message}"}) from None
    record_many([{"action": "create", "entity_type": "Posting", "entity_id": p.id, "summary": _created(p),
                  "region_code": p.audit_region_code, "organization_id": p.audit_organization_id,
                  "after": snapshot(p)} for p in postings], actor=actor)
    if commit:
        db.session.commit()
    return postings


def can_manage_posting(user, posting: Posting) -> bool:
    return user.role in ("admin", "region") and in_jurisdiction(user, posting.region_code)


def check_end(posting: Posting, *, end_date: date | None, end_reason: str | None, end_note: str | None,
              version, actor, lock: bool = False) -> None:
    """Whether ``actor`` may end ``posting`` so (the end form's rule and the import's)."""
    if not can_manage_posting(actor, posting):
        raise RuleViolation("只有派驻地所在行政区的工作人员可以结束选派")
    if posting.end_date is not None:
        raise RuleViolation("该选派已于" + date_cn(posting.end_date) + "结束")
    if str(version) != str(posting.version):
        raise RuleViolation(STALE)
    if lock:
        _lock((Person, posting.person_id), (Region, posting.region_code))
    check_posting(
        person=posting.person, role=posting.role, region=posting.region, dispatch_level=posting.dispatch_level,
        start_date=posting.start_date, planned_end=posting.planned_end, post_held=posting.post_held,
        end_date=end_date, end_reason=end_reason, end_note=end_note, posting_id=posting.id,
    )


def end_posting(posting: Posting, *, end_date: date | None, end_reason: str | None, end_note: str | None,
                version, actor, commit: bool = True) -> Posting:
    """Ending is an action with a reason (a recall with its grounds), never a date edit."""
    end_note = (end_note or "").strip() or None
    check_end(posting, end_date=end_date, end_reason=end_reason, end_note=end_note, version=version, actor=actor,
              lock=True)
    before = snapshot(posting)
    posting.end_date, posting.end_reason, posting.end_note = end_date, end_reason, end_note
    flush_or_refuse(STALE)
    record(
        "end", posting, before=before, actor=actor,
        summary=f"结束选派：{posting.person.name}（{posting.region.name}{posting.role_label}），{posting.end_reason_label}，{date_cn(end_date)}",
    )
    if commit:
        db.session.commit()
    return posting


def posting_query(user, *, q: str = "", role: str = "", status: str = "", region_code: str = "",
                  organization_id: int | None = None, village_code: str = "") -> Select:
    """Postings ``user`` may see, filtered; the list and the export share it
    (``village_code``: the postings to that one place, from its village page)."""
    stmt = scoped(select(Posting), Posting, user).join(Posting.person)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(Person.name.contains(q))
    if role:
        stmt = stmt.where(Posting.role == role)
    if status == "active":
        stmt = stmt.where(Posting.is_active)
    elif status == "ended":
        stmt = stmt.where(~Posting.is_active)
    elif status == "ending":
        stmt = stmt.where(Posting.is_active, Posting.planned_end <= ending_soon_limit())
    if region_code:
        region = db.session.get(Region, region_code)
        if region is not None:
            stmt = stmt.where(region.within(Posting.region_code))
    if organization_id:
        stmt = stmt.where(Posting.organization_id == organization_id)
    if village_code:
        stmt = stmt.where(Posting.region_code == village_code)
    return stmt.order_by(*order_by(posting_order(status)))


# ties (a whole round starts on one day) by place, role and name: an order the export keeps
# when its file is imported again
POSTING_ORDER = (
    flag(Posting.end_date.is_not(None), lambda p: p.end_date is not None), Key(Posting.start_date, descending=True),
    Key(Posting.region_code), Key(Posting.role), joined(Person.name, lambda p: p.person.name),
    Key(Posting.id, descending=True),
)
ENDING_ORDER = (Key(Posting.planned_end), Key(Posting.id))  # "ending": the soonest end first


def posting_order(status: str = "") -> tuple[Key, ...]:
    """The postings list's order (its keyset pages' keys) for the status filter."""
    return ENDING_ORDER if status == "ending" else POSTING_ORDER


def ending_soon_limit() -> date:
    return local_today() + timedelta(days=int(current_app.config["REGISTRY_ENDING_SOON_DAYS"]))


def ending_soon(user, limit: int = 8) -> tuple[int, list[Posting]]:
    """Active postings in scope whose planned end is within the ending-soon window
    (*setting* REGISTRY_ENDING_SOON_DAYS) or already past: how many, and the first
    ``limit`` of them. A province's, city's or county's staff's count is the sum of its
    counts by day of planned ends (``dashboard.coverage.ending_total``), not a count of
    its postings."""
    last = ending_soon_limit()
    stmt = scoped(select(Posting), Posting, user).where(Posting.is_active, Posting.planned_end <= last)
    area = seen_whole(user)
    total = (ending_total(area, last) if area is not None
             else db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)
    # the first rows' ids from the postings alone, then those rows with their person,
    # unit and village: PostgreSQL cannot put the limit below the eager outer joins and
    # would join every posting in scope (a province's thousands) to sort them
    order = (Posting.planned_end, Posting.id)
    # the limit written into the text: PostgreSQL plans a prepared statement once for any
    # parameters only when that plan is no worse than planning it anew, and for any limit
    # it would join thousands of postings; with the limit known it keeps that one plan
    # (planning this seven-table join took 2 ms of the 2.5 ms the statement cost)
    first = stmt.with_only_columns(Posting.id).order_by(*order).limit(literal(int(limit), Integer, literal_execute=True))
    rows = db.session.scalars(select(Posting).where(Posting.id.in_(first)).order_by(*order)).all()
    return total, rows
