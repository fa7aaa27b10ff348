"""帮扶台账: the support records as a ledger to download, with the list's filters.

Rows are read as plain column tuples (no ORM objects) in batches, joined with the
filer's and the village's names, so a million rows stream at a steady memory.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select
from sqlalchemy.orm import aliased

from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES
from ..core.timeutil import to_local
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from ..transfer.references import labelled
from ..transfer.writing import Column
from .models import SupportRecord

COLUMNS = (
    Column("编号", "id", "int", 8),
    Column("村", "village", width=28),
    Column("填报单位", "organization", width=28),
    Column("帮扶类别", "category", width=10),
    Column("标题", "title", width=30),
    Column("内容说明", "description", width=40),
    Column("直接投入资金（元）", "amount", "amount", 16),
    Column("引进资金（元）", "amount_attracted", "amount", 16),
    Column("实物折价（元）", "amount_in_kind", "amount", 16),
    Column("受益户数", "households", "int", 10),
    Column("受益人数", "persons", "int", 10),
    Column("带动就业人数", "jobs", "int", 12),
    Column("帮扶日期", "record_date", "date", 12),
    Column("状态", "status", width=8),
    Column("提交时间", "submitted_at", "datetime", 17),
    Column("确认或异议时间", "decided_at", "datetime", 17),
    Column("异议理由", "dispute_reason", width=30),
    Column("更正的记录编号", "supersedes_id", "int", 12),
)

_village = aliased(Region)


def ledger_select(records: Select) -> Select:
    """The ledger's columns for the records ``records`` selects (already scoped and
    filtered), in its order."""
    r = SupportRecord
    return (
        records.with_only_columns(
            r.id, _village.name, r.village_code, Organization.name, Organization.credit_code, r.category, r.title,
            r.description, r.amount, r.amount_attracted, r.amount_in_kind, r.households, r.persons, r.jobs,
            r.record_date, r.status, r.submitted_at, r.decided_at, r.dispute_reason, r.supersedes_id,
            maintain_column_froms=True)
        .join_from(r, _village, _village.code == r.village_code)
        .join_from(r, Organization, Organization.id == r.organization_id)
    )


def ledger_rows(records: Select) -> Iterator[list]:
    result = db.session.execute(ledger_select(records).execution_options(yield_per=5000))
    for (rid, village, village_code, org, credit, category, title, description, amount, attracted, in_kind,
         households, persons, jobs, day, status, submitted, decided, reason, supersedes) in result:
        yield [rid, labelled(village, village_code), labelled(org, credit) if credit else org,
               RECORD_CATEGORIES.get(category, category), title, description or None, amount, attracted, in_kind,
               households, persons, jobs, day, RECORD_STATUSES.get(status, status),
               to_local(submitted).replace(tzinfo=None) if submitted else None,
               to_local(decided).replace(tzinfo=None) if decided else None, reason, supersedes]
