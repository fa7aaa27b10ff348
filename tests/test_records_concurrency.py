"""Two people at once.

1. Two sessions save the same record from the same version: the second is refused with a
   message, keeps its input, and the first save stands.
2. Many confirmations at once against a real gunicorn with several workers: none is lost,
   none fails with "database is locked", and the audit chain still verifies. On SQLite this
   is what ``BEGIN IMMEDIATE`` and the busy timeout are for; with TEST_DATABASE_URL set it
   runs against that PostgreSQL server in its own database (``<name>_concurrency``).
"""
from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm.exc import StaleDataError  # noqa: F401  (documents what the service turns into a message)

from registry.core.rules import RuleViolation
from registry.records import services
from registry.records.models import SupportRecord
from tests.conftest import PASSWORD, stop_server
from tests.factories_records import audit_count, file_record, record_data, world  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# -- 1. the same record saved twice from one version ------------------------------------------------

def test_the_second_save_from_the_same_version_is_refused(login_as, db, world):
    record = file_record(world.unit, world.village.code, title="原标题")
    first, second = login_as(world.unit), login_as(world.unit2)
    for session in (first, second):
        page = session.get(f"/records/{record.id}/edit").get_data(as_text=True)
        assert f'name="version" type="hidden" value="{record.version}"' in page
    seen = record.version

    response = first.post(f"/records/{record.id}/edit",
                          data={**record_data(world.village.code, title="第一个人的修改", amount="111"), "version": seen, "action": "save"})
    assert response.status_code == 302
    events = audit_count()
    response = second.post(f"/records/{record.id}/edit",
                           data={**record_data(world.village.code, title="第二个人的修改", amount="222"), "version": seen, "action": "save"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "该记录已被他人修改，您的操作未保存" in body
    assert 'value="第二个人的修改"' in body and 'value="222"' in body  # their input stays on the form
    db.session.expire_all()
    stored = db.session.get(SupportRecord, record.id)
    assert stored.title == "第一个人的修改" and str(stored.amount) == "111.00" and stored.version == seen + 1
    assert audit_count() == events


def test_a_concurrent_write_caught_at_flush_is_refused(db, world):
    """The other path of the same rule: the version moved between reading and writing
    (another process committed), which the ORM finds as a StaleDataError at flush."""
    record = file_record(world.unit, world.village.code, title="原标题")
    version = record.version
    db.session.execute(update(SupportRecord).where(SupportRecord.id == record.id)
                       .values(title="另一个进程的修改", version=SupportRecord.version + 1)
                       .execution_options(synchronize_session=False))  # the session does not know
    events = audit_count()
    with pytest.raises(RuleViolation) as caught:
        services.update_record(record, world.unit, record_data(world.village.code, title="迟到的修改"), version)
    assert "已被他人修改" in caught.value.message
    db.session.expire_all()
    assert db.session.get(SupportRecord, record.id).title == "原标题"  # the test's raw update was rolled back too
    assert audit_count() == events


# -- 2. many confirmations against gunicorn --------------------------------------------------------

VILLAGES = 4
PER_VILLAGE = 10
WORKERS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(tmp: Path) -> str:
    pg = os.environ.get("TEST_DATABASE_URL")
    if not pg:
        return f"sqlite:///{tmp / 'concurrency.sqlite3'}"
    from sqlalchemy import create_engine

    name = pg.rsplit("/", 1)[1] + "_concurrency"
    admin = create_engine(pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return pg.rsplit("/", 1)[0] + "/" + name


def _prepare(url: str, env: dict, migrated: bool = False) -> dict[str, list[int]]:
    """Schema by ``flask db upgrade`` (``migrated``: a copy of a database it made, with the
    divisions), then data through the app's own services."""
    from flask_migrate import upgrade

    from registry import create_app
    from registry.accounts.services import create_user
    from registry.extensions import db
    from registry.regions.services import load_divisions
    from tests.factories import COUNTY, first_township, make_org, make_pairing, make_village

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": env["SECRET_KEY"], "DATA_KEY": env["DATA_KEY"],
                      "UPLOAD_FOLDER": env["UPLOAD_FOLDER"], "AUDIT_CHECKPOINT_PATH": env["AUDIT_CHECKPOINT_PATH"], "TESTING": True,
                      "REGISTRY_PASSWORD_HASH_METHOD": env["REGISTRY_PASSWORD_HASH_METHOD"]})
    plan: dict[str, list[int]] = {}
    with app.app_context():
        if not migrated:
            upgrade()  # the schema by the migrations, in this process
            db.create_all()  # tables whose migration is not generated yet (a no-op once it is)
            load_divisions()
            db.session.commit()
        township = first_township(COUNTY)
        org = make_org("backing_unit", name="并发测试单位")
        unit, _ = create_user("conc_unit", "unit", organization_id=org.id, password=PASSWORD)
        db.session.commit()
        for n in range(1, VILLAGES + 1):
            village = make_village(COUNTY, n, township=township)
            make_pairing(org, village.code, start=date(2023, 1, 1))
            username = f"conc_village_{n}"
            create_user(username, "village", village_code=village.code, password=PASSWORD)
            db.session.commit()
            plan[username] = [
                services.create_record(unit, record_data(village.code, title=f"并发记录 {n}-{i}"), submit=True).id
                for i in range(PER_VILLAGE)
            ]
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return plan


class Http:
    """A tiny client: one logged-in cookie, no redirects followed, a new connection per request."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        cookies = response.headers.get_all("Set-Cookie") or []
        conn.close()
        return response.status, response.headers, text, cookies

    def _keep(self, cookies):
        jar = SimpleCookie()
        for raw in cookies:
            jar.load(raw)
        if "session" in jar:
            self.cookie = f"session={jar['session'].value}"

    def login(self, username: str) -> None:
        _, _, page, cookies = self.request("GET", "/login")
        self._keep(cookies)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        status, _, _, cookies = self.request("POST", "/login", {"csrf_token": token, "username": username, "password": PASSWORD})
        assert status == 302, f"login of {username} failed ({status})"
        self._keep(cookies)


def _copy_of_the_test_database(url: str) -> bool:
    """On SQLite: the test process's own database (made by ``flask db upgrade`` with the
    divisions loaded, emptied by the ``app`` fixture) copied to ``url``'s file, instead of
    running every migration again (~2 s). Whether it did."""
    import sqlite3

    from registry.extensions import db
    from tests.conftest import _backup

    if not url.startswith("sqlite") or db.engine.dialect.name != "sqlite":
        return False
    db.session.commit()
    target = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        _backup(db.engine, into=target)
    finally:
        target.close()
    return True


@pytest.fixture()
def served(tmp_path, app):
    if not (BIN / "gunicorn").exists():
        pytest.skip("gunicorn is not installed in the virtual environment")
    url = _database(tmp_path)
    migrated = _copy_of_the_test_database(url)
    env = dict(os.environ)
    env.update(
        FLASK_APP="registry:create_app",
        SECRET_KEY="concurrency-test-secret",
        DATA_KEY="concurrency-test-data-key",
        DATABASE_URL=url,
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
        REGISTRY_INSTANCE_PATH=str(tmp_path / "instance"),
        # the servers and this process's own apps sign one checkpoint of the audit chain
        AUDIT_CHECKPOINT_PATH=str(tmp_path / "instance" / "audit-checkpoint.json"),
        REGISTRY_PASSWORD_HASH_METHOD="pbkdf2:sha256:1",  # scrypt costs ~160 ms a login
    )
    env.pop("TEST_DATABASE_URL", None)
    plan = _prepare(url, env, migrated)
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--timeout", "120",
         "--preload", "--access-logfile", "-", "registry:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        for _ in range(150):
            try:
                if Http(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start: " + log_path.read_text()[-2000:])
        yield {"port": port, "plan": plan, "url": url, "env": env, "log": log_path}
    finally:
        stop_server(proc)
        log.close()


def test_many_confirmations_at_once_lose_nothing(served):
    port, plan = served["port"], served["plan"]
    jobs = []
    for username, ids in plan.items():
        client = Http(port)
        client.login(username)
        status, _, inbox, cookies = client.request("GET", "/records/inbox")
        assert status == 200
        client._keep(cookies)  # the session now holds the CSRF secret
        token = re.search(r'name="csrf_token" value="([^"]+)"', inbox).group(1)
        for record_id in ids:
            version = re.search(rf'action="/records/{record_id}/confirm"[^>]*>\s*<input[^>]*>\s*'
                                rf'<input type="hidden" name="version" value="(\d+)"', inbox).group(1)
            form = {"csrf_token": token, "version": version, "next": "inbox"}
            jobs.append((client, record_id, form))
    duplicates = [job for job in jobs[::5]]  # every fifth record is confirmed twice at the same moment
    work = jobs + duplicates

    def confirm(job):
        client, record_id, form = job
        status, headers, body, _ = client.request("POST", f"/records/{record_id}/confirm", form)
        return record_id, status, headers.get("Location", ""), body

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(confirm, work))
    elapsed = time.monotonic() - started

    for record_id, status, location, body in results:
        assert "database is locked" not in body.lower(), record_id
        assert status in (302, 422), (record_id, status, body[:300])
        if status == 302:
            assert location.endswith("/records/inbox")
        else:  # the duplicate that came second: refused in words, nothing written
            assert "只有待确认的记录可以确认" in body or "已被他人修改" in body, body[:500]
    ok = [r for r in results if r[1] == 302]
    assert len(ok) == len(jobs), f"{len(ok)} of {len(jobs)} confirmations succeeded"
    assert sorted(r[0] for r in ok) == sorted(record_id for _, record_id, _ in jobs)

    log = served["log"].read_text()
    assert "database is locked" not in log.lower()
    assert "Traceback" not in log, log[-3000:]

    from registry import create_app
    from registry.audit.models import AuditEvent
    from registry.audit.services import verify_chain
    from registry.extensions import db

    env = served["env"]
    app = create_app({"SQLALCHEMY_DATABASE_URI": served["url"], "SECRET_KEY": env["SECRET_KEY"], "DATA_KEY": env["DATA_KEY"],
                      "UPLOAD_FOLDER": env["UPLOAD_FOLDER"], "AUDIT_CHECKPOINT_PATH": env["AUDIT_CHECKPOINT_PATH"], "TESTING": True})
    with app.app_context():
        statuses = dict(db.session.execute(select(SupportRecord.status, func.count()).group_by(SupportRecord.status)).all())
        assert statuses == {"confirmed": VILLAGES * PER_VILLAGE}
        confirms = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "confirm"))
        assert confirms == VILLAGES * PER_VILLAGE
        report = verify_chain()
        assert report.ok, report.reason
        kept = _summaries(db)  # what the concurrent transactions left in the summaries …
        from registry.dashboard.rebuild import rebuild_all

        rebuild_all()
        db.session.flush()
        assert _summaries(db) == kept  # … equals a rebuild from the rows
        db.session.rollback()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    print(f"{len(work)} confirmations ({len(duplicates)} duplicates) in {elapsed:.1f}s with {WORKERS} workers")


def _summaries(db):
    from registry.dashboard.coverage import AREA_FIGURES
    from registry.dashboard.models import AreaSummary, SupportTotal, VillageStatus

    areas = {r.area: tuple(getattr(r, k) for k in AREA_FIGURES) for r in db.session.scalars(select(AreaSummary))}
    totals = sorted((r.region_code, r.year, r.month, r.category, r.status, r.record_count, r.amount)
                    for r in db.session.scalars(select(SupportTotal)) if r.record_count)
    villages = sorted((r.code, r.last_confirmed_on) for r in db.session.scalars(select(VillageStatus)))
    return areas, totals, villages

