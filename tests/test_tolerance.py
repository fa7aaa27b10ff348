"""容错纠错: applying about a summons or a grade, deciding by the right level, the decision's
effect on the grade cap, one live case per subject, the audit trail and who is told."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.assessment.evidence import grade_cap
from registry.assessment.services import GradeData, IncentiveData, assess_posting, issue_to_person
from registry.audit.models import AuditEvent
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.notifications.models import Notification
from registry.tolerance.models import FaultToleranceCase
from registry.tolerance.services import Application, Decision, apply, decide
from tests.factories import (
    CITY, COUNTY, OTHER_COUNTY, first_township, make_cadre, make_org, make_person, make_posting, make_village)
from tests.factories_assessment import make_duty

TODAY = local_today()
YEAR = TODAY.year
FACTS = Application("objective", "暴雨致道路中断，未能按时返村，已及时报告乡镇")


def cases() -> int:
    return db.session.scalar(select(func.count()).select_from(FaultToleranceCase))


@pytest.fixture()
def world(app, make_user):
    from tests.conftest import built_once

    def build():
        village = make_village(COUNTY, 1, is_key=True)
        org = make_org("backing_unit", COUNTY, level="county")
        person = make_person(org, "容错张三")
        posting = make_posting(person, org, village.code, start=date(YEAR - 1, 1, 1), dispatch_level="county")
        users = {
            "county": make_user("region", region_code=COUNTY),
            "county_clerk": make_user("region", region_code=COUNTY),
            "city": make_user("region", region_code=CITY),
            "township": make_user("region", region_code=first_township(COUNTY).code),
            "other_county": make_user("region", region_code=OTHER_COUNTY),
            "unit": make_user("unit", organization_id=org.id),
        }
        summons = issue_to_person(person, IncentiveData("summons", TODAY - timedelta(days=1), "county", "驻村天数不足"),
                                  users["county"])
        return {"person": person, "posting": posting, "summons": summons, "org": org, **users}

    return built_once("tolerance.world", build)


def _cap(world, absences=0):
    return grade_cap(world["posting"].id, world["person"].id, YEAR, absences)


# -- the effect on the grade cap ----------------------------------------------------------------------

def test_a_summons_caps_the_grade_until_it_is_tolerated(world):
    """The acceptance test: a fault-tolerance decision changes the grade cap as stated."""
    cap = _cap(world)
    assert cap.best == "称职" and cap.summons == 1 and not cap.allows("优秀")
    with pytest.raises(RuleViolation, match="本年度受到约谈1次，考核等次最高只能评为“称职”"):
        assess_posting(world["posting"], GradeData(YEAR, "优秀"), world["county"])
    db.session.rollback()

    case = apply("summons", world["summons"], FACTS, world["unit"])
    assert _cap(world).best == "称职"  # an application alone changes nothing
    decide(case, Decision("tolerated", "属客观原因，已及时报告", "吉容〔2026〕1号"), world["county"])
    assert case.effect == f"该约谈不再计入{YEAR}年度考核，不再限制考核等次"
    cap = _cap(world)
    assert cap.best is None and cap.summons == 0 and cap.tolerated_summons == 1 and cap.allows("优秀")
    assert assess_posting(world["posting"], GradeData(YEAR, "优秀"), world["county"]).grade == "优秀"


def test_a_refusal_leaves_the_cap_as_it_was(world):
    case = apply("summons", world["summons"], FACTS, world["unit"])
    decide(case, Decision("not_tolerated", "未及时报告，不符合容错情形", correction="补足在村天数"), world["county"])
    assert case.status == "not_tolerated" and case.effect == "维持原约谈，照常计入考核"
    assert _cap(world).best == "称职"


def test_a_tolerated_grade_is_capped_by_neither_absences_nor_summons(world):
    for month in (1, 2):
        make_duty(world["posting"], date(YEAR, month, 1), absences=1)
    grade = assess_posting(world["posting"], GradeData(YEAR, "基本称职"), world["county"])
    assert _cap(world, 2).best == "基本称职"
    case = apply("assessment", grade, Application("no_rule", "缺勤系参加县里抗洪抢险，未及时补办请假"), world["unit"])
    decide(case, Decision("tolerated", "情况属实"), world["county"])
    assert "不再受无故缺勤和约谈的限制" in case.effect and "原为“基本称职”" in case.effect
    assert _cap(world, 2).best is None and _cap(world, 2).grade_tolerated
    regraded = assess_posting(world["posting"], GradeData(YEAR, "优秀", change_reason="容错后重新评定",
                                                          version=grade.version), world["county"])
    assert regraded.grade == "优秀"


# -- who applies, who decides -------------------------------------------------------------------------

def test_the_applicant_may_not_decide_and_the_issuing_level_or_above_may(world):
    case = apply("summons", world["summons"], FACTS, world["county"])
    for who, words in (("county", "申请人不能"), ("township", "或其上级"), ("other_county", "或其上级")):
        with pytest.raises(RuleViolation, match=words):
            decide(case, Decision("tolerated", "同意"), world[who])
        db.session.rollback()
    assert case.status == "pending"
    decide(case, Decision("tolerated", "同意"), world["city"])  # above the issuing county
    assert case.status == "tolerated" and case.decided_by_id == world["city"].id


def test_the_cadre_applies_about_their_own_summons(world):
    cadre = make_cadre(world["person"], world["unit"])
    case = apply("summons", world["summons"], FACTS, cadre)
    assert case.applicant_id == cadre.id and case.decider_region_code == COUNTY and case.year == YEAR


def test_a_unit_may_not_apply_about_another_units_person(world, make_user):
    other = make_user("unit", organization_id=make_org().id)
    with pytest.raises(RuleViolation, match="当事干部本人、所在单位"):
        apply("summons", world["summons"], FACTS, other)


def test_one_live_case_per_subject(world):
    first = apply("summons", world["summons"], FACTS, world["unit"])
    with pytest.raises(RuleViolation, match="待决定的容错申请"):
        apply("summons", world["summons"], FACTS, world["unit"])
    db.session.rollback()
    decide(first, Decision("not_tolerated", "不符合"), world["county"])
    second = apply("summons", world["summons"], Application("other", "补充新的事实材料"), world["unit"])
    decide(second, Decision("tolerated", "新材料证实"), world["county"])
    with pytest.raises(RuleViolation, match="予以容错的决定"):
        apply("summons", world["summons"], FACTS, world["unit"])
    db.session.rollback()
    assert cases() == 2


@pytest.mark.parametrize("data, field", [
    (Application("", "事由"), "grounds"),
    (Application("nonsense", "事由"), "grounds"),
    (Application("objective", "  "), "facts"),
    (Application("objective", "字" * 2001), "facts"),
])
def test_a_bad_application_is_refused_and_nothing_is_written(world, data, field):
    with pytest.raises(RuleViolation) as refused:
        apply("summons", world["summons"], data, world["unit"])
    assert field in refused.value.errors
    db.session.rollback()
    assert cases() == 0


def test_a_decision_needs_a_choice_and_a_reason(world):
    case = apply("summons", world["summons"], FACTS, world["unit"])
    with pytest.raises(RuleViolation) as refused:
        decide(case, Decision("maybe", ""), world["county"])
    assert {"decision", "reason"} <= set(refused.value.errors)
    db.session.rollback()
    assert db.session.get(FaultToleranceCase, case.id).status == "pending"


def test_a_commendation_cannot_be_applied_for(world):
    praise = issue_to_person(world["person"], IncentiveData("commendation", TODAY, "county", "成效突出"), world["county"])
    with pytest.raises(RuleViolation, match="只有约谈可以申请容错"):
        apply("summons", praise, FACTS, world["unit"])


def test_every_step_is_audited_and_told(world):
    case = apply("summons", world["summons"], FACTS, world["unit"])
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == "fault_tolerance")))
    assert told == {world["county"].id, world["county_clerk"].id}  # the deciding office's staff
    decide(case, Decision("tolerated", "属实"), world["county"])
    events = db.session.execute(select(AuditEvent.action, AuditEvent.before).where(
        AuditEvent.entity_type == "FaultToleranceCase").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["tolerance_apply", "tolerance_decide"]
    assert '"status":"pending"' in events[1].before
    unit_told = db.session.scalar(select(Notification).where(Notification.user_id == world["unit"].id,
                                                             Notification.kind == "fault_tolerance"))
    assert "予以容错" in unit_told.title


# -- the pages -----------------------------------------------------------------------------------------

def test_through_the_pages(world, login_as):
    unit = login_as(world["unit"])
    summons_page = unit.get(f"/incentives/{world['summons'].id}").get_data(as_text=True)
    assert f"/tolerance/new/summons/{world['summons'].id}" in summons_page
    response = unit.post(f"/tolerance/new/summons/{world['summons'].id}",
                         data={"grounds": "objective", "facts": "暴雨致道路中断"})
    assert response.status_code == 302
    case = db.session.scalar(select(FaultToleranceCase))
    township = login_as(world["township"])
    page = township.get(f"/tolerance/{case.id}").get_data(as_text=True)
    assert "作出决定" not in page  # a township does not decide the county's summons
    assert township.post(f"/tolerance/{case.id}/decide", data={"decision": "tolerated", "reason": "同意"}).status_code == 422
    county = login_as(world["county"])
    assert "作出决定" in county.get(f"/tolerance/{case.id}").get_data(as_text=True)
    done = county.post(f"/tolerance/{case.id}/decide",
                       data={"decision": "tolerated", "reason": "属客观原因", "version": case.version})
    assert done.status_code == 302
    body = county.get(f"/tolerance/{case.id}").get_data(as_text=True)
    assert "不再限制考核等次" in body and "予以容错" in body
    assert login_as(world["other_county"]).get(f"/tolerance/{case.id}").status_code == 404
    assert "容错张三" in county.get("/tolerance/").get_data(as_text=True)


def test_a_summons_of_an_organization_cannot_be_applied_for(world):
    from registry.assessment.services import issue_to_organization

    summons = issue_to_organization(world["org"], IncentiveData("summons", TODAY, "county", "结对项目推进缓慢"),
                                    world["county"])
    with pytest.raises(RuleViolation, match="适用于干部个人"):
        apply("summons", summons, FACTS, world["unit"])


def test_the_grade_page_says_what_the_decision_changed(world, login_as):
    grade = assess_posting(world["posting"], GradeData(YEAR, "称职"), world["county"])
    county = login_as(world["county"])
    before = county.get(f"/assessment/{grade.id}").get_data(as_text=True)
    assert "全年受到约谈 1 次，最高“称职”" in before
    decide(apply("summons", world["summons"], FACTS, world["unit"]), Decision("tolerated", "属实"), world["county"])
    after = county.get(f"/assessment/{grade.id}").get_data(as_text=True)
    assert "本年度有1次约谈已予以容错，不计入考核" in after and "最高“称职”" not in after


def test_the_list_exports_as_filtered_and_the_export_is_audited(world, login_as):
    """Every list exports (issue 11): the cases in scope, as filtered, names only; the
    export of personal data is on the record. Another county sees none of them."""
    decided = apply("summons", world["summons"], FACTS, world["county"])
    decide(decided, Decision("tolerated", "情况属实"), world["city"])
    county = login_as(world["county"])
    text = county.get("/tolerance/export.csv").get_data(as_text=True)
    assert "容错张三" in text and "予以容错" in text and "情况属实" in text
    assert world["person"].id_number not in text
    assert "容错张三" not in county.get("/tolerance/export.csv?status=pending").get_data(as_text=True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.entity_type == "FaultToleranceCase" and "容错纠错" in event.summary
    assert "容错张三" not in login_as(world["other_county"]).get("/tolerance/export.csv").get_data(as_text=True)
    assert login_as(world["county"]).get("/tolerance/export.xlsx").status_code == 200
