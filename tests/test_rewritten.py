"""``core.bulk_load.rewritten``: a table refilled from scratch through a shadow of itself
ends with exactly the refill's rows, while only the rows that differ are written: a kept
row keeps its id, a changed one is updated in place, a vanished key is deleted and a new
one inserted. A statement prepared before (PostgreSQL) still writes to the shadow. An
empty table of a large fill is filled without its secondary indexes, built after it."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from registry.core.bulk_load import rewritten
from registry.dashboard.models import SupportTotal, VillageSupportLast

CELL = dict(level="village", year=2026, month=0, category="funds", status="confirmed", amount_attracted=Decimal(0),
            amount_in_kind=Decimal(0))


def _totals(conn) -> dict:
    rows = conn.execute(select(SupportTotal.id, SupportTotal.region_code, SupportTotal.record_count,
                               SupportTotal.amount))
    return {r.region_code: (r.id, r.record_count, r.amount) for r in rows}


def _fill(conn, cells: dict) -> None:
    conn.execute(insert(SupportTotal), [dict(CELL, region_code=code, record_count=n, amount=Decimal(amount))
                                        for code, (n, amount) in cells.items()])


def test_only_what_differs_is_written_and_the_rest_keeps_its_rows(db):
    conn = db.session.connection()
    _fill(conn, {"430102001001": (1, "10.00"), "430102001002": (2, "20.00"), "430102001003": (3, "30.00")})
    before = _totals(conn)
    with rewritten(conn, (SupportTotal.__table__,)):
        assert _totals(conn) == {}  # within, the name stands for an empty shadow
        _fill(conn, {"430102001001": (1, "10.00"), "430102001002": (5, "50.50"), "430102001004": (4, "40.00")})
    after = _totals(conn)
    assert set(after) == {"430102001001", "430102001002", "430102001004"}
    assert after["430102001001"] == before["430102001001"]  # unchanged: the same row
    assert after["430102001002"] == (before["430102001002"][0], 5, Decimal("50.50"))  # updated in place
    assert after["430102001004"][1:] == (4, Decimal("40.00"))
    db.session.rollback()


def test_a_table_keyed_by_its_primary_key_and_an_empty_one(db):
    conn = db.session.connection()
    rows = [dict(village_code="430102001001", category="funds", org_kind="enterprise", last_confirmed_on=date(2026, 1, 5)),
            dict(village_code="430102001002", category="funds", org_kind="enterprise", last_confirmed_on=date(2026, 2, 5))]
    conn.execute(insert(VillageSupportLast), rows)
    conn.execute(delete(SupportTotal))
    with rewritten(conn, (VillageSupportLast.__table__, SupportTotal.__table__)):
        conn.execute(insert(VillageSupportLast), [dict(rows[0], last_confirmed_on=date(2026, 3, 1))])
        _fill(conn, {"430102001001": (1, "1.00")})  # the empty table is filled directly
    last = dict(conn.execute(select(VillageSupportLast.village_code, VillageSupportLast.last_confirmed_on)).all())
    assert last == {"430102001001": date(2026, 3, 1)}
    assert set(_totals(conn)) == {"430102001001"}
    db.session.rollback()


def test_a_statement_prepared_before_writes_to_the_shadow(db):
    conn = db.session.connection()
    _fill(conn, {"430102001001": (1, "10.00")})
    stmt = select(SupportTotal.record_count).where(SupportTotal.region_code == "430102001001")
    for _ in range(6):  # psycopg prepares a statement at its fifth run
        assert conn.execute(stmt).scalar() == 1
    with rewritten(conn, (SupportTotal.__table__,)):
        assert conn.execute(stmt).scalar() is None
        _fill(conn, {"430102001001": (7, "70.00")})
        assert conn.execute(stmt).scalar() == 7
    assert conn.execute(stmt).scalar() == 7
    db.session.rollback()


def test_a_failure_within_leaves_the_table_as_it_was(db):
    conn = db.session.connection()
    _fill(conn, {"430102001001": (1, "10.00")})
    db.session.commit()
    conn = db.session.connection()
    try:
        with rewritten(conn, (SupportTotal.__table__,)):
            _fill(conn, {"430102001009": (9, "90.00")})
            raise RuntimeError("the refill failed")
    except RuntimeError:
        db.session.rollback()
    conn = db.session.connection()
    assert set(_totals(conn)) == {"430102001001"}
    with rewritten(conn, (SupportTotal.__table__,)):  # the shadow of the failed run is gone
        _fill(conn, {"430102001001": (1, "10.00")})
    assert set(_totals(conn)) == {"430102001001"}
    db.session.rollback()


def _indexes(conn, name: str) -> list:
    found = inspect(conn)
    return sorted([(i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(name)]
                  + [(u["name"], tuple(u["column_names"]), True) for u in found.get_unique_constraints(name)])


def test_an_empty_table_filled_with_its_indexes_built_after(db):
    conn = db.session.connection()
    conn.execute(delete(SupportTotal))
    indexes = _indexes(conn, "support_total")
    assert len(indexes) >= 2
    with rewritten(conn, (SupportTotal.__table__,), indexes_later=True):
        assert len(_indexes(conn, "support_total")) < len(indexes)  # filled without (some of) them
        _fill(conn, {"430102001001": (1, "10.00"), "430102001002": (2, "20.00")})
    assert _indexes(conn, "support_total") == indexes
    assert set(_totals(conn)) == {"430102001001", "430102001002"}
    db.session.rollback()


def test_a_duplicate_key_still_fails_when_the_indexes_come_after(db):
    conn = db.session.connection()
    conn.execute(delete(SupportTotal))
    with pytest.raises(IntegrityError), rewritten(conn, (SupportTotal.__table__,), indexes_later=True):
        _fill(conn, {"430102001001": (1, "10.00")})
        _fill(conn, {"430102001001": (1, "10.00")})
    db.session.rollback()


def test_a_bulk_load_with_its_foreign_keys_added_after_still_checks_them(db):
    """``indexes_after(..., foreign_keys=True)``: on PostgreSQL the table's foreign keys
    are dropped for the load and added back after it, which checks every row loaded; on
    SQLite they stay (and check each row as it comes)."""
    from registry.core.bulk_load import indexes_after
    from registry.pairings.models import Pairing
    from tests.factories import make_org, make_village

    org, village = make_org(), make_village()
    conn = db.session.connection()
    keys = inspect(conn).get_foreign_keys("pairing")
    row = dict(organization_id=org.id, region_code=village.code, kind="resident", start_date=date(2025, 1, 1),
               version=1, is_demo=False)
    with indexes_after(conn, ["pairing"], foreign_keys=True):
        if conn.dialect.name == "postgresql":
            assert inspect(conn).get_foreign_keys("pairing") == []
        conn.execute(insert(Pairing.__table__), [row])
    assert inspect(conn).get_foreign_keys("pairing") == keys
    with pytest.raises(IntegrityError), indexes_after(conn, ["pairing"], foreign_keys=True):
        conn.execute(insert(Pairing.__table__), [dict(row, organization_id=org.id + 999)])
    db.session.rollback()


def test_a_refill_that_changes_nothing_writes_nothing_to_the_real_table(db):
    """The differences are found in one pass (a full join into a diff table): the real
    table is read once and, the refill being the same, no statement writes to it."""
    from sqlalchemy import event

    conn = db.session.connection()
    _fill(conn, {"430102001001": (1, "10.00"), "430102001002": (2, "20.00")})
    before = _totals(conn)
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with rewritten(conn, (SupportTotal.__table__,)):
            _fill(conn, {"430102001001": (1, "10.00"), "430102001002": (2, "20.00")})
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert _totals(conn) == before
    real = ("main.support_total", "public.support_total")
    writes = [s for s in seen if s.startswith(("DELETE", "UPDATE", "INSERT")) and any(r in s for r in real)]
    assert writes == []
    db.session.rollback()
