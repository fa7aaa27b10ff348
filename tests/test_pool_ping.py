"""A database server's pooled connections are pinged when they have sat idle, not at
every checkout (``core.database._ping_when_idle``): a busy worker saves a round trip a
request, and a connection the server dropped while it sat idle is replaced unseen."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from registry.core import database


@pytest.fixture()
def server(db):
    if db.engine.dialect.name == "sqlite":
        pytest.skip("a database server's connections (SQLite has none to lose)")
    return db.engine


def _pings(engine, monkeypatch) -> list:
    pinged = []
    real = engine.dialect.do_ping

    def counted(dbapi_conn):
        pinged.append(dbapi_conn)
        return real(dbapi_conn)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pinged


def test_a_connection_used_moments_ago_is_not_pinged(server, monkeypatch):
    pinged = _pings(server, monkeypatch)
    with server.connect() as conn:
        conn.execute(text("SELECT 1"))
    with server.connect() as conn:  # the same connection, checked in just now
        assert conn.execute(text("SELECT 2")).scalar() == 2
    assert pinged == []


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(server, monkeypatch):
    pinged = _pings(server, monkeypatch)
    first, second = server.connect(), server.connect()  # two pooled connections
    pid = first.execute(text("SELECT pg_backend_pid()")).scalar()
    record = first.connection._connection_record
    first.close()
    record.info[database._LAST_USED] = time.monotonic() - database.PING_AFTER_IDLE_S - 1  # it sat idle
    # the server ends that backend while its connection sits in the pool
    second.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    second.commit()
    second.close()
    both = [server.connect(), server.connect()]  # whichever comes first, the dead one is never used
    try:
        for conn in both:
            assert conn.execute(text("SELECT 3")).scalar() == 3
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        for conn in both:
            conn.close()
    assert len(pinged) == 1, "only the idle connection is pinged"
