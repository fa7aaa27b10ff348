"""The gaps worklist's lines about active postings by day (``GapDay``): a province's,
city's and county's counts of them read from the rows equal the lines counted live on
every day (the rows hold days, not the distance from today), after the writes that move
them (trainings, care records, successors); and a change of setting sends the worklist
back to counting live until the areas are recomputed."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from registry.core.timeutil import local_today
from registry.dashboard import gap_days
from registry.dashboard.gaps import gap_counts
from registry.regions.models import Region
from tests.factories import (
    CITY,
    COUNTY,
    OTHER_COUNTY,
    PROVINCE,
    make_org,
    make_person,
    make_posting,
    make_village,
)
from tests.factories_assessment import attend, make_training

KINDS = list(gap_days.SETTINGS)
TODAY = local_today()


def _care(db, posting, kind, start, end=None, status="active", item=None):
    from registry.care.models import CareRecord

    db.session.add(CareRecord(person_id=posting.person_id, posting_id=posting.id,
                              organization_id=posting.organization_id, region_code=posting.region_code,
                              provider_region_code=COUNTY, kind=kind, start_date=start, end_date=end,
                              item=item or ("人身意外伤害保险" if kind == "insurance" else "年度体检"),
                              amount=Decimal(800), status=status))
    db.session.commit()


def _live(region, day, monkeypatch) -> dict[str, int]:
    with monkeypatch.context() as m:
        m.setattr(gap_days, "counts", lambda *_a, **_k: None)
        return gap_counts(region, KINDS, today=day)


def _by_day(region, day) -> dict[str, int]:
    found = gap_days.counts(region, day)
    assert found is not None, f"{region.code}: the rows are not read"
    assert gap_counts(region, KINDS, today=day) == found  # and the worklist takes them
    return found


@pytest.fixture()
def world(app, db):
    from tests.conftest import built_once

    return built_once("gap-days.world", lambda: _build(db))


def _build(db):
    """Three villages in two counties, seven people, six postings, courses and care records
    (built once per test process and copied back for each test: ``built_once``)."""
    org = make_org()
    a, b = make_village(n=1), make_village(n=2)
    c = make_village(OTHER_COUNTY, n=1)
    t0 = TODAY - timedelta(days=500)
    people = [make_person(org) for _ in range(7)]
    postings = [
        make_posting(people[0], org, a.code, start=t0, planned_end=TODAY + timedelta(days=40)),
        make_posting(people[1], org, a.code, role="team_member", start=TODAY - timedelta(days=60),
                     planned_end=TODAY + timedelta(days=10)),
        make_posting(people[2], org, b.code, role="team_leader", start=TODAY - timedelta(days=200),
                     planned_end=TODAY + timedelta(days=100)),
        make_posting(people[3], org, c.code, start=TODAY - timedelta(days=900), planned_end=TODAY - timedelta(days=5)),
        make_posting(people[4], org, COUNTY, role="seconded_cadre", start=TODAY - timedelta(days=300),
                     planned_end=TODAY + timedelta(days=30)),
    ]
    # a later posting to b in the same role that has ended (in the future, as recorded ahead)
    make_posting(people[5], org, b.code, role="team_leader", start=TODAY - timedelta(days=100),
                 planned_end=TODAY + timedelta(days=300), end_date=TODAY + timedelta(days=50))
    # pre-posting training: on time for the first, late for the third, none for the others
    course = make_training(start=t0 + timedelta(days=20))
    attend(course, people[0])
    attend(make_training(start=TODAY - timedelta(days=200) + timedelta(days=150)), people[2])
    attend(make_training(kind="regular", start=date(TODAY.year - 1, 5, 1)), people[1])
    attend(make_training(kind="regular", start=date(TODAY.year, 1, 1)), people[3], passed=False)
    # care: overlapping and adjacent policies, a cancelled one, a gap; checks in some years
    _care(db, postings[0], "insurance", TODAY - timedelta(days=400), TODAY - timedelta(days=200))
    _care(db, postings[0], "insurance", TODAY - timedelta(days=250), TODAY - timedelta(days=100))
    _care(db, postings[0], "insurance", TODAY - timedelta(days=99), TODAY + timedelta(days=20))
    _care(db, postings[1], "insurance", TODAY - timedelta(days=30), None)
    _care(db, postings[2], "insurance", TODAY - timedelta(days=30), TODAY + timedelta(days=300), status="cancelled")
    _care(db, postings[2], "insurance", TODAY - timedelta(days=30), TODAY + timedelta(days=300), item="其他保险")
    _care(db, postings[2], "health_check", date(TODAY.year - 1, 3, 1))
    _care(db, postings[3], "health_check", date(TODAY.year, 1, 1))
    _care(db, postings[4], "insurance", TODAY - timedelta(days=30), TODAY + timedelta(days=30))
    _care(db, postings[2], "insurance", TODAY + timedelta(days=100), TODAY + timedelta(days=90))  # covers no day
    return {"postings": postings, "people": people, "org": org, "villages": (a, b, c)}


def _days():
    out = {TODAY + timedelta(days=n) for n in range(-800, 800, 23)}
    for year in (TODAY.year - 1, TODAY.year, TODAY.year + 1):
        out |= {date(year, 1, 1), date(year, 12, 31)}
    # the days around the policies' and postings' ends and starts
    edges = (-400, -250, -200, -100, -99, -30, -5, 10, 20, 30, 40, 50, 90, 100)
    return sorted(out | {TODAY + timedelta(days=n + d) for n in edges for d in (-1, 0, 1)})


def _assert_every_day(db, monkeypatch):
    for code in (PROVINCE, CITY, COUNTY, OTHER_COUNTY):
        region = db.session.get(Region, code)
        for day in _days():
            assert _by_day(region, day) == _live(region, day, monkeypatch), (code, day)


def test_the_counts_by_day_equal_the_live_lines_on_every_day(app, db, world, monkeypatch):
    assert _by_day(db.session.get(Region, PROVINCE), TODAY) != dict.fromkeys(KINDS, 0)
    _assert_every_day(db, monkeypatch)


def test_they_follow_the_writes_that_move_them(app, db, world, monkeypatch):
    postings, people = world["postings"], world["people"]
    attend(make_training(start=postings[1].start_date + timedelta(days=5)), people[1])  # now on time
    attend(make_training(kind="regular", start=TODAY), people[4])
    _care(db, postings[1], "health_check", TODAY)
    make_posting(people[6], world["org"], postings[0].region_code, start=TODAY - timedelta(days=1))  # a successor
    postings[2].end_date = TODAY  # ended: no line any more
    db.session.commit()
    _assert_every_day(db, monkeypatch)


def test_a_changed_setting_counts_live_until_the_areas_are_recomputed(app, db, world, monkeypatch):
    from registry.dashboard.recompute import refresh_stale

    province = db.session.get(Region, PROVINCE)
    monkeypatch.setitem(app.config, "REGISTRY_PRE_POSTING_TRAINING_DAYS", 10)
    assert gap_days.counts(province, TODAY) is None  # no area has rows under the new window
    assert gap_counts(province, KINDS) == _live(province, TODAY, monkeypatch)
    refresh_stale()
    db.session.commit()
    _assert_every_day(db, monkeypatch)
