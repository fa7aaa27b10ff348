"""Small frictions of the record form (issue 15): the unit's home offers 填报帮扶记录; the
village chooser is searchable and the pairing is chosen when only one covers the village;
evidence files chosen before a refused save are kept (records/pending.py) rather than lost."""
from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

from sqlalchemy import delete, func, select

from registry.records import pending
from registry.records.models import Evidence, SupportRecord
from tests.factories_records import png_bytes, record_data, world  # noqa: F401

TOKEN = re.compile(r'name="pending" value="([0-9a-f]{32})"')


def _form(world, **overrides) -> dict:
    data = record_data(world.village.code, amount_attracted="", action="save")
    data["pairing_id"] = ""
    data.update(overrides)
    return data


def _post(session, data, *photos, url="/records/new"):
    body = dict(data)
    if photos:
        body["files"] = [(io.BytesIO(content), name) for name, content in photos]
    return session.post(url, data=body, content_type="multipart/form-data")


def _pending_files(app) -> list[Path]:
    root = Path(app.config["UPLOAD_FOLDER"]) / "pending"
    return sorted(p for p in root.glob("*/*/*.bin")) if root.is_dir() else []


def _records(db) -> int:
    return db.session.scalar(select(func.count()).select_from(SupportRecord))


def _clean(db, app):
    db.session.execute(delete(Evidence))
    db.session.execute(delete(SupportRecord))
    db.session.commit()
    for path in _pending_files(app):
        path.unlink()


# -- the unit's home, the village chooser, the pairing ----------------------------------------

def test_the_units_home_offers_to_file_a_record(db, world, login_as):
    page = login_as(world.unit).get("/").get_data(as_text=True)
    assert 'id="home-new-record"' in page and "填报帮扶记录" in page
    assert 'id="home-new-record"' not in login_as(world.village_user).get("/").get_data(as_text=True)
    assert 'id="home-new-record"' not in login_as(world.viewer).get("/").get_data(as_text=True)


def test_the_village_chooser_is_searchable_and_the_only_pairing_is_chosen(db, world, login_as):
    unit = login_as(world.unit)
    page = unit.get(f"/records/new?village={world.village.code}").get_data(as_text=True)
    assert 'data-combobox-select="村"' in page and "js/combobox.js" in page
    chosen = re.search(r'<select[^>]*name="pairing_id".*?</select>', page, re.S).group(0)
    assert re.search(rf'<option[^>]*selected[^>]*value="{world.pairing.id}"|<option[^>]*value="{world.pairing.id}"[^>]*selected',
                     chosen), chosen
    # a village no pairing covers (the unit posts a first secretary there): none chosen
    page = unit.get(f"/records/new?village={world.posted_village.code}").get_data(as_text=True)
    chosen = re.search(r'<select[^>]*name="pairing_id".*?</select>', page, re.S).group(0)
    assert "selected" not in chosen.split("</option>", 1)[1]


# -- evidence kept across a refused save --------------------------------------------------------

def test_evidence_chosen_before_a_refusal_is_kept_and_attached_on_the_next_save(app, db, world, login_as):
    _clean(db, app)
    unit = login_as(world.unit)
    refused = _post(unit, _form(world, title=""), ("现场照片.png", png_bytes()), ("合同.pdf", b"not a pdf at all"))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "请填写标题" in page
    assert "已上传：现场照片.png（可移除）" in page
    assert "文件“合同.pdf”不是 JPEG、PNG、WebP 照片或 PDF 文件" in page  # named, not kept
    tokens = TOKEN.findall(page)
    assert len(tokens) == 1 and len(_pending_files(app)) == 1 and _records(db) == 0
    done = _post(unit, _form(world, title="带照片的记录", pending=tokens))
    assert done.status_code == 302, done.get_data(as_text=True)[-1500:]
    record = db.session.scalars(select(SupportRecord)).one()
    assert [(e.original_name, e.content_type) for e in record.evidence] == [("现场照片.png", "image/png")]
    assert _pending_files(app) == []


def test_a_kept_file_can_be_removed_and_a_new_one_added(app, db, world, login_as):
    _clean(db, app)
    unit = login_as(world.unit)
    page = _post(unit, _form(world, title=""), ("一.png", png_bytes())).get_data(as_text=True)
    first = TOKEN.findall(page)
    page = _post(unit, _form(world, title="", pending=first), ("二.png", png_bytes(color=(1, 2, 3)))).get_data(as_text=True)
    assert "已上传：一.png（可移除）" in page and "已上传：二.png（可移除）" in page
    both = TOKEN.findall(page)
    done = _post(unit, _form(world, title="移除一个", pending=both, pending_remove=first))
    assert done.status_code == 302
    record = db.session.scalars(select(SupportRecord)).one()
    assert [e.original_name for e in record.evidence] == ["二.png"] and _pending_files(app) == []


def test_kept_files_belong_to_the_session_that_sent_them(app, db, world, login_as):
    _clean(db, app)
    page = _post(login_as(world.unit), _form(world, title=""), ("现场照片.png", png_bytes())).get_data(as_text=True)
    tokens = TOKEN.findall(page)
    # another account of the same unit, and the same user in another login session: the token names nothing
    for session in (login_as(world.unit2), login_as(world.unit)):
        done = _post(session, _form(world, title="别人的文件", pending=tokens + ["../../x", "0" * 32]))
        assert done.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Evidence)) == 0
    assert len(_pending_files(app)) == 1  # still the first session's


def test_kept_files_are_deleted_after_a_day_by_jobs_clean(app, db, world, login_as, runner):
    _clean(db, app)
    _post(login_as(world.unit), _form(world, title=""), ("旧照片.png", png_bytes()))
    _post(login_as(world.unit), _form(world, title=""), ("新照片.png", png_bytes(color=(9, 9, 9))))
    old, new = _pending_files(app)[0], _pending_files(app)[1]
    day_and_more = time.time() - 25 * 3600
    os.utime(old, (day_and_more, day_and_more))
    os.utime(old.with_suffix(".json"), (day_and_more, day_and_more))
    result = runner.invoke(args=["jobs", "clean"])
    assert result.exit_code == 0 and "待保存佐证材料" in result.output, result.output
    assert _pending_files(app) == [new] and not old.with_suffix(".json").exists()
    with app.test_request_context():
        assert pending.expire(time.time() + 2 * 86400) == 1
    assert _pending_files(app) == []


def test_no_more_files_are_kept_than_a_record_may_hold(app, db, world, login_as, monkeypatch):
    from registry.records import filing

    _clean(db, app)
    monkeypatch.setattr(filing, "MAX_EVIDENCE_PER_RECORD", 2)
    photos = [(f"{i}.png", png_bytes(color=(i, i, i))) for i in range(3)]
    page = _post(login_as(world.unit), _form(world, title=""), *photos).get_data(as_text=True)
    assert len(TOKEN.findall(page)) == 2 and len(_pending_files(app)) == 2
    done = _post(login_as(world.unit), _form(world, title="三个文件"), *photos)
    assert done.status_code == 422 and "每条记录最多上传 2 个佐证文件" in done.get_data(as_text=True)
    assert _records(db) == 0
