"""Assessment and incentive queries (registry/assessment/services.py): each returns only
what the user may see; a county never gets another county's grades, summons or subjects."""
from __future__ import annotations

from datetime import date

import pytest

from registry.assessment import services
from registry.assessment.services import GradeData, IncentiveData, assess_posting, issue_to_person
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org
from tests.factories_assessment import posted_secretary

YEAR = local_today().year - 1


@pytest.fixture()
def world(app, make_user):
    """In each county: a first secretary graded 称职 for YEAR and summoned by the county.
    Ours also has an ungraded team member and a county-based organization."""
    out = {}
    for name, county in (("here", COUNTY), ("there", OTHER_COUNTY)):
        _, org, person, posting = posted_secretary(county, start=date(YEAR, 1, 1))
        staff = make_user("region", region_code=county)
        grade = assess_posting(posting, GradeData(year=YEAR, grade="称职"), staff)
        summons = issue_to_person(person, IncentiveData(kind="summons", issued_on=local_today(), level="county",
                                                        reason="在村天数不足"), staff)
        out[name] = dict(org=org, person=person, posting=posting, staff=staff, grade=grade, summons=summons,
                         local_org=make_org(region_code=county, level="county"))
    _, _, _, out["ungraded"] = posted_secretary(COUNTY, 2, start=date(YEAR, 1, 1), role="team_member")
    return out


def _ids(stmt_or_rows) -> list[int]:
    rows = stmt_or_rows if isinstance(stmt_or_rows, list) else db.session.scalars(stmt_or_rows)
    return [row.id for row in rows]


def test_grades_and_grade_counts_stay_in_the_county(world, make_user):
    county, province = world["here"]["staff"], make_user("region", region_code=PROVINCE)
    here, there = world["here"], world["there"]
    assert _ids(services.assessments_for(county, year=YEAR)) == [here["grade"].id]
    assert _ids(services.assessments_for(county, year=YEAR, kind="organization")) == []
    assert _ids(services.assessments_for(county, year=YEAR, grade="优秀")) == []
    assert set(_ids(services.assessments_for(province, year=YEAR))) == {here["grade"].id, there["grade"].id}
    assert services.grade_counts(county, YEAR) == {"称职": 1}
    assert services.grade_counts(province, YEAR) == {"称职": 2}
    assert _ids(services.person_assessments(county, here["person"].id)) == [here["grade"].id]
    assert services.person_assessments(county, here["person"].id, except_year=YEAR) == []
    assert services.person_assessments(county, there["person"].id) == []


def test_the_todo_lists_stay_in_the_county(world, make_user):
    county, province = world["here"]["staff"], make_user("region", region_code=PROVINCE)
    ungraded = world["ungraded"]
    assert _ids(services.ungraded_postings(county, YEAR)) == [ungraded.id]
    assert _ids(services.ungraded_postings(province, YEAR)) == [ungraded.id]
    assert _ids(services.ungraded_postings(county, YEAR, role="first_secretary")) == []
    organizations = _ids(services.ungraded_organizations(county, YEAR))
    assert world["here"]["local_org"].id in organizations and world["here"]["org"].id in organizations
    assert world["there"]["local_org"].id not in organizations and world["there"]["org"].id not in organizations


def test_incentives_stay_in_scope(world, make_user):
    county, province = world["here"]["staff"], make_user("region", region_code=PROVINCE)
    here, there = world["here"], world["there"]
    assert _ids(services.incentives_for(county)) == [here["summons"].id]
    assert _ids(services.incentives_for(county, follow_up="pending")) == [here["summons"].id]
    assert _ids(services.incentives_for(county, kind="commendation")) == []
    assert _ids(services.incentives_for(county, follow_up="closed")) == []
    assert _ids(services.pending_summons(county)) == [here["summons"].id]
    assert set(_ids(services.pending_summons(province))) == {here["summons"].id, there["summons"].id}
    assert _ids(services.person_incentives(county, here["person"].id)) == [here["summons"].id]
    assert services.person_incentives(county, there["person"].id) == []


def test_subjects_named_are_in_scope(world):
    county = world["here"]["staff"]
    people, organizations = services.subjects_named(county, "测试")
    assert {p.id for p in people} == {world["here"]["person"].id, world["ungraded"].person_id}
    assert world["here"]["local_org"].id in {o.id for o in organizations}
    assert world["there"]["local_org"].id not in {o.id for o in organizations}
    assert services.subjects_named(county, "") == ([], [])
