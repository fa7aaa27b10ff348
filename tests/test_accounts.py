from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.accounts.models import User
from registry.accounts.services import create_user, generate_password, password_problems
from registry.core.rules import RuleViolation
from tests.conftest import PASSWORD, csrf_token, login
from tests.factories import COUNTY, make_village


def test_login_and_logout(client, make_user):
    user = make_user("admin")
    response = login(client, user.username)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/account/password")
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_in_chinese(client, make_user):
    user = make_user("admin")
    response = login(client, user.username, "wrong-password-1")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_password_change_ends_other_sessions(app, make_user, login_as):
    user = make_user("admin")
    first = login_as(user)
    second = login_as(user)
    response = first.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "NewPassw0rd123", "confirm_password": "NewPassw0rd123"})
    assert response.status_code == 302
    assert first.get("/").status_code == 200
    assert second.get("/").status_code == 302  # the other session is gone


def test_password_change_rules(make_user, login_as):
    session = login_as(make_user("admin"))
    response = session.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "short", "confirm_password": "short"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "新密码：密码至少12位" in body


def test_generated_passwords_pass_the_policy():
    for _ in range(20):
        assert password_problems(generate_password()) == []


@pytest.mark.parametrize("password, problem", [
    ("Abcdefgh123", "密码至少12位"),
    ("qwerty123456", "常见"),
    ("QWERTY123456", "常见"),  # the list is checked without regard to case
    ("Password1234", "常见"),
    ("Sunshine2024!!!", "常见"),  # a common word with digits and signs around it
])
def test_short_and_common_passwords_are_refused(password, problem):
    assert any(problem in message for message in password_problems(password))


def test_the_tests_and_demo_passwords_pass_the_policy():
    assert password_problems(PASSWORD) == []
    assert password_problems("NewPassw0rd123") == []


def test_every_way_of_setting_a_password_uses_the_policy(db, runner, make_user, login_as):
    with pytest.raises(RuleViolation) as info:
        create_user("someone", "admin", password="Password1234")
    assert "password" in info.value.errors
    db.session.rollback()
    user = make_user("admin")
    result = runner.invoke(args=["users", "set-password", user.username], input="qwertyuiop123\n")
    assert result.exit_code != 0 and "常见" in result.output
    body = login_as(user).post("/account/password", data={
        "current_password": PASSWORD, "new_password": "1q2w3e4r5t6y", "confirm_password": "1q2w3e4r5t6y"}
    ).get_data(as_text=True)
    assert "新密码：密码过于常见" in body


@pytest.mark.parametrize(
    "role, scope, field",
    [
        ("region", {"region_code": "999999999999"}, "region_code"),
        ("unit", {"organization_id": 424242}, "organization_id"),
        ("unit", {"organization_id": 10**20}, "organization_id"),  # more than the database holds
        ("unit", {"organization_id": 0}, "organization_id"),
        ("village", {"village_code": COUNTY}, "village_code"),
        ("wizard", {}, "role"),
    ],
)
def test_create_user_needs_a_valid_scope(db, role, scope, field):
    with pytest.raises(RuleViolation) as info:
        create_user("someone", role, **scope)
    assert field in info.value.errors
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_cli_creates_a_user_and_prints_password(runner, db):
    result = runner.invoke(args=["users", "create", "chief", "--role", "region", "--region", COUNTY])
    assert result.exit_code == 0, result.output
    assert "初始密码" in result.output
    assert db.session.scalar(select(User).where(User.username == "chief")).region_code == COUNTY


def test_cli_refuses_a_bad_scope(runner, db):
    result = runner.invoke(args=["users", "create", "chief", "--role", "village", "--village", "430000000000"])
    assert result.exit_code != 0
    assert "请选择有效的村" in result.output


def test_cli_refuses_an_organization_id_the_database_cannot_hold(runner, db):
    # was a traceback (OverflowError from the driver) instead of the rule's message
    result = runner.invoke(args=["users", "create", "chief", "--role", "unit", "--org", "99999999999999999999"])
    assert result.exit_code == 1 and "请选择有效的帮扶单位" in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_village_user_scope(db, make_user):
    village = make_village()
    user = make_user("village", village_code=village.code)
    assert user.scope_label == village.name


def test_production_hashes_passwords_with_scrypt(tmp_path):
    from registry.config import SETTING_DEFAULTS, load_config

    assert SETTING_DEFAULTS["REGISTRY_PASSWORD_HASH_METHOD"] == "scrypt"
    assert load_config(str(tmp_path))["REGISTRY_PASSWORD_HASH_METHOD"] == "scrypt"


def test_the_configured_hash_method_is_used_and_checked(app):
    from werkzeug.security import check_password_hash

    from registry.accounts.services import hash_password

    hashed = hash_password("Another-passw0rd")
    assert hashed.startswith(app.config["REGISTRY_PASSWORD_HASH_METHOD"].split(":")[0] + ":")
    assert check_password_hash(hashed, "Another-passw0rd")
    assert not check_password_hash(hashed, "another-passw0rd")


def test_a_copied_cookie_no_longer_works_after_logout(app, make_user):
    """Defect 1 of issue 13: logout ended nothing the server checks."""
    user = make_user("admin")
    browser = app.test_client()
    assert login(browser, user.username).status_code == 302
    stolen = browser.get_cookie("session").value
    token = csrf_token(browser, "/account/password")
    browser.post("/logout", data={"csrf_token": token})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/people/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_password_change_ends_the_api_tokens(make_user, login_as, client):
    """Defect 2 of issue 13: a token kept working after its owner's password change."""
    session = login_as(make_user("region", region_code=COUNTY))
    page = session.post("/account/token").get_data(as_text=True)
    token = page.split('class="token">')[1].split("<")[0]
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/coverage/{COUNTY}", headers=bearer).status_code == 200
    response = session.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "NewPassw0rd123", "confirm_password": "NewPassw0rd123"})
    assert response.status_code == 302
    assert client.get(f"/api/v1/coverage/{COUNTY}", headers=bearer).status_code == 401


def test_the_administrator_exports_the_accounts_as_the_list_shows_them(db, make_user, login_as):
    import io
    from datetime import datetime, timedelta

    from openpyxl import load_workbook

    from registry.audit.models import AuditEvent
    from registry.core.timeutil import utcnow

    admin = make_user("admin", "acct_admin")
    make_user("region", "acct_county", region_code=COUNTY)
    gone = make_user("region", "acct_gone", region_code=COUNTY)
    gone.active = False
    stuck = make_user("region", "acct_stuck", region_code=COUNTY)
    stuck.locked_until = utcnow() + timedelta(minutes=10)
    stuck.last_login_at = datetime(2026, 11, 27, 16, 30)  # UTC: 28 November, 00:30 in Hunan
    db.session.commit()
    session = login_as(admin)
    assert "/admin/users/export.xlsx" in session.get("/admin/users").get_data(as_text=True)
    book = load_workbook(io.BytesIO(session.get("/admin/users/export.xlsx").data))
    rows = {r[0]: r for r in book.worksheets[0].iter_rows(min_row=2, values_only=True)}
    assert set(rows) == set(db.session.scalars(select(User.username)))
    assert rows["acct_county"][2:5] == ("行政区工作人员", "吉首市", "正常")
    assert rows["acct_gone"][4] == "已停用" and rows["acct_stuck"][4] == "已锁定"
    assert rows["acct_stuck"][5] == datetime(2026, 11, 28, 0, 30)  # its last login, in local time
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.actor_id == admin.id and "账号清单 4 条" in event.summary
    text = session.get("/admin/users/export.csv").get_data(as_text=True)
    assert "acct_stuck" in text and "已锁定" in text
    assert session.get("/admin/users/export.json").status_code == 404
    assert login_as(make_user("region", "acct_other", region_code=COUNTY)).get("/admin/users/export.csv").status_code == 403
