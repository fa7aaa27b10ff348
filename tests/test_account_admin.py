"""The administrator's account page and form. 重置密码 (the login page sends a user who
forgot their password to the administrator): a new random password shown once, the old
one refused, the account's sessions and tokens ended, a lock lifted, the reset audited;
never one's own account from there, and no one else's hands on it (404). A 帮扶单位
account's unit named by its full name or 统一社会信用代码."""
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


def test_the_administrator_names_a_units_account_by_the_units_name_or_credit_code(db, make_user, login_as):
    """A 帮扶单位 account's unit is given as people know it: its full name or its
    统一社会信用代码 (or the number its page's address shows); an unknown one is refused on
    the field, naming what was typed, and nothing is created."""
    from tests.factories import make_org

    org = make_org("backing_unit", COUNTY, name="吉首市农业农村局", level="county")
    admin = login_as(make_user("admin"))
    form = {"role": "unit", "display_name": "农业农村局填报员"}
    by_name = admin.post("/admin/users/new", data={**form, "username": "unit_by_name", "organization_id": "吉首市农业农村局"})
    assert by_name.status_code == 302
    assert db.session.scalar(select(User.organization_id).where(User.username == "unit_by_name")) == org.id
    if org.credit_code:
        by_code = admin.post("/admin/users/new", data={**form, "username": "unit_by_code", "organization_id": org.credit_code})
        assert by_code.status_code == 302
    by_number = admin.post("/admin/users/new", data={**form, "username": "unit_by_number", "organization_id": str(org.id)})
    assert by_number.status_code == 302
    unknown = admin.post("/admin/users/new", data={**form, "username": "unit_unknown", "organization_id": "不存在的单位"})
    assert unknown.status_code == 422 and "“不存在的单位”" in unknown.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.username == "unit_unknown")) is None
