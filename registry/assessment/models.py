from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.rectification import PENDING
from ..core.enums import FOLLOW_UP_STATUSES, INCENTIVE_KINDS, INCENTIVE_LEVELS, SUBJECT_KINDS
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Person, Posting
from ..regions.models import Region


def subject_key(kind: str, ident: int) -> str:
    return f"{kind}:{ident}"


class Assessment(Audited, db.Model):
    """考核: one grade per subject (a posting's person, or an organization) and year.

    A re-grade changes the row and is recorded in the audit trail with its reason; it is
    never a silent overwrite.
    """

    __tablename__ = "assessment"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[str] = mapped_column(String(12))  # person / organization
    subject_key: Mapped[str] = mapped_column(String(40))  # "person:<posting id>" or "organization:<id>"
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("posting.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # a person: the sending unit of the posting; an organization: itself
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    # a person: the posting's village/county/township; an organization: the assessing jurisdiction
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    # the jurisdiction that graded: it (or one above it) may re-grade
    assessor_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    grade: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text)
    document_number: Mapped[str | None] = mapped_column(String(100))  # 文号
    absences: Mapped[int] = mapped_column(Integer, default=0)  # unexcused absences when graded
    change_reason: Mapped[str | None] = mapped_column(Text)  # the reason of the last re-grade
    assessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    assessed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    # by a second statement by id, not joined: the posting's own joins (person, unit,
    # region) made the list's statement 14 tables, which PostgreSQL plans in 3-7 ms
    # each time it runs it unprepared (tests/test_eager_loads.py)
    posting: Mapped[Posting | None] = relationship(lazy="selectin")
    person: Mapped[Person | None] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[region_code])
    assessor_region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[assessor_region_code])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("subject_key", "year", name="uq_assessment_subject_year"),
        Index("ix_assessment_year_kind", "year", "subject_kind"),
    )

    @property
    def subject_label(self) -> str:
        return SUBJECT_KINDS.get(self.subject_kind, self.subject_kind)

    @property
    def subject_name(self) -> str:
        if self.subject_kind == "person" and self.person is not None:
            return self.person.name
        return self.organization.name if self.organization else ""


def graded_posting(year):
    """Condition on ``Posting``: it has a grade for ``year`` (a year, or a SQL expression of
    years: the summaries count every year at once, ``dashboard.cuts.year_figures``). A
    year is written into the statement: planned for any year, PostgreSQL expects an
    average year's grades (21,000) and reads them all into a hash, where the current year
    has none yet (a province's ungraded count: 20.7 ms against 11.8 ms)."""
    if isinstance(year, int):
        year = literal(int(year), Integer, literal_execute=True)
    return select(Assessment.id).where(Assessment.posting_id == Posting.id, Assessment.year == year).exists()


class Incentive(Audited, db.Model):
    """表扬激励 or 约谈 of a person or an organization. A summons has a follow-up (整改)
    state: open (待整改) → rectifying (整改中) → closed (已销号), the rectification cycle of
    ``core/rectification.py`` (``services.SUMMONS_FOLLOW_UP``)."""

    __tablename__ = "incentive"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(14))  # commendation / summons
    subject_kind: Mapped[str] = mapped_column(String(12))  # person / organization
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # a person: their employer; an organization: itself
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)  # the issuing jurisdiction
    # where the subject works: the person's active posting (else employer), the org's home
    subject_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    issued_on: Mapped[date] = mapped_column(Date)
    level: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    document_number: Mapped[str | None] = mapped_column(String(100))
    follow_up: Mapped[str | None] = mapped_column(String(12))  # summons only
    rectify_note: Mapped[str | None] = mapped_column(Text)
    rectify_at: Mapped[datetime | None] = mapped_column(DateTime)
    close_note: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person | None] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[region_code])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_incentive_kind_follow_up", "kind", "follow_up"),)

    @property
    def kind_label(self) -> str:
        return INCENTIVE_KINDS.get(self.kind, self.kind)

    @property
    def level_label(self) -> str:
        return INCENTIVE_LEVELS.get(self.level, self.level)

    @property
    def follow_up_label(self) -> str:
        return FOLLOW_UP_STATUSES.get(self.follow_up or "", "")

    @property
    def subject_name(self) -> str:
        if self.subject_kind == "person" and self.person is not None:
            return self.person.name
        return self.organization.name if self.organization else ""

    @property
    def is_open(self) -> bool:
        return self.kind == "summons" and self.follow_up in PENDING
