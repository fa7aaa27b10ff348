"""Province-scale benchmark of the coverage API.

Builds (or reuses) a SQLite database with about 24,000 villages, 40,000 people and
1,000,000 support records, then times GET /api/v1/coverage/<code> for the province and
for a county through the real Flask app (a logged-in region user), and the same figures
computed by plain SQL on the same database in the same run: the exact statements the API
issued, replayed on a raw sqlite3 connection. Prints median and p95 for both and their
ratio. Before timing it runs what the daily `flask dashboard refresh` does (recompute the
area summaries that time has outdated since the dataset was built), as a deployment would.

    .venv/bin/python bench/coverage_bench.py            # builds bench/out/province.sqlite3 once
    .venv/bin/python bench/coverage_bench.py --rebuild  # builds it again
Targets: province median <= 50 ms, p95 <= 100 ms on SQLite; ratio <= 1.5.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"

VILLAGES = 24_000
PEOPLE = 40_000
RECORDS = 1_000_000
ORGS = 3_000
COUNTY = "433101000000"


def build(path: Path, seed: int = 1) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import insert, select

    from registry import create_app
    from registry.core import crypto
    from registry.core.identity import credit_code_check_char, id_check_char, mask_id_number
    from registry.dashboard.rebuild import rebuild_all
    from registry.extensions import db
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.people.models import Person, Posting
    from registry.records.models import SupportRecord
    from registry.regions.models import Region
    from registry.regions.services import load_divisions

    if path.exists():
        path.unlink()
    rng = random.Random(seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "DATA_KEY": "bench",
                      "AUDIT_CHECKPOINT_PATH": f"{path}.audit-checkpoint.json"})
    t0 = time.perf_counter()
    with app.app_context():
        upgrade()
        db.create_all()
        load_divisions()
        db.session.commit()
        townships = db.session.scalars(select(Region.code).where(Region.level == "township").order_by(Region.code)).all()
        villages = []
        per = VILLAGES // len(townships) + 1
        for t in townships:
            for i in range(1, per + 1):
                if len(villages) >= VILLAGES:
                    break
                poor = rng.random() < 0.3
                villages.append(dict(code=f"{t[:9]}{i:03d}", name=f"基准{i}村", level="village", parent_code=t,
                                     is_poor=poor, is_key=poor and rng.random() < 0.5, is_relocation=rng.random() < 0.03,
                                     is_demo=True))
        db.session.execute(insert(Region.__table__), villages)
        codes = [v["code"] for v in villages]
        kinds = ["backing_unit"] * 50 + ["paired_unit"] * 10 + ["mass_org"] * 5 + ["party_federation"] * 3 + \
                ["army_unit"] * 2 + ["enterprise"] * 25 + ["charity"] * 3 + ["other"] * 2
        counties = db.session.scalars(select(Region.code).where(Region.level == "county")).all()
        orgs = []
        for i in range(1, ORGS + 1):
            body = f"91430000MA{i:07d}"
            orgs.append(dict(id=i, name=f"基准单位{i}", kind=rng.choice(kinds), level="county",
                             region_code=rng.choice(counties), credit_code=body + credit_code_check_char(body),
                             is_demo=True, version=1))
        db.session.execute(insert(Organization.__table__), orgs)
        org_kind = {o["id"]: o["kind"] for o in orgs}
        enterprises = [o["id"] for o in orgs if o["kind"] == "enterprise"]
        units = [o["id"] for o in orgs if o["kind"] != "enterprise"]
        print(f"  regions and organizations: {time.perf_counter() - t0:.1f}s", flush=True)

        people = []
        for i in range(1, PEOPLE + 1):
            body = f"430101{1960 + i % 35}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
            number = body + id_check_char(body)
            people.append(dict(id=i, name=f"干部{i}", gender="male", organization_id=rng.choice(units),
                               id_number_encrypted=crypto.encrypt(number), id_number_index=f"{i:064d}",
                               id_number_masked=mask_id_number(number), is_demo=True, version=1))
        db.session.execute(insert(Person.__table__), people)
        today = date.today()
        postings = []
        person_ids = iter(range(1, PEOPLE + 1))
        pid = 0
        # active: first secretary in 60% of villages, plus 0–3 team members
        for code in codes:
            if rng.random() < 0.6:
                org = rng.choice(units)
                for role in ["first_secretary"] + ["team_member"] * rng.randint(0, 3):
                    pid = next(person_ids, None)
                    if pid is None:
                        break
                    start = today - timedelta(days=rng.randint(0, 700))
                    postings.append(dict(person_id=pid, organization_id=org, role=role, region_code=code,
                                         dispatch_level="county", start_date=start, planned_end=start + timedelta(days=730),
                                         is_demo=True, version=1))
        for pid in person_ids:  # the rest: ended postings of earlier rounds
            start = today - timedelta(days=rng.randint(800, 1800))
            postings.append(dict(person_id=pid, organization_id=rng.choice(units), role="team_member",
                                 region_code=rng.choice(codes), dispatch_level="county", start_date=start,
                                 planned_end=start + timedelta(days=730), end_date=start + timedelta(days=730),
                                 end_reason="term_completed", is_demo=True, version=1))
        db.session.execute(insert(Posting.__table__), postings)
        pairings = []
        for code in codes:
            if rng.random() < 0.7:
                pairings.append(dict(organization_id=rng.choice(units), region_code=code, kind="resident",
                                     start_date=today - timedelta(days=rng.randint(30, 1500)), is_demo=True, version=1))
            if rng.random() < 0.35:
                pairings.append(dict(organization_id=rng.choice(enterprises), region_code=code, kind="enterprise_village",
                                     start_date=today - timedelta(days=rng.randint(30, 1500)),
                                     end_date=None if rng.random() < 0.8 else today - timedelta(days=rng.randint(1, 300)),
                                     is_demo=True, version=1))
        db.session.execute(insert(Pairing.__table__), pairings)
        db.session.commit()
        print(f"  people, postings, pairings: {time.perf_counter() - t0:.1f}s", flush=True)

        _load_training_and_duty(db, rng, postings, today)

        categories = ["funds", "project", "industry", "employment", "consumption", "education", "health", "culture",
                      "science_tech", "infrastructure", "goods", "volunteer", "other"]
        statuses = ["confirmed"] * 85 + ["submitted"] * 4 + ["disputed"] * 3 + ["draft"] * 3 + ["withdrawn"] * 3 + \
                   ["superseded"] * 2
        from registry.core.timeutil import utcnow

        now = utcnow()
        table = SupportRecord.__table__
        batch = []
        for i in range(RECORDS):
            status = rng.choice(statuses)
            day = today - timedelta(days=rng.randint(0, 540))
            submitted = None if status == "draft" else now - timedelta(days=rng.randint(0, 90))
            batch.append(dict(
                organization_id=rng.choice(units) if rng.random() < 0.8 else rng.choice(enterprises),
                village_code=codes[rng.randrange(len(codes))], category=rng.choice(categories), title="基准记录",
                description="", amount=Decimal(rng.randint(0, 500000)) / 100, amount_attracted=Decimal(0),
                amount_in_kind=Decimal(rng.randint(0, 1000)), households=rng.randint(0, 50), persons=rng.randint(0, 200),
                jobs=rng.randint(0, 5), record_date=day, status=status, submitted_at=submitted, is_demo=True,
                created_at=now, updated_at=now, version=1,
            ))
            if len(batch) == 50_000:
                db.session.connection().execute(table.insert(), batch)
                batch = []
                print(f"  records {i + 1:,}: {time.perf_counter() - t0:.1f}s", flush=True)
        if batch:
            db.session.connection().execute(table.insert(), batch)
        db.session.commit()
        rebuild_all()
        db.session.commit()
        db.session.execute(__import__("sqlalchemy").text("ANALYZE"))
        db.session.commit()
        print(f"  summaries rebuilt, analyzed: {time.perf_counter() - t0:.1f}s", flush=True)
        for _ in org_kind:
            break


def _load_training_and_duty(db, rng, postings, today) -> None:
    from sqlalchemy import insert

    try:
        from registry.training.models import Attendance, Training
    except ImportError:
        Training = None
    active = [p for p in postings if p.get("end_date") is None]
    if Training is not None:
        trainings = []
        for i in range(1, 801):
            start = today - timedelta(days=rng.randint(0, 700))
            trainings.append(dict(id=i, title=f"基准培训{i}", organizer="省乡村振兴局", level="provincial",
                                  kind=rng.choice(["pre_posting", "rotation", "topic"]), mode="onsite",
                                  region_code="430000000000", start_date=start, end_date=start + timedelta(days=2),
                                  hours=Decimal(16), is_demo=True, version=1))
        db.session.execute(insert(Training.__table__), trainings)
        seen = set()
        rows = []
        for p in active:
            for _ in range(rng.randint(0, 3)):
                t = rng.randint(1, 800)
                if (t, p["person_id"]) in seen:
                    continue
                seen.add((t, p["person_id"]))
                rows.append(dict(training_id=t, person_id=p["person_id"], hours=Decimal(16), passed=rng.random() < 0.95,
                                 is_demo=True, version=1))
        db.session.execute(insert(Attendance.__table__), rows)
    try:
        from registry.duty.models import DutyMonth
    except ImportError:
        DutyMonth = None
    if DutyMonth is not None:
        rows = []
        from sqlalchemy import select

        from registry.people.models import Posting

        active_postings = db.session.execute(
            select(Posting.id, Posting.region_code, Posting.organization_id).where(Posting.end_date.is_(None))).all()
        for posting_id, region_code, org_id in active_postings:
            for k in range(1, 13):
                first = date(today.year, today.month, 1) - timedelta(days=31 * k)
                row = _duty_row(DutyMonth, posting_id, first.replace(day=1), rng)
                row.update(region_code=region_code, organization_id=org_id)
                rows.append(row)
        db.session.execute(insert(DutyMonth.__table__), rows)
    db.session.commit()


def _duty_row(model, posting_id, month, rng) -> dict:
    import calendar

    days = calendar.monthrange(month.year, month.month)[1]
    row = dict(posting_id=posting_id, month=month, days_in_village=rng.choice([22, 23, 24, 20, 21, 18, 25]),
               month_days=days, available_days=days, leave_days=0, absences=0, summary="基准纪实", status="filed",
               is_demo=True, version=1, region_code=None, organization_id=None)
    columns = set(model.__table__.c.keys())
    return {k: v for k, v in row.items() if k in columns}


def measure(path: Path, runs: int) -> None:
    from sqlalchemy import event

    from registry import create_app
    from registry.accounts.services import create_user
    from registry.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SECRET_KEY": "bench", "DATA_KEY": "bench",
                      "AUDIT_CHECKPOINT_PATH": f"{path}.audit-checkpoint.json", "RATELIMIT_ENABLED": False})
    with app.app_context():
        from registry.accounts.models import User

        db.create_all()  # tables added since the dataset was built
        from registry.dashboard.recompute import refresh_stale

        t = time.perf_counter()  # what the daily `flask dashboard refresh` does (and builds new tables)
        refreshed = refresh_stale()
        db.session.commit()
        print(f"daily refresh: {refreshed} areas recomputed in {time.perf_counter() - t:.1f}s")

        from sqlalchemy import select

        existing = set(db.session.scalars(select(User.username)))
        for username, code in (("bench_province", "430000000000"), ("bench_county", COUNTY)):
            if username not in existing:
                create_user(username, "region", region_code=code, password="BenchPassw0rd1")
        db.session.commit()
        engine = db.engine

    def login(username):
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
        r = client.post("/login", data={"username": username, "password": "BenchPassw0rd1", "csrf_token": token})
        assert r.status_code == 302, r.status_code
        return client

    raw = sqlite3.connect(path)
    for label, username, code in (("province", "bench_province", "430000000000"), ("county", "bench_county", COUNTY)):
        client = login(username)
        url = f"/api/v1/coverage/{code}"
        captured: list[tuple[str, tuple]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        response = client.get(url)
        event.remove(engine, "before_cursor_execute", capture)
        assert response.status_code == 200, response.status_code
        figures = response.get_json()["total"]
        statements = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT") and "user_account" not in s]

        api, sql = [], []
        for i in range(runs + 3):  # interleaved, so both see the same machine
            t = time.perf_counter()
            r = client.get(url)
            api_ms = (time.perf_counter() - t) * 1000
            assert r.status_code == 200
            t = time.perf_counter()
            for statement, params in statements:
                raw.execute(statement, params).fetchall()
            sql_ms = (time.perf_counter() - t) * 1000
            if i >= 3:
                api.append(api_ms)
                sql.append(sql_ms)

        def p95(values):
            return statistics.quantiles(values, n=20)[-1]

        print(f"{label:8s} API  median {statistics.median(api):7.1f} ms  p95 {p95(api):7.1f} ms   "
              f"plain SQL median {statistics.median(sql):7.1f} ms  p95 {p95(sql):7.1f} ms   "
              f"ratio median {statistics.median(api) / statistics.median(sql):.2f}  p95 {p95(api) / p95(sql):.2f}   "
              f"({len(statements)} statements; villages {figures['villages']}, confirmed {figures['confirmed_count']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--db", type=Path, default=OUT / "province.sqlite3")
    args = parser.parse_args()
    os.environ.pop("DATABASE_URL", None)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not args.db.exists():
        print(f"building {args.db} …", flush=True)
        build(args.db)
    with sqlite3.connect(args.db) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("region", "person", "posting", "pairing", "support_record")}
    villages = sqlite3.connect(args.db).execute("SELECT count(*) FROM region WHERE level='village'").fetchone()[0]
    print(f"dataset: {villages:,} villages, {counts['person']:,} people, {counts['posting']:,} postings, "
          f"{counts['pairing']:,} pairings, {counts['support_record']:,} support records")
    measure(args.db, args.runs)


if __name__ == "__main__":
    main()
