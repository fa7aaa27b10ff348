from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, and_, or_, text
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import PAIRED_SECTORS, PAIRING_KINDS
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region


def in_period(start: date, end: date | None, day: date) -> bool:
    """``day`` lies in the period from ``start`` to ``end`` (included; None: open): a
    pairing's, for ``Pairing.active_on`` and for what a form knows of a pairing."""
    return start <= day and (end is None or end >= day)


class Pairing(Audited, db.Model):
    __tablename__ = "pairing"
    __audit_region__ = "region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))  # village or county
    kind: Mapped[str] = mapped_column(String(20))
    sector: Mapped[str | None] = mapped_column(String(20))  # for paired assistance
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_pairing_region_kind", "region_code", "kind"),)

    @hybrid_method
    def active_on(self, day: date) -> bool:
        """In force on ``day``: started, and not ended before it. The one definition of an
        active pairing, in Python and (as ``Pairing.active_on(day)``) in SQL."""
        return in_period(self.start_date, self.end_date, day)

    @active_on.inplace.expression
    @classmethod
    def _active_on_expression(cls, day: date):
        return and_(cls.start_date <= day, or_(cls.end_date.is_(None), cls.end_date >= day))

    def overlaps(self, start: date, end: date | None) -> bool:
        """Shares a day with the period [start, end] (end included; None: open): the one
        definition of two pairings in force at once (``services.check_pairing``)."""
        return (self.end_date is None or self.end_date >= start) and (end is None or self.start_date <= end)

    def is_active_on(self, day: date | None = None) -> bool:
        return self.active_on(day or local_today())

    @property
    def is_active(self) -> bool:
        return self.is_active_on()

    @property
    def kind_label(self) -> str:
        return PAIRING_KINDS.get(self.kind, self.kind)

    @property
    def sector_label(self) -> str:
        return PAIRED_SECTORS.get(self.sector or "", "")


# the pairings list's order after its first key (open-ended before ended: each page is
# read from one of these two, see core.paging._fetch), with the place its scope filters
# by: a page is read along it and stops at its last row instead of sorting all in scope
for _name, _where in (("ix_pairing_list_open", "end_date IS NULL"), ("ix_pairing_list_ended", "end_date IS NOT NULL")):
    Index(_name, Pairing.start_date.desc(), Pairing.id.desc(), Pairing.region_code,
          sqlite_where=text(_where), postgresql_where=text(_where))
