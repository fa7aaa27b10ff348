"""帮扶台账: the support records as a ledger to download, with the list's filters.

Rows are read as plain column tuples (no ORM objects) in batches, joined with the
filer's and the village's names, so a million rows stream at a steady memory.
"""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .imports import RecordImport, export_row
from .models import SupportRecord

# the import's columns, then the derived ones: a unit's ledger imports back unchanged
COLUMNS = tuple(RecordImport.export_columns())

_village = aliased(Region)
_corrected = aliased(SupportRecord)


def ledger_select(records: Select) -> Select:
    """The ledger's columns for the records ``records`` selects (already scoped and
    filtered), in its order."""
    r = SupportRecord
    return (
        records.with_only_columns(
            r.reference, _village.name, r.village_code, Organization.name, Organization.credit_code, r.category,
            r.title, r.description, r.amount, r.amount_attracted, r.amount_in_kind, r.households, r.persons, r.jobs,
            r.record_date, r.status, r.submitted_at, r.decided_at, r.dispute_reason, _corrected.reference,
            maintain_column_froms=True)
        .join_from(r, _village, _village.code == r.village_code)
        .join_from(r, Organization, Organization.id == r.organization_id)
        .outerjoin_from(r, _corrected, _corrected.id == r.supersedes_id)
    )


def ledger_rows(records: Select) -> Iterator[list]:
    # executed by the session's connection, not the ORM: the rows are plain tuples either
    # way, and skipping the ORM's row loading saves about a third of the reading time
    result = db.session.connection().execute(ledger_select(records).execution_options(yield_per=5000))
    for row in result:
        yield export_row(*row)
