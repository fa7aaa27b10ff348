"""The summaries' additive rows and what the summary writers share.

The rollup's cells (``SupportRollup``), its totals (``SupportTotal``,
``SupportCutTotal``) and the rows by day above the areas (``DayCount``, ``GapDay``) are
added to, never recomputed: a transaction's additions are gathered (``Additions``) and
written once, just before it commits, after everything else (``_add_last``, a
``core.database.before_commit`` step), one upsert per table in key order. Here too are
the keys of those rows, the upsert of many rows (``upsert_rows``) and the support record
model as the writers reach it (``record_model``).
"""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import bindparam

from ..core.database import before_commit, pending
from ..core.queries import upsert
from ..extensions import db
from .models import YEAR_TOTAL, DayCount, SupportCutTotal, SupportRollup, SupportTotal


ZERO = Decimal("0")


def record_model():
    try:
        from ..records.models import SupportRecord
    except ImportError:  # the records feature is not installed
        return None
    return SupportRecord


ROLLUP_KEY = ("region_code", "level", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation",
               "status")


TOTAL_KEY = ("region_code", "level", "year", "month", "category", "status")


MEASURES = ("record_count", "amount", "amount_attracted", "amount_in_kind")


CUT_KEY = ("region_code", "level", "year", "cut", "value", "status")


CUT_FLAGS = ("key", "poor", "relocation")


def cut_totals(cells: dict[tuple, list]) -> dict[tuple, list]:
    """``SupportCutTotal``'s cells of rollup cells (``ROLLUP_KEY``: their year's, month 0):
    each counted under its category, its kind and each flag it has."""
    out: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    for (region_code, level, year, month, category, kind, *flags, status), values in cells.items():
        if month != YEAR_TOTAL:
            continue
        cuts = [("category", category), ("org_kind", kind)]
        cuts += [("flag", name) for name, flag in zip(CUT_FLAGS, flags) if flag]
        for cut, value in cuts:
            cell = out[(region_code, level, year, cut, value, status)]
            for i in range(4):
                cell[i] += values[i]
    return out


def add_to_cells(session, conn, model, key_columns, cells) -> None:
    """Add each cell's (count, amounts) to its summary row, creating it if needed, at the
    end of the transaction (``_add_last``): one upsert statement per table for all its
    cells, in the cells' order (on PostgreSQL each row stays locked to the end of the
    transaction: two transactions adding to the same cells take them in the same order,
    so neither waits on the other in a circle)."""
    later = _additions(session).cells.setdefault((model, key_columns), {})
    for key, measures in cells.items():
        cell = later.setdefault(key, [0, ZERO, ZERO, ZERO])
        for i in range(4):
            cell[i] += measures[i]


# The rows writers add to (the rollup's cells, the totals', the counts by day) include
# those above the areas: every writer of a province adds to the same province rows (and
# most to their city's), and on PostgreSQL a row an upsert has added to stays locked
# until the transaction ends, so a second writer waits there for the first to commit.
# Added at the start of a transaction's summaries, they were held through the
# recomputation of its areas and through its audit events: every write of the province
# ran one after the other (8 workers wrote no faster than 2, their database sessions
# waiting on one another's rows). Gathered instead and added after everything else (the
# audit step's order is 20), they are held for those upserts and the commit alone. Nothing
# a transaction recomputes reads them (its areas' own counts by day it recomputes are not
# among the additions), and the locks it takes still come in one order (its areas', its
# chains', these rows sorted), so no two transactions wait on each other in a circle.


@dataclass
class Additions:
    """The transaction's additions to the summaries' additive rows, for ``_add_last``."""

    cells: dict[tuple, dict[tuple, list]] = field(default_factory=dict)  # (model, key columns) -> cells
    days: dict[object, dict[tuple, int]] = field(default_factory=dict)  # table -> (kind, level, code, day) -> change


def _additions(session) -> Additions:
    return pending(session, "summary additions", Additions)


@before_commit(30, "summary additions")
def _add_last(session, parts: list[Additions]) -> None:
    """Add the transaction's changes (``add_to_cells``, ``add_days``) to the rollup, the
    totals, the cut totals, the counts by day and the gaps by day (the rows above the
    areas down to zero deleted): one upsert per table, each table's rows in key order."""
    conn = session.connection()
    cells: dict[tuple, dict[tuple, list]] = {}
    days: dict[object, dict[tuple, int]] = {}
    if len(parts) == 1:  # a transaction's one set of additions (a form's write): nothing to merge
        cells, days = parts[0].cells, parts[0].days
        parts = ()
    for part in parts:
        for target, found in part.cells.items():
            merged = cells.setdefault(target, {})
            for key, measures in found.items():
                cell = merged.setdefault(key, [0, ZERO, ZERO, ZERO])
                for i in range(4):
                    cell[i] += measures[i]
        for table, found in part.days.items():
            merged_days = days.setdefault(table, defaultdict(int))
            for key, delta in found.items():
                merged_days[key] += delta
    for model, key_columns in ((SupportRollup, ROLLUP_KEY), (SupportTotal, TOTAL_KEY),
                               (SupportCutTotal, CUT_KEY)):
        rows = [(*key, *measures)
                for key, measures in sorted(cells.get((model, key_columns), {}).items(),
                                            key=lambda item: tuple(map(str, item[0])))
                if measures[0] != 0 or any(m != ZERO for m in measures[1:])]
        if rows:
            upsert_rows(conn, _upsert(conn.dialect, model, key_columns), (*key_columns, *MEASURES), rows)
    for table in sorted(days, key=lambda table: table.name):
        rows = [(*key, delta) for key, delta in sorted(days[table].items()) if delta]
        if not rows:
            continue
        upsert_rows(conn, _day_upsert(conn.dialect, table), DAY_COLUMNS, rows)
        # a count by day is never below zero, so only a change taken from it can bring it
        # down to zero; a gap by day's rows above the areas sum changes of either sign
        taken = sorted({code for _, _, code, _, delta in rows if delta < 0 or table is not DayCount.__table__})
        if taken:
            conn.execute(_zero_rows_delete(table), {"codes": taken})


@functools.cache
def _zero_rows_delete(table):
    """Delete the rows of ``table`` (by day, above the areas) of some regions (``codes``)
    whose count is down to zero: built once (a confirmation takes a record out of the
    counts by day at every write)."""
    t = table.c
    return table.delete().where(t.count == 0, t.region_code.in_(bindparam("codes", expanding=True)))


def add_days(rows: dict[tuple, int], table=None) -> None:
    """Add changes to the rows by day above the areas ((kind, level, region code, day) ->
    change) of ``table`` (``DayCount``'s when None; ``GapDay``'s) at the end of the
    transaction (``_add_last``)."""
    later = _additions(db.session).days.setdefault(DayCount.__table__ if table is None else table, {})
    for key, delta in rows.items():
        if delta:
            later[key] = later.get(key, 0) + delta


def upsert_rows(conn, stmt, columns: tuple, rows: list[tuple]) -> None:
    """Run ``stmt`` (a ``core.queries.upsert`` of ``columns``) for each of ``rows`` (tuples of
    the columns' values, in order). On SQLite the rows go to the driver as they are, each
    value converted by its column type's own conversion: SQLAlchemy would build and
    convert a dict of parameters a row (about a third of a write's summary work, under
    the write lock). Elsewhere (PostgreSQL's driver names its parameters), or where the
    compiled statement does not take its parameters in that order, as dicts."""
    compiled = _positional(conn.dialect, stmt, columns)
    if compiled is None:
        conn.execute(stmt, [dict(zip(columns, row)) for row in rows])
        return
    sql, processors = compiled
    if processors:  # only the columns that have a conversion (the amounts), in place
        converted = []
        for row in rows:
            row = list(row)
            for i, process in processors:
                row[i] = process(row[i])
            converted.append(tuple(row))
        rows = converted
    conn.exec_driver_sql(sql, rows)


def _positional(dialect, stmt, columns: tuple) -> tuple[str, tuple] | None:
    """SQLite: ``stmt`` as the driver runs it, with one parameter a column of ``columns``
    in order, and (position, conversion) of the columns whose type converts a value; None elsewhere
    or in another order. Built once a statement."""
    if dialect.name != "sqlite":
        return None
    if stmt not in _POSITIONAL:
        compiled = stmt.compile(dialect=dialect)
        processors = getattr(compiled, "_bind_processors", None)
        _POSITIONAL[stmt] = (None if processors is None or tuple(compiled.positiontup or ()) != columns
                             else (compiled.string, tuple((i, processors[name]) for i, name in enumerate(columns)
                                                          if processors.get(name) is not None)))
    return _POSITIONAL[stmt]


_POSITIONAL: dict = {}


def _upsert(dialect, model, key_columns):
    """INSERT ... ON CONFLICT DO UPDATE adding the measures (``core.queries.upsert``)."""
    conflict = tuple(c for c in key_columns if c != "level")  # level follows from region_code
    return upsert(dialect, model.__table__, (*key_columns, *MEASURES), conflict, add=MEASURES)


_DAY_KEY = ("kind", "level", "region_code", "day")


DAY_COLUMNS = (*_DAY_KEY, "count")


def _day_upsert(dialect, table):
    return upsert(dialect, table, DAY_COLUMNS, _DAY_KEY, add=("count",))
