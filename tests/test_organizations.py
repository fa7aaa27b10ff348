"""Organizations 帮扶主体: registration rules (credit code, subtype, flags, phone,
jurisdiction), search and filters, scope, editing with a version check, audit, export."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.organizations.models import Organization
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_pairing, make_village, valid_credit_code


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(**kw) -> dict:
    data = {
        "name": "吉首市湘西黄金茶业有限公司", "kind": "enterprise", "subtype": "", "level": "", "region_code": COUNTY,
        "credit_code": valid_credit_code(901), "is_private": "y", "contact_name": "张经理", "contact_phone": "13800138000",
        "address": "吉首市乾州街道", "note": "",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def test_region_staff_registers_an_enterprise(db, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    code = valid_credit_code(902)
    # full-width and lower-case input is normalised, not refused
    messy = code.lower().translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    response = session.post("/organizations/new", _form(credit_code=messy, is_xiangshang="y"))
    assert response.status_code == 302, response.get_data(as_text=True)
    org = db.session.scalar(select(Organization))
    assert org.credit_code == code and org.kind == "enterprise" and org.is_private and org.is_xiangshang
    assert org.region_code == COUNTY
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Organization"))
    assert event.action == "create" and event.region_code == COUNTY and event.organization_id == org.id
    page = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "吉首市湘西黄金茶业有限公司" in page and "湘商回归" in page and "13800138000" in page


def _refused(db, session, data, field_label, message):
    orgs, events = _count(db, Organization), _count(db, AuditEvent)
    response = session.post("/organizations/new", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{field_label}：" in body and message in body, body[body.find("error"):][:600]
    assert _count(db, Organization) == orgs and _count(db, AuditEvent) == events
    return body


def test_bad_credit_code_is_refused_and_nothing_written(db, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    good = valid_credit_code(903)
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    body = _refused(db, session, _form(credit_code=bad), "统一社会信用代码", "统一社会信用代码校验位不正确")
    assert "吉首市湘西黄金茶业有限公司" in body  # the input stays on the form
    _refused(db, session, _form(credit_code="91430100MA4L1"), "统一社会信用代码", "应为18位")
    _refused(db, session, _form(credit_code="91430100MA4L1234IO"), "统一社会信用代码", "不允许的字符")


def test_enterprise_needs_a_credit_code_and_codes_are_unique(db, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, _form(credit_code=""), "统一社会信用代码", "企业须填写统一社会信用代码")
    make_org("enterprise", COUNTY, credit_code=valid_credit_code(904))
    _refused(db, session, _form(credit_code=valid_credit_code(904)), "统一社会信用代码", "已登记")


def test_subtype_and_flags_follow_the_kind(db, login_as, make_user):
    session = login_as(make_user("region", region_code=PROVINCE))
    _refused(db, session, _form(kind="mass_org", is_private=None, region_code=PROVINCE), "类别/领域", "群团组织须选择群团组织类别")
    _refused(db, session, _form(kind="paired_unit", subtype="trade_union", is_private=None), "类别/领域", "对口帮扶单位须选择对口帮扶领域")
    _refused(db, session, _form(kind="backing_unit", subtype="education", is_private=None), "类别/领域", "只有群团组织")
    _refused(db, session, _form(kind="backing_unit"), "民营企业", "只适用于企业")
    response = session.post("/organizations/new", _form(kind="mass_org", subtype="women_federation", is_private=None, name="某县妇联"))
    assert response.status_code == 302
    assert db.session.scalar(select(Organization.subtype)) == "women_federation"


def test_army_unit_needs_no_credit_code(db, login_as, make_user):
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post("/organizations/new", _form(kind="army_unit", credit_code="", is_private=None, region_code=PROVINCE, name="驻湘某部"))
    assert response.status_code == 302
    assert db.session.scalar(select(Organization.credit_code)) is None


def test_bad_contact_phone_is_refused(db, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, _form(contact_phone="12345"), "联系电话", "11位手机号")


def test_county_staff_registers_only_in_its_county(db, login_as, make_user):
    from registry.core.rules import RuleViolation
    from registry.organizations.services import create_organization

    user = make_user("region", region_code=COUNTY)
    session = login_as(user)
    _refused(db, session, _form(region_code=OTHER_COUNTY), "所在行政区", "不是有效的选择")
    try:
        create_organization(_form(region_code=OTHER_COUNTY, is_private=True), actor=user)
    except RuleViolation as violation:
        assert violation.errors == {"region_code": ["所在行政区不在您的管辖范围内"]}
    else:  # pragma: no cover
        raise AssertionError("an organization outside the jurisdiction was registered")
    db.session.rollback()
    assert _count(db, Organization) == 0


def test_only_region_staff_register(login_as, make_user):
    org = make_org()
    assert login_as(make_user("unit", organization_id=org.id)).get("/organizations/new").status_code == 403
    assert login_as(make_user("viewer", region_code=PROVINCE)).post("/organizations/new", _form()).status_code == 403


def test_list_searches_and_filters(db, login_as, make_user):
    make_org("enterprise", COUNTY, name="峒河茶业有限公司", level=None, credit_code=valid_credit_code(905))
    make_org("backing_unit", COUNTY, name="吉首市农业农村局", level="county")
    make_org("mass_org", PROVINCE, name="湖南省妇联", subtype="women_federation")
    make_org("backing_unit", OTHER_COUNTY, name="宁乡市财政局", level="county")
    session = login_as(make_user("region", region_code=PROVINCE))
    body = session.get("/organizations/?q=茶业").get_data(as_text=True)
    assert "峒河茶业有限公司" in body and "吉首市农业农村局" not in body
    body = session.get(f"/organizations/?q={valid_credit_code(905).lower()}").get_data(as_text=True)
    assert "峒河茶业有限公司" in body and "湖南省妇联" not in body
    body = session.get("/organizations/?kind=backing_unit&level=county").get_data(as_text=True)
    assert "吉首市农业农村局" in body and "宁乡市财政局" in body and "湖南省妇联" not in body
    body = session.get(f"/organizations/?region={COUNTY}").get_data(as_text=True)
    assert "吉首市农业农村局" in body and "宁乡市财政局" not in body and "湖南省妇联" not in body


def test_list_is_paginated(db, login_as, make_user):
    for n in range(35):
        make_org("backing_unit", COUNTY, name=f"分页单位{n:02d}")
    session = login_as(make_user("region", region_code=COUNTY))
    first = session.get("/organizations/").get_data(as_text=True)
    assert "共 35 条" in first and "分页单位00" in first and "分页单位34" not in first
    # keyset pages (no ?page= any more): the next page is the one its 下一页 link names
    after = re.search(r'<a href="([^"]+)" rel="next">下一页</a>', first).group(1).replace("&amp;", "&")
    assert "after=" in after and "分页单位34" in session.get(after).get_data(as_text=True)


def test_scope_county_sees_its_own_and_those_helping_it(db, login_as, make_user):
    own = make_org("backing_unit", COUNTY)
    other = make_org("backing_unit", OTHER_COUNTY)
    helping = make_org("paired_unit", PROVINCE, subtype="health")
    village = make_village(COUNTY)
    make_pairing(helping, village.code, kind="paired", sector="health")
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/organizations/{own.id}").status_code == 200
    assert session.get(f"/organizations/{helping.id}").status_code == 200
    assert session.get(f"/organizations/{other.id}").status_code == 404
    body = session.get("/organizations/").get_data(as_text=True)
    assert own.name in body and helping.name in body and other.name not in body
    # helping is visible, but its profile belongs to the province: not editable here
    assert session.get(f"/organizations/{helping.id}/edit").status_code == 403


def test_unit_sees_and_edits_only_its_own_profile(db, login_as, make_user):
    mine = make_org("backing_unit", COUNTY, name="本单位")
    other = make_org("backing_unit", COUNTY, name="别的单位")
    session = login_as(make_user("unit", organization_id=mine.id))
    assert session.get(f"/organizations/{other.id}").status_code == 404
    assert session.get(f"/organizations/{other.id}/edit").status_code == 404
    assert session.post(f"/organizations/{other.id}/edit", {"name": "改名"}).status_code == 404
    body = session.get("/organizations/").get_data(as_text=True)
    assert "本单位" in body and "别的单位" not in body
    form = {"name": "本单位（新名）", "subtype": "", "credit_code": mine.credit_code, "contact_name": "李四",
            "contact_phone": "0743-8512345", "address": "", "note": "", "version": str(mine.version),
            # a unit cannot move itself or change what it is: these are ignored
            "kind": "enterprise", "region_code": OTHER_COUNTY, "level": "central"}
    response = session.post(f"/organizations/{mine.id}/edit", form)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    mine = db.session.get(Organization, mine.id)
    assert mine.name == "本单位（新名）" and mine.contact_phone == "0743-8512345"
    assert mine.kind == "backing_unit" and mine.region_code == COUNTY and mine.level == "provincial"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "update"))
    assert event.entity_id == str(mine.id) and '"name":"本单位"' in event.before


def test_stale_edit_is_refused_with_input_kept(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY, name="原名")
    session = login_as(make_user("region", region_code=COUNTY))
    stale = str(org.version)
    org.contact_name = "别人改过"
    db.session.commit()
    events = _count(db, AuditEvent)
    form = {"name": "我的新名字", "kind": "backing_unit", "subtype": "", "level": "county", "region_code": COUNTY,
            "credit_code": org.credit_code, "version": stale}
    response = session.post(f"/organizations/{org.id}/edit", form)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "已被他人修改" in body and "我的新名字" in body
    db.session.expire_all()
    assert db.session.get(Organization, org.id).name == "原名" and _count(db, AuditEvent) == events


def test_export_masks_contact_phone_for_readers(db, login_as, make_user):
    make_org("enterprise", COUNTY, name="=危险公司", contact_phone="13912345678", level=None)
    viewer = login_as(make_user("viewer", region_code=PROVINCE))
    response = viewer.get("/organizations/export.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][0] == "'=危险公司"  # no formula injection
    assert "139****5678" in rows[1] and "13912345678" not in str(rows)
    assert "13912345678" not in viewer.get("/organizations/export.csv").get_data(as_text=True)
    staff = login_as(make_user("region", region_code=COUNTY))
    assert "13912345678" in staff.get("/organizations/export.csv?purpose=核对名单").get_data(as_text=True)
    assert staff.get("/organizations/export.pdf").status_code == 404


def test_a_list_of_enterprises_in_its_own_words_imports(db, make_user, login_as):
    """A 万企兴万村 list as kept: 企业名称, 单位类型 国有企业, 所在地, 是否民营企业, 电话."""
    from tests.sheets import csv_bytes, upload

    county = login_as(make_user("region", region_code=COUNTY))
    body = csv_bytes([["序号", "企业名称", "单位类型", "所在地", "统一社会信用代码", "是否民营企业", "电话"],
                      [1, "县城投公司", "国有企业", COUNTY, valid_credit_code(801), "否", "0743-8123456"],
                      [2, "甲农业开发有限公司", "企业", COUNTY, valid_credit_code(802), "是", "13900000009"]])
    response = upload(county, "organizations", body, "企业名单.csv")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    stored = db.session.scalars(select(Organization).where(Organization.name.in_(["县城投公司", "甲农业开发有限公司"]))
                                .order_by(Organization.name)).all()
    assert sorted((o.name, o.kind, o.is_private, o.contact_phone) for o in stored) == sorted([
        ("县城投公司", "enterprise", False, "0743-8123456"), ("甲农业开发有限公司", "enterprise", True, "13900000009")])
