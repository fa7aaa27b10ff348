"""帮扶台账: the records list exports with its filters, in scope, typed, audited."""
from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import select

from registry.audit.models import AuditEvent
from tests.factories_records import file_record, world  # noqa: F401


def _sheet(body: bytes):
    wb = load_workbook(io.BytesIO(body))
    return wb.worksheets[0], {r[0].value: r[1].value for r in wb["导出说明"].iter_rows()}


def test_the_ledger_exports_what_the_list_shows(db, world, login_as):
    confirmed = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user,
                            title="=捐建产业路", amount="5万")
    file_record(world.unit, world.village.code, status="submitted", title="送医下乡", category="health")
    db.session.commit()
    county = login_as(world.county)
    sheet, about = _sheet(county.get("/records/export.xlsx?status=confirmed").data)
    header = [c.value for c in sheet[1]]
    assert header[:5] == ["编号", "村", "填报单位", "帮扶类别", "标题"] and "直接投入资金（元）" in header
    rows = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    assert len(rows) == 1
    row = dict(zip(header, rows[0]))
    assert row["编号"] == confirmed.reference and row["标题"] == "'=捐建产业路" and row["状态"] == "已确认"
    assert row["直接投入资金（元）"] == 50000 and isinstance(row["帮扶日期"], datetime)
    assert row["村"].endswith(f"（{world.village.code}）")
    assert about["筛选条件"] == "状态：已确认" and about["行数"] == "1"
    csv = county.get("/records/export.csv").get_data(as_text=True)
    assert "送医下乡" in csv and csv.startswith("\ufeff编号,村,")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()[-1]
    assert event.summary.startswith("导出帮扶台账 2 条")
    assert county.get("/records/export.pdf").status_code == 404


def test_a_unit_exports_only_its_own_records(db, world, login_as):
    file_record(world.unit, world.village.code, status="submitted", title="本单位记录")
    db.session.commit()
    assert "本单位记录" in login_as(world.unit).get("/records/export.csv").get_data(as_text=True)
    assert "本单位记录" not in login_as(world.other_unit).get("/records/export.csv").get_data(as_text=True)


def test_the_overdue_list_exports(db, world, login_as):
    record = file_record(world.unit, world.village.code, status="submitted", title="久未确认")
    record.submitted_at = datetime(2025, 1, 1)
    db.session.commit()
    body = login_as(world.county).get("/records/overdue/export.csv").get_data(as_text=True)
    assert "久未确认" in body


def test_ledger_rows_are_typed_and_give_back_the_sqlite_cache(db, world):
    from datetime import date
    from decimal import Decimal

    from registry.records import ledger, queries

    record = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user,
                         title="+86 热线", amount="125000.50")
    db.session.commit()
    conn = db.session.connection()
    sqlite = conn.dialect.name == "sqlite"
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar() if sqlite else None
    rows = [r for r in ledger.ledger_rows(queries.record_list(world.county)) if r[0] == record.reference]
    row = dict(zip([c.key for c in ledger.COLUMNS], rows[0]))
    assert row["title"] == "+86 热线"  # the writers escape it, not the rows
    assert Decimal(str(row["amount"])) == Decimal("125000.50") and isinstance(row["record_date"], date)
    assert isinstance(row["submitted_on"], date) and isinstance(row["decided_on"], date)
    if sqlite:
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before
