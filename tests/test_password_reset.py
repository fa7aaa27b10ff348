"""The administrator's 重置密码 from an account's page (the login page sends a user who
forgot their password to the administrator): a new random password shown once, the old
one refused, the account's sessions and tokens ended, a lock lifted, the reset audited;
never one's own account from there, and no one else's hands on it (404)."""
from __future__ import annotations

import re

from sqlalchemy import select

from registry.accounts.models import User
from registry.accounts.tokens import issue_token
from registry.audit.models import AuditEvent
from tests.conftest import PASSWORD, login
from tests.factories import COUNTY


def test_the_administrator_resets_a_password_shown_once(app, db, make_user, login_as, client):
    administrator = make_user("admin")
    admin = login_as(administrator)
    user = make_user("region", region_code=COUNTY)
    theirs = login_as(user)
    token = issue_token(user, "平台")
    db.session.execute(User.__table__.update().where(User.id == user.id).values(failed_logins=9))
    db.session.commit()
    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f"/admin/users/{user.id}/reset-password" in page and "确定重置账号" in page

    response = admin.post(f"/admin/users/{user.id}/reset-password", follow_redirects=True)
    body = response.get_data(as_text=True)
    new = re.search(r"新密码只显示这一次：([A-Za-z0-9]{16})", body).group(1)
    assert new not in admin.get(f"/admin/users/{user.id}").get_data(as_text=True)  # once
    # the old password no longer opens the account, the new one does; what was open has ended
    db.session.expire_all()
    assert db.session.get(User, user.id).failed_logins == 0  # a lock from mistyping is lifted
    assert login(app.test_client(), user.username, PASSWORD).status_code != 302
    assert login(app.test_client(), user.username, new).status_code == 302
    assert theirs.get("/").status_code == 302
    assert client.get(f"/api/v1/coverage/{COUNTY}", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "password_reset"))
    assert event.actor == administrator.username and event.summary == "重置密码"
    assert new not in (event.after or "") and new not in event.summary


def test_not_ones_own_and_not_by_others(db, make_user, login_as):
    me = make_user("admin")
    session = login_as(me)
    refused = session.post(f"/admin/users/{me.id}/reset-password", follow_redirects=True)
    assert "不能在这里重置自己的密码" in refused.get_data(as_text=True)
    staff = login_as(make_user("region", region_code=COUNTY))
    other = make_user("viewer", region_code=COUNTY)
    assert staff.post(f"/admin/users/{other.id}/reset-password").status_code == 404
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "password_reset")) is None
