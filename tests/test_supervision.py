"""资金监督: a viewer (监督查询: 纪检监察, 财政, 审计…) follows a fund from the money it
received to the village it paid and the village's confirmation, and a money record with its
corrections, every change of each from the audit trail on one page; scope holds; the
exports are audited; the viewer's body is shown."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.extensions import db
from registry.records import services as records
from registry.records.funds import add_contribution
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing, make_village
from tests.factories_records import file_record


@pytest.fixture()
def world(app, make_user):
    from tests.conftest import built_once

    def build():
        village = make_village(COUNTY, 1, is_key=True)
        far = make_village(OTHER_COUNTY, 1)
        fund = make_org("charity", COUNTY, name="监督测试基金会", level="county")
        unit = make_org("backing_unit", COUNTY, name="监督测试局", level="county")
        make_pairing(fund, village.code, "other")
        make_pairing(fund, far.code, "other")
        make_pairing(unit, village.code)
        fund_user = make_user("unit", organization_id=fund.id)
        unit_user = make_user("unit", organization_id=unit.id)
        village_user = make_user("village", village_code=village.code)
        far_user = make_user("village", village_code=far.code)
        add_contribution(fund, fund_user, {"donor": "爱心企业甲", "amount": "200000", "received_on": "2025-03-01",
                                           "receipt_no": "JD-001"})
        paid = file_record(fund_user, village.code, status="confirmed", village_user=village_user, title="基金拨付产业资金",
                           category="funds", amount="50000")
        elsewhere = file_record(fund_user, far.code, status="confirmed", village_user=far_user, title="基金拨付外县资金",
                                category="funds", amount="30000")
        money = file_record(unit_user, village.code, status="confirmed", village_user=village_user, title="单位帮扶资金",
                            category="funds", amount="80000")
        from tests.factories_records import record_data

        correction = records.start_correction(money, unit_user, record_data(
            village.code, category="funds", title="单位帮扶资金（更正）", amount="85000"), submit=True)
        records.confirm_record(correction, village_user)
        viewer = make_user("viewer", region_code=COUNTY, oversight_body="audit")
        return {"fund": fund, "paid": paid, "elsewhere": elsewhere, "money": money, "correction": correction,
                "viewer": viewer, "village_user": village_user, "other_viewer": make_user("viewer", region_code=OTHER_COUNTY)}

    return built_once("supervision.world", build)


def test_a_viewer_follows_a_fund_from_contribution_to_confirmation(world, login_as):
    viewer = login_as(world["viewer"])
    page = viewer.get(f"/supervision/funds/{world['fund'].id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "审计" in body  # the viewer's body
    assert "爱心企业甲" in body and "JD-001" in body  # the money in
    assert "基金拨付产业资金" in body and "已确认" in body  # to the village, confirmed
    assert "基金拨付外县资金" not in body  # another county's village: outside the viewer's scope
    # every change from the audit trail: the contribution, the record's filing, submission, confirmation
    trail = body.split('id="trail"')[1]
    for words in ("登记受赠资金", "新增", "提交确认", "确认"):
        assert words in trail
    ids = {e.id for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id == str(world["paid"].id)))}
    assert ids and all(f"<td>{i}</td>" in trail for i in ids)


def test_the_fund_list_and_money_records_stay_in_scope(world, login_as):
    body = login_as(world["viewer"]).get("/supervision/").get_data(as_text=True)
    assert "监督测试基金会" in body and "基金拨付产业资金" in body and "单位帮扶资金" in body
    assert 'href="/records/funds">全部基金与导出</a>' in body  # the whole list of funds, which exports
    assert "基金拨付外县资金" not in body
    other = login_as(world["other_viewer"])
    assert "单位帮扶资金" not in other.get("/supervision/").get_data(as_text=True)
    assert other.get(f"/supervision/records/{world['money'].id}").status_code == 404


def test_a_record_trail_shows_its_corrections(world, login_as):
    body = login_as(world["viewer"]).get(f"/supervision/records/{world['money'].id}").get_data(as_text=True)
    assert "更正链" in body and "单位帮扶资金（更正）" in body


def test_only_readers_supervise(world, login_as):
    assert login_as(world["village_user"]).get("/supervision/").status_code == 403


def test_a_trail_export_is_audited(world, login_as):
    viewer = login_as(world["viewer"])
    response = viewer.get(f"/supervision/funds/{world['fund'].id}/trail.csv")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "登记受赠资金" in text and "基金拨付外县资金" not in text
    # the changes as the trail's own export writes them (audit.labels.changes_text): a
    # creation's values, a change's old and new
    assert "收据编号：JD-001；" in text and "状态：草稿 → 待确认" in text and '"status"' not in text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert "资金监督轨迹" in event.summary and event.actor_id == world["viewer"].id
    assert viewer.get(f"/supervision/records/{world['paid'].id}/trail.xlsx").status_code == 200


def _sheet(body: bytes):
    """The export's rows and its second sheet (说明: 筛选条件, 行数...) as a dict."""
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(body))
    rows = [[c.value for c in row] for row in book.worksheets[0].iter_rows()]
    return rows, {r[0].value: r[1].value for r in book.worksheets[1].iter_rows()}


def test_the_money_records_export_is_the_list_as_filtered_and_audited(world, login_as):
    viewer = login_as(world["viewer"])
    page = viewer.get("/supervision/?status=confirmed").get_data(as_text=True)
    assert "/supervision/export.xlsx?status=confirmed" in page and "/supervision/export.csv?status=confirmed" in page
    rows, about = _sheet(viewer.get("/supervision/export.xlsx").data)
    header, titles = rows[0], sorted(r[rows[0].index("标题")] for r in rows[1:])
    assert "编号" in header and "直接投入资金（元）" in header  # the ledger's columns (帮扶台账)
    # the list's own rows: the fund's payment and the unit's money record with its correction;
    # not the payment to another county's village
    assert titles == ["单位帮扶资金", "单位帮扶资金（更正）", "基金拨付产业资金"]
    assert about["筛选条件"] == "无（全部可见数据）" and about["行数"] == "3"
    rows, about = _sheet(viewer.get("/supervision/export.xlsx?status=confirmed&q=更正").data)
    assert [r[rows[0].index("标题")] for r in rows[1:]] == ["单位帮扶资金（更正）"]
    assert about["筛选条件"] == "状态：已确认；标题含：更正"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert "资金类帮扶记录" in event.summary and event.actor_id == world["viewer"].id and "1" in event.summary
    text = viewer.get("/supervision/export.csv").get_data(as_text=True)
    assert "基金拨付产业资金" in text and "基金拨付外县资金" not in text
    assert viewer.get("/supervision/export.pdf").status_code == 404
    # another county's viewer: none of these; a village: not a reader
    assert "单位帮扶资金" not in login_as(world["other_viewer"]).get("/supervision/export.csv").get_data(as_text=True)
    assert login_as(world["village_user"]).get("/supervision/export.csv").status_code == 403


def test_a_viewer_body_is_only_for_viewers(app):
    from registry.accounts.services import create_user
    from registry.core.rules import RuleViolation

    with pytest.raises(RuleViolation, match="只有监督查询账号"):
        create_user("body_region", "region", region_code=COUNTY, oversight_body="audit")
    with pytest.raises(RuleViolation, match="有效的监督单位"):
        create_user("body_viewer", "viewer", region_code=COUNTY, oversight_body="nobody")


def test_a_record_trail_holds_its_chase_ups(app, make_user, login_as):
    from datetime import timedelta

    from flask import current_app

    from registry.chase.services import chase, record_item
    from tests.factories import first_township

    village = make_village(COUNTY, 2)
    unit = make_org("backing_unit", COUNTY, level="county")
    make_pairing(unit, village.code)
    money = file_record(make_user("unit", organization_id=unit.id), village.code, status="submitted",
                        title="待确认的帮扶资金", category="funds")
    money.submitted_at -= timedelta(days=45)
    db.session.commit()
    township = make_user("region", region_code=first_township(COUNTY).code)
    with current_app.test_request_context():
        chase(record_item(money), township, "请尽快确认")
    body = login_as(make_user("viewer", region_code=COUNTY)).get(f"/supervision/records/{money.id}").get_data(as_text=True)
    assert "请尽快确认" in body.split('id="trail"')[1]


def test_the_navigation_of_each_role(app, make_user, login_as):
    from tests.factories import make_person, make_posting

    def nav(user) -> str:
        body = login_as(user).get("/").get_data(as_text=True)
        return body.split('class="mainnav')[1].split("</nav>")[0]

    viewer = nav(make_user("viewer", region_code=COUNTY))
    assert all(f'href="{path}"' in viewer for path in ("/care/", "/tolerance/", "/supervision/"))
    unit_org = make_org("backing_unit", COUNTY, level="county")
    unit = nav(make_user("unit", organization_id=unit_org.id))
    assert 'href="/care/"' in unit and 'href="/tolerance/"' in unit and "/supervision/" not in unit
    village = make_village(COUNTY, 3)
    shown = nav(make_user("village", village_code=village.code))
    assert "/care/" not in shown and "/tolerance/" not in shown and "/supervision/" not in shown
    person = make_person(unit_org, "导航干部")
    make_posting(person, unit_org, village.code)
    from tests.factories import make_cadre

    cadre = nav(make_cadre(person, make_user("unit", organization_id=unit_org.id)))
    assert f'href="/care/person/{person.id}"' in cadre and "/tolerance/" not in cadre
