"""Disabling and enabling accounts: by the administrator from the account page or the
CLI, with a reason, audited; a disabled account's sessions and tokens end at once and it
cannot log in. Accounts are the administrator's (DESIGN.md section 2): anyone else gets
404 for any account."""
from __future__ import annotations

from sqlalchemy import select

from registry.accounts.models import User
from registry.accounts.tokens import issue_token
from registry.audit.models import AuditEvent
from tests.conftest import login
from tests.factories import COUNTY, OTHER_COUNTY


def _logged_out(response) -> bool:
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_administrator_disables_and_enables_an_account_from_its_page(app, db, make_user, login_as, client):
    admin = login_as(make_user("admin"))
    user = make_user("region", region_code=COUNTY)
    theirs = login_as(user)
    token = issue_token(user, "平台")
    page = admin.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "停用账号" in page and 'data-confirm="确定停用账号 region2？' in page

    refused = admin.post(f"/admin/users/{user.id}/disable", data={"reason": "  "})
    assert refused.status_code == 422 and "原因：请填写原因" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, user.id).active and theirs.get("/").status_code == 200

    response = admin.post(f"/admin/users/{user.id}/disable", data={"reason": "调离岗位"}, follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "账号 region2 已停用" in body and "原因：调离岗位" in body
    assert _logged_out(theirs.get("/"))
    assert client.get(f"/api/v1/coverage/{COUNTY}", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "账号已停用" in login(app.test_client(), user.username).get_data(as_text=True)
    assert "已停用" in admin.get("/admin/users").get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "disable"))
    assert event.summary == "停用账号 region2：调离岗位" and event.actor == "admin1" and event.region_code == COUNTY

    response = admin.post(f"/admin/users/{user.id}/enable", data={"reason": "返岗"}, follow_redirects=True)
    assert "账号 region2 已启用" in response.get_data(as_text=True)
    assert login(app.test_client(), user.username).status_code == 302
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.action == "enable")) == "启用账号 region2：返岗"


def test_an_administrator_cannot_disable_their_own_account(db, make_user, login_as):
    me = make_user("admin")
    session = login_as(me)
    response = session.post(f"/admin/users/{me.id}/disable", data={"reason": "试试"})
    assert response.status_code == 422 and "不能停用自己的账号" in response.get_data(as_text=True)
    assert session.get("/").status_code == 200


def test_accounts_are_the_administrators_alone(db, make_user, login_as):
    staff = login_as(make_user("region", region_code=COUNTY))
    inside = make_user("viewer", region_code=COUNTY)
    outside = make_user("region", region_code=OTHER_COUNTY)
    for user in (inside, outside):
        assert staff.get(f"/admin/users/{user.id}").status_code == 404
        assert staff.post(f"/admin/users/{user.id}/disable", data={"reason": "越权"}).status_code == 404
        assert staff.post(f"/admin/users/{user.id}/enable").status_code == 404
    db.session.expire_all()
    assert all(db.session.get(User, user.id).active for user in (inside, outside))
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "disable")) is None


def test_the_cli_disables_and_enables(runner, db, make_user, login_as):
    user = make_user("viewer", region_code=COUNTY)
    session = login_as(user)
    result = runner.invoke(args=["users", "disable", user.username, "--reason", "离职"])
    assert result.exit_code == 0, result.output
    assert "已停用" in result.output and _logged_out(session.get("/"))
    db.session.expire_all()
    assert db.session.get(User, user.id).disabled_reason == "离职"
    assert runner.invoke(args=["users", "disable", user.username, "--reason", "再停"]).output.strip().endswith("该账号已停用")
    assert runner.invoke(args=["users", "disable", user.username]).exit_code != 0  # --reason is required
    assert "账号不存在" in runner.invoke(args=["users", "enable", "nobody"]).output
    result = runner.invoke(args=["users", "enable", user.username])
    assert result.exit_code == 0 and "已启用" in result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).active and db.session.get(User, user.id).disabled_reason is None
    actions = db.session.scalars(select(AuditEvent.actor).where(AuditEvent.action.in_(("disable", "enable")))).all()
    assert actions == ["system", "system"]
