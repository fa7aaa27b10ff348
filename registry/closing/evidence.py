"""依据已变化: a grade whose evidence changed after it was given.

A person's grade rests on the year's duty months of the posting, the village's results of
the year and the sending unit's support records to the village dated in the year (what
the assessment page shows beside the grade). Until the year is closed for the place, any
change to those after the grade was given (read from the audit trail, which holds the
before and after of every change) flags the grade, with what changed; and if the year's
unexcused absences now cap the grade below it, that is said first.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import DateTime, String, cast, delete, func, insert, literal, or_, select, tuple_, union_all

from ..audit.models import AuditEvent
from ..audit.services import watch_events
from ..core.formatting import date_cn, month_cn
from ..extensions import db
from .rules import year_open

DUTY_FIELDS = {"days_in_village": "在村天数", "leave_days": "请假天数", "absences": "无故缺勤天数"}
RESULT_FIELDS = {
    "collective_income": "村集体经济经营性收入", "per_capita_income": "脱贫人口人均纯收入",
    "monitored_households": "监测对象户数", "risk_removed_households": "已消除风险户数",
    "industry_projects": "产业项目数", "jobs_created": "带动就业人数", "practical_matters": "办实事件数",
}
RECORD_ACTIONS = {"confirm": "村已确认", "supersede": "被更正记录取代", "withdraw": "已撤回"}
DECIDED = ("confirmed", "superseded", "withdrawn")  # where those moves lead (records.rules.TRANSITIONS)
FILING_ACTIONS = ("create", "update", "refile")
EVENT_BATCH = 5000  # rows whose audit events one statement asks for


@dataclass
class Changed:
    """What changed in a grade's evidence since it was given (empty: nothing)."""

    cap: str | None = None  # the absence cap now below the grade, said in words
    items: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.cap or self.items)

    @property
    def lines(self) -> list[str]:
        return ([self.cap] if self.cap else []) + self.items


def _diff(before: str | None, after: str | None, labels: dict[str, str]) -> str:
    old = json.loads(before) if before else {}
    new = json.loads(after) if after else {}
    parts = [f"{label} {old.get(key, '—')}→{new.get(key)}" for key, label in labels.items()
             if old and old.get(key) != new.get(key)]
    if not old:
        parts = [f"{label} {new.get(key)}" for key, label in labels.items() if key in new]
    return "，".join(parts) or "其他内容"


def possibly_changed(region, year: int):
    """The person grades of ``year`` in ``region`` whose evidence may have changed since
    they were given, as the rows ``evidence_changes`` reads, each with the kind of
    evidence that moved (``kind``; a row for each): those an audited change reached after
    the grade (``EvidenceMoved``, written by ``flag_moved_grades``), found by their year
    and region, so a province's tens of thousands of grades are not looked at to find the
    few that moved; ``evidence_changes`` then says what changed (and leaves out the years
    closed since), which keeps the rule in one place."""
    from ..assessment.models import Assessment as A

    from .models import EvidenceMoved as M

    return (select(A.id, A.subject_kind, A.posting_id, A.organization_id, A.region_code, A.year, A.grade, A.absences,
                   A.assessed_at, M.kind)
            .join(M, M.assessment_id == A.id).where(M.year == year, region.within(M.region_code))
            .order_by(A.id))


def moved_after_grading(year: int):
    """(grade id, kind) of the person grades of ``year`` whose evidence of that kind an
    audited change reached after the grade, read from the whole trail: the definition
    ``flag_moved_grades`` keeps up commit by commit, for ``reflag`` (a scan of every grade
    of the year, with each one's evidence and its events looked up by index). A grade's
    duty months moved when its year's absences no longer add up to the grade's or one of
    them had a move of FILING_ACTIONS after the grade; its village's results, when they
    had such a move; its unit's records to its village dated in the year, when one had a
    move of RECORD_ACTIONS."""
    from ..assessment.models import Assessment as A
    from ..duty.models import DutyMonth
    from ..records.models import SupportRecord
    from ..results.models import VillageResult

    first, last = date(year, 1, 1), date(year, 12, 31)

    def moved(kind: str, entity_id, actions) -> object:
        # the grade and its evidence are the enclosing queries' rows (two levels up)
        return select(AuditEvent.id).where(
            AuditEvent.entity_type == kind, AuditEvent.entity_id == cast(entity_id, String),
            AuditEvent.at > A.assessed_at, AuditEvent.action.in_(actions)).correlate_except(AuditEvent).exists()

    absences = (select(func.coalesce(func.sum(DutyMonth.absences), 0))
                .where(DutyMonth.posting_id == A.posting_id, DutyMonth.month.between(first, last)).scalar_subquery())
    duty = select(DutyMonth.id).where(DutyMonth.posting_id == A.posting_id, DutyMonth.month.between(first, last),
                                      moved("DutyMonth", DutyMonth.id, FILING_ACTIONS)).exists()
    results = select(VillageResult.id).where(VillageResult.village_code == A.region_code, VillageResult.year == year,
                                             moved("VillageResult", VillageResult.id, FILING_ACTIONS)).exists()
    records = select(SupportRecord.id).where(
        SupportRecord.village_code == A.region_code, SupportRecord.status.in_(DECIDED),
        SupportRecord.record_date.between(first, last), SupportRecord.organization_id == A.organization_id,
        moved("SupportRecord", SupportRecord.id, tuple(RECORD_ACTIONS))).exists()
    graded = (A.year == year, A.subject_kind == "person", A.posting_id.is_not(None))
    return union_all(*(select(A.id, literal(kind, String).label("kind")).where(*graded, reached)
                       for kind, reached in (("DutyMonth", or_(A.absences != absences, duty)),
                                             ("VillageResult", results), ("SupportRecord", records))))


def reflag(year: int | None = None) -> int:
    """Write ``EvidenceMoved`` again from the audit trail (``moved_after_grading``), for
    ``year`` or every year graded; returns how many grades are flagged. For a database
    whose flags are missing (a copy made by hand, a bulk load that wrote no events)."""
    from ..assessment.models import Assessment as A
    from ..core.timeutil import utcnow

    from .models import EvidenceMoved as M

    years = [year] if year is not None else list(db.session.scalars(select(A.year).distinct().order_by(A.year)))
    now, flagged = utcnow(), 0
    for each in years:
        db.session.execute(delete(M).where(M.year == each))
        moved = moved_after_grading(each).subquery()
        db.session.execute(insert(M).from_select(
            ["assessment_id", "kind", "year", "region_code", "moved_at"],
            select(A.id, moved.c.kind, A.year, A.region_code, literal(now, DateTime()))
            .join(moved, moved.c.id == A.id)))
        flagged += db.session.scalar(select(func.count(func.distinct(M.assessment_id))).where(M.year == each)) or 0
    return flagged


# -- kept up commit by commit ------------------------------------------------------------------

# Which grades of the moved row's year a move reaches: (the grade's column, the moved
# row's field) pairs that must be equal. A duty month: the grade of its posting's person;
# village results: the grades of the people posted to the village; a record: the grade
# of its unit's person posted to its village.
_REACHES = {
    "DutyMonth": (("posting_id", "posting_id"),),
    "VillageResult": (("region_code", "village_code"),),
    "SupportRecord": (("organization_id", "organization_id"), ("region_code", "village_code")),
}
_YEAR_OF = {"DutyMonth": "month", "VillageResult": "year", "SupportRecord": "record_date"}  # the moved row's year
_FLAGS: dict = {}  # (dialect, kind) -> the statement, built once


def _flag_statement(dialect, kind: str):
    key = (dialect.name, kind)
    if key not in _FLAGS:
        from sqlalchemy import Integer, bindparam, text

        reaches = " AND ".join(f"assessment.{column} = :{name}" for column, name in _REACHES[kind])
        # a fixed text: the columns' names, the conditions above; every value a parameter
        sql = ("INSERT INTO evidence_moved (assessment_id, kind, year, region_code, moved_at) "  # noqa: S608  # nosec B608
               f"SELECT assessment.id, '{kind}', assessment.year, assessment.region_code, :at FROM assessment "
               "WHERE assessment.subject_kind = 'person' AND assessment.posting_id IS NOT NULL "
               f"AND assessment.year = :year AND assessment.assessed_at < :at AND {reaches} "
               "ON CONFLICT (assessment_id, kind) DO NOTHING")
        _FLAGS[key] = text(sql).bindparams(
            bindparam("at", type_=DateTime()), bindparam("year", type_=Integer()),
            *(bindparam(name, type_=String() if name == "village_code" else Integer()) for _, name in _REACHES[kind]))
    return _FLAGS[key]


def _absences(snapshot: str | None):
    return json.loads(snapshot).get("absences") if snapshot else None


@watch_events
def flag_moved_grades(conn, batches) -> None:
    """In the commit of every audited change: flag (``EvidenceMoved``) the person grades
    given before it whose evidence it moved, as ``moved_after_grading`` defines it (a
    duty month filed, or its absences changed; village results filed; a record decided),
    and unflag the grades given again. Most commits move no evidence: a look at each
    event's kind and action, and nothing more."""
    keys: dict[str, dict[tuple, object]] = {kind: {} for kind in _REACHES}
    regraded: set[int] = set()
    for shared, items, _ in batches:
        at = shared["at"]
        for action, kind, entity_id, _summary, _region, _org, before, after in items:
            if not entity_id:
                continue  # an event about many rows at once (the demo's)
            if kind == "Assessment":
                if action == "regrade":
                    regraded.add(int(entity_id))
                continue
            if kind not in keys:
                continue
            if kind == "SupportRecord":
                if action not in RECORD_ACTIONS:
                    continue
            elif action not in FILING_ACTIONS and (kind != "DutyMonth" or _absences(before) == _absences(after)):
                continue
            row = json.loads(after or before)
            year = int(str(row[_YEAR_OF[kind]])[:4])  # a number, or a date in ISO form
            key = (*(row[name] for _, name in _REACHES[kind]), year)
            seen = keys[kind].get(key)
            keys[kind][key] = at if seen is None or at > seen else seen
    if regraded:
        from .models import EvidenceMoved as M

        conn.execute(delete(M).where(M.assessment_id.in_(sorted(regraded))))
    for kind, found in keys.items():
        if found:
            names = [name for _, name in _REACHES[kind]]
            conn.execute(_flag_statement(conn.dialect, kind),
                         [{**dict(zip(names, key[:-1])), "year": key[-1], "at": at} for key, at in found.items()])


def evidence_changes(assessments, moved: dict[int, set[str]] | None = None) -> dict[int, Changed]:
    """{assessment id: what changed} for the person grades among ``assessments`` whose
    evidence changed after grading and whose year is not closed for their place (a page
    of grades costs five queries, whatever its length; ``assessments`` may be rows of
    the columns read here rather than loaded grades). ``moved``: for grades whose flags
    are known ({id: the kinds of ``EvidenceMoved``}), only the kinds of evidence that
    moved are read."""
    from ..assessment.evidence import absence_cap, grade_allowed
    from ..duty.models import DutyMonth
    from ..records.models import SupportRecord
    from ..results.models import VillageResult

    graded = [a for a in assessments if a.subject_kind == "person" and a.posting_id is not None
              and year_open(a.year, a.region_code, "assessment")]
    if not graded:
        return {}
    since = min(a.assessed_at for a in graded)
    years = {a.year for a in graded}
    look = {kind: [a for a in graded if moved is None or kind in moved.get(a.id, ())] for kind in _REACHES}

    duty = db.session.execute(select(DutyMonth.id, DutyMonth.posting_id, DutyMonth.month, DutyMonth.absences).where(
        DutyMonth.posting_id.in_({a.posting_id for a in look["DutyMonth"]}),
        DutyMonth.month.between(date(min(years), 1, 1), date(max(years), 12, 31)))).all() if look["DutyMonth"] else []
    results = db.session.execute(select(VillageResult.id, VillageResult.village_code, VillageResult.year).where(
        tuple_(VillageResult.village_code, VillageResult.year).in_({(a.region_code, a.year)
                                                                    for a in look["VillageResult"]}))).all() \
        if look["VillageResult"] else []
    # the units' records in the graded villages that a move of RECORD_ACTIONS can have
    # reached (each move leads into DECIDED, and a record leaves it for no other state),
    # by the index of a village's records: read by village, kept by unit here
    pairs = {(a.organization_id, a.region_code) for a in look["SupportRecord"]}
    records = [r for r in db.session.execute(select(
        SupportRecord.id, SupportRecord.organization_id, SupportRecord.village_code, SupportRecord.record_date,
        SupportRecord.title).where(
        SupportRecord.village_code.in_({village for _, village in pairs}), SupportRecord.status.in_(DECIDED),
        SupportRecord.record_date.between(date(min(years), 1, 1), date(max(years), 12, 31))))
        if (r.organization_id, r.village_code) in pairs] if pairs else []

    # the rows' events since the first grade, each row's in their order; by kind, in
    # batches: a parameter per row, well under what a statement may carry (SQLite: 32,766)
    events: dict[tuple[str, str], list[AuditEvent]] = defaultdict(list)
    for kind, rows in (("DutyMonth", duty), ("VillageResult", results), ("SupportRecord", records)):
        ids = [str(r.id) for r in rows]
        for start in range(0, len(ids), EVENT_BATCH):
            for event in db.session.scalars(select(AuditEvent).where(
                    AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(ids[start:start + EVENT_BATCH]),
                    AuditEvent.at > since).order_by(AuditEvent.id)):
                events[(event.entity_type, event.entity_id)].append(event)

    # each grade's evidence found by its key, not by scanning every row for every grade
    duty_of: dict[tuple[int, int], list] = defaultdict(list)
    for r in duty:
        duty_of[(r.posting_id, r.month.year)].append(r)
    results_of: dict[tuple[str, int], list] = defaultdict(list)
    for r in results:
        results_of[(r.village_code, r.year)].append(r)
    records_of: dict[tuple[int, str, int], list] = defaultdict(list)
    for r in records:
        records_of[(r.organization_id, r.village_code, r.record_date.year)].append(r)

    out: dict[int, Changed] = {}
    duty_read = {a.id for a in look["DutyMonth"]}
    for a in graded:
        changed = Changed()
        mine = duty_of.get((a.posting_id, a.year), ())
        absences = sum(r.absences for r in mine)
        if a.id in duty_read and absences != a.absences:
            cap = absence_cap(absences)
            said = f"全年无故缺勤：评定时{a.absences}天，现为{absences}天"
            if not grade_allowed(a.grade, absences):
                said += f"，按缺勤上限最高只能评为“{cap}”"
            changed.cap = said
        for r in sorted(mine, key=lambda r: r.month):
            for e in events.get(("DutyMonth", str(r.id)), ()):
                if e.at > a.assessed_at and e.action in FILING_ACTIONS:
                    verb = "新填报" if e.action == "create" else "修改"
                    changed.items.append(f"{month_cn(r.month)}驻村纪实{date_cn(e.at)}{verb}：{_diff(e.before, e.after, DUTY_FIELDS)}")
        for r in results_of.get((a.region_code, a.year), ()):
            for e in events.get(("VillageResult", str(r.id)), ()):
                if e.at > a.assessed_at and e.action in FILING_ACTIONS:
                    verb = "新填报" if e.action == "create" else "修改"
                    changed.items.append(f"{a.year}年帮扶实效{date_cn(e.at)}{verb}："
                                         f"{_diff(e.before, e.after, RESULT_FIELDS)}")
        for r in records_of.get((a.organization_id, a.region_code, a.year), ()):
            for e in events.get(("SupportRecord", str(r.id)), ()):
                if e.at > a.assessed_at and e.action in RECORD_ACTIONS:
                    changed.items.append(f"帮扶记录“{r.title}”{date_cn(e.at)}{RECORD_ACTIONS[e.action]}")
        if changed:
            out[a.id] = changed
    return out
