"""SQLite writers wait in line (core/database.py, "the writers' queue").

1. A connection's ``BEGIN IMMEDIATE`` waits for the queue while another transaction of
   the app writes, and goes on the moment it commits; a rollback and a closed
   connection give the queue up too. A thread never queues behind itself.
2. The WAL is copied back into the database (a checkpoint) by every CHECKPOINT_EVERY-th
   write commit of a process once its writer has left the queue, not by SQLite inside
   the COMMIT while the other writers wait; readers' commits do not count.
3. A record submitted and one confirmed through the app take the write lock once each,
   at their first write (what they read before, they read in a reader's transaction):
   the flash and the redirect after the commit read through a reader's transaction.
"""
from __future__ import annotations

import fcntl
import itertools
import re
import sqlite3
import threading
import time
from contextlib import closing

import pytest
from sqlalchemy import create_engine, event, select, text

from registry.core import database
from tests.factories_records import file_record, record_data, world  # noqa: F401


def _engine(path):
    engine = create_engine(f"sqlite:///{path}")
    database.configure_engine(engine)
    return engine


@pytest.fixture()
def engines(tmp_path):
    path = tmp_path / "queue.sqlite3"
    token = database.set_begin_mode("IMMEDIATE")  # as a writer's thread (a test's GET may have left it deferred)
    first, second = _engine(path), _engine(path)
    with first.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
    yield first, second
    first.dispose()
    second.dispose()
    token.var.reset(token)


def _write_in_thread(engine, started: threading.Event, done: list):
    def run():
        started.set()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (2)"))
        done.append(time.monotonic())
    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("end", ["commit", "rollback", "close"])
def test_a_writer_waits_for_the_queue_and_goes_on_when_it_is_given_up(engines, tmp_path, end):
    first, second = engines
    conn = first.connect()
    trans = conn.begin()
    conn.execute(text("INSERT INTO t (v) VALUES (1)"))
    assert (tmp_path / "queue.sqlite3-writers").exists()
    started, done = threading.Event(), []
    thread = _write_in_thread(second, started, done)
    started.wait()
    time.sleep(0.3)
    assert done == []  # in line behind the open transaction
    released = time.monotonic()
    if end == "commit":
        trans.commit()
    elif end == "rollback":
        trans.rollback()
    else:
        conn.invalidate()  # the connection closed: its lock file with it
    thread.join(timeout=10)
    assert done and done[0] - released < 5
    conn.close()
    with first.connect() as check:
        assert check.execute(text("SELECT count(*) FROM t")).scalar() == (2 if end == "commit" else 1)


def test_a_thread_does_not_queue_behind_itself(engines):
    """A second connection opened inside a write does not wait for its own thread's
    queue: SQLite's busy timeout decides for it, as before there was a queue."""
    first, second = engines
    with first.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (1)"))
        other = second.connect()
        other.connection.driver_connection.execute("PRAGMA busy_timeout = 50")
        with pytest.raises(Exception, match="locked"):
            other.execute(text("INSERT INTO t (v) VALUES (2)"))
        other.invalidate()
        other.close()


def test_readers_do_not_queue(engines):
    first, second = engines
    with first.begin() as conn:
        conn.execute(text("INSERT INTO t (v) VALUES (1)"))
        token = database._begin_mode.set("DEFERRED")
        try:
            with second.connect() as reader:
                assert reader.execute(text("SELECT count(*) FROM t")).scalar() == 0
        finally:
            database._begin_mode.reset(token)


def test_the_wal_is_checkpointed_after_the_writer_left_the_queue(engines, tmp_path, monkeypatch):
    first, second = engines
    queue_file = tmp_path / "queue.sqlite3-writers"
    checkpoints = []  # (the queue was free then, rows in the database file after it)
    checkpoint = database._checkpoint_here

    def watched(driver):
        with open(queue_file, "a+b") as other:
            try:
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                free = False
            else:
                free = True
                fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        checkpoint(driver)
        # the database file itself (its WAL ignored) holds every row committed so far
        uri = f"{(tmp_path / 'queue.sqlite3').as_uri()}?immutable=1"
        with closing(sqlite3.connect(uri, uri=True)) as look:
            checkpoints.append((free, look.execute("SELECT count(*) FROM t").fetchone()[0]))

    monkeypatch.setattr(database, "_checkpoint_here", watched)
    monkeypatch.setattr(database, "CHECKPOINT_EVERY", 3)
    monkeypatch.setattr(database, "_commits", itertools.count(1))
    with first.connect() as conn:
        # SQLite's own checkpoint, inside COMMIT, is off on the app's connections
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    for n in range(7):
        with (first if n % 2 else second).begin() as conn:
            conn.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": n})
    token = database._begin_mode.set("DEFERRED")
    try:
        for _ in range(5):  # a reader's commits are not counted
            with first.begin() as conn:
                conn.execute(text("SELECT count(*) FROM t")).scalar()
    finally:
        database._begin_mode.reset(token)
    # the 3rd and 6th write commits checkpointed, with the queue free, copying every row
    assert checkpoints == [(True, 3), (True, 6)]


def test_a_record_filed_and_confirmed_takes_the_write_lock_once_each(login_as, db, world):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    begins: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    unit, village = login_as(world.unit), login_as(world.village_user)
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        begins.clear()
        data = {k: v for k, v in record_data(world.village.code).items() if v is not None}
        filed = unit.post("/records/new", data={**data, "action": "submit"})
        assert filed.status_code == 302, filed.get_data(as_text=True)[:500]
        record_id = int(re.search(r"/records/(\d+)$", filed.headers["Location"]).group(1))
        assert begins.count("BEGIN IMMEDIATE") == 1, begins
        begins.clear()
        confirmed = village.post(f"/records/{record_id}/confirm", data={"version": "", "next": ""})
        assert confirmed.status_code == 302 and confirmed.headers["Location"].endswith(f"/records/{record_id}")
        assert begins.count("BEGIN IMMEDIATE") == 1, begins
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def test_a_write_request_reads_who_is_asking_before_it_takes_the_write_lock(login_as, db, world):
    """One writer at a time: the login look-up is read in a reader's transaction, ended
    before the request's write transaction begins, so the lock is held for the write
    alone. An ended session is still refused, and nothing is written."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    from registry.accounts.sessions import end_all_sessions
    from tests.factories_records import audit_count

    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.startswith(("BEGIN", "SELECT login_session")):
            seen.append(statement.split(",")[0].split(" FROM")[0][:30])

    unit = login_as(world.unit)
    data = {k: v for k, v in record_data(world.village.code).items() if v is not None}
    db.session.commit()  # the request begins with no transaction open, as a worker's does
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        filed = unit.post("/records/new", data={**data, "action": "submit"})
        assert filed.status_code == 302, filed.get_data(as_text=True)[:500]
        assert seen == ["BEGIN DEFERRED", "SELECT login_session.id", "BEGIN IMMEDIATE"], seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    end_all_sessions(world.unit, "ended_by_admin")
    db.session.commit()
    events = audit_count()
    refused = unit.post("/records/new", data={**data, "action": "submit"})
    assert refused.status_code == 302 and "/login" in refused.headers["Location"]
    assert audit_count() == events



def test_who_is_told_is_read_before_the_write_lock(login_as, db, world):
    """A record filed and submitted, and one confirmed, read who is told (the village's
    accounts, the unit's, with their settings) before their first write takes the lock;
    the notification is written all the same."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    from registry.notifications.models import Notification

    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        if statement.startswith("BEGIN IMMEDIATE"):
            seen.append("lock")
        elif "FROM user_account LEFT OUTER JOIN notification_preference" in statement:
            seen.append("told")

    unit, village = login_as(world.unit), login_as(world.village_user)
    data = {k: v for k, v in record_data(world.village.code).items() if v is not None}
    db.session.commit()
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        filed = unit.post("/records/new", data={**data, "action": "submit"})
        assert filed.status_code == 302, filed.get_data(as_text=True)[:500]
        assert seen == ["told", "lock"], seen
        record_id = int(re.search(r"/records/(\d+)$", filed.headers["Location"]).group(1))
        seen.clear()
        confirmed = village.post(f"/records/{record_id}/confirm", data={"version": "", "next": ""})
        assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:500]
        assert seen == ["told", "lock"], seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    kinds = db.session.scalars(select(Notification.kind).where(Notification.link.endswith(f"/records/{record_id}"))).all()
    assert set(kinds) == {"record_confirmed", "record_submitted"}


@pytest.mark.parametrize("meanwhile", ["elsewhere", "the record"])
def test_a_record_is_read_before_the_write_lock_and_written_with_the_latest_state(login_as, db, world, meanwhile):
    """A record confirmed through the app (``lock_at_first_write``) is read with who may
    act and the year's closes in a reader's transaction, the login look-up's; the write
    lock is taken at the first write. A write another program commits in between (here,
    the moment the reader's transaction ends) does not make the request fail (SQLite
    refuses a write in a transaction whose reads began before another's commit): the
    request's writes begin a writer's transaction of their own. A change to the record
    itself meanwhile is refused as stale, and nothing is written; the audit chain and the
    summaries stay exact either way."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("BEGIN IMMEDIATE is SQLite's")
    import sqlite3

    from registry.audit.services import verify_chain
    from registry.records.models import SupportRecord
    from registry.records.rules import STALE
    from tests.factories_records import audit_count
    from tests.summaries import assert_summaries_exact

    record_id = file_record(world.unit, world.village.code, status="submitted").id
    village = login_as(world.village_user)
    sql, params = (("UPDATE region SET name = name || '村' WHERE code = :code", {"code": world.far_village.code})
                   if meanwhile == "elsewhere" else
                   ("UPDATE support_record SET version = version + 1, title = title || '改' WHERE id = :id",
                    {"id": record_id}))
    events = audit_count()
    db.session.commit()  # the request begins with no transaction open, as a worker's does
    seen: list[str] = []

    def note(conn, cursor, statement, *args):
        seen.append(statement)
        if statement == "COMMIT" and "BEGIN IMMEDIATE" not in seen:
            with closing(sqlite3.connect(db.engine.url.database)) as other, other:
                other.execute(sql, params)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        confirmed = village.post(f"/records/{record_id}/confirm", data={"version": "", "next": ""})
    finally:
        event.remove(db.engine, "before_cursor_execute", note)

    def first(prefix: str) -> int:
        return next(i for i, statement in enumerate(seen) if statement.startswith(prefix))

    lock = seen.index("BEGIN IMMEDIATE")
    assert seen[0] == "BEGIN DEFERRED" and seen[lock - 1] == "COMMIT", seen
    assert not any(statement.startswith("BEGIN") for statement in seen[1:lock]), seen  # one reader's transaction
    for read in ("SELECT login_session.id", "SELECT support_record.id", "SELECT year_close.id"):
        assert first(read) < lock, (read, seen)
    db.session.expire_all()
    stored = db.session.get(SupportRecord, record_id)
    if meanwhile == "elsewhere":
        assert confirmed.status_code == 302, confirmed.get_data(as_text=True)[:500]
        assert stored.status == "confirmed" and audit_count() == events + 1
        assert first("UPDATE support_record") > lock
    else:
        assert confirmed.status_code == 422 and STALE in confirmed.get_data(as_text=True)
        assert stored.status == "submitted" and audit_count() == events
    assert verify_chain().ok
    assert_summaries_exact()
