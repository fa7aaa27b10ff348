"""容错纠错 (fault tolerance and correction, 湘办〔2023〕17号 §八).

A case (``fault_tolerance_case``) is an application about one earlier decision — a
summons (约谈, ``Incentive``), a yearly grade (``Assessment``) or an inspection finding
(督查问题, registered by ``inspections.tolerance``) — and the decision on it: 予以容错 or 不予容错, with its
reason, the document, the correction asked for (纠错) and the effect it has, frozen as
text when decided. What it is about is ``subject_kind`` + ``subject_id`` (no foreign key),
so a new kind of subject registers itself (``tolerance.subjects``) without a change here.

The case copies where its subject belongs (the person and organization it is about — a
finding against a region has neither — the
region where the subject works, the jurisdiction that made the original decision): the
scope rule and the deciding rule read these columns, not the subject's table.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import TOLERANCE_GROUNDS, TOLERANCE_STATUSES, TOLERANCE_SUBJECTS
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Person
from ..regions.models import Region


def case_key(kind: str, ident: int) -> str:
    return f"{kind}:{ident}"


class FaultToleranceCase(Audited, db.Model):
    __tablename__ = "fault_tolerance_case"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))  # summons / assessment / finding
    subject_id: Mapped[int] = mapped_column(Integer)
    subject_key: Mapped[str] = mapped_column(String(40), index=True)  # "summons:12"
    subject_title: Mapped[str] = mapped_column(String(200))  # as the subject read when applied for
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # None for a subject that belongs to no organization (a finding against a region)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)  # where the subject works
    # the jurisdiction that made the original decision: it, or one above it, decides
    decider_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the assessment year the effect concerns
    grounds: Mapped[str] = mapped_column(String(20))  # core.enums.TOLERANCE_GROUNDS
    facts: Mapped[str] = mapped_column(Text)  # the applicant's account of what happened and why
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decision_reason: Mapped[str | None] = mapped_column(Text)
    document_number: Mapped[str | None] = mapped_column(String(100))  # 文号 of the decision
    correction: Mapped[str | None] = mapped_column(Text)  # 纠错: what must be put right
    effect: Mapped[str | None] = mapped_column(String(300))  # what the decision changes, as decided
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person | None] = relationship(lazy="joined")
    organization: Mapped[Organization | None] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[region_code])
    decider_region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[decider_region_code])
    applicant = relationship("User", foreign_keys=[applicant_id], lazy="select")
    decided_by = relationship("User", foreign_keys=[decided_by_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_fault_tolerance_case_status", "status", "subject_kind"),
                      Index("ix_fault_tolerance_case_applied_id", "applied_at", "id"))  # the list, newest first

    @property
    def subject_label(self) -> str:
        from .subjects import SUBJECTS

        kind = SUBJECTS.get(self.subject_kind)
        return kind.label if kind else TOLERANCE_SUBJECTS.get(self.subject_kind, self.subject_kind)

    @property
    def status_label(self) -> str:
        return TOLERANCE_STATUSES.get(self.status, self.status)

    @property
    def grounds_label(self) -> str:
        return TOLERANCE_GROUNDS.get(self.grounds, self.grounds)

    @property
    def subject_name(self) -> str:
        """Whom the case is about: the person, else the organization, else (a finding
        against a region) the region."""
        if self.person is not None:
            return self.person.name
        if self.organization is not None:
            return self.organization.name
        return self.region.name if self.region is not None else ""
