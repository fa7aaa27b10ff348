"""Training queries (registry/training/services.py): each returns only what the user may
see; a county never gets another county's courses, attendances or gaps."""
from __future__ import annotations

from datetime import timedelta

import pytest

from registry.core.timeutil import local_today
from registry.extensions import db
from registry.training import services
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE
from tests.factories_assessment import attend, make_training, posted_secretary


@pytest.fixture()
def world(app):
    """A posting in each county (started 200 days ago, no pre-posting course), a course
    run by each county and a provincial one, attended by both people."""
    today = local_today()
    start = today - timedelta(days=200)
    _, _, here, here_posting = posted_secretary(COUNTY, 1, start=start)
    _, _, there, there_posting = posted_secretary(OTHER_COUNTY, 1, start=start)
    before = today - timedelta(days=400)
    county = make_training(COUNTY, kind="rotation", level="county", start=before, title="吉首市轮训班")
    other = make_training(OTHER_COUNTY, kind="rotation", level="county", start=before, title="宁乡市轮训班")
    provincial = make_training(PROVINCE, kind="rotation", start=before, title="全省轮训班")
    attend(county, here)
    attend(other, there)
    here_at_province, _ = attend(provincial, here), attend(provincial, there)
    return dict(today=today, here=here, there=there, here_posting=here_posting, there_posting=there_posting,
                county=county, other=other, provincial=provincial, here_at_province=here_at_province)


def _ids(rows) -> set[int]:
    return {row.id for row in rows}


def test_a_county_lists_its_own_and_the_provincial_courses_only(world, make_user):
    user = make_user("region", region_code=COUNTY)
    courses = db.session.scalars(services.courses_for(user)).all()
    assert _ids(courses) == {world["county"].id, world["provincial"].id}
    filtered = db.session.scalars(services.courses_for(user, services.CourseFilters(q="全省"))).all()
    assert _ids(filtered) == {world["provincial"].id}
    assert db.session.scalars(services.courses_for(user, services.CourseFilters(kind="pre_posting"))).all() == []


def test_attendance_counts_and_lists_hold_only_people_in_scope(world, make_user):
    user = make_user("region", region_code=COUNTY)
    provincial, other = world["provincial"], world["other"]
    assert services.attendance_counts(user, [provincial.id, other.id]) == {provincial.id: 1}
    assert services.attendance_counts(user, []) == {}
    assert _ids(services.course_attendances(user, provincial.id)) == {world["here_at_province"].id}
    assert len(services.person_attendances(user, world["here"].id)) == 2
    assert services.person_attendances(user, world["there"].id) == []


def test_candidates_are_people_in_scope_not_yet_registered(world, make_user):
    user = make_user("region", region_code=COUNTY)
    fresh = make_training(COUNTY, level="county", start=world["today"])
    candidates = services.attendance_candidates(user, fresh, "测试干部")
    assert [(p.id, label) for p, label in candidates] == [(world["here"].id, "测试1村第一书记")]
    assert services.attendance_candidates(user, world["county"], "测试干部") == []
    assert services.attendance_candidates(user, fresh, "") == []


def test_training_gaps_and_counts_stay_in_the_jurisdiction(world, make_user):
    today = world["today"]
    county = make_user("region", region_code=COUNTY)
    province = make_user("region", region_code=PROVINCE)
    for which in ("pre_posting", "yearly"):
        assert _ids(db.session.scalars(services.training_gaps(county, which, today))) == {world["here_posting"].id}
        assert _ids(db.session.scalars(services.training_gaps(province, which, today))) == {
            world["here_posting"].id, world["there_posting"].id
        }
    assert services.training_gap_counts(county, today) == {"pre_posting": 1, "yearly": 1}
    assert services.training_gap_counts(province, today) == {"pre_posting": 2, "yearly": 2}


def test_candidates_show_a_posting_outside_the_jurisdiction_only_as_elsewhere(world, make_user):
    from tests.factories import make_org, make_person, make_posting, make_village

    unit = make_org(region_code=COUNTY, level="county")
    person = make_person(unit, name="候选干部")
    make_posting(person, unit, make_village(OTHER_COUNTY, n=7).code, role="team_member")
    here = services.attendance_candidates(make_user("region", region_code=COUNTY), world["county"], "候选")
    assert [(p.id, label) for p, label in here] == [(person.id, "在其他地区在岗")]
    province = services.attendance_candidates(make_user("region", region_code=PROVINCE), world["provincial"], "候选")
    assert "测试7村" in province[0][1]
