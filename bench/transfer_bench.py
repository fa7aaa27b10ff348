"""Bulk import and export at province scale (issue 11), on SQLite, in one run.

- people import: a 40,000-row .xlsx of new cadres imported end to end by a county's staff
  (read, every row checked by the person rule, written, audited, committed), beside the
  bare parse of the same file by the reader (python-calamine), and their ratio;
- people update: the same people exported by the county (numbers masked) and imported
  back as an update, unchanged (no target: every row is looked up and compared);
- records import: a 40,000-row .xlsx of a unit's support records imported end to end by
  the unit's staff (read, every row checked by the filing rule, written in one Core insert,
  audited, the dashboard summaries updated, committed), beside the bare parse of the same
  file by the reader, and their ratio;
- bad files: the corpus's zip bomb, billion laughs and oversized sheets, each refused in a
  fresh process, with the time and how much the process's peak memory grew;
- ledger export: 1,000,000 support records as .csv and as .xlsx, each in a fresh process,
  with its time, its CPU time (user and system: what a busy machine disturbs least) and
  the process's peak memory (VmHWM).

Targets (issue 11): people import ≤ 3 s, records import ≤ 1.5 s, export peak memory
≤ 300 MB, CSV ≤ 15 s, xlsx ≤ 90 s. The machine is shared: compare within one run.

    .venv/bin/python bench/transfer_bench.py [--people 40000] [--import-records 40000] [--records 1000000]
                                             [--skip-export]      (0 rows skips a section)
"""
from __future__ import annotations

import argparse
import io
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
COUNTY = "433101000000"


def make_app(path: Path):
    from registry import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "DATA_KEY": "bench",
                       "UPLOAD_FOLDER": str(path.parent / "uploads"), "REGISTRY_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
                       # the audit chain's checkpoint beside the bench's database, not in instance/
                       "AUDIT_CHECKPOINT_PATH": f"{path}.audit-checkpoint.json"})


def prepare(path: Path) -> None:
    """Schema, divisions, one county's villages, an employer and a county account."""
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from registry.accounts.services import create_user
    from registry.extensions import db
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.regions.models import Region
    from registry.regions.services import load_divisions

    app = make_app(path)
    with app.app_context():
        upgrade()
        load_divisions()
        townships = db.session.scalars(select(Region.code).where(Region.level == "township",
                                                                   Region.parent_code == COUNTY)).all()
        villages = [dict(code=f"{t[:9]}{i:03d}", name=f"基准{i}村", level="village", parent_code=t)
                    for t in townships for i in range(1, 21)]
        db.session.execute(insert(Region.__table__), villages)
        org = Organization(name="基准县农业农村局", kind="backing_unit", level="county", region_code=COUNTY, version=1)
        db.session.add(org)
        db.session.flush()
        for v in villages:
            db.session.add(Pairing(organization_id=org.id, region_code=v["code"], kind="resident",
                                   start_date=date(2022, 1, 1)))
        create_user("bench_county", "region", password="BenchPassw0rd1", region_code=COUNTY)
        create_user("bench_unit", "unit", password="BenchPassw0rd1", organization_id=org.id)
        db.session.commit()


def people_file(n: int) -> bytes:
    import xlsxwriter

    from registry.core.identity import id_check_char
    from registry.people.imports import PersonImport

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "constant_memory": True})
    ws = wb.add_worksheet()
    header = [f.header for f in PersonImport.fields]
    ws.write_row(0, 0, header)
    for i in range(1, n + 1):
        body = f"433101{1960 + i % 35}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        # vary the sequence part beyond 1000 people with the birth year block
        body = f"4331{i // 1000:02d}{body[6:]}"
        number = body + id_check_char(body)
        gender = "男" if int(number[16]) % 2 else "女"
        ws.write_row(i, 0, [f"干部{i}", number, gender, "汉族", None, f"138{i:08d}", "是", "大学本科",
                            "基准县农业农村局", "科员", None, "否", "否", None])
    wb.close()
    return buf.getvalue()


def timed_import(spec, data: bytes, filename: str, username: str):
    """The bare parse of the file by the reader, then the whole import as ``username``:
    (grid, parse s, parse CPU s, report, import s, import CPU s)."""
    from sqlalchemy import select

    from registry.accounts.models import User
    from registry.extensions import db
    from registry.transfer.importing import run_import
    from registry.transfer.reading import read_grid

    t, c = time.perf_counter(), time.process_time()
    grid = read_grid(data, filename)
    parse, parse_cpu = time.perf_counter() - t, time.process_time() - c
    user = db.session.scalar(select(User).where(User.username == username))
    t, c = time.perf_counter(), time.process_time()
    report = run_import(spec, data, filename, user)
    return grid, parse, parse_cpu, report, time.perf_counter() - t, time.process_time() - c


def bench_people(path: Path, n: int) -> None:
    from sqlalchemy import func, select

    from registry.extensions import db
    from registry.people.imports import PersonImport
    from registry.people.models import Person

    data = people_file(n)
    app = make_app(path)
    with app.app_context():
        grid, parse, parse_cpu, report, full, full_cpu = timed_import(PersonImport(), data, "people.xlsx", "bench_county")
        stored = db.session.scalar(select(func.count()).select_from(Person))
    status = "ok" if report.ok else f"FAILED: {report.errors[:3]}"
    print(f"people import   {n:>9,} rows  parse {parse:6.2f} s (cpu {parse_cpu:.2f})  "
          f"import {full:6.2f} s (cpu {full_cpu:.2f})  ratio {full / parse:5.1f}x  (target ≤ 3 s)  {status}, {stored:,} people stored, {len(grid.rows) - 1:,} read",
          flush=True)


def bench_people_update(path: Path, n: int) -> None:
    """The people just imported, exported by the county as the list page exports them
    (numbers masked) and imported back as an update, unchanged: every row is looked up
    and compared, nothing written."""
    from sqlalchemy import select

    from registry.accounts.models import User
    from registry.extensions import db
    from registry.people.imports import PersonImport
    from registry.transfer.importing import run_import

    app = make_app(path)
    app.config.update(WTF_CSRF_ENABLED=False, REGISTRY_EXPORT_JOB_ROWS=10 * n)  # the export inline, not a job
    client = app.test_client()
    client.post("/login", data={"username": "bench_county", "password": "BenchPassw0rd1"})
    exported = client.get("/people/export.xlsx?masked=1").data
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "bench_county"))
        t, c = time.perf_counter(), time.process_time()
        report = run_import(PersonImport(), exported, "people.xlsx", user, update=True)
        full, full_cpu = time.perf_counter() - t, time.process_time() - c
    status = "ok" if report.ok and report.unchanged == n else f"FAILED: {report.summary()} {report.errors[:3]}"
    print(f"people update   {n:>9,} rows  (exported masked, imported back unchanged)  import {full:6.2f} s "
          f"(cpu {full_cpu:.2f})  {status}, {report.unchanged:,} unchanged", flush=True)


def records_file(n: int) -> bytes:
    """A unit's ledger as a spreadsheet: its villages by label, amounts as numbers (some
    written "5万"), dates as date cells, a 编号 on every row."""
    import xlsxwriter
    from sqlalchemy import select

    from registry.core.enums import RECORD_CATEGORIES
    from registry.extensions import db
    from registry.records.imports import RecordImport
    from registry.regions.models import Region

    villages = [f"{name}（{code}）" for code, name in db.session.execute(
        select(Region.code, Region.name).where(Region.level == "village", Region.code.like(COUNTY[:6] + "%")))]
    categories = list(RECORD_CATEGORIES.values())
    rng = random.Random(7)
    start = date(2024, 1, 1)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "constant_memory": True})
    ws = wb.add_worksheet()
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_row(0, 0, [f.header for f in RecordImport.fields])
    for i in range(1, n + 1):
        amount = f"{rng.randint(1, 50)}万" if i % 10 == 0 else rng.randint(0, 10**6) / 100
        ws.write_row(i, 0, [f"2025-{i:05d}", villages[i % len(villages)], "基准县农业农村局",
                            categories[i % len(categories)], f"帮扶项目{i}", "基准数据" if i % 3 else None, amount,
                            0, rng.randint(0, 5000), rng.randint(0, 50), rng.randint(0, 200), rng.randint(0, 10)])
        ws.write_datetime(i, 12, datetime.combine(start + timedelta(days=i % 600), datetime.min.time()), day)
    wb.close()
    return buf.getvalue()


def bench_records(path: Path, n: int) -> None:
    from sqlalchemy import func, select

    from registry.dashboard.models import SupportTotal
    from registry.extensions import db
    from registry.records.imports import RecordImport
    from registry.records.models import SupportRecord

    app = make_app(path)
    with app.app_context():
        data = records_file(n)
        grid, parse, parse_cpu, report, full, full_cpu = timed_import(RecordImport(), data, "records.xlsx", "bench_unit")
        stored = db.session.scalar(select(func.count()).select_from(SupportRecord))
        counted = db.session.scalar(select(func.sum(SupportTotal.record_count)).where(
            SupportTotal.level == "province", SupportTotal.month == 0))
    status = "ok" if report.ok else f"FAILED: {report.errors[:3]}"
    print(f"records import  {n:>9,} rows  parse {parse:6.2f} s (cpu {parse_cpu:.2f})  "
          f"import {full:6.2f} s (cpu {full_cpu:.2f})  ratio {full / parse:5.1f}x  (target ≤ 1.5 s)  {status}, {stored:,} records stored, "
          f"{counted or 0:,} in the summaries, {len(grid.rows) - 1:,} read", flush=True)


def fill_records(path: Path, n: int) -> None:
    from sqlalchemy import insert, select

    from registry.extensions import db
    from registry.organizations.models import Organization
    from registry.records.models import SupportRecord
    from registry.regions.models import Region

    app = make_app(path)
    rng = random.Random(11)
    with app.app_context():
        org = db.session.scalar(select(Organization.id))
        villages = db.session.scalars(select(Region.code).where(Region.level == "village")).all()
        start = date(2023, 1, 1)
        categories = ["funds", "project", "industry", "employment", "consumption", "education", "health"]
        batch = []
        for i in range(1, n + 1):
            batch.append(dict(organization_id=org, village_code=rng.choice(villages), category=rng.choice(categories),
                              title=f"帮扶项目{i}", description="基准数据，含逗号，和“引号”", amount=Decimal(rng.randint(0, 10**6)) / 100,
                              amount_attracted=Decimal(0), amount_in_kind=Decimal(rng.randint(0, 5000)),
                              households=rng.randint(0, 50), persons=rng.randint(0, 200), jobs=rng.randint(0, 10),
                              record_date=start + timedelta(days=i % 900), status="confirmed", version=1,
                              reference=f"L-{i:07d}"))
            if len(batch) == 50_000:
                db.session.execute(insert(SupportRecord.__table__), batch)
                batch = []
        if batch:
            db.session.execute(insert(SupportRecord.__table__), batch)
        db.session.commit()


def export_child(path: str, fmt: str, out: str) -> None:
    """Run in its own process: one export of every record, as the province's admin sees it."""
    from sqlalchemy import select

    from registry.accounts.models import User
    from registry.records import ledger, queries
    from registry.transfer.writing import csv_chunks, write_xlsx

    app = make_app(Path(path))
    with app.app_context():
        admin = User(username="bench_admin", role="admin", active=True)  # never stored
        stmt = queries.record_list(admin)
        t, cpu = time.perf_counter(), cpu_seconds()
        if fmt == "csv":
            with open(out, "wb") as fh:
                for chunk in csv_chunks(ledger.COLUMNS, ledger.ledger_rows(stmt)):
                    fh.write(chunk)
            rows = None
        else:
            rows = write_xlsx(out, ledger.COLUMNS, ledger.ledger_rows(stmt), title="帮扶台账")
        elapsed, cpu = time.perf_counter() - t, cpu_seconds() - cpu
        assert select  # the import above keeps the child's imports like the app's
    print(f"{elapsed:.2f} {peak_mb():.0f} {os.path.getsize(out)} {cpu:.2f} {rows or ''}")


def cpu_seconds() -> float:
    """This process's CPU time so far (user and system): on a shared machine, the figure
    that other processes' load disturbs least."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mb() -> float:
    """This process's peak resident memory. Not ru_maxrss: Linux carries that over from
    the parent across fork and exec, so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


REFUSED_FILES = ("zip_bomb.xlsx", "shared_strings_bomb.xlsx", "far_cell.xlsx", "billion_laughs.xlsx", "too_many_rows.csv", "too_many_columns.csv")


def refuse_child(name: str) -> None:
    """Run in its own process: read one bad file of the test corpus, which must be refused."""
    from registry.transfer.reading import FileRefused, read_grid

    data = (ROOT / "tests" / "import_corpus" / name).read_bytes()
    before = peak_mb()
    t, cpu = time.perf_counter(), cpu_seconds()
    try:
        read_grid(data, name)
        verdict = "READ (should be refused)"
    except FileRefused as refused:
        verdict = f"refused {refused.status}"
    print(f"{time.perf_counter() - t:.4f} {cpu_seconds() - cpu:.4f} {peak_mb() - before:.1f} {len(data)} {verdict}")


def bench_refusals() -> None:
    """How fast and in how little memory the reader refuses the worst files of the corpus
    (the zip bomb unpacks to gigabytes), each in a fresh process."""
    for name in REFUSED_FILES:
        result = subprocess.run([sys.executable, __file__, "--refuse-child", name], capture_output=True, text=True,
                                cwd=ROOT)
        if result.returncode != 0:
            print(f"refusal {name}: FAILED\n{result.stderr[-2000:]}")
            continue
        elapsed, cpu, grown, size, verdict = result.stdout.split(maxsplit=4)
        print(f"bad file  {name:22} {int(size) / 1e6:5.2f} MB  {verdict.strip()} in {float(elapsed) * 1000:6.1f} ms "
              f"(CPU {float(cpu) * 1000:.1f} ms), memory grew {float(grown):.1f} MB", flush=True)


def bench_export(path: Path, n: int) -> None:
    targets = {"csv": 15, "xlsx": 90}
    for fmt in ("csv", "xlsx"):
        out = str(path.parent / f"ledger.{fmt}")
        result = subprocess.run([sys.executable, __file__, "--export-child", str(path), fmt, out],
                                capture_output=True, text=True, cwd=ROOT)
        if result.returncode != 0:
            print(f"ledger export {fmt}: FAILED\n{result.stderr[-2000:]}")
            continue
        elapsed, peak, size, cpu, *_ = result.stdout.split()
        print(f"ledger export   {n:>9,} rows  {fmt:4}  {float(elapsed):6.1f} s (target ≤ {targets[fmt]} s), "
              f"CPU {float(cpu):6.1f} s  "
              f"peak memory {peak} MB (target ≤ 300 MB)  file {int(size) / 1e6:.0f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=40_000)
    parser.add_argument("--import-records", type=int, default=40_000, dest="import_records")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--export-child", nargs=3, metavar=("DB", "FMT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--refuse-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(*args.export_child)
        return
    if args.refuse_child:
        refuse_child(args.refuse_child)
        return
    bench_refusals()
    with tempfile.TemporaryDirectory(prefix="transfer-bench-") as tmp:
        path = Path(tmp) / "bench.sqlite3"
        t = time.perf_counter()
        prepare(path)
        print(f"setup: schema, divisions, {COUNTY} villages: {time.perf_counter() - t:.1f} s", flush=True)
        if args.people:
            bench_people(path, args.people)
            bench_people_update(path, args.people)
        if args.import_records:
            bench_records(path, args.import_records)
        if not args.skip_export:
            t = time.perf_counter()
            fill_records(path, args.records)
            print(f"setup: {args.records:,} support records inserted in {time.perf_counter() - t:.1f} s", flush=True)
            bench_export(path, args.records)


if __name__ == "__main__":
    main()
