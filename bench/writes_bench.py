"""Concurrent writes through the app (issue 16, "writes that scale").

Builds a small registry of its own (one unit and one village per client, each village in
a township of its own, spread over the cities), starts gunicorn on it and lets HTTP
clients write at once for a fixed time: each client is logged in as its unit and as its
village, files a record and submits it (POST /records/new), then confirms it as the
village (POST /records/<id>/confirm), again and again. Two writes per round, each one
transaction with its audit event and its summaries. The first seconds (``--warmup``) are
not counted: each worker's first writes pay for its imports and for compiling its
statements once, which would weigh on 8 workers four times as much as on 2.

Afterwards it counts: a write the server answered as done (a redirect) must be in the
database (a record submitted, a record confirmed), or it is lost; every other answer is
an error. It also verifies the audit chain and compares every summary with a rebuild
from the rows (``tests/summaries.py``), since writes in parallel must leave both exact.
On PostgreSQL the 8-worker run also holds one village's area uncommitted for a third of
the time (a slow job) and counts the writes the other areas made meanwhile. Last, what
one write costs with one client in process (CPU ms, SQL statements): the figure a busy
machine disturbs least; and, for each run, the CPU the server's workers spent per write
(with the writes per second the machine's cores could give at that cost).

- SQLite: gunicorn with 4 workers (target: >= 300 writes/s, 0 errors, 0 lost).
- PostgreSQL, when DATABASE_URL is given (a scratch database: the bench empties it):
  2 workers, then 8 (target: 8 workers >= 2x the writes per second of 2).

    .venv/bin/python bench/writes_bench.py                 # SQLite, 4 workers, 10 s
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench_writes \\
        .venv/bin/python bench/writes_bench.py             # SQLite, then PostgreSQL 2 and 8 workers
    .venv/bin/python bench/writes_bench.py --quick         # a few seconds, for CI

The machine is shared: read the figures of one run against each other.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PASSWORD = "Bench-writes-0"
# wrk drives the writers where it is installed (bench/writes.lua), else Python threads
WRK = shutil.which("wrk")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def config(url: str, workdir: Path) -> dict:
    """The app's configuration, as gunicorn's workers get it from the environment too."""
    return {"DATABASE_URL": url, "SECRET_KEY": "bench-writes", "DATA_KEY": "bench-writes",
            "AUDIT_CHECKPOINT_PATH": str(workdir / "audit-checkpoint.json"),
            "UPLOAD_FOLDER": str(workdir / "uploads"), "REGISTRY_INSTANCE_PATH": str(workdir / "instance"),
            "REGISTRY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"}


def make_app(env: dict):
    from registry import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "SECRET_KEY": env["SECRET_KEY"],
                       "DATA_KEY": env["DATA_KEY"], "AUDIT_CHECKPOINT_PATH": env["AUDIT_CHECKPOINT_PATH"],
                       "UPLOAD_FOLDER": env["UPLOAD_FOLDER"],
                       "REGISTRY_PASSWORD_HASH_METHOD": env["REGISTRY_PASSWORD_HASH_METHOD"]})


def empty_database(url: str) -> None:
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build(env: dict, clients: int) -> None:
    """Schema by migrations, the divisions, then per client: an organization paired with
    a village of its own township (townships taken round the cities), its unit account
    and the village's account."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from registry.accounts.services import create_user
    from registry.core.identity import credit_code_check_char
    from registry.extensions import db
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.regions.models import Region
    from registry.regions.services import load_divisions

    app = make_app(env)
    with app.app_context():
        upgrade()
        load_divisions()
        db.session.commit()
        townships = db.session.scalars(select(Region).where(Region.level == "township").order_by(Region.code)).all()
        by_city: dict[str, list] = {}
        for township in townships:
            by_city.setdefault(township.code[:4], []).append(township)
        cities = sorted(by_city)
        chosen = [by_city[cities[i % len(cities)]][i // len(cities)] for i in range(clients)]
        villages, orgs = [], []
        for i, township in enumerate(chosen):
            villages.append(Region(code=f"{township.code[:9]}{900 + i % 100:03d}", name=f"示例压测村{i}",
                                   level="village", parent_code=township.code, is_key=i % 2 == 0))
            body = f"91430100MA{i:07d}"
            orgs.append(Organization(name=f"示例压测单位{i}", kind="backing_unit", level="provincial",
                                     region_code="430000000000", credit_code=body + credit_code_check_char(body)))
        db.session.add_all([*villages, *orgs])
        db.session.flush()
        db.session.add_all([Pairing(organization_id=org.id, region_code=village.code, kind="resident",
                                    start_date=date(2025, 1, 1)) for org, village in zip(orgs, villages)])
        for i, (org, village) in enumerate(zip(orgs, villages)):
            create_user(f"bench_unit{i}", "unit", password=PASSWORD, organization_id=org.id)
            create_user(f"bench_village{i}", "village", password=PASSWORD, village_code=village.code)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Pairing)) >= clients
        db.session.remove()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict, workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
         "registry:create_app()"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True)
    deadline = time.time() + 300  # a busy machine starts 8 workers slowly
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("gunicorn did not start")


def server_cpu(proc: subprocess.Popen) -> float | None:
    """CPU seconds the server's workers (the master's children) have used so far: what a
    write costs the server, a figure a busy machine disturbs far less than writes per
    second (Linux's /proc; None elsewhere)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[1]) == proc.pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def stop_server(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Browser:
    """One logged-in user over one keep-alive connection: the session cookie and the
    form token (bound to the session) the pages carry."""

    def __init__(self, port: int, username: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""
        page = self.request("GET", "/login")
        self.request("POST", "/login", {"username": username, "password": PASSWORD,
                                        "csrf_token": CSRF.search(page[2]).group(1)})
        status, _, body = self.request("GET", "/account")
        match = CSRF.search(body) if status == 200 else None
        if match is None:
            raise SystemExit(f"{username} could not log in ({status})")
        self.token = match.group(1)

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or []:
            if value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        return response.status, response.headers.get("Location", ""), text

    def post(self, path: str, form: dict) -> tuple[int, str, str]:
        return self.request("POST", path, {**form, "csrf_token": self.token})


@dataclass
class Tally:
    submitted: list[int] = field(default_factory=list)  # records the server said it filed
    confirmed: list[int] = field(default_factory=list)  # records the server said were confirmed
    errors: list[str] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)  # when each write was answered
    hold: tuple[float, float] | None = None  # when a slow transaction held its area, if one did
    wrk_writes: int = 0  # writes acknowledged to wrk (which tells no times), in the last window


def slow_transaction(env: dict, village: str, seconds: float, tally: Tally) -> None:
    """A slow writer (a long bulk job): changes one village's flags and records it, then
    takes ``seconds`` before it commits. Writes in other areas should go on meanwhile."""
    from registry.audit.services import record
    from registry.extensions import db
    from registry.regions.models import Region

    app = make_app(env)
    with app.app_context():
        region = db.session.get(Region, village)
        region.is_poor = not region.is_poor
        record("update", region, summary="压测：慢事务")
        db.session.flush()
        start = time.time()
        time.sleep(seconds)
        db.session.commit()
        tally.hold = (start, time.time())
        db.session.remove()
        db.engine.dispose()


def client(port: int, i: int, village: str, until: list[float], tally: Tally, ready: threading.Barrier) -> None:
    unit, chief = Browser(port, f"bench_unit{i}"), Browser(port, f"bench_village{i}")
    ready.wait()
    n = 0
    day = (date.today() - timedelta(days=3)).isoformat()
    while time.time() < until[0]:
        n += 1
        status, location, _ = unit.post("/records/new", {
            "village_code": village, "category": ("funds", "industry", "education")[n % 3], "title": f"压测记录{n}",
            "record_date": day, "amount": str(1000 + n), "households": "3", "persons": "9", "jobs": "1",
            "description": "", "action": "submit"})
        found = re.search(r"/records/(\d+)$", location)
        if status != 302 or not found:
            tally.errors.append(f"file: {status}")
            continue
        record_id = int(found.group(1))
        tally.submitted.append(record_id)
        tally.done_at.append(time.time())
        status, location, _ = chief.post(f"/records/{record_id}/confirm", {"version": "", "next": ""})
        if status != 302 or not location.endswith(f"/records/{record_id}"):
            tally.errors.append(f"confirm: {status}")
            continue
        tally.confirmed.append(record_id)
        tally.done_at.append(time.time())


def wrk_writers(port: int, villages: list[str], seconds: float, tally: Tally, workdir: Path) -> float:
    """The clients' round (``client``) driven by wrk (``bench/writes.lua``, one thread and
    one connection per client) for ``seconds``; the acknowledged writes go into ``tally``.
    Returns the seconds wrk measured. The clients are logged in here, in Python."""
    sessions = workdir / "wrk-clients.tsv"
    if not sessions.exists():
        lines = []
        for i, village in enumerate(villages):
            unit, chief = Browser(port, f"bench_unit{i}"), Browser(port, f"bench_village{i}")
            lines.append(f"{unit.cookie}\t{unit.token}\t{chief.cookie}\t{chief.token}\t{village}")
            unit.conn.close()
            chief.conn.close()
        sessions.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "WRITES_CLIENTS": str(sessions), "WRITES_TITLE": urllib.parse.quote("压测记录"),
           "WRITES_DAY": (date.today() - timedelta(days=3)).isoformat()}
    clients = len(villages)
    out = subprocess.run(
        [WRK, f"-t{clients}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "60s", "-s", str(ROOT / "bench" / "writes.lua"),
         f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True, check=True).stdout
    answers = dict.fromkeys(("submitted", "confirmed"), 0)
    elapsed = seconds
    for line in out.splitlines():
        key, _, value = line.partition("\t")
        if key in answers:
            ids = [int(v) for v in value.split(",") if v]
            getattr(tally, key).extend(ids)
            answers[key] += len(ids)
        elif key == "errors" and value.split("\t")[0] != "0":
            count, _, first = value.partition("\t")
            tally.errors.extend([first] * int(count))
        elif key == "socket_errors" and value != "0":
            tally.errors.extend(["socket"] * int(value))
        elif key == "duration_us":
            elapsed = int(value) / 1e6
    tally.wrk_writes += answers["submitted"] + answers["confirmed"]
    return elapsed


def village_codes(env: dict, clients: int) -> list[str]:
    from sqlalchemy import select

    from registry.extensions import db
    from registry.pairings.models import Pairing

    app = make_app(env)
    with app.app_context():
        codes = db.session.scalars(select(Pairing.region_code).order_by(Pairing.organization_id)).all()[:clients]
        db.session.remove()
        db.engine.dispose()
    return codes


def check(env: dict, tally: Tally) -> dict:
    """Count what the database holds against what the server said it did; verify the
    audit chain and compare the summaries with a rebuild."""
    from sqlalchemy import select

    from registry.audit.services import verify_chain
    from registry.extensions import db
    from registry.records.models import SupportRecord

    app = make_app(env)
    with app.app_context():
        status = dict(db.session.execute(select(SupportRecord.id, SupportRecord.status)).all())
        lost = sum(1 for r in tally.submitted if r not in status)
        lost += sum(1 for r in tally.confirmed if status.get(r) != "confirmed")
        chain = verify_chain()
        try:
            from tests.summaries import differences

            summaries = differences()
        except ImportError:  # the tests are not shipped
            summaries = ["(not compared: tests/summaries.py missing)"]
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    return {"lost": lost, "chain": "intact" if chain.ok else f"BROKEN: {chain.reason}", "summaries": summaries}


class Sampler:
    """During a PostgreSQL run (Linux): what the database's backends are doing, sampled
    every 0.1 s from ``pg_stat_activity`` (running, or waiting and on what: an advisory
    lock, a row lock, the WAL's flush, ...), the CPU its backends and this process (the
    clients) spent, and how busy the machine's cores were meanwhile (/proc/stat: every
    process's, other work's included). Tells a run that waits on a lock from one the
    cores cap."""

    def __init__(self, url: str):
        from sqlalchemy.engine import make_url

        self.database = make_url(url).database
        self.url = url
        self.waits: dict[str, int] = {}
        self.blocked: dict[str, int] = {}
        self.samples = 0
        self.stop = threading.Event()

    def _backends_cpu(self) -> float:
        total = 0.0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if cmd.startswith("postgres: ") and f" {self.database} " in cmd:
                fields = stat[stat.rindex(")") + 2:].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    @staticmethod
    def _machine() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # all, idle + iowait

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            while not self.stop.wait(0.1):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'running'), wait_event_type = 'Lock', "
                    "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity "
                    "WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()", (self.database,)).fetchall()
                self.samples += 1
                for what, locked, query in rows:
                    self.waits[what] = self.waits.get(what, 0) + 1
                    if locked:  # what the waiting statement was
                        self.blocked[query] = self.blocked.get(query, 0) + 1

    def __enter__(self):
        import resource

        self.cpu = (self._backends_cpu(), resource.getrusage(resource.RUSAGE_SELF), self._machine())
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_):
        import resource

        self.stop.set()
        self.thread.join()
        backends, own, machine = self._backends_cpu(), resource.getrusage(resource.RUSAGE_SELF), self._machine()
        self.backends_cpu = backends - self.cpu[0]
        self.clients_cpu = own.ru_utime + own.ru_stime - self.cpu[1].ru_utime - self.cpu[1].ru_stime
        ticks, idle = machine[0] - self.cpu[2][0], machine[1] - self.cpu[2][1]
        self.machine_busy = (1 - idle / ticks) * os.cpu_count() if ticks else None

    def report(self, writes: int, seconds: float) -> list[str]:
        n = max(1, self.samples)
        active = sum(self.waits.values()) / n
        waits = ", ".join(f"{what} {count / n:.2f}" for what, count in
                          sorted(self.waits.items(), key=lambda kv: -kv[1])[:6])
        lines = [f"database backends active on average {active:.2f} ({waits})"]
        lines += [f"  waiting for a lock {count / n:.2f}: {query}" for query, count in
                  sorted(self.blocked.items(), key=lambda kv: -kv[1])[:4]]
        if writes:
            lines.append(f"CPU per write: database backends {self.backends_cpu * 1000 / writes:.1f} ms, "
                         f"the clients (this process) {self.clients_cpu * 1000 / writes:.1f} ms")
        if self.machine_busy is not None:
            lines.append(f"the machine's {os.cpu_count()} cores were {self.machine_busy:.2f} cores busy on average "
                         f"(everything on it, other work included), over {seconds:.1f} s")
        return lines


def run(label: str, url: str, workers: int, clients: int, seconds: float, slow: bool = False,
        warmup: float = 3.0, load: str = "python") -> dict:
    """One timed run of ``clients`` writers against gunicorn with ``workers``; ``load``:
    "wrk" (``wrk_writers``) or "python" (a thread per client, ``client``; always for a
    ``slow`` run, whose count of writes during the slow transaction needs their times)."""
    workdir = Path(tempfile.mkdtemp(prefix="writes-bench-", dir=OUT))
    env = config(url, workdir)
    empty_database(url)
    t0 = time.perf_counter()
    build(env, clients)
    built = time.perf_counter() - t0
    villages = village_codes(env, clients)
    proc, port = start_server(env, workers)
    if load == "wrk" and not slow:
        try:
            tally = Tally()
            if warmup:  # every worker's first writes (imports, statements compiled) are not counted
                wrk_writers(port, villages, warmup, tally, workdir)
            cpu_before, machine = server_cpu(proc), Sampler._machine()
            tally.wrk_writes = 0
            elapsed = wrk_writers(port, villages, seconds, tally, workdir)
            cpu_after, machine_after = server_cpu(proc), Sampler._machine()
        finally:
            stop_server(proc)
        writes = tally.wrk_writes
        return {"during_hold": None, "held": None, "label": label, "workers": workers, "clients": clients,
                "seconds": elapsed, "writes": writes, "rate": writes / elapsed, "errors": len(tally.errors),
                "error_kinds": sorted(set(tally.errors))[:5], "built": built, "load": "wrk",
                "cpu_ms": ((cpu_after - cpu_before) * 1000 / writes
                           if writes and cpu_before is not None and cpu_after is not None else None),
                "sampled": [_busy(machine, machine_after, elapsed)], "other_cpu_ms": None, **check(env, tally)}
    try:
        tally = Tally()
        ready = threading.Barrier(clients + 1)
        until = [0.0]
        threads = []
        for i in range(clients):
            def go(i=i):
                try:
                    client(port, i, villages[i], until, tally, ready)
                except Exception as error:  # a client that could not even start  # noqa: BLE001
                    tally.errors.append(f"client {i}: {error!r}")
                    ready.abort()
            threads.append(threading.Thread(target=go, daemon=True))
        until[0] = time.time() + 3600  # set for real once every client is logged in
        for t in threads:
            t.start()
        ready.wait()
        until[0] = time.time() + warmup + seconds
        time.sleep(warmup)  # every worker's first writes (imports, statements compiled) are not counted
        cpu_before = server_cpu(proc)
        start = time.time()
        with Sampler(url) if url.startswith("postgresql") else nullcontext() as sampled:
            if slow:  # the last client's village: a slow transaction holds its area mid-run
                time.sleep(seconds / 3)
                slow_transaction(env, villages[-1], seconds / 3, tally)
            for t in threads:
                t.join()
            elapsed = time.time() - start
            cpu_after = server_cpu(proc)
    finally:
        stop_server(proc)
    found = check(env, tally)
    writes = sum(1 for t in tally.done_at if t >= start)  # in the measured window (the checks count all)
    during = held = None
    if tally.hold is not None:
        lo, hi = tally.hold
        held = hi - lo
        during = sum(1 for t in tally.done_at if lo <= t <= hi) / held
    return {"during_hold": during, "held": held, "label": label, "workers": workers, "clients": clients, "seconds": elapsed, "writes": writes,
            "rate": writes / elapsed, "errors": len(tally.errors), "error_kinds": sorted(set(tally.errors))[:5],
            "built": built, "load": "python", "cpu_ms": ((cpu_after - cpu_before) * 1000 / writes
                                       if writes and cpu_before is not None and cpu_after is not None else None),
            "sampled": sampled.report(writes, elapsed) if sampled else [],
            "other_cpu_ms": (sampled.backends_cpu + sampled.clients_cpu) * 1000 / writes if sampled and writes else None,
            **found}


def _busy(before: tuple[int, int], after: tuple[int, int], seconds: float) -> str:
    """How busy the machine's cores were between two readings of /proc/stat: below all of
    them, the writes wait on the one write lock (SQLite) rather than on the CPU."""
    ticks, idle = after[0] - before[0], after[1] - before[1]
    busy = (1 - idle / ticks) * os.cpu_count() if ticks else 0.0
    return (f"the machine's {os.cpu_count()} cores were {busy:.2f} cores busy on average (everything on it), "
            f"over {seconds:.1f} s")


def show(result: dict) -> None:
    print(f"{result['label']:<12} {result['workers']:>7} {result['clients']:>7} {result['writes']:>7} "
          f"{result['rate']:>9.1f} {result['errors']:>6} {result['lost']:>5}  {result['chain']}; "
          f"summaries {'exact' if not result['summaries'] else 'DIFFER'}", flush=True)
    print(f"{'':<12} driven by {'wrk (bench/writes.lua)' if result['load'] == 'wrk' else 'Python threads'}")
    if result.get("cpu_ms") is not None:
        print(f"{'':<12} server CPU per write (all workers): {result['cpu_ms']:.1f} ms; with the machine's "
              f"{os.cpu_count()} cores to itself the server could do about "
              f"{os.cpu_count() * 1000 / result['cpu_ms']:.0f} writes/s")
    for line in result.get("sampled", []):
        print(f"{'':<12} {line}")
    if result.get("other_cpu_ms") is not None and result.get("cpu_ms") is not None:
        total = result["cpu_ms"] + result["other_cpu_ms"]
        print(f"{'':<12} a write costs {total:.1f} ms of CPU in all (server, database, clients): the machine's "
              f"{os.cpu_count()} cores give at most {os.cpu_count() * 1000 / total:.0f} writes/s")
    if result.get("during_hold") is not None:
        print(f"{'':<12} while one transaction held a village's area and chain uncommitted for {seconds_held(result)}: "
              f"{result['during_hold']:.1f} writes/s in the other areas")
    for kind in result["error_kinds"]:
        print(f"    error: {kind}")
    for line in result["summaries"][:5]:
        print(f"    summary: {line}")


def cost(url: str, rounds: int) -> tuple[float, float]:
    """One client, in process (the Flask test client, no HTTP, no other writer): the CPU
    milliseconds and SQL statements one write costs, best of three. What a busy machine
    disturbs least: the figure to compare between two versions of the code."""
    workdir = Path(tempfile.mkdtemp(prefix="writes-cost-", dir=OUT))
    env = config(url, workdir)
    empty_database(url)
    build(env, 1)
    village = village_codes(env, 1)[0]
    from sqlalchemy import event

    from registry.extensions import db

    app = make_app(env)
    app.config["WTF_CSRF_ENABLED"] = False
    statements = [0]
    unit, chief = app.test_client(), app.test_client()
    unit.post("/login", data={"username": "bench_unit0", "password": PASSWORD})
    chief.post("/login", data={"username": "bench_village0", "password": PASSWORD})
    day = (date.today() - timedelta(days=3)).isoformat()

    def write_twice(n: int) -> None:
        filed = unit.post("/records/new", data={
            "village_code": village, "category": "funds", "title": f"压测记录{n}", "record_date": day,
            "amount": "1000", "households": "3", "persons": "9", "jobs": "1", "description": "", "action": "submit"})
        record_id = re.search(r"/records/(\d+)$", filed.headers["Location"]).group(1)
        assert chief.post(f"/records/{record_id}/confirm", data={"version": "", "next": ""}).status_code == 302

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *_: statements.__setitem__(0, statements[0] + 1))
    held = _time_the_write_lock() if url.startswith("sqlite") else None
    for n in range(5):
        write_twice(n)
    best = best_held = None
    for _ in range(3):
        statements[0] = 0
        if held is not None:
            held[0] = 0.0
        cpu = time.process_time()
        for n in range(rounds):
            write_twice(n)
        ms = (time.process_time() - cpu) * 1000 / (2 * rounds)
        best = ms if best is None else min(best, ms)
        if held is not None:
            lock_ms = held[0] * 1000 / (2 * rounds)
            best_held = lock_ms if best_held is None else min(best_held, lock_ms)
    per_write = statements[0] / (2 * rounds)
    with app.app_context():
        db.engine.dispose()
    return best, per_write, best_held


def _time_the_write_lock() -> list[float]:
    """SQLite: from here on, the seconds this process holds the writers' queue (which it
    holds exactly while it holds SQLite's write lock, ``core.database``) add up in the
    list returned. One write at a time, so that time bounds the writes per second of every
    worker together, however many cores."""
    from registry.core.database import _WriteQueue

    held, since = [0.0], [None]
    enter, leave = _WriteQueue.enter.__func__, _WriteQueue.leave.__func__

    def timed_enter(cls, *args):
        enter(cls, *args)
        since[0] = time.perf_counter()

    def timed_leave(cls, driver):
        if since[0] is not None:
            held[0] += time.perf_counter() - since[0]
            since[0] = None
        leave(cls, driver)

    _WriteQueue.enter, _WriteQueue.leave = classmethod(timed_enter), classmethod(timed_leave)
    return held


def seconds_held(result: dict) -> str:
    return f"{result['held']:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds and fewer clients (CI)")
    parser.add_argument("--seconds", type=float, help="how long the clients write (default 10, quick 2)")
    parser.add_argument("--clients", type=int, help="concurrent clients (default 16, quick 6)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers on SQLite (default 4)")
    parser.add_argument("--load", choices=("wrk", "python"), default="wrk" if WRK else "python",
                        help="what drives the writers: wrk (bench/writes.lua; the default where wrk is "
                             "installed) or Python threads")
    parser.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL (DATABASE_URL)")
    parser.add_argument("--warmup", type=float,
                        help="seconds the clients write before the measured window (default 3, quick 1)")
    args = parser.parse_args()
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if args.quick else 3.0)
    clients = args.clients or (6 if args.quick else 16)
    OUT.mkdir(parents=True, exist_ok=True)

    print(f"{'database':<12} {'workers':>7} {'clients':>7} {'writes':>7} {'writes/s':>9} {'errors':>6} {'lost':>5}  "
          "audit chain; summaries")
    failures = []
    results = []
    if not args.skip_sqlite:
        sqlite = run("SQLite", f"sqlite:///{OUT / 'writes.sqlite3'}", args.workers, clients, seconds, warmup=warmup,
                     load=args.load)
        show(sqlite)
        results.append(sqlite)
        if not args.quick and sqlite["rate"] < 300:
            failures.append(f"SQLite {sqlite['rate']:.0f} writes/s < 300")
    pg_url = os.environ.get("DATABASE_URL", "")
    if pg_url.startswith("postgresql"):
        two = run("PostgreSQL", pg_url, 2, clients, seconds, warmup=warmup)
        show(two)
        eight = run("PostgreSQL", pg_url, 8, clients, seconds, slow=not args.quick, warmup=warmup)
        show(eight)
        results += [two, eight]
        ratio = eight["rate"] / two["rate"] if two["rate"] else 0.0
        print(f"PostgreSQL 8 workers / 2 workers: {ratio:.2f}x (target >= 2x)")
        if not args.quick and ratio < 2:
            failures.append(f"PostgreSQL 8/2 workers {ratio:.2f}x < 2x")
    for label, url in [("SQLite", f"sqlite:///{OUT / 'writes-cost.sqlite3'}")] * (not args.skip_sqlite) + \
            [("PostgreSQL", pg_url)] * pg_url.startswith("postgresql"):
        ms, statements, lock_ms = cost(url, 5 if args.quick else 20)
        print(f"{label}: one write, one client, in process: {ms:.1f} ms CPU, {statements:.1f} SQL statements"
              + (f"; the write lock held {lock_ms:.2f} ms of it (one writer at a time: at most "
                 f"{1000 / lock_ms:.0f} writes/s however many cores)" if lock_ms else ""))
    for result in results:
        if result["errors"] or result["lost"] or result["chain"] != "intact" or result["summaries"]:
            failures.append(f"{result['label']} {result['workers']} workers: errors, lost writes or a broken "
                            "chain or summary")
    print(f"target: SQLite {args.workers} workers >= 300 writes/s, 0 errors, 0 lost" +
          ("" if args.quick else "; " + ("met" if not failures else "NOT MET: " + "; ".join(failures))))
    sys.exit(1 if any("errors" in f for f in failures) else 0)


if __name__ == "__main__":
    main()
