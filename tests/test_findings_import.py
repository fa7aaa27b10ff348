"""Importing 督查问题: the template, the form's rule by row (all or nothing), the inspection
found by year and inspected party, normalised cells, duplicates refused, scope, the CLI."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.inspections import services
from registry.inspections.models import Finding
from registry.notifications.models import Notification
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_org
from tests.sheets import upload, xlsx_bytes
from tests.test_import_corpus import FILES
from tests.test_import_corpus import KINDS as CORPUS_KINDS
from tests.test_import_corpus import _post_file as post_corpus_file

TODAY = local_today()
YEAR = TODAY.year
DEADLINE = TODAY + timedelta(days=60)
HEADER = ["督查年度", "被督查对象", "组织督查单位", "督查事项", "问题描述", "整改期限", "走访日期"]


def findings() -> int:
    return db.session.scalar(select(func.count()).select_from(Finding))


def serial(day: date) -> int:
    """``day`` as a spreadsheet's date serial number."""
    return (day - date(1899, 12, 30)).days


def fullwidth(text) -> str:
    """``text`` with its digits full-width (as some input methods type them)."""
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in str(text))


def _file(*rows) -> bytes:
    return xlsx_bytes([HEADER, *rows])


@pytest.fixture()
def w(app, make_user):
    """The province inspects 吉首市 and a provincial department this year. Built once per test
    process on SQLite and copied back for each test (``built_once``), anew on PostgreSQL."""
    from tests.conftest import built_once

    def build():
        dept = make_org("backing_unit", PROVINCE, name="省测试厅", level="provincial")
        users = {
            "province": make_user("region", region_code=PROVINCE),
            "city": make_user("region", region_code=CITY),
            "county": make_user("region", region_code=COUNTY),
            "other_county": make_user("region", region_code=OTHER_COUNTY),
            "viewer": make_user("viewer", region_code=COUNTY),
            "dept": make_user("unit", organization_id=dept.id),
        }
        plan = services.create_plan(users["province"], YEAR, "省级乡村振兴督查")
        county_inspection = services.add_inspection(plan, users["province"], f"region:{COUNTY}")
        dept_inspection = services.add_inspection(plan, users["province"], f"organization:{dept.id}")
        return {"users": users, "dept": dept, "plan": plan, "county_inspection": county_inspection,
                "dept_inspection": dept_inspection}

    return built_once("findings-import.w", build)


def test_the_template_has_headers_an_example_dropdowns_and_a_guide(w, login_as):
    province = login_as(w["users"]["province"])
    response = province.get("/import/findings/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet["D2"].value == "资金使用" and sheet["B2"].value.endswith("（433101000000）")
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["D2:D5001"] == '"责任落实,驻村帮扶,结对帮扶,资金使用,项目实施,防返贫监测,教育培训,其他"'
    assert lists["A2:A5001"] == f'"{YEAR}"'
    assert "吉首市（433101000000）" in lists["B2:B5001"] and "省测试厅" in lists["B2:B5001"]
    assert [c.value for c in book["填写说明"]["A"]][1:5] == HEADER[:4]


def test_import_is_all_or_nothing_with_errors_by_row_and_column(w, login_as):
    province = login_as(w["users"]["province"])
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    good = [YEAR, "吉首市（433101000000）", "", "资金使用", "衔接资金项目进度滞后", DEADLINE.isoformat(), ""]
    past = [YEAR, "省测试厅", "", "结对帮扶", "定点帮扶村走访不足", (TODAY - timedelta(days=1)).isoformat(), ""]
    unknown = [YEAR, "湘西土家族苗族自治州", "", "其他", "", "明天", ""]
    wrong_item = [YEAR, COUNTY, "", "飞船", "问题", DEADLINE.isoformat(), ""]
    response = upload(province, "findings", _file(good, past, unknown, wrong_item), "f.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "整改期限不能早于今天" in page and "F3" in page  # the form's rule, on its cell
    assert "不存在或不在您的范围内" in page and "整改期限格式应为" in page and "B4" in page and "F4" in page
    assert "“飞船”不是可选的值" in page and "D5" in page and "3 行有 4 处错误" in page
    assert findings() == 0 and db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_cells_are_normalised_and_each_finding_is_written_as_the_form_writes_it(w, login_as):
    province = login_as(w["users"]["province"])
    rows = [
        # the year as full-width text, the party by its code, the deadline as a date serial
        [fullwidth(YEAR), COUNTY, "", "资金使用",
         "  衔接资金项目进度滞后  ", serial(DEADLINE), ""],
        # a department by its name, the item by its code, the deadline as Chinese text in full-width digits
        [YEAR, "省测试厅", "湖南省（430000000000）", "paired_support", "定点帮扶村走访不足",
         fullwidth(f"{DEADLINE.year}年{DEADLINE.month}月{DEADLINE.day}日"), ""],
    ]
    response = upload(province, "findings", _file(*rows), "f.xlsx")
    assert response.status_code == 302 and response.headers["Location"].endswith("/inspections/findings/")
    county_finding = db.session.scalar(select(Finding).where(Finding.target_region_code == COUNTY))
    assert (county_finding.item, county_finding.description, county_finding.deadline, county_finding.status) == \
        ("funds", "衔接资金项目进度滞后", DEADLINE, "open")
    dept_finding = db.session.scalar(select(Finding).where(Finding.target_organization_id == w["dept"].id))
    assert dept_finding.item == "paired_support" and dept_finding.inspection_id == w["dept_inspection"].id
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "Finding")))
    assert actions.count("create") == 2 and "import_findings" in actions  # each as the form's, and the import
    told = db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == w["users"]["dept"].id))
    assert told == 1  # the inspected department is told, as by the form
    # the same rows again: refused by their natural key, nothing written
    again = upload(province, "findings", _file(*rows), "f.xlsx")
    assert again.status_code == 422 and "相同描述的问题已登记" in again.get_data(as_text=True) and findings() == 2
    # the same description under another item is another finding
    rows[0][3] = "项目实施"
    assert upload(province, "findings", _file(rows[0]), "f.xlsx").status_code == 302 and findings() == 3


def test_the_list_export_imports_again_as_duplicates(w, login_as):
    """The ledger's 年度, 督查单位, 被督查对象, 督查事项, 问题描述 and 整改期限 are the import's
    columns (its other columns are skipped): read back, each finding is found as stored."""
    services.add_finding(w["county_inspection"], w["users"]["province"], services.FindingData(
        "funds", "导出再导入的问题", DEADLINE.isoformat()))
    province = login_as(w["users"]["province"])
    body = province.get("/inspections/findings/export.xlsx").data
    response = upload(province, "findings", body, "f.xlsx")
    assert response.status_code == 422 and "相同描述的问题已登记" in response.get_data(as_text=True)
    db.session.execute(Finding.__table__.update().values(description="改过的描述"))
    db.session.commit()
    assert upload(province, "findings", body, "f.xlsx").status_code == 302 and findings() == 2


def test_a_duplicate_row_within_the_file_is_named(w):
    from registry.inspections.imports import FindingImport
    from registry.transfer.importing import run_import

    row = [YEAR, COUNTY, "", "资金使用", "重复的问题", DEADLINE.isoformat(), ""]
    report = run_import(FindingImport(), _file(row, row), "f.xlsx", w["users"]["province"])
    assert not report.ok and report.errors[0].row == 3 and "与第2行重复" in report.errors[0].message


def test_two_plans_inspecting_the_party_ask_for_the_inspecting_region(w, login_as):
    city = w["users"]["city"]
    city_plan = services.create_plan(city, YEAR, "湘西州督查")
    city_inspection = services.add_inspection(city_plan, city, f"region:{COUNTY}")
    province = login_as(w["users"]["province"])  # keeps both: the province is above the city
    row = [YEAR, COUNTY, "", "资金使用", "问题甲", DEADLINE.isoformat(), ""]
    response = upload(province, "findings", _file(row), "f.xlsx")
    assert response.status_code == 422 and "请填写组织督查单位" in response.get_data(as_text=True)
    row[2] = CITY
    assert upload(province, "findings", _file(row), "f.xlsx").status_code == 302
    assert db.session.scalar(select(Finding.inspection_id)) == city_inspection.id
    # the city alone keeps only its own plan: no question there
    row[4] = "问题乙"
    row[2] = ""
    assert upload(login_as(city), "findings", _file(row), "f.xlsx").status_code == 302


def test_a_visit_is_named_by_its_date(w, login_as):
    visited = TODAY - timedelta(days=2) if (TODAY - timedelta(days=2)).year == YEAR else TODAY
    visit = services.add_visit(w["county_inspection"], w["users"]["province"], visited.isoformat(), "张三（组长）")
    province = login_as(w["users"]["province"])
    other_day = visited - timedelta(days=1) if visited.day > 1 else visited + timedelta(days=1)
    row = [YEAR, COUNTY, "", "资金使用", "走访发现的问题", DEADLINE.isoformat(), other_day.isoformat()]
    response = upload(province, "findings", _file(row), "f.xlsx")
    assert response.status_code == 422 and "的走访记录" in response.get_data(as_text=True)
    row[6] = serial(visited)
    assert upload(province, "findings", _file(row), "f.xlsx").status_code == 302
    assert db.session.scalar(select(Finding.visit_id)) == visit.id


def test_only_those_who_keep_the_inspection_import(w, login_as):
    row = [YEAR, COUNTY, "", "资金使用", "越权登记的问题", DEADLINE.isoformat(), ""]
    # the inspected county and another county have the permission, but plan no inspections:
    # nothing to import (the page is not theirs, as the list shows no button)
    for name in ("county", "other_county"):
        session = login_as(w["users"][name])
        assert upload(session, "findings", _file(row), "f.xlsx").status_code == 404
        assert session.get("/import/findings/template.xlsx").status_code == 404
    # the city does not keep the province's plan
    dept_row = [YEAR, "省测试厅", "", "资金使用", "越权登记的问题", DEADLINE.isoformat(), ""]
    assert upload(login_as(w["users"]["city"]), "findings", _file(dept_row), "f.xlsx").status_code == 422
    assert findings() == 0
    # viewers and units may not import findings at all
    for name in ("viewer", "dept"):
        session = login_as(w["users"][name])
        assert session.get("/import/findings").status_code == 404
        assert session.get("/import/findings/template.xlsx").status_code == 404


def test_the_import_button_is_beside_the_list_for_the_inspecting_side_only(w, login_as):
    province = login_as(w["users"]["province"])
    assert "/import/findings" in province.get("/inspections/findings/").get_data(as_text=True)
    page = province.get("/import/findings")
    assert page.status_code == 200 and "督查问题" in page.get_data(as_text=True)
    assert "/import/findings" in login_as(w["users"]["city"]).get("/inspections/findings/").get_data(as_text=True)
    for name in ("county", "viewer", "dept"):
        assert "/import/findings" not in login_as(w["users"][name]).get("/inspections/findings/").get_data(as_text=True)


def test_the_cli_imports_findings_as_a_user(w, runner, tmp_path):
    path = tmp_path / "findings.xlsx"
    path.write_bytes(_file([YEAR, COUNTY, "", "资金使用", "命令行导入的问题", DEADLINE.isoformat(), ""]))
    result = runner.invoke(args=["import", "findings", str(path), "--as", w["users"]["province"].username])
    assert result.exit_code == 0 and "新增 1 条" in result.output
    refused = runner.invoke(args=["import", "findings", str(path), "--as", w["users"]["province"].username])
    assert refused.exit_code == 1 and "相同描述的问题已登记" in refused.output
    assert runner.invoke(args=["import", "findings", str(path)]).exit_code == 1  # --as is required
    viewer = runner.invoke(args=["import", "findings", str(path), "--as", w["users"]["viewer"].username])
    assert viewer.exit_code == 1 and "没有导入督查问题的权限" in viewer.output
    assert findings() == 1


# the corpus's files that are bad whatever the kind (not those written for one kind)
GENERIC = [name for name in FILES if name.split("_")[0] not in CORPUS_KINDS]


@pytest.mark.parametrize("name", GENERIC)
def test_every_bad_file_of_the_corpus_is_refused_and_writes_nothing(w, login_as, name):
    session = login_as(w["users"]["province"])
    before = (findings(), db.session.scalar(select(func.count()).select_from(AuditEvent)))
    response = post_corpus_file(session, "/import/findings", name)
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 413, 422) and "导入未完成" in page and "Traceback" not in page
    db.session.rollback()
    assert (findings(), db.session.scalar(select(func.count()).select_from(AuditEvent))) == before
