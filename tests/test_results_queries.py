"""Village-result queries (registry/results/services.py) and the audit history they show
(registry/audit/services.py ``events_of``): each returns only what the user may see."""
from __future__ import annotations

import pytest

from registry.audit.services import events_of, record
from registry.extensions import db
from registry.results import services
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_village
from tests.factories_assessment import make_result


@pytest.fixture()
def world(app):
    """A village in each county; ours has 2024 verified and 2025 filed, theirs 2025 filed."""
    here, there = make_village(COUNTY), make_village(OTHER_COUNTY)
    old = make_result(here.code, 2024, status="verified")
    ours = make_result(here.code, 2025)
    theirs = make_result(there.code, 2025)
    return dict(here=here, there=there, old=old, ours=ours, theirs=theirs)


def _ids(stmt) -> list[int]:
    return [row.id for row in db.session.scalars(stmt)]


def test_result_lists_and_counts_stay_in_the_county(world, make_user):
    county, province = make_user("region", region_code=COUNTY), make_user("region", region_code=PROVINCE)
    assert _ids(services.results_for(county)) == [world["ours"].id, world["old"].id]
    assert _ids(services.results_for(county, status="filed")) == [world["ours"].id]
    assert _ids(services.results_for(county, year=2024)) == [world["old"].id]
    assert set(_ids(services.results_for(province, status="filed"))) == {world["ours"].id, world["theirs"].id}
    assert services.result_status_counts(county) == {"filed": 1, "verified": 1}
    assert services.result_status_counts(province) == {"filed": 2, "verified": 1}
    assert _ids(services.results_to_verify(county)) == [world["ours"].id]


def test_results_by_year_stay_in_scope(world, make_user):
    village = make_user("village", village_code=world["here"].code)
    county = make_user("region", region_code=COUNTY)
    assert _ids(services.results_by_year(village)) == [world["ours"].id, world["old"].id]
    assert _ids(services.results_by_year(county, world["here"].code)) == [world["ours"].id, world["old"].id]
    assert _ids(services.results_by_year(county, world["there"].code)) == []


def test_a_result_history_holds_only_events_the_user_may_read(world, make_user):
    for result in (world["ours"], world["theirs"]):
        record("create", result, summary="填报帮扶实效", region_code=result.village_code)
    db.session.commit()
    county = make_user("region", region_code=COUNTY)
    assert [e.entity_id for e in events_of(county, "VillageResult", world["ours"].id)] == [str(world["ours"].id)]
    assert events_of(county, "VillageResult", world["theirs"].id) == []
