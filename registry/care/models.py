"""Care and support for frontline cadres (激励、待遇保障、人文关怀, 湘办〔2023〕17号 §八).

One table, ``care_record``: one row per thing the dispatching level provides a cadre
under one posting — an allowance for a period, an insurance policy covering a period, a
health check on a day, leave for a period. The four kinds share one shape (an item, a
period, an amount, who provided it), so one table, one form and one list hold them; the
kind says how the period and the amount are read (``care.services``).

A record belongs to a posting, not only to the person: the posting's dispatch level says
which office provides and records it (县派 the county, 市派 the city, 省派 and 中央 the
province: ``notifications.recipients.dispatching_region``), and that office's code is
stored (``provider_region_code``) so that the rule and the lists need no recomputation.
Nothing is deleted: a wrong record is cancelled (作废) with a reason and stays.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import ACCIDENT_INSURANCE, CARE_KINDS, CARE_STATUSES
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Person, Posting
from ..regions.models import Region

ZERO = Decimal("0.00")


class CareRecord(Audited, db.Model):
    __tablename__ = "care_record"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("posting.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)  # the sending unit
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))  # where the posting is
    provider_region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))  # the dispatching office
    kind: Mapped[str] = mapped_column(String(16))  # allowance / insurance / health_check / leave
    item: Mapped[str] = mapped_column(String(30))  # e.g. 人身意外伤害保险 (core.enums.CARE_ITEMS)
    start_date: Mapped[date] = mapped_column(Date)  # the period's first day; a health check's day
    end_date: Mapped[date | None] = mapped_column(Date)  # the period's last day; none for a health check
    # allowance: the amount paid for the period; insurance: the sum insured (保额); health
    # check: its cost; leave: none
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)
    provider_name: Mapped[str | None] = mapped_column(String(100))  # insurer, hospital, paying office
    reference: Mapped[str | None] = mapped_column(String(100))  # policy number, 文号
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="active")
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship(lazy="joined")
    # by a second statement by id, not joined, as a grade's (assessment.models.Assessment)
    posting: Mapped[Posting] = relationship(lazy="selectin")
    organization: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[region_code])
    provider_region: Mapped[Region] = relationship(lazy="joined", foreign_keys=[provider_region_code])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # the gaps: a person's insurance covering a day, their health check of a year
        Index("ix_care_record_person_kind", "person_id", "kind", "status", "start_date"),
        Index("ix_care_record_region", "region_code", "kind", "start_date"),
        Index("ix_care_record_start_id", "start_date", "id"),  # the list, newest first
    )

    @property
    def kind_label(self) -> str:
        return CARE_KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        return CARE_STATUSES.get(self.status, self.status)

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def days(self) -> int | None:
        """The period's length in days (both ends counted); None for a single day."""
        if self.end_date is None:
            return None
        return (self.end_date - self.start_date).days + 1

    def covers(self, day: date) -> bool:
        return self.is_active and self.start_date <= day and (self.end_date is None or day <= self.end_date)


def accident_insurance():
    """Conditions on ``CareRecord``: an accident insurance policy (人身意外伤害保险) in
    force; it covers the days from its start to its end (none: open-ended). The gaps
    worklist's one definition (``services.uninsured``, ``dashboard.gap_days``)."""
    return (CareRecord.kind == "insurance", CareRecord.item == ACCIDENT_INSURANCE, CareRecord.status == "active")


def health_check():
    """Conditions on ``CareRecord``: a health check not cancelled, on its start day."""
    return (CareRecord.kind == "health_check", CareRecord.status == "active")
