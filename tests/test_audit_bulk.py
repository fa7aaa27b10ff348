"""The bulk path of the audit chain (``record_many``, ``FlatCanonical``): events written
straight to the driver read back as ``record`` would have written them."""
from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.audit.services import FlatCanonical, canonical, compute_hash, record, record_many, verify_chain
from tests.tampering import tamper

ODD_TEXTS = ["", "帮扶项目", 'a "quoted" \\ back', "tab\there\nnew line", "100% 完成 %s %(x)s", "\x00\x1f\u2028",
             "emoji 😀", "'=1+1"]


def _events(db):
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_record_many_stores_what_record_stores(db, make_user):
    user = make_user("admin")
    user_id, username = user.id, user.username
    record("create", "Region", after={"n": 1}, summary="before", actor=user)
    db.session.commit()  # events are written when their transaction commits
    earlier = len(_events(db))  # the user's creation and the event above
    items = [
        # (PostgreSQL text cannot hold NUL: the summary goes without it; the JSON escapes it)
        {"action": "create", "entity_type": "SupportRecord", "entity_id": n, "summary": text.replace("\x00", "") * 60,
         "region_code": "433101001001" if n % 2 else None, "organization_id": n if n % 3 else None,
         "before": {"status": "draft"} if n == 2 else None,
         "after": {"title": text, "amount": Decimal("12.50"), "day": date(2025, 1, n + 1), "n": n, "ok": True,
                   "none": None, "at": datetime(2026, 1, 2, 3, 4, 5, 6)}}
        for n, text in enumerate(ODD_TEXTS, start=1)
    ]
    assert record_many(items, actor=user) == len(items)
    record("create", "Region", after={"n": 2}, summary="after", actor=user)
    db.session.commit()
    db.session.expunge_all()
    events = _events(db)
    ids = [e.id for e in events]  # in the order recorded (a sequence's on PostgreSQL, not restarted per test)
    assert len(ids) == len(items) + earlier + 1 and ids == sorted(set(ids))
    bulk = events[earlier:-1]
    for item, event in zip(items, bulk):
        assert event.actor_id == user_id and event.actor == username
        assert event.action == "create" and event.entity_type == "SupportRecord"
        assert event.entity_id == str(item["entity_id"])
        assert event.summary == item["summary"][:300]
        assert event.region_code == item["region_code"] and event.organization_id == item["organization_id"]
        assert event.before == canonical(item["before"])
        assert event.after == canonical(item["after"])
        assert event.hash == compute_hash(event)  # the hash record() and verify compute
        assert event.at == bulk[0].at
    for chain in {e.chain for e in events}:  # each chain linked in the order recorded
        linked = sorted((e for e in events if e.chain == chain), key=lambda e: e.seq)
        assert [e.seq for e in linked] == list(range(1, len(linked) + 1))
        assert [e.id for e in linked] == sorted(e.id for e in linked)
        assert [e.prev_hash for e in linked[1:]] == [e.hash for e in linked[:-1]]
    report = verify_chain()
    assert report.ok and report.checked == len(items) + earlier + 1


def test_record_many_takes_the_after_text_ready_made(db):
    after = {"title": "帮扶项目", "amount": "1.00", "id": 3}
    record_many([
        {"action": "create", "entity_type": "SupportRecord", "entity_id": 3, "summary": "x", "after": after},
        {"action": "create", "entity_type": "SupportRecord", "entity_id": 3, "summary": "x",
         "after_json": canonical(after)},
        {"action": "create", "entity_type": "SupportRecord", "entity_id": 3, "summary": "x", "after": None},
    ])
    db.session.commit()
    first, second, third = _events(db)
    assert first.after == second.after == canonical(after)
    assert third.after is None
    assert verify_chain().ok


def test_the_bulk_chain_is_the_one_record_would_make(db, monkeypatch):
    """The same events, at the same instant, by ``record`` one by one and by
    ``record_many``: the same hashes."""
    from registry.audit import services

    instant = datetime(2026, 3, 4, 5, 6, 7, 890123)
    monkeypatch.setattr(services, "utcnow", lambda: instant)
    items = [{"action": "create", "entity_type": "Person", "entity_id": n, "summary": f"登记 {n}",
              "after": {"name": f"人{n}", "note": ODD_TEXTS[n % len(ODD_TEXTS)]},
              "region_code": "433101000000", "organization_id": 7} for n in range(1, 6)]
    for item in items:
        record(item["action"], item["entity_type"], after=item["after"], summary=item["summary"],
               region_code=item["region_code"], organization_id=item["organization_id"])
    db.session.commit()
    one_by_one = [e.hash for e in _events(db)]
    # ``record`` takes a str entity for an empty entity_id; compare with the same id
    first = _events(db)[0].id
    tamper(db, AuditEvent.__table__.delete())  # (on PostgreSQL the table refuses DELETE)
    if db.engine.dialect.name == "postgresql":  # the same ids again: the hashes cover them
        tamper(db, f"SELECT setval('audit_event_id_seq', {first}, false)")
    record_many([{**item, "entity_id": ""} for item in items])
    db.session.commit()
    assert [e.hash for e in _events(db)] == one_by_one


def _ahead_items(n: int, region_code: str = "433101001001") -> list[tuple]:
    return [("create", "SupportRecord", str(k), f"导入 {k}", region_code, 7, None, canonical({"n": k}))
            for k in range(1, n + 1)]


def test_events_hashed_ahead_are_written_as_hashed(db, make_user, monkeypatch):
    """``Chain.ahead`` (SQLite) hashes the events as they are added: the commit inserts
    those rows without hashing them again, and they are the chain's."""
    from registry.audit import services

    user = make_user("admin")
    db.session.commit()
    earlier = len(_events(db))
    chain = services.open_chain(user)
    ahead = chain.ahead(db.session.connection(), {"433101001001", "430102001001"})
    ahead.add(_ahead_items(3))
    ahead.add(_ahead_items(2, "430102001001"))
    sqlite = db.engine.dialect.name == "sqlite"
    assert len(ahead.linker.rows) == 5 if sqlite else ahead.linker is None
    if sqlite:  # the commit takes the rows as they were hashed
        monkeypatch.setattr(services._Linker, "link", lambda *args: pytest.fail("hashed again at the commit"))
    chain.write(ahead)
    db.session.commit()
    events = _events(db)[earlier:]
    assert [(e.entity_id, e.region_code) for e in events] == [(str(k), "433101001001") for k in (1, 2, 3)] + [
        (str(k), "430102001001") for k in (1, 2)]
    assert all(e.hash == compute_hash(e) for e in events)
    assert verify_chain().ok


@pytest.mark.parametrize("meanwhile", ["recorded before", "chain not read"])
def test_events_hashed_ahead_are_hashed_again_when_the_chain_moved(db, make_user, meanwhile):
    """Events hashed ahead onto heads that are no longer the heads at their turn (the
    transaction queued another event first), or onto a chain whose head was not read
    (another city's, which has an event), are hashed again by the commit: the chains
    hold either way."""
    from registry.audit import services

    user = make_user("admin")
    record("create", "Region", after={"n": 0}, summary="another city's chain", region_code="430102000000", actor=user)
    db.session.commit()
    chain = services.open_chain(user)
    ahead = chain.ahead(db.session.connection(), {"433101001001"})
    if meanwhile == "recorded before":
        record("create", "Region", after={"n": 1}, summary="first in the transaction", region_code="433101000000",
               actor=user)
        ahead.add(_ahead_items(3))
    else:
        ahead.add([*_ahead_items(2), *_ahead_items(1, "430102001001")])
    chain.write(ahead)
    db.session.commit()
    events = _events(db)
    assert [e.entity_id for e in events[-3:]] == (["1", "2", "3"] if meanwhile == "recorded before" else ["1", "2", "1"])
    assert all(e.hash == compute_hash(e) for e in events)
    assert verify_chain().ok


@pytest.mark.parametrize("value", [*ODD_TEXTS, None, True, False, 0, -7, 10**20, 1.5, 1e308, Decimal("3.10"),
                                   date(2025, 6, 18), datetime(2026, 1, 2, 3, 4, 5, 6)])
def test_flat_canonical_is_canonical(value):
    fixed = {"status": "submitted", "note": "100% %s", "none": None, "flag": False, "v": 1}
    make = FlatCanonical(fixed, ["value", "amount", "a%"])
    values = {"value": value, "amount": "12.00", "a%": value}
    text = make.make(values)
    assert text == canonical({**fixed, **values})
    assert json.loads(text)["status"] == "submitted"


def test_flat_canonical_refuses_a_key_both_fixed_and_varying():
    with pytest.raises(ValueError):
        FlatCanonical({"a": 1}, ["a"])


@pytest.mark.parametrize("value", [Decimal("3.10"), Decimal("0.00"), Decimal("1E+2"), date(2025, 6, 18)])
def test_flat_canonical_quoted_keys_take_the_value_as_is(value):
    fixed = {"status": "submitted", "note": "100% %s"}
    make = FlatCanonical(fixed, ["value", "amount"], quoted=("value",))
    values = {"value": value, "amount": "12.00"}
    assert make.make(values) == canonical({**fixed, **values})
    assert make.template % ('"12.00"', value) == canonical({**fixed, **values})  # in key order: amount, value
    with pytest.raises(ValueError):
        FlatCanonical(fixed, ["value"], quoted=("other",))
