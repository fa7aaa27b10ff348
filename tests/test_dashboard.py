"""Coverage figures equal the figures computed independently from the raw rows, at
province, city, county and township level, on demo data (ended postings, withdrawn and
disputed records, superseded corrections included), with and without filters."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.core.enums import CHILD_LEVEL, PREFIX_LENGTH
from registry.core.timeutil import local_today
from registry.dashboard.coverage import VILLAGE_ROLES, Filters, compute, overdue_cutoff
from registry.organizations.models import Organization
from registry.pairings.models import Pairing
from registry.people.models import Person, Posting
from registry.regions.models import Region


# The raw rows (and the month counts and trained people derived from them) are read once
# per demo build: the checks only read, and reading every row again for each of the
# twenty regions and filters took most of this module's time.
_derived: dict[tuple, object] = {}


def _once(key: tuple, compute):
    if key not in _derived:
        _derived[key] = compute()
    return _derived[key]


@pytest.fixture()
def demo(app, db):
    from registry import demo
    from tests.conftest import built_once

    _derived.clear()
    built_once("dashboard.demo", lambda: demo.generate(seed=7, scale=0.08, echo=lambda *_: None))
    yield db
    _derived.clear()


def _rows(db, stmt) -> list:
    """The rows of ``stmt`` as plain tuples (each column an attribute), not ORM objects:
    loading every posting, record and duty month with its joined relations took most
    of this module's time, and the checks read only the columns."""
    return db.session.execute(stmt).all()


def _expected(db, region: Region, filters: Filters, today: date, app) -> dict[str, dict]:
    """Figures per child prefix and '' for the whole, from the raw rows, in Python."""
    cfg = app.config
    from registry.records.models import SupportRecord

    child_level = CHILD_LEVEL.get(region.level)
    n = PREFIX_LENGTH[child_level] if child_level else 12
    prefix = region.prefix
    kinds = _once(("kinds",), lambda: dict(db.session.execute(select(Organization.id, Organization.kind)).all()))
    villages = _once(("villages",), lambda: {
        v.code: v for v in _rows(db, select(Region.__table__).where(Region.level == "village"))})

    def flag_ok(code):
        v = villages.get(code)
        if filters.flag is None:
            return True
        return v is not None and bool(getattr(v, "is_" + filters.flag))

    def kind_ok(org_id):
        return filters.org_kind is None or kinds[org_id] == filters.org_kind

    # the veteran filter: a posting's person is a veteran; a pairing's or record's holder is
    # an individual helper (个人) whose person is one
    veterans = _once(("veterans",), lambda: {
        (p.id, p.organization_id)
        for p in _rows(db, select(Person.id, Person.organization_id).where(Person.is_veteran.is_(True)))})
    veteran_people = {person for person, _ in veterans}
    veteran_helpers = {org for _, org in veterans if kinds[org] == "individual"}

    def held_ok(org_id):  # pairings and records
        return kind_ok(org_id) and (not filters.veteran or org_id in veteran_helpers)

    def sent_ok(p):  # postings
        return kind_ok(p.organization_id) and (not filters.veteran or p.person_id in veteran_people)

    def inside(code):
        return code.startswith(prefix)

    out: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: 0))

    def add(code, key, value=1):
        out[""][key] += value
        out[code[:n]][key] += value

    postings = _once(("postings",), lambda: _rows(db, select(Posting.__table__)))
    pairings = _once(("pairings",), lambda: _rows(db, select(Pairing.__table__)))
    records = _once(("records",), lambda: _rows(db, select(SupportRecord.__table__)))

    def active_pairing(p):
        return p.start_date <= today and (p.end_date is None or p.end_date >= today)

    fs = {p.region_code for p in postings if p.role == "first_secretary" and p.end_date is None and sent_ok(p)}
    backing = {p.region_code for p in postings if p.role in VILLAGE_ROLES and p.end_date is None and sent_ok(p)}
    backing |= {p.region_code for p in pairings if p.kind == "resident" and active_pairing(p) and held_ok(p.organization_id)}
    enterprise = {p.region_code for p in pairings if p.kind == "enterprise_village" and active_pairing(p) and held_ok(p.organization_id)}
    supported = {
        r.village_code for r in records
        if r.status == "confirmed" and r.record_date >= today - timedelta(days=365)
        and (filters.category is None or r.category == filters.category) and held_ok(r.organization_id)
    }
    team = defaultdict(int)
    for p in postings:
        if p.role in VILLAGE_ROLES and p.end_date is None and sent_ok(p):
            team[p.region_code] += 1
    for code, v in villages.items():
        if not inside(code) or not flag_ok(code):
            continue
        add(code, "villages")
        add(code, "key_villages", int(v.is_key))
        for name, group in (("first_secretary", fs), ("backing_unit", backing), ("enterprise", enterprise),
                            ("support_12m", supported)):
            if code in group:
                add(code, name)
                add(code, name + "_key", int(v.is_key))
        if 0 < team.get(code, 0) < cfg["REGISTRY_MIN_TEAM_SIZE"]:
            add(code, "teams_under_min")

    cutoff = overdue_cutoff()
    for r in records:
        if not inside(r.village_code) or not flag_ok(r.village_code) or not held_ok(r.organization_id):
            continue
        if filters.category and r.category != filters.category:
            continue
        if r.status == "submitted" and r.submitted_at < cutoff:
            add(r.village_code, "overdue")
        if r.record_date.year != filters.year:
            continue
        if r.status == "confirmed":
            add(r.village_code, "confirmed_count")
            add(r.village_code, "confirmed_total", r.amount + r.amount_attracted + r.amount_in_kind)
        elif r.status == "submitted":
            add(r.village_code, "pending")
        elif r.status == "disputed":
            add(r.village_code, "disputed")

    soon = today + timedelta(days=cfg["REGISTRY_ENDING_SOON_DAYS"])
    trained_people = _once(("trained", filters.year, cfg["REGISTRY_YEARLY_TRAININGS"]),
                           lambda: _trained_people(db, filters.year, cfg["REGISTRY_YEARLY_TRAININGS"]))
    under = _once(("under", filters.year, cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"]),
                  lambda: _months_under(db, filters.year, cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"]))
    for p in postings:
        if not inside(p.region_code) or not sent_ok(p) or not flag_ok(p.region_code):
            continue
        if filters.flag and p.region_code not in villages:
            continue
        for _ in range(under.get(p.id, 0)):
            add(p.region_code, "months_under_min")
        if p.end_date is not None:
            continue
        if today <= p.planned_end <= soon:
            add(p.region_code, "ending_soon")
        add(p.region_code, "posted_people")
        if p.person_id in trained_people:
            add(p.region_code, "trained_people")
    return out


def _trained_people(db, year, required) -> set[int]:
    try:
        from registry.training.models import Attendance, Training
    except ImportError:
        return set()
    counts = defaultdict(int)
    for a in _rows(db, select(Attendance.person_id, Attendance.passed, Training.start_date)
                   .join(Training, Training.id == Attendance.training_id)):
        if a.passed and a.start_date.year == year:
            counts[a.person_id] += 1
    return {p for p, c in counts.items() if c >= required}


def _months_under(db, year, minimum) -> dict[int, int]:
    try:
        from registry.duty.models import DutyMonth
    except ImportError:
        return {}
    out = defaultdict(int)
    for m in _rows(db, select(DutyMonth.posting_id, DutyMonth.month, DutyMonth.days_in_village, DutyMonth.month_days,
                              DutyMonth.available_days)):
        # the duty rule: under the minimum, pro rata to the days the posting covers
        if m.month.year == year and m.days_in_village * m.month_days < minimum * m.available_days:
            out[m.posting_id] += 1
    return out


FIELDS = ("villages", "key_villages", "first_secretary", "first_secretary_key", "backing_unit", "backing_unit_key",
          "enterprise", "enterprise_key", "support_12m", "support_12m_key", "confirmed_count", "pending", "disputed",
          "overdue", "posted_people", "trained_people", "ending_soon", "teams_under_min", "months_under_min")


def _check(db, app, region, filters):
    today = local_today()
    cov = compute(region, filters, today)
    expected = _expected(db, region, filters, today, app)
    n = PREFIX_LENGTH[CHILD_LEVEL[region.level]]
    for row, key in [(cov.total, ""), *[(c, c.code[:n]) for c in cov.children]]:
        want = expected.get(key, {})
        for name in FIELDS:
            assert getattr(row, name) == want.get(name, 0), (region.code, filters, row.code, name)
        assert row.confirmed_total == Decimal(want.get("confirmed_total", 0)), (region.code, row.code)
    return cov


def _sample_regions(db):
    from registry.demo.base import FOCUS_COUNTIES

    county = db.session.get(Region, FOCUS_COUNTIES[0] + "000000")
    township = db.session.scalars(
        select(Region).where(Region.parent_code == county.code).order_by(Region.code)).first()
    return [db.session.get(Region, "430000000000"), db.session.get(Region, county.parent_code), county, township]


def test_figures_match_raw_rows_at_every_level(demo, app):
    db = demo
    from registry.records.models import SupportRecord

    statuses = {s for (s,) in db.session.execute(select(SupportRecord.status).distinct())}
    assert {"confirmed", "submitted", "disputed", "withdrawn", "superseded"} <= statuses, statuses
    assert db.session.scalar(select(Posting.id).where(Posting.end_date.is_not(None)).limit(1)) is not None
    year = local_today().year
    for region in _sample_regions(db):
        cov = _check(db, app, region, Filters(year))
        assert cov.total.villages > 0
    province = db.session.get(Region, "430000000000")
    assert _check(db, app, province, Filters(year)).total.confirmed_count > 0


FILTERS = [
    dict(category="funds"), dict(org_kind="enterprise"), dict(flag="key"), dict(flag="poor", org_kind="backing_unit"),
    dict(year_offset=-1), dict(veteran=True), dict(veteran=True, flag="key"), dict(veteran=True, category="goods"),
]


def test_filters_match_raw_rows_and_survive_a_rebuild(demo, app):
    """One demo build for all filters (building it is the slow part)."""
    from registry.dashboard.rebuild import rebuild_all

    db = demo
    for filters in FILTERS:
        filters = dict(filters)
        year = local_today().year + filters.pop("year_offset", 0)
        for region in _sample_regions(db):
            _check(db, app, region, Filters(year, **filters))
    # the veteran view is not empty: veterans posted, and the demo's veteran individual
    # helpers' confirmed support in the demo county
    county = _sample_regions(db)[2]
    veterans = compute(county, Filters(local_today().year, veteran=True)).total
    assert veterans.posted_people > 0 and veterans.support_12m > 0, veterans
    confirmed_year = (local_today() - timedelta(days=60)).year  # a demo helper's record of 60 days ago
    assert compute(county, Filters(confirmed_year, veteran=True)).total.confirmed_count > 0
    region = db.session.get(Region, "430000000000")
    before = compute(region, Filters(local_today().year)).to_dict()
    rebuild_all()
    db.session.commit()
    after = compute(region, Filters(local_today().year)).to_dict()
    assert before == after
