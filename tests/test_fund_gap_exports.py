"""Exports of the fund ledgers (资金台账) and of the gaps worklist: Chinese headers, amounts
as numbers with their unit, dates as dates, the filters on the sheet, audited where names
are in them; the worklist names each line's county and township and sorts by them."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.records import funds
from registry.regions.models import Region
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing, make_village
from tests.factories_assessment import make_support
from tests.factories_records import file_record, world  # noqa: F401


def _csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _book(body: bytes):
    book = load_workbook(io.BytesIO(body))
    rows = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
    about = {r[0].value: r[1].value for r in book.worksheets[1].iter_rows()}
    return rows, about


@pytest.fixture()
def fund(db, world, make_user):
    org = make_org("charity", region_code=COUNTY, name="测试慈善基金会")
    make_pairing(org, world.village.code, "other")
    user = make_user("unit", "fund_user", organization_id=org.id)
    day = date.today() - timedelta(days=60)
    for n, (donor, amount) in enumerate((("张某某", "500000"), ("某爱心企业", "20000.50")), start=1):
        funds.add_contribution(org, user, {"donor": donor, "amount": amount, "received_on": (day + timedelta(days=n)).isoformat(),
                                           "receipt_no": f"JJH-{n:03d}", "note": ""})
    file_record(user, world.village.code, status="confirmed", village_user=world.village_user, amount="120000",
                amount_in_kind="5000")
    file_record(user, world.village.code, status="submitted", amount="30000")  # pending: not paid out
    return org, user


def test_the_fund_ledger_export_lists_money_in_and_out_with_units_dates_and_filters(db, world, fund, login_as):
    org, user = fund
    session = login_as(user)
    page = session.get(f"/records/funds/{org.id}").get_data(as_text=True)
    assert f"/records/funds/{org.id}/export.xlsx" in page and "导出资金台账" in page

    rows, about = _book(session.get(f"/records/funds/{org.id}/export.xlsx").data)
    assert rows[0] == ["日期", "收支", "捐赠方或受援村", "收据编号或记录编号", "收入（元）", "支出（元）", "实物折价（元）", "事项", "备注"]
    body = rows[1:]
    assert [r[1] for r in body] == ["收入", "收入", "支出"]  # by date; the pending record is not paid out
    assert body[0][2] == "张某某" and body[0][4] == 500000 and body[1][4] == 20000.5
    assert body[2][2] == world.village.name and body[2][5] == 120000 and body[2][6] == 5000
    assert all(hasattr(r[0], "year") for r in body)  # dates as dates
    assert "测试慈善基金会" in about["筛选条件"] and about["行数"] == "3"

    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()[-1]
    assert event.entity_type == "FundContribution" and "3 条" in event.summary and "测试慈善基金会" in event.summary

    text = _csv(session.get(f"/records/funds/{org.id}/export.csv").data)
    assert text[0][4] == "收入（元）" and text[1][4] == "500000.00"


def test_the_fund_ledger_keeps_to_the_scope(db, world, fund, login_as, make_user):
    org, _user = fund
    other = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert other.get(f"/records/funds/{org.id}/export.csv").status_code == 404
    assert login_as(world.other_unit).get(f"/records/funds/{org.id}/export.csv").status_code == 404


def test_the_fund_list_export_has_each_funds_figures(db, world, fund, login_as):
    org, _user = fund
    session = login_as(world.county)
    assert "/records/funds/export.xlsx" in session.get("/records/funds").get_data(as_text=True)
    rows, about = _book(session.get("/records/funds/export.xlsx").data)
    header = rows[0]
    assert header[:4] == ["组织名称", "统一社会信用代码", "所在地", "累计受赠（元）"] and "结余（元）" in header
    line = dict(zip(header, rows[1]))
    assert line["组织名称"] == org.name
    assert line["累计受赠（元）"] == 520000.5 and line["已拨付（村已确认，元）"] == 120000
    assert line["结余（元）"] == 400000.5 and line["待村确认（元）"] == 30000
    assert about["筛选条件"] == "无（全部可见数据）"


@pytest.fixture()
def gap_world(db):
    """Key villages without a first secretary in two townships of the county, one in another county."""
    townships = db.session.scalars(select(Region).where(Region.parent_code == COUNTY).order_by(Region.code)).all()[:2]
    first = [make_village(COUNTY, n, is_key=True, township=townships[0]) for n in (1, 2)]
    second = [make_village(COUNTY, n, is_key=True, township=townships[1]) for n in (3,)]
    far = make_village(OTHER_COUNTY, 4, is_key=True)
    unit = make_org()
    make_support(unit, first[0].code, local_today() - timedelta(days=20))
    return townships, first, second, far


def test_the_gaps_page_names_county_and_township_and_sorts_by_them(db, gap_world, login_as, make_user):
    townships, first, second, _far = gap_world
    session = login_as(make_user("region", region_code=COUNTY))
    page = session.get(f"/gaps/{COUNTY}?kind=no_first_secretary").get_data(as_text=True)
    county = db.session.get(Region, COUNTY).name
    assert "县（市、区）" in page and "乡镇（街道）" in page and "sort=county" in page
    assert f"<td>{county}</td><td>{townships[0].name}</td>" in page
    assert f"/gaps/{COUNTY}/export.xlsx?kind=no_first_secretary" in page

    ascending = session.get(f"/gaps/{COUNTY}?kind=no_first_secretary&sort=township").get_data(as_text=True)
    descending = session.get(f"/gaps/{COUNTY}?kind=no_first_secretary&sort=-township").get_data(as_text=True)
    assert ascending.index(first[0].name) < ascending.index(second[0].name)
    assert descending.index(second[0].name) < descending.index(first[0].name)
    assert "sort=-township" in ascending  # the header link turns the order round


def test_the_gaps_export_has_county_township_filters_and_an_audit_record(db, gap_world, login_as, make_user):
    townships, first, second, far = gap_world
    session = login_as(make_user("region", region_code=COUNTY))
    county = db.session.get(Region, COUNTY).name
    rows, about = _book(session.get(f"/gaps/{COUNTY}/export.xlsx?kind=no_support&sort=-township").data)
    assert rows[0] == ["缺口类型", "对象", "县（市、区）", "乡镇（街道）", "区划代码", "相关日期", "说明", "催办情况"]
    assert [r[1] for r in rows[1:]] == [second[0].name, first[1].name]  # the supported village is no gap
    assert rows[1][2:5] == [county, townships[1].name, second[0].code]
    assert "缺口类型：近12个月没有已确认的帮扶" in about["筛选条件"] and "乡镇（街道）（倒序）" in about["筛选条件"]
    assert far.name not in str(rows)

    everything = _csv(session.get(f"/gaps/{COUNTY}/export.csv").data)
    kinds = {r[0] for r in everything[1:]}
    assert {"重点帮扶村或脱贫村没有在岗第一书记", "近12个月没有已确认的帮扶"} <= kinds
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export", AuditEvent.entity_type == "Gap").order_by(AuditEvent.id)).all()
    assert len(events) == 2 and "近12个月没有已确认的帮扶" in events[0].summary


def test_the_gaps_export_keeps_to_the_jurisdiction(db, gap_world, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/gaps/{OTHER_COUNTY}/export.csv").status_code == 404
    assert session.get(f"/gaps/{COUNTY}/export.csv?kind=nonsense").status_code == 404
    unit = login_as(make_user("unit", organization_id=make_org().id))
    assert unit.get(f"/gaps/{COUNTY}/export.csv").status_code == 403


def test_a_large_gaps_export_is_a_job_with_the_owners_scope(app, db, gap_world, login_as, make_user, monkeypatch):
    from registry.transfer import jobs

    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 1)
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.get(f"/gaps/{COUNTY}/export.csv?kind=no_first_secretary")
    assert response.status_code == 302
    jobs.work(once=True)
    rows = _csv(session.get(response.headers["Location"] + "/download").data)
    assert len(rows) == 4 and all(r[4].startswith(COUNTY[:6]) for r in rows[1:])


def test_the_api_items_carry_county_and_township(db, gap_world, login_as, make_user):
    townships, first, _second, _far = gap_world
    body = login_as(make_user("region", region_code=COUNTY)).get(f"/api/v1/gaps/{COUNTY}?kind=no_first_secretary").get_json()
    item = body["gaps"][0]["items"][0]
    assert item["code"] == first[0].code and item["township"] == townships[0].name



def test_a_large_fund_ledger_is_a_job(app, db, world, fund, login_as, monkeypatch):
    from registry.transfer import jobs

    org, user = fund
    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 2)
    session = login_as(user)
    response = session.get(f"/records/funds/{org.id}/export.xlsx")
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"]
    jobs.work(once=True)
    download = session.get(response.headers["Location"] + "/download")
    assert "%E8%B5%84%E9%87%91%E5%8F%B0%E8%B4%A6" in download.headers["Content-Disposition"]  # 资金台账
    rows, about = _book(download.data)
    assert len(rows) == 4 and about["行数"] == "3"
    assert login_as(world.county).get(response.headers["Location"] + "/download").status_code == 404
