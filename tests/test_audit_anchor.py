"""The audit trail's anchor: a keyed chain plus signed checkpoints of its head kept outside
the database. Whoever holds a copy of the database but not the server's keys or its
checkpoint file can neither cut the tail off, nor empty the table, nor rewrite an event
and re-hash the rest without ``verify_chain`` saying so."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from registry.audit.models import AuditEvent
from registry.audit.services import record, verify_chain
from tests.tampering import tamper


def _write(db, n: int, start: int = 1) -> None:
    for i in range(start, start + n):
        record("create", "Region", after={"n": i}, summary=f"事件 {i}", region_code="433101000000")
        db.session.commit()  # one transaction each, as requests write them


def _plain_sha256(row: dict, prev: str) -> str:
    """What the chain's hash was before it was keyed: SHA-256 of the columns joined by |."""
    payload = "|".join([
        prev, str(row["id"]), row["at"].isoformat(timespec="microseconds"), str(row["actor_id"] or ""),
        row["actor"], row["action"], row["entity_type"], row["entity_id"], row["summary"] or "",
        row["region_code"] or "", str(row["organization_id"] or ""), row["before"] or "", row["after"] or "",
    ])
    return hashlib.sha256(payload.encode()).hexdigest()


def _rehash_from(db, event_id: int, summary: str, *, legacy_key: bool) -> None:
    """Edit one event's summary and recompute every hash from there on, with plain SHA-256
    (the tests' events are all in one chain; ``event_id`` is the place in it)."""
    table = AuditEvent.__table__
    has_key_id = "key_id" in table.c
    rows = [dict(r) for r in db.session.execute(select(table).order_by(table.c.chain, table.c.seq)).mappings()]
    prev = next((r["hash"] for r in rows if r["seq"] == event_id - 1), "0" * 64)
    statements, params = [], {}
    for row in rows:
        if row["seq"] < event_id:
            continue
        if row["seq"] == event_id:
            row["summary"] = summary
        digest = _plain_sha256(row, prev)
        n = row["id"]
        key = ", key_id = 0" if (has_key_id and legacy_key) else ""
        statements.append(f"UPDATE audit_event SET summary = :s{n}, prev_hash = :p{n}, hash = :h{n}{key} WHERE id = {n}")
        params.update({f"s{n}": row["summary"], f"p{n}": prev, f"h{n}": digest})
        prev = digest
    tamper(db, *statements, params=params)


def test_cutting_off_the_last_events_is_detected(db, runner):
    _write(db, 8)
    assert verify_chain().ok
    tamper(db, "DELETE FROM audit_event WHERE seq > 3")
    report = verify_chain()
    assert not report.ok and (report.chain, report.seq) == ("4331", 4)
    assert "3" in report.reason and "8" in report.reason  # 3 events left, the checkpoint saw 8
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "审计链断裂" in result.output


def test_emptying_the_table_is_detected(db, runner):
    _write(db, 4)
    tamper(db, "DELETE FROM audit_event")
    report = verify_chain()
    assert not report.ok and report.seq == 1 and report.checked == 0
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "审计链完整" not in result.output


@pytest.mark.parametrize("legacy_key", [False, True], ids=["same-key-id", "marked-legacy"])
def test_editing_an_event_and_rehashing_the_rest_with_sha256_is_detected(db, legacy_key):
    _write(db, 6)
    _rehash_from(db, 3, "篡改后的摘要", legacy_key=legacy_key)
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.seq == 3)) == "篡改后的摘要"
    report = verify_chain()
    assert not report.ok and report.seq == 3


def test_rehashing_events_written_since_the_last_checkpoint_is_detected(db, app, tmp_path):
    """The key alone catches a re-hash even where no checkpoint covers the event yet."""
    _write(db, 3)
    checkpoint = app.config["AUDIT_CHECKPOINT_PATH"]
    import os

    os.remove(checkpoint)
    _rehash_from(db, 2, "篡改", legacy_key=False)
    report = verify_chain()
    assert not report.ok and report.seq == 2


def test_a_truncation_is_not_laundered_by_the_next_write(db):
    """Events written after a cut reuse the lost places; the checkpoint is not moved onto
    the forged tail, so verification still fails."""
    _write(db, 6)
    tamper(db, "DELETE FROM audit_event WHERE seq > 2")
    _write(db, 5, start=100)
    report = verify_chain()
    assert not report.ok and (report.chain, report.seq) == ("4331", 6)


def test_every_commit_that_writes_events_moves_the_signed_checkpoint(db, app):
    from registry.audit.anchor import read_checkpoint

    _write(db, 2)
    checkpoint = read_checkpoint()
    head = db.session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc())).first()
    assert checkpoint.valid and checkpoint.count == 2 and checkpoint.heads == {"4331": (2, head.hash)}
    path = app.config["AUDIT_CHECKPOINT_PATH"]
    with open(path) as fh:
        text = fh.read()
    assert '"count":2,' in text
    with open(path, "w") as fh:
        fh.write(text.replace('"count":2,', '"count":1,'))  # edited by hand: the signature no longer holds
    report = verify_chain()
    assert not report.ok and "签名" in report.reason


def test_a_checkpoint_written_reads_back_as_parsed_from_its_bytes(db, app):
    """The checkpoint a commit remembers for the slot it wrote (so the next commit's read
    need not parse it) is the one the slot's bytes parse to."""
    from registry.audit import anchor

    _write(db, 3)
    with open(app.config["AUDIT_CHECKPOINT_PATH"], "rb") as fh:
        raw = fh.read()
    keys = anchor.keyring()
    remembered = [anchor._PARSED[(id(keys), raw[i * anchor.SLOT:(i + 1) * anchor.SLOT])][1] for i in range(2)
                  if (id(keys), raw[i * anchor.SLOT:(i + 1) * anchor.SLOT]) in anchor._PARSED]
    assert remembered
    for checkpoint in remembered:
        parsed = [anchor._parse(raw[i * anchor.SLOT:(i + 1) * anchor.SLOT], keys) for i in range(2)]
        assert checkpoint in parsed and checkpoint.valid


def test_the_chain_verifies_across_a_key_rotation(db, app, monkeypatch):
    _write(db, 2)
    old = app.config.get("AUDIT_KEY") or app.config["DATA_KEY"]
    for name, value in {"AUDIT_KEY": "a-new-audit-key", "AUDIT_KEY_ID": 2, "AUDIT_OLD_KEYS": f"1:{old}"}.items():
        monkeypatch.setitem(app.config, name, value)
    _write(db, 2, start=3)
    keys = db.session.scalars(select(AuditEvent.key_id).order_by(AuditEvent.id)).all()
    assert keys == [1, 1, 2, 2]
    assert verify_chain().ok
    monkeypatch.setitem(app.config, "AUDIT_OLD_KEYS", "")  # the old key lost: its events cannot be checked
    report = verify_chain()
    assert not report.ok and report.seq == 1 and "密钥" in report.reason


def test_events_written_before_the_chain_was_keyed_keep_verifying(db):
    """Rows stored before the upgrade carry key id 0 (plain SHA-256); they still verify,
    the first keyed event seals them, and nobody can append more of them later."""
    table = AuditEvent.__table__
    from datetime import datetime

    prev = "0" * 64
    for n in (1, 2, 3):
        row = {"id": n, "at": datetime(2026, 1, 1, 8, 0, n), "actor_id": None, "actor": "system", "action": "create",
               "entity_type": "Region", "entity_id": "", "summary": f"旧事件 {n}", "region_code": None,
               "organization_id": None, "before": None, "after": None}
        digest = _plain_sha256(row, prev)
        db.session.execute(table.insert().values(**row, prev_hash=prev, hash=digest, key_id=0, chain="", seq=n))
        prev = digest
    db.session.commit()
    assert verify_chain().ok
    _write(db, 2, start=4)
    report = verify_chain()
    assert report.ok and report.checked == 5
    # an unkeyed event appended after the keyed ones is refused (they are in the city's chain)
    row = {"id": 6, "at": datetime(2026, 2, 1), "actor_id": None, "actor": "system", "action": "create",
           "entity_type": "Region", "entity_id": "", "summary": "伪造", "region_code": None,
           "organization_id": None, "before": None, "after": None}
    head = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.chain == "4331", AuditEvent.seq == 2))
    db.session.execute(table.insert().values(**row, prev_hash=head, hash=_plain_sha256(row, head), key_id=0,
                                             chain="4331", seq=3))
    db.session.commit()
    report = verify_chain()
    assert not report.ok and report.broken_id == 6


def test_postgres_refuses_to_update_or_delete_audit_events(db):
    from sqlalchemy.exc import DBAPIError

    if db.engine.dialect.name != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    _write(db, 2)
    for statement in ("UPDATE audit_event SET summary = 'x' WHERE seq = 1", "DELETE FROM audit_event WHERE seq = 2",
                      "TRUNCATE audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert db.session.scalar(text("SELECT count(*) FROM audit_event")) == 2


def test_the_administrator_sees_the_verification_and_the_last_checkpoint(db, login_as, make_user):
    admin = make_user("admin")
    _write(db, 3)
    page = login_as(admin).get("/audit/integrity")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "审计链完整" in body and "最近检查点" in body
    head = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.chain == "4331")
                             .order_by(AuditEvent.seq.desc()).limit(1))
    assert head[:16] in body
    tamper(db, "DELETE FROM audit_event WHERE seq > 2")
    body = login_as(admin).get("/audit/integrity").get_data(as_text=True)
    assert "审计链断裂" in body and "审计链完整" not in body


def test_only_the_administrator_sees_the_verification_page(db, login_as, make_user):
    region = login_as(make_user("region", region_code="433101000000"))
    assert region.get("/audit/integrity").status_code == 403
    viewer = login_as(make_user("viewer", region_code="433101000000"))
    assert viewer.get("/audit/integrity").status_code == 403


def test_the_audit_list_speaks_chinese_and_shows_before_and_after(db, login_as, make_user):
    admin = make_user("admin")
    record("update", "Organization", before={"name": "原来的单位名称", "phone": "1"},
           after={"name": "新的单位名称", "phone": "1"}, summary="修改帮扶主体")
    record("confirm", "SupportRecord", after={"status": "confirmed"}, summary="村确认")
    record("close", "Incentive", before={"status": "rectifying"}, after={"status": "closed"}, summary="约谈销号")
    db.session.commit()
    body = login_as(admin).get("/audit/").get_data(as_text=True)
    for verb in ("新增", "修改", "确认", "销号"):
        assert f"<td>{verb}</td>" in body
    for code in ("create", "update", "confirm", "close"):
        assert f"<td>{code}</td>" not in body
    assert "<td>帮扶主体</td>" in body and "<td>账号 #" in body  # what the event is about, in Chinese too
    # before and after of the change, side by side in one row of the change table
    assert "原来的单位名称</td><td" in body and "新的单位名称" in body
    cut = body.index("原来的单位名称")
    assert body.index("新的单位名称") - cut < 200


def test_every_action_the_code_records_has_a_chinese_verb():
    import re
    from pathlib import Path

    from registry.audit.labels import ACTION_LABELS, action_label
    from registry.transfer.kinds import kinds

    root = Path(__file__).resolve().parent.parent / "registry"
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    found = set()
    found |= set(re.findall(r'\b(?:record|audit)\(\s*"([a-z_]+)"', source))
    found |= set(re.findall(r'record\(\s*"[a-z_]+" if [^"]+ else "([a-z_]+)"', source))
    found |= set(re.findall(r'"action": "([a-z_]+)"', source))
    found |= set(re.findall(r'\baction = "([a-z_]+)"', source))  # the record transitions
    found |= set(re.findall(r'\baction="([a-z_]+)"', source))  # the review kinds (check, verify)
    found |= {f"import_{name}" for name in kinds()}  # transfer/importing.py records import_<kind>
    found -= {"import"}  # a TransferJob's kind of job, not an audit action
    assert {"create", "update", "confirm", "close", "end", "check", "verify", "import_records"} <= found
    missing = sorted(a for a in found if a not in ACTION_LABELS)
    assert not missing, missing
    assert action_label("something_new") == "something_new"  # shown as it is rather than hidden
    assert all(re.search(r"[\u4e00-\u9fff]", label) for label in ACTION_LABELS.values())


def test_the_checkpoint_command_signs_the_head_only_of_an_intact_chain(db, app, runner):
    from registry.audit.anchor import read_checkpoint

    _write(db, 3)
    import os

    os.remove(app.config["AUDIT_CHECKPOINT_PATH"])
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0 and "审计链完整：共 3 条事件" in result.output and "最近检查点：3 条" in result.output
    assert read_checkpoint().count == 3
    tamper(db, "DELETE FROM audit_event WHERE seq = 3")
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 1 and "审计链断裂" in result.output
    assert read_checkpoint().count == 3  # not moved onto the cut chain


def test_a_restored_backup_is_accepted_by_an_explicit_reset_that_stays_on_the_record(db, runner):
    _write(db, 5)
    tamper(db, "DELETE FROM audit_event WHERE seq > 3")  # as a restore of an older backup looks
    assert not verify_chain().ok
    result = runner.invoke(args=["audit", "checkpoint", "--after-restore"])
    assert result.exit_code == 0, result.output
    report = verify_chain()
    assert report.ok and report.checked == 4 and report.checkpoint.count == 4
    reset = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "checkpoint_reset"))
    assert reset.action == "checkpoint_reset" and "原检查点 5 条" in reset.summary


def test_the_upgrade_keeps_the_events_already_stored_verifying(tmp_path, app_config):
    """Events hashed with plain SHA-256 before the migration get key id 0 and still verify;
    the events after them are keyed."""
    from datetime import datetime

    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db as _db

    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}",
                      "AUDIT_CHECKPOINT_PATH": str(tmp_path / "checkpoint.json")})
    with app.app_context():
        upgrade(revision="7a3e5c1d9b20")  # the last revision before the chain was keyed
        raw = _db.engine.raw_connection()
        prev = "0" * 64
        for n in (1, 2, 3):
            row = {"id": n, "at": datetime(2026, 1, 1, 8, 0, n), "actor_id": None, "actor": "system",
                   "action": "create", "entity_type": "Region", "entity_id": "", "summary": f"旧事件 {n}",
                   "region_code": None, "organization_id": None, "before": None, "after": None}
            digest = _plain_sha256(row, prev)
            raw.execute("INSERT INTO audit_event (id, at, actor, action, entity_type, entity_id, summary, prev_hash, "
                        "hash) VALUES (?, ?, 'system', 'create', 'Region', '', ?, ?, ?)",
                        (n, row["at"].isoformat(sep=" "), row["summary"], prev, digest))
            prev = digest
        raw.commit()
        raw.close()
        upgrade()
        assert verify_chain().ok
        record("create", "Region", after={"n": 4}, summary="升级后的事件")
        _db.session.commit()
        report = verify_chain()
        assert report.ok and report.checked == 4 and report.checkpoint.legacy_end == 3
        assert _db.session.scalars(select(AuditEvent.key_id).order_by(AuditEvent.id)).all() == [0, 0, 0, 1]
        _db.session.remove()
        _db.engine.dispose()
