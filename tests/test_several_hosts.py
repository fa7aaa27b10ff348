"""Several app hosts behind one load balancer: two gunicorn instances on different ports,
one PostgreSQL database, one object store (a local S3 server, moto's server mode), each
host with its own instance folder and its own (unused) UPLOAD_FOLDER. A file uploaded
through one is served by the other, a logout on one ends the session on the other, and
the login throttle counts the attempts made on both.

Runs in the PostgreSQL run (``TEST_DATABASE_URL=postgresql…``, as ``.ci/run`` does);
skipped on SQLite, whose file is no database for several hosts. The hosts serve the
test's own database, so the world is built here with the factories."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import PASSWORD, s3_settings, stop_server
from tests.factories_records import file_record, png_bytes, world  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

pytestmark = [
    pytest.mark.multihost,
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                       reason="several app hosts share a PostgreSQL database: runs with TEST_DATABASE_URL=postgresql…"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hosts:
    """The hosts' URLs by name; the first look waits until both answer, so the hosts boot
    while the test builds its world."""

    def __init__(self, urls: dict[str, str], logs: list[Path]):
        self.urls, self.logs, self.ready = urls, logs, False

    def __getitem__(self, name: str) -> str:
        if not self.ready:
            deadline = time.monotonic() + 60
            for url in self.urls.values():
                while True:
                    try:
                        if requests.get(url + "/healthz", timeout=5).ok:
                            break
                    except requests.RequestException:  # not listening yet, or its worker still booting
                        pass
                    if time.monotonic() > deadline:
                        pytest.fail("a host did not start: " + "\n".join(p.read_text()[-1500:] for p in self.logs))
                    time.sleep(0.05)
            self.ready = True
        return self.urls[name]


@pytest.fixture(scope="module")
def hosts(_app, app_config, s3_server, tmp_path_factory):
    """Two gunicorn hosts (``hosts["a"]``, ``hosts["b"]``: their URLs) on the test's
    database and one bucket."""
    shared = {
        "FLASK_APP": "registry:create_app",
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATA_KEY": app_config["DATA_KEY"],
        "REGISTRY_PASSWORD_HASH_METHOD": app_config["REGISTRY_PASSWORD_HASH_METHOD"],
        **s3_settings(s3_server),
    }
    procs, urls, logs = [], {}, []
    for name in ("a", "b"):
        tmp = tmp_path_factory.mktemp(f"host-{name}")
        env = {**os.environ, **shared, "REGISTRY_INSTANCE_PATH": str(tmp / "instance"),
               "UPLOAD_FOLDER": str(tmp / "uploads"), "AUDIT_CHECKPOINT_PATH": str(tmp / "audit-checkpoint.json")}
        port = _free_port()
        log = open(tmp / "gunicorn.log", "w")
        logs.append((log, tmp / "gunicorn.log"))
        procs.append(subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "1", "--bind", f"127.0.0.1:{port}", "registry:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        urls[name] = f"http://127.0.0.1:{port}"
    try:
        yield Hosts(urls, [path for _, path in logs])
    finally:
        for proc in procs:
            stop_server(proc)
        for log, path in logs:
            log.close()
            assert "Traceback" not in path.read_text(), path.read_text()[-3000:]
            assert not (path.parent / "uploads").exists()  # no file was kept on a host itself


def _token(response) -> str:
    found = _CSRF.search(response.text)
    assert found, response.text[:500]
    return found.group(1)


def _log_in(browser: requests.Session, url: str, username: str, password: str = PASSWORD):
    token = _token(browser.get(url + "/login"))
    return browser.post(url + "/login", data={"csrf_token": token, "username": username, "password": password},
                        allow_redirects=False)


def test_a_file_uploaded_through_one_host_is_served_by_the_other(hosts, app, db, world, tmp_path):
    from registry.records.models import Evidence

    record = file_record(world.unit, world.village.code)
    browser = requests.Session()  # one browser, its requests spread over both hosts
    assert _log_in(browser, hosts["a"], world.unit.username).status_code == 302
    page = browser.get(f"{hosts['a']}/records/{record.id}")
    photo = png_bytes()
    uploaded = browser.post(f"{hosts['a']}/records/{record.id}/evidence", data={"csrf_token": _token(page)},
                            files={"files": ("现场.png", photo, "application/octet-stream")}, allow_redirects=False)
    assert uploaded.status_code == 302
    item = db.session.query(Evidence).one()

    served = browser.get(f"{hosts['b']}/records/{record.id}/evidence/{item.id}")
    assert served.status_code == 200 and served.content == photo
    assert served.headers["Cache-Control"] == "private, no-store"
    thumb = browser.get(f"{hosts['b']}/records/{record.id}/evidence/{item.id}/thumb")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert browser.get(f"{hosts['a']}/records/{record.id}/evidence/{item.id}/thumb").content == thumb.content
    # a file the store does not have is a 404 on either host, and scope still holds
    outsider = requests.Session()
    assert _log_in(outsider, hosts["b"], world.other_unit.username).status_code == 302
    assert outsider.get(f"{hosts['b']}/records/{record.id}/evidence/{item.id}").status_code == 404
    assert browser.get(f"{hosts['b']}/records/{record.id}/evidence/{item.id + 1}").status_code == 404


def test_a_logout_on_one_host_ends_the_session_on_the_other(hosts, app, db, world):
    browser = requests.Session()
    assert _log_in(browser, hosts["a"], world.county.username).status_code == 302
    home_b = browser.get(hosts["b"] + "/", allow_redirects=False)
    assert home_b.status_code == 200  # the session started on A is known to B
    kept = requests.Session()  # a copy of the cookie, as someone may have kept it
    kept.cookies.update(browser.cookies)
    out = browser.post(hosts["b"] + "/logout", data={"csrf_token": _token(home_b)}, allow_redirects=False)
    assert out.status_code == 302 and "/login" in out.headers["Location"]
    for each in (browser, kept):  # the session is over on both hosts, whatever cookie comes back
        for url in (hosts["a"], hosts["b"]):
            again = each.get(url + "/", allow_redirects=False)
            assert again.status_code == 302 and "/login" in again.headers["Location"]


def test_the_login_throttle_counts_across_both_hosts(hosts, app, db, world):
    free = app.config["REGISTRY_LOGIN_MAX_FAILURES"]
    browser = requests.Session()
    for attempt in range(free):  # wrong passwords, one host then the other
        answer = _log_in(browser, hosts["ab"[attempt % 2]], world.viewer.username, "wrong-password-1")
        assert answer.status_code == 200 and "用户名或密码" in answer.text
    for url in (hosts["a"], hosts["b"]):  # each host alone has seen fewer than allowed
        refused = _log_in(browser, url, world.viewer.username)  # even the right password waits
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
