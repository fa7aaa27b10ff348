"""The province-scale benchmark dataset, built fast on SQLite or PostgreSQL.

About 24,000 villages, 40,000 people (each with a posting), 3,000 organizations,
~26,000 pairings, a year of duty months per active posting, last year's grade of every
posting active then (~21,000), 800 courses with their attendances and 1,000,000 support
records (``scale`` multiplies every count: 0.125 is a
few thousand villages, what CI runs). The schema comes from the migrations (``flask db
upgrade``), the rows go straight to the driver: ``executemany`` on SQLite inside one
transaction, ``COPY`` on PostgreSQL. Then the summaries are rebuilt (``rebuild_all``,
what ``flask dashboard rebuild`` runs) and the planner's statistics refreshed.

The rows are those ``coverage_bench.py`` always built (same generator, same seed), so
figures measured before and after stay comparable.
"""
from __future__ import annotations

import calendar
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, text

VILLAGES = 24_000
PEOPLE = 40_000
RECORDS = 1_000_000
ORGS = 3_000
TRAININGS = 800
BENCH_COUNTY = "433101000000"  # the county whose staff the bench logs in as
CATEGORIES = ["funds", "project", "industry", "employment", "consumption", "education", "health", "culture",
              "science_tech", "infrastructure", "goods", "volunteer", "other"]


@dataclass
class Sizes:
    villages: int
    people: int
    records: int
    orgs: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        return cls(max(50, int(VILLAGES * scale)), max(100, int(PEOPLE * scale)), max(1000, int(RECORDS * scale)),
                   max(100, int(ORGS * scale)))


def _defaults(table, given: list[str]) -> tuple[list[str], list]:
    """The columns a Core insert would fill from Python-side defaults, with their values
    (evaluated once: the bench's rows share a creation time)."""
    names, values = [], []
    for column in table.columns:
        if column.name in given or column.default is None:
            continue
        default = column.default
        if default.is_scalar:
            value = default.arg
        elif default.is_callable:
            try:
                value = default.arg(None)
            except TypeError:
                value = default.arg()
        else:
            continue
        names.append(column.name)
        values.append(value)
    return names, values


def bulk(conn, table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` through the driver."""
    if not rows:
        return
    given = list(rows[0])
    extra, extra_values = _defaults(table, given)
    columns = given + extra
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([*row.values(), *extra_values])
    else:  # values as SQLAlchemy stores them (its types' own bind processors: dates as text, ...)
        process = [_sqlite_processor(table.c[name].type, conn.dialect) for name in columns]
        extra_values = [p(v) if p else v for p, v in zip(process[len(given):], extra_values)]
        head = process[:len(given)]
        marks = ", ".join("?" * len(columns))
        data = ([p(v) if p else v for p, v in zip(head, row.values())] + extra_values for row in rows)
        raw.cursor().executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", data)


def _sqlite_processor(type_, dialect):
    """The bind processor of a column on SQLite, remembering its results where values
    repeat: dates, timestamps and flags (a few hundred distinct values in a million rows,
    each converted once instead of once a row: the driver's adapters and the Boolean's
    checks were a tenth of the rows' CPU). A date or timestamp goes as the text the
    driver's own adapters would have stored (``isoformat``; a timestamp's with a space)."""
    process = type_.bind_processor(dialect)
    python_type = getattr(type_, "python_type", None) if isinstance(type_, (Date, DateTime, Boolean)) else None
    if python_type is None:
        return process
    memo: dict = {}

    def remembered(value):
        try:
            return memo[value]
        except KeyError:
            if process is not None:
                out = process(value)
            elif isinstance(value, datetime):
                out = value.isoformat(" ")
            elif isinstance(value, date):
                out = value.isoformat()
            else:
                out = value
            memo[value] = out
            return out

    return remembered


def build(app, scale: float = 1.0, seed: int = 1, log=print) -> dict[str, float]:
    """Fill the (empty) database of ``app``; return the seconds of each phase."""
    from flask_migrate import upgrade

    from registry.dashboard.rebuild import SUMMARY_TABLES, rebuild_all
    from registry.extensions import db
    from registry.regions.services import load_divisions

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    with app.app_context():
        upgrade()
        times["schema"] = time.perf_counter() - t0
        load_divisions()
        db.session.commit()
        fill(db.session.connection(), scale, seed, log=lambda text: log(f"{text} ({time.perf_counter() - t0:.1f}s)"))
        db.session.commit()
        times["rows"] = time.perf_counter() - t0 - times["schema"]
        t1 = time.perf_counter()
        # statistics first: PostgreSQL plans the rebuild's joins over freshly copied
        # tables as if they were empty otherwise (nested loops over a million rows);
        # there VACUUM too, as autovacuum would have by the time anyone reads them (and
        # may be off): without the visibility map no count is read from an index alone
        analyze(db)
        times["analyze"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        rebuild_all()
        db.session.commit()
        times["summaries"] = time.perf_counter() - t1
        analyze(db, SUMMARY_TABLES)  # and of the summaries (the rest are analyzed above, and unchanged since)
        log(f"  summaries rebuilt in {times['summaries']:.1f}s, analyzed in {times['analyze']:.1f}s")
    times["total"] = time.perf_counter() - t0
    return times


def analyze(db, tables=None) -> None:
    """ANALYZE the database (or the ``tables`` given); on PostgreSQL VACUUM (ANALYZE),
    outside the transaction."""
    from registry.core.bulk_load import vacuum_analyze

    if db.engine.dialect.name == "postgresql":
        db.session.commit()
        vacuum_analyze(tables)
        return
    conn = db.session.connection()
    for name in [None] if tables is None else [table.name for table in tables]:
        conn.exec_driver_sql("ANALYZE" if name is None else f"ANALYZE {conn.dialect.identifier_preparer.quote(name)}")
    db.session.commit()


def fill(conn, scale: float = 1.0, seed: int = 1, log=print) -> None:
    """The dataset's rows (the divisions down to townships already loaded), through the
    driver, in the connection's transaction; the summaries are left to the caller."""
    from sqlalchemy import insert, literal, select

    from registry.assessment.models import Assessment
    from registry.closing.models import EvidenceMoved
    from registry.core import crypto
    from registry.core.bulk_load import indexes_after
    from registry.core.identity import credit_code_check_char, id_check_char, mask_id_number
    from registry.duty.models import DutyMonth
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.people.models import Person, Posting
    from registry.records.models import SupportRecord
    from registry.regions.models import Region
    from registry.training.models import Attendance, Training

    size = Sizes.at(scale)
    rng = random.Random(seed)
    townships = conn.scalars(select(Region.code).where(Region.level == "township").order_by(Region.code)).all()
    villages = []
    per = VILLAGES // len(townships) + 1
    if size.villages < VILLAGES:  # fewer townships, as full, the bench county's among them
        step = max(1, round(len(townships) * per / size.villages))
        townships = list(dict.fromkeys([t for t in townships if t.startswith(BENCH_COUNTY[:6])] + townships[::step]))
    for t in townships:
        for i in range(1, per + 1):
            if len(villages) >= size.villages:
                break
            poor = rng.random() < 0.3
            villages.append(dict(code=f"{t[:9]}{i:03d}", name=f"基准{i}村", level="village", parent_code=t,
                                 is_poor=poor, is_key=poor and rng.random() < 0.5,
                                 is_relocation=rng.random() < 0.03, is_demo=True))
    bulk(conn, Region.__table__, villages)
    codes = [v["code"] for v in villages]
    kinds = ["backing_unit"] * 50 + ["paired_unit"] * 10 + ["mass_org"] * 5 + ["party_federation"] * 3 + \
            ["army_unit"] * 2 + ["enterprise"] * 25 + ["charity"] * 3 + ["other"] * 2
    counties = conn.scalars(select(Region.code).where(Region.level == "county")).all()
    orgs = []
    for i in range(1, size.orgs + 1):
        body = f"91430000MA{i:07d}"
        orgs.append(dict(id=i, name=f"基准单位{i}", kind=rng.choice(kinds), level="county",
                         region_code=rng.choice(counties), credit_code=body + credit_code_check_char(body),
                         is_demo=True, version=1))
    bulk(conn, Organization.__table__, orgs)
    enterprises = [o["id"] for o in orgs if o["kind"] == "enterprise"]
    units = [o["id"] for o in orgs if o["kind"] != "enterprise"]

    people = []
    for i in range(1, size.people + 1):
        body = f"430101{1960 + i % 35}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        number = body + id_check_char(body)
        people.append(dict(id=i, name=f"干部{i}", gender="male", organization_id=rng.choice(units),
                           id_number_encrypted=crypto.encrypt(number), id_number_index=f"{i:064d}",
                           id_number_masked=mask_id_number(number), is_demo=True, version=1))
    bulk(conn, Person.__table__, people)
    today = date.today()
    postings = []
    person_ids = iter(range(1, size.people + 1))
    # active: a first secretary in 60% of villages, plus 0–3 team members
    for code in codes:
        if rng.random() < 0.6:
            org = rng.choice(units)
            for role in ["first_secretary"] + ["team_member"] * rng.randint(0, 3):
                pid = next(person_ids, None)
                if pid is None:
                    break
                start = today - timedelta(days=rng.randint(0, 700))
                postings.append(dict(id=len(postings) + 1, person_id=pid, organization_id=org, role=role,
                                     region_code=code, dispatch_level="county", start_date=start,
                                     planned_end=start + timedelta(days=730), end_date=None, end_reason=None,
                                     is_demo=True, version=1))
    for pid in person_ids:  # the rest: ended postings of earlier rounds
        start = today - timedelta(days=rng.randint(800, 1800))
        postings.append(dict(id=len(postings) + 1, person_id=pid, organization_id=rng.choice(units),
                             role="team_member", region_code=rng.choice(codes), dispatch_level="county",
                             start_date=start, planned_end=start + timedelta(days=730),
                             end_date=start + timedelta(days=730), end_reason="term_completed", is_demo=True,
                             version=1))
    bulk(conn, Posting.__table__, postings)
    pairings = []
    for code in codes:
        if rng.random() < 0.7:
            pairings.append(dict(organization_id=rng.choice(units), region_code=code, kind="resident",
                                 start_date=today - timedelta(days=rng.randint(30, 1500)), end_date=None,
                                 is_demo=True, version=1))
        if rng.random() < 0.35:
            pairings.append(dict(organization_id=rng.choice(enterprises), region_code=code,
                                 kind="enterprise_village",
                                 start_date=today - timedelta(days=rng.randint(30, 1500)),
                                 end_date=None if rng.random() < 0.8 else today - timedelta(days=rng.randint(1, 300)),
                                 is_demo=True, version=1))
    bulk(conn, Pairing.__table__, pairings)
    log("  regions, organizations, people, postings, pairings")

    active = [p for p in postings if p["end_date"] is None]
    trainings = []
    for i in range(1, TRAININGS + 1):
        start = today - timedelta(days=rng.randint(0, 700))
        trainings.append(dict(id=i, title=f"基准培训{i}", organizer="省乡村振兴局", level="provincial",
                              kind=rng.choice(["pre_posting", "rotation", "topic"]), mode="onsite",
                              region_code="430000000000", start_date=start, end_date=start + timedelta(days=2),
                              hours=Decimal(16), is_demo=True, version=1))
    bulk(conn, Training.__table__, trainings)
    seen, rows = set(), []
    for p in active:
        for _ in range(rng.randint(0, 3)):
            t = rng.randint(1, TRAININGS)
            if (t, p["person_id"]) in seen:
                continue
            seen.add((t, p["person_id"]))
            rows.append(dict(training_id=t, person_id=p["person_id"], hours=Decimal(16), passed=rng.random() < 0.95,
                             is_demo=True, version=1))
    bulk(conn, Attendance.__table__, rows)
    rows = []
    columns = set(DutyMonth.__table__.c.keys())
    for p in active:
        for k in range(1, 13):
            first = (date(today.year, today.month, 1) - timedelta(days=31 * k)).replace(day=1)
            days = calendar.monthrange(first.year, first.month)[1]
            row = dict(posting_id=p["id"], month=first, days_in_village=rng.choice([22, 23, 24, 20, 21, 18, 25]),
                       month_days=days, available_days=days, leave_days=0, absences=0, summary="基准纪实",
                       status="filed", is_demo=True, version=1, region_code=p["region_code"],
                       organization_id=p["organization_id"])
            rows.append({k: v for k, v in row.items() if k in columns})
    with indexes_after(conn, [DutyMonth.__tablename__], foreign_keys=True):
        bulk(conn, DutyMonth.__table__, rows)
    # last year's grade of every posting active then, given in January by its county (a
    # generator of its own: the rows drawn after these stay as they always were)
    graded, grades = random.Random(seed + 1), []
    given = datetime(today.year, 1, 10, 2, 0)
    for p in postings:
        if p["start_date"].year < today.year and (p["end_date"] is None or p["end_date"].year >= today.year - 1):
            grades.append(dict(year=today.year - 1, subject_kind="person", subject_key=f"person:{p['id']}",
                               posting_id=p["id"], person_id=p["person_id"], organization_id=p["organization_id"],
                               region_code=p["region_code"], assessor_region_code=p["region_code"][:6] + "000000",
                               grade=graded.choice(["优秀", "称职", "称职", "称职", "基本称职"]),
                               # one in a hundred graded with a day's absence since struck off the
                               # months: their evidence moved after grading (依据已变化)
                               absences=1 if p["id"] % 100 == 0 else 0, assessed_at=given, is_demo=True, version=1))
    bulk(conn, Assessment.__table__, grades)
    # their flags, as the commit that struck the day off would have written them
    # (closing.evidence.flag_moved_grades; `flask closing reflag` finds the same)
    moved = select(Assessment.id, literal("DutyMonth"), Assessment.year, Assessment.region_code,
                   literal(datetime(today.year, 3, 1))).where(Assessment.year == today.year - 1, Assessment.absences == 1)
    conn.execute(insert(EvidenceMoved).from_select(["assessment_id", "kind", "year", "region_code", "moved_at"], moved))
    log("  training, attendance, duty months, last year's grades")

    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -262144")
    with indexes_after(conn, [SupportRecord.__tablename__], foreign_keys=True):
        _records(conn, size, rng, codes, units, enterprises, today)
    log(f"  {size.records:,} support records and their indexes")
    if conn.dialect.name == "postgresql":  # ids given explicitly: move the sequences past them
        for table in ("organization", "person", "posting", "training"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))


def _records(conn, size: Sizes, rng, codes: list[str], units: list[int], enterprises: list[int], today) -> None:
    """The support records, in batches of 100,000."""
    from registry.core.timeutil import utcnow
    from registry.records.models import SupportRecord

    statuses = ["confirmed"] * 85 + ["submitted"] * 4 + ["disputed"] * 3 + ["draft"] * 3 + ["withdrawn"] * 3 + \
               ["superseded"] * 2
    now = utcnow()
    batch = []
    sequence: dict[int, int] = {}  # each unit's 编号 (the column default's, without its look-ups)
    for _ in range(size.records):
        status = rng.choice(statuses)
        day = today - timedelta(days=rng.randint(0, 540))
        submitted = None if status == "draft" else now - timedelta(days=rng.randint(0, 90))
        org = rng.choice(units) if rng.random() < 0.8 else rng.choice(enterprises)
        sequence[org] = sequence.get(org, 0) + 1
        batch.append(dict(
            organization_id=org, reference=f"{today.year}-{sequence[org]:04d}",
            village_code=codes[rng.randrange(len(codes))], category=rng.choice(CATEGORIES), title="基准记录",
            description="", amount=Decimal(rng.randint(0, 500000)) / 100, amount_attracted=Decimal(0),
            amount_in_kind=Decimal(rng.randint(0, 1000)), households=rng.randint(0, 50),
            persons=rng.randint(0, 200), jobs=rng.randint(0, 5), record_date=day, status=status,
            submitted_at=submitted, is_demo=True, created_at=now, updated_at=now, version=1,
        ))
        if len(batch) == 100_000:
            bulk(conn, SupportRecord.__table__, batch)
            batch = []
    bulk(conn, SupportRecord.__table__, batch)
