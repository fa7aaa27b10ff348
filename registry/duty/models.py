from __future__ import annotations

from datetime import date, datetime

from flask import current_app
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
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import DUTY_STATUSES
from ..core.timeutil import utcnow
from ..extensions import db
from ..people.models import Posting


class DutyMonth(Audited, db.Model):
    """驻村纪实: one village posting's month — days in the village, leave, unexcused
    absences and a short work summary. Filed by the sending unit or the village, checked
    (核实) by the staff of a jurisdiction that holds the village."""

    __tablename__ = "duty_month"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("posting.id"))
    # copies of the posting's village and sending unit, so scope is an indexed condition
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    month: Mapped[date] = mapped_column(Date)  # the first day of the month
    # days of the calendar month, and of them the days inside the posting's term (all of
    # them but in the posting's first and last month)
    month_days: Mapped[int] = mapped_column(Integer)
    available_days: Mapped[int] = mapped_column(Integer)
    days_in_village: Mapped[int] = mapped_column(Integer)
    leave_days: Mapped[int] = mapped_column(Integer, default=0)
    leave_approved_by: Mapped[str | None] = mapped_column(String(100))
    absences: Mapped[int] = mapped_column(Integer, default=0)  # unexcused, in days
    summary: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="filed")
    return_reason: Mapped[str | None] = mapped_column(Text)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    filed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    posting: Mapped[Posting] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("posting_id", "month", name="uq_duty_month_posting_month"),
        Index("ix_duty_month_region_month", "region_code", "month"),
        # covers the "months under the minimum" counts of a period (coverage, gaps): the
        # period's rows are read from the index alone, whatever the region or unit filter
        Index("ix_duty_month_period_days", "month", "region_code", "days_in_village", "month_days", "available_days",
              "organization_id"),
        # a status within a region, and (with the month) the oldest months awaiting a check
        # ordered from the index alone
        Index("ix_duty_month_status_region", "status", "region_code", "month"),
    )

    @property
    def status_label(self) -> str:
        return DUTY_STATUSES.get(self.status, self.status)

    @property
    def required_days(self) -> int:
        """The minimum for this month: the setting (20), pro rata in a month the posting
        only partly covers (its first or last month), rounded up."""
        minimum = int(current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"])
        return -(-minimum * self.available_days // self.month_days)

    @property
    def is_short(self) -> bool:
        return self.days_in_village < self.required_days

    @classmethod
    def short_clause(cls, minimum: int | None = None):
        """SQL condition: the month is under the minimum — the same rule as ``is_short``
        (days < ceil(min × available / month) is days × month < min × available)."""
        minimum = int(current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"]) if minimum is None else minimum
        return cls.days_in_village * cls.month_days < minimum * cls.available_days


# the list of a status in its order (the latest month first, then place and id): a page is
# read from the index and stops at its last row instead of sorting a province's months
Index("ix_duty_month_status_list", DutyMonth.status, DutyMonth.month.desc(), DutyMonth.region_code, DutyMonth.id)
# the months of a status oldest first, by id within a month (the home page's months awaiting
# a check), with their place: read along it, stopping at the panel's last row, instead of
# sorting the ids of a province's whole oldest month
Index("ix_duty_month_status_oldest", DutyMonth.status, DutyMonth.month, DutyMonth.id, DutyMonth.region_code)
