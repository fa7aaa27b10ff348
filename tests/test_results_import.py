"""Importing 帮扶实效 (village yearly results): the results ledger read back in, row by
row, all or nothing; a year already filed is updated only while the review lets it."""
from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.results.models import VillageResult
from tests.factories import COUNTY, make_village
from tests.factories_assessment import make_result
from tests.test_import_corpus import FILES
from tests.test_import_corpus import KINDS as CORPUS_KINDS
from tests.test_import_corpus import _post_file as post_corpus_file
from tests.sheets import csv_bytes, sheet_rows, upload, xlsx_bytes

THIS_YEAR = local_today().year
LAST_YEAR = THIS_YEAR - 1
HEADER = ["村", "年度", "村集体经济经营性收入（元）", "脱贫人口人均纯收入（元）", "监测对象户数", "其中已消除风险户数",
          "产业项目（个）", "带动就业（人）", "办实事（件）", "备注"]
FILED_AT = len(HEADER) + 2  # after 状态 and 退回理由: 填报时间, the one column a round trip renews


def count(model=VillageResult, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return db.session.scalar(stmt)


def _cells(body: bytes, fmt: str):
    return [row[:FILED_AT] + row[FILED_AT + 1:] for row in sheet_rows(body, fmt)]


_xlsx = xlsx_bytes


def _csv(rows) -> bytes:
    return csv_bytes(rows, "gb18030")


def _upload(session, body: bytes, name: str = "r.xlsx", update: bool = False):
    return upload(session, "results", body, name, update)


def _run(user, rows, update: bool = False, fmt: str = "xlsx"):
    from registry.results.imports import ResultImport
    from registry.transfer.importing import run_import

    body = _xlsx([HEADER, *rows]) if fmt == "xlsx" else _csv([HEADER, *rows])
    return run_import(ResultImport(), body, f"r.{fmt}", user, update=update)


def _row(village, year=LAST_YEAR, **over):
    values = {"collective_income": "156800.50", "per_capita_income": 16234, "monitored_households": 14,
              "risk_removed_households": 9, "industry_projects": 3, "jobs_created": 42, "practical_matters": 18,
              "note": None}
    values.update(over)
    code = village if isinstance(village, str) else village.code
    return [code, year, *values.values()]


@pytest.fixture()
def village(make_user):
    place = make_village(COUNTY, 1)
    return place, make_user("village", village_code=place.code)


def test_template_offers_the_users_village(village, login_as):
    place, user = village
    response = login_as(user).get("/import/results/template.xlsx")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    assert [c.value for c in sheet[1]] == HEADER
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["A2:A5001"] == f'"{place.name}（{place.code}）"'


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_round_trip_export_delete_import_export(village, login_as, fmt):
    place, user = village
    make_result(place.code, LAST_YEAR, collective_income="156800.50", note="=油茶基地，扩种\n200亩")
    make_result(place.code, LAST_YEAR - 1, per_capita_income="9000", monitored_households=0, risk_removed_households=0)
    make_result(make_village(COUNTY, 2).code, LAST_YEAR)  # another village's: not in this village's ledger
    session = login_as(user)
    first = session.get(f"/results/export.{fmt}")
    assert first.status_code == 200
    cells = _cells(first.data, fmt)
    assert cells[0] == [*HEADER, "状态", "退回理由", "核验时间"] and len(cells) == 3
    db.session.execute(delete(VillageResult).where(VillageResult.village_code == place.code))
    db.session.commit()
    response = _upload(session, first.data, f"ledger.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert count(village_code=place.code, status="filed") == 2
    assert count(AuditEvent, entity_type="VillageResult", action="create") == 2 and verify_chain().ok
    assert _cells(session.get(f"/results/export.{fmt}").data, fmt) == cells
    again = _upload(session, first.data, f"ledger.{fmt}")
    assert again.status_code == 422
    assert f"本村{LAST_YEAR}年的帮扶实效已填报（待核验）" in again.get_data(as_text=True)
    assert count(village_code=place.code) == 2


def test_amounts_in_wan_and_full_width_digits_are_read(village):
    place, user = village
    report = _run(user, [_row(place, collective_income="5万", per_capita_income="１.２万元", jobs_created="４２")],
                  fmt="csv")
    assert report.ok, report.errors
    stored = db.session.scalar(select(VillageResult))
    assert (stored.collective_income, stored.per_capita_income, stored.jobs_created) == (
        Decimal("50000.00"), Decimal("12000.00"), 42)


def test_duplicates_in_the_file_and_in_the_database_are_refused_by_row(village):
    place, user = village
    make_result(place.code, LAST_YEAR - 1)
    before = count(AuditEvent)
    report = _run(user, [_row(place), _row(place, industry_projects=5), _row(place, LAST_YEAR - 1)])
    assert [(e.row, e.column, e.message[:8]) for e in report.errors] == [
        (3, "village_code", "与第2行重复（村"), (4, "village_code", f"本村{LAST_YEAR - 1}年的")]
    assert "更新已有数据" in report.errors[1].message
    assert count() == 1 and count(AuditEvent) == before


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_ledger_imported_back_unchanged_as_an_update_leaves_every_result_as_it_was(village, login_as, fmt):
    """A returned result is not filed again by a file that leaves it as it was (the return
    asked for a change), and a verified one is not refused."""
    place, user = village
    returned = make_result(place.code, LAST_YEAR, status="returned", return_reason="收入口径有误")
    verified = make_result(place.code, LAST_YEAR - 1, status="verified", collective_income="3000000")
    session = login_as(user)
    exported = session.get(f"/results/export.{fmt}")
    response = _upload(session, exported.data, f"ledger.{fmt}", update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert "更新 0 条，2 条与已登记的相同，未改动" in session.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert (db.session.get(VillageResult, returned.id).status, db.session.get(VillageResult, verified.id).status) == (
        "returned", "verified")
    assert count(AuditEvent, entity_type="VillageResult", action="refile") == 0


def test_update_while_the_review_allows_and_refused_once_verified(village, make_user):
    place, user = village
    filed = make_result(place.code, LAST_YEAR, industry_projects=3)
    returned = make_result(place.code, LAST_YEAR - 1, status="returned", return_reason="收入口径有误")
    verified = make_result(place.code, LAST_YEAR - 2, status="verified")
    before = count(AuditEvent)
    report = _run(user, [_row(place, industry_projects=7), _row(place, LAST_YEAR - 1, per_capita_income="15000"),
                         _row(place, LAST_YEAR - 2, industry_projects=9)], update=True)
    assert [(e.row, e.column, e.message) for e in report.errors] == [(4, "", "已核验的帮扶实效已锁定，不能修改")]
    db.session.expire_all()
    assert db.session.get(VillageResult, filed.id).industry_projects == 3 and count(AuditEvent) == before
    report = _run(user, [_row(place, industry_projects=7), _row(place, LAST_YEAR - 1, per_capita_income="15000")],
                  update=True)
    assert report.ok and (report.created, report.updated) == (0, 2)
    db.session.expire_all()
    assert db.session.get(VillageResult, filed.id).industry_projects == 7
    refiled = db.session.get(VillageResult, returned.id)
    assert (refiled.status, refiled.return_reason, refiled.per_capita_income) == ("filed", None, Decimal("15000.00"))
    assert db.session.get(VillageResult, verified.id).industry_projects == 3
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "VillageResult")).all()
    assert sorted(actions) == ["import_results", "refile", "update"]
    same = _run(user, [_row(place, industry_projects=7)], update=True)  # changes nothing: nothing written
    assert same.ok and (same.created, same.updated) == (0, 0)
    assert same.summary() == "导入成功：共 1 行，新增 0 条，更新 0 条，1 条与已登记的相同，未改动"
    assert count(AuditEvent, entity_type="VillageResult", action="update") == 1


def test_another_village_or_an_unknown_one_is_refused_by_row(village, make_user):
    place, user = village
    neighbour = make_village(COUNTY, 2)
    before = count(AuditEvent)
    report = _run(user, [_row(place), _row(neighbour), _row("433101999999"), _row(f"{place.name}（{place.code}）",
                                                                                   LAST_YEAR - 1)])
    assert {(e.row, e.column) for e in report.errors} == {(3, "village_code"), (4, "village_code")}
    assert "不存在或不在您的范围内" in report.errors[0].message
    assert count() == 0 and count(AuditEvent) == before


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_bad_values_are_reported_by_row_and_column(village, fmt):
    place, user = village
    before = count(AuditEvent)
    rows = [
        _row(place, collective_income="1e308"),
        _row(place, LAST_YEAR - 1, per_capita_income=1e308),
        _row(place, THIS_YEAR + 1),
        _row(place, 2020),
        _row(place, "去年"),
        _row(place, LAST_YEAR - 2, risk_removed_households=15, jobs_created=2.5, industry_projects=-1),
        _row(place, LAST_YEAR - 3, collective_income="一万", per_capita_income="12000.123", practical_matters=None),
    ]
    report = _run(user, rows, fmt=fmt)
    found = {(e.row, e.column): e.message for e in report.errors}
    assert found[(2, "collective_income")] == "村集体经济经营性收入数额过大"
    assert found[(3, "per_capita_income")] == "脱贫人口人均纯收入数额过大"
    assert found[(4, "year")].startswith("年度应在") and found[(5, "year")].startswith("年度应在")
    assert found[(6, "year")] == "年度应为整数"
    assert found[(7, "risk_removed_households")] == "已消除风险户数（15）不能超过监测对象户数（14）"
    assert found[(7, "jobs_created")] == "带动就业人数应为整数"
    assert found[(7, "industry_projects")] == "产业项目数不能为负数"
    assert found[(8, "collective_income")] == "村集体经济经营性收入应为数字（元；也可写万元，如 5万）"
    assert found[(8, "per_capita_income")] == "脱贫人口人均纯收入最多保留2位小数"
    assert found[(8, "practical_matters")] == "请填写办实事件数"
    assert report.errors[0].cell == "C2"
    assert count() == 0 and count(AuditEvent) == before


def test_only_the_village_files_and_sees_the_import(village, make_user, login_as):
    place, user = village
    session = login_as(user)
    assert "/import/results" in session.get("/results/").get_data(as_text=True)
    upload = session.get("/import/results")
    assert upload.status_code == 200 and "导入帮扶实效" in upload.get_data(as_text=True)
    county = login_as(make_user("region", region_code=COUNTY))
    assert "/import/results" not in county.get("/results/").get_data(as_text=True)
    assert county.get("/import/results").status_code == 404


# the corpus's files that are bad whatever the kind (not those written for one kind)
GENERIC = [name for name in FILES if name.split("_")[0] not in CORPUS_KINDS]


@pytest.mark.parametrize("name", GENERIC)
def test_every_bad_file_of_the_corpus_is_refused_and_writes_nothing(village, login_as, name):
    place, user = village
    make_result(place.code, LAST_YEAR)
    session = login_as(user)
    before = (count(), count(AuditEvent))
    response = post_corpus_file(session, "/import/results", name)
    page = response.get_data(as_text=True)
    assert response.status_code in (400, 413, 422) and "导入未完成" in page and "Traceback" not in page
    db.session.rollback()
    assert (count(), count(AuditEvent)) == before
