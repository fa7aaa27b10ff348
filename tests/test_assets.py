"""The site's static files carry their version in the URL and are kept by browsers
(``registry/core/assets.py``)."""
from __future__ import annotations

import re

from flask import url_for

from registry.core import assets


def _versioned(body: str, name: str) -> str:
    found = re.search(rf'"(/static/{re.escape(name)}\?v=[0-9a-f]{{12}})"', body)
    assert found, f"{name} is not linked with its version"
    return found.group(1)


def test_a_page_links_its_files_by_version_and_a_browser_keeps_them(client):
    body = client.get("/login").get_data(as_text=True)
    for name in ("css/app.css", "js/app.js"):
        url = _versioned(body, name)
        with client.get(url) as answer:  # a file's answer: closed when read
            assert answer.status_code == 200
            cache = answer.cache_control
            assert (cache.public, cache.max_age, cache.immutable, cache.no_cache) == (True, 365 * 24 * 3600, True, None)
            # the file's answer depends on no cookie: nothing makes a kept copy stale
            assert "Cookie" not in answer.headers.get("Vary", "") and "Set-Cookie" not in answer.headers
        with client.get(url, headers={"If-None-Match": answer.headers["ETag"]}) as again:
            assert again.status_code == 304 and again.cache_control.immutable


def test_a_file_asked_for_without_its_version_or_with_another_is_checked_each_time(client):
    for url in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        with client.get(url) as answer:
            assert answer.status_code == 200 and answer.cache_control.no_cache
            assert not answer.cache_control.max_age and not answer.cache_control.immutable


def test_the_version_follows_the_contents(app, tmp_path, monkeypatch):
    (tmp_path / "css").mkdir()
    sheet = tmp_path / "css" / "x.css"
    sheet.write_text("a{}", encoding="utf-8")
    monkeypatch.setattr(app, "static_folder", str(tmp_path))
    monkeypatch.setattr(app, "debug", True)  # the development server reads a changed file again
    with app.test_request_context():
        first = url_for("static", filename="css/x.css")
        assert url_for("static", filename="css/x.css") == first
        sheet.write_text("a{color:red}", encoding="utf-8")
        second = url_for("static", filename="css/x.css")
        assert second != first and second.startswith("/static/css/x.css?v=")
        # no version for what is not a file, and none where the caller says so
        assert url_for("static", filename="css/") == "/static/css/"
        assert url_for("static", filename="css/missing.css") == "/static/css/missing.css"
        assert url_for("static", filename="../secret").endswith("secret") and "v=" not in url_for("static", filename="../secret")
        assert url_for("static", filename="css/x.css", v=None) == "/static/css/x.css"
    assert assets.static_version(None) is None
