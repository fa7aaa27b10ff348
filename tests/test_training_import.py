"""Importing 参训情况 (training attendance): the 培训台账 read back in, row by row, all or nothing."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.extensions import db
from registry.training.models import Attendance
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person
from tests.factories_assessment import attend, make_training
from tests.test_import_corpus import FILES
from tests.test_import_corpus import KINDS as CORPUS_KINDS
from tests.test_import_corpus import _post_file as post_corpus_file
from tests.sheets import csv_bytes, sheet_rows, upload, xlsx_bytes

PRE = "'=岗前培训"  # a title beginning with "=", written as our export writes it (no formula)
HEADER = ["培训主题", "开始日期", "姓名", "认定学时", "是否合格", "备注", "身份证号"]


def count(model=Attendance, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.scalar(stmt)


_cells = sheet_rows


_xlsx = xlsx_bytes


_csv = csv_bytes


def _upload(session, body: bytes, name: str = "a.xlsx", update: bool = False):
    return upload(session, "training", body, name, update)


def _run(user, rows, update: bool = False, fmt: str = "xlsx"):
    from registry.training.imports import AttendanceImport
    from registry.transfer.importing import run_import

    body = _xlsx([HEADER, *rows]) if fmt == "xlsx" else _csv([HEADER, *rows])
    return run_import(AttendanceImport(), body, f"a.{fmt}", user, update=update)


def _errors(report) -> set[tuple[int, str]]:
    return {(e.row, e.column) for e in report.errors}


@pytest.fixture()
def county(make_user):
    """A county with two of its courses, a provincial course it sees but does not run,
    two of its cadres and one cadre of another county."""
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    world = {
        "rotation": make_training(COUNTY, start=date(2025, 4, 1), title="县级轮训", kind="rotation", level="county",
                                  hours=24),
        "pre": make_training(COUNTY, start=date(2025, 5, 10), end=date(2025, 5, 12), title="=岗前培训",
                             organizer="县委组织部", level="county", hours=16),
        "provincial": make_training(PROVINCE, start=date(2025, 3, 1), title="省级示范培训"),
        "zhang": make_person(org, name="张三"),
        "li": make_person(org, name="李四"),
        "far": make_person(make_org("backing_unit", OTHER_COUNTY), name="外县干部"),
        "user": make_user("region", region_code=COUNTY),
    }
    return world


def test_template_offers_the_users_courses(county, login_as):
    session = login_as(county["user"])
    response = session.get("/import/training/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["A2:A5001"] == '"=岗前培训,县级轮训"'  # its own started courses, not the provincial one
    assert lists["E2:E5001"] == '"是,否"'


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_round_trip_export_delete_import_export(county, login_as, fmt):
    attend(county["rotation"], county["zhang"], hours=16.5)
    attend(county["rotation"], county["li"], passed=False)
    attend(county["pre"], county["zhang"])
    first_attendance = db.session.scalars(select(Attendance).order_by(Attendance.id)).first()  # ids differ on PostgreSQL
    first_attendance.note = "=补课后合格，含逗号,和换行\n第二行"
    db.session.commit()
    session = login_as(county["user"])
    first = session.get(f"/training/export.{fmt}?purpose=核对名单")
    assert first.status_code == 200
    cells = _cells(first.data, fmt)
    assert cells[0][:2] == ["培训主题", "主办单位"] and cells[0][-1] == "身份证号" and len(cells) == 4
    assert county["zhang"].id_number in [row[-1] for row in cells]
    db.session.execute(delete(Attendance))
    db.session.commit()
    response = _upload(session, first.data, f"ledger.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert count() == 3 and count(AuditEvent, entity_type="Attendance", action="create") == 3
    assert verify_chain().ok
    assert _cells(session.get(f"/training/export.{fmt}?purpose=核对名单").data, fmt) == cells
    again = _upload(session, first.data, f"ledger.{fmt}")
    assert again.status_code == 422
    page = again.get_data(as_text=True)
    assert "3 行有 3 处错误" in page and "该人员已登记参加“县级轮训”" in page
    assert count() == 3


@pytest.mark.parametrize("query", ["?purpose=核对名单", "?masked=1"])
def test_the_ledger_comes_back_unchanged_in_an_update_with_a_course_run_above(county, login_as, query):
    """The county's ledger holds its cadres' attendance of a provincial course, which it
    may not register people for; exported (numbers in full or masked) and imported back
    as an update, every row is unchanged and none is refused."""
    from registry.training.imports import AttendanceImport
    from registry.transfer.importing import run_import

    attend(county["rotation"], county["zhang"], hours=16.5)
    attend(county["provincial"], county["li"])
    session = login_as(county["user"])
    exported = session.get(f"/training/export.xlsx{query}")
    assert exported.status_code == 200
    report = run_import(AttendanceImport(), exported.data, "ledger.xlsx", county["user"], update=True)
    assert report.ok and (report.rows, report.unchanged) == (2, 2), report.errors[:3]


def test_a_course_is_found_by_title_or_title_and_start(county):
    user, zhang = county["user"], county["zhang"]
    make_training(COUNTY, start=date(2025, 9, 1), title="县级轮训", kind="rotation", level="county")
    report = _run(user, [["县级轮训", None, None, 8, "是", None, zhang.id_number]])
    assert _errors(report) == {(2, "start_date")} and "不止一个" in report.errors[0].message
    report = _run(user, [["县级轮训", "2025年4月1日", "张三", "８", None, None, zhang.id_number.lower()],
                         [PRE, None, None, None, "否", None, county["li"].id_number]])
    assert report.ok, report.errors
    stored = db.session.scalars(select(Attendance).order_by(Attendance.id)).all()
    assert [(a.training_id, a.hours, a.passed) for a in stored] == [
        (county["rotation"].id, Decimal("8.0"), True), (county["pre"].id, Decimal("16.0"), False)]


def test_duplicates_in_the_file_and_in_the_database_are_refused_by_row(county):
    user, zhang = county["user"], county["zhang"]
    attend(county["pre"], zhang)
    before = count(AuditEvent)
    report = _run(user, [["县级轮训", None, None, 8, "是", None, zhang.id_number],
                         ["县级轮训", "2025-04-01", None, 10, "是", None, zhang.id_number],
                         [PRE, None, None, 8, "是", None, zhang.id_number]])
    assert [(e.row, e.message[:9]) for e in report.errors] == [(3, "与第2行重复（培训"), (4, "该人员已登记参加“")]
    assert count() == 1 and count(AuditEvent) == before


def test_update_changes_stored_attendance_audited_only_when_asked(county):
    user, zhang, li = county["user"], county["zhang"], county["li"]
    stored = attend(county["rotation"], zhang, hours=24)
    rows = [["县级轮训", None, "张三", 12, "否", "补考未过", zhang.id_number],
            ["县级轮训", None, "李四", 20, "是", None, li.id_number]]
    refused = _run(user, rows)
    assert [(e.row, e.column) for e in refused.errors] == [(2, "training")] and "更新已有数据" in refused.errors[0].message
    report = _run(user, rows, update=True)
    assert report.ok and (report.created, report.updated) == (1, 1)
    db.session.refresh(stored)
    assert (stored.hours, stored.passed, stored.note, stored.version) == (Decimal("12.0"), False, "补考未过", 2)
    assert count(AuditEvent, entity_type="Attendance", action="update") == 1
    assert count(AuditEvent, action="import_training") == 1
    same = _run(user, rows, update=True)  # changes nothing: no update, no event
    assert same.ok and (same.created, same.updated) == (0, 0)
    assert count(AuditEvent, entity_type="Attendance", action="update") == 1


def test_scope_is_enforced_by_row_and_nothing_written(county, make_user):
    user = county["user"]
    hidden = make_training(OTHER_COUNTY, start=date(2025, 4, 1), title="外县培训", level="county")
    before = count(AuditEvent)
    report = _run(user, [["县级轮训", None, None, 8, "是", None, county["zhang"].id_number],
                         ["县级轮训", None, None, 8, "是", None, county["far"].id_number],
                         ["省级示范培训", None, None, 8, "是", None, county["li"].id_number],
                         [hidden.title, None, None, 8, "是", None, county["li"].id_number]])
    assert _errors(report) == {(3, "id_number"), (4, "training"), (5, "training")}
    messages = {e.row: e.message for e in report.errors}
    assert "不在您的管辖范围内" in messages[3]
    assert messages[4] == "只能为本级或下级组织的培训登记参训人员"
    assert "找不到主题为“外县培训”" in messages[5]
    assert count() == 0 and count(AuditEvent) == before
    # the other county's staff cannot see the county's course or people
    other = make_user("region", region_code=OTHER_COUNTY)
    report = _run(other, [["县级轮训", None, None, 8, "是", None, county["zhang"].id_number]])
    assert _errors(report) == {(2, "training"), (2, "id_number")}


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_bad_values_are_reported_by_row_and_column(county, fmt):
    user, zhang, li = county["user"], county["zhang"], county["li"]
    future = make_training(COUNTY, start=date(2099, 1, 1), title="明年培训", level="county")
    bad_id = zhang.id_number[:-1] + ("0" if zhang.id_number[-1] != "0" else "1")
    before = count(AuditEvent)
    rows = [
        ["县级轮训", None, None, "1e308", "是", None, zhang.id_number],
        ["县级轮训", None, None, 1e308, "是", None, li.id_number],
        [PRE, None, None, 30, "是", None, zhang.id_number],
        [PRE, None, None, "0", "也许", None, li.id_number],
        [PRE, "2025-13-45", None, 8, "是", None, zhang.id_number],
        ["未登记的培训", None, None, 8, "是", None, zhang.id_number],
        [future.title, None, None, 8, "是", None, zhang.id_number],
        ["县级轮训", "1900-01-01", None, 8, "是", None, zhang.id_number],
        ["县级轮训", None, "王五", 8.25, "是", "备" * 201, bad_id],
        ["县级轮训", None, "王五", 8, "是", None, li.id_number],
    ]
    report = _run(user, rows, fmt=fmt)
    found = {(e.row, e.column): e.message for e in report.errors}
    assert found[(2, "hours")] == "学时不能超过24.0"
    assert found[(3, "hours")] == "学时不能超过24.0"
    assert found[(4, "hours")] == "学时不能超过16.0"
    assert found[(5, "hours")] == "学时应大于0" and found[(5, "passed")] == "应填“是”或“否”"
    assert found[(6, "start_date")].startswith("开始日期格式应为")
    assert "找不到主题为“未登记的培训”" in found[(7, "training")]
    assert found[(8, "training")] == "培训尚未开始，不能登记参训情况"
    assert "开始日期为1900年1月1日" in found[(9, "training")]
    assert found[(10, "id_number")] == "身份证号校验位不正确" and found[(10, "note")] == "备注最多200字"
    assert found[(10, "hours")] == "学时最多保留1位小数"
    assert found[(11, "name")] == "姓名与身份证号不符（该身份证号登记的姓名为“李四”）"
    assert report.errors[0].cell == "D2"
    assert count() == 0 and count(AuditEvent) == before


def test_a_failure_while_writing_leaves_nothing(county, monkeypatch):
    from registry.core.rules import RuleViolation
    from registry.training import services

    def fail(events, **kw):  # the attendances are flushed by now; the audit fails
        assert count() == 2
        raise RuleViolation("写入失败", "")

    monkeypatch.setattr(services, "record_many", fail)
    report = _run(county["user"], [["县级轮训", None, None, 8, "是", None, county["zhang"].id_number],
                                   ["县级轮训", None, None, 8, "是", None, county["li"].id_number]])
    assert not report.ok and count() == 0 and count(AuditEvent, entity_type="Attendance") == 0


def test_only_those_who_record_attendance_see_the_import(county, make_user, login_as):
    session = login_as(county["user"])
    page = session.get("/training/").get_data(as_text=True)
    assert "/import/training" in page
    detail = session.get(f"/training/{county['rotation'].id}").get_data(as_text=True)
    assert "/import/training" in detail
    upload = session.get("/import/training")
    assert upload.status_code == 200 and "导入参训情况" in upload.get_data(as_text=True)
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    assert "/import/training" not in viewer.get("/training/").get_data(as_text=True)
    assert viewer.get("/import/training").status_code == 404
    unit = login_as(make_user("unit", organization_id=county["zhang"].organization_id))
    assert unit.get("/import/training/template.xlsx").status_code == 404


# the corpus's files that are bad whatever the kind (not those written for one kind)
GENERIC = [name for name in FILES if name.split("_")[0] not in CORPUS_KINDS]


@pytest.mark.parametrize("name", GENERIC)
def test_every_bad_file_of_the_corpus_is_refused_and_writes_nothing(county, login_as, name):
    attend(county["rotation"], county["zhang"])
    session = login_as(county["user"])
    before = (count(), count(AuditEvent))
    response = post_corpus_file(session, "/import/training", name)
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 413, 422) and "导入未完成" in page and "Traceback" not in page
    db.session.rollback()
    assert (count(), count(AuditEvent)) == before


def test_the_command_line_imports_as_an_account(county, runner, tmp_path):
    path = tmp_path / "参训.csv"
    path.write_bytes(_csv([HEADER, ["县级轮训", None, None, 8, "是", None, county["zhang"].id_number],
                           ["省级示范培训", None, None, 8, "是", None, county["li"].id_number]]))
    refused = runner.invoke(args=["import", "training", str(path), "--as", county["user"].username])
    assert refused.exit_code == 1 and "第3行 [培训主题]：只能为本级或下级组织的培训登记参训人员" in refused.output
    assert count() == 0
    path.write_bytes(_csv([HEADER, ["县级轮训", None, None, 8, "是", None, county["zhang"].id_number]]))
    done = runner.invoke(args=["import", "training", str(path), "--as", county["user"].username])
    assert done.exit_code == 0 and "新增 1 条" in done.output and count() == 1


def test_an_attendance_list_with_its_own_headers_and_results_imports(county):
    """An attendance list as training offices keep it: 培训班名称, 学时, 考核结果 written
    合格 or 不合格."""
    from registry.training.imports import AttendanceImport
    from registry.transfer.importing import run_import

    user, zhang, li = county["user"], county["zhang"], county["li"]
    header = ["培训班名称", "姓名", "身份证号", "学时", "考核结果"]
    body = csv_bytes([header, ["县级轮训", zhang.name, zhang.id_number, 8, "合格"],
                      ["县级轮训", li.name, li.id_number, 8, "不合格"]])
    report = run_import(AttendanceImport(), body, "a.csv", user)
    assert report.ok and report.created == 2, report.errors
    assert sorted((a.person.name, a.passed) for a in db.session.scalars(select(Attendance))) == sorted([
        (li.name, False), (zhang.name, True)])
