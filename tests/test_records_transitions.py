"""The life of a support record: every transition, and every forbidden one refused with a
Chinese message and nothing changed (the row and the audit trail are compared)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.core.rules import RuleViolation
from registry.records import services
from registry.records.models import SupportRecord
from tests.factories_records import audit_count, file_record, record_data, state_of, world  # noqa: F401


def _events(record) -> list[str]:
    from registry.extensions import db

    return list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id == str(record.id))
        .order_by(AuditEvent.id)
    ))


def _fresh(db, record) -> SupportRecord:
    db.session.expire_all()
    return db.session.get(SupportRecord, record.id)


# -- each transition ---------------------------------------------------------------------------------

def test_submit(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    response = login_as(world.unit).post(f"/records/{record.id}/submit", data={"version": record.version})
    assert response.status_code == 302
    record = _fresh(db, record)
    assert record.status == "submitted" and record.submitted_at is not None
    assert _events(record) == ["create", "submit"]


def test_filing_and_submitting_at_once_writes_the_record_once_with_the_trail_of_both_steps(login_as, db, world):
    """提交 on a new record inserts it as submitted (one write of the row while the
    write lock is held, not an insert and an update); its trail still reads as the draft
    created and then submitted: the creation holds the draft, the submission moves from
    that draft to the row as stored."""
    import json

    from sqlalchemy import event

    from registry.audit.services import snapshot

    session = login_as(world.unit)
    written: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT INTO SUPPORT_RECORD", "UPDATE SUPPORT_RECORD")):
            written.append(statement.split()[0].upper())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        response = session.post("/records/new", data={**record_data(world.village.code), "action": "submit"})
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert response.status_code == 302
    assert written == ["INSERT"]
    record = db.session.scalars(select(SupportRecord)).one()
    assert record.status == "submitted" and record.submitted_at is not None
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "SupportRecord",
                                                         AuditEvent.entity_id == str(record.id))
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["create", "submit"]
    created, submitted = events
    stored = snapshot(record)
    assert json.loads(created.after) == {**stored, "status": "draft", "submitted_at": None}
    assert json.loads(submitted.before) == json.loads(created.after)
    assert json.loads(submitted.after) == stored
    assert verify_chain().ok


def test_confirm_by_the_village(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    response = login_as(world.village_user).post(f"/records/{record.id}/confirm", data={"version": record.version, "next": "inbox"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/records/inbox")
    record = _fresh(db, record)
    assert record.status == "confirmed" and record.decided_by_id == world.village_user.id and record.decided_at
    assert _events(record)[-1] == "confirm"


def test_dispute_with_a_reason_then_correct_and_resubmit(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    village = login_as(world.village_user)
    response = village.post(f"/records/{record.id}/dispute", data={"reason": "实际到位资金为八万元", "version": record.version})
    assert response.status_code == 302
    record = _fresh(db, record)
    assert record.status == "disputed" and record.dispute_reason == "实际到位资金为八万元"

    unit = login_as(world.unit)
    page = unit.get(f"/records/{record.id}/edit").get_data(as_text=True)
    assert "实际到位资金为八万元" in page
    data = {**record_data(world.village.code, amount="80000"), "version": record.version, "action": "submit"}
    assert unit.post(f"/records/{record.id}/edit", data=data).status_code == 302
    record = _fresh(db, record)
    assert record.status == "submitted" and str(record.amount) == "80000.00" and record.dispute_reason is None
    assert _events(record) == ["create", "submit", "dispute", "update", "resubmit"]
    assert village.post(f"/records/{record.id}/confirm", data={"version": record.version}).status_code == 302
    assert _fresh(db, record).status == "confirmed"


@pytest.mark.parametrize("start", ["draft", "submitted", "disputed"])
def test_withdraw_before_confirmation(login_as, db, world, start):
    record = file_record(world.unit, world.village.code, status=start, village_user=world.village_user)
    response = login_as(world.unit).post(f"/records/{record.id}/withdraw", data={"version": record.version})
    assert response.status_code == 302
    assert _fresh(db, record).status == "withdrawn"
    assert _events(record)[-1] == "withdraw"


def test_a_correction_supersedes_the_confirmed_record_when_confirmed(login_as, db, world):
    original = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user, title="原记录")
    unit = login_as(world.unit)
    form = unit.get(f"/records/{original.id}/correct").get_data(as_text=True)
    assert 'value="原记录"' in form and "正在更正已确认的记录" in form
    data = {**record_data(world.village.code, title="更正后的记录", amount="99000"), "action": "submit"}
    response = unit.post(f"/records/{original.id}/correct", data=data)
    assert response.status_code == 302
    correction = db.session.scalars(select(SupportRecord).where(SupportRecord.supersedes_id == original.id)).one()
    assert correction.status == "submitted" and _fresh(db, original).status == "confirmed"
    # one correction at a time
    again = unit.post(f"/records/{original.id}/correct", data=data)
    assert again.status_code == 422 and "已有一条尚未确认的更正记录" in again.get_data(as_text=True)

    village = login_as(world.village_user)
    assert village.post(f"/records/{correction.id}/confirm", data={"version": correction.version}).status_code == 302
    original, correction = _fresh(db, original), _fresh(db, correction)
    assert original.status == "superseded" and correction.status == "confirmed"
    assert str(original.amount) == "125000.50"  # the old record itself never changed
    assert _events(original)[-1] == "supersede" and _events(correction) == ["correct", "submit", "confirm"]
    for session in (unit, village):
        old_page = session.get(f"/records/{original.id}").get_data(as_text=True)
        assert f'/records/{correction.id}"' in old_page and "取代" in old_page
        new_page = session.get(f"/records/{correction.id}").get_data(as_text=True)
        assert f'/records/{original.id}"' in new_page and "的更正" in new_page
    assert verify_chain().ok


def test_a_correction_keeps_the_village(db, world):
    original = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    with pytest.raises(RuleViolation) as caught:
        services.start_correction(original, world.unit, record_data(world.posted_village.code))
    assert "更正记录的村须与被更正的记录一致" in caught.value.errors["village_code"]


def test_history_shows_who_and_when_in_beijing_time(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    body = login_as(world.county).get(f"/records/{record.id}").get_data(as_text=True)
    history = body[body.index("操作历史"):]
    for text in ("创建草稿", "提交村确认", "村确认", "unit_a", "village_1"):
        assert text in history, text
    from registry.core.formatting import datetime_cn

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "confirm")).one()
    assert datetime_cn(event.at) in history  # Asia/Shanghai, e.g. 2026年11月29日 00:20
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", history)


# -- forbidden transitions ----------------------------------------------------------------------------

def _unchanged(db, record, before_row, before_events):
    assert state_of(record) == before_row
    assert audit_count() == before_events


def _attempt(db, record, call):
    before_row, before_events = state_of(record), audit_count()
    response = call()
    _unchanged(db, record, before_row, before_events)
    return response


def test_a_unit_cannot_confirm(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    session = login_as(world.unit)
    response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/confirm", data={"version": record.version}))
    assert response.status_code == 403 and "没有执行此操作的权限" in response.get_data(as_text=True)
    with pytest.raises(RuleViolation) as caught:
        _attempt(db, record, lambda: services.confirm_record(_fresh(db, record), world.unit))
    assert "只有该村的账号可以确认" in caught.value.message


def test_a_confirmed_record_cannot_be_edited(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    session = login_as(world.unit)
    data = {**record_data(world.village.code, title="偷偷改掉"), "version": record.version, "action": "save"}
    response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/edit", data=data))
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "已确认的记录不能修改；如需更正，请提交更正记录" in body
    assert 'value="偷偷改掉"' in body  # the input stays on the form
    follow = session.get(f"/records/{record.id}/edit")
    assert follow.status_code == 302  # the edit page is not offered
    with pytest.raises(RuleViolation):
        _attempt(db, record, lambda: services.update_record(_fresh(db, record), world.unit, data, None))


def test_a_dispute_needs_a_reason(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    session = login_as(world.village_user)
    for reason in ("", "   "):
        response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/dispute", data={"reason": reason, "version": record.version}))
        assert response.status_code == 422 and "请填写异议理由" in response.get_data(as_text=True)


def test_another_village_cannot_confirm(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    session = login_as(world.stranger_village_user)
    response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/confirm", data={"version": record.version}))
    assert response.status_code == 404 and "不在您的权限范围内" in response.get_data(as_text=True)
    with pytest.raises(RuleViolation) as caught:
        _attempt(db, record, lambda: services.confirm_record(_fresh(db, record), world.stranger_village_user))
    assert "只有该村的账号可以确认" in caught.value.message


def test_a_confirmed_record_cannot_be_withdrawn(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    session = login_as(world.unit)
    response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/withdraw", data={"version": record.version}))
    assert response.status_code == 422
    assert "已确认的记录不能撤回；如需更正，请提交更正记录" in response.get_data(as_text=True)


@pytest.mark.parametrize("start,who,url,message", [
    ("confirmed", "village_user", "confirm", "只有待确认的记录可以确认（当前状态：已确认）"),
    ("disputed", "village_user", "confirm", "只有待确认的记录可以确认（当前状态：有异议）"),
    ("withdrawn", "village_user", "confirm", "只有待确认的记录可以确认（当前状态：已撤回）"),
    ("confirmed", "village_user", "dispute", "只有待确认的记录可以提出异议"),
    ("submitted", "unit", "submit", "待确认的记录不能提交"),
    ("withdrawn", "unit", "submit", "已撤回的记录不能提交"),
    ("withdrawn", "unit", "withdraw", "已撤回的记录不能撤回"),
    ("submitted", "unit", "edit", "待确认的记录不能修改"),
])
def test_other_forbidden_transitions(login_as, db, world, start, who, url, message):
    record = file_record(world.unit, world.village.code, status=start, village_user=world.village_user)
    session = login_as(getattr(world, who))
    data = {"version": record.version, "reason": "理由"}
    if url == "edit":
        data.update(record_data(world.village.code))
    response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/{url}", data=data))
    assert response.status_code == 422, response.status_code
    assert message in response.get_data(as_text=True)


def test_another_unit_cannot_touch_the_record(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.other_unit)
    for url in ("submit", "withdraw", "edit", "correct"):
        response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/{url}", data={"version": record.version}))
        assert response.status_code == 404, url
    with pytest.raises(RuleViolation) as caught:
        services.submit_record(_fresh(db, record), world.other_unit)
    assert "只有填报该记录的单位" in caught.value.message


def test_region_staff_and_viewers_cannot_decide(login_as, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    for user in (world.county, world.viewer, world.admin):
        session = login_as(user)
        for url in ("confirm", "dispute", "withdraw", "submit"):
            response = _attempt(db, record, lambda: session.post(f"/records/{record.id}/{url}", data={"reason": "x"}))
            assert response.status_code == 403, (user.username, url)


def test_the_state_machine_itself_refuses_an_impossible_step(db, world):
    record = file_record(world.unit, world.village.code)
    with pytest.raises(RuleViolation) as caught:
        services._transition(record, "confirmed", actor=world.village_user)
    assert "草稿的记录不能改为已确认" in caught.value.message
    db.session.rollback()


def test_transitions_need_post_and_csrf(login_as, client, db, world):
    record = file_record(world.unit, world.village.code, status="submitted")
    session = login_as(world.village_user)
    assert session.get(f"/records/{record.id}/confirm").status_code == 405
    response = _attempt(db, record, lambda: session.client.post(f"/records/{record.id}/confirm", data={}))
    assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_a_stale_page_cannot_confirm_a_changed_record(login_as, db, world):
    """The village confirms what it saw: a record that changed since is refused."""
    record = file_record(world.unit, world.village.code, status="submitted")
    seen = record.version
    services.dispute_record(record, world.village_user, "数字不对")
    unit = login_as(world.unit)
    unit.post(f"/records/{record.id}/edit", data={**record_data(world.village.code, amount="1"), "version": _fresh(db, record).version, "action": "submit"})
    assert _fresh(db, record).status == "submitted"
    record = _fresh(db, record)
    village = login_as(world.village_user)
    response = _attempt(db, record, lambda: village.post(f"/records/{record.id}/confirm", data={"version": seen}))
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)
