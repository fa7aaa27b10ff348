"""The bulk write helpers a large import uses: a read run right after the copy
(``inserting_many(..., then=...)``), and a commit that leaves the WAL checkpoint to a
thread of its own (``commit_checkpointing_later``)."""
from __future__ import annotations

import sqlite3
import threading

import pytest
from sqlalchemy import func, select

from registry.core.bulk_load import commit_checkpointing_later
from registry.regions.models import Region
from registry.transfer.bulk import inserting_many


FIXED = {"is_poor": False, "is_key": False, "is_relocation": False, "is_demo": True}


def _villages(n: int, prefix: str) -> list[tuple]:
    return [(f"{prefix}{i:03d}", f"批量{i}村", "village") for i in range(1, n + 1)]


@pytest.mark.parametrize("meanwhile", [True, False])
def test_the_read_after_the_copy_sees_the_rows_copied(db, meanwhile):
    table = Region.__table__
    before = db.session.scalar(select(func.count()).select_from(table))
    ran_on: list[str] = []

    def count(conn):
        ran_on.append(threading.current_thread().name)
        return conn.execute(select(func.count()).select_from(table)).scalar()

    with inserting_many(table, ("code", "name", "level"), _villages(30, "439901001"), FIXED,
                        meanwhile=meanwhile, then=count) as done:
        pass
    assert done == [before + 30]
    if db.engine.dialect.name == "sqlite":  # on the copying thread when the copy runs meanwhile
        assert (ran_on[0] == "staged-insert") is meanwhile
    db.session.rollback()


def test_a_bulk_commit_commits_and_leaves_the_checkpoint_to_its_own_thread(db):
    table = Region.__table__
    with inserting_many(table, ("code", "name", "level"), _villages(20, "439901002"), FIXED) as done:
        pass
    assert done == []
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        setting = db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    commit_checkpointing_later(db.session)
    for thread in threading.enumerate():
        if thread.name == "wal-checkpoint":
            thread.join()
    stored = db.session.scalar(select(func.count()).select_from(table).where(table.c.code.like("439901002%")))
    assert stored == 20
    if sqlite:
        # the connection's own setting is back, and the WAL holds nothing left to copy
        assert db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == setting
        db.session.rollback()
        with sqlite3.connect(db.engine.url.database) as other:
            busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert busy == 0 and frames == copied
            assert other.execute("SELECT count(*) FROM region WHERE code LIKE '439901002%'").fetchone()[0] == 20


def test_a_bulk_commit_runs_with_the_large_page_cache_then_gives_the_connection_its_own_back(db):
    """The commit's own inserts (the audit events of a large import) run with the bulk
    write's page cache; the connection that goes back to the pool has its own again."""
    from sqlalchemy import event

    from registry.core.bulk_load import LARGE_PAGE_CACHE_KIB

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's page cache")
    own = db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
    assert own != -LARGE_PAGE_CACHE_KIB
    with inserting_many(Region.__table__, ("code", "name", "level"), _villages(5, "439901003"), FIXED):
        pass
    during: list[int] = []

    def look(session):
        during.append(session.connection().exec_driver_sql("PRAGMA cache_size").scalar())

    session = db.session()
    event.listen(session, "before_commit", look)
    try:
        commit_checkpointing_later(db.session)
    finally:
        event.remove(session, "before_commit", look)
    for thread in threading.enumerate():
        if thread.name == "wal-checkpoint":
            thread.join()
    assert during == [-LARGE_PAGE_CACHE_KIB]
    assert db.session.connection().exec_driver_sql("PRAGMA cache_size").scalar() == own
    db.session.rollback()


def test_the_staging_table_is_dropped_when_the_connection_goes_back_to_the_pool(tmp_path):
    """The staged rows are not dropped inside the import (0.03-0.1 s a table at 40,000
    rows) but when its connection is checked in; a rollback takes the table with it. They
    are kept in an in-memory database of their own, not in the connection's temporary one."""
    from sqlalchemy import column, create_engine, table as table_clause, text

    from registry.core import bulk_load, database

    engine = create_engine(f"sqlite:///{tmp_path / 'staging.sqlite3'}")
    database.configure_engine(engine)
    token = database.set_begin_mode("IMMEDIATE")
    staged = f"SELECT name FROM {bulk_load.STAGE}.sqlite_master WHERE type = 'table'"
    temp_tables = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER, w TEXT)"))
        table = table_clause("t", column("id"), column("v"), column("w"))
        with engine.connect() as conn:
            driver = conn.connection.driver_connection
            with conn.begin():
                bulk_load.staged_insert(conn, table, ("v",), [(n,) for n in range(100)], {"w": "x"})
            assert conn.execute(text("SELECT count(*), min(w) FROM t")).one() == (100, "x")
            assert [r[0] for r in driver.execute(staged)] == ["bulk_staging_t"]  # kept while in use
            assert driver.execute(temp_tables).fetchall() == []
        with engine.connect() as conn:  # the same pooled connection, checked in and out again
            assert conn.connection.driver_connection is driver
            assert driver.execute(staged).fetchall() == []
            with conn.begin() as trans:
                bulk_load.staged_insert(conn, table, ("v",), [(1,)], {"w": "y"})
                trans.rollback()
            assert driver.execute(staged).fetchall() == []
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 100
    finally:
        token.var.reset(token)
        engine.dispose()


def test_a_bulk_commit_does_not_also_checkpoint_in_line(db, monkeypatch):
    """Every CHECKPOINT_EVERY-th write commit checkpoints after leaving the writers' queue,
    but not a bulk write's, whose checkpoint runs on a thread of its own."""
    from registry.core import database

    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's WAL")
    ran = []
    monkeypatch.setattr(database, "_checkpoint_here", ran.append)
    monkeypatch.setattr(database, "CHECKPOINT_EVERY", 1)
    with inserting_many(Region.__table__, ("code", "name", "level"), _villages(5, "439901003"), FIXED):
        pass
    commit_checkpointing_later(db.session)
    for thread in threading.enumerate():
        if thread.name == "wal-checkpoint":
            thread.join()
    assert ran == []
    db.session.execute(Region.__table__.update().where(Region.code == "439901003001").values(name="批量改名村"))
    db.session.commit()
    assert len(ran) == 1
