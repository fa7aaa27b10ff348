"""Writing many rows at once (a bulk import): one executemany, cheap on SQLite.

An import checks every row first and then writes them all in one transaction; these
helpers make that write cost what the database needs and little more.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

from sqlalchemy import insert

from ..core.bulk_load import staged_inserting
from ..extensions import db


def insert_many(table, keys: tuple[str, ...], rows: list[tuple], fixed: dict | None = None) -> None:
    """Insert ``rows`` (tuples of the values of ``keys``, each row also given the
    ``fixed`` values) into ``table``. On SQLite the rows go to the driver converted by
    the columns' own bind processors (those of the dialect's types, so a date or a
    timestamp is stored exactly as the ORM stores it) and are written by
    ``staged_insert``: Core's per-row parameter handling costs about three times the
    insert itself at 40,000 rows. Elsewhere Core batches them (insertmanyvalues).

    A fixed NULL is left out of the statement (the column's NULL, when it has no server
    default)."""
    with inserting_many(table, keys, rows, fixed, meanwhile=False):
        pass


@contextmanager
def inserting_many(table, keys: tuple[str, ...], rows: list[tuple], fixed: dict | None = None, *,
                   meanwhile: bool = True, then=None):
    """``insert_many``; on SQLite the rows are copied into ``table`` while the ``with``
    block runs (``core.bulk_load.staged_inserting``: the block may do Python work, not use
    the database). Elsewhere the rows are inserted before the block. ``then``: a function
    of the connection run after the rows are in (on SQLite on the same worker thread, while
    the block runs); the list the ``with`` yields holds its result when the block ends."""
    fixed = fixed or {}
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [{**fixed, **dict(zip(keys, row))} for row in rows])
        yield [then(conn)] if then is not None else []
        return
    dialect = conn.dialect
    convert = [(i, f) for i, name in enumerate(keys)
               if (f := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))]
    if convert and rows:
        # column by column: each converter mapped over its column; the dates of a ledger
        # recur (a few hundred days), each converted once
        columns = list(zip(*rows))
        for i, f in convert:
            values = columns[i]
            days = set(values) if values[0].__class__ is date else ()
            if days and len(days) * 2 < len(values) and all(day.__class__ is date for day in days):
                columns[i] = map({day: f(day) for day in days}.__getitem__, values)
            else:
                columns[i] = map(f, values)
        params = list(zip(*columns))
    else:
        params = rows
    with staged_inserting(conn, table, keys, params,
                          {name: value for name, value in fixed.items()
                           if value is not None or table.c[name].server_default is not None},
                          meanwhile=meanwhile, then=then) as done:
        yield done
