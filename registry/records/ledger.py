"""帮扶台账: the support records as a ledger to download, with the list's filters.

Rows are read as plain column tuples (no ORM objects) in batches, joined with the
filer's and the village's names, so a million rows stream at a steady memory.

A million-row ledger passes twenty million values through here, so the dates, times
and amounts are selected without SQLAlchemy's result conversions (``type_coerce`` to
``NullType``) and converted once per distinct value instead: they come as the driver
gives them, ISO text and floats from SQLite, ``date``/``datetime``/``Decimal`` from
PostgreSQL. Amounts are left as the driver's numbers (the writers format an amount column
with two decimals either way); dates become ``date`` objects, the times their local date.
The statement's filters and scope (its WHERE clause) are not touched.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

from sqlalchemy import Select, type_coerce
from sqlalchemy.orm import aliased
from sqlalchemy.types import NullType

from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES
from ..core.bulk_load import large_page_cache
from ..core.timeutil import to_local
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .imports import RecordImport
from .models import SupportRecord

# the import's columns, then the derived ones: a unit's ledger imports back unchanged
COLUMNS = tuple(RecordImport.export_columns())

BATCH = 5000
_village = aliased(Region)
_corrected = aliased(SupportRecord)


def _raw(column):
    """The column as the driver returns it (no Decimal/date conversion by SQLAlchemy)."""
    return type_coerce(column, NullType())


def ledger_select(records: Select) -> Select:
    """The ledger's columns for the records ``records`` selects (already scoped and
    filtered), in its order."""
    r = SupportRecord
    return (
        records.with_only_columns(
            r.reference, _village.name, r.village_code, Organization.name, Organization.credit_code, r.category,
            r.title, r.description, _raw(r.amount), _raw(r.amount_attracted), _raw(r.amount_in_kind), r.households,
            r.persons, r.jobs, _raw(r.record_date), r.status, _raw(r.submitted_at), _raw(r.decided_at),
            r.dispute_reason, _corrected.reference,
            maintain_column_froms=True)
        .join_from(r, _village, _village.code == r.village_code)
        .join_from(r, Organization, Organization.id == r.organization_id)
        .outerjoin_from(r, _corrected, _corrected.id == r.supersedes_id)
    )


class _Days(dict):
    """A date column's driver values (ISO text, or ``date``) -> ``date``, each parsed once."""

    def __missing__(self, raw):
        value = self[raw] = raw if isinstance(raw, date) else date.fromisoformat(raw[:10])
        return value


class _LocalDays(dict):
    """A UTC timestamp's driver value -> its local date (Asia/Shanghai), computed once per
    UTC hour: the local date depends only on the hour where the zone's offsets are whole
    hours, as China's are."""

    def __missing__(self, hour):
        value = self[hour] = to_local(datetime.fromisoformat(f"{hour}:00")).date()
        return value

    def of(self, raw) -> date:
        if isinstance(raw, datetime):
            return to_local(raw).date()
        return self[raw[:13]]


def ledger_rows(records: Select) -> Iterator[list]:
    """The ledger's rows for the records ``records`` selects: the import's columns, then
    the derived ones."""
    # executed by the session's connection, not the ORM: the rows are plain tuples either way
    with large_page_cache():
        conn = db.session.connection()
        yield from _rows(conn.execute(ledger_select(records).execution_options(yield_per=BATCH)))


def _rows(result) -> Iterator[list]:
    days, local = _Days(), _LocalDays()
    local_day = local.of
    categories, statuses = RECORD_CATEGORIES, RECORD_STATUSES
    for batch in result.partitions():
        for (reference, village, village_code, org, credit, category, title, description, amount, attracted,
             in_kind, households, persons, jobs, day, status, submitted, decided, reason, supersedes) in batch:
            yield [reference, f"{village}（{village_code}）", f"{org}（{credit}）" if credit else org,
                   categories.get(category, category), title, description or None, amount, attracted, in_kind,
                   households, persons, jobs, days[day] if day is not None else None, statuses.get(status, status),
                   local_day(submitted) if submitted else None, local_day(decided) if decided else None,
                   reason, supersedes]
