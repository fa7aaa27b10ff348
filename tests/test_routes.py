"""Route inventory: every route has an access rule; anonymous users are refused
everywhere but login, health and static files."""
from __future__ import annotations

import re

PUBLIC = {"accounts.login", "cadres.activate", "main.healthz", "static", "main.plotly_js", "main.favicon",
          # the offline app's worker, manifest and "needs a connection" page: nothing personal
          "offline.service_worker", "offline.manifest", "offline.page"}


def _view_rule(view) -> str | None:
    if getattr(view, "_public", False):
        return "public"
    if getattr(view, "_access", None) == "login":
        return "login"
    if getattr(view, "_permission", None):
        return "permission"
    wrapped = getattr(view, "__wrapped__", None)
    return _view_rule(wrapped) if wrapped else None


def test_every_route_has_an_access_rule(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        if _view_rule(app.view_functions[rule.endpoint]) is None:
            missing.append(rule.rule)
    assert not missing, f"routes without an access rule: {missing}"


def test_only_login_health_and_static_are_public(app):
    public = {
        rule.endpoint for rule in app.url_map.iter_rules()
        if rule.endpoint == "static" or _view_rule(app.view_functions[rule.endpoint]) == "public"
    }
    assert public == PUBLIC


def _sample_url(rule) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "430000000000" if "code" in m.group(1) else "1", rule.rule)


def test_anonymous_is_refused_everywhere_else(app, client):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = _sample_url(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if url.startswith("/api/"):
                assert response.status_code == 401, (method, url, response.status_code)
            elif method == "GET":
                assert response.status_code == 302 and "/login" in response.headers["Location"], (method, url)
            else:
                # a POST without a session is refused: CSRF (400) or the login redirect
                assert response.status_code in (302, 400), (method, url, response.status_code)
