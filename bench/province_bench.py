"""``make bench``: the registry at province scale, on SQLite and (with ``DATABASE_URL``
naming a PostgreSQL database) on PostgreSQL, in one run and one table.

For each database: the dataset is built (``bench/dataset.py``: schema by the migrations,
rows by the driver, ``COPY`` on PostgreSQL) and timed; ``flask dashboard rebuild`` is run
and timed; every page of every role is timed through the app (median and p95, ``--runs``
requests each; with both databases, every page is timed once more on the two datasets
with the engines' requests alternating, and PostgreSQL is compared with SQLite by those
figures, which a shared machine's changing speed does not tilt); the province coverage API beside its own SQL replayed; its throughput
under wrk (gunicorn, 2 workers, 8 connections; a small Python load generator when wrk is
missing, and the table says so) beside Datasette serving the summary query on the same
SQLite file; the gunicorn workers' peak memory (VmHWM) after the load and a pass over
every page. Then ``bench/writes_bench.py`` if it exists.

    .venv/bin/python bench/province_bench.py                 # 24,000 villages, 1,000,000 records
    .venv/bin/python bench/province_bench.py --small         # scale 0.1: 2,400 villages (what CI runs)
    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench .venv/bin/python bench/province_bench.py

The PostgreSQL database named is created if missing and emptied (its public schema
dropped); the dataset stays there afterwards, and ``bench/writes_bench.py`` works in a
scratch database of its own beside it (``<name>_writes``). The machine may be
shared: compare the figures of one run with each other, not across runs.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.request import HTTPCookieProcessor, Request, build_opener

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
BIN = Path(sys.executable).parent

from bench import pages as bench_pages  # noqa: E402

SECRETS = {"SECRET_KEY": "bench", "DATA_KEY": "bench"}


def log(text: str) -> None:
    print(text, flush=True)


def cpu_seconds() -> float:
    self, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return self.ru_utime + self.ru_stime + children.ru_utime + children.ru_stime


def make_app(url: str, checkpoint: Path):
    from registry import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, **SECRETS, "AUDIT_CHECKPOINT_PATH": str(checkpoint),
                       "RATELIMIT_ENABLED": False})


def empty_database(url: str, path: Path | None) -> None:
    if path is not None:
        for suffix in ("", "-wal", "-shm", ".audit-checkpoint.json"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    create_database(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def env_for(url: str, checkpoint: Path) -> dict:
    env = dict(os.environ, DATABASE_URL=url, AUDIT_CHECKPOINT_PATH=str(checkpoint), FLASK_APP="registry:create_app",
               **SECRETS)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_engine(label: str, url: str, path: Path | None, args) -> dict:
    """Every figure of one database."""
    figures: dict[str, object] = {}
    checkpoint = OUT / f"bench-{label.lower()}.audit-checkpoint.json"
    checkpoint.unlink(missing_ok=True)
    log(f"== {label}: building the dataset (scale {args.scale})")
    empty_database(url, path)
    app = make_app(url, checkpoint)
    from bench.dataset import build

    cpu, t = cpu_seconds(), time.perf_counter()
    phases = build(app, args.scale, log=log)
    figures["build"] = (time.perf_counter() - t, cpu_seconds() - cpu)
    figures["build rows"] = phases["schema"] + phases["rows"]
    figures["build summaries"] = phases["summaries"]
    with app.app_context():
        from sqlalchemy import text

        from registry.extensions import db

        counts = {t: db.session.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608  (fixed names)
                  for t in ("region", "person", "posting", "support_record")}
        db.session.rollback()
    figures["dataset"] = counts

    log(f"== {label}: flask dashboard rebuild")
    cpu, t = cpu_seconds(), time.perf_counter()
    subprocess.run([str(BIN / "flask"), "dashboard", "rebuild"], env=env_for(url, checkpoint), check=True,
                   cwd=ROOT, stdout=subprocess.DEVNULL)
    figures["rebuild"] = (time.perf_counter() - t, cpu_seconds() - cpu)

    log(f"== {label}: pages ({args.runs} timed requests each)")
    found = bench_pages.prepare_users(app)
    figures["pages"] = bench_pages.time_pages(app, found, args.runs, log=log)
    figures["replay"] = bench_pages.replay_coverage(app, max(args.runs, 20))
    log(f"  province coverage API median {figures['replay'][0]:.1f} ms, its SQL replayed {figures['replay'][1]:.1f} ms")
    figures["replay uncached"] = bench_pages.replay_coverage(app, max(args.runs, 20), cache=False)
    log(f"  the same with its cache off: median {figures['replay uncached'][0]:.1f} ms, "
        f"its SQL replayed {figures['replay uncached'][1]:.1f} ms")
    with app.app_context():
        db.engine.dispose()

    if not args.no_load:
        figures.update(load(label, url, path, checkpoint, app, found, args))
    return figures


# -- throughput and memory ------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, path: str = "/", seconds: float = 60) -> None:
    end = time.time() + seconds
    while time.time() < end:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"nothing answered on port {port}")


def throughput(port: int, path: str, headers: dict, seconds: float) -> tuple[float, str]:
    """Requests per second with 8 connections: wrk's (2 threads), or, without wrk, a
    Python generator's (8 threads with a kept-alive connection each)."""
    url = f"http://127.0.0.1:{port}{path}"
    wrk = shutil.which("wrk")
    if wrk:
        command = [wrk, "-t2", "-c8", f"-d{max(1, round(seconds))}s", "--latency"]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        result = subprocess.run([*command, url], capture_output=True, text=True, check=True)
        rate = re.search(r"Requests/sec:\s*([\d.]+)", result.stdout)
        bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", result.stdout)
        if bad:
            raise SystemExit(f"wrk: {bad.group(1)} failed responses from {url}")
        return float(rate.group(1)), "wrk"
    done, counts, errors = time.time() + seconds, [], []

    def worker():
        conn, n = http.client.HTTPConnection("127.0.0.1", port, timeout=30), 0
        while time.time() < done:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(response.status)
            n += 1
        counts.append(n)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    start = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"load generator: {len(errors)} failed responses from {url}")
    return sum(counts) / (time.time() - start), "python"


def peak_memory_mb(master: int) -> float:
    """The largest VmHWM among the gunicorn master's workers, in MB."""
    out = 0
    for child in Path(f"/proc/{master}/task/{master}/children").read_text().split():
        status = Path(f"/proc/{child}/status").read_text()
        out = max(out, int(re.search(r"VmHWM:\s*(\d+) kB", status).group(1)))
    return out / 1024


def browse(port: int, found: dict) -> None:
    """Every page once per persona, through gunicorn (so the workers' peak memory covers
    them): log in with a cookie jar as a browser would."""
    from registry.core.timeutil import local_today

    base = f"http://127.0.0.1:{port}"
    openers = {}
    for _, persona, url in bench_pages.pages(found):
        opener = openers.get(persona)
        if opener is None:
            opener = openers[persona] = build_opener(HTTPCookieProcessor(CookieJar()))
            page = opener.open(f"{base}/login").read().decode()
            token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
            body = urllib.parse.urlencode({"username": f"bench_{persona}", "password": bench_pages.PASSWORD,
                                           "csrf_token": token}).encode()
            opener.open(Request(f"{base}/login", data=body)).read()
        for _ in range(2):
            opener.open(base + url.format(last_year=local_today().year - 1)).read()


def load(label: str, url: str, path: Path | None, checkpoint: Path, app, found: dict, args) -> dict:
    from registry.accounts.models import User
    from registry.accounts.tokens import issue_token
    from registry.extensions import db

    figures: dict[str, object] = {}
    with app.app_context():
        from sqlalchemy import select

        user = db.session.scalar(select(User).where(User.username == "bench_province"))
        token = issue_token(user, name=f"bench {time.time():.0f}")
        db.session.commit()
        db.engine.dispose()
    port = free_port()
    server = subprocess.Popen([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
                               "registry:create_app()"], env=env_for(url, checkpoint), cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, "/healthz")
        api = f"/api/v1/coverage/{bench_pages.PROVINCE}"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(4):  # each worker's first requests build its statements
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", api, headers=headers)
            response = conn.getresponse()
            assert response.status == 200, response.status
            response.read()
        log(f"== {label}: coverage API throughput, {args.duration:.0f} s")
        figures["throughput"] = throughput(port, api, headers, args.duration)
        log(f"  {figures['throughput'][0]:.0f} req/s ({figures['throughput'][1]})")
        browse(port, found)
        figures["memory"] = peak_memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    if path is not None:
        figures["datasette"] = datasette(path, args)
    return figures


DATASETTE_SQL = ("select substr(area, 1, 4) as city, sum(villages), sum(key_villages), sum(first_secretary), "
                 "sum(first_secretary_key), sum(backing_unit), sum(backing_unit_key), sum(enterprise), "
                 "sum(enterprise_key), sum(support_12m), sum(support_12m_key), sum(teams_under_min), "
                 "sum(posted_people), sum(trained_people), sum(months_under_min) from area_summary "
                 "where area between '430000000000' and '439999999999' group by substr(area, 1, 4)")


def datasette(path: Path, args) -> tuple[float, str] | None:
    """Datasette serving the province's area-summary query on the same file (its JSON)."""
    binary = BIN / "datasette"
    if not binary.exists():
        log("  datasette is not installed (pip install -e '.[bench]'): no peer figure")
        return None
    port = free_port()
    server = subprocess.Popen([str(binary), "serve", str(path), "--port", str(port), "--setting", "num_sql_threads",
                               "3"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, "/-/versions.json")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/-/databases.json")
        database = json.loads(conn.getresponse().read())[0]
        name = database.get("route") or database["name"]
        query = f"/{name}.json?" + urllib.parse.urlencode({"sql": DATASETTE_SQL, "_shape": "array"})
        wait_for(port, query)
        log(f"== Datasette: the area-summary query, {args.duration:.0f} s")
        result = throughput(port, query, {}, args.duration)
        log(f"  {result[0]:.0f} req/s ({result[1]})")
        return result
    finally:
        server.terminate()
        server.wait(30)


# -- the table ------------------------------------------------------------------------------

def table(results: dict[str, dict], args) -> str:
    engines = list(results)
    rows: list[tuple[str, list[str], str]] = []
    first = results[engines[0]]
    sqlite = results.get("SQLite", {})

    def add(name: str, values: list[str], target: str = "") -> None:
        rows.append((name, values, target))

    add("dataset", [f"{r['dataset']['region']:,} regions, {r['dataset']['support_record']:,} records"
                    for r in results.values()], f"scale {args.scale}")
    for name in first["pages"]:
        target = "p95 ≤ 100 ms"
        if name == "coverage API province":
            target += "; median ≤ 20 ms"
        elif name.startswith("coverage API ?"):
            target = "≤ 50 ms"
        add(name, [f"{r['pages'][name][0]:7.1f} / {r['pages'][name][1]:7.1f}" for r in results.values()], target)
    add("coverage API ÷ its SQL replayed", [f"{r['replay'][0]:.1f} ÷ {r['replay'][1]:.1f} = {r['replay'][2]:.2f}"
                                            for r in results.values()], "≤ 1.2")
    add("  the same, its cache off", [f"{r['replay uncached'][0]:.1f} ÷ {r['replay uncached'][1]:.1f} = "
                                      f"{r['replay uncached'][2]:.2f}" for r in results.values()], "≤ 1.2")
    if "throughput" in first:
        add("coverage API req/s (2 workers, 8 conn)",
            [f"{r['throughput'][0]:.0f} ({r['throughput'][1]})" for r in results.values()],
            "≥ Datasette's")
        peer = sqlite.get("datasette")
        add("Datasette, area_summary query req/s", [f"{peer[0]:.0f} ({peer[1]})" if peer else "n/a"]
            + ["(SQLite file)"] * (len(engines) - 1), "peer")
        add("worker peak memory (VmHWM)", [f"{r['memory']:.0f} MB" for r in results.values()], "≤ 150 MB")
    add("dataset build (wall / CPU)", [f"{r['build'][0]:.0f} s / {r['build'][1]:.0f} s" for r in results.values()],
        "≤ 120 s")
    add("  of it rows / summaries", [f"{r['build rows']:.0f} s / {r['build summaries']:.0f} s"
                                     for r in results.values()], "")
    add("flask dashboard rebuild (wall / CPU)", [f"{r['rebuild'][0]:.0f} s / {r['rebuild'][1]:.0f} s"
                                                 for r in results.values()], "≤ 60 s")
    width = max(len(r[0]) for r in rows)
    cols = [max(len(engine), *(len(r[1][i]) for r in rows)) for i, engine in enumerate(engines)]
    lines = [f"{'figure (ms: median / p95)':{width}s} | " + " | ".join(f"{e:{c}s}" for e, c in zip(engines, cols))
             + " | target"]
    lines.append("-" * len(lines[0]))
    for name, values, target in rows:
        lines.append(f"{name:{width}s} | " + " | ".join(f"{v:{c}s}" for v, c in zip(values, cols)) + f" | {target}")
    return "\n".join(lines)


def side_by_side(urls: dict[str, str], args) -> dict[str, dict[str, tuple[float, float]]]:
    """Every page again on both datasets, the two engines' requests alternating
    (``pages.time_pages_side_by_side``): the figures PostgreSQL is compared by."""
    log(f"== SQLite and PostgreSQL side by side: pages ({args.runs} rounds, the engines alternating)")
    engines = {}
    for label, url in urls.items():
        app = make_app(url, OUT / f"bench-{label.lower()}.audit-checkpoint.json")
        engines[label] = (app, bench_pages.prepare_users(app))
    try:
        return bench_pages.time_pages_side_by_side(engines, args.runs, log=log)
    finally:
        from registry.extensions import db

        for app, _ in engines.values():
            with app.app_context():
                db.engine.dispose()


def side_by_side_table(side: dict[str, dict[str, tuple[float, float]]]) -> str:
    lite, pg = side["SQLite"], side["PostgreSQL"]
    width = max(len(name) for name in lite)
    lines = [f"{'timed alternately (ms: median / p95)':{width}s} | {'SQLite':>17s} | {'PostgreSQL':>17s} | "
             "PostgreSQL ÷ SQLite (target ≤ 2×)"]
    lines.append("-" * len(lines[0]))
    for name in lite:
        lines.append(f"{name:{width}s} | {lite[name][0]:7.1f} / {lite[name][1]:7.1f} | "
                     f"{pg[name][0]:7.1f} / {pg[name][1]:7.1f} | {pg[name][0] / lite[name][0]:5.2f}×")
    return "\n".join(lines)


def worst_ratio(results: dict[str, dict], side: dict | None = None) -> str | None:
    """PostgreSQL's worst page beside SQLite's (target: no figure worse than 2×): from the
    pages timed alternately where they were, else from each engine's own pass."""
    if "PostgreSQL" not in results or "SQLite" not in results:
        return None
    lite, pg = (side["SQLite"], side["PostgreSQL"]) if side else (results["SQLite"]["pages"],
                                                                  results["PostgreSQL"]["pages"])
    name = max(lite, key=lambda k: pg[k][0] / lite[k][0])
    how = "timed alternately" if side else "each engine timed in its own pass"
    return (f"PostgreSQL's worst median beside SQLite's ({how}): {name}, {pg[name][0] / lite[name][0]:.2f}× "
            "(target ≤ 2×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE") or 1.0))
    parser.add_argument("--small", action="store_true", help="2,400 villages, few runs (what CI runs)")
    parser.add_argument("--runs", type=int, default=None, help="timed requests per page (20; 3 with --small)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load (10; 2 with --small)")
    parser.add_argument("--no-load", action="store_true", help="skip gunicorn, wrk and Datasette")
    parser.add_argument("--sqlite-only", action="store_true", help="even with DATABASE_URL set")
    parser.add_argument("--postgresql-only", action="store_true", help="with DATABASE_URL set: skip SQLite")
    args = parser.parse_args()
    if args.small:
        args.scale = min(args.scale, 0.1)
    args.runs = args.runs or (3 if args.small else 20)
    args.duration = args.duration or (2 if args.small else 10)
    OUT.mkdir(parents=True, exist_ok=True)
    pg_url = os.environ.pop("DATABASE_URL", "")
    load_avg = os.getloadavg()
    results = {}
    path = OUT / (f"bench-{args.scale:g}".replace(".", "_") + ".sqlite3")  # no dot in the name Datasette routes by
    if not (args.postgresql_only and pg_url):
        results["SQLite"] = run_engine("SQLite", f"sqlite:///{path}", path, args)
    if pg_url.startswith("postgres") and not args.sqlite_only:
        results["PostgreSQL"] = run_engine("PostgreSQL", pg_url, None, args)
    side = side_by_side({"SQLite": f"sqlite:///{path}", "PostgreSQL": pg_url}, args) if len(results) == 2 else None
    print()
    print(table(results, args))
    if side:
        print()
        print(side_by_side_table(side))
    ratio = worst_ratio(results, side)
    if ratio:
        print(ratio)
    print(f"load average at start {load_avg[0]:.1f}, at end {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs: a shared machine's figures are to be read as ratios")
    (OUT / "bench-last.json").write_text(json.dumps({**{k: {n: v for n, v in r.items()} for k, r in results.items()},
                                                     **({"side by side": side} if side else {})},
                                                    default=str, indent=1))
    writes = ROOT / "bench" / "writes_bench.py"
    if writes.exists():  # concurrent record submission and confirmation (the writes helper's)
        print("\n== bench/writes_bench.py")
        command = [sys.executable, str(writes)] + (["--quick"] if args.small else [])
        # a scratch database of its own beside the one named (it empties what it is
        # given): the province dataset just built stays for a later look
        env = dict(os.environ, DATABASE_URL=scratch_database(pg_url, "writes")) if pg_url else None
        subprocess.run(command, cwd=ROOT, check=True, env=env)


def scratch_database(url: str, suffix: str) -> str:
    """``<database>_<suffix>`` on the server of ``url``, created if missing."""
    from sqlalchemy.engine import make_url

    base = make_url(url)
    scratch = base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)
    create_database(scratch)
    return scratch


def create_database(url: str) -> None:
    """Create the PostgreSQL database ``url`` names if it does not exist yet."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}):
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
