"""Engine set-up that differs per database.

SQLite: WAL, a busy timeout, foreign keys on, and write transactions that start with
``BEGIN IMMEDIATE``. A request that only reads (GET/HEAD/OPTIONS) begins a deferred
transaction so readers never queue behind writers; everything else (POST handlers, CLI
commands, tests) takes the write lock at ``BEGIN``, because a deferred transaction that
reads and then writes can lose an update or fail with "database is locked" when it tries
to upgrade its lock. Writers of the app wait for that lock in a queue (a ``flock`` on a
file beside the database) rather than in SQLite's sleeping busy handler: see "the writers'
queue" below.

Also here: the work a transaction leaves for just before its commit (``before_commit``
steps, ``pending``) and the advisory locks it takes for it (``lock_keys``). Writing many
rows at once (staged inserts, rewritten tables, bulk commits) is in ``bulk_load``.
"""
from __future__ import annotations

import contextvars
import itertools
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no writers' queue, SQLite's busy timeout alone waits
    fcntl = None

from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import scoped_session

from ..extensions import db
from .bulk_load import AUTOCHECKPOINT, attach_stage, drop_staging

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
        attach_stage(cur, _record)
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            if queue is not None:  # checkpoints after the writers' queue (below)
                cur.execute("PRAGMA wal_autocheckpoint = 0")
        cur.close()

    if queue is not None:
        _queue_writers(engine, queue)
    event.listen(engine, "checkin", drop_staging)

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
        if wrote and AUTOCHECKPOINT not in getattr(dbapi_connection, "info", {}) \
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
