"""Enterprise projects (企业项目, 万企兴万村 / 湘商回归).

Five tables:

- ``project``: one investment of one enterprise (``Organization.kind == "enterprise"``):
  kind, planned investment, the latest reported actual investment and local jobs, the
  latest figure every affected village confirmed, status and its dates, 湘商回归 flag.
- ``project_village``: the villages it touches (one or more). Scope and coverage read
  this table by ``village_code`` (indexed), so "projects touching R" is a range scan.
- ``project_progress``: dated progress entries, append-only (a wrong one is corrected
  by a later one). An entry may move the status (a milestone) and report the actual
  investment and jobs to date.
- ``project_confirmation``: one row per entry and affected village — the village
  confirms or disputes (with a reason) what the entry says about it.
- ``project_evidence``: photos and PDFs of an entry; the files are kept by the support
  records' evidence storage (``records/evidence.py``), these rows only name them.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.stored import StoredFile
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region

ZERO = Decimal("0.00")

PROJECT_KINDS = {
    "industry": "产业",
    "employment": "就业",
    "consumption": "消费",
    "public_welfare": "公益",
    "infrastructure": "基础设施",
    "other": "其他",
}
PROJECT_STATUSES = {"signed": "签约", "building": "在建", "operating": "投产", "terminated": "终止"}
# The only list of allowed status moves: a project goes forward one step at a time, and may
# end (终止, with a reason) from any state but the end itself.
STATUS_MOVES: dict[str, frozenset[str]] = {
    "signed": frozenset({"building", "terminated"}),
    "building": frozenset({"operating", "terminated"}),
    "operating": frozenset({"terminated"}),
    "terminated": frozenset(),
}
CONFIRMATION_STATES = {"pending": "待确认", "confirmed": "已确认", "disputed": "有异议"}


class Project(Audited, db.Model):
    """企业项目: an enterprise's investment in one or more villages."""

    __tablename__ = "project"
    __audit_region__ = "lead_village_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    is_xiangshang: Mapped[bool] = mapped_column(Boolean, default=False)  # 湘商回归
    planned_investment: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)  # 计划投资（元）
    # the latest figures reported by a progress entry (to date, not per entry)
    actual_investment: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)  # 实际到位投资（元）
    local_jobs: Mapped[int] = mapped_column(Integer, default=0)  # 带动当地就业（人）
    # the latest reported investment that every village it affects has confirmed
    confirmed_investment: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)
    signed_on: Mapped[date] = mapped_column(Date)  # 签约日期
    started_on: Mapped[date | None] = mapped_column(Date)  # 开工 (→ 在建)
    operating_on: Mapped[date | None] = mapped_column(Date)  # 投产
    terminated_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="signed")
    end_reason: Mapped[str | None] = mapped_column(Text)  # 终止原因
    description: Mapped[str] = mapped_column(Text, default="")
    # the first village named: where the audit events are filed (AuditEvent has one region)
    lead_village_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(lazy="joined")
    villages: Mapped[list[ProjectVillage]] = relationship(
        back_populates="project", order_by="ProjectVillage.id", lazy="selectin")
    progress: Mapped[list[ProjectProgress]] = relationship(
        back_populates="project", order_by="(ProjectProgress.entry_date, ProjectProgress.id)", lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_project_org_status", "organization_id", "status"),
        Index("ix_project_status_xiangshang", "status", "is_xiangshang"),
        Index("ix_project_signed_id", "signed_on", "id"),  # the list, latest signed first
    )

    @property
    def kind_label(self) -> str:
        return PROJECT_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return PROJECT_STATUSES.get(self.status, self.status)

    @property
    def village_codes(self) -> list[str]:
        return [v.village_code for v in self.villages]

    @property
    def is_open(self) -> bool:
        return self.status != "terminated"

    def __repr__(self) -> str:
        return f"<Project {self.id} {self.status}>"


class ProjectVillage(Audited, db.Model):
    """A village a project touches."""

    __tablename__ = "project_village"
    __audit_region__ = "village_code"
    __audit_organization__ = "project.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"))

    project: Mapped[Project] = relationship(back_populates="villages")
    village: Mapped[Region] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("project_id", "village_code", name="uq_project_village"),
        # scope and coverage: the projects touching a region are a range scan on the code
        Index("ix_project_village_code_project", "village_code", "project_id"),
    )


class ProjectProgress(Audited, db.Model):
    """A dated progress entry (进展). Append-only: nothing edits or deletes one."""

    __tablename__ = "project_progress"
    __audit_region__ = "project.lead_village_code"
    __audit_organization__ = "project.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    entry_date: Mapped[date] = mapped_column(Date)
    status_from: Mapped[str] = mapped_column(String(12))
    status_to: Mapped[str | None] = mapped_column(String(12))  # a milestone: the status it moved to
    actual_investment: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # to date, 元
    local_jobs: Mapped[int | None] = mapped_column(Integer)  # to date
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    project: Mapped[Project] = relationship(back_populates="progress")
    confirmations: Mapped[list[ProjectConfirmation]] = relationship(
        back_populates="progress", order_by="ProjectConfirmation.village_code", lazy="selectin")
    evidence: Mapped[list[ProjectEvidence]] = relationship(
        back_populates="progress", order_by="ProjectEvidence.id", lazy="selectin")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="select")

    @property
    def status_from_label(self) -> str:
        return PROJECT_STATUSES.get(self.status_from, self.status_from)

    @property
    def status_to_label(self) -> str:
        return PROJECT_STATUSES.get(self.status_to or "", "")

    @property
    def confirmation_state(self) -> str:
        """pending while any affected village has not decided; disputed if any disputes."""
        states = {c.state for c in self.confirmations}
        if "disputed" in states:
            return "disputed"
        if "pending" in states:
            return "pending"
        return "confirmed"

    @property
    def confirmation_label(self) -> str:
        return CONFIRMATION_STATES[self.confirmation_state]


class ProjectConfirmation(Audited, db.Model):
    """One affected village's decision on one progress entry."""

    __tablename__ = "project_confirmation"
    __audit_region__ = "village_code"
    __audit_organization__ = "progress.project.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    progress_id: Mapped[int] = mapped_column(ForeignKey("project_progress.id"))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)  # a dispute's reason
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    progress: Mapped[ProjectProgress] = relationship(back_populates="confirmations")
    village: Mapped[Region] = relationship(lazy="joined")
    decided_by = relationship("User", foreign_keys=[decided_by_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("progress_id", "village_code", name="uq_project_confirmation_progress_village"),
        Index("ix_project_confirmation_village_state", "village_code", "state"),
    )

    @property
    def state_label(self) -> str:
        return CONFIRMATION_STATES.get(self.state, self.state)


class ProjectEvidence(StoredFile, Audited, db.Model):
    """A photo or PDF of a progress entry, stored by ``records.evidence`` under a generated
    name outside the web root; ``original_name`` is only shown."""

    __tablename__ = "project_evidence"
    __audit_region__ = "progress.project.lead_village_code"
    __audit_organization__ = "progress.project.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    progress_id: Mapped[int] = mapped_column(ForeignKey("project_progress.id"), index=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)

    progress: Mapped[ProjectProgress] = relationship(back_populates="evidence")

