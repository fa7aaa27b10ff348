"""Support records: what a record may hold, where a unit may file, and who sees what."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.core.rules import RuleViolation
from registry.records import services
from registry.records.models import SupportRecord
from tests.sheets import sheet_rows
from tests.factories import COUNTY, make_org, make_pairing, make_village
from tests.factories_records import audit_count, file_record, record_data, world  # noqa: F401


def _records(db) -> int:
    return db.session.scalar(select(func.count()).select_from(SupportRecord))


def _refused(db, user, data, field, fragment):
    before_records, before_events = _records(db), audit_count()
    with pytest.raises(RuleViolation) as caught:
        services.create_record(user, data)
    db.session.rollback()
    assert field in caught.value.errors, caught.value.errors
    assert any(fragment in m for m in caught.value.errors[field]), caught.value.errors
    assert _records(db) == before_records and audit_count() == before_events


# -- rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,value,fragment", [
    ("amount", "-1", "直接投入资金不能为负数"),
    ("amount", "12.345", "直接投入资金最多保留两位小数"),
    ("amount", "一万", "直接投入资金应为金额"),
    ("amount", "NaN", "直接投入资金应为数字"),
    ("amount_attracted", "-0.01", "引进资金不能为负数"),
    ("amount_in_kind", "1e20", "实物折价超出可登记的范围"),
    ("households", "-3", "受益户数不能为负数"),
    ("persons", "2.5", "受益人数应为整数"),
    ("jobs", "-1", "带动就业人数不能为负数"),
    ("title", "  ", "请填写标题"),
    ("category", "magic", "请选择有效的帮扶类别"),
    ("record_date", "", "请填写帮扶日期"),
    ("record_date", "2025-13-01", "帮扶日期格式应为"),
    ("record_date", "2020-12-31", "帮扶日期不能早于2021年1月1日"),
])
def test_bad_input_is_refused_naming_the_field(db, world, field, value, fragment):
    _refused(db, world.unit, record_data(world.village.code, **{field: value}), field, fragment)


def test_a_date_in_the_future_is_refused(db, world):
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    _refused(db, world.unit, record_data(world.village.code, record_date=tomorrow), "record_date", "帮扶日期不能晚于今天")


def test_earliest_date_is_a_setting(app, db, world):
    app.config["REGISTRY_RECORD_EARLIEST_DATE"] = date(2024, 1, 1)
    try:
        _refused(db, world.unit, record_data(world.village.code, record_date="2023-06-01"), "record_date", "不能早于2024年1月1日")
    finally:
        app.config["REGISTRY_RECORD_EARLIEST_DATE"] = date(2021, 1, 1)


def test_several_problems_are_reported_together(db, world):
    data = record_data(world.village.code, amount="-5", title="", record_date="2020-01-01")
    with pytest.raises(RuleViolation) as caught:
        services.create_record(world.unit, data)
    assert {"amount", "title", "record_date"} <= set(caught.value.errors)


def test_amounts_are_exact_decimals(db, world):
    record = services.create_record(world.unit, record_data(world.village.code, amount="1,234,567.89", amount_in_kind="0.1"))
    db.session.expire_all()
    record = db.session.get(SupportRecord, record.id)
    assert str(record.amount) == "1234567.89" and str(record.amount_in_kind) == "0.10"
    assert str(record.amount_attracted) == "30000.00"


def test_full_width_digits_are_read_and_chinese_punctuation_is_kept(db, world):
    record = services.create_record(world.unit, record_data(world.village.code, amount="１２，３４５．６", households="１２",
                                                            title="产业路：一期（硬化）"))
    db.session.expire_all()
    record = db.session.get(SupportRecord, record.id)
    assert str(record.amount) == "12345.60" and record.households == 12 and record.title == "产业路：一期（硬化）"


def test_a_village_outside_pairings_and_postings_is_refused(db, world):
    for village in (world.stranger_village, world.far_village):
        _refused(db, world.unit, record_data(village.code), "village_code", "该村不在本单位的结对或选派范围内")


def test_paired_and_posted_villages_are_accepted(db, world):
    assert services.create_record(world.unit, record_data(world.village.code)).status == "draft"
    assert services.create_record(world.unit, record_data(world.posted_village.code)).status == "draft"


def test_a_past_pairing_counts_but_a_future_one_does_not(db, world):
    make_pairing(world.org, world.stranger_village.code, start=date(2022, 1, 1), end_date=date(2022, 12, 31))
    far = make_village(COUNTY, 9)
    make_pairing(world.org, far.code, start=date.today() + timedelta(days=30))
    assert services.create_record(world.unit, record_data(world.stranger_village.code, record_date="2022-06-01"))
    _refused(db, world.unit, record_data(far.code), "village_code", "该村不在本单位的结对或选派范围内")


def test_a_county_pairing_covers_the_villages_of_the_county(db, world):
    org = make_org("paired_unit")
    make_pairing(org, COUNTY, "paired", sector="education")
    from registry.accounts.services import create_user

    user, _ = create_user("paired_unit_user", "unit", organization_id=org.id, password="Passw0rd-for-tests")
    db.session.commit()
    assert services.village_allowed(org.id, world.stranger_village.code)
    assert not services.village_allowed(org.id, world.far_village.code)
    assert services.create_record(user, record_data(world.stranger_village.code))


def test_the_pairing_must_be_the_units_and_cover_the_village(db, world):
    foreign = make_pairing(world.other_org, world.village.code)
    _refused(db, world.unit, record_data(world.village.code, pairing_id=str(foreign.id)), "pairing_id", "不属于本单位")
    _refused(db, world.unit, record_data(world.posted_village.code, pairing_id=str(world.pairing.id)), "pairing_id", "不包含该村")
    record = services.create_record(world.unit, record_data(world.village.code, pairing_id=str(world.pairing.id)))
    assert record.pairing_id == world.pairing.id


def test_a_record_is_linked_only_to_a_pairing_in_force_on_its_date(db, world, login_as):
    """World's pairing began on 2023-01-01: help given before it is not that pairing's,
    nor help after a pairing ended; the form says so on the pairing, and keeps the rest."""
    pairing = str(world.pairing.id)
    _refused(db, world.unit, record_data(world.village.code, pairing_id=pairing, record_date="2022-12-31"),
             "pairing_id", "所选结对关系自2023年1月1日起，帮扶日期2022年12月31日在此之前")
    ended = make_pairing(world.org, world.stranger_village.code, start=date(2022, 1, 1), end_date=date(2022, 12, 31))
    _refused(db, world.unit, record_data(world.stranger_village.code, pairing_id=str(ended.id)),
             "pairing_id", "所选结对关系已于2022年12月31日结束")
    assert services.create_record(world.unit, record_data(world.stranger_village.code, pairing_id=str(ended.id),
                                                          record_date="2022-06-01")).pairing_id == ended.id
    assert services.create_record(world.unit, record_data(world.village.code, record_date="2022-12-31")).pairing_id is None
    page = login_as(world.unit).post("/records/new", data=record_data(world.village.code, pairing_id=pairing,
                                                                       record_date="2022-12-31", title="修路"))
    body = page.get_data(as_text=True)
    assert page.status_code == 422 and "请改选当时有效的结对关系" in body and 'value="修路"' in body


def test_only_unit_accounts_file(db, world):
    with pytest.raises(RuleViolation) as caught:
        services.create_record(world.village_user, record_data(world.village.code))
    assert "只有帮扶单位" in caught.value.message


# -- the pages --------------------------------------------------------------------------------------

def test_new_form_offers_only_the_units_villages_and_pairings(login_as, world):
    body = login_as(world.unit).get("/records/new").get_data(as_text=True)
    assert world.village.code in body and world.posted_village.code in body
    assert world.stranger_village.code not in body and world.far_village.code not in body
    assert "驻村帮扶" in body  # the pairing choice


def test_filing_through_the_form(login_as, db, world):
    session = login_as(world.unit)
    response = session.post("/records/new", data={**record_data(world.village.code), "action": "save"})
    assert response.status_code == 302
    record = db.session.scalars(select(SupportRecord)).one()
    assert record.status == "draft" and record.created_by_id == world.unit.id
    assert record.organization_id == world.org.id


def test_filing_and_submitting_at_once(login_as, db, world):
    session = login_as(world.unit)
    session.post("/records/new", data={**record_data(world.village.code), "action": "submit"})
    record = db.session.scalars(select(SupportRecord)).one()
    assert record.status == "submitted" and record.submitted_at is not None


def test_a_refused_form_keeps_the_input_and_writes_nothing(login_as, db, world):
    session = login_as(world.unit)
    before = audit_count()
    data = {**record_data(world.stranger_village.code, title="我的标题保留", amount="-3"), "action": "submit"}
    response = session.post("/records/new", data=data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "该村不在本单位的结对或选派范围内" in body and "直接投入资金不能为负数" in body
    assert 'value="我的标题保留"' in body and 'value="-3"' in body
    assert _records(db) == 0 and audit_count() == before


def test_the_village_and_region_do_not_see_drafts(login_as, db, world):
    draft = file_record(world.unit, world.village.code)
    submitted = file_record(world.unit, world.village.code, status="submitted", title="已提交的记录")
    for user in (world.village_user, world.county, world.township, world.viewer):
        session = login_as(user)
        assert session.get(f"/records/{draft.id}").status_code == 404, user.username
        assert session.get(f"/records/{submitted.id}").status_code == 200, user.username
        assert "已提交的记录" in session.get("/records/").get_data(as_text=True)
    assert login_as(world.unit).get(f"/records/{draft.id}").status_code == 200
    assert login_as(world.admin).get(f"/records/{draft.id}").status_code == 200


def test_outside_the_scope_a_record_does_not_exist(login_as, world):
    record = file_record(world.unit, world.village.code, status="submitted", title="范围测试记录")
    for user in (world.other_unit, world.stranger_village_user, world.other_county):
        session = login_as(user)
        assert session.get(f"/records/{record.id}").status_code == 404, user.username
        assert "范围测试记录" not in session.get("/records/").get_data(as_text=True)
        assert session.get(f"/records/?village_code={world.village.code}").status_code == 200


def test_list_filters(login_as, world):
    file_record(world.unit, world.village.code, title="产业记录甲", category="industry")
    file_record(world.unit, world.posted_village.code, title="教育记录乙", category="education", status="submitted")
    session = login_as(world.unit)
    body = session.get("/records/?category=education").get_data(as_text=True)
    assert "教育记录乙" in body and "产业记录甲" not in body
    body = session.get("/records/?status=draft").get_data(as_text=True)
    assert "产业记录甲" in body and "教育记录乙" not in body
    body = session.get(f"/records/?village_code={world.posted_village.code}").get_data(as_text=True)
    assert "教育记录乙" in body and "产业记录甲" not in body
    body = session.get("/records/?q=产业").get_data(as_text=True)
    assert "产业记录甲" in body and "教育记录乙" not in body
    file_record(world.unit, world.village.code, title="按编号找的记录", reference="XZ-2026-017")
    body = session.get("/records/?q=2026-017").get_data(as_text=True)  # the 编号, as a spreadsheet writes it
    assert "按编号找的记录" in body and "产业记录甲" not in body
    old = (date.today() - timedelta(days=400)).isoformat()
    file_record(world.unit, world.village.code, title="去年的记录", record_date=old)
    body = session.get(f"/records/?date_to={(date.today() - timedelta(days=300)).isoformat()}").get_data(as_text=True)
    assert "去年的记录" in body and "产业记录甲" not in body
    assert session.get("/records/?status=nonsense&date_from=bad&organization_id=99999999999999").status_code == 200


def test_unit_home_shows_drafts_pending_and_disputed_with_the_reason(login_as, world):
    file_record(world.unit, world.village.code, title="一条草稿")
    file_record(world.unit, world.village.code, status="submitted", title="等待确认的记录")
    file_record(world.unit, world.village.code, status="disputed", village_user=world.village_user,
                reason="实际只收到八万元", title="有异议的记录")
    body = login_as(world.unit).get("/").get_data(as_text=True)
    for text in ("草稿", "一条草稿", "等待村确认", "等待确认的记录", "村有异议的记录", "有异议的记录", "实际只收到八万元"):
        assert text in body, text


def test_village_inbox_oldest_first_with_a_count_in_the_navigation(login_as, db, world):
    first = file_record(world.unit, world.village.code, status="submitted", title="先提交的记录")
    second = file_record(world.unit, world.village.code, status="submitted", title="后提交的记录")
    first.submitted_at = first.submitted_at - timedelta(days=3)
    db.session.commit()
    file_record(world.unit, world.village.code, title="草稿不进收件箱")
    session = login_as(world.village_user)
    body = session.get("/records/inbox").get_data(as_text=True)
    assert body.index("先提交的记录") < body.index("后提交的记录")
    assert "草稿不进收件箱" not in body
    assert 'action="/records/%d/confirm"' % second.id in body
    home = session.get("/").get_data(as_text=True)
    assert '待确认 <span class="badge">2</span>' in home
    assert "待本村确认的帮扶记录" in home and "先提交的记录" in home
    assert login_as(world.stranger_village_user).get("/records/inbox").get_data(as_text=True).count("先提交的记录") == 0


def test_the_village_exports_what_its_inbox_lists(login_as, db, world):
    file_record(world.unit, world.village.code, status="submitted", title="待确认的记录")
    file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user, title="已确认的记录")
    session = login_as(world.village_user)
    inbox = session.get("/records/inbox").get_data(as_text=True)
    assert "/records/export.xlsx?status=submitted" in inbox and "/records/export.csv?status=submitted" in inbox
    for fmt in ("xlsx", "csv"):
        cells = {cell for row in sheet_rows(session.get(f"/records/export.{fmt}?status=submitted").data, fmt) for cell in row}
        assert "待确认的记录" in cells and "已确认的记录" not in cells
    # an empty inbox offers nothing to export
    assert "/records/export.xlsx" not in login_as(world.stranger_village_user).get("/records/inbox").get_data(as_text=True)


def _age(db, record, days):
    record = db.session.get(SupportRecord, record.id)
    record.submitted_at = record.submitted_at - timedelta(days=days)
    db.session.commit()


def test_overdue_worklist_for_township_and_county(app, login_as, db, world):
    late = file_record(world.unit, world.village.code, status="submitted", title="逾期的记录")
    recent = file_record(world.unit, world.village.code, status="submitted", title="未逾期的记录")
    _age(db, late, 31)
    _age(db, recent, 29)
    disputed = file_record(world.unit, world.village.code, status="disputed", village_user=world.village_user, title="有异议不算逾期")
    _age(db, disputed, 40)
    for user in (world.township, world.county):
        session = login_as(user)
        body = session.get("/records/overdue").get_data(as_text=True)
        assert "逾期的记录" in body and "未逾期的记录" not in body and "有异议不算逾期" not in body
        home = session.get("/").get_data(as_text=True)
        assert "超过 30 天未确认的记录" in home and "逾期的记录" in home
    assert "逾期的记录" not in login_as(world.other_county).get("/records/overdue").get_data(as_text=True)
    assert login_as(world.unit).get("/records/overdue").status_code == 403
    app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"] = 20
    try:
        assert "未逾期的记录" in login_as(world.county).get("/records/overdue").get_data(as_text=True)
    finally:
        app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"] = 30


def test_overdue_count_on_region_pages_and_records_on_the_village_page(login_as, db, world):
    late = file_record(world.unit, world.village.code, status="submitted", title="逾期的记录")
    _age(db, late, 45)
    file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user, title="确认过的记录")
    session = login_as(world.county)
    body = session.get(f"/regions/{COUNTY}").get_data(as_text=True)
    assert "仍未确认的记录：<b class=\"flag-gap\">1</b>" in body
    body = session.get(f"/records/overdue?region={world.village.parent_code}").get_data(as_text=True)
    assert "逾期的记录" in body
    assert session.get("/records/overdue?region=430102000000").status_code == 404
    village_page = login_as(world.village_user).get(f"/regions/{world.village.code}").get_data(as_text=True)
    assert "确认过的记录" in village_page and "逾期的记录" in village_page and "已确认 <b>1</b> 条" in village_page


def test_a_client_that_never_opens_the_next_page_keeps_a_few_messages_not_all(db, world, login_as):
    """A script (or a form sent from several tabs) posts without following the redirect:
    the messages waiting for the next page are the latest five, not one more a write (the
    session cookie would outgrow what a browser keeps, and each request would read it)."""
    unit = login_as(world.unit)
    for n in range(7):
        response = unit.post("/records/new", data={**record_data(world.village.code), "title": f"第{n}条",
                                                   "action": "draft" if n < 6 else "submit"})
        assert response.status_code == 302
    with unit.client.session_transaction() as session:
        assert [message for _, message in session["_flashes"]] == ["草稿已保存"] * 4 + ["已提交，等待村确认"]
    assert "已提交，等待村确认" in unit.get("/records/").get_data(as_text=True)
    with unit.client.session_transaction() as session:
        assert "_flashes" not in session
    assert _records(db) == 7
