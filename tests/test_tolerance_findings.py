"""容错纠错 about an inspection finding (督查问题): only the inspected party applies, the
inspecting level or one above decides, a case about a region's finding belongs to no
organization (and is scoped by region), and a tolerated finding leaves the region's yearly
figure ``findings_rectified`` (and the 实绩考核 indicator reading it) as an independent recount says."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.rules import RuleViolation
from registry.core.scope import in_scope
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.inspections import services as inspections
from registry.inspections.figures import findings_rectified
from registry.inspections.models import Finding
from registry.notifications.models import Notification
from registry.tolerance.models import FaultToleranceCase
from registry.tolerance.services import Application, Decision, apply, cases_for, decide
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org

TODAY = local_today()
YEAR = TODAY.year
FACTS = Application("objective", "汛期道路中断，项目无法按期施工，已向督查组书面报告")


def cases() -> int:
    return db.session.scalar(select(func.count()).select_from(FaultToleranceCase))


def events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


@pytest.fixture()
def w(app, make_user, login_as):
    """The province inspects 吉首市 (three findings) and a provincial department (one); the
    city inspects 吉首市 too (one finding)."""
    dept = make_org("backing_unit", PROVINCE, name="省容错测试厅", level="provincial")
    other_dept = make_org("backing_unit", PROVINCE, name="省另一测试厅", level="provincial")
    users = {
        "province": make_user("region", region_code=PROVINCE),
        "city": make_user("region", region_code=CITY),
        "county": make_user("region", region_code=COUNTY),
        "county_clerk": make_user("region", region_code=COUNTY),
        "other_county": make_user("region", region_code=OTHER_COUNTY),
        "township": make_user("region", region_code=first_township(COUNTY).code),
        "viewer": make_user("viewer", region_code=COUNTY),
        "dept": make_user("unit", organization_id=dept.id),
        "other_dept": make_user("unit", organization_id=other_dept.id),
    }
    due = (TODAY + timedelta(days=30)).isoformat()
    plan = inspections.create_plan(users["province"], YEAR, "省级督查")
    county_inspection = inspections.add_inspection(plan, users["province"], f"region:{COUNTY}")
    found = [inspections.add_finding(county_inspection, users["province"],
                                     inspections.FindingData("funds", f"资金项目问题{n}", due)) for n in range(3)]
    dept_finding = inspections.add_finding(inspections.add_inspection(plan, users["province"], f"organization:{dept.id}"),
                                           users["province"], inspections.FindingData("paired_support", "走访不足", due))
    city_plan = inspections.create_plan(users["city"], YEAR, "市州督查")
    city_finding = inspections.add_finding(inspections.add_inspection(city_plan, users["city"], f"region:{COUNTY}"),
                                           users["city"], inspections.FindingData("training", "培训不足", due))
    return {"users": users, "dept": dept, "found": found, "dept_finding": dept_finding, "city_finding": city_finding,
            **users, "login": lambda name: login_as(users[name])}


# -- who applies ----------------------------------------------------------------------------------------

def test_the_inspected_region_applies_and_the_case_belongs_to_no_organization(w):
    case = apply("finding", w["found"][0], FACTS, w["county"])
    assert (case.subject_kind, case.organization_id, case.person_id) == ("finding", None, None)
    assert (case.region_code, case.decider_region_code, case.year) == (COUNTY, PROVINCE, YEAR)
    assert case.subject_name == "吉首市" and "资金项目问题0" in case.subject_title
    dept_case = apply("finding", w["dept_finding"], FACTS, w["dept"])
    assert dept_case.organization_id == w["dept"].organization_id and dept_case.subject_name == "省容错测试厅"


@pytest.mark.parametrize("who", ["province", "city", "township", "other_county", "viewer", "dept", "other_dept"])
def test_nobody_but_the_inspected_party_applies_and_nothing_is_written(w, who):
    """The inspectors (the province), those above the inspected county (the city), below it
    and beside it, a viewer and the units: refused, no case, no audit event, no message."""
    before, told = events(), db.session.scalar(select(func.count()).select_from(Notification))
    with pytest.raises(RuleViolation, match="只有被督查方"):
        apply("finding", w["found"][0], FACTS, w[who])
    db.session.rollback()
    assert cases() == 0 and events() == before
    assert db.session.scalar(select(func.count()).select_from(Notification)) == told


def test_the_county_may_not_apply_about_a_departments_finding(w):
    with pytest.raises(RuleViolation, match="只有被督查方"):
        apply("finding", w["dept_finding"], FACTS, w["county"])
    db.session.rollback()
    assert cases() == 0


# -- who decides ----------------------------------------------------------------------------------------

def test_the_inspecting_level_or_above_decides(w):
    case = apply("finding", w["found"][0], FACTS, w["county"])
    for who in ("county_clerk", "city", "township", "other_county"):  # the province inspected: none of these
        with pytest.raises(RuleViolation, match="或其上级"):
            decide(case, Decision("tolerated", "同意"), w[who])
        db.session.rollback()
    assert db.session.get(FaultToleranceCase, case.id).status == "pending"
    city_case = apply("finding", w["city_finding"], FACTS, w["county"])
    decide(city_case, Decision("tolerated", "情况属实"), w["province"])  # above the inspecting city
    decide(case, Decision("not_tolerated", "未及时报告", correction="限期完成施工"), w["province"])
    assert city_case.status == "tolerated" and "不再计入吉首市" in city_case.effect
    assert case.status == "not_tolerated" and case.effect == "维持原督查问题，照常计入考核"


def test_the_steps_are_audited_and_told_without_an_organization(w):
    case = apply("finding", w["found"][0], FACTS, w["county"])
    assert set(db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "fault_tolerance"))) == {w["province"].id}  # the deciding office
    decide(case, Decision("tolerated", "属客观原因"), w["province"])
    told = set(db.session.scalars(select(Notification.user_id).where(
        Notification.kind == "fault_tolerance", Notification.title.contains("予以容错"))))
    assert told == {w["county"].id, w["county_clerk"].id}  # the applicant and the inspected region's office
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "FaultToleranceCase", AuditEvent.entity_id == str(case.id)).order_by(AuditEvent.id)).all()
    assert list(actions) == ["tolerance_apply", "tolerance_decide"]


# -- the effect: the yearly figure ----------------------------------------------------------------------

def _recount(region_code: str, year: int) -> tuple[int, int]:
    """Independently: every finding of the region and year, less those with a tolerated case."""
    spared = {c.subject_id for c in db.session.scalars(select(FaultToleranceCase))
              if c.subject_kind == "finding" and c.status == "tolerated"}
    rows = [f for f in db.session.scalars(select(Finding))
            if f.target_region_code == region_code and f.year == year and f.id not in spared]
    return sum(1 for f in rows if f.status == "closed"), len(rows)


def test_a_tolerated_finding_leaves_the_yearly_figure(w):
    from registry.scorecards.providers import PROVIDERS

    found, county, province = w["found"], w["county"], w["province"]
    inspections.rectify(found[0], "已整改", county)
    inspections.close(found[0], "核实销号", province)
    assert findings_rectified(COUNTY, YEAR) == _recount(COUNTY, YEAR) == (1, 4)
    open_case = apply("finding", found[1], FACTS, county)  # open and pending: still counts
    closed_case = apply("finding", found[0], FACTS, w["county_clerk"])
    refused = apply("finding", w["city_finding"], FACTS, county)
    assert findings_rectified(COUNTY, YEAR) == (1, 4)
    decide(refused, Decision("not_tolerated", "不符合容错情形"), w["city"])
    decide(open_case, Decision("tolerated", "属客观原因"), province)
    assert findings_rectified(COUNTY, YEAR) == _recount(COUNTY, YEAR) == (1, 3)
    decide(closed_case, Decision("tolerated", "属客观原因"), province)
    assert findings_rectified(COUNTY, YEAR) == _recount(COUNTY, YEAR) == (0, 2)
    figures = PROVIDERS["findings_rectified"].compute(COUNTY, YEAR)
    assert (figures.numerator, figures.denominator) == (0, 2) and "另有2个问题予以容错" in figures.basis
    assert findings_rectified(OTHER_COUNTY, YEAR) == (0, 0)


# -- scope -----------------------------------------------------------------------------------------------

def test_a_case_is_seen_as_its_finding(w):
    region_case = apply("finding", w["found"][0], FACTS, w["county"])
    dept_case = apply("finding", w["dept_finding"], FACTS, w["dept"])
    seen = {who: {c.id for c in db.session.scalars(cases_for(w[who]))} for who in w["users"]}
    assert seen["province"] == {region_case.id, dept_case.id}
    for who in ("city", "county", "viewer"):
        assert seen[who] == {region_case.id}, who
    assert seen["dept"] == {dept_case.id}  # a unit: never a region's case (it has no organization)
    for who in ("other_county", "township", "other_dept"):
        assert seen[who] == set(), who
    assert not in_scope(FaultToleranceCase, region_case.id, w["dept"])
    assert w["login"]("other_dept").get(f"/tolerance/{dept_case.id}").status_code == 404
    assert w["login"]("dept").get(f"/tolerance/{region_case.id}").status_code == 404
    assert w["login"]("dept").get(f"/tolerance/{dept_case.id}").status_code == 200


# -- the pages -------------------------------------------------------------------------------------------

def test_through_the_finding_page(w):
    finding = w["found"][1]
    url = f"/inspections/findings/{finding.id}"
    apply_url = f"{url}/tolerance"
    province = w["login"]("province")
    assert apply_url not in province.get(url).get_data(as_text=True)  # the inspector has no button
    assert "只有被督查方" in province.get(apply_url).get_data(as_text=True)
    assert province.post(apply_url, data={"grounds": "objective", "facts": "代为申请"}).status_code == 422
    assert w["login"]("other_county").get(apply_url).status_code == 404
    assert w["login"]("viewer").get(apply_url).status_code == 403
    assert cases() == 0
    county = w["login"]("county")
    assert apply_url in county.get(url).get_data(as_text=True)
    assert county.post(apply_url, data={"grounds": "objective", "facts": ""}).status_code == 422
    assert cases() == 0
    response = county.post(apply_url, data={"grounds": "objective", "facts": "汛期道路中断"})
    assert response.status_code == 302
    case = db.session.scalar(select(FaultToleranceCase))
    page = province.get(f"/tolerance/{case.id}").get_data(as_text=True)
    assert "作出决定" in page and "吉首市" in page
    assert province.post(f"/tolerance/{case.id}/decide", data={
        "decision": "tolerated", "reason": "属客观原因", "version": case.version}).status_code == 302
    body = county.get(url).get_data(as_text=True)
    assert "予以容错" in body and "整改销号率" in body and apply_url not in body
