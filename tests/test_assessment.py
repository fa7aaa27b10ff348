"""Assessment (考核): the evidence beside the grade, the absence cap, one grade per subject
and year, audited re-grades, and who may assess or read."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.assessment.models import Assessment
from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_pairing, make_person, make_posting, make_village
from tests.factories_assessment import attend, make_duty, make_result, make_support, make_training, posted_secretary

YEAR = local_today().year - 1


def count(model=Assessment) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def secretary(app):
    """A first secretary posted since 2024 with a full year of months in ``YEAR``."""
    village, org, person, posting = posted_secretary(start=date(2024, 1, 1))
    return village, org, person, posting


def _months(posting, days=(22,) * 12, absences=None):
    absences = absences or {}
    for m, d in enumerate(days, start=1):
        make_duty(posting, date(YEAR, m, 1), days=d, absences=absences.get(m, 0))


@pytest.fixture()
def county(make_user, login_as):
    return login_as(make_user("region", region_code=COUNTY))


def url(posting, year=YEAR):
    return f"/assessment/posting/{posting.id}?year={year}"


# -- the evidence beside the grade ----------------------------------------------------------------


def test_the_form_shows_the_evidence_beside_the_grade(secretary, county):
    village, org, person, posting = secretary
    _months(posting, days=(22, 18, 25, 21, 20, 22, 23, 19, 22, 22, 21, 24), absences={2: 1})
    attend(make_training(kind="pre_posting", start=date(2023, 12, 10)), person)
    attend(make_training(kind="rotation", start=date(YEAR, 5, 8), title="乡村振兴专题轮训"), person)
    make_support(org, village.code, date(YEAR, 4, 2), amount="80000")
    make_support(org, village.code, date(YEAR, 9, 2), amount="20000.50", category="education")
    make_support(org, village.code, date(YEAR, 9, 3), amount="99999", status="submitted")  # not confirmed: left out
    make_support(org, village.code, date(YEAR - 1, 9, 3), amount="7777")  # another year: left out
    make_result(village.code, YEAR, collective_income="231000.00", per_capita_income="16888.00")
    body = county.get(url(posting)).get_data(as_text=True)
    # days in the village by month, with the flags
    assert body.count('class="m short') == 2  # February (18) and August (19)
    assert "不足20" in body and "在村 <b>259</b> 天" in body
    # absences and the cap
    assert "全年无故缺勤 1 天，考核等次最高只能评为“称职”" in body
    # training
    assert "已按时参加岗前培训" in body and f"{YEAR}年已参加培训1次" in body
    # confirmed support from the sending unit to that village in the year
    assert "已确认 <b>2</b> 条" in body and "10.00 万元" in body
    # the village's results
    assert "231,000.00 元" in body or "23.10 万元" in body
    assert "16,888.00 元" in body
    # and the grade form beside it
    assert 'name="grade"' in body and "优秀（受限制，不可选）" in body


def test_missing_evidence_is_shown_as_gaps(secretary, county):
    village, org, person, posting = secretary
    body = county.get(url(posting)).get_data(as_text=True)
    assert "未填报" in body and "本年度没有已确认的帮扶记录" in body
    assert f"该村{YEAR}年帮扶实效尚未填报" in body and "未参加岗前培训" in body
    assert f"{YEAR}年未完成培训" in body


def test_saving_a_grade_records_it_and_the_absences_when_graded(secretary, county):
    village, org, person, posting = secretary
    _months(posting)
    response = county.post(url(posting), data={"year": YEAR, "grade": "优秀", "comment": "扎根基层", "document_number": "吉组发〔2026〕3号"})
    assert response.status_code == 302
    a = db.session.scalar(select(Assessment))
    assert (a.year, a.grade, a.subject_kind, a.posting_id, a.person_id, a.organization_id, a.region_code, a.absences) == (
        YEAR, "优秀", "person", posting.id, person.id, org.id, village.code, 0)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Assessment"))
    assert event.action == "create" and "优秀" in event.summary


# -- the absence cap ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "absences, refused, best, accepted",
    [
        ({3: 1}, ["优秀"], "称职", "称职"),
        ({3: 1, 7: 1}, ["优秀", "称职"], "基本称职", "基本称职"),
        ({3: 2}, ["优秀", "称职"], "基本称职", "不称职"),
        ({1: 1, 5: 1, 9: 1}, ["优秀", "称职", "基本称职"], "不称职", "不称职"),
        ({6: 5}, ["基本称职"], "不称职", "不称职"),
    ],
)
def test_unexcused_absences_cap_the_grade(secretary, county, absences, refused, best, accepted):
    village, org, person, posting = secretary
    _months(posting, absences=absences)
    total = sum(absences.values())
    for grade in refused:
        before = count(AuditEvent)
        response = county.post(url(posting), data={"year": YEAR, "grade": grade, "comment": "评语保留"})
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        assert f"考核等次：本年度无故缺勤{total}天，考核等次最高只能评为“{best}”" in body
        assert "评语保留" in body
        assert count() == 0 and count(AuditEvent) == before
    assert county.post(url(posting), data={"year": YEAR, "grade": accepted}).status_code == 302
    assert db.session.scalar(select(Assessment.absences)) == total


def test_absences_of_another_year_do_not_count(secretary, county):
    village, org, person, posting = secretary
    make_duty(posting, date(YEAR - 1, 6, 1), absences=4)
    _months(posting)
    assert county.post(url(posting), data={"year": YEAR, "grade": "优秀"}).status_code == 302


def test_the_cap_is_a_setting(secretary, county, app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_ABSENCE_GRADE_CAP", ((2, "称职"), (4, "不称职")))
    village, org, person, posting = secretary
    _months(posting, absences={1: 1})
    assert county.post(url(posting), data={"year": YEAR, "grade": "优秀"}).status_code == 302


# -- the grade, the year, one per subject and year, re-grades ------------------------------------------


@pytest.mark.parametrize("grade, message", [("卓越", "请选择考核等次（优秀、称职、基本称职、不称职）"), ("好", "请选择考核等次"), ("", "请选择考核等次")])
def test_the_grade_comes_from_the_person_grade_set(secretary, county, grade, message):
    *_, posting = secretary
    response = county.post(url(posting), data={"year": YEAR, "grade": grade})
    assert response.status_code == 422 and f"考核等次：{message}" in response.get_data(as_text=True)
    assert count() == 0


def test_a_year_outside_the_posting_is_refused(county):
    village, org, person, posting = posted_secretary(start=date(YEAR, 3, 1))
    response = county.post(url(posting, YEAR - 1), data={"year": YEAR - 1, "grade": "称职"})
    assert response.status_code == 422 and f"该选派{YEAR - 1}年不在岗" in response.get_data(as_text=True)
    assert count() == 0


def test_a_regrade_needs_a_reason_and_is_audited(secretary, county):
    *_, posting = secretary
    county.post(url(posting), data={"year": YEAR, "grade": "称职"})
    a = db.session.scalar(select(Assessment))
    before = count(AuditEvent)
    response = county.post(url(posting), data={"year": YEAR, "grade": "优秀", "version": a.version})
    assert response.status_code == 422
    assert "修改原因：修改已评定的考核结果须填写修改原因" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Assessment, a.id).grade == "称职" and count(AuditEvent) == before
    response = county.post(url(posting), data={"year": YEAR, "grade": "优秀", "version": a.version, "change_reason": "复核后认定获省级表彰"})
    assert response.status_code == 302
    assert count() == 1
    db.session.expire_all()
    a = db.session.get(Assessment, a.id)
    assert a.grade == "优秀" and a.change_reason == "复核后认定获省级表彰"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "regrade"))
    assert json.loads(event.before)["grade"] == "称职" and json.loads(event.after)["grade"] == "优秀"
    assert "复核后认定获省级表彰" in event.summary
    detail = county.get(f"/assessment/{a.id}").get_data(as_text=True)
    assert "原为“称职”" in detail


def test_a_stale_regrade_is_refused(secretary, county):
    *_, posting = secretary
    county.post(url(posting), data={"year": YEAR, "grade": "称职"})
    a = db.session.scalar(select(Assessment))
    stale = a.version
    a.comment = "别人改过"
    db.session.commit()
    response = county.post(url(posting), data={"year": YEAR, "grade": "优秀", "version": stale, "change_reason": "复核"})
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Assessment, a.id).grade == "称职"


# -- who may assess --------------------------------------------------------------------------------


def test_township_above_the_village_may_assess(secretary, make_user, login_as):
    village, org, person, posting = secretary
    township = login_as(make_user("region", region_code=village.parent_code))
    assert township.get(url(posting)).status_code == 200
    assert township.post(url(posting), data={"year": YEAR, "grade": "称职"}).status_code == 302


def test_other_jurisdictions_get_404_and_other_roles_403(secretary, make_user, login_as):
    village, org, person, posting = secretary
    other_county = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert other_county.get(url(posting)).status_code == 404
    assert other_county.post(url(posting), data={"year": YEAR, "grade": "优秀"}).status_code == 404
    unit = login_as(make_user("unit", organization_id=org.id))
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    village_user = login_as(make_user("village", village_code=village.code))
    for session in (unit, viewer, village_user):
        assert session.get(url(posting)).status_code == 403
        assert session.post(url(posting), data={"year": YEAR, "grade": "优秀"}).status_code == 403
    assert count() == 0


def test_a_unit_reads_its_own_peoples_assessments_and_nobody_elses(secretary, county, make_user, login_as):
    village, org, person, posting = secretary
    county.post(url(posting), data={"year": YEAR, "grade": "称职"})
    mine = db.session.scalar(select(Assessment))
    other_org = make_org()
    other_person = make_person(other_org, name="王五")
    other_posting = make_posting(other_person, other_org, make_village(COUNTY, 2).code, start=date(2024, 1, 1))
    county.post(url(other_posting), data={"year": YEAR, "grade": "优秀"})
    theirs = db.session.scalar(select(Assessment).where(Assessment.posting_id == other_posting.id))
    unit = login_as(make_user("unit", organization_id=org.id))
    assert unit.get(f"/assessment/{mine.id}").status_code == 200
    assert unit.get(f"/assessment/{theirs.id}").status_code == 404
    listing = unit.get(f"/assessment/?year={YEAR}").get_data(as_text=True)
    assert person.name in listing and "王五" not in listing
    assert unit.get(f"/assessment/person/{person.id}").status_code == 200
    assert unit.get(f"/assessment/person/{other_person.id}").status_code == 404
    village_user = login_as(make_user("village", village_code=village.code))
    assert village_user.get(f"/assessment/{mine.id}").status_code == 404
    far = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert far.get(f"/assessment/{mine.id}").status_code == 404


def test_the_todo_list_shows_postings_not_yet_graded(secretary, county):
    village, org, person, posting = secretary
    assert person.name in county.get(f"/assessment/todo?year={YEAR}").get_data(as_text=True)
    county.post(url(posting), data={"year": YEAR, "grade": "称职"})
    county.get("/")  # the flash message names the person
    assert person.name not in county.get(f"/assessment/todo?year={YEAR}").get_data(as_text=True)


# -- organizations --------------------------------------------------------------------------------


def org_url(org, year=YEAR):
    return f"/assessment/organization/{org.id}?year={year}"


def test_a_county_assesses_an_organization_helping_in_it(secretary, county):
    village, org, person, posting = secretary
    make_pairing(org, village.code)
    _months(posting, days=(15,) + (22,) * 11)
    make_support(org, village.code, date(YEAR, 4, 2), amount="60000")
    body = county.get(org_url(org)).get_data(as_text=True)
    assert person.name in body and "已确认 <b>1</b> 条" in body and "6.00 万元" in body
    response = county.post(org_url(org), data={"year": YEAR, "grade": "优秀"})
    assert response.status_code == 422 and "考核等次：请选择考核等次（好、较好、一般、差）" in response.get_data(as_text=True)
    assert county.post(org_url(org), data={"year": YEAR, "grade": "较好", "document_number": "吉乡振〔2026〕8号"}).status_code == 302
    a = db.session.scalar(select(Assessment))
    assert (a.subject_kind, a.organization_id, a.region_code, a.grade) == ("organization", org.id, COUNTY, "较好")


def test_an_organization_outside_the_jurisdiction_is_404(county):
    far_org = make_org(region_code=OTHER_COUNTY, level="county")
    assert county.get(org_url(far_org)).status_code == 404
    assert county.post(org_url(far_org), data={"year": YEAR, "grade": "好"}).status_code == 404


def test_a_lower_jurisdiction_cannot_overwrite_a_higher_ones_grade(secretary, make_user, login_as, county):
    village, org, person, posting = secretary
    make_pairing(org, village.code)
    province = login_as(make_user("region", region_code=PROVINCE))
    assert province.post(org_url(org), data={"year": YEAR, "grade": "好"}).status_code == 302
    body = county.get(org_url(org)).get_data(as_text=True)
    assert "已由湖南省评定" in body
    response = county.post(org_url(org), data={"year": YEAR, "grade": "差", "change_reason": "县里另评"})
    assert response.status_code == 422 and "不能重复评定" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(select(Assessment.grade)) == "好"


def test_the_unit_reads_its_own_organization_grade(secretary, county, make_user, login_as):
    village, org, person, posting = secretary
    make_pairing(org, village.code)
    county.post(org_url(org), data={"year": YEAR, "grade": "好"})
    a = db.session.scalar(select(Assessment))
    assert login_as(make_user("unit", organization_id=org.id)).get(f"/assessment/{a.id}").status_code == 200
    assert login_as(make_user("unit", organization_id=make_org().id)).get(f"/assessment/{a.id}").status_code == 404


def test_a_township_cannot_overwrite_the_countys_grade_but_the_province_can(secretary, county, make_user, login_as):
    village, org, person, posting = secretary
    county.post(url(posting), data={"year": YEAR, "grade": "称职"})
    a = db.session.scalar(select(Assessment))
    assert a.assessor_region_code == COUNTY
    township = login_as(make_user("region", region_code=village.parent_code))
    assert "已由吉首市评定，本级不能修改" in township.get(url(posting)).get_data(as_text=True)
    response = township.post(url(posting), data={"year": YEAR, "grade": "优秀", "version": a.version, "change_reason": "乡镇复核"})
    assert response.status_code == 422 and "不能重复评定" in response.get_data(as_text=True)
    province = login_as(make_user("region", region_code=PROVINCE))
    response = province.post(url(posting), data={"year": YEAR, "grade": "优秀", "version": a.version, "change_reason": "省级复核"})
    assert response.status_code == 302
    db.session.expire_all()
    a = db.session.get(Assessment, a.id)
    assert a.grade == "优秀" and a.assessor_region_code == COUNTY
    assert "评定单位</dt><dd>吉首市" in county.get(f"/assessment/{a.id}").get_data(as_text=True)


def test_a_seconded_cadre_is_assessed_without_days_in_the_village(county):
    org = make_org()
    person = make_person(org, name="挂职干部甲")
    cadre = make_posting(person, org, COUNTY, role="seconded_cadre", start=date(2024, 3, 1), post_held="副市长")
    body = county.get(url(cadre)).get_data(as_text=True)
    assert "该选派不需要驻村纪实（挂职干部）" in body and "未填报" not in body
    assert county.post(url(cadre), data={"year": YEAR, "grade": "优秀"}).status_code == 302
