"""Duty queries (registry/duty/services.py): each returns only what the user may see; a
county or a unit never gets another's months or postings."""
from __future__ import annotations

import pytest

from registry.duty import services
from registry.duty.services import add_months, previous_month
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE
from tests.factories_assessment import make_duty, posted_secretary

LAST = previous_month()
EARLIER = add_months(LAST, -1)


@pytest.fixture()
def world(app):
    """A village posting in each county; each has last month filed (short) and the month
    before returned."""
    out = {}
    for name, county in (("here", COUNTY), ("there", OTHER_COUNTY)):
        village, org, _, posting = posted_secretary(county)
        out[name] = dict(village=village, org=org, posting=posting,
                         filed=make_duty(posting, LAST, days=10),
                         returned=make_duty(posting, EARLIER, status="returned", return_reason="天数有误"))
    return out


def _ids(stmt_or_rows) -> list[int]:
    rows = db.session.scalars(stmt_or_rows) if not isinstance(stmt_or_rows, list) else stmt_or_rows
    return [row.id for row in rows]


def test_duty_months_and_counts_stay_in_the_county(world, make_user):
    county, province = make_user("region", region_code=COUNTY), make_user("region", region_code=PROVINCE)
    here = world["here"]
    assert _ids(services.duty_months_for(county)) == [here["filed"].id, here["returned"].id]
    assert _ids(services.duty_months_for(county, status="returned")) == [here["returned"].id]
    assert _ids(services.duty_months_for(county, short=True)) == [here["filed"].id]
    assert _ids(services.duty_months_for(county, month=EARLIER)) == [here["returned"].id]
    assert services.duty_status_counts(county) == {"filed": 1, "returned": 1}
    assert services.duty_status_counts(province) == {"filed": 2, "returned": 2}
    assert services.short_month_count(county) == 1
    assert services.short_month_count(province) == 2


def test_panel_queries_stay_in_scope(world, make_user):
    county = make_user("region", region_code=COUNTY)
    unit = make_user("unit", organization_id=world["here"]["org"].id)
    assert _ids(services.months_to_check(county)) == [world["here"]["filed"].id]
    assert _ids(services.returned_months(unit)) == [world["here"]["returned"].id]
    posting = world["here"]["posting"]
    assert _ids(services.postings_to_file(unit, LAST)) == []
    assert _ids(services.postings_to_file(unit, add_months(EARLIER, -1))) == [posting.id]


def test_months_to_check_are_counted_in_scope(world, make_user):
    county, province = make_user("region", region_code=COUNTY), make_user("region", region_code=PROVINCE)
    assert services.months_to_check_count(county, 10) == 1
    assert services.months_to_check_count(province, 10) == 2
    assert services.months_to_check_count(province, 1) == 2  # the limit + 1: "more than 1"
    assert services.months_to_check_count(province, 0) == 1


def test_village_postings_stay_in_scope(world, make_user):
    county = make_user("region", region_code=COUNTY)
    here, there = world["here"], world["there"]
    assert _ids(services.active_village_postings(county)) == [here["posting"].id]
    assert _ids(services.active_village_postings(county, unfiled=LAST)) == []
    assert _ids(services.active_village_postings(county, unfiled=add_months(EARLIER, -1))) == [here["posting"].id]
    assert _ids(services.village_postings_at(county, here["village"].code)) == [here["posting"].id]
    assert services.village_postings_at(county, there["village"].code) == []
