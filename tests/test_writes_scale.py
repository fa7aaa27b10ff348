"""Writes that scale (issue 16): no lock for all writers. A transaction's summaries are
recomputed once, before it commits, under a lock per area (township); its audit events
go into the chain of their city, under a lock per chain; both sets of locks are taken in
sorted order. Bulk jobs recompute each area once."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from registry.audit.anchor import read_checkpoint
from registry.audit.models import AuditEvent
from registry.audit.services import record, verify_chain
from registry.core.database import AREA_LOCKS, CHAIN_LOCKS
from registry.core.timeutil import local_today, utcnow
from registry.dashboard import summary
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_support
from tests.summaries import assert_summaries_exact
from tests.tampering import tamper


def test_ending_a_round_recomputes_each_area_once(db, runner, make_user, monkeypatch):
    org = make_org()
    villages = [make_village(COUNTY, n) for n in (1, 2, 3)] + [make_village(OTHER_COUNTY, 4)]
    for village in villages:
        for role in ("first_secretary", "team_member"):
            make_posting(make_person(org), org, village.code, role=role, start=date(2024, 9, 1), round="2024届")
    make_user("admin", username="chen.admin")
    recomputed: list[list[str]] = []
    real = summary.refresh_areas
    monkeypatch.setattr(summary, "refresh_areas", lambda conn, areas, today=None, **kw: (
        recomputed.append(sorted(areas or ())), real(conn, areas, today, **kw))[1])
    result = runner.invoke(args=["people", "end-round", "2024届", "--date", "2026-09-30", "--as", "chen.admin"])
    assert result.exit_code == 0, result.output
    # eight postings, eight flushes: one recomputation of the two areas, at the commit
    assert recomputed == [sorted({v.code[:9] + "000" for v in villages})]
    monkeypatch.undo()
    assert_summaries_exact()


def test_a_savepoint_rolled_back_takes_its_summary_work_and_events_with_it(db):
    org, village = make_org(), make_village()
    kept = make_support(org, village.code, local_today() - timedelta(days=3))
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    nested = db.session.begin_nested()
    make_support_uncommitted = kept.__class__(
        organization_id=org.id, village_code=village.code, category="funds", title="撤回的", amount=1,
        record_date=local_today(), status="confirmed")
    db.session.add(make_support_uncommitted)
    record("create", "Region", after={"n": 1}, summary="撤回的事件", region_code=village.code)
    db.session.flush()
    nested.rollback()
    record("create", "Region", after={"n": 2}, summary="留下的事件", region_code=village.code)
    db.session.commit()
    summaries = [e.summary for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))][before:]
    assert summaries == ["留下的事件"]
    assert verify_chain().ok
    assert_summaries_exact()


def test_each_city_has_its_own_chain_anchored_in_one_checkpoint(db):
    for n in range(3):
        record("create", "Region", after={"n": n}, summary=f"吉首 {n}", region_code="433101001001")
        record("create", "Region", after={"n": n}, summary=f"浏阳 {n}", region_code="430181001001")
        db.session.commit()
    record("create", "Region", after={"n": 9}, summary="省级", region_code="430000000000")
    db.session.commit()
    rows = db.session.execute(select(AuditEvent.chain, AuditEvent.seq).order_by(AuditEvent.id)).all()
    assert [tuple(r) for r in rows] == [("4331", 1), ("4301", 1), ("4331", 2), ("4301", 2), ("4331", 3),
                                        ("4301", 3), ("", 1)]
    checkpoint = read_checkpoint()
    assert checkpoint.valid and checkpoint.count == 7 and set(checkpoint.heads) == {"", "4301", "4331"}
    assert verify_chain().ok
    # one chain's tail cut off: found, and named by its chain
    tamper(db, "DELETE FROM audit_event WHERE chain = '4301' AND seq = 3")
    report = verify_chain()
    assert not report.ok and (report.chain, report.seq) == ("4301", 3)
    # an event moved into another chain no longer verifies
    tamper(db, "DELETE FROM audit_event WHERE chain = '4301' AND seq > 1")
    tamper(db, "UPDATE audit_event SET chain = '4301', seq = 2 WHERE chain = '4331' AND seq = 3")
    report = verify_chain()
    assert not report.ok and report.chain == "4301"


def test_a_checkpoint_file_from_before_the_partitions_is_read_as_the_root_chain(db, app):
    import json

    from registry.audit import anchor

    record("create", "Region", after={"n": 1}, summary="旧链")
    db.session.commit()
    head = db.session.scalar(select(AuditEvent.hash))
    keys = anchor.keyring()
    body = {"count": 1, "hash": head, "legacy_end": 0, "at": "2026-12-01T00:00:00", "key_id": keys.current_id}
    line = json.dumps({**body, "signature": anchor._sign(keys.checkpoint[keys.current_id], anchor._signed_text(body))},
                      sort_keys=True, separators=(",", ":")).encode()
    slot = line.ljust(anchor.OLD_SLOT - 1) + b"\n"
    with open(app.config["AUDIT_CHECKPOINT_PATH"], "wb") as fh:
        fh.write(slot + b" " * (anchor.OLD_SLOT - 1) + b"\n")
    checkpoint = read_checkpoint()
    assert checkpoint.valid and checkpoint.heads == {"": (1, head)}
    assert verify_chain().ok
    record("create", "Region", after={"n": 2}, summary="新链", region_code="433101001001")
    db.session.commit()
    assert read_checkpoint().heads.keys() == {"", "4331"}
    assert verify_chain().ok


def test_a_write_locks_only_its_own_area_and_chain(db, app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no advisory locks")
    org, village = make_org(), make_village()
    row = make_support(org, village.code, local_today() - timedelta(days=3), status="submitted")
    locks: list[tuple] = []

    def seen(_conn, _cursor, statement, parameters, _context, _many):
        if "pg_advisory" in statement:
            locks.append((parameters["cls"], parameters["key"]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        assert row.status == "submitted"  # loaded, as a service loads it before a change
        row.status = "confirmed"
        record("confirm", row, summary="村确认")
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert locks == [(AREA_LOCKS, int(village.code[:9])), (CHAIN_LOCKS, int(village.code[:4]))]
    assert_summaries_exact()


def test_the_rows_above_the_areas_are_added_last(db):
    """Every writer of a province adds to the same province rows (and most to their
    city's and county's), which an upsert keeps locked until the commit: they are added
    after the areas are recomputed and the audit events written, so a writer holds them
    for its last statements only."""
    org, village = make_org(), make_village()
    db.session.commit()
    written: list[tuple[str, set]] = []

    def note(conn, cursor, statement, params, context, executemany):
        # the driver's parameters (dicts on PostgreSQL, tuples on SQLite, where the summary
        # upserts go to the driver as they are: additions.upsert_rows)
        rows = params if executemany else [params]
        levels = {value for row in rows for value in (row.values() if isinstance(row, dict) else row or ())
                  if isinstance(value, str)}
        written.append((" ".join(statement.split()[:3]), levels))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        db.session.add(type(make_support(org, village.code, local_today() - timedelta(days=4)))(
            organization_id=org.id, village_code=village.code, category="funds", title="压测", amount=5,
            record_date=local_today() - timedelta(days=3), status="confirmed", submitted_at=utcnow()))
        record("create", "Region", after={"n": 1}, summary="一笔", region_code=village.code)
        written.clear()
        db.session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    audit = max(i for i, (sql, _) in enumerate(written) if "audit_event" in sql)
    recomputed = max(i for i, (sql, _) in enumerate(written) if "area_summary" in sql)
    above = [i for i, (_, levels) in enumerate(written) if levels & {"county", "city", "province"}]
    assert above and min(above) > audit > recomputed
    assert_summaries_exact()


def test_a_record_recomputes_its_area_but_not_its_gaps_by_day(db, monkeypatch):
    """A confirmed record moves its area's figures (the latest confirmed support), never
    the gaps by day (postings, training, care): those are left alone, and stay exact."""
    from registry.dashboard import gap_days

    org, village = make_org(), make_village()
    make_posting(make_person(org), org, village.code, role="first_secretary", start=date(2024, 9, 1))
    db.session.commit()
    areas, gaps = [], []
    real_areas, real_gaps = summary.refresh_areas, gap_days.area_rows
    monkeypatch.setattr(summary, "refresh_areas", lambda conn, chosen, today=None, **kw: (
        areas.append(sorted(chosen or ())), real_areas(conn, chosen, today, **kw))[1])
    monkeypatch.setattr(gap_days, "area_rows", lambda conn, chosen, *rest: (
        gaps.append(chosen), real_gaps(conn, chosen, *rest))[1])
    make_support(org, village.code, local_today() - timedelta(days=3))
    assert areas == [[village.code[:9] + "000"]] and gaps == []
    make_posting(make_person(org), org, village.code, role="team_member", start=date(2024, 9, 1))
    db.session.commit()
    assert gaps == [[village.code[:9] + "000"]]
    assert_summaries_exact()
