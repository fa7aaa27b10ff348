"""The installable offline app (issue 15), on the server's side: the worker and manifest
served from the site's root, what a village's device keeps, and the two endpoints its
queued decisions are sent to — the version check (a record changed meanwhile is a 409,
never overwritten), scope (404), role (403), CSRF, and nothing written on a refusal.
The browser side is tests/browser/test_offline_browser.py."""
from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import select, update
from werkzeug.datastructures import FileStorage

from registry.duty.models import DutyMonth
from registry.duty.services import previous_month
from registry.extensions import db
from registry.records.models import SupportRecord
from tests.factories_assessment import posted_secretary
from tests.factories_records import audit_count, file_record, png_bytes, state_of, world  # noqa: F401

LAST = previous_month()


def _send(session, url, body, *, token=True):
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = session.token
    return session.client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def _submitted(world, **over):
    return file_record(world.unit, world.village.code, status="submitted", **over)


# -- the worker, the manifest, the pages ---------------------------------------------------------

def test_the_worker_is_served_from_the_root_with_its_version_and_shell(client):
    response = client.get("/sw.js")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/" and "no-cache" in response.headers["Cache-Control"]
    assert "__VERSION__" not in body and "__SHELL__" not in body
    assert '"/offline"' in body and '"/static/js/offline.js"' in body and '"/static/css/app.css"' in body
    assert "http://" not in body and "https://" not in body  # nothing from elsewhere


def test_the_manifest_names_the_app_in_chinese_and_its_icons_are_served(client):
    response = client.get("/manifest.webmanifest")
    manifest = response.get_json(force=True)
    assert response.mimetype == "application/manifest+json"
    assert manifest["name"] == "帮扶力量登记系统" and manifest["lang"] == "zh-CN"
    assert manifest["scope"] == "/" and manifest["display"] == "standalone"
    sizes = set()
    for icon in manifest["icons"]:
        assert icon["src"].startswith("/static/icons/")
        got = client.get(icon["src"])
        assert got.status_code == 200 and got.mimetype == "image/png"
        got.close()
        sizes.add(icon["sizes"])
    assert {"192x192", "512x512"} <= sizes


def test_the_csp_allows_the_worker_and_the_manifest_from_the_site_only(client):
    csp = client.get("/login").headers["Content-Security-Policy"]
    assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp


def test_the_offline_page_is_short_chinese_and_personal_free(client):
    response = client.get("/offline")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "需要网络连接" in body and "联网" in body
    assert "退出" not in body  # no user box: the same page is kept for everyone


def test_only_village_pages_link_the_app(login_as, world):
    village = login_as(world.village_user).get("/records/inbox").get_data(as_text=True)
    assert 'rel="manifest"' in village and "/static/js/offline.js" in village
    unit = login_as(world.unit).get("/records/").get_data(as_text=True)
    assert 'rel="manifest"' not in unit and "offline.js" not in unit


def test_a_village_device_keeps_its_inbox_records_and_thumbnails_and_nothing_else(login_as, world):
    mine = _submitted(world, title="本村待确认")
    photo = FileStorage(io.BytesIO(png_bytes()), filename="现场.png", content_type="image/png")
    draft = file_record(world.unit, world.village.code, title="带照片")
    from registry.records import filing, services

    filing.add_evidence(draft, world.unit, [photo])
    services.submit_record(draft, world.unit)
    confirmed = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    kept = login_as(world.village_user).get("/offline/pages").get_json()
    assert f"/records/{mine.id}" in kept["pages"] and f"/records/{draft.id}" in kept["pages"]
    assert "/records/inbox" in kept["pages"] and "/duty/postings" in kept["pages"]
    assert f"/records/{confirmed.id}" not in kept["pages"]  # not waiting for the village
    evidence = draft.evidence[0]
    assert kept["thumbs"] == [f"/records/{draft.id}/evidence/{evidence.id}/thumb"]
    assert kept["csrf_token"] and kept["user"] == str(world.village_user.id)  # not the login session's key

    stranger = login_as(world.stranger_village_user).get("/offline/pages").get_json()
    assert not any(f"/records/{r.id}" in stranger["pages"] for r in (mine, draft))
    assert login_as(world.unit).get("/offline/pages").status_code == 403


def test_the_days_in_the_village_forms_are_kept(make_user, login_as):
    village, _org, _person, posting = posted_secretary()
    kept = login_as(make_user("village", village_code=village.code)).get("/offline/pages").get_json()
    assert f"/duty/posting/{posting.id}/new" in kept["pages"] and f"/duty/posting/{posting.id}" in kept["pages"]


def test_logout_clears_the_site_data(login_as, world):
    session = login_as(world.village_user)
    response = session.post("/logout")
    assert response.status_code == 302
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'


# -- decisions sent from a device ------------------------------------------------------------------

def test_a_confirmation_decided_offline_arrives(login_as, world):
    record = _submitted(world)
    session = login_as(world.village_user)
    response = _send(session, f"/offline/records/{record.id}", {"action": "confirm", "version": record.version,
                                                               "attest": True})
    answer = response.get_json()
    assert response.status_code == 200 and answer["ok"] and "已确认该帮扶记录" in answer["message"]
    db.session.expire_all()
    stored = db.session.get(SupportRecord, record.id)
    assert stored.status == "confirmed" and stored.decided_by_id == world.village_user.id
    assert answer["record"]["status"] == "confirmed" and answer["record"]["version"] == stored.version


def test_a_dispute_decided_offline_arrives_with_its_reason(login_as, world):
    record = _submitted(world)
    session = login_as(world.village_user)
    response = _send(session, f"/offline/records/{record.id}",
                     {"action": "dispute", "version": str(record.version), "reason": "只收到化肥20袋"})
    assert response.status_code == 200
    db.session.expire_all()
    stored = db.session.get(SupportRecord, record.id)
    assert (stored.status, stored.dispute_reason) == ("disputed", "只收到化肥20袋")


def test_a_record_changed_meanwhile_is_refused_with_409_and_left_as_it_is(login_as, world):
    record = _submitted(world, amount="5000")
    seen = record.version
    db.session.execute(update(SupportRecord).where(SupportRecord.id == record.id)
                       .values(amount=8000, version=SupportRecord.version + 1))  # another device, meanwhile
    db.session.commit()
    before, events = state_of(record), audit_count()
    session = login_as(world.village_user)
    response = _send(session, f"/offline/records/{record.id}", {"action": "confirm", "version": seen, "attest": True})
    answer = response.get_json()
    assert response.status_code == 409 and not answer["ok"]
    assert "已被修改" in answer["message"] and "未保存" in answer["message"]
    assert answer["record"]["url"] == f"/records/{record.id}" and answer["record"]["version"] == seen + 1
    assert state_of(record) == before and audit_count() == events


def test_a_record_withdrawn_meanwhile_is_a_conflict_too(login_as, world):
    record = _submitted(world)
    seen = record.version
    from registry.records import services

    services.withdraw_record(record, world.unit)
    session = login_as(world.village_user)
    response = _send(session, f"/offline/records/{record.id}", {"action": "dispute", "version": seen, "reason": "不符"})
    assert response.status_code == 409 and "已撤回" in response.get_json()["message"]
    assert state_of(record)["status"] == "withdrawn"


def test_the_same_decision_sent_twice_is_done_once(login_as, world):
    """The answer was lost on the way back and the device sends it again."""
    record = _submitted(world)
    session = login_as(world.village_user)
    body = {"action": "confirm", "version": record.version, "attest": True}
    assert _send(session, f"/offline/records/{record.id}", body).status_code == 200
    events = audit_count()
    again = _send(session, f"/offline/records/{record.id}", body)
    assert again.status_code == 200 and "此前已送达" in again.get_json()["message"]
    assert audit_count() == events


@pytest.mark.parametrize("body, field, message", [
    ({"action": "dispute", "reason": "  "}, "reason", "请填写异议理由"),
    ({"action": "confirm"}, "attest", "请勾选"),
    ({"action": "confirm", "attest": True, "version": ""}, "version", "缺少记录版本"),
    ({"action": "confirm", "attest": True, "version": "abc"}, "version", "缺少记录版本"),
    ({"action": "delete", "attest": True}, "action", "confirm"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_written(login_as, world, body, field, message):
    record = _submitted(world)
    before, events = state_of(record), audit_count()
    session = login_as(world.village_user)
    response = _send(session, f"/offline/records/{record.id}", {"version": record.version, **body})
    answer = response.get_json()
    assert response.status_code == 422 and field in answer["errors"] and message in answer["message"]
    assert state_of(record) == before and audit_count() == events


def test_scope_role_and_csrf_are_enforced(login_as, world):
    record = _submitted(world)
    before = state_of(record)
    body = {"action": "confirm", "version": record.version, "attest": True}
    # another village's device: the record does not exist for it
    assert _send(login_as(world.stranger_village_user), f"/offline/records/{record.id}", body).status_code == 404
    # not a village: the endpoint is not for it
    assert _send(login_as(world.unit), f"/offline/records/{record.id}", body).status_code == 403
    assert _send(login_as(world.county), f"/offline/records/{record.id}", body).status_code == 403
    # no CSRF token, or another session's
    village = login_as(world.village_user)
    refused = _send(village, f"/offline/records/{record.id}", body, token=False)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    other = login_as(world.village_user)
    stolen = village.client.post(f"/offline/records/{record.id}", data=json.dumps(body), content_type="application/json",
                                 headers={"Accept": "application/json", "X-CSRFToken": other.token + "x"})
    assert stolen.status_code == 400
    # no session at all: the login page, nothing done
    from flask import current_app

    anonymous = current_app.test_client().post(f"/offline/records/{record.id}", data=json.dumps(body),
                                               content_type="application/json")
    assert anonymous.status_code in (302, 400)
    assert state_of(record) == before


# -- days in the village filed on a device --------------------------------------------------------

def _duty(month=LAST, **over):
    body = {"month": month if isinstance(month, str) else f"{month.year:04d}-{month.month:02d}", "days_in_village": "22", "leave_days": "1",
            "leave_approved_by": "乡镇党委书记", "absences": "0", "summary": "走访农户，协调产业项目"}
    body.update(over)
    return body


def test_a_month_filed_offline_arrives_once_and_a_month_filed_meanwhile_is_a_conflict(make_user, login_as):
    village, _org, _person, posting = posted_secretary()
    session = login_as(make_user("village", village_code=village.code))
    first = _send(session, f"/offline/duty/{posting.id}", _duty())
    assert first.status_code == 200 and "已填报" in first.get_json()["message"]
    duty = db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == posting.id))
    assert (duty.month, duty.days_in_village, duty.status) == (LAST, 22, "filed")
    again = _send(session, f"/offline/duty/{posting.id}", _duty())
    assert again.status_code == 200 and "此前已送达" in again.get_json()["message"]
    # someone else's figures for that month are on the server: refused, left as they are
    other = _send(session, f"/offline/duty/{posting.id}", _duty(days_in_village="12"))
    assert other.status_code == 409 and "已有人填报" in other.get_json()["message"]
    db.session.expire_all()
    assert db.session.scalars(select(DutyMonth.days_in_village).where(DutyMonth.posting_id == posting.id)).all() == [22]


def test_a_bad_month_is_refused_naming_the_field(make_user, login_as):
    village, _org, _person, posting = posted_secretary()
    session = login_as(make_user("village", village_code=village.code))
    response = _send(session, f"/offline/duty/{posting.id}", _duty(days_in_village="40"))
    assert response.status_code == 422 and "days_in_village" in response.get_json()["errors"]
    response = _send(session, f"/offline/duty/{posting.id}", _duty(month="2026-13"))
    assert response.status_code == 422 and "month" in response.get_json()["errors"]
    assert db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == posting.id)) is None


def test_another_villages_posting_is_404(make_user, login_as, world):
    *_, posting = posted_secretary(n=9)
    response = _send(login_as(world.stranger_village_user), f"/offline/duty/{posting.id}", _duty())
    assert response.status_code == 404


def test_every_asset_the_layout_loads_is_kept_for_use_offline():
    """A kept page loads base.html's styles and scripts: each must be in the worker's shell,
    or the page offline logs a failed load (and is unstyled)."""
    import re
    from pathlib import Path

    from registry.offline.views import SHELL_ASSETS

    layout = (Path(__file__).resolve().parents[1] / "templates" / "base.html").read_text(encoding="utf-8")
    linked = set(re.findall(r"url_for\('static', filename='([^']+)'\)", layout))
    assert linked and linked <= set(SHELL_ASSETS), sorted(linked - set(SHELL_ASSETS))
