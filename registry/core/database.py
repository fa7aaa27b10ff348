"""Engine set-up that differs per database.

SQLite: WAL, a busy timeout, foreign keys on, and write transactions that start with
``BEGIN IMMEDIATE``. A request that only reads (GET/HEAD/OPTIONS) begins a deferred
transaction so readers never queue behind writers; everything else (POST handlers, CLI
commands, tests) takes the write lock at ``BEGIN``, because a deferred transaction that
reads and then writes can lose an update or fail with "database is locked" when it tries
to upgrade its lock. Writers of the app wait for that lock in a queue (a ``flock`` on a
file beside the database) rather than in SQLite's sleeping busy handler: see "the writers'
queue" below.
"""
from __future__ import annotations

import contextvars
import itertools
import sqlite3
import threading
import time
import weakref
from contextlib import closing, contextmanager, nullcontext, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no writers' queue, SQLite's busy timeout alone waits
    fcntl = None

from sqlalchemy import UniqueConstraint, column, event, insert, literal, literal_column, select, table as table_clause, text
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session

from ..extensions import db

_begin_mode: contextvars.ContextVar[str] = contextvars.ContextVar("sqlite_begin_mode", default="IMMEDIATE")

BUSY_TIMEOUT_MS = 30_000


def is_sqlite(engine: Engine | None = None) -> bool:
    engine = engine or db.engine
    return engine.dialect.name == "sqlite"


def configure_engine(engine: Engine) -> None:
    """Attach the SQLite pragmas and BEGIN handling to ``engine``; on PostgreSQL, the
    ending of transactions that wrote nothing (``_keep_prepared_statements``)."""
    if engine.dialect.name == "postgresql":
        event.listen(engine, "begin", _reading_so_far)
        event.listen(engine, "before_cursor_execute", _note_statement)
        event.listen(engine, "rollback", _keep_prepared_statements)
    if engine.dialect.name != "sqlite":
        _ping_when_idle(engine)
        return

    queue = _write_queue_path(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy (not pysqlite) emit BEGIN, so we choose its kind.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        _attach_stage(cur, _record)
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            if queue is not None:  # checkpoints after the writers' queue (below)
                cur.execute("PRAGMA wal_autocheckpoint = 0")
        cur.close()

    if queue is not None:
        _queue_writers(engine, queue)
    event.listen(engine, "checkin", _drop_staging)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = _begin_mode.get()
        info = conn.connection.info
        info[_UNTIL_WRITE] = (queue or "") if mode == UNTIL_WRITE else None
        if mode != "IMMEDIATE" or queue is None:
            conn.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == UNTIL_WRITE else mode}")
            return
        _begin_immediate(info, conn.connection.driver_connection, queue, conn.exec_driver_sql)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_statement(conn, _cursor, statement, *_):
        if conn.connection.info.get(_UNTIL_WRITE) is not None and statement.lstrip()[:6].upper() not in _READS:
            _writing_from_here(conn)


def _begin_immediate(info: dict, driver, queue: str | None, execute) -> None:
    """``execute("BEGIN IMMEDIATE")`` on ``driver``'s connection, in the writers' queue
    (``queue``: its file) if any."""
    if queue:
        _WriteQueue.enter(info, driver, queue)
    try:
        execute("BEGIN IMMEDIATE")
    except BaseException:
        _WriteQueue.leave(driver)
        raise


# A pooled connection unused for longer than this is checked before it is handed out.
PING_AFTER_IDLE_S = 10.0
_LAST_USED = "registry_last_used"  # connection info: time.monotonic() when it was last checked in


def _ping_when_idle(engine: Engine) -> None:
    """A database server's connections are checked before use when they have been idle
    (``PING_AFTER_IDLE_S``), not before every use. SQLAlchemy's ``pool_pre_ping`` sends a
    ping at every checkout: one more round trip for every request, about 0.3-1 ms of a
    PostgreSQL page that takes 2-15 ms. A connection checked in moments ago is as alive as
    a ping would say; one that sat idle (a quiet night, a restarted or failed-over server,
    a firewall that dropped it) is pinged, and a dead one is replaced before the request
    sees it (``DisconnectionError``: the pool connects anew). A server that goes away
    within seconds of a connection's last use fails that connection's next statement, and
    SQLAlchemy then discards every connection of the pool, as it would without a ping."""

    @event.listens_for(engine, "connect")
    def _made(dbapi_conn, record):
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _used(dbapi_conn, record):
        if record is not None:
            record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, proxy):
        last = record.info.get(_LAST_USED)
        if last is not None and time.monotonic() - last < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_conn, None):
                raise DisconnectionError(str(error)) from error
            raise
        if alive is False:
            raise DisconnectionError("the connection did not answer a ping")
        record.info[_LAST_USED] = time.monotonic()


def _keep_prepared_statements(conn) -> None:
    """PostgreSQL: end a transaction that wrote nothing by COMMIT instead of ROLLBACK.

    psycopg prepares a statement on the server once a connection has run it five times,
    and PostgreSQL then plans it once instead of on every run; for the pages' statements,
    whose eager joins reach a dozen tables, planning is most of their time (2-4 ms of a
    0.3 ms query). But psycopg forgets every prepared statement on ROLLBACK, and a read
    request ends its transaction with one, so nothing was ever prepared. A transaction
    that ran nothing but SELECT statements (``_note_statement``: this schema has no
    function that writes, so a SELECT writes nothing a ROLLBACK would undo) ends the same
    by COMMIT, without asking the server: most requests only read, and the question cost
    a round trip each. One that ran anything else is asked about: one that holds no
    transaction id (``pg_current_xact_id_if_assigned()``: none until it writes or locks a
    row) is committed too. A transaction that wrote, or failed, is rolled back. (Statements
    sent on the driver's own connection, past SQLAlchemy, are not seen: a write sent that
    way must commit or roll back itself.) The ROLLBACK that follows a COMMIT finds no
    transaction and is not sent."""
    driver = conn.connection.driver_connection
    if driver.info.transaction_status != _PG_IN_TRANSACTION:
        return
    if conn.connection.info.get(_NOT_ONLY_SELECTS, True) and _holds_a_transaction_id(driver):
        return
    driver.commit()


def _holds_a_transaction_id(driver) -> bool:
    """Whether the driver connection's transaction has written (or locked a row)."""
    with driver.cursor() as cur:
        cur.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
        return bool(cur.fetchone()[0])


_NOT_ONLY_SELECTS = "registry_not_only_selects"  # connection info: the transaction ran more than SELECTs


def _reading_so_far(conn) -> None:
    conn.connection.info[_NOT_ONLY_SELECTS] = False


def _note_statement(conn, _cursor, statement, *_) -> None:
    if statement.lstrip()[:6].upper() != "SELECT":
        conn.connection.info[_NOT_ONLY_SELECTS] = True


_PG_IN_TRANSACTION = 2  # psycopg.pq.TransactionStatus.INTRANS (idle inside a transaction)


# -- the writers' queue (SQLite files) --------------------------------------------------
#
# SQLite lets one transaction write at a time; one that finds the write lock taken does not
# wait in line for it: its busy handler sleeps and tries again, sleeping longer each time
# (1, 2, 5, 10 ... 100 ms). With several workers writing at once the lock is then often
# free while every waiter sleeps, and most of a write's time is spent asleep (4 workers
# wrote less than 1). So before ``BEGIN IMMEDIATE`` a connection of this app takes an
# exclusive ``flock`` on a file beside the database and holds it until its transaction
# ends (commit or rollback): the kernel wakes the next writer the moment the lock is
# released. It is only a queue in front of SQLite's own lock, which still decides: a
# writer that does not queue (another program, the sqlite3 shell) is waited for by the busy
# timeout as before, and a lock file that cannot be opened leaves SQLite's waiting alone.
# A thread that already holds the queue through another connection (a second connection
# opened inside a write) does not queue again behind itself: SQLite's busy timeout decides
# for that one, as it did before.


class _WriteQueue:
    _held: dict[int, tuple] = {}  # id(driver connection) -> (lock file, thread id)
    _mutex = threading.Lock()

    @classmethod
    def enter(cls, info: dict, driver, path: str) -> None:
        handle = info.get(_QUEUE_FILE)
        if handle is None:
            try:
                handle = open(path, "a+b")  # noqa: SIM115  # closed with the connection (pool "close")
            except OSError:
                info[_QUEUE_FILE] = False  # no queue for this connection: SQLite's busy timeout waits
                return
            info[_QUEUE_FILE] = handle
        if handle is False:
            return
        me = threading.get_ident()
        with cls._mutex:
            if any(thread == me for _, thread in cls._held.values()):
                return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        with cls._mutex:
            cls._held[id(driver)] = (handle, me)

    @classmethod
    def leave(cls, driver) -> bool:
        """Leave the queue; whether ``driver`` was in it (its transaction was a writer's)."""
        with cls._mutex:
            held = cls._held.pop(id(driver), None)
        if held is not None:
            fcntl.flock(held[0].fileno(), fcntl.LOCK_UN)
        return held is not None


_QUEUE_FILE = "registry_write_queue"


# -- checkpoints outside the queue ---------------------------------------------------------
#
# SQLite copies the WAL back into the database file (a checkpoint: the copy and two fsyncs)
# inside the COMMIT that takes the WAL past ``wal_autocheckpoint`` pages, after the write
# lock is released but before COMMIT returns, so before its writer leaves the queue: every
# other writer waited for the copy and the disk. The writes bench (4 workers) made 248-287
# writes/s with the database on a disk, 300 on tmpfs and 305 without those checkpoints;
# 337-352 with the checkpoints run as below. So the connections that queue turn the automatic checkpoint off, and every
# CHECKPOINT_EVERY-th write commit of a process runs the same checkpoint (PASSIVE, as
# SQLite's own: it waits for no reader or writer, and what it cannot copy now the next one
# copies) once its writer has left the queue. A bulk write's commit checkpoints on a thread
# of its own (``commit_checkpointing_later``), and the last connection to close a database
# checkpoints it as before.

CHECKPOINT_EVERY = 32  # write commits of a process (a write is some 10-30 pages of WAL)
_commits = itertools.count(1)


def _checkpoint_here(driver) -> None:
    with suppress(sqlite3.Error):
        driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _write_queue_path(engine: Engine) -> str | None:
    path = engine.url.database
    if fcntl is None or path in (None, "", ":memory:") or path.startswith("file:"):
        return None
    return f"{Path(path).absolute()}-writers"


def _queue_writers(engine: Engine, path: str) -> None:
    """Leave the queue when the transaction ends: after the driver's COMMIT or ROLLBACK
    (the dialect's own, so every way a transaction ends, a pool's reset included), and
    close the lock file (which releases it too) when the connection is closed."""
    dialect = engine.dialect
    if getattr(dialect, "_registry_queued", False):
        return
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection):
        try:
            commit(dbapi_connection)
        finally:
            wrote = _WriteQueue.leave(_driver(dbapi_connection))
        # (a bulk write's commit leaves its checkpoint to a thread: commit_checkpointing_later)
        if wrote and _AUTOCHECKPOINT not in getattr(dbapi_connection, "info", {}) \
                and next(_commits) % CHECKPOINT_EVERY == 0:
            _checkpoint_here(_driver(dbapi_connection))

    def do_rollback(dbapi_connection):
        try:
            rollback(dbapi_connection)
        finally:
            _WriteQueue.leave(_driver(dbapi_connection))

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
    dialect._registry_queued = True

    def _closed(dbapi_connection, record):
        _WriteQueue.leave(dbapi_connection)
        handle = record.info.pop(_QUEUE_FILE, None) if record is not None else None
        if handle:
            handle.close()

    event.listen(engine, "close", _closed)
    event.listen(engine, "close_detached", lambda dbapi_connection: _WriteQueue.leave(dbapi_connection))


def _driver(connection):
    """The driver's connection of a pool's proxy (what ``do_commit`` may be given) or itself."""
    return getattr(connection, "driver_connection", None) or connection


def set_read_only_request(read_only: bool, view=None) -> None:
    """Called before each request: safe methods begin deferred transactions; the others
    take the write lock at ``BEGIN``, or at their first write for a ``view`` marked
    ``lock_at_first_write``. A reader's transaction a write request left open after its
    commit (``only_reading_from_here``; where the session outlives the request, as in
    tests) is ended first, so this request's writes begin with the write lock."""
    session = db.session()
    if session.info.pop(_READING, False) and not read_only and session.in_transaction():
        session.commit()
    _begin_mode.set("DEFERRED" if read_only else UNTIL_WRITE if getattr(view, "_lock_at_first_write", False)
                    else "IMMEDIATE")


def set_begin_mode(mode: str) -> contextvars.Token:
    """Begin this context's next transactions ``IMMEDIATE`` (a writer's) or ``DEFERRED``;
    returns the token that resets it (a worker thread starts ``IMMEDIATE``)."""
    return _begin_mode.set(mode)


def only_reading_from_here() -> None:
    """The request's writes are committed and what is left of it only reads (the message
    naming what was saved, the redirect, the page's after-request checks): its next
    transaction begins deferred, a reader's, rather than queueing for the write lock again
    to reload what the commit expired and then holding it to the end of the request. Call
    it only where no write can follow; a transaction still open (the action did not
    commit) keeps its write lock."""
    session = db.session()
    if not session.in_transaction():
        _begin_mode.set("DEFERRED")
        session.info[_READING] = True


_READING = "registry_reading_after_commit"


# -- a writer's transaction from its first write (SQLite) ---------------------------------
#
# A write request of the app takes SQLite's one write lock at its first statement and holds
# it to its commit; everything it does meanwhile (its form's choices and checks, loading
# what it acts on, who may act, which year is closed) makes every other writer wait, and
# the time the lock is held bounds the writes per second of the whole site. Under
# ``lock_at_first_write`` a request's transaction begins as a reader's (deferred) and
# becomes a writer's at its first write: the first flush with something to write, the
# first statement that is not a read, or the ``before_commit`` steps, whichever comes
# first. At that moment the reader's transaction is ended and a writer's begun on the same
# connection (``BEGIN IMMEDIATE``, through the writers' queue), so what follows (the
# writes, and the reads made for them at flush and commit time: a new record's number,
# the summaries' keys, the audit chain's heads) sees the latest committed state and holds
# the lock; SQLAlchemy's transaction goes on, and what was loaded stays loaded. A
# deferred transaction that read and then writes cannot simply go on: SQLite refuses its
# write (SQLITE_BUSY_SNAPSHOT) once another writer committed after its reads began.
#
# What was read before the first write is as of a moment before it, which is all a
# request ever knows of it on PostgreSQL too (its READ COMMITTED transactions take no lock
# for their reads either): the checks read before are the same checks, made as late as they
# are there. A row read before and changed by the write must therefore be versioned
# (``version_id_col``: the UPDATE of a row changed meanwhile matches nothing and is
# refused as stale, as ``SupportRecord``'s is) or only inserted: a view that changes an
# unversioned row it read (a counter read, then raised) must not use it.

UNTIL_WRITE = "UNTIL_WRITE"  # a begin mode: deferred, then a writer's at the first write
_UNTIL_WRITE = "registry_until_write"  # connection info: the writers' queue (or "") while upgradable
_READS = ("SELECT", "PRAGMA", "BEGIN ")  # statements that leave a reader's transaction a reader's


def lock_at_first_write(view):
    """View decorator: on SQLite, the transactions of a write request to ``view`` begin as
    readers' and take the write lock at their first write (see above; the login look-up
    is read in the same reader's transaction). Elsewhere it changes nothing: PostgreSQL's
    transactions never wait for one another's reads."""
    view._lock_at_first_write = True
    return view


def _writing_from_here(conn) -> None:
    """End the reader's transaction of ``conn`` (a SQLite ``Connection`` whose transaction
    began under ``UNTIL_WRITE``) and begin a writer's in its place."""
    info = conn.connection.info
    queue = info.get(_UNTIL_WRITE)
    if queue is None:
        return
    info[_UNTIL_WRITE] = None
    conn.exec_driver_sql("COMMIT")
    _begin_immediate(info, conn.connection.driver_connection, queue, conn.exec_driver_sql)


def write_from_here(session) -> None:
    """The session's transaction is about to write: if it is a reader's that may become
    a writer's (``lock_at_first_write``), it becomes one now (the flush's own reads, such
    as a new row's defaults, and the ``before_commit`` steps' then see the latest state)."""
    if session.in_transaction():
        conn = session.connection()
        if conn.dialect.name == "sqlite":
            _writing_from_here(conn)


def _before_flush(session, _ctx, _instances) -> None:
    if session.new or session.deleted or session.dirty:
        write_from_here(session)


def read_before_writing(read):
    """SQLite: ``read()`` (a write request's login look-up) in a reader's transaction,
    ended before the request's writes begin theirs with the write lock. SQLite has one
    writer at a time, so what a write request does while it holds the lock bounds how many
    writes a second the whole site can make; reading who is asking needs no lock. What
    ``read`` loaded stays loaded (that transaction's end does not expire it), as if it had
    been read a moment before the write began, which is all a request can know of it on
    PostgreSQL too. Elsewhere (PostgreSQL, a transaction already open, a reader's request)
    ``read()`` runs as it is."""
    session = db.session()
    if _begin_mode.get() != "IMMEDIATE" or session.in_transaction() or not is_sqlite():
        return read()
    token = _begin_mode.set("DEFERRED")
    try:
        result = read()
    finally:
        _begin_mode.reset(token)
    if session.in_transaction():
        keep, session.expire_on_commit = session.expire_on_commit, False
        try:
            session.commit()
        finally:
            session.expire_on_commit = keep
    return result


@contextmanager
def last_write():
    """Around the request's last write (a service that commits; the view then only names
    what was saved and redirects): its commit leaves the session's objects as written
    rather than expired, so the message and the redirect read them without loading
    them again (a transaction and a query each). What they hold is what was committed;
    the session ends with the request. A rollback expires them as always."""
    session = db.session()
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = previous


@contextmanager
def writing():
    """Run a write from a read-only request (e.g. the audit event of an export).

    Ends the current read transaction, then begins the next one with the write lock.
    """
    db.session.commit()
    token = _begin_mode.set("IMMEDIATE")
    try:
        yield
    finally:
        _begin_mode.reset(token)


# -- locks by key, and the work each transaction does once, just before it commits ------
#
# There is no lock for all writers. A transaction collects what its flushes touched (the
# summaries' areas, the audit events it records) and does the work that reads and
# rewrites shared rows once, just before it commits (``before_commit`` steps, in order),
# under PostgreSQL advisory locks on just the keys it needs, each set taken in sorted
# order and every class of lock in the same order (the steps' order: summaries' areas,
# then the audit chains): two transactions never wait on each other in a circle. SQLite
# has one writer at a time anyway (BEGIN IMMEDIATE); there the locks are no-ops.

AREA_LOCKS = 4342010  # pg_advisory_xact_lock(AREA_LOCKS, township code // 1000): summaries
PERSON_LOCKS = 4342011  # (PERSON_LOCKS, person id): a person's training summary
CHAIN_LOCKS = 4342012  # (CHAIN_LOCKS, partition): the audit chain of a partition


def lock_keys(conn, keys) -> None:
    """On PostgreSQL, hold the advisory locks ``keys`` ((class, int) pairs) until the
    transaction ends, taken in sorted order. No-op on SQLite."""
    if conn.dialect.name != "postgresql":
        return
    for cls, key in sorted(set(keys)):
        conn.execute(text("SELECT pg_advisory_xact_lock(:cls, :key)"), {"cls": cls, "key": key})


_STEPS: list[tuple[int, str, object]] = []
_PENDING = "registry_pending"  # session.info: [(transaction, name, accumulator)]


def before_commit(order: int, name: str):
    """Register ``fn(session, accumulators)`` to run once per transaction before it
    commits, after a final flush, in ``order`` (lower first), with the accumulators
    ``name`` its flushes left (``pending``); it is not called when they left none."""
    def register(fn):
        _STEPS[:] = sorted([s for s in _STEPS if s[1] != name] + [(order, name, fn)], key=lambda s: s[0])
        return fn
    return register


def pending(session, name: str, factory):
    """The accumulator ``name`` of the session's innermost transaction (made by
    ``factory`` when it has none): what the transaction's flushes leave for its commit.
    A savepoint rolled back takes its accumulators with it."""
    if isinstance(session, scoped_session):
        session = session()
    tx = session.get_nested_transaction() or session.get_transaction() or session.begin()
    entries = session.info.setdefault(_PENDING, [])
    for owner, key, value in entries:
        if owner is tx and key == name:
            return value
    value = factory()
    entries.append((tx, name, value))
    return value


def pending_all(session, name: str) -> list:
    """Every accumulator ``name`` the transaction's flushes have left so far."""
    return [value for _, key, value in session.info.get(_PENDING, ()) if key == name]


def _inside(tx, ancestor) -> bool:
    while tx is not None:
        if tx is ancestor:
            return True
        tx = tx.parent
    return False


def _after_soft_rollback(session, previous_transaction) -> None:
    entries = session.info.get(_PENDING)
    if entries:
        entries[:] = [e for e in entries if not _inside(e[0], previous_transaction)]


def _before_commit(session) -> None:
    if session.get_nested_transaction() is not None:
        return
    for _ in range(3):  # a step's own flush may leave work for the steps (it does not today)
        session.flush()
        if not session.info.get(_PENDING):
            return
        entries = session.info.pop(_PENDING)
        write_from_here(session)
        for _, name, fn in _STEPS:
            values = [value for _, key, value in entries if key == name]
            if values:
                fn(session, values)


def settle(session) -> None:
    """Run the ``before_commit`` steps now, inside the transaction: what its commit would
    do first (a test looks at the summaries before deciding to roll back)."""
    if isinstance(session, scoped_session):
        session = session()
    _before_commit(session)


def _after_transaction_end(session, transaction) -> None:
    if transaction.parent is None:  # the outermost: committed or rolled back, nothing stays pending
        session.info.pop(_PENDING, None)


def listen_before_commit() -> None:
    """Run the ``before_commit`` steps on every commit from now on (idempotent; once it
    has run it only reads a flag)."""
    global _listening
    if _listening:
        return
    from sqlalchemy.orm import Session

    for name, handler in (("before_commit", _before_commit), ("after_soft_rollback", _after_soft_rollback),
                          ("after_transaction_end", _after_transaction_end), ("before_flush", _before_flush)):
        if not event.contains(Session, name, handler):
            event.listen(Session, name, handler)
    _listening = True


_listening = False


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


_AUTOCHECKPOINT = "registry_wal_autocheckpoint"  # a pooled connection's settings to restore
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
    fairy.info[_AUTOCHECKPOINT] = before
    try:
        session.commit()
    finally:
        if fairy.info.pop(_AUTOCHECKPOINT, None) is not None:  # not checked in (an outer transaction)
            _restore_settings(driver, before)
    threading.Thread(target=_checkpoint, args=(Path(path).absolute().as_uri(),), name="wal-checkpoint").start()


def _restore_settings(dbapi_conn, before: tuple[int, int]) -> None:
    autocheckpoint, cache_size = before
    dbapi_conn.execute(f"PRAGMA wal_autocheckpoint = {int(autocheckpoint)}")
    dbapi_conn.execute(f"PRAGMA cache_size = {int(cache_size)}")


def _restore_autocheckpoint(dbapi_conn, record) -> None:
    before = record.info.pop(_AUTOCHECKPOINT, None)
    if before is not None and dbapi_conn is not None:
        _restore_settings(dbapi_conn, before)


def _checkpoint(uri: str) -> None:
    """Copy what the WAL holds into the database file, on a connection of its own (never
    creating a file that is gone)."""
    try:
        with closing(sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
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


def _attach_stage(cursor, record) -> None:
    """Attach an empty ``STAGE`` (outside a transaction: when the connection is made, and
    again when it is checked in)."""
    try:
        cursor.execute(f"ATTACH DATABASE ':memory:' AS {STAGE}")
    except sqlite3.Error:  # the staging tables then go to the temporary database
        record.info.pop(_STAGE_ATTACHED, None)
    else:
        record.info[_STAGE_ATTACHED] = True


def _drop_staging(dbapi_conn, record) -> None:
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
            _attach_stage(dbapi_conn, record)
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
    the pool (``_drop_staging``), or by the next staged insert into the same table, and,
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
    driver = _driver(conn.connection)
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
