"""Summary tables for support records, kept current in the same transaction as every
change to a record (see ``summary.py``), so coverage pages never scan the records.

``SupportRollup``: one row per region (township, county, city and province level), year,
month, category, filer's organization kind, village flags and record status, holding the
count and the amounts of the records in that cell. A province page reads only the
province's and its cities' rows.

``VillageSupportLast``: per village, the latest date of a confirmed record, overall
(category '*', kind '*') and per category and/or organization kind, so "villages with
confirmed support in the last 12 months" is a scan over one row per village.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, Date, Index, Integer, Numeric, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from ..core.scope import region_clause, scope_rule
from ..extensions import db

ANY = "*"


class SupportRollup(db.Model):
    __tablename__ = "support_rollup"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    org_kind: Mapped[str] = mapped_column(String(20))
    is_key: Mapped[bool] = mapped_column(Boolean)
    is_poor: Mapped[bool] = mapped_column(Boolean)
    is_relocation: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    record_count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    amount_attracted: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    amount_in_kind: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)

    __table_args__ = (
        UniqueConstraint(
            "region_code", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation", "status",
            name="uq_support_rollup_cell",
        ),
        Index("ix_support_rollup_level_year_region", "level", "year", "region_code"),
    )


class VillageSupportLast(db.Model):
    __tablename__ = "village_support_last"

    village_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    org_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_confirmed_on: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_village_support_last_filter", "category", "org_kind", "village_code"),)


@scope_rule(SupportRollup)
def _rollup_scope(user):
    if user.role in ("region", "viewer"):
        return region_clause(SupportRollup.region_code, user)
    return false()


@scope_rule(VillageSupportLast)
def _last_scope(user):
    if user.role in ("region", "viewer", "village"):
        return region_clause(VillageSupportLast.village_code, user)
    return false()


from . import summary  # noqa: E402,F401  (registers the after_flush listener)
