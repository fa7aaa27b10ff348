"""Importing 驻村纪实: the month rule by row, the round trip, duplicates, updates under the
review cycle, scope."""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.duty.imports import DutyImport, to_month
from registry.duty.models import DutyMonth
from registry.duty.services import add_months, month_start
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.transfer.importing import run_import
from tests.factories import COUNTY, make_org, make_person, make_posting
from tests.factories_assessment import make_duty, posted_secretary
from tests.sheets import csv_bytes, upload

HEADER = ["姓名", "身份证号", "村", "选派开始日期", "月份", "在村天数", "请假天数", "请假批准人", "无故缺勤天数", "工作纪实"]


def _csv(*rows, header=HEADER) -> bytes:
    return csv_bytes([header, *rows])


def _cells(body: bytes, fmt: str):
    if fmt == "csv":
        return body.decode("utf-8-sig")
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(body)).worksheets[0].iter_rows()]


def _months() -> int:
    return db.session.scalar(select(func.count()).select_from(DutyMonth))


def _upload(session, body: bytes, name: str = "d.csv", update: bool = False):
    return upload(session, "duty", body, name, update)


@pytest.fixture()
def world(db, make_user):
    village, org, person, posting = posted_secretary(start=date(2024, 1, 1))
    member = make_posting(make_person(org, name="队员甲"), org, village.code, "team_member", start=date(2024, 3, 15))
    unit = make_user("unit", organization_id=org.id)
    return {"village": village, "org": org, "person": person, "posting": posting, "member": member, "unit": unit}


def _row(posting, month="2025-03", days=22, leave=0, approver="", absences=0, summary="走访农户", **over):
    values = {"name": posting.person.name, "id": posting.person.id_number,
              "village": f"{posting.region.name}（{posting.region_code}）", "start": posting.start_date.isoformat(),
              "month": month, "days": days, "leave": leave, "approver": approver, "absences": absences,
              "summary": summary}
    values.update(over)
    return list(values.values())


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("role", ["unit", "village"])
def test_duty_round_trip(world, login_as, make_user, fmt, role):
    posting, member = world["posting"], world["member"]
    make_duty(posting, date(2025, 3, 1), days=18, leave_days=3, leave_approved_by="乡镇党委书记", absences=1,
              summary="=走访脱贫户32户，协调产业项目资金")
    make_duty(member, date(2025, 3, 1), days=20)
    make_duty(member, date(2024, 3, 1), days=12, available_days=17)  # the posting's first month, pro rata
    make_duty(posting, date(2025, 4, 1), days=25, status="returned", return_reason="天数有误")
    user = world["unit"] if role == "unit" else make_user("village", village_code=world["village"].code)
    session = login_as(user)
    first = session.get(f"/duty/export.{fmt}?status=filed&purpose=核对名单")
    assert first.status_code == 200
    cells = _cells(first.data, fmt)
    if fmt == "xlsx":
        assert cells[0] == [c.header for c in DutyImport.export_columns()] and len(cells) == 4
        ids = {r[13] for r in cells[1:]}
        shown = posting.person.id_number if role == "unit" else posting.person.id_number_masked
        assert shown in ids  # the unit sees its people's numbers in full, the village masked
    db.session.execute(delete(DutyMonth).where(DutyMonth.status == "filed"))
    db.session.commit()
    response = _upload(session, first.data, f"d.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _months() == 4
    assert _cells(session.get(f"/duty/export.{fmt}?status=filed&purpose=核对名单").data, fmt) == _cells(first.data, fmt)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "DutyMonth", AuditEvent.action == "create")) == 3
    assert verify_chain().ok  # the batch of events is the chain one event at a time would make
    again = _upload(session, first.data, f"d.{fmt}")
    assert again.status_code == 422 and "的纪实已填报（待核实）" in again.get_data(as_text=True)
    assert _months() == 4


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
@pytest.mark.parametrize("role", ["unit", "village"])
def test_the_ledger_imported_back_as_an_update_changes_only_the_edited_months(world, login_as, make_user, fmt, role):
    """The whole ledger exported and imported back unchanged writes nothing: a month the
    township returned stays returned (filing it again as it was would not answer the
    return), a checked one is not refused; a month edited in the file is saved."""
    posting = world["posting"]
    filed = make_duty(posting, date(2025, 3, 1), days=18)
    returned = make_duty(posting, date(2025, 4, 1), days=25, status="returned", return_reason="请补充具体工作")
    checked = make_duty(posting, date(2025, 5, 1), days=22, status="checked")
    user = world["unit"] if role == "unit" else make_user("village", village_code=world["village"].code)
    session = login_as(user)
    exported = session.get(f"/duty/export.{fmt}?purpose=核对名单")
    assert exported.status_code == 200
    saves = select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == "DutyMonth",
                                                               AuditEvent.action != "import_duty")
    events = db.session.scalar(saves)
    response = _upload(session, exported.data, f"d.{fmt}", update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    page = session.get(response.headers["Location"]).get_data(as_text=True)
    assert "导入成功：共 3 行，新增 0 条，更新 0 条，3 条与已登记的相同，未改动" in page, re.findall("导入成功[^<]*", page)
    db.session.expire_all()
    assert [db.session.get(DutyMonth, d.id).status for d in (filed, returned, checked)] == ["filed", "returned", "checked"]
    # the same outside a request, as the job worker runs a large file
    report = run_import(DutyImport(), exported.data, f"d.{fmt}", user, update=True)
    assert report.ok and (report.rows, report.unchanged) == (3, 3), report.errors[:3]
    assert db.session.scalar(saves) == events
    if fmt == "xlsx":
        book = load_workbook(io.BytesIO(exported.data))
        rows = list(book.worksheets[0].iter_rows())
        march = next(row for row in rows[1:] if str(row[4].value).startswith("2025-03"))
        march[6].value = 20  # 在村天数
        buf = io.BytesIO()
        book.save(buf)
        body = buf.getvalue()
    else:
        cells = list(csv.reader(io.StringIO(_cells(exported.data, fmt))))
        next(row for row in cells[1:] if row[4] == "2025-03")[6] = "20"
        body = csv_bytes(cells)
    response = _upload(session, body, f"d.{fmt}", update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    assert db.session.get(DutyMonth, filed.id).days_in_village == 20
    assert db.session.get(DutyMonth, returned.id).status == "returned"


def test_each_bad_row_is_reported_by_row_and_column_and_nothing_is_written(world):
    posting, member = world["posting"], world["member"]
    future = add_months(month_start(local_today()), 1)
    body = _csv(
        _row(posting, month="2025-01"),  # good
        _row(posting, month=f"{future.year}-{future.month:02d}"),  # the future
        _row(posting, month="2025-13"),  # no such month
        _row(posting, month="2025-02", days=29),  # February 2025 has 28 days
        _row(posting, month="2025-03", days=20, leave=2),  # leave without who approved it
        _row(posting, month="2025-04", days="二十"),  # not a number
        _row(member, month="2024-02"),  # before the posting began
        _row(posting, month="2025-05", days=25, leave=3, approver="书记", absences=5),  # more than the month
        _row(posting, month="2025-06", summary=""),  # no summary
        _row(posting, month="2025-07", start="2024-02-01"),  # no posting starting then
        _row(posting, month="2025-08", name="别人"),  # the name is not the ID number's
        _row(posting, month="2025-09", village="不存在村"),
        _row(posting, month="", id=""),
    )
    report = run_import(DutyImport(), body, "d.csv", world["unit"])
    errors = {(e.row, e.column) for e in report.errors}
    expected = {(3, "month"), (4, "month"), (5, "days_in_village"), (6, "leave_approved_by"), (7, "days_in_village"),
                (8, "month"), (9, "leave_days"), (10, "summary"), (11, "posting_start"), (12, "person"),
                (13, "village")}
    assert expected <= errors, errors
    assert not any(e.row == 2 for e in report.errors)
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert (messages[(14, "id_number")], messages[(14, "month")]) == ("请填写身份证号", "请填写月份")
    assert messages[(3, "month")] == "不能填报未来月份的纪实"
    assert messages[(5, "days_in_village")] == "在村天数不能超过当月天数（28天）"
    assert "开始于2024年1月1日" in messages[(11, "posting_start")]
    assert {(e.row, e.cell) for e in report.errors} >= {(5, "F5"), (13, "C13")}
    assert _months() == 0


def test_months_are_read_as_people_write_them():
    assert to_month("2025-03") == to_month("2025/3") == to_month("2025年3月") == to_month("２０２５－０３") == date(2025, 3, 1)
    assert to_month(202503) == to_month(date(2025, 3, 1)) == to_month(45717) == to_month("2025-03-18") == date(2025, 3, 1)
    assert to_month("2025-13") is None and to_month("三月") is None


def test_duplicates_within_the_file_are_refused_by_row(world):
    posting = world["posting"]
    report = run_import(DutyImport(), _csv(_row(posting), _row(posting, days=20)), "d.csv", world["unit"])
    assert [(e.row, e.message) for e in report.errors] == [(3, "与第2行重复（身份证号、选派开始日期、月份相同，同一条数据在文件中出现两次）")]
    assert _months() == 0


def test_update_corrects_open_months_and_refuses_checked_ones(world, login_as):
    posting = world["posting"]
    filed = make_duty(posting, date(2025, 3, 1), days=18)
    returned = make_duty(posting, date(2025, 4, 1), days=18, status="returned", return_reason="天数有误")
    checked = make_duty(posting, date(2025, 5, 1), days=22, status="checked")
    unit = login_as(world["unit"])
    body = _csv(_row(posting, "2025-03", days=21, summary="走访农户"), _row(posting, "2025-04", days=20),
                _row(posting, "2025-05", days=22, summary="走访农户，推进产业项目"))
    plain = _upload(unit, body)
    assert plain.status_code == 422 and "如需用文件内容修改" in plain.get_data(as_text=True)
    response = _upload(unit, body, update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    db.session.expire_all()
    assert db.session.get(DutyMonth, filed.id).days_in_village == 21
    assert (db.session.get(DutyMonth, returned.id).status, db.session.get(DutyMonth, returned.id).days_in_village) == ("filed", 20)
    assert db.session.get(DutyMonth, checked.id).version == checked.version  # repeated as it stands: left alone
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "DutyMonth")).all()
    assert sorted(actions) == ["import_duty", "refile", "update"]  # each save as the form's, and the import
    # the same file again: nothing to change
    report = run_import(DutyImport(), body, "d.csv", world["unit"], update=True)
    assert report.ok and report.updated == 0
    # a change to the checked month is refused by row, and nothing else is written
    body = _csv(_row(posting, "2025-03", days=15), _row(posting, "2025-05", days=10))
    report = run_import(DutyImport(), body, "d.csv", world["unit"], update=True)
    assert [(e.row, e.message) for e in report.errors] == [(3, "2025年5月的纪实已核实，不能再修改")]
    db.session.expire_all()
    assert db.session.get(DutyMonth, filed.id).days_in_village == 21


def test_only_filers_import_and_only_their_own_postings(world, login_as, make_user):
    posting = world["posting"]
    other_unit = make_user("unit", organization_id=make_org("backing_unit", COUNTY).id)
    report = run_import(DutyImport(), _csv(_row(posting)), "d.csv", other_unit)
    assert [(e.row, e.column) for e in report.errors] == [(2, "village")]
    assert "不存在或不在您的范围内" in report.errors[0].message
    # a posting of another unit in the same village: the village is known, the person is not
    stranger_org = make_org("backing_unit", COUNTY)
    stranger = make_posting(make_person(stranger_org, name="外单位干部"), stranger_org, posting.region_code,
                            "team_member", start=date(2024, 1, 1))
    report = run_import(DutyImport(), _csv(_row(stranger)), "d.csv", world["unit"])
    assert [(e.row, e.column) for e in report.errors] == [(2, "id_number")]
    county = login_as(make_user("region", region_code=COUNTY))
    assert county.get("/import/duty").status_code == 404
    assert 'href="/import/duty"' not in county.get("/duty/").get_data(as_text=True)
    unit = login_as(world["unit"])
    assert 'href="/import/duty"' in unit.get("/duty/").get_data(as_text=True)
    assert unit.get("/import/duty/template.xlsx").status_code == 200
    assert _months() == 0


def test_a_row_with_several_bad_cells_names_each_in_one_pass(world):
    # a month written wrong (the import's reading) and days in the village that are not a
    # number (the duty rule): both; with the posting unknown, the rule is not asked at all
    posting = world["posting"]
    report = run_import(DutyImport(), _csv(_row(posting, month="2025年第三月", days="二十", summary="")), "d.csv",
                        world["unit"])
    assert {e.column for e in report.errors} == {"month", "days_in_village", "summary"}, report.errors
    report = run_import(DutyImport(), _csv(_row(posting, village="不存在村", month="2025-13", days="二十")), "d.csv",
                        world["unit"])
    assert {e.column for e in report.errors} == {"village", "month"}, report.errors
    assert _months() == 0


def test_an_attendance_sheet_without_the_postings_start_finds_it_by_the_month(world, make_user):
    """An attendance sheet names the cadre, the village and the month: the posting is the
    one of that cadre there whose term covers the month. Where none does, or two do (a
    posting ended and another began in the same month), the row says so."""
    posting, member = world["posting"], world["member"]
    again = make_posting(member.person, world["org"], world["village"].code, "team_member", start=date(2025, 6, 20))
    member.end_date = date(2025, 6, 10)
    db.session.commit()
    header = ["姓名", "身份证号", "村", "月份", "在村天数", "工作纪实"]
    rows = [[p.person.name, p.person.id_number, f"{p.region.name}（{p.region_code}）", month, 9, "走访农户"]
            for p, month in ((posting, "2025-03"), (member, "2024-03"), (member, "2025-07"), (member, "2024-02"),
                             (member, "2025-06"), (posting, "2025-03"))]
    report = run_import(DutyImport(), _csv(*rows, header=header), "d.csv", world["unit"])
    assert [(e.row, e.column, e.message) for e in report.errors] == [
        (5, "month", "队员甲在该村的驻村选派（开始于2024年3月15日、2025年6月20日）都不包括2024年2月"),
        (6, "posting_start", "队员甲在2025年6月有不止一次驻村选派（开始于2024年3月15日、2025年6月20日），请填写选派开始日期"),
        (7, "id_number", "与第2行重复（身份证号、月份相同，同一条数据在文件中出现两次）")]
    report = run_import(DutyImport(), _csv(*rows[:3], header=header), "d.csv", world["unit"])
    assert report.ok and report.created == 3, report.errors
    filed = db.session.scalars(select(DutyMonth).order_by(DutyMonth.id)).all()
    assert [(d.posting_id, d.month) for d in filed] == [
        (posting.id, date(2025, 3, 1)), (member.id, date(2024, 3, 1)), (again.id, date(2025, 7, 1))]
