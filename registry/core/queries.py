"""Running the ``Select`` statements that services build, for what a page shows beside
``db.paginate``: a total and the first few rows (home panels), or all rows (short lists).

Services build and scope the statement; views pass it here or to ``db.paginate``.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, bindparam, func, select, text

from ..extensions import db


def column_rows(stmt, params: dict | None = None):
    """The result of ``stmt``, a select of columns (no entities), run by Core on the
    session's connection. ``session.execute`` runs such a statement through the ORM
    (its compile state, events and result wrapping), which costs three times the query
    itself (about 130 µs against 40 µs for a small look-up): on the write path, where
    every request makes a few, that is a few percent of a write. Pending changes are
    flushed first, as the ORM's execution would (its autoflush, which ``no_autoflush``
    turns off for both)."""
    session = db.session()
    if session.autoflush:
        session.flush()  # nothing to do when nothing is pending
    return session.connection().execute(stmt, params)


IN_BATCH = 500  # the values one ``IN (...)`` is given when many are looked up (both engines' limits are far above)


def in_batches(values, size: int = IN_BATCH):
    """``values`` (sorted: the same statements for the same values) a batch at a time, for
    looking up a file's worth of keys with a few ``IN (...)`` statements."""
    values = sorted(set(values))
    for start in range(0, len(values), size):
        yield values[start:start + size]


def count(stmt: Select) -> int:
    """How many rows ``stmt`` returns (its ordering dropped)."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def first(stmt: Select, n: int) -> list:
    """The first ``n`` objects ``stmt`` returns, in its order. Their ids first, then the
    objects (a deferred join): the ordering of a province's rows then sorts ids and the
    ordering columns, often from an index alone, not every column of every row."""
    entity = stmt.column_descriptions[0].get("entity") if len(stmt.column_descriptions) == 1 else None
    key = getattr(entity, "id", None)
    if key is None or stmt._limit_clause is not None:
        return list(db.session.scalars(stmt.limit(n)).all())
    ids = list(db.session.scalars(stmt.with_only_columns(key).limit(n)))
    if not ids:
        return []
    # by primary key alone (the planner might otherwise take the first query's index
    # again), with the statement's loader options, in the first query's order
    found = {obj.id: obj for obj in db.session.scalars(
        select(entity).where(key.in_(ids)).options(*stmt._with_options)).unique()}
    return [found[i] for i in ids if i in found]


def every(stmt: Select) -> list:
    """All objects ``stmt`` returns, in its order."""
    return list(db.session.scalars(stmt).all())


def upsert(dialect, table, columns: tuple, conflict: tuple, *, add: tuple = (), replace: tuple = ()):
    """``INSERT INTO table (columns) VALUES (...) ON CONFLICT (conflict) DO UPDATE SET``
    each of ``add`` to itself plus the value inserted, and each of ``replace`` to the value
    inserted: the same SQL on SQLite and PostgreSQL, as text with a typed parameter per
    column (named after it). SQLAlchemy gives the dialects' own upsert constructs no cache
    key, so it compiles them again at every execution, even the same object; a text
    statement it caches like any other. Built once per dialect and statement."""
    key = (dialect.name, table.name, columns, conflict, add, replace)
    stmt = _UPSERTS.get(key)
    if stmt is None:
        q = dialect.identifier_preparer.quote
        name = dialect.identifier_preparer.format_table(table)
        # names of the table's own columns, quoted by the dialect; the values are parameters
        sets = [f"{q(c)} = {name}.{q(c)} + excluded.{q(c)}" for c in add] + [f"{q(c)} = excluded.{q(c)}" for c in replace]
        sql = (f"INSERT INTO {name} ({', '.join(q(c) for c in columns)}) "  # noqa: S608  # nosec B608
               f"VALUES ({', '.join(':' + c for c in columns)}) "
               f"ON CONFLICT ({', '.join(q(c) for c in conflict)}) DO UPDATE SET {', '.join(sets)}")
        stmt = _UPSERTS[key] = text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in columns))
    return stmt


_UPSERTS: dict[tuple, object] = {}


def as_date(value) -> date | None:
    """A date read back from SQL: SQLite returns ``min()``/``max()`` or ``date()`` of a
    date column as text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
