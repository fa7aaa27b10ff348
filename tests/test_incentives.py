"""Commendation (表扬激励) and summons (约谈): who may issue them, the rules of the form,
and a summons' follow-up from 待整改 through 整改中 to 已销号."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry.assessment.models import Incentive
from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_pairing
from tests.factories_assessment import posted_secretary


def count(model=Incentive) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(**over):
    data = {"kind": "summons", "issued_on": local_today().isoformat(), "level": "county",
            "reason": "连续两月在村天数不足，群众反映走访少", "document_number": "吉乡振约〔2026〕2号"}
    data.update(over)
    return data


@pytest.fixture()
def world(app, make_user, login_as):
    village, org, person, posting = posted_secretary()
    return {
        "village": village, "org": org, "person": person, "posting": posting,
        "county": login_as(make_user("region", region_code=COUNTY)),
        "unit": login_as(make_user("unit", organization_id=org.id)),
    }


def _summon(world, **over):
    response = world["county"].post(f"/incentives/new/person/{world['person'].id}", data=_form(**over))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return db.session.scalar(select(Incentive).order_by(Incentive.id.desc()))


def test_a_county_commends_a_person_posted_in_it(world):
    response = world["county"].post(f"/incentives/new/person/{world['person'].id}",
                                     data=_form(kind="commendation", reason="带领村民发展油茶产业成效明显"))
    assert response.status_code == 302
    incentive = db.session.scalar(select(Incentive))
    assert (incentive.kind, incentive.follow_up, incentive.region_code, incentive.subject_region_code) == (
        "commendation", None, COUNTY, world["village"].code)
    assert incentive.organization_id == world["org"].id
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.entity_type == "Incentive")).startswith("县级表扬激励")


def test_a_summons_is_followed_to_closure(world):
    incentive = _summon(world)
    assert incentive.follow_up == "open"
    county, unit = world["county"], world["unit"]
    # closing before any rectification is refused
    before = count(AuditEvent)
    response = county.post(f"/incentives/{incentive.id}/close", data={"note": "已整改", "version": incentive.version})
    assert response.status_code == 422 and "说明：请先登记整改情况，再销号" in response.get_data(as_text=True)
    # the summoned unit reports what it is doing; a note is required
    response = unit.post(f"/incentives/{incentive.id}/rectify", data={"note": "  ", "version": incentive.version})
    assert response.status_code == 422 and "说明：请填写整改措施" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Incentive, incentive.id).follow_up == "open" and count(AuditEvent) == before
    assert unit.post(f"/incentives/{incentive.id}/rectify",
                     data={"note": "制定驻村考勤制度，每周向乡镇报备", "version": incentive.version}).status_code == 302
    db.session.expire_all()
    incentive = db.session.get(Incentive, incentive.id)
    assert incentive.follow_up == "rectifying" and incentive.rectify_note.startswith("制定驻村考勤制度")
    # the unit may not close it; the county needs a closing note
    assert unit.post(f"/incentives/{incentive.id}/close", data={"note": "好了"}).status_code == 403
    response = county.post(f"/incentives/{incentive.id}/close", data={"note": "", "version": incentive.version})
    assert response.status_code == 422 and "说明：销号须填写整改结果说明" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Incentive, incentive.id).follow_up == "rectifying"
    assert county.post(f"/incentives/{incentive.id}/close",
                       data={"note": "连续三月在村均超过22天，经核查整改到位", "version": incentive.version}).status_code == 302
    db.session.expire_all()
    incentive = db.session.get(Incentive, incentive.id)
    assert incentive.follow_up == "closed" and incentive.closed_by_id == county.user.id
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "Incentive").order_by(AuditEvent.id)
    ).all()
    assert actions == ["create", "rectify", "close"]
    page = county.get(f"/incentives/{incentive.id}").get_data(as_text=True)
    assert "经核查整改到位" in page and "已销号" in page
    # closed is final
    response = county.post(f"/incentives/{incentive.id}/close", data={"note": "再次销号", "version": incentive.version})
    assert response.status_code == 422


def test_a_stale_follow_up_is_refused(world):
    incentive = _summon(world)
    stale = incentive.version
    incentive.document_number = "改过"
    db.session.commit()
    response = world["unit"].post(f"/incentives/{incentive.id}/rectify", data={"note": "整改", "version": stale})
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "over, field, message",
    [
        ({"issued_on": (local_today() + timedelta(days=1)).isoformat()}, "日期", "日期不能晚于今天"),
        ({"issued_on": "2020-12-31"}, "日期", "日期不能早于2021年1月1日"),
        ({"issued_on": "昨天"}, "日期", "日期格式应为 年-月-日"),
        ({"level": "provincial"}, "层级", "只能登记县级、乡镇级的表扬激励或约谈"),
        ({"reason": " "}, "事由", "请填写事由"),
        ({"kind": "reward"}, "类别", "请选择类别（表扬激励或约谈）"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_written(world, over, field, message):
    before = count(AuditEvent)
    response = world["county"].post(f"/incentives/new/person/{world['person'].id}", data=_form(**over))
    assert response.status_code == 422
    assert f"{field}：{message}" in response.get_data(as_text=True)
    assert count() == 0 and count(AuditEvent) == before


def test_only_staff_of_the_jurisdiction_summon(world, make_user, login_as):
    person = world["person"]
    other_county = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert other_county.get(f"/incentives/new/person/{person.id}").status_code == 404
    assert other_county.post(f"/incentives/new/person/{person.id}", data=_form()).status_code == 404
    for session in (world["unit"], login_as(make_user("viewer", region_code=COUNTY)),
                    login_as(make_user("village", village_code=world["village"].code))):
        assert session.post(f"/incentives/new/person/{person.id}", data=_form()).status_code == 403
    assert count() == 0


def test_who_sees_and_acts_on_a_summons(world, make_user, login_as):
    incentive = _summon(world)
    other_unit = login_as(make_user("unit", organization_id=make_org().id))
    assert other_unit.get(f"/incentives/{incentive.id}").status_code == 404
    assert other_unit.post(f"/incentives/{incentive.id}/rectify", data={"note": "x"}).status_code == 404
    assert login_as(make_user("region", region_code=OTHER_COUNTY)).get(f"/incentives/{incentive.id}").status_code == 404
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    assert viewer.get(f"/incentives/{incentive.id}").status_code == 200
    assert viewer.post(f"/incentives/{incentive.id}/close", data={"note": "x"}).status_code == 403
    assert world["unit"].get(f"/incentives/{incentive.id}").status_code == 200
    db.session.expire_all()
    assert db.session.get(Incentive, incentive.id).follow_up == "open"


def test_a_county_cannot_close_the_provinces_summons(world, make_user, login_as):
    province = login_as(make_user("region", region_code=PROVINCE))
    province.post(f"/incentives/new/person/{world['person'].id}", data=_form(level="provincial"))
    incentive = db.session.scalar(select(Incentive))
    world["unit"].post(f"/incentives/{incentive.id}/rectify", data={"note": "整改中", "version": incentive.version})
    county = world["county"]
    assert county.get(f"/incentives/{incentive.id}").status_code == 200  # the subject works in the county
    assert county.post(f"/incentives/{incentive.id}/close", data={"note": "销号"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Incentive, incentive.id).follow_up == "rectifying"


def test_summons_of_an_organization_helping_in_the_county(world, make_user, login_as):
    helper = make_org("enterprise", name="示范企业")
    make_pairing(helper, world["village"].code, "enterprise_village")
    stranger = make_org("enterprise", region_code=OTHER_COUNTY, level="county")
    county = world["county"]
    assert county.post(f"/incentives/new/organization/{stranger.id}", data=_form()).status_code == 404
    assert county.post(f"/incentives/new/organization/{helper.id}", data=_form(reason="村企结对项目推进缓慢")).status_code == 302
    incentive = db.session.scalar(select(Incentive))
    assert (incentive.subject_kind, incentive.organization_id, incentive.follow_up) == ("organization", helper.id, "open")
    helper_unit = login_as(make_user("unit", organization_id=helper.id))
    assert "约谈整改" in helper_unit.get("/").get_data(as_text=True)
    assert "示范企业" in county.get("/").get_data(as_text=True)  # open summons on the county's home page


def test_choose_subject_finds_people_and_organizations_in_scope(world):
    body = world["county"].get("/incentives/new?q=测试").get_data(as_text=True)
    assert world["person"].name in body
    assert world["unit"].get("/incentives/new?q=测试").status_code == 403


def test_the_list_filters_open_summons(world):
    _summon(world)
    world["county"].post(f"/incentives/new/person/{world['person'].id}", data=_form(kind="commendation", reason="表现突出"))
    body = world["county"].get("/incentives/?follow_up=pending").get_data(as_text=True)
    assert "待整改" in body and "表现突出" not in body
    assert "表现突出" in world["county"].get("/incentives/?kind=commendation").get_data(as_text=True)


def test_incentives_and_assessments_export_in_scope_and_audited(world, make_user, login_as):
    import io

    from openpyxl import load_workbook

    _summon(world)
    county = world["county"]
    sheet = load_workbook(io.BytesIO(county.get("/incentives/export.xlsx?follow_up=open").data)).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:3] == ["类型", "对象", "姓名或单位"] and len(rows) == 2
    assert rows[1][0] == "约谈" and rows[1][2] == world["person"].name and rows[1][8] == "待整改"
    # the home page's 未销号 list exports with its filter written on the sheet
    book = load_workbook(io.BytesIO(county.get("/incentives/export.xlsx?follow_up=pending").data), read_only=True)
    about = {row[0]: row[1] for row in book.worksheets[1].iter_rows(values_only=True)}
    assert "整改状态：未销号" in about["筛选条件"], about
    assert world["person"].name not in login_as(make_user("region", region_code=OTHER_COUNTY)).get(
        "/incentives/export.csv").get_data(as_text=True)
    year = local_today().year
    body = county.get(f"/assessment/export.csv?year={year}").get_data(as_text=True)
    assert body.startswith("\ufeff年度,对象,姓名或单位")
    exports = db.session.scalars(select(AuditEvent.summary).where(AuditEvent.action == "export")).all()
    assert any(s.startswith("导出表扬激励与约谈 1 条") for s in exports)
    assert any(s.startswith("导出考核结果 0 条") for s in exports)
