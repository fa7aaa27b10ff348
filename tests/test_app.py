"""Baseline protection: health, headers, CSRF, error pages."""
from __future__ import annotations

import re

from tests.conftest import PASSWORD, csrf_token


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_template_runs_script_the_policy_blocks():
    """The policy allows scripts from the site's own files only: an inline handler
    (``onchange="…"``), an inline ``<script>`` (but JSON data) or a ``javascript:`` link would be
    blocked in the browser and its control would do nothing (the inspections' year
    filter did: choosing a year changed nothing, and its button showed only without
    scripts)."""
    from pathlib import Path

    templates = Path(__file__).resolve().parents[1] / "templates"
    handler = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
    # a script's own file, or data (JSON) that a script reads, are allowed
    inline = re.compile(r'<script(?![^>]*\s(?:src=|type="application/json"))[^>]*>\s*[^<\s]', re.I)
    found = [f"{path.relative_to(templates)}: {pattern}"
             for path in templates.rglob("*.html")
             for pattern, hit in (("on…= handler", handler), ("inline <script>", inline),
                                  ("javascript: link", re.compile(r"javascript:", re.I)))
             if hit.search(path.read_text(encoding="utf-8"))]
    assert found == []


def test_session_cookie_is_httponly_and_samesite(client, make_user):
    user = make_user("admin")
    token = csrf_token(client)
    response = client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    cookie = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_post_without_csrf_is_refused(client, make_user):
    user = make_user("admin")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_logout_by_get_is_not_allowed(login_as, make_user):
    session = login_as(make_user("admin"))
    assert session.get("/logout").status_code == 405
    assert session.get("/").status_code == 200  # still logged in


def test_404_page_is_chinese_without_trace(login_as, make_user):
    session = login_as(make_user("admin"))
    response = session.get("/no/such/page")
    body = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "页面不存在" in body and "Traceback" not in body


def test_an_error_page_reads_nothing_from_the_database(app, login_as, make_user):
    """A page that does not exist and a form refused for its CSRF token, as a signed-in
    user: the error page runs no query (no account, no unread count, no menu) and is not
    cached."""
    from sqlalchemy import event

    from registry.extensions import db

    session = login_as(make_user("admin"))
    statements = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        missing = session.client.get("/no/such/page")
        refused = session.client.post("/organizations/new", data={"csrf_token": "forged", "name": "x"})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert missing.headers["Cache-Control"] == refused.headers["Cache-Control"] == "no-store"
    assert statements == []


def test_500_page_hides_the_error(login_as, make_user):
    session = login_as(make_user("admin"))
    response = session.get("/_test/boom")  # registered by conftest, raises RuntimeError
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "系统内部错误" in body and "secret detail" not in body and "Traceback" not in body


def test_413_for_an_oversized_body(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        response = client.post("/login", data={"username": "x" * 5000})
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    assert response.status_code == 413
    assert "文件过大" in response.get_data(as_text=True)


def test_plotly_is_served_locally(client):
    response = client.get("/assets/plotly.min.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    response.close()


def test_a_nul_character_anywhere_in_a_request_is_refused_and_nothing_is_written(app, db, client, make_user, login_as):
    """PostgreSQL cannot hold a NUL (U+0000): one in a form field, a query argument or the
    path used to reach the database and answer 500 (the login form's user name included)."""
    from sqlalchemy import func, select

    from registry.audit.models import AuditEvent
    from registry.organizations.models import Organization
    from tests.conftest import session_csrf_token

    make_user("viewer", "nul_viewer", region_code="430000000000")
    admin = login_as(make_user("admin", "nul_admin"))
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    refused = [
        client.post("/login", data={"username": "nul\x00viewer", "password": PASSWORD,
                                    "csrf_token": session_csrf_token(client)}),
        admin.post("/organizations/new", data={"name": "空字符\x00单位", "kind": "backing_unit", "level": "provincial",
                                               "region_code": "430000000000"}),
        admin.get("/people/", query_string={"q": "张\x00三"}),
        admin.get("/regions/4300000000%00"),
        admin.get("/api/v1/gaps/430000000000", query_string={"kind": "\x00"}),
    ]
    # a path that holds NUL names nothing (404), as an id out of range; the rest is a 400
    assert [r.status_code for r in refused] == [400, 400, 400, 404, 400]
    assert "U+0000" in refused[1].get_data(as_text=True)  # the message names the character
    assert "U+0000" in refused[4].get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_compiled_templates_are_kept_in_the_cache_folder_and_read_back(tmp_path, app_config):
    from registry import create_app

    def app_with(folder):
        return create_app({**app_config, "TEMPLATE_CACHE_FOLDER": folder})

    assert app_with(None).jinja_env.bytecode_cache is None
    app_with(str(tmp_path)).jinja_env.get_template("base.html")
    assert len(list(tmp_path.glob("__jinja2_*.cache"))) >= 1
    reader = app_with(str(tmp_path))

    def compile_again(*args, **kwargs):
        raise AssertionError("a template in the cache was compiled again")

    reader.jinja_env.compile = compile_again
    assert reader.jinja_env.get_template("base.html").render  # from the folder, not compiled
