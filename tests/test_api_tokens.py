"""API tokens: several named ones, listed with their last use, revoked one by one, ended
by a password change and by disabling the account, with an optional expiry."""
from __future__ import annotations

from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from registry.accounts.models import ApiToken
from registry.accounts.services import disable_user, enable_user, set_password
from registry.accounts.tokens import issue_token
from registry.audit.models import AuditEvent
from registry.core.timeutil import utcnow
from tests.factories import COUNTY

URL = f"/api/v1/coverage/{COUNTY}"


def _status(client, token) -> int:
    return client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code


def _new_token(session, **data) -> str:
    page = session.post("/account/token", data=data).get_data(as_text=True)
    return page.split('class="token">')[1].split("<")[0]


def test_several_named_tokens_listed_with_last_use_and_revoked_one_by_one(db, make_user, login_as, client):
    user = make_user("region", region_code=COUNTY)
    session = login_as(user)
    first = _new_token(session, name="市级数据平台")
    second = _new_token(session, name="县里的报表", expires_days="90")
    assert _status(client, first) == 200 and _status(client, second) == 200
    page = session.get("/account/token").get_data(as_text=True)
    assert "市级数据平台" in page and "县里的报表" in page and "从未使用" not in page
    assert page.count("撤销</button>") == 2
    assert 'href="/api/v1/openapi.json" id="openapi-link"' in page  # where the API is described
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "市级数据平台"))
    assert row.last_used_at is not None and row.expires_at is None and first not in row.digest
    assert db.session.scalar(select(ApiToken).where(ApiToken.name == "县里的报表")).expires_at is not None

    response = session.post(f"/account/token/{row.id}/revoke", follow_redirects=True)
    assert "令牌「市级数据平台」已撤销" in response.get_data(as_text=True)
    assert _status(client, first) == 401 and _status(client, second) == 200
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.action == "api_token_revoke")) == \
        "撤销API令牌「市级数据平台」"

    someone = login_as(make_user("region", region_code=COUNTY))
    other = db.session.scalar(select(ApiToken).where(ApiToken.name == "县里的报表"))
    assert someone.post(f"/account/token/{other.id}/revoke").status_code == 404  # not theirs
    assert _status(client, second) == 200


def test_a_token_stops_at_its_expiry(db, make_user, client):
    user = make_user("region", region_code=COUNTY)
    token = issue_token(user, "短期", expires_days=30)
    with time_machine.travel(utcnow() + timedelta(days=29, hours=23), tick=False):
        assert _status(client, token) == 200
    with time_machine.travel(utcnow() + timedelta(days=30, minutes=1), tick=False):
        assert _status(client, token) == 401


def test_a_password_reset_and_disabling_end_every_token(db, make_user, client):
    user = make_user("region", region_code=COUNTY)
    before_reset = issue_token(user, "甲")
    set_password(user, "Reset-passw0rd-1")
    assert _status(client, before_reset) == 401
    tokens = [issue_token(user, "乙"), issue_token(user, "丙")]
    disable_user(user, "调离岗位")
    enable_user(user)
    assert [_status(client, token) for token in tokens] == [401, 401]  # enabling does not bring them back
    reasons = db.session.scalars(select(ApiToken.revoked_reason).order_by(ApiToken.id)).all()
    assert reasons == ["password_reset", "disabled", "disabled"]


def test_bad_token_input_is_refused_with_a_message_and_nothing_written(db, make_user, login_as):
    session = login_as(make_user("viewer", region_code=COUNTY))
    _new_token(session, name="报表")
    for data, message in (({"name": "报表"}, "名称：已有同名的有效令牌"), ({"name": "长" * 101}, "名称：名称不能超过100个字"),
                          ({"name": "a\u202eb"}, "名称：名称含有不可见的控制字符"),
                          ({"expires_days": "9999"}, "有效期：有效期须为1至366天"),
                          ({"expires_days": "abc"}, "有效期：有效期须为1至366天")):
        response = session.post("/account/token", data=data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_existing_tokens_are_kept_by_the_migration(app, db):
    """``user_account.api_token_hash`` becomes an ``api_token`` row with the same digest,
    and back. Runs this revision (and those after it) down and up again on the test
    database (the whole chain on an empty database is test_migrations')."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from registry.accounts.tokens import token_digest, user_for_token

    db.session.close()
    try:
        downgrade(revision=PREVIOUS)
        db.session.execute(text(
            "INSERT INTO user_account (username, display_name, password_hash, role, active, failed_logins, "
            "session_version, api_token_hash, created_at) VALUES ('old', 'old', 'x', 'admin', true, 0, 1, :digest, "
            "'2026-01-01')"), {"digest": token_digest("rg_old-token")})
        db.session.commit()
        db.session.close()
        upgrade()  # to the head: the model (User) is the head's, whatever later revisions added
        assert user_for_token("rg_old-token").username == "old"
        assert db.session.scalar(select(ApiToken.name)) == "原有令牌"
        db.session.commit()
        db.session.close()
        downgrade(revision=PREVIOUS)
        assert db.session.scalar(text("SELECT api_token_hash FROM user_account")) == token_digest("rg_old-token")
    finally:
        db.session.rollback()
        db.session.close()
        upgrade()


PREVIOUS = "707985985e13"  # the revision before e5a1c3d7f9b2, which made API tokens rows
