"""Writing and reading many rows at once: what imports, rebuilds, exports and the demo use.

- staged inserts (SQLite): many rows copied into a table by one ``INSERT ... SELECT``
  from an unindexed staging table (``staged_insert``, ``staged_inserting``), in an
  in-memory database attached to every connection (``attach_stage``, ``drop_staging``);
- whole tables rewritten through shadows of themselves, writing only what differs
  (``rewritten``), and tables filled without their secondary indexes, built after
  (``indexes_after``);
- a larger page cache or ``work_mem`` while a bulk job runs (``large_page_cache``),
  PostgreSQL settings for a transaction (``postgres_settings``), and a bulk commit whose
  WAL checkpoint runs after it on a thread of its own (``commit_checkpointing_later``);
- the planner's statistics refreshed after a bulk load (``refresh_planner_statistics``,
  ``analyze_bulk_load``, ``vacuum_analyze``).
"""
from __future__ import annotations

import sqlite3
import threading
import weakref
from contextlib import closing, contextmanager, nullcontext, suppress
from pathlib import Path

from sqlalchemy import UniqueConstraint, column, event, insert, literal, literal_column, select, table as table_clause, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db


def refresh_planner_statistics() -> None:
    """Refresh the statistics the query planner chooses indexes by (run by the daily
    ``flask dashboard refresh``). Without them SQLite may sort a whole province range
    where an index would have served. SQLite samples (``analysis_limit``) so this stays
    quick on a large file."""
    conn = db.session.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit = 2000")
    conn.exec_driver_sql("ANALYZE")


def analyze_bulk_load() -> None:
    """On PostgreSQL, ``ANALYZE`` inside the current transaction, after a bulk load and
    before reading what it loaded: until autovacuum gets to the new rows (a minute or
    more), the planner takes the tables for nearly empty and joins them row by row. On
    the demo data, the village coverage of a filtered view took 0.6 s instead of 10 ms.
    No-op on SQLite, whose plans ``refresh_planner_statistics`` keeps."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE")


def vacuum_analyze(tables=None) -> None:
    """On PostgreSQL, ``VACUUM (ANALYZE)`` the given tables (``Table`` objects; None: the
    whole database) after a
    bulk rewrite has committed: it marks their pages all-visible, so a count or a scan that
    an index covers is read from the index alone (an index-only scan; with the deleted
    rows' pages not yet vacuumed it visits the table row by row), and it gives the planner
    the rewritten tables' statistics. VACUUM runs outside a transaction: on a connection
    of its own. No-op elsewhere (SQLite has no visibility map)."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if tables is None:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        for table in tables or ():
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {conn.dialect.identifier_preparer.format_table(table)}")


LARGE_PAGE_CACHE_KIB = 65536


@contextmanager
def large_page_cache(kib: int = LARGE_PAGE_CACHE_KIB):
    """On SQLite, a larger page cache for the session's connection while a bulk job runs,
    then the connection's own again (SQLite's default is 2 MiB). A bulk insert puts its
    rows into nine indexes in no order, and a ledger read in date order fetches rows from
    all over the table: with the default cache the same pages are read again and again
    (about a fifth of the work at 40,000 inserts or a million rows read). No-op elsewhere.
    A connection that is already gone when the job ends has no cache to give back.

    On PostgreSQL the same amount of memory for the transaction's sorts and hashes
    (``work_mem``, 4 MB by default): a bulk job's GROUP BY over a million rows otherwise
    spills its hash table to disk in a hundred batches."""
    conn = db.session.connection()
    if conn.dialect.name == "postgresql":
        with _work_mem(conn, kib):
            yield
        return
    if conn.dialect.name != "sqlite":
        yield
        return
    size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        if not conn.closed:
            with suppress(SQLAlchemyError):
                conn.exec_driver_sql(f"PRAGMA cache_size = {int(size)}")


def _work_mem(conn, kib: int):
    """PostgreSQL: ``work_mem`` of ``kib`` for the transaction while within, then its own again."""
    return _settings(conn, work_mem=f"{int(kib)}kB")


def postgres_settings(conn, **values: str):
    """On PostgreSQL, the given settings for the transaction while within (``SET LOCAL``),
    then its own again; no-op elsewhere."""
    return _settings(conn, **values) if conn.dialect.name == "postgresql" else nullcontext()


@contextmanager
def _settings(conn, **values: str):
    """PostgreSQL: the given settings for the transaction while within, then its own again."""
    names = list(values)
    before = [conn.exec_driver_sql("SELECT current_setting(%(name)s)", {"name": name}).scalar() for name in names]
    for name in names:
        conn.exec_driver_sql("SELECT set_config(%(name)s, %(value)s, true)", {"name": name, "value": values[name]})
    try:
        yield
    finally:
        if not conn.closed and not conn.invalidated:
            with suppress(SQLAlchemyError):
                for name, value in zip(names, before):
                    conn.exec_driver_sql("SELECT set_config(%(name)s, %(value)s, true)", {"name": name, "value": value})


AUTOCHECKPOINT = "registry_wal_autocheckpoint"  # a pooled connection's settings to restore
_checkin_restores: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def commit_checkpointing_later(session) -> None:
    """Commit a bulk write. On a SQLite file, the commit's own work (the audit events its
    steps insert into their six indexes) runs with the large page cache of the bulk write
    (``large_page_cache``: about a fifth less work for 40,000 events than with the default
    cache), and the WAL checkpoint that SQLite would run
    inside this commit (the connection's ``wal_autocheckpoint``: a 40,000-row import
    leaves some 60 MB of WAL, and copying it into the database is about half of the
    commit) is run after it instead, on a thread of its own with its own connection
    (``PASSIVE``: it waits for no reader or writer; what it cannot copy now, the next
    checkpoint copies). The commit itself is the same: the transaction is in the WAL as
    every commit is. The connection's settings are restored when it goes back to the pool.
    Elsewhere a plain commit."""
    conn = session.connection()
    path = conn.engine.url.database
    if conn.dialect.name != "sqlite" or path in (None, "", ":memory:") or path.startswith("file:"):
        session.commit()
        return
    engine = conn.engine
    if engine not in _checkin_restores:
        _checkin_restores.add(engine)
        event.listen(engine, "checkin", _restore_autocheckpoint)
    fairy = conn.connection
    driver = fairy.driver_connection
    before = (driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0], driver.execute("PRAGMA cache_size").fetchone()[0])
    driver.execute("PRAGMA wal_autocheckpoint = 0")
    driver.execute(f"PRAGMA cache_size = -{LARGE_PAGE_CACHE_KIB}")
    fairy.info[AUTOCHECKPOINT] = before
    try:
        session.commit()
    finally:
        if fairy.info.pop(AUTOCHECKPOINT, None) is not None:  # not checked in (an outer transaction)
            _restore_settings(driver, before)
    timeout_ms = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    threading.Thread(target=_checkpoint, args=(Path(path).absolute().as_uri(), timeout_ms),
                     name="wal-checkpoint").start()


def _restore_settings(dbapi_conn, before: tuple[int, int]) -> None:
    autocheckpoint, cache_size = before
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
    dbapi_conn.execute(f"PRAGMA cache_size = {int(cache_size)}")


def _restore_autocheckpoint(dbapi_conn, record) -> None:
    before = record.info.pop(AUTOCHECKPOINT, None)
    if before is not None and dbapi_conn is not None:
        _restore_settings(dbapi_conn, before)


def _checkpoint(uri: str, timeout_ms: int) -> None:
    """Copy what the WAL holds into the database file, on a connection of its own (never
    creating a file that is gone), waiting for a lock as the writers' connections do."""
    try:
        with closing(sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=timeout_ms / 1000,
                                     isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass  # the next checkpoint copies it


STAGING = "bulk_staging_"  # and the target table's name: bulk_stage.bulk_staging_support_record
# An in-memory database attached to every SQLite connection, for the staging tables of bulk
# inserts (``staged_inserting``). In the connection's temporary database they were written
# to a temporary file once past its small page cache (a 40,000-event import stages some
# 25 MB), and dropping them put every page back on its free list, 0.04-0.09 s a table,
# within the import's commit; here they stay in memory, and the whole database is
# detached at once (a few ms) when the connection goes back to the pool.
STAGE = "bulk_stage"
_STAGED = "registry_staged"  # connection info: the staging tables left to drop when it is checked in
_STAGE_ATTACHED = "registry_stage_attached"  # connection info: ``STAGE`` is attached (else: temp)


def attach_stage(cursor, record) -> None:
    """Attach an empty ``STAGE`` (outside a transaction: when the connection is made, and
    again when it is checked in)."""
    try:
        cursor.execute(f"ATTACH DATABASE ':memory:' AS {STAGE}")
    except sqlite3.Error:  # the staging tables then go to the temporary database
        record.info.pop(_STAGE_ATTACHED, None)
    else:
        record.info[_STAGE_ATTACHED] = True


def drop_staging(dbapi_conn, record) -> None:
    """Drop the staging tables a connection's bulk inserts left (``staged_inserting``)
    when it goes back to the pool (its transaction ended): detaching ``STAGE`` frees them
    all at once, and an empty one is attached in its place. The import's own time does
    not include it, and a connection's staging tables last no longer than its use."""
    names = record.info.pop(_STAGED, None) if record is not None else None
    if not names or dbapi_conn is None:
        return
    if record.info.get(_STAGE_ATTACHED):
        try:
            dbapi_conn.execute(f"DETACH DATABASE {STAGE}")
        except sqlite3.Error:
            pass  # still in use: dropped one by one below
        else:
            attach_stage(dbapi_conn, record)
            return
    schema = STAGE if record.info.get(_STAGE_ATTACHED) else "temp"
    with suppress(sqlite3.Error):
        for name in names:
            dbapi_conn.execute(f"DROP TABLE IF EXISTS {schema}.{name}")


def staged_insert(conn, table, keys, params: list, fixed: dict) -> None:
    """SQLite: insert many rows into ``table`` through a staging table (in ``STAGE``). The
    rows' own values (``params``: tuples of the values of ``keys``, already as the
    driver takes them) go into the staging table, which has no index and no constraint,
    in one executemany; then one ``INSERT INTO table SELECT`` copies them over with the
    ``fixed`` values bound once (through the columns' types, as the ORM binds them).
    The target's columns give the values their types on the way in, as they would a
    direct insert's, so what is stored is the same; but one statement fills the table's
    indexes and checks its constraints and foreign keys for all the rows, where an
    executemany of the table's own insert runs them row by row (about 40% less work at
    40,000 support records with their nine indexes). The rows go in the order given.
    The staging table (one per target table) is dropped when the connection goes back to
    the pool (``drop_staging``), or by the next staged insert into the same table, and,
    being created in the transaction, vanishes with it on a rollback."""
    with staged_inserting(conn, table, keys, params, fixed, meanwhile=False):
        pass


@contextmanager
def staged_inserting(conn, table, keys, params: list, fixed: dict, *, meanwhile: bool = True, then=None):
    """``staged_insert``, whose copy into ``table`` (one statement, during which the
    driver lets go of Python's interpreter lock) runs on a worker thread while the
    ``with`` block runs (``meanwhile``): the block may do Python work (link audit events)
    but must not use the database, whose connection is busy. The copy is waited for when
    the block ends, however it ends, and its error, if any, raised then.

    ``then``: a function of the connection run right after the copy, on the same thread
    (a read of the rows just copied, which needs the connection too); the list the
    ``with`` yields holds its result once the block has ended."""
    done: list = []
    if not params:
        if then is not None:
            done.append(then(conn))
        yield done
        return
    name = STAGING + table.name
    schema = STAGE if conn.connection.info.get(_STAGE_ATTACHED) else "temp"
    staging = table_clause(name, *[column(f"c{i}") for i in range(len(keys))], schema=schema)
    columns = ", ".join(c.name for c in staging.c)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{name}")
    conn.exec_driver_sql(f"CREATE TABLE {schema}.{name} ({columns})")
    conn.connection.info.setdefault(_STAGED, set()).add(name)
    # a fixed statement: the staging table's own name and columns, every value a parameter
    conn.exec_driver_sql(f"INSERT INTO {schema}.{name} VALUES ({', '.join('?' * len(keys))})",  # noqa: S608  # nosec B608
                         params)
    names = list(fixed)
    copy = insert(table).from_select(
        [*keys, *names],
        select(*staging.c, *[literal(fixed[name], table.c[name].type) for name in names])
        .order_by(literal_column("rowid")))
    if not meanwhile:
        conn.execute(copy)
        if then is not None:
            done.append(then(conn))
        yield done
    else:
        failed: list[BaseException] = []

        def run() -> None:
            try:
                conn.execute(copy)
                if then is not None:
                    done.append(then(conn))
            except BaseException as error:  # handed to the waiting thread  # noqa: BLE001
                failed.append(error)

        worker = threading.Thread(target=run, name="staged-insert", daemon=True)
        worker.start()
        try:
            yield done
        finally:
            worker.join()
        if failed:
            raise failed[0]


@contextmanager
def rewritten(conn, tables, *, indexes_later: bool = False):
    """Rewrite whole ``tables`` from scratch, but write only what differs.

    Within, each table's name stands for an empty temporary table of the same columns
    (a temporary table of the same name shadows the real one on both engines), so the
    statements that refill it from scratch (INSERT ... SELECT, reading their own rows too)
    fill the shadow: no write-ahead log, no index to keep, no dead row of the same key to
    step over. On leaving, each real table is brought to the shadow's contents: rows whose
    key (its unique constraint's columns, or its primary key's) is gone are deleted, rows whose values
    differ are updated, new keys inserted; then the shadows are dropped. Rebuilding a
    million-row summary that is already right writes nothing, and readers read the old
    figures until the commit (an empty-then-refill rewrite would also do that, but writes
    every row again and leaves as many dead ones behind). An empty table is filled directly;
    with ``indexes_later`` (a large fill: a first build at province scale) without its
    secondary indexes, built after the fill (``indexes_after``: no ON CONFLICT within).

    On PostgreSQL the real tables are locked against writers first (SHARE ROW EXCLUSIVE:
    readers go on): a writer's delta committed between the shadow's filling and the merge
    would otherwise be overwritten by figures computed without it. Statements are not
    prepared meanwhile: a statement prepared earlier on the connection is bound to the
    real table, not to its shadow."""
    postgres = conn.dialect.name == "postgresql"
    quote = conn.dialect.identifier_preparer.quote
    real = quote(conn.exec_driver_sql("SELECT current_schema()").scalar()) if postgres else "main"
    shadow = "pg_temp" if postgres else "temp"
    driver = conn.connection.driver_connection
    threshold = getattr(driver, "prepare_threshold", None)
    if postgres:
        everything = ", ".join(f"{real}.{quote(table.name)}" for table in tables)
        conn.exec_driver_sql(f"LOCK TABLE {everything} IN SHARE ROW EXCLUSIVE MODE")
        driver.prepare_threshold = None
    # an empty table (a first build) is filled directly: there is nothing to differ from
    everything_given = list(tables)
    tables = [table for table in everything_given
              if conn.exec_driver_sql(f"SELECT 1 FROM {real}.{quote(table.name)} LIMIT 1").first()]  # noqa: S608  # nosec B608
    names = [table.name for table in tables]
    empty = [table.name for table in everything_given if table.name not in names] if indexes_later else []
    try:
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {shadow}.{quote(name)}")
            # table and column names only, quoted by the dialect: no value of anyone's
            conn.exec_driver_sql(f"CREATE TEMP TABLE {quote(name)} AS SELECT * FROM {real}.{quote(name)} WHERE 1 = 0")  # noqa: S608  # nosec B608
        with indexes_after(conn, empty):
            yield
        # PostgreSQL: not compiled (JIT: seconds at these row counts)
        with _settings(conn, jit="off") if postgres else nullcontext():
            for table in tables:
                _merge_shadow(conn, table, _natural_key(table), real, shadow, quote)
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE {shadow}.{quote(name)}")
    finally:
        if postgres:
            driver.prepare_threshold = threshold


INDEX_BUILD_KIB = 262144


@contextmanager
def indexes_after(conn, tables, *, foreign_keys: bool = False):
    """Fill the tables named (empty ones, or a bulk load) without their secondary indexes:
    they are dropped here and created again when the block ends, one sort per index
    instead of a row-by-row insert into each (at a million summary rows with text keys,
    most of a first build's time). On PostgreSQL their unique constraints too (checked
    when added back, so a duplicate still fails the transaction; no ON CONFLICT within),
    with ``maintenance_work_mem`` for the sorts; the primary keys stay. With
    ``foreign_keys``, on PostgreSQL their foreign keys too: checked when added back, by one
    join each instead of a look-up per row (a third of a million-row COPY's time). The DDL
    is part of the transaction on both engines (a failure leaves the indexes as they were)
    and locks the tables against readers until it commits: for first builds and bulk loads."""
    postgres = conn.dialect.name == "postgresql"
    quote = conn.dialect.identifier_preparer.quote
    drop, create = [], []
    for name in tables:
        if postgres:
            constraints = conn.execute(text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                "AND (contype = 'u' AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' "
                "AND f.conindid = pg_constraint.conindid) OR contype = 'f' AND :fk)"),
                {"t": quote(name), "fk": foreign_keys}).all()
            indexes = conn.execute(text(
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = CAST(:t AS regclass) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"), {"t": quote(name)}).all()
            drop += [f"ALTER TABLE {quote(name)} DROP CONSTRAINT {quote(c)}" for c, _ in constraints]
            create += [f"ALTER TABLE {quote(name)} ADD CONSTRAINT {quote(c)} {d}" for c, d in constraints]
        else:  # the indexes SQLite's constraints own (sql NULL) stay
            indexes = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                                        "AND sql IS NOT NULL"), {"t": name}).all()
        drop += [f"DROP INDEX {quote(i)}" for i, _ in indexes]
        create += [d for _, d in indexes]
    for statement in drop:  # the catalog's own names and definitions
        conn.exec_driver_sql(statement)
    yield
    with _settings(conn, maintenance_work_mem=f"{INDEX_BUILD_KIB}kB") if postgres and create else nullcontext():
        for statement in create:
            conn.exec_driver_sql(statement)


def _natural_key(table) -> tuple[str, ...]:
    """A table's key for ``rewritten``: the columns of its unique constraint, or of its primary key."""
    unique = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
    return tuple(c.name for c in (unique[0] if unique else table.primary_key).columns)


def _merge_shadow(conn, table, key: tuple[str, ...], real: str, shadow: str, quote) -> None:
    """Bring ``real``.table to the contents of its ``shadow`` (``rewritten``): delete the
    keys it no longer has, update the rows whose values differ, insert the new keys. The
    id, if any, is the real table's own (kept for a kept row, given for a new one).

    The differences are found in one pass over both tables, a full join on the key into a
    temporary table (on PostgreSQL one hash join; on SQLite the shadow read in order, each
    row looked up along the real table's unique index, then the real rows no shadow row
    met), then applied from it (usually empty or small) along the real table's key index:
    a rebuild that changes nothing reads each table once and writes nothing (a join per
    kind of change before: three hash joins of the two tables). On SQLite before 3.39
    (no FULL JOIN): a join per kind of change."""
    postgres = conn.dialect.name == "postgresql"
    if not postgres and sqlite3.sqlite_version_info < (3, 39):
        _merge_shadow_by_kind(conn, table, key, real, shadow, quote)
        return
    name, diff = quote(table.name), quote(f"merge_{table.name}")
    values = [c.name for c in table.columns if c.name not in key and c.name != "id"]
    changed = " OR ".join(f"o.{quote(v)} IS DISTINCT FROM n.{quote(v)}" if postgres
                          else f"o.{quote(v)} IS NOT n.{quote(v)}" for v in values)
    same_key = " AND ".join(f"n.{quote(k)} = o.{quote(k)}" for k in key)
    first = quote(key[0])  # the key's columns are NOT NULL: a null one is a row missing on that side
    picked = [f"coalesce(n.{quote(k)}, o.{quote(k)}) AS {quote(k)}" for k in key] + [f"n.{quote(v)}" for v in values]
    if postgres:
        conn.exec_driver_sql(f"ANALYZE {shadow}.{name}")  # no autovacuum for temporary tables
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {shadow}.{diff}")
    # PostgreSQL: a hash join (a sort of millions of rows by their text keys costs several
    # times more, probing the real table's key index row by row more still)
    with _settings(conn, enable_mergejoin="off", enable_nestloop="off") if postgres else nullcontext():
        # table and column names only (the models'), quoted by the dialect: no value of anyone's
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE {diff} AS SELECT {', '.join(picked)}, "  # noqa: S608  # nosec B608
            f"CASE WHEN n.{first} IS NULL THEN 'd' WHEN o.{first} IS NULL THEN 'i' ELSE 'u' END AS change_kind "
            f"FROM {shadow}.{name} AS n FULL JOIN {real}.{name} AS o ON {same_key} "
            f"WHERE n.{first} IS NULL OR o.{first} IS NULL" + (f" OR {changed}" if values else ""))
    counts = dict(conn.exec_driver_sql(f"SELECT change_kind, count(*) FROM {shadow}.{diff} "  # noqa: S608  # nosec B608
                                       "GROUP BY change_kind").all())
    if counts and postgres:
        conn.exec_driver_sql(f"ANALYZE {shadow}.{diff}")
    keys = ", ".join(quote(k) for k in key)
    if counts.get("d"):
        conn.exec_driver_sql(f"DELETE FROM {real}.{name} WHERE ({keys}) IN "  # noqa: S608  # nosec B608
                             f"(SELECT {keys} FROM {shadow}.{diff} WHERE change_kind = 'd')")
    if counts.get("u"):
        assign = ", ".join(f"{quote(v)} = d.{quote(v)}" for v in values)
        d_key = " AND ".join(f"d.{quote(k)} = o.{quote(k)}" for k in key)
        conn.exec_driver_sql(f"UPDATE {real}.{name} AS o SET {assign} "  # noqa: S608  # nosec B608
                             f"FROM {shadow}.{diff} AS d WHERE d.change_kind = 'u' AND {d_key}")
    if counts.get("i"):
        columns = ", ".join(quote(c) for c in (*key, *values))
        conn.exec_driver_sql(f"INSERT INTO {real}.{name} ({columns}) SELECT {columns} "  # noqa: S608  # nosec B608
                             f"FROM {shadow}.{diff} WHERE change_kind = 'i'")
    conn.exec_driver_sql(f"DROP TABLE {shadow}.{diff}")


def _merge_shadow_by_kind(conn, table, key: tuple[str, ...], real: str, shadow: str, quote) -> None:
    """``_merge_shadow`` on a SQLite without FULL JOIN: a join per kind of change."""
    name = quote(table.name)
    values = [c.name for c in table.columns if c.name not in key and c.name != "id"]
    same_key = " AND ".join(f"n.{quote(k)} = o.{quote(k)}" for k in key)
    changed = " OR ".join(f"o.{quote(v)} IS NOT n.{quote(v)}" for v in values)
    columns = ", ".join(quote(c) for c in (*key, *values))
    # the shadow has no index: one on its key, or every NOT EXISTS below scans it
    conn.exec_driver_sql(f"CREATE INDEX {shadow}.{quote('shadow_' + table.name)} ON {name} "
                         f"({', '.join(quote(k) for k in key)})")
    # table and column names only (the models'), quoted by the dialect: no value of anyone's
    conn.exec_driver_sql(f"DELETE FROM {real}.{name} AS o WHERE NOT EXISTS "  # noqa: S608  # nosec B608
                         f"(SELECT 1 FROM {shadow}.{name} AS n WHERE {same_key})")
    if values:
        assign = ", ".join(f"{quote(v)} = n.{quote(v)}" for v in values)
        conn.exec_driver_sql(f"UPDATE {real}.{name} AS o SET {assign} "  # noqa: S608  # nosec B608
                             f"FROM {shadow}.{name} AS n WHERE {same_key} AND ({changed})")
    conn.exec_driver_sql(f"INSERT INTO {real}.{name} ({columns}) SELECT {columns} "  # noqa: S608  # nosec B608
                         f"FROM {shadow}.{name} AS n WHERE NOT EXISTS (SELECT 1 FROM {real}.{name} AS o WHERE {same_key})")
