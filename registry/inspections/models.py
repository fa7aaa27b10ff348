"""The data of inspections (督查).

- ``InspectionPlan``: one inspecting jurisdiction's plan for a year (the province's, or a
  city's); one per jurisdiction and year.
- ``Inspection``: one line of the plan, one inspected party: a region (the province
  inspects cities and counties, a city its counties) or a provincial department (an
  ``Organization`` of level 省直, inspected by the province).
- ``InspectionVisit``: a visit to the inspected party: the date, the team (names as written)
  and what was seen.
- ``Finding``: a problem found, by item (督查事项), each a rectification task with a
  deadline; its owner is the inspected party (the region's staff, or the department's unit
  accounts). The inspected party registers the rectification (整改情况); only the inspecting
  jurisdiction (or one above it) closes it (销号).
- ``FindingEvidence``: photos and PDFs of a finding (by the inspectors) or of its
  rectification (by the inspected party), stored like a support record's evidence
  (``records/evidence.py``: checked by content, generated names outside the web root).

A finding repeats its inspection's year, inspecting region and inspected party, so that the
scope rule, the worklists and the yearly figure (``figures.findings_rectified``) are one
indexed query on one table.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.stored import StoredFile
from ..core.enums import FOLLOW_UP_STATUSES
from ..core.rectification import PENDING
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region

TARGET_KINDS = {"region": "地区", "organization": "省直部门"}
# the items (督查事项) a finding is recorded under
FINDING_ITEMS = {
    "responsibility": "责任落实",
    "resident_support": "驻村帮扶",
    "paired_support": "结对帮扶",
    "funds": "资金使用",
    "projects": "项目实施",
    "monitoring": "防返贫监测",
    "training": "教育培训",
    "other": "其他",
}
EVIDENCE_STAGES = {"finding": "问题佐证", "rectification": "整改佐证"}


def target_key(kind: str, ident) -> str:
    return f"{kind}:{ident}"


class _Target:
    """What an inspection and its findings share: who inspects (``inspector_region_code``),
    whom (``target_kind`` and ``target_region_code`` or ``target_organization_id``)."""

    @property
    def place_code(self) -> str:
        """Where the audit trail files the object: the inspected region, else (a provincial
        department) the inspecting one."""
        return self.target_region_code or self.inspector_region_code

    @property
    def target_name(self) -> str:
        if self.target_kind == "organization":
            return self.target_organization.name if self.target_organization is not None else ""
        return self.target_region.name if self.target_region is not None else (self.target_region_code or "")

    @property
    def target_kind_label(self) -> str:
        return TARGET_KINDS.get(self.target_kind, self.target_kind)


class InspectionPlan(Audited, db.Model):
    __tablename__ = "inspection_plan"
    __audit_region__ = "region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)  # the inspecting jurisdiction
    title: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    region: Mapped[Region] = relationship(lazy="joined")
    inspections: Mapped[list[Inspection]] = relationship(back_populates="plan", order_by="Inspection.id", lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("region_code", "year", name="uq_inspection_plan_region_year"),)


class Inspection(_Target, Audited, db.Model):
    __tablename__ = "inspection"
    __audit_region__ = "place_code"
    __audit_organization__ = "target_organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("inspection_plan.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    inspector_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    target_kind: Mapped[str] = mapped_column(String(12))  # region / organization
    target_key: Mapped[str] = mapped_column(String(40))  # "region:<code>" / "organization:<id>"
    target_region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    target_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    focus: Mapped[str | None] = mapped_column(Text)  # 督查重点
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    plan: Mapped[InspectionPlan] = relationship(back_populates="inspections", lazy="joined")
    inspector_region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[inspector_region_code])
    target_region: Mapped[Region | None] = relationship(lazy="joined", foreign_keys=[target_region_code])
    target_organization: Mapped[Organization | None] = relationship(lazy="joined")
    visits: Mapped[list[InspectionVisit]] = relationship(back_populates="inspection", lazy="select",
                                                         order_by="InspectionVisit.visited_on")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("plan_id", "target_key", name="uq_inspection_plan_target"),
        Index("ix_inspection_year_target", "year", "target_region_code"),
    )


# the list's order (latest year first, then by inspecting region), for keyset paging
Index("ix_inspection_list", Inspection.year.desc(), Inspection.inspector_region_code, Inspection.id)


class InspectionVisit(Audited, db.Model):
    __tablename__ = "inspection_visit"
    __audit_region__ = "inspection.place_code"
    __audit_organization__ = "inspection.target_organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    visited_on: Mapped[date] = mapped_column(Date)
    team: Mapped[str] = mapped_column(Text)  # 督查组成员, as written
    summary: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    inspection: Mapped[Inspection] = relationship(back_populates="visits", lazy="joined")


class Finding(_Target, Audited, db.Model):
    """督查问题: a rectification task (``services.FINDING_CYCLE``)."""

    __tablename__ = "inspection_finding"
    __audit_region__ = "place_code"
    __audit_organization__ = "target_organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("inspection_visit.id"), index=True)
    # copied from the inspection: the scope rule, the worklists and the figures read this table alone
    year: Mapped[int] = mapped_column(Integer)
    inspector_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    target_kind: Mapped[str] = mapped_column(String(12))
    target_region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    target_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    item: Mapped[str] = mapped_column(String(20))  # FINDING_ITEMS
    description: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)  # 整改期限
    status: Mapped[str] = mapped_column(String(12), default="open")  # FOLLOW_UP_STATUSES
    rectify_note: Mapped[str | None] = mapped_column(Text)
    rectify_at: Mapped[datetime | None] = mapped_column(DateTime)
    rectified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    close_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    inspection: Mapped[Inspection] = relationship(lazy="joined")
    visit: Mapped[InspectionVisit | None] = relationship(lazy="select")
    inspector_region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[inspector_region_code])
    target_region: Mapped[Region | None] = relationship(lazy="joined", foreign_keys=[target_region_code])
    target_organization: Mapped[Organization | None] = relationship(lazy="joined")
    evidence: Mapped[list[FindingEvidence]] = relationship(back_populates="finding", order_by="FindingEvidence.id",
                                                           lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_inspection_finding_target_year", "target_region_code", "year", "status"),
        Index("ix_inspection_finding_status_deadline", "status", "deadline"),
    )

    @property
    def item_label(self) -> str:
        return FINDING_ITEMS.get(self.item, self.item)

    @property
    def status_label(self) -> str:
        return FOLLOW_UP_STATUSES.get(self.status, self.status)

    @property
    def title(self) -> str:
        """How messages and audit summaries name it: 吉首市·资金使用：<the start of the description>."""
        return f"{self.target_name}·{self.item_label}：{self.description[:30]}"

    @property
    def is_overdue(self) -> bool:
        return self.status in PENDING and self.deadline < local_today()

    @property
    def days_overdue(self) -> int:
        return max(0, (local_today() - self.deadline).days)


# the findings list's order (latest year first, then by deadline), for keyset paging
Index("ix_inspection_finding_list", Finding.year.desc(), Finding.deadline, Finding.id)


class FindingEvidence(StoredFile, Audited, db.Model):
    """A photo or PDF of a finding; the file is kept by ``records/evidence.py``."""

    __tablename__ = "finding_evidence"
    __audit_region__ = "finding.place_code"
    __audit_organization__ = "finding.target_organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("inspection_finding.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # EVIDENCE_STAGES

    finding: Mapped[Finding] = relationship(back_populates="evidence")


    @property
    def stage_label(self) -> str:
        return EVIDENCE_STAGES.get(self.stage, self.stage)
