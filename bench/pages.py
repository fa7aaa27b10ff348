"""The pages of every role at province scale: the accounts that open them, the URLs, and
their timing through the real Flask app (a test client per persona, in this process).

Used by ``bench/province_bench.py`` (``make bench``) on the dataset of ``bench/dataset.py``.
"""
from __future__ import annotations

import statistics
import time
from datetime import date

PROVINCE = "430000000000"
CITY = "433100000000"
COUNTY = "433101000000"
PASSWORD = "BenchPassw0rd1"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def prepare_users(app) -> dict:
    """The bench's accounts, one per persona (created once); return what the pages need:
    the township, village, organization, person and record they are about."""
    from sqlalchemy import func, select

    from registry.accounts.models import User
    from registry.accounts.services import create_user
    from registry.extensions import db
    from registry.people.models import Posting
    from registry.records.models import SupportRecord
    from registry.regions.models import Region

    with app.app_context():
        township = db.session.scalar(select(Region.code).where(Region.level == "township", Region.parent_code == COUNTY,
                                                               Region.code.in_(select(Region.parent_code)))
                                     .order_by(Region.code).limit(1))
        village = db.session.scalar(select(Region.code).where(Region.parent_code == township).order_by(Region.code)
                                    .limit(1))
        posting = db.session.execute(select(Posting.id, Posting.person_id, Posting.organization_id)
                                     .where(Posting.is_active, Posting.role == "first_secretary",
                                            Posting.region_code.between(COUNTY[:6] + "000000", COUNTY[:6] + "999999"))
                                     .order_by(Posting.id).limit(1)).first()
        record = db.session.scalar(select(func.min(SupportRecord.id)).where(SupportRecord.village_code == village))
        names = set(db.session.scalars(select(User.username).where(User.username.like("bench_%"))))
        accounts = {
            "admin": dict(role="admin"),
            "province": dict(role="region", region_code=PROVINCE),
            "city": dict(role="region", region_code=CITY),
            "county": dict(role="region", region_code=COUNTY),
            "township": dict(role="region", region_code=township),
            "unit": dict(role="unit", organization_id=posting.organization_id),
            "village": dict(role="village", village_code=village),
            "viewer": dict(role="viewer", region_code=PROVINCE),
        }
        for persona, scope in accounts.items():
            if f"bench_{persona}" not in names:
                role = scope.pop("role")
                create_user(f"bench_{persona}", role, password=PASSWORD, **scope)
        db.session.commit()
        if "bench_cadre" not in names:
            from registry.cadres.services import activate, issue_activation
            from registry.people.models import Person

            admin = db.session.scalar(select(User).where(User.username == "bench_admin"))
            issued = issue_activation(db.session.get(Person, posting.person_id), "bench_cadre", actor=admin)
            activate("bench_cadre", issued.code, PASSWORD, PASSWORD, "192.0.2.1")
            db.session.commit()
    return dict(township=township, village=village, record=record, posting=posting.id, person=posting.person_id,
                organization=posting.organization_id)


def pages(found: dict) -> list[tuple[str, str, str]]:
    """(label, persona, url) of every page the bench times."""
    api = f"/api/v1/coverage/{PROVINCE}"
    out = [(f"home ({p})", p, "/") for p in ("admin", "province", "city", "county", "township", "unit", "village",
                                              "viewer", "cadre")]
    out += [
        ("coverage API province", "province", api),
        ("coverage API ?year=last", "province", f"{api}?year={{last_year}}"),
        ("coverage API ?flag=key", "province", f"{api}?flag=key"),
        ("coverage API ?org_kind=enterprise", "province", f"{api}?org_kind=enterprise"),
        ("coverage API ?category=funds", "province", f"{api}?category=funds"),
        ("coverage API county", "county", f"/api/v1/coverage/{COUNTY}"),
        ("coverage page province", "province", f"/coverage/{PROVINCE}"),
        ("region page province", "province", f"/regions/{PROVINCE}"),
        ("gaps province", "province", f"/gaps/{PROVINCE}"),
        ("gaps county", "county", f"/gaps/{COUNTY}"),
        ("people list", "province", "/people/"),
        ("postings list", "province", "/postings/"),
        ("organizations list", "province", "/organizations/"),
        ("pairings list", "province", "/pairings/"),
        ("records list", "province", "/records/"),
        ("overdue records", "province", "/records/overdue"),
        ("training list", "province", "/training/"),
        ("training gaps list", "province", "/training/gaps"),
        ("duty list", "province", "/duty/"),
        ("duty postings list", "province", "/duty/postings"),
        ("results list", "province", "/results/"),
        ("assessment list", "province", "/assessment/"),
        ("ungraded list", "province", "/assessment/todo"),
        ("year close page", "province", f"/closing/close?year={date.today().year - 1}"),
        ("incentives list", "province", "/incentives/"),
        ("village page", "county", f"/regions/{found['village']}"),
        ("record page", "county", f"/records/{found['record']}"),
    ]
    return out


def login(app, username: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, (username, response.status_code)
    return client


def time_pages(app, found: dict, runs: int, log=print) -> dict[str, tuple[float, float]]:
    """Median and p95 (ms) of every page, ``runs`` times each after two warm-ups."""
    from registry.core.timeutil import local_today

    last_year = local_today().year - 1
    clients: dict[str, object] = {}
    out = {}
    for label, persona, url in pages(found):
        client = clients.get(persona) or clients.setdefault(persona, login(app, f"bench_{persona}"))
        url = url.format(last_year=last_year)
        times = []
        for i in range(runs + 2):
            t = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t) * 1000
            assert response.status_code == 200, (label, url, response.status_code)
            if i >= 2:
                times.append(elapsed)
        out[label] = (statistics.median(times), p95(times))
        log(f"  {label:36s} median {out[label][0]:7.1f} ms  p95 {out[label][1]:7.1f} ms")
    return out


WARM_UPS = 6  # requests of each page on each engine before the timed ones (side by side)


def time_pages_side_by_side(engines: dict[str, tuple[object, dict]], runs: int,
                            log=print) -> dict[str, dict[str, tuple[float, float]]]:
    """Median and p95 (ms) of every page on each engine (``{label: (app, found)}``), the
    engines' requests alternating: for each page, one request on each in turn, ``runs``
    rounds after six warm-ups. Both engines then meet the same moment of a shared machine,
    which timing one engine's pages minutes after the other's does not give (a machine
    that slows down between the two made a page look three times slower on one). Six
    warm-ups, as a worker that has served a while: psycopg prepares a statement at its
    sixth run, and PostgreSQL plans a prepared statement once instead of every time."""
    from registry.core.timeutil import local_today

    last_year = local_today().year - 1
    clients: dict[tuple[str, str], object] = {}
    out: dict[str, dict[str, tuple[float, float]]] = {label: {} for label in engines}
    listed = {label: pages(found) for label, (_, found) in engines.items()}
    for n, (name, persona, _) in enumerate(next(iter(listed.values()))):
        times: dict[str, list[float]] = {label: [] for label in engines}
        for i in range(runs + WARM_UPS):
            for label, (app, _) in engines.items():
                client = clients.get((label, persona)) or clients.setdefault(
                    (label, persona), login(app, f"bench_{persona}"))
                url = listed[label][n][2].format(last_year=last_year)
                t = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - t) * 1000
                assert response.status_code == 200, (label, name, url, response.status_code)
                if i >= WARM_UPS:
                    times[label].append(elapsed)
        for label in engines:
            out[label][name] = (statistics.median(times[label]), p95(times[label]))
        log(f"  {name:36s} " + "  ".join(f"{label} {out[label][name][0]:7.1f} / {out[label][name][1]:7.1f} ms"
                                         for label in engines))
    return out


def replay_coverage(app, runs: int, cache: bool = True) -> tuple[float, float, float]:
    """The province coverage API beside its own SQL replayed on the same connection's
    driver (the statements it issued, captured once): medians (ms) and their ratio.
    ``cache=False``: with the API's cache of answers off (``COVERAGE_CACHE_SIZE`` 0), so
    every request computes the figures; with it on, a request reads the change marker and
    serves the stored answer, and its own SQL is that read."""
    size = app.config.get("COVERAGE_CACHE_SIZE")
    app.config["COVERAGE_CACHE_SIZE"] = 256 if cache else 0
    app.extensions.pop("coverage_cache", None)
    try:
        return _replay_coverage(app, runs)
    finally:
        if size is None:
            app.config.pop("COVERAGE_CACHE_SIZE", None)
        else:
            app.config["COVERAGE_CACHE_SIZE"] = size
        app.extensions.pop("coverage_cache", None)


def _replay_coverage(app, runs: int) -> tuple[float, float, float]:
    from sqlalchemy import event

    from registry.extensions import db

    client = login(app, "bench_province")
    url = f"/api/v1/coverage/{PROVINCE}"
    with app.app_context():
        engine = db.engine
    captured: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        captured.append((statement, parameters))

    client.get(url)
    event.listen(engine, "before_cursor_execute", capture)
    assert client.get(url).status_code == 200
    event.remove(engine, "before_cursor_execute", capture)
    statements = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")
                  and "user_account" not in s and "login_session" not in s and "api_token" not in s]
    raw = engine.raw_connection()
    api, sql = [], []
    try:
        for i in range(runs + 3):  # interleaved, so both see the same machine
            t = time.perf_counter()
            assert client.get(url).status_code == 200
            api_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            cur = raw.cursor()
            for statement, params in statements:
                cur.execute(statement, params)
                cur.fetchall()
            raw.rollback()
            sql_ms = (time.perf_counter() - t) * 1000
            if i >= 3:
                api.append(api_ms)
                sql.append(sql_ms)
    finally:
        raw.close()
    return statistics.median(api), statistics.median(sql), statistics.median(api) / statistics.median(sql)
