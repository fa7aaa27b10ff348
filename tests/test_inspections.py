"""Inspections (督查): who plans and inspects whom, visits and findings, the findings'
rectification (the shared cycle: only the inspecting level closes, never the inspected party),
scope, overdue findings on the worklists and in the daily scan, export, and the yearly figure."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.inspections import services
from registry.inspections.figures import findings_rectified
from registry.inspections.models import Finding, FindingEvidence, Inspection, InspectionPlan, InspectionVisit
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org
from tests.factories_records import png_bytes

TODAY = local_today()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def w(app, make_user, login_as):
    """The province inspects 吉首市 (a county) and a provincial department; 湘西州 (the city)
    inspects 吉首市 too. Accounts of each side. Built once per test process
    on SQLite and copied back for each test (``built_once``), anew on PostgreSQL."""
    from tests.conftest import built_once

    def build():
        dept = make_org("backing_unit", PROVINCE, name="省测试厅", level="provincial")
        other_dept = make_org("backing_unit", PROVINCE, name="省另一厅", level="provincial")
        users = {
            "province": make_user("region", region_code=PROVINCE),
            "city": make_user("region", region_code=CITY),
            "county": make_user("region", region_code=COUNTY),
            "other_county": make_user("region", region_code=OTHER_COUNTY),
            "township": make_user("region", region_code=first_township(COUNTY).code),
            "viewer": make_user("viewer", region_code=COUNTY),
            "dept": make_user("unit", organization_id=dept.id),
            "other_dept": make_user("unit", organization_id=other_dept.id),
        }
        year = TODAY.year
        plan = services.create_plan(users["province"], year, "省级乡村振兴督查")
        county_inspection = services.add_inspection(plan, users["province"], f"region:{COUNTY}")
        dept_inspection = services.add_inspection(plan, users["province"], f"organization:{dept.id}")
        finding = services.add_finding(county_inspection, users["province"], services.FindingData(
            "funds", "衔接资金项目进度滞后", (TODAY + timedelta(days=30)).isoformat()))
        dept_finding = services.add_finding(dept_inspection, users["province"], services.FindingData(
            "paired_support", "定点帮扶村走访不足", (TODAY + timedelta(days=30)).isoformat()))
        return {"users": users, "dept": dept, "plan": plan, "county_inspection": county_inspection,
                "dept_inspection": dept_inspection, "finding": finding, "dept_finding": dept_finding}

    w = built_once("inspections.w", build)
    return {**w, "login": lambda name: login_as(w["users"][name])}


# -- plans and who inspects whom -------------------------------------------------------------------


def test_only_the_province_and_cities_plan(w):
    assert w["login"]("county").get("/inspections/plans/new").status_code == 403
    assert w["login"]("viewer").get("/inspections/plans/new").status_code == 403
    assert w["login"]("dept").get("/inspections/plans/new").status_code == 403
    city = w["login"]("city")
    assert city.get("/inspections/plans/new").status_code == 200
    response = city.post("/inspections/plans/new", data={"year": str(TODAY.year), "title": "湘西州督查"})
    assert response.status_code == 302
    plan = db.session.scalar(select(InspectionPlan).where(InspectionPlan.region_code == CITY))
    assert plan.year == TODAY.year
    # one plan a year
    before = count(AuditEvent)
    response = city.post("/inspections/plans/new", data={"year": str(TODAY.year), "title": "再来一个"})
    assert response.status_code == 422 and f"湘西土家族苗族自治州{TODAY.year}年度的督查计划已经存在" in response.get_data(as_text=True)
    response = city.post("/inspections/plans/new", data={"year": "1999", "title": "太早"})
    assert response.status_code == 422 and "督查年度：督查年度应在" in response.get_data(as_text=True)
    assert count(InspectionPlan) == 2 and count(AuditEvent) == before


def test_who_is_inspected_by_whom(w):
    province, city = w["users"]["province"], w["users"]["city"]
    city_plan = services.create_plan(city, TODAY.year, "湘西州督查")
    with pytest.raises(RuleViolation, match="请在列表中选择督查对象"):
        services.add_inspection(city_plan, city, f"region:{OTHER_COUNTY}")  # not under the city
    with pytest.raises(RuleViolation, match="只有省级督查计划可以督查省直部门"):
        services.add_inspection(city_plan, city, f"organization:{w['dept'].id}")
    with pytest.raises(RuleViolation, match="请在列表中选择督查对象"):
        services.add_inspection(city_plan, city, f"region:{CITY}")  # a city does not inspect itself
    county_org = make_org("backing_unit", COUNTY, level="county")
    with pytest.raises(RuleViolation, match="只有省级督查计划可以督查省直部门"):
        services.add_inspection(w["plan"], province, f"organization:{county_org.id}")
    with pytest.raises(RuleViolation, match="该督查对象已在计划中"):
        services.add_inspection(w["plan"], province, f"region:{COUNTY}")
    inspection = services.add_inspection(city_plan, city, f"region:{COUNTY}")
    assert (inspection.inspector_region_code, inspection.target_region_code) == (CITY, COUNTY)
    # the choices a plan offers follow the same rule
    assert all(value.startswith("region:4331") for value, _ in services.target_choices(city_plan))
    assert f"organization:{w['dept'].id}" not in {v for v, _ in services.target_choices(w["plan"])}  # taken
    # the county may not touch the province's plan
    assert w["login"]("county").post(f"/inspections/plans/{w['plan'].id}/targets",
                                     data={"target": f"region:{CITY}"}).status_code == 404
    assert w["login"]("city").post(f"/inspections/plans/{w['plan'].id}/targets",
                                   data={"target": f"region:{CITY}"}).status_code == 404


def test_a_visit_is_dated_in_the_plans_year_and_has_a_team(w):
    province = w["login"]("province")
    url = f"/inspections/{w['county_inspection'].id}/visits"
    for data, message in (
        ({"visited_on": (TODAY + timedelta(days=1)).isoformat(), "team": "张三"}, "督查日期：督查日期不能晚于今天"),
        ({"visited_on": f"{TODAY.year - 1}-06-01", "team": "张三"}, f"督查日期：督查日期应在{TODAY.year}年内"),
        ({"visited_on": "昨天", "team": "张三"}, "督查日期：请填写督查日期"),
        ({"visited_on": TODAY.isoformat(), "team": " "}, "督查组成员：请填写督查组成员"),
    ):
        response = province.post(url, data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    assert count(InspectionVisit) == 0
    assert province.post(url, data={"visited_on": TODAY.isoformat(), "team": "省督查组 张三（组长）、李四"}).status_code == 302
    assert w["login"]("county").post(url, data={"visited_on": TODAY.isoformat(), "team": "自查"}).status_code == 403
    assert count(InspectionVisit) == 1


def test_a_finding_needs_an_item_a_description_and_a_deadline_not_past(w):
    province = w["login"]("province")
    url = f"/inspections/{w['county_inspection'].id}/findings"
    before = (count(Finding), count(AuditEvent))
    for data, message in (
        ({"item": "", "description": "x", "deadline": TODAY.isoformat()}, "督查事项：请选择督查事项"),
        ({"item": "funds", "description": "", "deadline": TODAY.isoformat()}, "问题描述：请填写问题描述"),
        ({"item": "funds", "description": "x", "deadline": (TODAY - timedelta(days=1)).isoformat()},
         "整改期限：整改期限不能早于今天"),
        ({"item": "funds", "description": "x", "deadline": ""}, "整改期限：请填写整改期限"),
        ({"item": "funds", "description": "x", "deadline": TODAY.isoformat(), "visit_id": "999"},
         "所属走访：请选择本次督查的走访"),
    ):
        response = province.post(url, data=data)
        assert response.status_code == 422 and message in response.get_data(as_text=True), message
    response = province.post(url, data={"item": "funds", "description": "x", "deadline": TODAY.isoformat(),
                                        "files": (io.BytesIO(b"<html>not a photo</html>"), "a.png")},
                             content_type="multipart/form-data")
    assert response.status_code == 422 and "不是 JPEG、PNG、WebP 照片或 PDF 文件" in response.get_data(as_text=True)
    assert (count(Finding), count(AuditEvent)) == before
    response = province.post(url, data={"item": "monitoring", "description": "监测对象识别不及时", "deadline": TODAY.isoformat(),
                                        "files": (io.BytesIO(png_bytes()), "现场.png")},
                             content_type="multipart/form-data")
    assert response.status_code == 302
    finding = db.session.scalar(select(Finding).order_by(Finding.id.desc()))
    assert (finding.status, finding.target_region_code, finding.year) == ("open", COUNTY, TODAY.year)
    assert [(e.stage, e.original_name) for e in finding.evidence] == [("finding", "现场.png")]


# -- the rectification cycle ------------------------------------------------------------------------


def test_the_inspected_party_rectifies_and_only_the_inspecting_level_closes(w):
    finding = w["finding"]
    county, province = w["login"]("county"), w["login"]("province")
    url = f"/inspections/findings/{finding.id}"
    # the province cannot register the county's rectification; the county does
    assert province.post(url + "/rectify", data={"note": "x", "version": finding.version}).status_code == 403
    response = county.post(url + "/close", data={"note": "已整改", "version": finding.version})
    assert response.status_code == 403
    response = province.post(url + "/close", data={"note": "已整改", "version": finding.version})
    assert response.status_code == 422 and "说明：请先登记整改情况，再销号" in response.get_data(as_text=True)
    response = county.post(url + "/rectify", data={"note": " ", "version": finding.version})
    assert response.status_code == 422 and "说明：请填写整改措施" in response.get_data(as_text=True)
    assert county.post(url + "/rectify", data={"note": "已拨付资金，项目复工", "version": finding.version}).status_code == 302
    db.session.expire_all()
    finding = db.session.get(Finding, finding.id)
    assert finding.status == "rectifying" and finding.rectified_by_id == county.user.id
    # the inspected party may not close its own finding: refused by the view and by the rule itself
    assert county.post(url + "/close", data={"note": "我们已整改", "version": finding.version}).status_code == 403
    with pytest.raises(RuleViolation, match="被督查方不能自行销号"):
        services.close(finding, "我们已整改", w["users"]["county"])
    db.session.rollback()
    assert db.session.get(Finding, finding.id).status == "rectifying"
    # the city (above the county, not the inspecting level) may not close the province's finding
    assert w["login"]("city").post(url + "/close", data={"note": "x", "version": finding.version}).status_code == 403
    assert province.post(url + "/close", data={"note": "经核查整改到位", "version": finding.version}).status_code == 302
    db.session.expire_all()
    finding = db.session.get(Finding, finding.id)
    assert finding.status == "closed" and finding.closed_by_id == province.user.id
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "Finding", AuditEvent.entity_id == str(finding.id)).order_by(AuditEvent.id)).all()
    assert actions == ["create", "rectify", "close"]
    assert "经核查整改到位" in county.get(url).get_data(as_text=True)
    response = province.post(url + "/close", data={"note": "再次销号", "version": finding.version})
    assert response.status_code == 422 and "说明：该督查问题已销号" in response.get_data(as_text=True)


def test_a_department_rectifies_its_own_finding_and_cannot_close_it(w):
    finding = w["dept_finding"]
    dept = w["login"]("dept")
    url = f"/inspections/findings/{finding.id}"
    assert w["login"]("other_dept").post(url + "/rectify", data={"note": "x"}).status_code == 404
    assert dept.post(url + "/rectify", data={"note": "已补齐走访", "version": finding.version}).status_code == 302
    db.session.expire_all()
    assert dept.post(url + "/close", data={"note": "x"}).status_code == 403  # a unit never closes
    with pytest.raises(RuleViolation, match="被督查方不能自行销号"):
        services.close(db.session.get(Finding, finding.id), "x", w["users"]["dept"])


def test_a_city_inspected_by_the_province_cannot_close_its_finding(w):
    province, city = w["users"]["province"], w["users"]["city"]
    inspection = services.add_inspection(w["plan"], province, f"region:{CITY}")
    finding = services.add_finding(inspection, province, services.FindingData(
        "responsibility", "责任清单未细化", TODAY.isoformat()))
    services.rectify(finding, "已细化", city)
    assert not services.may_close(city, finding)
    with pytest.raises(RuleViolation):
        services.close(finding, "x", city)


def test_a_stale_rectification_is_refused(w):
    finding = w["finding"]
    stale = finding.version
    finding.description = "改过"
    db.session.commit()
    response = w["login"]("county").post(f"/inspections/findings/{finding.id}/rectify", data={"note": "x", "version": stale})
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)


def test_the_summons_and_the_findings_share_one_cycle():
    from registry.assessment.services import SUMMONS_FOLLOW_UP
    from registry.core.rectification import RectificationCycle

    assert isinstance(SUMMONS_FOLLOW_UP, RectificationCycle) and isinstance(services.FINDING_CYCLE, RectificationCycle)
    assert type(SUMMONS_FOLLOW_UP).rectify is type(services.FINDING_CYCLE).rectify


def test_each_step_tells_the_owner_and_the_inspector(w):
    from registry.notifications.models import Notification

    def titles(user):
        return db.session.scalars(select(Notification.title).where(
            Notification.user_id == user.id, Notification.kind == "inspection").order_by(Notification.id)).all()

    county, province = w["users"]["county"], w["users"]["province"]
    assert titles(county)[0].startswith("督查问题待整改：")
    services.rectify(w["finding"], "整改中", county)
    assert titles(province)[-1].startswith("督查问题已登记整改：")
    services.close(w["finding"], "销号", province)
    assert titles(county)[-1].startswith("督查问题已销号：")
    assert titles(w["users"]["dept"]) == [t for t in titles(w["users"]["dept"]) if "省测试厅" in t]


# -- evidence ---------------------------------------------------------------------------------------


def test_evidence_by_each_side_and_none_after_closing(w):
    finding = w["finding"]
    url = f"/inspections/findings/{finding.id}/evidence"

    def upload(session, name):
        return session.post(url, data={"files": (io.BytesIO(png_bytes(color=(len(name), 9, 9))), name)},
                            content_type="multipart/form-data")

    assert upload(w["login"]("county"), "整改后.png").status_code == 302
    assert upload(w["login"]("province"), "问题.png").status_code == 302
    assert upload(w["login"]("city"), "市里.png").status_code == 403  # neither side of this inspection
    assert upload(w["login"]("viewer"), "v.png").status_code == 403
    assert upload(w["login"]("other_county"), "x.png").status_code == 404
    stages = dict(db.session.execute(select(FindingEvidence.original_name, FindingEvidence.stage)).all())
    assert stages == {"整改后.png": "rectification", "问题.png": "finding"}
    item = db.session.scalar(select(FindingEvidence).where(FindingEvidence.original_name == "整改后.png"))
    file_url = f"/inspections/findings/{finding.id}/evidence/{item.id}"
    response = w["login"]("viewer").get(file_url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    response.close()  # a file response holds the file open until closed
    assert w["login"]("other_county").get(file_url).status_code == 404
    assert w["login"]("county").get(f"/inspections/findings/{w['dept_finding'].id}/evidence/{item.id}").status_code == 404
    services.rectify(finding, "整改", w["users"]["county"])
    services.close(finding, "销号", w["users"]["province"])
    response = upload(w["login"]("county"), "晚了.png")
    assert response.status_code == 422 and "已销号的督查问题不能再上传材料" in response.get_data(as_text=True)
    assert count(FindingEvidence) == 2


# -- scope --------------------------------------------------------------------------------------------


def test_who_sees_an_inspection(w):
    finding, dept_finding = w["finding"], w["dept_finding"]
    plan, inspection = w["plan"], w["county_inspection"]
    seen = {
        "province": (200, 200, 200, 200), "city": (404, 200, 200, 404), "county": (404, 200, 200, 404),
        "viewer": (404, 200, 200, 404), "township": (404, 404, 404, 404), "other_county": (404, 404, 404, 404),
        "dept": (404, 404, 404, 200), "other_dept": (404, 404, 404, 404),
    }
    for name, expected in seen.items():
        session = w["login"](name)
        got = tuple(session.get(url).status_code for url in (
            f"/inspections/plans/{plan.id}", f"/inspections/{inspection.id}", f"/inspections/findings/{finding.id}",
            f"/inspections/findings/{dept_finding.id}"))
        assert got == expected, name
    assert w["login"]("viewer").post(f"/inspections/findings/{finding.id}/rectify", data={"note": "x"}).status_code == 403
    body = w["login"]("county").get("/inspections/findings/").get_data(as_text=True)
    assert "衔接资金项目进度滞后" in body and "定点帮扶村走访不足" not in body


# -- overdue --------------------------------------------------------------------------------------------


def _overdue(w) -> Finding:
    finding = w["finding"]
    finding.deadline = TODAY - timedelta(days=5)
    db.session.commit()
    return finding


def test_an_overdue_finding_is_on_the_worklists(w):
    county = w["login"]("county")
    assert "督查问题逾期未销号" not in county.get("/").get_data(as_text=True)
    finding = _overdue(w)
    home = county.get("/").get_data(as_text=True)
    assert "督查问题逾期未销号" in home and "已逾期5天" in home
    assert "督查问题逾期未销号" in w["login"]("province").get("/").get_data(as_text=True)
    assert "督查问题逾期未销号" not in w["login"]("dept").get("/").get_data(as_text=True)
    listed = county.get("/inspections/findings/?state=overdue").get_data(as_text=True)
    assert "衔接资金项目进度滞后" in listed and "逾期5天" in listed
    services.rectify(finding, "整改中", w["users"]["county"])  # still overdue until closed
    assert "督查问题逾期未销号" in county.get("/").get_data(as_text=True)
    services.close(finding, "销号", w["users"]["province"])
    assert "督查问题逾期未销号" not in county.get("/").get_data(as_text=True)


def test_the_owner_is_told_once_when_a_finding_becomes_overdue(w):
    from registry.notifications.models import Notification
    from registry.notifications.scan import scan

    assert scan().counts["finding_overdue"] == 0
    _overdue(w)
    assert scan().counts["finding_overdue"] == 1
    assert scan().counts["finding_overdue"] == 0  # never twice
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "finding_overdue")).all()
    assert told == [w["users"]["county"].id]


# -- export and the yearly figure ------------------------------------------------------------------


def test_findings_export_with_filters_in_scope(w):
    from openpyxl import load_workbook

    _overdue(w)
    county = w["login"]("county")
    sheet = load_workbook(io.BytesIO(county.get("/inspections/findings/export.xlsx?state=overdue").data)).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:4] == ["编号", "年度", "督查单位", "被督查对象"] and len(rows) == 2
    assert rows[1][0] == w["finding"].id and rows[1][8] == "是"
    csv = w["login"]("province").get("/inspections/findings/export.csv").get_data(as_text=True)
    assert "衔接资金项目进度滞后" in csv and "定点帮扶村走访不足" in csv
    assert "定点帮扶村走访不足" not in county.get("/inspections/findings/export.csv").get_data(as_text=True)
    assert county.get("/inspections/findings/export.pdf").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity_type == "Finding")) == 3


def _csv_rows(response) -> list[dict]:
    import csv

    text = response.get_data(as_text=True).lstrip("\ufeff")
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("编号,"))  # after the filters' line
    return list(csv.DictReader(lines[start:]))


def test_the_inspections_list_exports_as_filtered_in_scope_and_audited(w):
    """The list of inspections (督查对象) exports with its year filter: each inspection's plan,
    inspecting level and body, the inspected party, its visits and its findings by state, and
    the result in words; only the inspections in scope; the export is on the record."""
    from openpyxl import load_workbook

    province, county = w["users"]["province"], w["users"]["county"]
    services.add_visit(w["county_inspection"], province, TODAY, "督查组：甲、乙")
    _overdue(w)
    services.add_finding(w["county_inspection"], province, services.FindingData("training", "培训不足", TODAY))
    last_year = services.create_plan(w["users"]["city"], TODAY.year - 1, "湘西州上年督查")
    earlier = services.add_inspection(last_year, w["users"]["city"], f"region:{COUNTY}")

    rows = {int(r["编号"]): r for r in _csv_rows(w["login"]("province").get("/inspections/export.csv"))}
    assert set(rows) == set(db.session.scalars(select(Inspection.id)))
    line = rows[w["county_inspection"].id]
    assert line["年度"] == str(TODAY.year) and line["督查计划"] == "省级乡村振兴督查"
    assert line["督查层级"] == "省级" and line["督查单位"] == "湖南省"
    assert line["被督查对象"] == "吉首市" and line["对象类别"] == "地区"
    assert line["走访次数"] == "1" and line["走访日期"] == f"{TODAY.year}年{TODAY.month}月{TODAY.day}日"
    assert (line["问题数"], line["待整改"], line["整改中"], line["已销号"], line["逾期未销号"]) == ("2", "2", "0", "0", "1")
    assert line["督查结果"] == "有问题逾期未销号"
    dept_line = rows[w["dept_inspection"].id]
    assert dept_line["被督查对象"] == "省测试厅" and dept_line["对象类别"] == "省直部门"
    assert dept_line["走访次数"] == "0" and dept_line["督查结果"] == "问题整改中"

    # the year filter, as on the page
    this_year = _csv_rows(w["login"]("province").get(f"/inspections/export.csv?year={TODAY.year}"))
    assert {int(r["编号"]) for r in this_year} == {w["county_inspection"].id, w["dept_inspection"].id}
    assert w["login"]("province").get("/inspections/export.csv?year=abc").status_code == 400
    earlier_line = rows[earlier.id]
    assert earlier_line["督查层级"] == "市州级" and earlier_line["督查结果"] == "尚未走访"

    # scope: the county sees the inspections of itself (not the department's), and not the
    # province's plan title (the plan is not in its scope)
    mine = {int(r["编号"]): r for r in _csv_rows(w["login"]("county").get("/inspections/export.csv"))}
    assert w["county_inspection"].id in mine and w["dept_inspection"].id not in mine
    assert mine[w["county_inspection"].id]["督查计划"] == ""
    assert _csv_rows(w["login"]("other_county").get("/inspections/export.csv")) == []
    dept = _csv_rows(w["login"]("dept").get("/inspections/export.csv"))
    assert [int(r["编号"]) for r in dept] == [w["dept_inspection"].id]

    sheet = load_workbook(io.BytesIO(w["login"]("county").get(
        f"/inspections/export.xlsx?year={TODAY.year}").data)).worksheets[0]
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(n for n, r in enumerate(values) if r[0] == "编号")
    assert values[header][:6] == ["编号", "年度", "督查计划", "督查层级", "督查单位", "被督查对象"]
    assert [r[0] for r in values[header + 1:]] == [w["county_inspection"].id]
    assert w["login"]("county").get("/inspections/export.pdf").status_code == 404
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "export", AuditEvent.entity_type == "Inspection").order_by(AuditEvent.id.desc())).first()
    assert "导出督查" in event.summary and f"年度：{TODAY.year}年" in event.summary
    page = w["login"]("province").get(f"/inspections/?year={TODAY.year}").get_data(as_text=True)
    assert f"/inspections/export.xlsx?year={TODAY.year}" in page and "/inspections/export.csv" in page


def test_findings_rectified_counts_the_regions_findings_of_the_year(w):
    province, county = w["users"]["province"], w["users"]["county"]
    assert findings_rectified(COUNTY, TODAY.year) == (0, 1)
    city_plan = services.create_plan(w["users"]["city"], TODAY.year, "湘西州督查")
    inspection = services.add_inspection(city_plan, w["users"]["city"], f"region:{COUNTY}")
    second = services.add_finding(inspection, w["users"]["city"], services.FindingData("training", "培训不足", TODAY))
    services.rectify(w["finding"], "整改", county)
    services.close(w["finding"], "销号", province)
    services.rectify(second, "整改", county)  # rectifying is not closed
    assert findings_rectified(COUNTY, TODAY.year) == (1, 2)
    assert findings_rectified(COUNTY, TODAY.year - 1) == (0, 0)
    assert findings_rectified(OTHER_COUNTY, TODAY.year) == (0, 0)
    assert findings_rectified(PROVINCE, TODAY.year) == (0, 0)  # a department's findings are no region's


def test_the_pages_render_for_each_side(w):
    province = w["login"]("province")
    for url in ("/inspections/", f"/inspections/plans/{w['plan'].id}", f"/inspections/{w['county_inspection'].id}",
                f"/inspections/findings/{w['finding'].id}", "/inspections/findings/?state=pending&item=funds",
                f"/inspections/?year={TODAY.year}"):
        assert province.get(url).status_code == 200, url
    assert province.get("/inspections/?year=abc").status_code == 400
    body = w["login"]("dept").get("/inspections/").get_data(as_text=True)
    assert "省测试厅" in body and "吉首市" not in body
    assert w["login"]("county").get("/").status_code == 200
    assert count(Inspection) == 2


def test_the_demo_has_this_years_plan_with_findings_in_every_state(app, db, make_user, login_as):
    """The demo step alone (the whole demo runs in test_dashboard): over the real divisions and
    a provincial backing unit."""
    import random

    from registry.demo import DemoContext
    from registry.inspections.demo import inspections

    make_org("backing_unit", PROVINCE, name="示例后盾单位", level="provincial")
    inspections(DemoContext(random.Random(7), echo=lambda *_: None))
    db.session.commit()
    plans = db.session.scalars(select(InspectionPlan).where(InspectionPlan.year == TODAY.year)).all()
    assert {p.region_code for p in plans} == {PROVINCE, CITY} and all(p.is_demo and "示例" in p.title for p in plans)
    findings = db.session.scalars(select(Finding).where(Finding.target_region_code == COUNTY)).all()
    assert {f.status for f in findings} == {"open", "rectifying", "closed"}
    assert [f.is_overdue for f in findings].count(True) == 1
    assert all(f.is_demo and f.description.startswith("示例") for f in findings)
    assert db.session.scalar(select(func.count()).select_from(Finding).where(Finding.target_kind == "organization")) == 1
    county = login_as(make_user("region", region_code=COUNTY))
    assert "督查问题逾期未销号" in county.get("/").get_data(as_text=True)
    assert findings_rectified(COUNTY, TODAY.year) == (1, 4)
    inspections(DemoContext(random.Random(7), echo=lambda *_: None))  # once only
    assert count(InspectionPlan) == 2


def test_a_county_page_shows_its_findings_and_the_list_filters_by_region(w):
    city_plan = services.create_plan(w["users"]["city"], TODAY.year, "湘西州督查")
    other = services.add_inspection(city_plan, w["users"]["city"], "region:433122000000")  # 泸溪县
    services.add_finding(other, w["users"]["city"], services.FindingData("training", "泸溪培训不足", TODAY))
    _overdue(w)
    page = w["login"]("province").get(f"/regions/{COUNTY}").get_data(as_text=True)
    assert f"{TODAY.year}年督查问题" in page and "待整改 1 个" in page and "逾期未销号 1 个" in page
    listed = w["login"]("city").get(f"/inspections/findings/?region={COUNTY}").get_data(as_text=True)
    assert "衔接资金项目进度滞后" in listed and "泸溪培训不足" not in listed
    assert "年督查问题" not in w["login"]("township").get(f"/regions/{first_township(COUNTY).code}").get_data(as_text=True)
