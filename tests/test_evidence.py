"""Evidence files: photos and PDFs only, judged by content; size-limited; stored under
generated names; served only to those who may see the record."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry.records.models import Evidence
from tests.factories_records import audit_count, file_record, pdf_bytes, png_bytes, record_data, state_of, world  # noqa: F401


def _upload(session, record, *files):
    """POST files as the browser does. The body is built here, in memory: the test client
    would spool a large body to a temporary file it never closes."""
    boundary = "----records-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{session.token}\r\n'.encode()]
    for name, data in files:
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
                f"Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return session.client.post(f"/records/{record.id}/evidence", data=b"".join(parts),
                               content_type=f"multipart/form-data; boundary={boundary}")


def _get(session, url):
    response = session.get(url)
    response.get_data()  # buffered, then
    response.close()  # a file response holds the file open until closed
    return response


def _evidence_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Evidence))


def _stored_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"]) / "records"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _jpeg() -> bytes:
    return png_bytes(fmt="JPEG")


def _webp() -> bytes:
    return png_bytes(fmt="WEBP")


def test_photos_and_pdfs_are_stored_under_generated_names(app, login_as, db, world):
    record = file_record(world.unit, world.village.code)
    before = len(_stored_files(app))
    session = login_as(world.unit)
    files = [("村道照片.png", png_bytes()), ("现场.jpg", _jpeg()), ("合影.webp", _webp()), ("协议.pdf", pdf_bytes())]
    response = _upload(session, record, *files)
    assert response.status_code == 302
    items = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
    assert [e.content_type for e in items] == ["image/png", "image/jpeg", "image/webp", "application/pdf"]
    assert [e.original_name for e in items] == [name for name, _ in files]
    stored = _stored_files(app)
    assert len(stored) == before + 4
    for item, (name, data) in zip(items, files):
        assert item.stored_name != name and name not in str(stored)
        assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
    assert not str(Path(app.config["UPLOAD_FOLDER"]).resolve()).startswith(str(Path(app.static_folder).resolve()))
    from registry.audit.models import AuditEvent

    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "evidence_add")) == 4
    page = session.get(f"/records/{record.id}").get_data(as_text=True)
    assert "村道照片.png" in page and f"/records/{record.id}/evidence/{items[0].id}" in page


def test_a_record_can_be_filed_with_a_photo(login_as, db, world):
    session = login_as(world.unit)
    data = {**record_data(world.village.code), "action": "submit", "files": [(io.BytesIO(png_bytes()), "photo.png")]}
    assert session.post("/records/new", data=data, content_type="multipart/form-data").status_code == 302
    item = db.session.scalars(select(Evidence)).one()
    assert item.record.status == "submitted" and item.original_name == "photo.png"


@pytest.mark.parametrize("name,data", [
    ("setup.jpg", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"This program cannot be run in DOS mode"),
    ("run.png", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 300),
    ("page.jpg", b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"),
    ("page.png", b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"),
    ("fake.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00<html><body onload=alert(1)></body></html>" + b" " * 200),
    ("fake.pdf", b"%PDF-1.4\n<html><script>alert(1)</script></html>"),
    ("notes.txt", "这不是图片".encode()),
    ("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
])
def test_disguised_files_are_refused_and_nothing_is_kept(app, login_as, db, world, name, data):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    before_files, before_events, before_row = len(_stored_files(app)), audit_count(), state_of(record)
    response = _upload(session, record, ("ok.png", png_bytes()), (name, data))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"文件“{name}”" in body and ("不是 JPEG、PNG、WebP 照片或 PDF 文件" in body or "无法作为图片打开" in body
                                         or "不是完整的 PDF 文件" in body)
    assert _evidence_count(db) == 0 and len(_stored_files(app)) == before_files
    assert audit_count() == before_events and state_of(record) == before_row


def test_a_disguised_file_on_the_new_form_writes_nothing(app, login_as, db, world):
    session = login_as(world.unit)
    before = audit_count()
    data = {**record_data(world.village.code, title="保留的标题"), "action": "save",
            "files": [(io.BytesIO(b"MZ" + b"\x00" * 100), "photo.jpg")]}
    response = session.post("/records/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "保留的标题" in response.get_data(as_text=True)
    from registry.records.models import SupportRecord

    assert db.session.scalar(select(func.count()).select_from(SupportRecord)) == 0
    assert _evidence_count(db) == 0 and audit_count() == before


def test_a_request_over_the_limit_gets_the_413_page(app, login_as, db, world):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    too_big = b"\xff\xd8\xff\xe0" + b"\x00" * (app.config["MAX_CONTENT_LENGTH"] + 10)
    response = _upload(session, record, ("big.jpg", too_big))
    assert response.status_code == 413 and "文件过大" in response.get_data(as_text=True)
    assert _evidence_count(db) == 0


def test_the_per_file_limit_is_a_setting(app, login_as, db, world):
    import os

    from PIL import Image

    record = file_record(world.unit, world.village.code)
    noise = Image.frombytes("RGB", (700, 700), os.urandom(700 * 700 * 3))
    buf = io.BytesIO()
    noise.save(buf, format="PNG")
    assert len(buf.getvalue()) > 1024 * 1024
    app.config["REGISTRY_MAX_UPLOAD_MB"] = 1
    try:
        response = _upload(login_as(world.unit), record, ("large.png", buf.getvalue()))
    finally:
        app.config["REGISTRY_MAX_UPLOAD_MB"] = 10
    assert response.status_code == 422 and "超过 1 MB 的大小限制" in response.get_data(as_text=True)
    assert _evidence_count(db) == 0


def test_a_decompression_bomb_is_refused(login_as, db, world):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(buf, format="PNG")
    record = file_record(world.unit, world.village.code)
    response = _upload(login_as(world.unit), record, ("bomb.png", buf.getvalue()))
    assert response.status_code == 422 and "无法作为图片打开" in response.get_data(as_text=True)


def test_file_names_are_only_shown(app, login_as, db, world):
    record = file_record(world.unit, world.village.code)
    _upload(login_as(world.unit), record, ("../../etc/passwd.png", png_bytes()))
    item = db.session.scalars(select(Evidence)).one()
    assert item.original_name == "passwd.png" and "/" not in item.stored_name


def _file_url(item) -> str:
    return f"/records/{item.record_id}/evidence/{item.id}"


def test_files_are_served_only_within_scope(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    _upload(login_as(world.unit), record, ("村道.png", png_bytes()), ("协议.pdf", pdf_bytes()))
    from registry.records import services

    services.submit_record(record, world.unit)
    photo, pdf = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
    for user in (world.unit, world.unit2, world.village_user, world.township, world.county, world.viewer, world.admin):
        response = _get(login_as(user), _file_url(photo))
        assert response.status_code == 200, user.username
        assert response.mimetype == "image/png" and response.data == png_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline")
        assert "sandbox" in response.headers["Content-Security-Policy"] and "no-store" in response.headers["Cache-Control"]
    response = _get(login_as(world.unit), _file_url(pdf))
    assert response.mimetype == "application/pdf" and response.headers["Content-Disposition"].startswith("attachment")
    assert "filename*=UTF-8''%E5%8D%8F%E8%AE%AE.pdf" in response.headers["Content-Disposition"]
    for user in (world.other_unit, world.stranger_village_user, world.other_county):
        response = _get(login_as(user), _file_url(photo))
        assert response.status_code == 404, user.username
        assert response.data != png_bytes()
    other = file_record(world.unit, world.posted_village.code)
    assert login_as(world.unit).get(f"/records/{other.id}/evidence/{photo.id}").status_code == 404


def test_a_draft_files_are_not_served_to_the_village(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    _upload(login_as(world.unit), record, ("村道.png", png_bytes()))
    item = db.session.scalars(select(Evidence)).one()
    assert login_as(world.village_user).get(_file_url(item)).status_code == 404


def test_evidence_is_deleted_only_while_editable(app, login_as, db, world):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    _upload(session, record, ("a.png", png_bytes()), ("b.png", png_bytes(color=(0, 0, 255))))
    first, second = db.session.scalars(select(Evidence).order_by(Evidence.id)).all()
    files_before = len(_stored_files(app))
    assert session.post(f"/records/{record.id}/evidence/{first.id}/delete").status_code == 302
    assert _evidence_count(db) == 1 and len(_stored_files(app)) == files_before - 1
    from registry.audit.models import AuditEvent

    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "evidence_delete")) == 1

    from registry.records import services

    services.submit_record(record, world.unit)
    before_events = audit_count()
    response = session.post(f"/records/{record.id}/evidence/{second.id}/delete")
    assert response.status_code == 422 and "待确认的记录不能修改" in response.get_data(as_text=True)
    response = _upload(session, record, ("c.png", png_bytes(color=(0, 255, 0))))
    assert response.status_code == 422
    assert _evidence_count(db) == 1 and audit_count() == before_events
    assert login_as(world.other_unit).post(f"/records/{record.id}/evidence/{second.id}/delete").status_code == 404


def test_the_same_file_twice_is_kept_once(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    session = login_as(world.unit)
    _upload(session, record, ("a.png", png_bytes()))
    _upload(session, record, ("a-again.png", png_bytes()))
    assert _evidence_count(db) == 1


def test_an_empty_upload_is_refused(login_as, db, world):
    record = file_record(world.unit, world.village.code)
    response = login_as(world.unit).post(f"/records/{record.id}/evidence", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要上传的文件" in response.get_data(as_text=True)
    response = _upload(login_as(world.unit), record, ("empty.png", b""))
    assert response.status_code == 422 and "是空文件" in response.get_data(as_text=True)
