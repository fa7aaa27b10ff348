"""The village sees what it signs: evidence thumbnails and every figure where it decides,
what changed in a resubmitted or corrected record (with its earlier dispute), a correction
that carries over the corrected record's evidence, and a deliberate second step before
确认属实 whose flash names the record."""
from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from registry.audit.models import AuditEvent
from registry.records import filing, services
from registry.records.models import Evidence, SupportRecord
from tests.factories_records import audit_count, file_record, pdf_bytes, png_bytes, record_data, state_of, world  # noqa: F401


def _photo(name="现场照片.png", size=(1200, 900), color=(30, 120, 60)) -> FileStorage:
    return FileStorage(io.BytesIO(png_bytes(size=size, color=color)), filename=name)


def _pdf(name="验收单.pdf") -> FileStorage:
    return FileStorage(io.BytesIO(pdf_bytes()), filename=name)


def _fresh(db, record) -> SupportRecord:
    db.session.expire_all()
    return db.session.get(SupportRecord, record.id)


def _submitted_with_photo(world, **overrides) -> SupportRecord:
    return services.create_record(world.unit, record_data(world.village.code, **overrides), [_photo()], submit=True)


def _corrected(db, world, *, original_uploads=None, **changes):
    """A confirmed record of 12,000 in kind and its correction to 7,200, submitted."""
    uploads = [_photo()] if original_uploads is None else original_uploads
    original = services.create_record(
        world.unit, record_data(world.village.code, amount="0", amount_attracted="0", amount_in_kind="12000",
                                title="捐赠化肥"), uploads, submit=True)
    services.confirm_record(original, world.village_user)
    data = record_data(world.village.code, amount="0", amount_attracted="0", amount_in_kind="7200", title="捐赠化肥",
                       **changes)
    correction = services.start_correction(_fresh(db, original), world.unit, data, submit=True)
    return _fresh(db, original), _fresh(db, correction)


def _flash(body: str) -> str:
    return " ".join(re.findall(r'<div class="flash flash-success" role="status">(.*?)</div>', body, re.S))


def _section(body: str, record_id: int) -> str:
    start = body.index(f'id="record-{record_id}"')
    end = body.find('<section class="card inbox-item"', start + 1)
    return body[start:end if end > 0 else len(body)]


# -- thumbnails and every figure ---------------------------------------------------------------------

def test_the_inbox_card_shows_thumbnails_and_every_figure(login_as, db, world):
    record = _submitted_with_photo(world, amount="0", amount_attracted="0", amount_in_kind="12000", jobs="3")
    item = record.evidence[0]
    card = _section(login_as(world.village_user).get("/records/inbox").get_data(as_text=True), record.id)
    assert f'src="/records/{record.id}/evidence/{item.id}/thumb"' in card
    for text in ("直接投入", "0.00 元", "引进资金", "实物折价", "12,000.00 元", "受益户数", "42", "受益人数", "156",
                 "带动就业", "3", record.reference):
        assert text in card, text


def test_the_record_page_shows_thumbnails_beside_the_village_buttons(login_as, db, world):
    record = _submitted_with_photo(world)
    item = record.evidence[0]
    body = login_as(world.village_user).get(f"/records/{record.id}").get_data(as_text=True)
    actions = body[body.index('id="decide"'):body.index('id="evidence"')]
    assert f'src="/records/{record.id}/evidence/{item.id}/thumb"' in actions
    assert "确认属实" in actions and "提出异议" in actions


def test_the_dispute_page_shows_every_figure(login_as, db, world):
    record = _submitted_with_photo(world, amount="0", amount_attracted="300", amount_in_kind="12000", jobs="5")
    body = login_as(world.village_user).get(f"/records/{record.id}/dispute").get_data(as_text=True)
    for text in ("直接投入", "0.00 元", "引进资金", "300.00 元", "实物折价", "12,000.00 元", "受益户数", "42",
                 "受益人数", "156", "带动就业", "5", "/thumb"):
        assert text in body, text


def test_a_thumbnail_is_a_small_jpeg_for_those_who_may_see_the_record(login_as, db, world):
    record = _submitted_with_photo(world)
    services.create_record(world.unit, record_data(world.village.code), [_pdf()], submit=True)
    item = record.evidence[0]
    response = login_as(world.village_user).get(f"/records/{record.id}/evidence/{item.id}/thumb")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(response.get_data())) as thumb:
        assert max(thumb.size) <= 320 and thumb.format == "JPEG"
    response.close()
    assert login_as(world.stranger_village_user).get(f"/records/{record.id}/evidence/{item.id}/thumb").status_code == 404
    pdf = db.session.scalar(select(Evidence).where(Evidence.content_type == "application/pdf"))
    assert login_as(world.village_user).get(f"/records/{pdf.record_id}/evidence/{pdf.id}/thumb").status_code == 404


# -- what changed --------------------------------------------------------------------------------------

def test_a_resubmitted_record_shows_what_the_village_disputed_and_what_changed(login_as, db, world):
    record = services.create_record(world.unit, record_data(world.village.code, amount="12000", persons="156"), submit=True)
    services.dispute_record(record, world.village_user, "实际只收到七千二百元")
    record = _fresh(db, record)
    services.update_record(record, world.unit, record_data(world.village.code, amount="7200", persons="156"),
                           record.version, submit=True)
    session = login_as(world.village_user)
    for body in (_section(session.get("/records/inbox").get_data(as_text=True), record.id),
                 session.get(f"/records/{record.id}").get_data(as_text=True),
                 session.get(f"/records/{record.id}/dispute").get_data(as_text=True)):
        assert "实际只收到七千二百元" in body
        assert "12,000.00 元" in body and "7,200.00 元" in body
        changed = re.findall(r'<tr class="changed"[^>]*data-field="(\w+)"', body)
        assert changed == ["amount"], changed


def test_a_correction_shows_the_corrected_records_values(login_as, db, world):
    original, correction = _corrected(db, world, households="40")
    session = login_as(world.village_user)
    for body in (_section(session.get("/records/inbox").get_data(as_text=True), correction.id),
                 session.get(f"/records/{correction.id}").get_data(as_text=True)):
        assert "12,000.00 元" in body and "7,200.00 元" in body
        assert f"原记录 {original.reference}" in body
        changed = re.findall(r'<tr class="changed"[^>]*data-field="(\w+)"', body)
        assert changed == ["amount_in_kind", "households"], changed


def test_a_correction_that_was_disputed_names_the_earlier_dispute(login_as, db, world):
    original, correction = _corrected(db, world)
    services.dispute_record(correction, world.village_user, "化肥只有十八袋")
    correction = _fresh(db, correction)
    services.update_record(correction, world.unit, record_data(world.village.code, amount="0", amount_attracted="0",
                                                               amount_in_kind="6480", title="捐赠化肥"),
                           correction.version, submit=True)
    body = _section(login_as(world.village_user).get("/records/inbox").get_data(as_text=True), correction.id)
    assert "化肥只有十八袋" in body
    assert "12,000.00 元" in body and "7,200.00 元" in body and "6,480.00 元" in body


def test_an_unchanged_record_marks_nothing(login_as, db, world):
    _submitted_with_photo(world)
    body = login_as(world.village_user).get("/records/inbox").get_data(as_text=True)
    assert 'class="changed"' not in body and "原为" not in body


# -- a correction carries over the evidence ------------------------------------------------------------

def test_a_correction_carries_over_the_evidence_as_its_own_files(app, db, world):
    original, correction = _corrected(db, world, original_uploads=[_photo(), _pdf()])
    assert [e.original_name for e in correction.evidence] == [e.original_name for e in original.evidence]
    assert [e.sha256 for e in correction.evidence] == [e.sha256 for e in original.evidence]
    ours = {e.stored_name for e in correction.evidence}
    theirs = {e.stored_name for e in original.evidence}
    assert not ours & theirs  # each record owns its files
    root = Path(app.config["UPLOAD_FOLDER"]) / "records"
    for item in correction.evidence:
        assert (root / item.stored_name[:2] / item.stored_name).read_bytes() == \
            (root / original.evidence[0].stored_name[:2] / original.evidence[0].stored_name).read_bytes() \
            or item.content_type == "application/pdf"
    events = db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id == str(correction.id),
        AuditEvent.action == "evidence_add")).all()
    assert len(events) == 2 and all(f"沿用原记录 {original.reference}" in e.summary for e in events)


def test_removing_carried_over_evidence_is_traced_and_keeps_the_originals(app, login_as, db, world):
    original = services.create_record(world.unit, record_data(world.village.code), [_photo()], submit=True)
    services.confirm_record(original, world.village_user)
    correction = services.start_correction(_fresh(db, original), world.unit, record_data(world.village.code, amount="1"))
    item = correction.evidence[0]
    session = login_as(world.unit)
    assert session.post(f"/records/{correction.id}/evidence/{item.id}/delete", data={}).status_code == 302
    original = _fresh(db, original)
    assert len(original.evidence) == 1 and len(_fresh(db, correction).evidence) == 0
    root = Path(app.config["UPLOAD_FOLDER"]) / "records"
    assert (root / original.evidence[0].stored_name[:2] / original.evidence[0].stored_name).is_file()
    removed = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence_delete",
                                                          AuditEvent.entity_id == str(correction.id))).one()
    assert item.original_name in removed.summary and original.evidence[0].sha256 in removed.before
    correction = _fresh(db, correction)
    services.submit_record(correction, world.unit)
    body = login_as(world.village_user).get(f"/records/{correction.id}").get_data(as_text=True)
    assert "未沿用" in body and item.original_name in body  # the village is told the photo was dropped


def test_a_correction_over_the_evidence_limit_is_refused_and_writes_nothing(app, db, world, monkeypatch):
    original = services.create_record(world.unit, record_data(world.village.code), [_photo(), _pdf()], submit=True)
    services.confirm_record(original, world.village_user)
    monkeypatch.setattr(filing, "MAX_EVIDENCE_PER_RECORD", 2)
    events, rows = audit_count(), db.session.scalar(select(SupportRecord.id).order_by(SupportRecord.id.desc()))
    try:
        services.start_correction(_fresh(db, original), world.unit, record_data(world.village.code), [_photo(color=(1, 2, 3))])
    except Exception as caught:  # RuleViolation
        assert "最多上传 2 个佐证文件" in str(getattr(caught, "message", caught))
    else:
        raise AssertionError("not refused")
    assert audit_count() == events
    assert db.session.scalar(select(SupportRecord.id).order_by(SupportRecord.id.desc())) == rows


# -- a deliberate second step --------------------------------------------------------------------------

def test_confirming_from_the_inbox_asks_for_a_second_step(login_as, db, world):
    record = _submitted_with_photo(world)
    session = login_as(world.village_user)
    inbox = _section(session.get("/records/inbox").get_data(as_text=True), record.id)
    assert re.search(r'action="/records/%d/confirm"[^>]*>.*?name="step" value="review"' % record.id, inbox, re.S)
    before, events = state_of(record), audit_count()
    review = session.post(f"/records/{record.id}/confirm", data={"version": record.version, "step": "review",
                                                                 "next": "inbox"})
    body = review.get_data(as_text=True)
    assert review.status_code == 200 and state_of(record) == before and audit_count() == events
    assert "请再次核对" in body and record.reference in body and world.village.name in body and "/thumb" in body
    assert 'name="step" value="final"' in body and 'name="attest"' in body and "<script>" not in body

    unticked = session.post(f"/records/{record.id}/confirm", data={"version": record.version, "step": "final"})
    assert unticked.status_code == 422 and "请勾选" in unticked.get_data(as_text=True)
    assert state_of(record) == before and audit_count() == events

    done = session.post(f"/records/{record.id}/confirm", data={"version": record.version, "step": "final",
                                                               "attest": "y", "next": "inbox"}, follow_redirects=True)
    text = _flash(done.get_data(as_text=True))
    assert _fresh(db, record).status == "confirmed"
    assert "已确认该帮扶记录" in text and record.reference in text and world.village.name in text


def test_the_record_page_offers_the_same_second_step(login_as, db, world):
    record = _submitted_with_photo(world)
    body = login_as(world.village_user).get(f"/records/{record.id}").get_data(as_text=True)
    decide = body[body.index('id="decide"'):body.index('id="evidence"')]
    assert re.search(r'action="/records/%d/confirm"[^>]*>.*?name="step" value="review"' % record.id, decide, re.S)


def test_the_review_step_refuses_what_the_village_may_not_confirm(login_as, db, world):
    record = _submitted_with_photo(world)
    response = login_as(world.stranger_village_user).post(f"/records/{record.id}/confirm",
                                                          data={"version": record.version, "step": "review"})
    assert response.status_code == 404
    services.withdraw_record(record, world.unit)
    response = login_as(world.village_user).post(f"/records/{record.id}/confirm",
                                                 data={"version": _fresh(db, record).version, "step": "review"})
    assert response.status_code == 422 and "只有待确认的记录可以确认" in response.get_data(as_text=True)


def test_the_dispute_flash_names_the_record(login_as, db, world):
    record = _submitted_with_photo(world)
    response = login_as(world.village_user).post(f"/records/{record.id}/dispute",
                                                 data={"version": record.version, "reason": "金额不对"},
                                                 follow_redirects=True)
    text = _flash(response.get_data(as_text=True))
    assert "已提出异议" in text and record.reference in text and world.village.name in text


def test_the_correction_form_as_it_comes_can_be_submitted(login_as, db, world):
    """The form starts from the confirmed record's values but not its 编号, which stays the
    original's: the correction is numbered anew."""
    original = services.create_record(world.unit, record_data(world.village.code), [_photo()], submit=True)
    services.confirm_record(original, world.village_user)
    unit = login_as(world.unit)
    form = unit.get(f"/records/{original.id}/correct").get_data(as_text=True)
    shown = dict(re.findall(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', form))
    assert shown.get("reference", "") == "" and shown["title"] == original.title
    assert "原记录的 1 个佐证材料将随更正记录沿用" in form
    data = {**record_data(world.village.code), **{k: v for k, v in shown.items() if k != "csrf_token"}, "action": "submit"}
    assert unit.post(f"/records/{original.id}/correct", data=data).status_code == 302
    correction = db.session.scalars(select(SupportRecord).where(SupportRecord.supersedes_id == original.id)).one()
    assert correction.reference != original.reference and len(correction.evidence) == 1


def test_a_photo_whose_file_is_gone_is_not_carried_over_and_the_village_is_told(app, login_as, db, world):
    original = services.create_record(world.unit, record_data(world.village.code), [_photo(), _pdf()], submit=True)
    services.confirm_record(original, world.village_user)
    photo = next(e for e in original.evidence if e.is_image)
    (Path(app.config["UPLOAD_FOLDER"]) / "records" / photo.stored_name[:2] / photo.stored_name).unlink()
    correction = services.start_correction(_fresh(db, original), world.unit, record_data(world.village.code, amount="1"),
                                           submit=True)
    assert [e.content_type for e in correction.evidence] == ["application/pdf"]
    body = login_as(world.village_user).get(f"/records/{correction.id}").get_data(as_text=True)
    assert "佐证材料未沿用：" + photo.original_name in body
    thumb = login_as(world.village_user).get(f"/records/{original.id}/evidence/{photo.id}/thumb")
    assert thumb.status_code == 404
