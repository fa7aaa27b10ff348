"""The audit chain: every write leaves an event; an edited or deleted row is found."""
from __future__ import annotations

from sqlalchemy import func, select, update

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from tests.tampering import tamper


def _events(db):
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def test_user_creation_is_audited_and_chained(db, make_user):
    make_user("admin")
    make_user("admin")
    events = _events(db)
    assert [e.action for e in events] == ["create", "create"]
    assert events[1].prev_hash == events[0].hash
    assert verify_chain().ok


def test_verify_detects_an_edited_row(db, make_user, runner):
    for _ in range(3):
        make_user("admin")
    second = _events(db)[1]
    tamper(db, update(AuditEvent).where(AuditEvent.id == second.id).values(summary="篡改"))
    report = verify_chain()
    assert not report.ok and report.broken_id == second.id
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"第一个异常事件编号 {second.id}" in result.output


def test_verify_detects_a_deleted_row(db, make_user):
    for _ in range(3):
        make_user("admin")
    tamper(db, "DELETE FROM audit_event WHERE seq = 2")
    report = verify_chain()
    assert not report.ok and (report.chain, report.seq) == ("", 2)


def test_verify_cli_passes_on_an_intact_chain(make_user, runner):
    make_user("admin")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "审计链完整" in result.output


def test_failed_write_leaves_no_event(db):
    import pytest

    from registry.accounts.services import create_user
    from registry.core.rules import RuleViolation

    with pytest.raises(RuleViolation):
        create_user("x", "admin")  # username too short
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 0


def test_record_many_extends_the_chain_as_record_would(db):
    from registry.audit.services import record, record_many, verify_chain

    record("load_divisions", "Region", after={"added": 1}, summary="one")
    written = record_many([
        {"action": "create", "entity_type": "Person", "entity_id": n, "summary": f"登记 {n}",
         "after": {"name": f"人{n}"}, "region_code": "433101000000", "organization_id": 7} for n in range(1, 4)
    ])
    record("load_divisions", "Region", after={"added": 2}, summary="after")
    db.session.commit()
    assert written == 3
    report = verify_chain()
    assert report.ok and report.checked == 5


def test_the_trail_exports_in_scope_and_the_export_is_on_the_record(db, login_as, make_user):
    import io

    from openpyxl import load_workbook

    from registry.audit.services import record

    record("create", "Region", after={"n": 1}, summary="县内事件", region_code="433101001001")
    record("create", "Region", after={"n": 2}, summary="外县事件", region_code="430182001001")
    db.session.commit()
    county = login_as(make_user("region", region_code="433101000000"))
    body = county.get("/audit/export.csv").get_data(as_text=True)
    assert "县内事件" in body and "外县事件" not in body
    sheet = load_workbook(io.BytesIO(county.get("/audit/export.xlsx?entity_type=Region").data)).worksheets[0]
    assert [c.value for c in sheet[1]][:3] == ["编号", "时间", "操作人"]
    assert [r[6].value for r in sheet.iter_rows(min_row=2)] == ["县内事件"]
    exports = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert [e.summary for e in exports][-1].startswith("导出审计日志 1 条")
    assert county.get("/audit/export.pdf").status_code == 404


def test_the_trail_shows_and_exports_contact_phones_masked_and_still_verifies(db, login_as, make_user):
    """An organization's contact phone is kept in the clear in its snapshots (the chain
    hashes them); the trail's page and export show it masked, as the lists do."""
    from registry.audit.services import record

    record("update", "Organization", before={"name": "示例单位", "contact_phone": "13812345678"},
           after={"name": "示例单位", "contact_phone": "13900001111"}, summary="修改联系电话",
           region_code="433101001001")
    db.session.commit()
    viewer = login_as(make_user("viewer", region_code="433101000000"))
    page = viewer.get("/audit/?entity_type=Organization").get_data(as_text=True)
    assert "138****5678" in page and "139****1111" in page
    assert "13812345678" not in page and "13900001111" not in page
    body = viewer.get("/audit/export.csv").get_data(as_text=True)
    assert "138****5678" in body and "13812345678" not in body and "13900001111" not in body
    assert verify_chain().ok


def test_a_snapshot_is_what_storing_it_and_reading_it_back_gives(db, make_user):
    """``snapshot`` builds the event's values directly: they must be exactly what the
    canonical JSON of the columns reads back as (dates, decimals, times, None, text,
    flags, a JSON column), in key order, and hidden columns stay hidden."""
    import json

    from sqlalchemy import inspect

    from registry.audit.services import canonical, snapshot
    from tests.factories import make_org, make_pairing, make_person, make_village
    from tests.factories_records import file_record

    village = make_village()
    org = make_org()
    make_pairing(org, village.code)
    unit = make_user("unit", "snap_unit", organization_id=org.id)
    chief = make_user("village", "snap_village", village_code=village.code)
    record = file_record(unit, village.code, status="confirmed", village_user=chief, amount="1234.50")
    person = make_person(org)
    for obj in (record, org, person, village, unit):
        mapper = inspect(obj).mapper
        values = {}
        for attr in mapper.column_attrs:
            value = getattr(obj, attr.key)
            hidden = attr.columns[0].info.get("sensitive")
            values[attr.key] = (None if value is None else "[受保护]") if hidden else value
        expected = json.loads(canonical(values))
        got = snapshot(obj)
        assert got == expected
        assert list(got) == list(expected)
        assert canonical(got) == canonical(expected)
    assert snapshot(person)["id_number_encrypted"] == "[受保护]"
    assert isinstance(snapshot(record)["amount"], str) and snapshot(record)["record_date"] == record.record_date.isoformat()
