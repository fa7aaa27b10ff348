"""Support records (帮扶记录), their evidence files, and the money charitable funds receive.

A record's life is a small state machine kept in ``rules.py``; the model only holds it.
"""
from __future__ import annotations

import functools
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
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.stored import StoredFile
from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..regions.models import Region

ZERO = Decimal("0.00")
REFERENCE_LENGTH = 30


def reference_for(year: int, sequence: int) -> str:
    """A record's 编号 as the registry assigns it: the year it was filed and its place
    among the unit's records of that year, "2026-0001". A unit's ledger is kept by year
    and numbered in order, as paper 台账 are; the number tells a reader both at a glance,
    and it never changes when the record's own date is corrected."""
    return f"{year}-{sequence:04d}"


def highest_sequence(conn, organization_id: int, year: int) -> int:
    """The highest sequence among the unit's 编号 of ``year`` written as the registry
    writes them (a unit's own 编号 such as "甲-7" do not count).

    The candidates come in the order of their number (without leading zeros, a longer one
    is larger; of two as long, the later in order) along ``ix_support_record_sequence``,
    which holds the unit's 编号 of each year in that order: the first that is all digits is
    the highest, and the rows after it are never read. It runs while the filing holds the
    write lock, so it must not grow with the ledger: sorting the unit's 编号 for it took
    about 1 ms at 1,000 records a year and 5 ms at 5,000 (SQLite), now 0.01 ms at any size."""
    prefix = f"{year}-"
    if len(prefix) != _YEAR_PREFIX:
        return 0  # a year of another width: never one the registry numbers (dates are bounded)
    for ref in conn.execute(_highest_statement(), {"organization_id": organization_id, "prefix": prefix}).scalars():
        number = ref[len(prefix):]
        if number.isascii() and number.isdigit():
            return int(number)
    return 0


# "2026-": the 编号 the registry assigns begin with the year and a hyphen
_YEAR_PREFIX = 5
# the expressions of ix_support_record_sequence, written out (constants, not parameters:
# the database matches a query's expression to the index's as text)
_YEAR_OF = f"substr(reference, 1, {_YEAR_PREFIX})"
_NUMBER_OF = f"ltrim(substr(reference, {_YEAR_PREFIX + 1}), '0')"


@functools.cache
def _highest_statement():
    table = SupportRecord.__table__
    ref = table.c.reference
    year_of = func.substr(ref, literal_column("1"), literal_column(str(_YEAR_PREFIX)))
    number = func.ltrim(func.substr(ref, literal_column(str(_YEAR_PREFIX + 1))), literal_column("'0'"))
    return (select(ref)
            .where(table.c.organization_id == bindparam("organization_id"), year_of == bindparam("prefix"))
            .order_by(func.length(number).desc(), number.desc()))


def _assign_reference(context) -> str:
    """The column default of ``reference``: the next 编号 of the record's unit this year.
    Every insert without a 编号 gets one (a form save, a bulk load, a test's record); one
    statement inserting many rows reads each unit's highest number once."""
    params = context.get_current_parameters()
    year = local_today().year
    key = (params["organization_id"], year)
    counters = context.__dict__.setdefault("_record_references", {})
    if key not in counters:
        counters[key] = highest_sequence(context.connection, *key)
    counters[key] += 1
    return reference_for(year, counters[key])


def office_name(region: Region) -> str:
    """The rural-revitalisation office of a region as a page names it: 芙蓉区乡村振兴局,
    a township's 乡村振兴办."""
    return f"{region.name}{'乡村振兴办' if region.level in ('township', 'village') else '乡村振兴局'}"


class SupportRecord(Audited, db.Model):
    """帮扶记录: what an organization says it gave a village, and whether the village agrees."""

    __tablename__ = "support_record"
    __audit_region__ = "village_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))  # the filer
    # 编号: the record's own reference, unique within its unit (the natural key of imports)
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH), default=_assign_reference)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    pairing_id: Mapped[int | None] = mapped_column(ForeignKey("pairing.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)  # direct money, 元
    amount_attracted: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)  # 引进资金
    amount_in_kind: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=ZERO)  # 实物折价
    households: Mapped[int] = mapped_column(Integer, default=0)
    persons: Mapped[int] = mapped_column(Integer, default=0)
    jobs: Mapped[int] = mapped_column(Integer, default=0)
    record_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    dispute_reason: Mapped[str | None] = mapped_column(Text)
    # a correction points to the confirmed record it supersedes
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("support_record.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # 代为填报: the region whose staff filed the record on the unit's behalf (``created_by``
    # is the staff member); NULL when the unit filed it itself
    on_behalf_region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(lazy="joined")
    village: Mapped[Region] = relationship(foreign_keys=[village_code], lazy="joined")
    pairing: Mapped[Pairing | None] = relationship(lazy="select")
    supersedes: Mapped[SupportRecord | None] = relationship(remote_side=[id], lazy="select")
    on_behalf_region: Mapped[Region | None] = relationship(foreign_keys=[on_behalf_region_code], lazy="select")
    created_by = relationship("User", foreign_keys=[created_by_id], lazy="select")
    decided_by = relationship("User", foreign_keys=[decided_by_id], lazy="select")
    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="record", order_by="Evidence.id", lazy="select"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("organization_id", "reference", name="uq_support_record_organization_reference"),
        # villages and regions: the lists of a region count and sort within this index
        # (every column their scope and filters read, but the title search)
        Index("ix_support_record_village_list", "village_code", "status", "record_date", "category", "submitted_at"),
        # by status and submission time, with what the overdue counts of a cut-off's own day
        # read (category, village): counted from the index alone
        Index("ix_support_record_status_submitted", "status", "submitted_at", "category", "village_code"),
        Index("ix_support_record_org_status", "organization_id", "status", "record_date"),
        # the order of the records list: large lists are read along it, page by page
        Index("ix_support_record_date_id", "record_date", "id"),
        # pending records only: the overdue counts of the coverage page scan this, and the
        # overdue list counts its records per category within it (hence the category)
        Index("ix_support_record_pending", "village_code", "submitted_at", "category",
              sqlite_where=text("status = 'submitted'"), postgresql_where=text("status = 'submitted'")),
        # corrections only (almost every record has none): SQLite's statistics of an index
        # of all the NULLs say a look-up finds every row, and it scans by status instead
        Index("ix_support_record_supersedes_id", "supersedes_id", sqlite_where=text("supersedes_id IS NOT NULL"),
              postgresql_where=text("supersedes_id IS NOT NULL")),
        # a unit's 编号 of each year by number, highest first: the next one a filing takes
        # (``highest_sequence``) is read from its first rows, whatever the ledger's size
        Index("ix_support_record_sequence", "organization_id", text(_YEAR_OF), text(f"length({_NUMBER_OF}) DESC"),
              text(f"{_NUMBER_OF} DESC"), "reference"),
    )

    @property
    def status_label(self) -> str:
        return RECORD_STATUSES.get(self.status, self.status)

    @property
    def category_label(self) -> str:
        return RECORD_CATEGORIES.get(self.category, self.category)

    @property
    def filed_on_behalf(self) -> bool:
        return self.on_behalf_region_code is not None

    @property
    def on_behalf_label(self) -> str:
        """"由芙蓉区乡村振兴局代为填报" for a record region staff filed for the unit; "" otherwise."""
        if self.on_behalf_region_code is None:
            return ""
        region = self.on_behalf_region
        return f"由{office_name(region) if region is not None else self.on_behalf_region_code}代为填报"

    @property
    def total_value(self) -> Decimal:
        """Direct money plus in-kind value (what reached the village; attracted money is
        reported separately because it came from third parties)."""
        return (self.amount or ZERO) + (self.amount_in_kind or ZERO)

    def __repr__(self) -> str:
        return f"<SupportRecord {self.id} {self.status}>"


class Evidence(StoredFile, Audited, db.Model):
    """A photo or PDF attached to a record, stored under a generated name outside the web
    root (the file store: ``UPLOAD_FOLDER`` or an S3 bucket); ``original_name`` is only
    ever shown, never used as a path."""

    __tablename__ = "evidence"
    __audit_region__ = "record.village_code"
    __audit_organization__ = "record.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("support_record.id"), index=True)

    record: Mapped[SupportRecord] = relationship(back_populates="evidence")
    uploaded_by = relationship("User", foreign_keys="Evidence.uploaded_by_id", lazy="select")



class FundContribution(Audited, db.Model):
    """Money received by a charitable fund (公益慈善组织). What the fund paid out is its
    confirmed support records."""

    __tablename__ = "fund_contribution"
    __audit_region__ = "organization.region_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    donor: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    received_on: Mapped[date] = mapped_column(Date)
    receipt_no: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organization: Mapped[Organization] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("organization_id", "receipt_no", name="uq_fund_contribution_receipt"),
        Index("ix_fund_contribution_org_date", "organization_id", "received_on"),
    )
