"""Login sessions kept on the server: they end at logout, password change, an
administrator's 结束全部会话, the user's own 结束, and after the idle and absolute limits;
a new key at every login; no write on every request."""
from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from registry.accounts.models import LoginSession
from registry.accounts.sessions import describe_agent, key_digest
from registry.audit.models import AuditEvent
from registry.core.timeutil import utcnow
from tests.conftest import PASSWORD, csrf_token, login
from tests.factories import COUNTY


def _key(client) -> str:
    with client.session_transaction() as sess:
        return sess["_user_id"]


def _row(db, client_or_key) -> LoginSession:
    """The login session of a client (or of a key kept from it before it was logged out)."""
    key = client_or_key if isinstance(client_or_key, str) else _key(client_or_key)
    db.session.expire_all()
    return db.session.scalar(select(LoginSession).where(LoginSession.key_digest == key_digest(key)))


def _logged_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_each_login_gets_a_new_session_and_logout_ends_it(app, db, make_user):
    user = make_user("admin")
    client = app.test_client()
    login(client, user.username)
    first = _key(client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, user.username)
    assert _key(client) != first
    ended = db.session.scalar(select(LoginSession).where(LoginSession.key_digest == key_digest(first)))
    assert ended.ended_reason == "logout" and ended.ended_at is not None
    assert first not in str(db.session.scalars(select(LoginSession.key_digest)).all())  # only digests are stored


def test_password_change_ends_every_session_and_renews_the_changing_one(app, db, make_user, login_as):
    user = make_user("admin")
    first, second = login_as(user), login_as(user)
    old_key, second_key = _key(first.client), _key(second.client)
    response = first.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "NewPassw0rd123", "confirm_password": "NewPassw0rd123"})
    assert response.status_code == 302
    assert first.get("/").status_code == 200 and _key(first.client) != old_key
    assert _logged_out(second.get("/"))
    assert _row(db, second_key).ended_reason == "password_change"
    copy = app.test_client()  # the changing session's cookie from before the change
    with copy.session_transaction() as sess:
        sess["_user_id"] = old_key
    assert _logged_out(copy.get("/"))


def test_idle_sessions_end_and_use_keeps_them_alive(app, db, make_user, login_as):
    session = login_as(make_user("region", region_code=COUNTY))
    key, start = _key(session.client), utcnow()
    with time_machine.travel(start + timedelta(minutes=20), tick=False):
        assert session.get("/").status_code == 200  # noted: last seen now
    with time_machine.travel(start + timedelta(minutes=45), tick=False):
        assert session.get("/").status_code == 200  # 25 minutes idle: still alive
    with time_machine.travel(start + timedelta(minutes=45 + 31), tick=False):
        assert _logged_out(session.get("/"))
    row = _row(db, key)
    assert row.ended_reason == "idle"
    assert row.last_seen_at - row.created_at >= timedelta(minutes=44)


def test_sessions_end_after_the_absolute_limit_however_busy(app, db, make_user, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_SESSION_IDLE_MINUTES", 24 * 60)
    session = login_as(make_user("admin"))
    key, start = _key(session.client), utcnow()
    with time_machine.travel(start + timedelta(hours=11, minutes=59), tick=False):
        assert session.get("/").status_code == 200
    with time_machine.travel(start + timedelta(hours=12, minutes=1), tick=False):
        assert _logged_out(session.get("/"))
    assert _row(db, key).ended_reason == "expired"


def test_last_seen_is_written_at_most_once_a_minute(app, db, make_user, login_as):
    session = login_as(make_user("admin"))
    row = _row(db, session.client)
    seen = row.last_seen_at
    for _ in range(2):
        assert session.get("/").status_code == 200
    assert _row(db, session.client).last_seen_at == seen


def test_a_user_sees_and_ends_their_own_sessions(app, db, make_user, login_as):
    user = make_user("admin")
    here, phone = login_as(user), login_as(user)
    other = login_as(make_user("admin"))
    page = here.get("/account").get_data(as_text=True)
    assert page.count(">当前会话<") == 1 and page.count("结束</button>") == 2
    phone_key = _key(phone.client)
    phone_row, other_row = _row(db, phone.client), _row(db, other.client)
    assert here.post(f"/account/sessions/{other_row.id}/end").status_code == 404  # not theirs, even for an admin
    assert here.post(f"/account/sessions/{phone_row.id}/end").status_code == 302
    assert _logged_out(phone.get("/"))
    assert other.get("/").status_code == 200 and here.get("/").status_code == 200
    assert _row(db, phone_key).ended_reason == "ended"
    here_row = _row(db, here.client)
    response = here.post(f"/account/sessions/{here_row.id}/end")  # the current one: logged out
    assert _logged_out(response) and _logged_out(here.get("/"))


def test_the_administrator_ends_all_sessions_of_a_user(app, db, make_user, login_as):
    admin = login_as(make_user("admin"))
    user = make_user("region", region_code=COUNTY)
    first, second = login_as(user), login_as(user)
    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "有效登录会话（2 个）" in page and "结束全部会话" in page
    assert first.post(f"/admin/users/{user.id}/end-sessions").status_code == 404  # staff cannot
    response = admin.post(f"/admin/users/{user.id}/end-sessions", follow_redirects=True)
    assert "已结束账号 region2 的全部会话（2 个）" in response.get_data(as_text=True)
    assert _logged_out(first.get("/")) and _logged_out(second.get("/"))
    assert admin.get("/").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "end_sessions"))
    assert event.entity_id == str(user.id) and event.region_code == COUNTY


WECHAT_ANDROID = ("Mozilla/5.0 (Linux; Android 12; V2183A Build/SP1A.210812.003; wv) AppleWebKit/537.36 (KHTML, like "
                  "Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230202 "
                  "MicroMessenger/8.0.33.2320(0x2800213D) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")


@pytest.mark.parametrize(("agent", "shown"), [
    (WECHAT_ANDROID, "微信 8 · Android"),
    (("Mozilla/5.0 (iPhone; CPU iPhone OS 16_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
      "AliApp(DingTalk/7.0.10) com.laiwang.DingTalk/28418588 language/zh-Hans-CN"), "钉钉 7 · iPhone"),
    (("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.114 "
      "Safari/537.36 wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh"), "企业微信 4 · Windows"),
    (("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.198 "
      "Safari/537.36 QIHU 360SE"), "360浏览器 · Windows"),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36 Edg/120.0.0.0"), "Edge 120 · Windows"),
    (("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
      "Safari/537.36"), "Chrome 120 · Windows"),
    (("Mozilla/5.0 (Linux; Android 10; HarmonyOS; ELS-AN00; HMSCore 6.11.0.302) AppleWebKit/537.36 (KHTML, like "
      "Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.0.322 Mobile Safari/537.36"), "华为浏览器 14 · 鸿蒙"),
    (("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
      "Safari/605.1.15"), "Safari 17 · macOS"),
    ("Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer 11 · Windows"),
    ("python-requests/2.31", "python-requests/2.31"),
    ("  ", ""),
])
def test_a_sessions_browser_is_named_as_its_user_knows_it(agent, shown):
    assert describe_agent(agent) == shown


def test_the_account_page_names_each_sessions_app_and_system(app, db, make_user, login_as):
    user = make_user("admin")
    here = login_as(user)
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = WECHAT_ANDROID  # 284 characters, WeChat named near the end
    assert login(phone, user.username).status_code == 302
    assert _row(db, phone).user_agent == WECHAT_ANDROID  # kept whole
    page = here.get("/account").get_data(as_text=True)
    assert ">微信 8 · Android</td>" in page
    assert f'title="{WECHAT_ANDROID}"' in page  # the whole string on hover
