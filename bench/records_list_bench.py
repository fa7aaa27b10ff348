"""Province-scale benchmark of the support-record lists.

Reuses the dataset that bench/coverage_bench.py builds (bench/out/province.sqlite3: about
24,000 villages and 1,000,000 support records) and times, through the real Flask app and
a logged-in region user, for the province (bench_province) and a county (bench_county):

- GET /records/                      the first page of the list
- GET /records/?status=disputed      a filtered page (a worklist a user opens from home)
- GET /records/?category=education   a filtered page on a column without its own index
- a deep page: the province's page 201 (rows 10,000–10,049, ``--deep``) and the county's
  page 101 (``--county-deep``), reached the way a user reaches them: by following
  "下一页" from the first page (an offset pager is jumped to with ``?page=``)
- a far page of the province list, page 10,000 (``--far``: rows 499,950–499,999), opened
  directly (``?page=`` or the cursor of the row before it)
- GET /records/overdue               the overdue worklist

The dataset is never written: it is copied (SQLite's backup API, from a read-only
connection) to ``--copy`` (default /tmp/records_list_bench.sqlite3) and the copy gets
what the current code needs that the dataset lacks: tables of newer models, the indexes
the models declare (what ``flask db upgrade`` adds) and the statistics of those new
indexes. Each run starts from a fresh copy unless ``--reuse``, so one run of the code
before a change and one after compare the same data.

    .venv/bin/python bench/records_list_bench.py [--runs 20] [--deep 200] [--reuse]
"""
from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.coverage_bench import COUNTY, OUT  # noqa: E402  (the dataset's home and its bench county)

PROVINCE = "430000000000"
PASSWORD = "BenchPassw0rd1"  # the bench users' password, as coverage_bench.py creates them
USERS = (("province", "bench_province", PROVINCE), ("county", "bench_county", COUNTY))
PER_PAGE_ROWS = 50
NEXT_LINK = re.compile(r'<a[^>]*href="([^"]+)"[^>]*>下一页</a>')
SUMMARY = re.compile(r"(共 [\d,]+ 条|超过 [\d,]+ 条|第 \d+ / \d+ 页)")


def working_copy(source: Path, target: Path, reuse: bool) -> None:
    if reuse and target.exists():
        return
    t = time.perf_counter()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    print(f"copied {source} to {target} in {time.perf_counter() - t:.1f}s", flush=True)


def prepare(app) -> None:
    """Bring the copy to the current models as a migration would: new tables, the indexes
    the models declare (dropping those they no longer declare), fresh statistics of the
    tables whose indexes changed; and the bench users."""
    from sqlalchemy import inspect, select, text

    from registry.accounts.models import User
    from registry.accounts.services import create_user
    from registry.extensions import db

    with app.app_context():
        db.create_all()
        inspector = inspect(db.engine)
        changed = []
        for table in db.metadata.sorted_tables:
            existing = {ix["name"] for ix in inspector.get_indexes(table.name)}
            declared = {index.name for index in table.indexes}
            dropped, added = sorted(existing - declared), [ix for ix in table.indexes if ix.name not in existing]
            if not dropped and not added:
                continue
            with db.engine.begin() as conn:
                for name in dropped:
                    conn.execute(text(f"DROP INDEX {name}"))
                    changed.append(f"-{name}")
            for index in added:
                t = time.perf_counter()
                index.create(db.engine)
                changed.append(f"+{index.name} ({time.perf_counter() - t:.1f}s)")
            with db.engine.begin() as conn:
                conn.execute(text(f"ANALYZE {table.name}"))
        print("indexes changed in the copy: " + (", ".join(changed) or "none"), flush=True)
        names = set(db.session.scalars(select(User.username)))
        for _, username, code in USERS:
            if username not in names:
                create_user(username, "region", region_code=code, password=PASSWORD)
        db.session.commit()


def login(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def deep_url(client, pages: int) -> str:
    """The URL of page ``pages + 1`` as a user gets there: an offset pager is jumped to,
    a keyset pager is followed link by link."""
    url = "/records/"
    for _ in range(pages):
        body = client.get(url).get_data(as_text=True)
        match = NEXT_LINK.search(body)
        if match is None:
            raise SystemExit(f"the list ends before page {pages + 1}")
        url = match.group(1).replace("&amp;", "&")
        if re.search(r"[?&]page=\d+", url):
            return re.sub(r"([?&]page=)\d+", rf"\g<1>{pages + 1}", url)
    return url


def far_url(app, client, username: str, page: int) -> str:
    """The URL of a page far down the list (rows from (page - 1) * 50 on): ``?page=`` for
    an offset pager; for a keyset pager, the cursor of the row before it, which only a
    user who followed "下一页" that often would hold (found once, outside the timing)."""
    first = NEXT_LINK.search(client.get("/records/").get_data(as_text=True))
    if first is None or re.search(r"[?&]page=\d+", first.group(1)):
        return f"/records/?page={page}"
    from sqlalchemy import select

    from registry.accounts.models import User
    from registry.core.paging import encode
    from registry.extensions import db
    from registry.records import queries

    with app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        row = db.session.scalars(queries.record_list(user).offset((page - 1) * PER_PAGE_ROWS - 1).limit(1)).first()
        return f"/records/?after={encode(queries.RECORD_ORDER, row)}"


def timed(client, url: str, runs: int) -> tuple[list[float], str]:
    times = []
    body = ""
    for i in range(runs + 2):  # two warm-up requests
        t = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - t) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i >= 2:
            times.append(elapsed)
        body = response.get_data(as_text=True)
    return times, body


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, default=OUT / "province.sqlite3", help="the dataset (read only)")
    parser.add_argument("--copy", type=Path, default=Path("/tmp/records_list_bench.sqlite3"))
    parser.add_argument("--reuse", action="store_true", help="reuse an existing copy")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--deep", type=int, default=200, help="pages the province user follows for the deep page")
    parser.add_argument("--county-deep", type=int, default=100, help="the same for the county user (~127 pages)")
    parser.add_argument("--far", type=int, default=10_000, help="a far page of the province list, opened directly")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    if not args.db.exists():
        raise SystemExit(f"{args.db} is missing: build it with .venv/bin/python bench/coverage_bench.py")
    working_copy(args.db, args.copy, args.reuse)

    from registry import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{args.copy}", "SECRET_KEY": "bench",
                      "DATA_KEY": "bench", "AUDIT_CHECKPOINT_PATH": f"{args.copy}.audit-checkpoint.json",
                      "RATELIMIT_ENABLED": False})
    prepare(app)
    records = sqlite3.connect(args.copy).execute("SELECT count(*) FROM support_record").fetchone()[0]
    print(f"dataset: {records:,} support records; {args.runs} timed runs per page")

    for label, username, _ in USERS:
        client = login(app, username)
        skip = args.deep if label == "province" else args.county_deep
        t = time.perf_counter()
        deep = deep_url(client, skip)
        reached = time.perf_counter() - t
        pages = [
            ("first page", "/records/"),
            ("status=disputed", "/records/?status=disputed"),
            ("category=education", "/records/?category=education"),
            (f"deep (page {skip + 1})", deep),
        ]
        if label == "province":
            pages.append((f"far (page {args.far})", far_url(app, client, username, args.far)))
        pages.append(("overdue", "/records/overdue"))
        for name, url in pages:
            times, body = timed(client, url, args.runs)
            rows = body.count('<td><a href="/records/') // 2
            shown = SUMMARY.search(body)
            print(f"{label:8s} {name:22s} median {statistics.median(times):7.1f} ms  p95 {p95(times):7.1f} ms"
                  f"   ({rows} rows; {shown.group(1) if shown else 'no count shown'})", flush=True)
        print(f"{label:8s} following 下一页 to page {skip + 1}: {reached:.1f}s in all", flush=True)


if __name__ == "__main__":
    main()
