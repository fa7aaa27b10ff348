"""Inspections (督查): the one home of their rules.

- A plan belongs to an inspecting jurisdiction (the province or a city) and a year; one a
  year. Its staff (or those above) keep it.
- Who is inspected: the province inspects cities, counties and provincial departments
  (organizations of level 省直); a city inspects the counties under it. Once a plan.
- A visit has a date within the plan's year and not in the future, and a team.
- A finding is recorded by the inspecting side under an item (督查事项), with a deadline not
  before today, and is then a rectification task (``FINDING_CYCLE``, the cycle of
  ``core/rectification.py``): the inspected party — the inspected region's staff, or the
  inspected department's unit accounts — registers the rectification (整改情况); only the
  inspecting jurisdiction or one above it closes it (销号), never the inspected party.
- Evidence: the inspecting side adds the finding's (问题佐证), the inspected party the
  rectification's (整改佐证) until it is closed; files are checked and kept by
  ``records/evidence.py``.
- A finding not closed by its deadline is overdue: it shows on the worklists and its owner is
  told once (``notifications.scan``).

Every change writes its audit event in the same transaction; a broken rule raises
``RuleViolation`` and nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import Select, func, select

from ..assessment.services import user_region
from ..core.paging import Key, order_by
from ..audit.services import record as audit
from ..core.enums import FOLLOW_UP_STATUSES
from ..core.formatting import date_cn
from ..core.parsing import check_text, to_date
from ..core.rectification import CLOSED, RectificationCycle, overdue_clause, pending_clause
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..records import evidence as files
from ..regions.models import Region
from .models import FINDING_ITEMS, Finding, FindingEvidence, Inspection, InspectionPlan, InspectionVisit, target_key

STALE_MESSAGE = "该督查问题已被他人修改，请刷新页面后重新填写"
PLANNING_LEVELS = ("province", "city")  # who makes an inspection plan
INSPECTING_LEVELS = {"province": "省级", "city": "市州级"}  # how the ledger names the inspecting level
TEXT_MAX = 2000
TEAM_MAX = 500
MAX_EVIDENCE = 20


# -- who may do what ---------------------------------------------------------------------------


def planning_region(user) -> Region | None:
    """The jurisdiction whose plans the user keeps: the province's or a city's staff (an
    administrator acts for the province); None for everyone else."""
    region = user_region(user)
    return region if region is not None and region.level in PLANNING_LEVELS else None


def may_plan(user) -> bool:
    return planning_region(user) is not None


def may_keep(user, obj) -> bool:
    """The plan's (inspection's, finding's) inspecting jurisdiction, or one above it: adds
    inspections, visits and findings, and closes findings."""
    region = user_region(user)
    code = obj.region_code if isinstance(obj, InspectionPlan) else obj.inspector_region_code
    return region is not None and region.contains(code) and not is_inspected_party(user, obj)


def is_inspected_party(user, obj) -> bool:
    """The owner of an inspection's findings: the inspected region's own staff, or the
    inspected department's unit accounts."""
    if isinstance(obj, InspectionPlan):
        return False
    if user.role == "region":
        return obj.target_region_code is not None and user.region_code == obj.target_region_code
    if user.role == "unit":
        return obj.target_organization_id is not None and user.organization_id == obj.target_organization_id
    return False


def may_close(user, finding: Finding) -> bool:
    return may_keep(user, finding)


# -- plans --------------------------------------------------------------------------------------


def plan_years() -> list[int]:
    """The years a plan may be made for: from the registry's first year to next year."""
    first = current_app.config["REGISTRY_RECORD_EARLIEST_DATE"].year
    return list(range(local_today().year + 1, first - 1, -1))


def _year(value, errors: Collector) -> int | None:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        errors.add("year", "请选择督查年度")
        return None
    years = plan_years()
    if year not in years:
        errors.add("year", f"督查年度应在{years[-1]}年至{years[0]}年之间")
        return None
    return year


def _text(value, field_name: str, label: str, errors: Collector, *, required: bool = False,
          maximum: int = TEXT_MAX, multiline: bool = True) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            errors.add(field_name, f"请填写{label}")
        return None
    if len(text) > maximum:
        errors.add(field_name, f"{label}最多{maximum}字")
        return None
    if not check_text(text, field_name, label, errors, multiline=multiline):
        return None
    return text


def create_plan(user, year, title, note=None) -> InspectionPlan:
    """A jurisdiction's inspection plan for ``year``."""
    region = planning_region(user)
    if region is None:
        raise RuleViolation("只有省、市州两级可以制定督查计划", "")
    errors = Collector()
    year = _year(year, errors)
    title = _text(title, "title", "计划名称", errors, required=True, maximum=100, multiline=False)
    note = _text(note, "note", "说明", errors)
    if year is not None and db.session.scalar(select(InspectionPlan.id).where(
            InspectionPlan.region_code == region.code, InspectionPlan.year == year)) is not None:
        errors.add("year", f"{region.name}{year}年度的督查计划已经存在")
    errors.raise_if_any()
    plan = InspectionPlan(year=year, region_code=region.code, title=title, note=note,
                          created_by_id=getattr(user, "id", None), created_at=utcnow())
    db.session.add(plan)
    db.session.flush()
    audit("create", plan, summary=f"制定{year}年度督查计划：{region.name}，{title}")
    db.session.commit()
    return plan


def target_choices(plan: InspectionPlan) -> list[tuple[str, str]]:
    """Whom ``plan`` may inspect and has not yet: (value, label) pairs. The province:
    cities, counties, provincial departments; a city: its counties."""
    taken = {i.target_key for i in plan.inspections}
    region = plan.region
    levels = ("city", "county") if region.level == "province" else ("county",)
    regions = db.session.scalars(select(Region).where(region.within(Region.code), Region.level.in_(levels))
                                 .order_by(Region.code))
    out = [(target_key("region", r.code), ("　" if r.level == "county" else "") + r.name) for r in regions]
    if region.level == "province":
        departments = db.session.scalars(select(Organization).where(Organization.level == "provincial")
                                         .order_by(Organization.name))
        out += [(target_key("organization", o.id), f"省直部门：{o.name}") for o in departments]
    return [(value, label) for value, label in out if value not in taken]


def add_inspection(plan: InspectionPlan, user, target: str | None, focus: str | None = None) -> Inspection:
    """Put one inspected party (``"region:<code>"`` or ``"organization:<id>"``) in the plan."""
    if not may_keep(user, plan):
        raise RuleViolation("只有制定计划的部门或其上级可以调整督查计划", "")
    errors = Collector()
    focus = _text(focus, "focus", "督查重点", errors)
    kind, _, ident = (target or "").partition(":")
    values: dict = {}
    if kind == "region":
        region = db.session.get(Region, ident) if len(ident) == 12 and ident.isdigit() else None
        levels = ("city", "county") if plan.region.level == "province" else ("county",)
        if region is None or region.level not in levels or not plan.region.contains(region.code):
            errors.add("target", "省级督查市州、县市区和省直部门，市州督查本市州的县市区：请在列表中选择督查对象")
        else:
            values = dict(target_region_code=region.code, target_organization_id=None)
    elif kind == "organization":
        org = db.session.get(Organization, int(ident)) if ident.isdigit() and len(ident) < 10 else None
        if org is None or org.level != "provincial" or plan.region.level != "province":
            errors.add("target", "只有省级督查计划可以督查省直部门：请在列表中选择督查对象")
        else:
            values = dict(target_region_code=None, target_organization_id=org.id)
    else:
        errors.add("target", "请选择督查对象")
    errors.raise_if_any()
    key = target_key(kind, ident)
    if key in {i.target_key for i in plan.inspections}:
        raise RuleViolation("该督查对象已在计划中", "target")
    inspection = Inspection(plan=plan, year=plan.year, inspector_region_code=plan.region_code, target_kind=kind,
                            target_key=key, focus=focus, created_by_id=getattr(user, "id", None), created_at=utcnow(),
                            **values)
    db.session.add(inspection)
    db.session.flush()
    audit("create", inspection, summary=f"{plan.year}年度督查计划新增督查对象：{inspection.target_name}")
    db.session.commit()
    return inspection


# -- visits and findings ------------------------------------------------------------------------


def add_visit(inspection: Inspection, user, visited_on, team, summary=None) -> InspectionVisit:
    """A visit of the inspection team: the day (in the plan's year, not in the future) and who went."""
    if not may_keep(user, inspection):
        raise RuleViolation("只有组织督查的部门或其上级可以登记督查走访", "")
    errors = Collector()
    day = to_date(visited_on) if visited_on not in (None, "") else None
    if day is None:
        errors.add("visited_on", "请填写督查日期（年-月-日）")
    elif day.year != inspection.year:
        errors.add("visited_on", f"督查日期应在{inspection.year}年内")
    elif day > local_today():
        errors.add("visited_on", "督查日期不能晚于今天")
    team = _text(team, "team", "督查组成员", errors, required=True, maximum=TEAM_MAX)
    summary = _text(summary, "summary", "督查情况", errors)
    errors.raise_if_any()
    visit = InspectionVisit(inspection=inspection, visited_on=day, team=team, summary=summary,
                            created_by_id=getattr(user, "id", None), created_at=utcnow())
    db.session.add(visit)
    db.session.flush()
    audit("create", visit, summary=f"督查走访：{inspection.target_name}，{date_cn(day)}，督查组：{team[:60]}")
    db.session.commit()
    return visit


@dataclass
class FindingData:
    item: str | None
    description: str | None
    deadline: object
    visit_id: object = None
    uploads: list = field(default_factory=list)


def check_finding(inspection: Inspection, user, data: FindingData) -> dict:
    """The rule of a new finding (the form's and the import's): who may record it, the item,
    the description, the deadline (not before today, within three years), the visit (one of
    the inspection's) and the evidence files. Returns the clean values; RuleViolation by field."""
    if not may_keep(user, inspection):
        raise RuleViolation("只有组织督查的部门或其上级可以登记督查发现的问题", "")
    errors = Collector()
    if data.item not in FINDING_ITEMS:
        errors.add("item", "请选择督查事项")
    description = _text(data.description, "description", "问题描述", errors, required=True)
    deadline = to_date(data.deadline) if data.deadline not in (None, "") else None
    if deadline is None:
        errors.add("deadline", "请填写整改期限（年-月-日）")
    elif deadline < local_today():
        errors.add("deadline", "整改期限不能早于今天")
    elif deadline.year > local_today().year + 3:
        errors.add("deadline", "整改期限不能晚于三年之后")
    visit = None
    if data.visit_id not in (None, ""):
        visit = next((v for v in inspection.visits if str(v.id) == str(data.visit_id)), None)
        if visit is None:
            errors.add("visit_id", "请选择本次督查的走访")
    uploads = []
    try:
        uploads = files.check_uploads(data.uploads)
    except RuleViolation as violation:
        for message in violation.errors.get("files", []):
            errors.add("files", message)
    if len(uploads) > MAX_EVIDENCE:
        errors.add("files", f"每个问题最多上传 {MAX_EVIDENCE} 个佐证文件")
    errors.raise_if_any()
    return {"item": data.item, "description": description, "deadline": deadline, "visit": visit, "uploads": uploads}


def add_finding(inspection: Inspection, user, data: FindingData, *, commit: bool = True) -> Finding:
    """A problem found (by item), to be rectified by the inspected party by the deadline.
    ``commit=False``: flushed only (an import commits all its rows at once)."""
    values = check_finding(inspection, user, data)
    deadline, uploads = values["deadline"], values["uploads"]
    finding = Finding(
        inspection=inspection, visit=values["visit"], year=inspection.year,
        inspector_region_code=inspection.inspector_region_code, target_kind=inspection.target_kind,
        target_region_code=inspection.target_region_code, target_organization_id=inspection.target_organization_id,
        item=values["item"], description=values["description"], deadline=deadline, status="open",
        created_by_id=getattr(user, "id", None), created_at=utcnow(),
    )
    db.session.add(finding)
    db.session.flush()
    audit("create", finding, summary=f"督查发现问题：{finding.title}，整改期限{date_cn(deadline)}")
    stored = _attach(finding, uploads, "finding", user)
    try:
        _tell(finding, f"督查问题待整改：{finding.title}",
              f"{finding.inspector_region.name}督查发现的问题，请于{date_cn(deadline)}前整改，并在系统中登记整改情况。", user)
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return finding


# -- the rectification cycle ----------------------------------------------------------------------


def owners(obj) -> list[int]:
    """Who must act on a finding: the inspected region's staff, or the department's unit accounts."""
    from ..notifications import recipients

    if obj.target_organization_id is not None:
        return recipients.unit_users(obj.target_organization_id)
    return recipients.region_staff(obj.target_region_code) if obj.target_region_code else []


def _tell(finding: Finding, title: str, body: str, user) -> None:
    """The owner and the one who recorded the finding are told, all but who made the step."""
    from ..notifications import link_for, notify

    told = owners(finding)
    if finding.created_by_id is not None:
        told.append(finding.created_by_id)
    notify("inspection", told, title=title, body=body,
           link=link_for("inspections.finding", finding_id=finding.id), actor=user)


FINDING_CYCLE = RectificationCycle(
    noun="督查问题", status="status", may_report=is_inspected_party, may_close=may_close,
    report_refused="只有被督查的地区或单位可以登记整改情况",
    close_refused="只有组织督查的部门或其上级可以销号，被督查方不能自行销号",
    describe=lambda finding: finding.title, stale=STALE_MESSAGE, tell=_tell,
)


def rectify(finding: Finding, note, user, version=None) -> Finding:
    """待整改 → 整改中: the inspected party says what it did."""
    return FINDING_CYCLE.rectify(finding, note, user, version)


def close(finding: Finding, note, user, version=None) -> Finding:
    """整改中 → 已销号: the inspecting jurisdiction accepts the rectification."""
    return FINDING_CYCLE.close(finding, note, user, version)


# -- evidence ---------------------------------------------------------------------------------------


def evidence_stage(user, finding: Finding) -> str | None:
    """Which evidence ``user`` may add to ``finding`` now: the inspecting side the finding's,
    the inspected party the rectification's (until it is closed); None: none."""
    if finding.status == CLOSED:
        return None
    if may_keep(user, finding):
        return "finding"
    if is_inspected_party(user, finding):
        return "rectification"
    return None


def _attach(finding: Finding, uploads: list, stage: str, user) -> list[str]:
    """Store checked files and add their rows and audit events; the stored names are returned
    (to remove them if the transaction fails)."""
    stored: list[str] = []
    known = {e.sha256 for e in finding.evidence}
    try:
        for upload in uploads:
            if upload.sha256 in known:
                continue  # the same file twice adds nothing
            known.add(upload.sha256)
            name = files.store(upload)
            stored.append(name)
            db.session.add(FindingEvidence(
                finding=finding, stage=stage, original_name=upload.original_name, stored_name=name,
                content_type=upload.content_type, size=upload.size, sha256=upload.sha256,
                uploaded_by_id=getattr(user, "id", None), uploaded_at=utcnow()))
            db.session.flush()
            audit("evidence_add", finding, after={"stage": stage, "original_name": upload.original_name,
                                                  "sha256": upload.sha256, "size": upload.size},
                  summary=f"上传{'问题' if stage == 'finding' else '整改'}佐证材料：{upload.original_name}", actor=user)
    except Exception:
        files.discard(stored)
        raise
    return stored


def add_evidence(finding: Finding, user, uploads) -> int:
    """Photos or PDFs of the finding (inspecting side) or of its rectification (inspected
    party); returns how many were added."""
    stage = evidence_stage(user, finding)
    if stage is None:
        raise RuleViolation({"files": "已销号的督查问题不能再上传材料" if finding.status == CLOSED
                             else "只有组织督查的部门或被督查方可以上传佐证材料"})
    checked = files.check_uploads(uploads)
    if not checked:
        raise RuleViolation({"files": "请选择要上传的文件"})
    if len(finding.evidence) + len(checked) > MAX_EVIDENCE:
        raise RuleViolation({"files": f"每个问题最多上传 {MAX_EVIDENCE} 个佐证文件"})
    stored = _attach(finding, checked, stage, user)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return len(stored)


# -- queries: what the pages read -------------------------------------------------------------------


def plans_for(user, year: int | None = None) -> Select:
    stmt = scoped(select(InspectionPlan), InspectionPlan, user)
    if year:
        stmt = stmt.where(InspectionPlan.year == year)
    return stmt.order_by(InspectionPlan.year.desc(), InspectionPlan.region_code)


# latest year first, then by inspecting region (ix_inspection_list)
INSPECTION_ORDER = (Key(Inspection.year, descending=True), Key(Inspection.inspector_region_code), Key(Inspection.id))
# latest year first, then by deadline (ix_inspection_finding_list)
FINDING_ORDER = (Key(Finding.year, descending=True), Key(Finding.deadline), Key(Finding.id))


def inspections_for(user, year: int | None = None) -> Select:
    stmt = scoped(select(Inspection), Inspection, user)
    if year:
        stmt = stmt.where(Inspection.year == year)
    return stmt.order_by(*order_by(INSPECTION_ORDER))


def finding_counts(inspection_ids: list[int]) -> dict[int, dict[str, int]]:
    """{inspection id: {status: findings}} of the given inspections."""
    out: dict[int, dict[str, int]] = {}
    if not inspection_ids:
        return out
    rows = db.session.execute(select(Finding.inspection_id, Finding.status, func.count())
                              .where(Finding.inspection_id.in_(inspection_ids))
                              .group_by(Finding.inspection_id, Finding.status))
    for ident, status, n in rows:
        out.setdefault(ident, {})[status] = n
    return out


@dataclass
class InspectionLine:
    """One line of the inspections' ledger (the list's export): an inspection, its visits'
    dates and its findings by state."""

    inspection: Inspection
    visit_dates: list[date]
    counts: dict[str, int]  # status -> findings, and "overdue"

    @property
    def findings(self) -> int:
        return sum(n for status, n in self.counts.items() if status in FOLLOW_UP_STATUSES)

    @property
    def result(self) -> str:
        """督查结果, in words: not visited yet, nothing found, or where the rectification stands."""
        if not self.findings:
            return "未发现问题" if self.visit_dates else "尚未走访"
        if self.counts.get("overdue"):
            return "有问题逾期未销号"
        if self.counts.get(CLOSED, 0) == self.findings:
            return "问题已全部销号"
        return "问题整改中"


LEDGER_BATCH = 500


def inspection_lines(stmt: Select, today: date | None = None):
    """The inspections ``stmt`` selects, as ``InspectionLine``s, read in batches (visits and
    findings of a batch by two grouped queries)."""
    today = today or local_today()
    inspections = list(db.session.scalars(stmt))
    for start in range(0, len(inspections), LEDGER_BATCH):
        batch = inspections[start:start + LEDGER_BATCH]
        ids = [i.id for i in batch]
        counts = finding_counts(ids)
        for ident, n in db.session.execute(
                select(Finding.inspection_id, func.count()).where(
                    Finding.inspection_id.in_(ids), overdue_clause(Finding.status, Finding.deadline, today))
                .group_by(Finding.inspection_id)):
            counts.setdefault(ident, {})["overdue"] = n
        visits: dict[int, list[date]] = {}
        for ident, day in db.session.execute(
                select(InspectionVisit.inspection_id, InspectionVisit.visited_on)
                .where(InspectionVisit.inspection_id.in_(ids))
                .order_by(InspectionVisit.inspection_id, InspectionVisit.visited_on, InspectionVisit.id)):
            visits.setdefault(ident, []).append(day)
        for inspection in batch:
            yield InspectionLine(inspection, visits.get(inspection.id, []), counts.get(inspection.id, {}))


STATES = {**FOLLOW_UP_STATUSES, "pending": "未销号", "overdue": "逾期未销号"}


@dataclass
class FindingFilters:
    year: int | None = None
    state: str = ""  # STATES
    item: str = ""  # FINDING_ITEMS
    inspection_id: int | None = None
    region: str = ""  # the inspected region's code

    @classmethod
    def from_args(cls, args) -> FindingFilters:
        """The list's arguments; a value that is not one of the choices is ignored."""
        raw_year = (args.get("year") or "").strip()
        year = int(raw_year) if raw_year.isdigit() and len(raw_year) == 4 else None
        state, item = args.get("state", ""), args.get("item", "")
        raw_inspection = (args.get("inspection") or "").strip()
        region = (args.get("region") or "").strip()
        return cls(year, state if state in STATES else "", item if item in FINDING_ITEMS else "",
                   int(raw_inspection) if raw_inspection.isdigit() and len(raw_inspection) < 10 else None,
                   region if len(region) == 12 and region.isascii() and region.isdigit() else "")

    @property
    def args(self) -> dict:
        return {"year": self.year, "state": self.state or None, "item": self.item or None,
                "inspection": self.inspection_id, "region": self.region or None}

    def shown(self) -> list[tuple[str, str]]:
        return [("年度", str(self.year) if self.year else ""), ("整改状态", STATES.get(self.state, "")),
                ("督查事项", FINDING_ITEMS.get(self.item, "")), ("被督查地区", self.region)]


def findings_for(user, filters: FindingFilters | None = None) -> Select:
    """Findings ``user`` may see, filtered; the overdue first by deadline, then the rest."""
    filters = filters or FindingFilters()
    stmt = scoped(select(Finding), Finding, user)
    if filters.year:
        stmt = stmt.where(Finding.year == filters.year)
    if filters.state == "pending":
        stmt = stmt.where(pending_clause(Finding.status))
    elif filters.state == "overdue":
        stmt = stmt.where(overdue_clause(Finding.status, Finding.deadline, local_today()))
    elif filters.state:
        stmt = stmt.where(Finding.status == filters.state)
    if filters.item:
        stmt = stmt.where(Finding.item == filters.item)
    if filters.inspection_id:
        stmt = stmt.where(Finding.inspection_id == filters.inspection_id)
    if filters.region:
        stmt = stmt.where(Finding.target_region_code == filters.region)
    return stmt.order_by(*order_by(FINDING_ORDER))


def region_summary(user, region_code: str, year: int) -> dict[str, int]:
    """{status: findings} of the inspections of one region in ``year`` that ``user`` may see,
    with "overdue"."""
    stmt = scoped(select(Finding.status, func.count()), Finding, user).where(
        Finding.target_region_code == region_code, Finding.year == year).group_by(Finding.status)
    out = {status: n for status, n in db.session.execute(stmt)}
    out["overdue"] = db.session.scalar(scoped(select(func.count()), Finding, user).select_from(Finding).where(
        Finding.target_region_code == region_code, Finding.year == year,
        overdue_clause(Finding.status, Finding.deadline, local_today()))) or 0
    return out


def overdue_findings(user, today: date | None = None) -> Select:
    """Findings in scope past their deadline and not closed, the longest overdue first."""
    stmt = scoped(select(Finding), Finding, user).where(overdue_clause(Finding.status, Finding.deadline,
                                                                      today or local_today()))
    return stmt.order_by(Finding.deadline, Finding.id)
