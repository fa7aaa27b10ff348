"""Care for frontline cadres (关心关爱): who records (the dispatching office or above), the
rules of a record, cancelling without deleting, the gaps (no accident insurance covering
today, no health check this year), and who sees what."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.care.models import CareRecord
from registry.care.services import CareData, add_care, cancel_care
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import (
    CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_cadre, make_org, make_person, make_posting, make_village)

TODAY = local_today()


def rows() -> int:
    return db.session.scalar(select(func.count()).select_from(CareRecord))


def care_world(make_user, start: date, *, seconded: bool = True) -> dict:
    """A county's key village with two cadres of one backing unit posted to it since
    ``start`` (one by the county, one by the province), with ``seconded`` a third seconded
    to the county itself, and an account of every role that may or may not see them."""
    village = make_village(COUNTY, 1, is_key=True)
    org = make_org("backing_unit", COUNTY, level="county")
    county_cadre = make_person(org, "县派张三")
    province_cadre = make_person(org, "省派李四")
    extra = make_person(org, "挂职干部") if seconded else None
    out = {
        "village": village, "org": org, "county_cadre": county_cadre, "province_cadre": province_cadre,
        "county_posting": make_posting(county_cadre, org, village.code, start=start, dispatch_level="county"),
        "province_posting": make_posting(province_cadre, org, village.code, role="team_member", start=start,
                                         dispatch_level="provincial"),
    }
    if extra is not None:
        out["seconded_posting"] = make_posting(extra, org, COUNTY, role="seconded_cadre", start=start,
                                               dispatch_level="county")
    return out | {
        "county": make_user("region", region_code=COUNTY),
        "city": make_user("region", region_code=CITY),
        "province": make_user("region", region_code=PROVINCE),
        "township": make_user("region", region_code=first_township(COUNTY).code),
        "other_county": make_user("region", region_code=OTHER_COUNTY),
        "unit": make_user("unit", organization_id=org.id),
        "viewer": make_user("viewer", region_code=COUNTY),
    }


@pytest.fixture()
def world(app, make_user):
    from tests.conftest import built_once

    def build():
        return care_world(make_user, TODAY - timedelta(days=400))

    return built_once("care.world", build)


def insurance(posting, start=None, end=None, **kw):
    start = start or TODAY - timedelta(days=30)
    return CareData(posting_id=posting.id, kind="insurance", item="人身意外伤害保险", start_date=start,
                    end_date=end or start + timedelta(days=364), amount=kw.pop("amount", "500000"), **kw)


def health_check(posting, day=None):
    return CareData(posting_id=posting.id, kind="health_check", item="年度体检", start_date=day or TODAY - timedelta(days=3),
                    amount="800")


# -- who records ----------------------------------------------------------------------------------------

def test_the_dispatching_office_records_and_the_record_is_audited(world):
    care = add_care(world["county_cadre"], insurance(world["county_posting"], provider_name="人保财险"), world["county"])
    assert care.provider_region_code == COUNTY and care.region_code == world["village"].code
    assert care.organization_id == world["org"].id and care.amount == 500000
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "CareRecord"))
    assert event.action == "create" and "人身意外伤害保险" in event.summary and event.region_code == care.region_code


@pytest.mark.parametrize("who, posting, allowed", [
    ("county", "county_posting", True),  # 县派: the county
    ("city", "county_posting", True),  # an office above the county
    ("province", "province_posting", True),  # 省派: the province
    ("county", "province_posting", False),  # a county does not record for the province's cadre
    ("township", "county_posting", False),  # a township dispatches nobody
    ("other_county", "county_posting", False),
])
def test_only_the_dispatching_office_or_above_records(world, who, posting, allowed):
    posting = world[posting]
    person = world["county_cadre"] if posting is world["county_posting"] else world["province_cadre"]
    if allowed:
        add_care(person, insurance(posting), world[who])
        assert rows() == 1
    else:
        with pytest.raises(RuleViolation) as refused:
            add_care(person, insurance(posting), world[who])
        assert "派出机关" in refused.value.message
        db.session.rollback()
        assert rows() == 0


@pytest.mark.parametrize("change, field, words", [
    ({"kind": "allowance", "item": "生活补助", "amount": ""}, "amount", "补助金额"),
    ({"kind": "insurance", "item": "生活补助"}, "item", "请选择保险项目"),
    ({"kind": "nothing"}, "kind", "请选择类别"),
    ({"end_date": TODAY - timedelta(days=60)}, "end_date", "不能早于开始日期"),
    ({"end_date": None}, "end_date", "请填写结束日期"),
    ({"start_date": date(2001, 1, 1), "end_date": date(2001, 12, 31)}, "start_date", "须在选派期间内"),
    ({"kind": "leave", "item": "探亲假", "amount": "300"}, "amount", "休假不填写金额"),
    ({"note": "备注\x00"}, "note", "备注"),
    ({"posting_id": "abc"}, "posting_id", "请选择该干部的一次选派"),
    # no row can hold this id: refused by the rule, never looked up (PostgreSQL's integer
    # would overflow: a 500 the form fuzzer found)
    ({"posting_id": "2147483648"}, "posting_id", "请选择该干部的一次选派"),
])
def test_bad_records_are_refused_by_field_and_nothing_is_written(world, change, field, words):
    data = insurance(world["county_posting"])
    for key, value in change.items():
        setattr(data, key, value)
    with pytest.raises(RuleViolation) as refused:
        add_care(world["county_cadre"], data, world["county"])
    assert field in refused.value.errors and words in refused.value.message
    db.session.rollback()
    assert rows() == 0


def test_a_health_check_is_one_day_not_in_the_future(world):
    with pytest.raises(RuleViolation) as refused:
        add_care(world["county_cadre"], health_check(world["county_posting"], TODAY + timedelta(days=2)), world["county"])
    assert "start_date" in refused.value.errors
    db.session.rollback()
    care = add_care(world["county_cadre"], health_check(world["county_posting"]), world["county"])
    assert care.end_date is None and care.days is None


def test_a_posting_of_another_person_is_refused(world):
    with pytest.raises(RuleViolation) as refused:
        add_care(world["county_cadre"], insurance(world["province_posting"]), world["province"])
    assert "posting_id" in refused.value.errors


def test_cancelling_keeps_the_record_with_its_reason(world):
    care = add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    with pytest.raises(RuleViolation):
        cancel_care(care, "", world["county"])
    with pytest.raises(RuleViolation):
        cancel_care(care, "录入错误", world["township"])
    db.session.rollback()
    cancel_care(care, "保单号录入错误", world["county"])
    assert rows() == 1 and care.status == "cancelled" and care.cancel_reason == "保单号录入错误"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "CareRecord")
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["create", "cancel"]
    with pytest.raises(RuleViolation, match="已作废"):
        cancel_care(care, "再次作废", world["county"])


# -- the gaps ------------------------------------------------------------------------------------------

def _gap_people(kind: str) -> set[int]:
    from flask import current_app

    from registry.dashboard.gaps import gaps
    from registry.regions.models import Region

    with current_app.test_request_context():
        [found] = gaps(db.session.get(Region, COUNTY), [kind], limit=100)
    return {item["person_id"] for item in found.items}


def test_a_resident_cadre_without_accident_insurance_covering_today_is_a_gap(world):
    county_id, province_id = world["county_cadre"].id, world["province_cadre"].id
    assert _gap_people("no_accident_insurance") == {county_id, province_id}  # not the seconded cadre
    # a policy that ended yesterday does not cover today
    add_care(world["county_cadre"], insurance(world["county_posting"], start=TODAY - timedelta(days=365),
                                              end=TODAY - timedelta(days=1)), world["county"])
    # another kind of insurance is not an accident insurance
    add_care(world["province_cadre"], CareData(posting_id=world["province_posting"].id, kind="insurance",
                                               item="重大疾病保险", start_date=TODAY, end_date=TODAY + timedelta(days=30)),
             world["province"])
    assert _gap_people("no_accident_insurance") == {county_id, province_id}
    care = add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    assert _gap_people("no_accident_insurance") == {province_id}
    cancel_care(care, "重复登记", world["county"])  # a cancelled policy covers nothing
    assert _gap_people("no_accident_insurance") == {county_id, province_id}


def test_a_resident_cadre_without_a_health_check_this_year_is_a_gap(world):
    county_id = world["county_cadre"].id
    assert county_id in _gap_people("no_health_check")
    if TODAY.month > 1:  # last year's check does not count for this year
        add_care(world["county_cadre"], health_check(world["county_posting"], date(TODAY.year - 1, 12, 1)), world["county"])
        assert county_id in _gap_people("no_health_check")
    add_care(world["county_cadre"], health_check(world["county_posting"], date(TODAY.year, 1, 1)), world["county"])
    assert county_id not in _gap_people("no_health_check")


def test_the_gap_line_offers_the_care_form_to_the_county(world, login_as):
    county = login_as(world["county"])
    body = county.get(f"/gaps/{COUNTY}?kind=no_accident_insurance").get_data(as_text=True)
    assert "驻村干部没有在保的人身意外伤害保险" in body and "登记保险" in body
    assert f"/care/person/{world['county_cadre'].id}/new?kind=insurance" in body


# -- the pages ---------------------------------------------------------------------------------------

def test_the_county_records_through_the_form_and_comes_back(world, login_as):
    county = login_as(world["county"])
    person, posting = world["county_cadre"], world["county_posting"]
    page = county.get(f"/care/person/{person.id}/new?kind=allowance")
    assert page.status_code == 200 and "生活补助" in page.get_data(as_text=True)
    response = county.post(f"/care/person/{person.id}/new?kind=allowance", data={
        "posting_id": posting.id, "kind": "allowance", "item": "生活补助", "start_date": date(TODAY.year, 1, 1).isoformat(),
        "end_date": date(TODAY.year, 1, 31).isoformat(), "amount": "1.5万"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/care/person/{person.id}")
    care = db.session.scalar(select(CareRecord))
    assert care.amount == 15000 and care.kind == "allowance"
    refused = county.post(f"/care/person/{person.id}/new?kind=allowance", data={
        "posting_id": posting.id, "kind": "allowance", "item": "生活补助", "start_date": "2026-01-01",
        "end_date": "2026-01-31", "amount": ""})
    assert refused.status_code == 422 and "补助金额" in refused.get_data(as_text=True) and rows() == 1


def test_each_kinds_form_asks_what_that_kind_has_in_its_words(world, login_as):
    county = login_as(world["county"])
    person, posting = world["county_cadre"], world["county_posting"]
    url = f"/care/person/{person.id}/new?kind="
    leave = county.get(url + "leave").get_data(as_text=True)
    assert "休假开始日期" in leave and 'name="end_date"' in leave
    assert 'name="amount"' not in leave and 'name="provider_name"' not in leave
    check = county.get(url + "health_check").get_data(as_text=True)
    assert "体检日期" in check and "体检机构" in check and 'name="end_date"' not in check
    insured = county.get(url + "insurance").get_data(as_text=True)
    assert "保险起期" in insured and "承保单位" in insured and "保单号" in insured
    # a leave saved through its form: no amount asked, none stored
    response = county.post(url + "leave", data={
        "posting_id": posting.id, "kind": "leave", "item": "探亲假", "start_date": (TODAY - timedelta(days=9)).isoformat(),
        "end_date": (TODAY - timedelta(days=5)).isoformat()})
    assert response.status_code == 302
    assert db.session.scalar(select(CareRecord.amount).where(CareRecord.kind == "leave")) == 0


def test_a_county_that_did_not_dispatch_sees_why_it_cannot_record(world, login_as):
    county = login_as(world["county"])
    body = county.get(f"/care/person/{world['province_cadre'].id}/new").get_data(as_text=True)
    assert "您不是该干部任何一次选派的派出机关" in body and 'name="item"' not in body


def test_the_cadre_sees_their_own_care_and_gaps_and_nothing_else(world, login_as):
    add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    cadre = login_as(make_cadre(world["county_cadre"], world["unit"]))
    own = cadre.get(f"/care/person/{world['county_cadre'].id}")
    body = own.get_data(as_text=True)
    assert own.status_code == 200 and "已覆盖" in body and "尚未体检" in body and "登记保险" not in body
    assert cadre.get(f"/care/person/{world['province_cadre'].id}").status_code == 404
    care = db.session.scalar(select(CareRecord))
    assert cadre.get(f"/care/{care.id}").status_code == 200
    assert cadre.get("/care/").status_code == 404  # the list is not a cadre's page
    assert cadre.post(f"/care/{care.id}/cancel", data={"reason": "x"}).status_code == 404


def test_who_sees_the_list(world, login_as, make_user):
    add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    assert "县派张三" in login_as(world["viewer"]).get("/care/").get_data(as_text=True)
    assert "县派张三" in login_as(world["unit"]).get("/care/").get_data(as_text=True)
    assert "县派张三" not in login_as(world["other_county"]).get("/care/").get_data(as_text=True)
    village = make_user("village", village_code=world["village"].code)
    assert login_as(village).get("/care/").status_code == 403


def test_the_export_is_audited_and_carries_no_id_numbers(world, login_as):
    add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    viewer = login_as(world["viewer"])
    response = viewer.get("/care/export.csv")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "县派张三" in text and "人身意外伤害保险" in text
    assert world["county_cadre"].id_number not in text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.entity_type == "CareRecord" and "关心关爱" in event.summary


def test_a_persons_care_exports_from_their_page_the_cadres_own_too(world, login_as):
    add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    add_care(world["province_cadre"], health_check(world["province_posting"]), world["province"])
    cadre = login_as(make_cadre(world["county_cadre"], world["unit"]))
    url = f"/care/person/{world['county_cadre'].id}"
    assert f"{url}/export.xlsx" in cadre.get(url).get_data(as_text=True)
    text = cadre.get(f"{url}/export.csv").get_data(as_text=True)
    assert "县派张三" in text and "人身意外伤害保险" in text and "年度体检" not in text
    assert world["county_cadre"].id_number not in text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.entity_type == "CareRecord" and "个人关心关爱记录 1 条" in event.summary
    assert cadre.get(f"/care/person/{world['province_cadre'].id}/export.csv").status_code == 404
    assert "年度体检" in login_as(world["province"]).get(
        f"/care/person/{world['province_cadre'].id}/export.csv").get_data(as_text=True)


def test_the_cadre_home_shows_their_care(world, login_as):
    add_care(world["county_cadre"], insurance(world["county_posting"]), world["county"])
    cadre = login_as(make_cadre(world["county_cadre"], world["unit"]))
    body = cadre.get("/").get_data(as_text=True)
    section = body.split('id="cadre-care"')[1].split("</section>")[0]
    assert "保障至" in section and "尚未体检" in section
    assert f"/care/person/{world['county_cadre'].id}" in section
