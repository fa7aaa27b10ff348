"""Importing 关心关爱: the template, the form's rule by row (all or nothing), the cadre found by
ID number and the posting by its start or the record's date, normalised cells, duplicates
refused, who may import (the dispatching office or above), the CLI."""
from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.care.models import CareRecord
from registry.care.services import cancel_care
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, make_posting, make_village
from tests.sheets import csv_bytes, upload, xlsx_bytes
from tests.test_care import care_world
from tests.test_import_corpus import FILES
from tests.test_import_corpus import KINDS as CORPUS_KINDS
from tests.test_import_corpus import _post_file as post_corpus_file

TODAY = local_today()
START = TODAY - timedelta(days=400)  # the postings' start
HEADER = ["干部姓名", "身份证号", "选派开始日期", "类别", "项目", "开始日期", "结束日期", "金额（元）",
          "承保、体检或发放单位", "保单号或文号", "备注"]


def records() -> int:
    return db.session.scalar(select(func.count()).select_from(CareRecord))


def serial(day: date) -> int:
    return (day - date(1899, 12, 30)).days


def fullwidth(text) -> str:
    return "".join(chr(0xFF10 + int(c)) if c.isdigit() else c for c in str(text))


def _file(*rows) -> bytes:
    return xlsx_bytes([HEADER, *rows])


def _row(person, kind="保险", item="人身意外伤害保险", start=None, end=None, amount="", **over):
    start = start if start is not None else (TODAY - timedelta(days=30)).isoformat()
    values = {"name": person.name, "id_number": person.id_number, "posting_start": "", "kind": kind, "item": item,
              "start": start, "end": end if end is not None else "", "amount": amount, "provider": "", "reference": "",
              "note": ""}
    values.update(over)
    return list(values.values())


@pytest.fixture()
def world(app, make_user):
    from tests.conftest import built_once

    def build():
        return care_world(make_user, START, seconded=False)

    return built_once("care-import.world", build)


def test_the_template_has_headers_an_example_dropdowns_and_a_guide(world, login_as):
    response = login_as(world["county"]).get("/import/care/template.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    assert sheet["D2"].value == "保险" and sheet["E2"].value == "人身意外伤害保险"
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["D2:D5001"] == '"补助,保险,体检,休假"'
    assert "人身意外伤害保险" in lists["E2:E5001"] and "年度体检" in lists["E2:E5001"]
    guide = [c.value for c in book["填写说明"]["A"]]
    assert guide[1:6] == HEADER[:5]
    from registry.core.identity import normalize_id_number

    assert normalize_id_number(sheet["B2"].value)  # the example's ID number passes the rule


def test_import_is_all_or_nothing_with_errors_by_row_and_column(world, login_as):
    county = login_as(world["county"])
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    good = _row(world["county_cadre"], end=(TODAY + timedelta(days=334)).isoformat(), amount="50万")
    not_ours = _row(world["province_cadre"], end=(TODAY + timedelta(days=334)).isoformat())  # 省派: the province's
    no_amount = _row(world["county_cadre"], kind="补助", item="生活补助", end=TODAY.isoformat())
    wrong_item = _row(world["county_cadre"], kind="体检", item="人身意外伤害保险")
    response = upload(county, "care", _file(good, not_ours, no_amount, wrong_item), "c.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "派出机关（或其上级），不能登记" in page and "B3" in page
    assert "补助金额" in page and "H4" in page  # the form's rule: an allowance has an amount
    assert "请选择体检项目" in page and "E5" in page
    assert records() == 0 and db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_cells_are_normalised_and_each_record_is_written_as_the_form_writes_it(world, login_as):
    county = login_as(world["county"])
    cadre = world["county_cadre"]
    start, end = TODAY - timedelta(days=30), TODAY + timedelta(days=334)
    rows = [
        # dates as serial numbers, the amount in 万元 with full-width digits, the number with a lower-case x
        _row(cadre, start=serial(start), end=serial(end), amount=fullwidth("50") + "万", provider="人保财险",
             id_number=cadre.id_number.lower(), reference=20250001),
        # the kind by its code, the day as Chinese text in full-width digits, the name left blank
        _row(cadre, kind="health_check", item="年度体检", name="", amount=800,
             start=fullwidth(f"{TODAY.year}年{TODAY.month}月{TODAY.day}日")),
    ]
    response = upload(county, "care", _file(*rows), "c.xlsx")
    assert response.status_code == 302 and response.headers["Location"].endswith("/care/")
    insurance = db.session.scalar(select(CareRecord).where(CareRecord.kind == "insurance"))
    assert (insurance.start_date, insurance.end_date, insurance.amount, insurance.provider_name, insurance.reference) == \
        (start, end, Decimal("500000.00"), "人保财险", "20250001")
    assert insurance.posting_id == world["county_posting"].id and insurance.provider_region_code == COUNTY
    check = db.session.scalar(select(CareRecord).where(CareRecord.kind == "health_check"))
    assert (check.start_date, check.end_date, check.amount) == (TODAY, None, Decimal("800.00"))
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "CareRecord")))
    assert actions.count("create") == 2 and "import_care" in actions  # each as the form's, and the import
    # the same rows again: refused by cadre + kind + item + start, nothing written
    again = upload(county, "care", _file(*rows), "c.xlsx")
    assert again.status_code == 422 and "已登记" in again.get_data(as_text=True) and records() == 2
    # a cancelled record is no longer in force: its corrected row imports
    cancel_care(insurance, "保额有误", world["county"])
    assert upload(county, "care", _file(rows[0]), "c.xlsx").status_code == 302 and records() == 3


def test_the_posting_is_found_by_its_start_or_by_the_records_date(world, login_as):
    cadre, org = world["county_cadre"], world["org"]
    posting = world["county_posting"]
    posting.end_date = TODAY - timedelta(days=200)
    db.session.commit()
    later = make_posting(cadre, org, make_village(COUNTY, 2).code, start=TODAY - timedelta(days=100),
                         dispatch_level="county")
    county = login_as(world["county"])
    day = TODAY - timedelta(days=300)  # in the first posting's term
    row = _row(cadre, kind="体检", item="年度体检", start=day.isoformat())
    assert upload(county, "care", _file(row), "c.xlsx").status_code == 302
    assert db.session.scalar(select(CareRecord.posting_id)) == posting.id
    # named by its start: a date in neither term is the rule's error, a start of none the import's
    row = _row(cadre, kind="体检", item="专项体检", start=day.isoformat(), posting_start=later.start_date.isoformat())
    response = upload(county, "care", _file(row), "c.xlsx")
    assert response.status_code == 422 and "须在选派期间内" in response.get_data(as_text=True)
    row[2] = (TODAY - timedelta(days=1)).isoformat()
    response = upload(county, "care", _file(row), "c.xlsx")
    assert response.status_code == 422 and "没有" in response.get_data(as_text=True) and "开始的选派" in response.get_data(as_text=True)
    assert records() == 1


def test_the_cadre_is_named_by_a_visible_id_number_and_a_matching_name(world, login_as):
    cadre = world["county_cadre"]
    # another county sees nobody here: the number names nobody
    response = upload(login_as(world["other_county"]), "care", _file(_row(cadre, end=TODAY.isoformat())), "c.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "未登记或不在您的范围内" in page and cadre.id_number not in page
    county = login_as(world["county"])
    response = upload(county, "care", _file(_row(cadre, name="李四", end=TODAY.isoformat())), "c.xlsx")
    assert response.status_code == 422 and "姓名与身份证号不符" in response.get_data(as_text=True)
    masked = _row(cadre, id_number=cadre.id_number[:6] + "********" + cadre.id_number[-4:], end=TODAY.isoformat())
    response = upload(county, "care", csv_bytes([HEADER, masked]), "c.csv")
    assert response.status_code == 422 and "身份证号已遮蔽" in response.get_data(as_text=True)
    assert records() == 0


def test_who_may_import_is_who_may_record(world, login_as):
    row = _row(world["province_cadre"], end=(TODAY + timedelta(days=300)).isoformat())
    # a township records nothing (the page is not its own, as the list shows no button);
    # the county not the province's cadre; the province does
    township = login_as(world["township"])
    assert upload(township, "care", _file(row), "c.xlsx").status_code == 404
    assert township.get("/import/care/template.xlsx").status_code == 404
    assert upload(login_as(world["county"]), "care", _file(row), "c.xlsx").status_code == 422
    assert records() == 0
    assert upload(login_as(world["province"]), "care", _file(row), "c.xlsx").status_code == 302 and records() == 1
    for name in ("unit", "viewer"):
        session = login_as(world[name])
        assert session.get("/import/care").status_code == 404
        assert session.get("/import/care/template.xlsx").status_code == 404


def test_the_import_button_is_on_the_list_for_the_recording_offices(world, login_as):
    for name in ("county", "city", "province"):
        assert "/import/care" in login_as(world[name]).get("/care/").get_data(as_text=True)
    page = login_as(world["county"]).get("/import/care")
    assert page.status_code == 200 and "关心关爱" in page.get_data(as_text=True)
    for name in ("township", "viewer", "unit"):
        assert "/import/care" not in login_as(world[name]).get("/care/").get_data(as_text=True)


def test_the_cli_imports_care_as_a_user(world, runner, tmp_path):
    path = tmp_path / "care.csv"
    path.write_bytes(csv_bytes([HEADER, _row(world["county_cadre"], kind="休假", item="探亲假",
                                             start=(TODAY - timedelta(days=20)).isoformat(),
                                             end=(TODAY - timedelta(days=10)).isoformat())]))
    result = runner.invoke(args=["import", "care", str(path), "--as", world["county"].username])
    assert result.exit_code == 0 and "新增 1 条" in result.output, result.output
    refused = runner.invoke(args=["import", "care", str(path), "--as", world["county"].username])
    assert refused.exit_code == 1 and "已登记" in refused.output
    assert runner.invoke(args=["import", "care", str(path)]).exit_code == 1  # --as is required
    viewer = runner.invoke(args=["import", "care", str(path), "--as", world["viewer"].username])
    assert viewer.exit_code == 1 and "没有导入关心关爱的权限" in viewer.output
    township = runner.invoke(args=["import", "care", str(path), "--as", world["township"].username])
    assert township.exit_code == 1 and "没有导入关心关爱的权限" in township.output  # it records no care
    assert records() == 1


# the corpus's files that are bad whatever the kind (not those written for one kind)
GENERIC = [name for name in FILES if name.split("_")[0] not in CORPUS_KINDS]


@pytest.mark.parametrize("name", GENERIC)
def test_every_bad_file_of_the_corpus_is_refused_and_writes_nothing(world, login_as, name):
    session = login_as(world["county"])
    before = (records(), db.session.scalar(select(func.count()).select_from(AuditEvent)))
    response = post_corpus_file(session, "/import/care", name)
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 413, 422) and "导入未完成" in page and "Traceback" not in page
    db.session.rollback()
    assert (records(), db.session.scalar(select(func.count()).select_from(AuditEvent))) == before
