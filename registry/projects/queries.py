"""What the project pages read: the scoped list with its filters, the sums by status (the
coverage page, the enterprise's page, the list), and a project's whole history (the
supervision trail)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache

from sqlalchemy import Select, func, or_, select

from ..accounts.models import User
from ..audit.labels import action_label, actor_name
from ..audit.models import AuditEvent
from ..core.paging import Key, order_by
from ..core.parsing import to_id
from ..core.rules import RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..regions.models import Region
from .models import (
    PROJECT_KINDS,
    PROJECT_STATUSES,
    ZERO,
    Project,
    ProjectConfirmation,
    ProjectEvidence,
    ProjectProgress,
    ProjectVillage,
)

XIANGSHANG = {"1": "湘商回归项目", "0": "非湘商回归项目"}
XIANGSHANG_INVALID = "湘商回归筛选无效（应为1、0或留空）"


def xiangshang_arg(args, *, strict: bool = False) -> str:
    """The 湘商回归 filter of a query string: "1", "0" or "" (all). A value not among them is
    ignored by a page (as its other filters) and refused by the API (``strict``)."""
    value = (args.get("xiangshang") or "").strip()
    if value == "" or value in XIANGSHANG:
        return value
    if strict:
        raise RuleViolation(XIANGSHANG_INVALID, "xiangshang")
    return ""


@dataclass(frozen=True)
class ProjectFilters:
    status: str = ""
    kind: str = ""
    xiangshang: str = ""  # "1" only 湘商回归, "0" only the others, "" all
    organization_id: int | None = None
    area: str = ""  # a region's code: projects touching villages under it
    q: str = ""

    @classmethod
    def from_args(cls, args) -> ProjectFilters:
        status = args.get("status", "")
        kind = args.get("kind", "")
        flag = args.get("xiangshang", "")
        area = (args.get("area") or "").strip()
        q = (args.get("q") or "").strip()[:50]
        return cls(
            status=status if status in PROJECT_STATUSES else "",
            kind=kind if kind in PROJECT_KINDS else "",
            xiangshang=flag if flag in XIANGSHANG else "",
            organization_id=to_id(args.get("org")),
            area=area if len(area) == 12 and area.isascii() and area.isdigit() else "",
            q=q,
        )

    def as_args(self) -> dict:
        out = {"status": self.status, "kind": self.kind, "xiangshang": self.xiangshang,
               "org": self.organization_id or "", "area": self.area, "q": self.q}
        return {k: v for k, v in out.items() if v not in ("", None)}

    def described(self) -> list[tuple[str, str]]:
        return [("状态", PROJECT_STATUSES.get(self.status, "")), ("类型", PROJECT_KINDS.get(self.kind, "")),
                ("湘商回归", XIANGSHANG.get(self.xiangshang, "")), ("企业编号", str(self.organization_id or "")),
                ("地区代码", self.area), ("名称含", self.q)]


def _area(code: str) -> Region | None:
    return db.session.get(Region, code) if code else None


def touching(region: Region):
    """SQL condition on Project: it touches a village under ``region`` (an indexed range
    scan of ``project_village``)."""
    return _touching(region.within)


def _touching(within):
    """``touching`` with the region's condition on a code column (``Region.within``, or
    ``Region.within_bounds`` for a statement built once)."""
    return Project.id.in_(select(ProjectVillage.project_id).where(within(ProjectVillage.village_code)))


def _filtered(stmt: Select, filters: ProjectFilters, *, status: bool = True) -> Select:
    if status and filters.status:
        stmt = stmt.where(Project.status == filters.status)
    if filters.kind:
        stmt = stmt.where(Project.kind == filters.kind)
    if filters.xiangshang:
        stmt = stmt.where(Project.is_xiangshang.is_(filters.xiangshang == "1"))
    if filters.organization_id:
        stmt = stmt.where(Project.organization_id == filters.organization_id)
    if filters.area:
        area = _area(filters.area)
        stmt = stmt.where(touching(area)) if area is not None else stmt.where(Project.id.is_(None))
    if filters.q:
        stmt = stmt.where(Project.name.contains(filters.q, autoescape=True))
    return stmt


# latest signed first (ix_project_signed_id)
PROJECT_ORDER = (Key(Project.signed_on, descending=True), Key(Project.id, descending=True))


def project_list(user, filters: ProjectFilters) -> Select:
    """The projects ``user`` may see, filtered; latest signed first."""
    stmt = _filtered(scoped(select(Project), Project, user), filters)
    return stmt.order_by(*order_by(PROJECT_ORDER))


# -- sums by status -----------------------------------------------------------------------------

@dataclass
class StatusLine:
    status: str
    count: int = 0
    planned: Decimal = ZERO
    actual: Decimal = ZERO
    confirmed: Decimal = ZERO
    jobs: int = 0

    @property
    def label(self) -> str:
        return PROJECT_STATUSES.get(self.status, "合计")


@dataclass
class StatusTotals:
    lines: list[StatusLine] = field(default_factory=list)
    total: StatusLine = field(default_factory=lambda: StatusLine("total"))

    def of(self, status: str) -> StatusLine:
        return next(line for line in self.lines if line.status == status)


def _totals(stmt: Select) -> StatusTotals:
    return _status_totals(db.session.execute(stmt.group_by(Project.status)))


def _status_totals(found) -> StatusTotals:
    """The lines of every status from the rows of ``_sums`` grouped by status."""
    rows = {status: (n, planned, actual, confirmed, jobs) for status, n, planned, actual, confirmed, jobs in found}
    out = StatusTotals()
    for status in PROJECT_STATUSES:
        n, planned, actual, confirmed, jobs = rows.get(status, (0, 0, 0, 0, 0))
        line = StatusLine(status, n, Decimal(planned or 0), Decimal(actual or 0), Decimal(confirmed or 0), int(jobs or 0))
        out.lines.append(line)
        out.total.count += line.count
        out.total.planned += line.planned
        out.total.actual += line.actual
        out.total.confirmed += line.confirmed
        out.total.jobs += line.jobs
    return out


def _sums():
    return select(Project.status, func.count(Project.id), func.coalesce(func.sum(Project.planned_investment), 0),
                  func.coalesce(func.sum(Project.actual_investment), 0),
                  func.coalesce(func.sum(Project.confirmed_investment), 0), func.coalesce(func.sum(Project.local_jobs), 0))


def region_totals(region: Region, xiangshang: str = "") -> StatusTotals:
    """Projects touching villages under ``region`` (each counted once, with its whole
    investment, however many of its villages lie there), by status. Read by an indexed
    query (``ix_project_village_code_project``), not from the coverage summaries."""
    lo, hi = region.range()
    return _status_totals(db.session.connection().execute(_region_totals_stmt(xiangshang), {"lo": lo, "hi": hi}))


@cache
def _region_totals_stmt(xiangshang: str) -> Select:
    """``region_totals``' statement, built once per filter value and run on the session's
    connection (the coverage API asks for it on every request: building a statement and
    keying it cost more than running it, and no entity comes back for the ORM to load)."""
    stmt = _sums().where(_touching(Region.within_bounds))
    if xiangshang in XIANGSHANG:
        stmt = stmt.where(Project.is_xiangshang.is_(xiangshang == "1"))
    return stmt.group_by(Project.status)


def organization_totals(organization_id: int, user) -> StatusTotals:
    """The enterprise's projects that ``user`` may see, by status."""
    return _totals(scoped(_sums().where(Project.organization_id == organization_id), Project, user))


def list_totals(user, filters: ProjectFilters) -> StatusTotals:
    """The sums of the list as filtered (every status: the list's status buttons)."""
    return _totals(_filtered(scoped(_sums(), Project, user), filters, status=False))


# -- one project ----------------------------------------------------------------------------------

def pending_for_village(user) -> Select:
    """Progress entries waiting for ``user``'s village's decision, oldest first."""
    return (select(ProjectConfirmation).join(ProjectProgress, ProjectConfirmation.progress_id == ProjectProgress.id)
            .where(ProjectConfirmation.village_code == user.village_code, ProjectConfirmation.state == "pending")
            .order_by(ProjectProgress.entry_date, ProjectConfirmation.id))


def disputed_for_unit(user) -> Select:
    """The villages' disputes of the user's enterprise's progress entries, latest first."""
    return (select(ProjectConfirmation).join(Project, ProjectConfirmation.project_id == Project.id)
            .where(Project.organization_id == user.organization_id, ProjectConfirmation.state == "disputed",
                   Project.status != "terminated")
            .order_by(ProjectConfirmation.decided_at.desc(), ProjectConfirmation.id.desc()))


@dataclass
class TrailEntry:
    at: datetime
    actor: str
    action: str
    summary: str
    entity: str
    event_id: int


ENTITY_LABELS = {"Project": "项目", "ProjectProgress": "进展", "ProjectConfirmation": "村确认",
                 "ProjectEvidence": "佐证材料", "ProjectVillage": "涉及村"}


def project_history(project: Project) -> list[TrailEntry]:
    """The supervision trail of a project: every audit event about it — its creation and
    changes, each progress entry, each village's confirmation or dispute, each evidence
    file — oldest first. The caller has looked the project up in the user's scope; the
    trail is the project's own, whichever regions its villages lie in (the audit log's own
    page files each event under one region). This is the hook a supervision page (纪检,
    财政, 审计) links to: ``projects.detail`` shows it."""
    entries = select(ProjectProgress.id).where(ProjectProgress.project_id == project.id)
    ids = {
        "Project": [str(project.id)],
        "ProjectProgress": [str(i) for i in db.session.scalars(entries)],
        "ProjectConfirmation": [str(i) for i in db.session.scalars(
            select(ProjectConfirmation.id).where(ProjectConfirmation.project_id == project.id))],
        "ProjectEvidence": [str(i) for i in db.session.scalars(
            select(ProjectEvidence.id).where(ProjectEvidence.project_id == project.id))],
    }
    conditions = [(AuditEvent.entity_type == kind) & AuditEvent.entity_id.in_(values) for kind, values in ids.items()
                  if values]
    rows = db.session.execute(
        select(AuditEvent, User.display_name).outerjoin(User, User.id == AuditEvent.actor_id)
        .where(or_(*conditions)).order_by(AuditEvent.id)).all()
    out = []
    for event, display_name in rows:
        out.append(TrailEntry(event.at, actor_name(event.actor, display_name), action_label(event.action), event.summary,
                              ENTITY_LABELS.get(event.entity_type, event.entity_type), event.id))
    return out
