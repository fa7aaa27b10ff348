"""One way to write money (issue 15): an amount typed in 元 or 万元 ("50000", "5万",
"5万元", "50,000元", full-width digits) is the same stored amount through the form, the web
import and the CLI import (all read by ``core.parsing.parse_amount``); forms show it back in
both units; charts count money in 万元 and never abbreviate a number to 50M or 12k."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select

from registry.core.formatting import amount_hint
from registry.dashboard import charts
from registry.dashboard.tables import Table
from registry.extensions import db as _db
from registry.records import services
from registry.records.models import SupportRecord
from tests.factories_records import record_data, world  # noqa: F401
from tests.sheets import upload

SPELLINGS = ["5万", "50000", "5万元", "50,000元", "５万", "５０，０００", "5.0万"]
FIFTY_THOUSAND = Decimal("50000.00")

HEADER = ["编号", "村", "填报单位", "帮扶类别", "标题", "内容说明", "直接投入资金（元）", "引进资金（元）", "实物折价（元）",
          "受益户数", "受益人数", "带动就业人数", "帮扶日期"]


def _stored() -> list[Decimal]:
    _db.session.expire_all()
    return list(_db.session.scalars(select(SupportRecord.amount).order_by(SupportRecord.id)))


def _clear() -> None:
    _db.session.execute(delete(SupportRecord))
    _db.session.commit()


def _form(world, amount: str, title: str) -> dict:
    data = record_data(world.village.code, amount=amount, amount_attracted="", title=title, action="save")
    data["pairing_id"] = ""
    return data


def test_the_form_stores_each_spelling_as_the_same_amount(db, world, login_as):
    _clear()
    unit = login_as(world.unit)
    for i, spelling in enumerate(SPELLINGS):
        response = unit.post("/records/new", data=_form(world, spelling, f"写法{i}"))
        assert response.status_code == 302, (spelling, response.get_data(as_text=True)[-1500:])
    assert _stored() == [FIFTY_THOUSAND] * len(SPELLINGS)


def _csv(rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _rows(world) -> list[list]:
    day = (date.today() - timedelta(days=5)).isoformat()
    return [[f"M-{i}", f"示例（{world.village.code}）", "", "产业", "捐建产业路", "", spelling, "", "", "1", "1", "", day]
            for i, spelling in enumerate(SPELLINGS)]


def test_the_web_import_stores_each_spelling_as_the_same_amount(db, world, login_as):
    _clear()
    response = upload(login_as(world.unit), "records", _csv(_rows(world)), "money.csv")
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    assert _stored() == [FIFTY_THOUSAND] * len(SPELLINGS)


def test_the_cli_import_stores_each_spelling_as_the_same_amount(db, world, runner, tmp_path):
    _clear()
    path = tmp_path / "money.csv"
    path.write_bytes(_csv(_rows(world)))
    done = runner.invoke(args=["import", "records", str(path), "--as", world.unit.username])
    assert done.exit_code == 0, done.output
    assert _stored() == [FIFTY_THOUSAND] * len(SPELLINGS)


def test_the_service_behind_every_entry_point_reads_them_alike(db, world):
    """There is no write API for records yet: an API would call this service, as the form does."""
    _clear()
    for spelling in SPELLINGS:
        services.create_record(world.unit, record_data(world.village.code, amount=spelling))
    assert _stored() == [FIFTY_THOUSAND] * len(SPELLINGS)


@pytest.mark.parametrize("typed, shown", [
    ("5万", "＝50,000.00 元＝5.00 万元"),
    ("50000", "＝50,000.00 元＝5.00 万元"),
    ("1,234,567.8", "＝1,234,567.80 元＝123.46 万元"),
    ("0.5", "＝0.50 元＝0.00 万元"),
    ("", ""),
    ("五万", ""),  # unreadable: the field's error says why
])
def test_the_hint_says_the_amount_in_both_units(typed, shown):
    assert amount_hint(typed) == shown


def test_a_refused_form_shows_the_typed_amount_back_in_both_units(db, world, login_as):
    unit = login_as(world.unit)
    data = _form(world, "5.2万", "")  # no title: refused
    data["amount_in_kind"] = "3000"
    response = unit.post("/records/new", data=data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请填写标题" in page
    assert 'value="5.2万"' in page and "＝52,000.00 元＝5.20 万元" in page and "＝3,000.00 元＝0.30 万元" in page
    assert "js/money.js" in page and "data-money" in page


def test_a_bad_amount_names_both_units_in_its_message(db, world, login_as):
    response = login_as(world.unit).post("/records/new", data=_form(world, "五万", "写法"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "也可写万元，如 5万" in page


# -- charts ----------------------------------------------------------------------------------

def _tables() -> dict[str, Table]:
    coverage_header = ["代码", "名称", "村（社区）数", "重点帮扶村数", "有第一书记（%）", "重点村有第一书记（%）",
                       "有后盾单位（%）", "重点村有后盾单位（%）", "有企业结对（%）", "重点村有企业结对（%）",
                       "近12个月有已确认帮扶（%）", "重点村近12个月有已确认帮扶（%）"]
    coverage_rows = [["430100000000", "长沙市", 1200, 300, *[50.0] * 8], ["430000000000", "湖南省（合计）", 1200, 300, *[50.0] * 8]]
    return {
        "coverage": Table("coverage", "", coverage_header, coverage_rows),
        # 150 million 元 in a month: Plotly's default axis would read "150M"
        "amounts": Table("amounts", "", ["月份", "资金", "产业", "合计（元）"],
                         [["2026年1月", 150_000_000.0, 2_500_000.5, 152_500_000.5], ["2026年2月", 80_000.0, 0.0, 80_000.0]]),
        "funnel": Table("funnel", "", ["环节", "记录数"], [["已提交", 250_000], ["村已处理", 120_000], ["已确认", 99_000]]),
        "training": Table("training", "", ["地区", "在岗", "已培训", "%"], [["长沙市", 12_000, 9_000, 75.0], ["合计", 12_000, 9_000, 75.0]]),
        "hierarchy": Table("hierarchy", "", ["代码", "名称", "村数", "%"], [["430100000000", "长沙市", 24_000, 50.0]]),
    }


def _axes(layout: dict) -> list[dict]:
    return [value for key, value in layout.items() if key.startswith(("xaxis", "yaxis"))]


def test_no_chart_abbreviates_numbers_with_si_suffixes():
    built = {name: json.loads(text) for name, text in charts.figures(_tables(), "湖南省").items()}
    assert set(built) == {"coverage", "amounts", "funnel", "training", "hierarchy"}
    for name, figure in built.items():
        layout = figure["layout"]
        assert layout["separators"] == ".,", name
        for axis in _axes(layout):
            assert axis.get("exponentformat") == "none", (name, axis)  # Plotly's default "B" writes 150M, 12k
            assert "s" not in axis.get("tickformat", ""), (name, axis)  # d3's SI format
        text = json.dumps(figure, ensure_ascii=False)
        assert "~s" not in text and ":s}" not in text and ".2s" not in text, name


def test_the_money_chart_counts_in_wan_yuan_and_says_so():
    figure = json.loads(charts.figures(_tables(), "湖南省")["amounts"])
    layout = figure["layout"]
    assert "万元" in layout["title"]["text"] and layout["yaxis"]["title"]["text"] == "金额（万元）"
    funds = next(trace for trace in figure["data"] if trace["name"] == "资金")
    assert funds["y"] == [15000.0, 8.0]  # 150,000,000 元 and 80,000 元, in 万元
    assert all("万元" in trace["hovertemplate"] for trace in figure["data"])
