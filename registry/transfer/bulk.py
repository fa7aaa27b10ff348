"""Writing many rows at once (a bulk import): one executemany, cheap on SQLite.

An import checks every row first and then writes them all in one transaction; these
helpers make that write cost what the database needs and little more.
"""
from __future__ import annotations

from sqlalchemy import insert

from ..extensions import db


def insert_many(table, keys: tuple[str, ...], rows: list[tuple], fixed: dict | None = None) -> None:
    """Insert ``rows`` (tuples of the values of ``keys``, each row also given the
    ``fixed`` values) into ``table`` in one executemany. On SQLite the rows go to the
    driver converted by the columns' own bind processors (those of the dialect's types,
    so a date or a timestamp is stored exactly as the ORM stores it), the fixed values
    converted once: Core's per-row parameter handling costs about three times the insert
    itself at 40,000 rows. Elsewhere Core batches them (insertmanyvalues).

    Values the driver would have to adapt for every row cost most of the binding: a fixed
    NULL is left out of the statement (the column's NULL, when it has no server default)
    and a fixed boolean goes as the integer the processor makes of it."""
    fixed = fixed or {}
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [{**fixed, **dict(zip(keys, row))} for row in rows])
        return
    dialect = conn.dialect
    dbapi = dialect.dbapi

    def processor(name):
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    constant, fixed_names = [], []
    for name, value in fixed.items():
        if value is None and table.c[name].server_default is None:
            continue
        convert = processor(name)
        value = convert(value) if convert else value
        constant.append(dbapi.adapt(value, dbapi.PrepareProtocol, value))  # as the driver would, once
        fixed_names.append(name)
    constant = tuple(constant)
    names = [*keys, *fixed_names]
    quote = dialect.identifier_preparer
    columns, marks = ", ".join(quote.quote(n) for n in names), ", ".join("?" * len(names))
    # identifiers from the table's own metadata, quoted; every value is a bound parameter
    sql = f"INSERT INTO {quote.format_table(table)} ({columns}) VALUES ({marks})"  # noqa: S608  # nosec B608
    convert = [(i, f) for i, name in enumerate(keys) if (f := processor(name))]
    params = []
    append = params.append
    for row in rows:
        if convert:
            row = list(row)
            for i, f in convert:
                row[i] = f(row[i])
        append((*row, *constant))
    conn.exec_driver_sql(sql, params)
