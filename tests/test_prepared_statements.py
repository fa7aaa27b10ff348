"""PostgreSQL keeps its plans across requests: a transaction that wrote nothing ends by
COMMIT (``core.database._keep_prepared_statements``), so psycopg's prepared statements
survive it; one that wrote, or failed, is still rolled back."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import ProgrammingError

from registry.regions.models import Region


@pytest.fixture()
def pg(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements: PostgreSQL only")
    with db.engine.connect() as conn:
        yield conn


def _prepared(conn) -> int:
    return conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()


def test_a_statement_run_in_many_read_transactions_is_prepared_once_and_kept(pg):
    stmt = select(Region.name).where(Region.code == "430000000000")
    for _ in range(8):  # psycopg prepares at the fifth run; each transaction is rolled back
        assert pg.execute(stmt).scalar() == "湖南省"
        pg.rollback()
    assert _prepared(pg) >= 1
    pg.rollback()


def test_a_transaction_that_wrote_is_still_rolled_back(pg):
    pg.execute(text("CREATE TEMPORARY TABLE scratch (n integer)"))
    pg.commit()
    pg.execute(text("INSERT INTO scratch VALUES (1)"))
    pg.rollback()
    assert pg.execute(text("SELECT count(*) FROM scratch")).scalar() == 0
    pg.rollback()


def test_a_failed_transaction_is_rolled_back_and_the_connection_goes_on(pg):
    with pytest.raises(ProgrammingError):
        pg.execute(text("SELECT no_such_column FROM region"))
    pg.rollback()
    assert pg.execute(select(Region.level).where(Region.code == "430000000000")).scalar() == "province"
    pg.rollback()


def test_a_transaction_of_selects_ends_without_asking_the_server(pg, monkeypatch):
    """Only SELECTs: committed without the round trip that asks whether it wrote; a
    transaction that ran anything else is asked about, and kept if it wrote nothing."""
    from registry.core import database

    asked: list[bool] = []
    ask = database._holds_a_transaction_id
    monkeypatch.setattr(database, "_holds_a_transaction_id", lambda driver: asked.append(ask(driver)) or asked[-1])
    for _ in range(6):
        assert pg.execute(select(Region.name).where(Region.code == "430000000000")).scalar() == "湖南省"
        pg.rollback()
    assert asked == []
    assert _prepared(pg) >= 1
    pg.rollback()
    pg.execute(text("SET LOCAL statement_timeout = '5s'"))
    pg.rollback()
    assert asked == [False]
    assert _prepared(pg) >= 1  # committed: still prepared
    pg.rollback()
