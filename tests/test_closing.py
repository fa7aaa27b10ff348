"""Closing a year (年度关账): one rule refuses every change to a figure of a closed year,
by form, import and CLI alike, and nothing is written (rows and audit events stay)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.closing.rules import ensure_year_open, year_open
from registry.closing.services import close_year
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_pairing, make_village
from tests.factories_assessment import make_duty, make_result, make_support, posted_secretary
from tests.sheets import csv_bytes, upload

THIS_YEAR = local_today().year
CLOSED = THIS_YEAR - 1
CITY = COUNTY[:4] + "00000000"


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def counts(model) -> tuple[int, int]:
    return count(model), count(AuditEvent)


@pytest.fixture()
def posted(db):
    village, org, person, posting = posted_secretary(start=date(2024, 1, 1))
    return village, org, person, posting


def close(make_user, code: str = COUNTY, year: int = CLOSED):
    user = make_user("region", region_code=code, display_name="关账员")
    return close_year(user, year, "freeze", True)


def cli(runner, tmp_path, kind: str, body: bytes, user):
    path = tmp_path / f"{kind}.csv"
    path.write_bytes(body)
    return runner.invoke(args=["import", kind, str(path), "--as", user.username])


# -- the rule ----------------------------------------------------------------------------------


def test_a_close_covers_its_jurisdiction_and_everything_under_it(db, make_user):
    village = make_village(COUNTY, 1)
    other = make_village(OTHER_COUNTY, 1)
    assert year_open(CLOSED, village.code, "duty")
    close(make_user)
    assert not year_open(CLOSED, village.code, "duty")
    assert not year_open(CLOSED, COUNTY, "assessment")
    assert year_open(CLOSED, other.code, "duty")  # another county
    assert year_open(THIS_YEAR, village.code, "duty")  # another year
    assert year_open(CLOSED, CITY, "incentives")  # the city above is not closed by its county
    with pytest.raises(RuleViolation) as refused:
        ensure_year_open(CLOSED, village.code, "records", "record_date")
    message = refused.value.errors["record_date"][0]
    assert message.startswith(f"{CLOSED}年度已由") and "关账（关账员，" in message and "帮扶记录不能再新增或修改；确需补录或更正的，请联系" in message


def test_a_higher_levels_close_covers_the_lower_ones(db, make_user):
    village, other = make_village(COUNTY, 1), make_village(OTHER_COUNTY, 1)
    close(make_user, PROVINCE)
    assert not year_open(CLOSED, village.code, "results") and not year_open(CLOSED, other.code, "results")
    with pytest.raises(RuleViolation, match="无需再次关账"):
        close(make_user, COUNTY)  # already covered from above


@pytest.mark.parametrize("level_code", ["township", "unit"])
def test_only_county_city_and_province_staff_close(db, make_user, level_code):
    from registry.regions.models import Region

    if level_code == "township":
        township = db.session.scalar(select(Region).where(Region.parent_code == COUNTY).limit(1))
        user = make_user("region", region_code=township.code)
    else:
        user = make_user("unit", organization_id=make_org().id)
    with pytest.raises(RuleViolation, match="县市区、市州和省级"):
        close_year(user, CLOSED, "freeze", True)


# -- duty months ------------------------------------------------------------------------------

DUTY_HEADER = ["姓名", "身份证号", "村", "选派开始日期", "月份", "在村天数", "请假天数", "请假批准人", "无故缺勤天数", "工作纪实"]


def _duty_csv(posting, month: str) -> bytes:
    return csv_bytes([DUTY_HEADER, [posting.person.name, posting.person.id_number,
                                    f"{posting.region.name}（{posting.region_code}）", posting.start_date.isoformat(),
                                    month, 22, 0, "", 0, "走访农户"]])


def test_a_closed_year_refuses_duty_months_by_form_import_and_cli(posted, make_user, login_as, runner, tmp_path):
    from registry.duty.models import DutyMonth

    village, org, person, posting = posted
    unit = make_user("unit", organization_id=org.id)
    filed = make_duty(posting, date(CLOSED, 11, 1), absences=0)
    close(make_user)
    session = login_as(unit)
    township = login_as(make_user("region", region_code=COUNTY))
    before = counts(DutyMonth)  # after the logins, which are audited too
    form = {"month": f"{CLOSED}-03", "days_in_village": "22", "leave_days": "0", "absences": "0", "summary": "走访"}
    response = session.post(f"/duty/posting/{posting.id}/new", data=form)
    assert response.status_code == 422 and f"{CLOSED}年度已由" in response.get_data(as_text=True)
    edit = session.post(f"/duty/{filed.id}/edit", data={**form, "month": f"{CLOSED}-11", "absences": "6",
                                                         "version": filed.version})
    assert edit.status_code == 422 and "驻村纪实不能再新增或修改" in edit.get_data(as_text=True)
    imported = upload(session, "duty", _duty_csv(posting, f"{CLOSED}-04"), "d.csv")
    assert f"{CLOSED}年度已由" in imported.get_data(as_text=True)
    result = cli(runner, tmp_path, "duty", _duty_csv(posting, f"{CLOSED}-05"), unit)
    assert result.exit_code == 1 and f"{CLOSED}年度已由" in result.output
    township.post(f"/duty/{filed.id}/check", data={"version": filed.version})
    assert counts(DutyMonth) == before
    db.session.expire_all()
    assert db.session.get(DutyMonth, filed.id).status == "filed" and db.session.get(DutyMonth, filed.id).absences == 0
    # this year is open
    ok = session.post(f"/duty/posting/{posting.id}/new", data={**form, "month": f"{THIS_YEAR}-01"})
    assert ok.status_code == 302 and count(DutyMonth) == before[0] + 1


# -- village results --------------------------------------------------------------------------

RESULT_HEADER = ["村", "年度", "村集体经济经营性收入（元）", "脱贫人口人均纯收入（元）", "监测对象户数", "其中已消除风险户数",
                 "产业项目（个）", "带动就业（人）", "办实事（件）", "备注"]
RESULT_FORM = {"collective_income": "156800.50", "per_capita_income": "16234", "monitored_households": "14",
               "risk_removed_households": "9", "industry_projects": "3", "jobs_created": "42", "practical_matters": "18"}


def test_a_closed_year_refuses_village_results_by_form_import_and_cli(db, make_user, login_as, runner, tmp_path):
    from registry.results.models import VillageResult

    village = make_village(COUNTY, 1)
    filed = make_result(village.code, year=CLOSED - 1)
    user = make_user("village", village_code=village.code)
    close(make_user, year=CLOSED - 1)
    close(make_user, year=CLOSED)
    session = login_as(user)
    verifier = login_as(make_user("region", region_code=COUNTY))
    before = counts(VillageResult)
    response = session.post("/results/new", data={"year": str(CLOSED), **RESULT_FORM})
    assert response.status_code == 422 and "帮扶实效不能再新增或修改" in response.get_data(as_text=True)
    edit = session.post(f"/results/{filed.id}/edit", data={"year": str(CLOSED - 1), **RESULT_FORM,
                                                             "version": filed.version})
    assert edit.status_code == 422 and "帮扶实效不能再新增或修改" in edit.get_data(as_text=True)
    body = csv_bytes([RESULT_HEADER, [village.code, CLOSED, *RESULT_FORM.values(), ""]])
    assert "帮扶实效不能再新增或修改" in upload(session, "results", body, "r.csv").get_data(as_text=True)
    result = cli(runner, tmp_path, "results", body, user)
    assert result.exit_code == 1 and "帮扶实效不能再新增或修改" in result.output
    verifier.post(f"/results/{filed.id}/verify", data={"version": filed.version})
    assert counts(VillageResult) == before
    db.session.expire_all()
    assert db.session.get(VillageResult, filed.id).status == "filed"
    ok = session.post("/results/new", data={"year": str(THIS_YEAR), **RESULT_FORM})
    assert ok.status_code == 302


# -- support records --------------------------------------------------------------------------

RECORD_HEADER = ["编号", "村", "填报单位", "帮扶类别", "标题", "内容说明", "直接投入资金（元）", "引进资金（元）", "实物折价（元）",
                 "受益户数", "受益人数", "带动就业人数", "帮扶日期"]


def test_a_closed_year_refuses_support_records_by_form_import_and_cli(db, make_user, login_as, runner, tmp_path):
    from registry.records.models import SupportRecord
    from tests.factories_records import record_data

    village = make_village(COUNTY, 1)
    org = make_org(name="省测试厅")
    make_pairing(org, village.code, "resident", start=date(2023, 1, 1))
    unit = make_user("unit", organization_id=org.id)
    village_user = make_user("village", village_code=village.code)
    day = date(CLOSED, 6, 1)
    filed_at = datetime(CLOSED, 6, 2, 8, 0)
    submitted = make_support(org, village.code, day, status="submitted", reference="S-1", submitted_at=filed_at)
    draft = make_support(org, village.code, day, status="draft", reference="S-2")
    confirmed = make_support(org, village.code, day, status="confirmed", reference="S-3", submitted_at=filed_at)
    close(make_user)
    session = login_as(unit)
    village_session = login_as(village_user)
    before = counts(SupportRecord)
    data = record_data(village.code, record_date=day.isoformat())
    response = session.post("/records/new", data=data)
    assert response.status_code == 422 and "帮扶记录不能再新增或修改" in response.get_data(as_text=True)
    # one save says every reason: a field's mistake and the close together
    both = session.post("/records/new", data={**data, "title": ""}).get_data(as_text=True)
    assert "请填写标题" in both and "帮扶记录不能再新增或修改" in both
    # a record of this year may not be moved into the closed year either
    session.post(f"/records/{draft.id}/edit", data={**data, "version": draft.version})
    session.post(f"/records/{confirmed.id}/correct", data={**data, "amount": "1"})
    row = ["N-1", f"示例（{village.code}）", "", "产业", "捐建产业路", "", "50000", "", "", "12", "40", "", day.isoformat()]
    body = csv_bytes([RECORD_HEADER, row])
    assert "帮扶记录不能再新增或修改" in upload(session, "records", body, "records.csv").get_data(as_text=True)
    result = cli(runner, tmp_path, "records", body, unit)
    assert result.exit_code == 1 and "帮扶记录不能再新增或修改" in result.output
    confirm = village_session.post(f"/records/{submitted.id}/confirm", data={"version": submitted.version},
                                   follow_redirects=True)
    assert "帮扶记录不能再新增或修改" in confirm.get_data(as_text=True)
    village_session.post(f"/records/{submitted.id}/dispute", data={"reason": "不符", "version": submitted.version})
    assert counts(SupportRecord) == before
    db.session.expire_all()
    assert [db.session.get(SupportRecord, r.id).status for r in (submitted, draft, confirmed)] == \
        ["submitted", "draft", "confirmed"]
    ok = session.post("/records/new", data=record_data(village.code))  # dated this year
    assert ok.status_code == 302 and count(SupportRecord) == before[0] + 1


def test_the_pages_say_why_a_closed_years_record_has_no_actions(db, make_user, login_as):
    """The village's inbox still lists a record left waiting in a closed year, but offers
    neither 确认 nor 异议: it says the year is closed and whom to ask; the record's page
    says the same to its unit and its village where their actions would be."""
    village = make_village(COUNTY, 1)
    org = make_org(name="省测试厅")
    make_pairing(org, village.code, "resident", start=date(2023, 1, 1))
    filed_at = datetime(CLOSED, 6, 2, 8, 0)
    waiting = make_support(org, village.code, date(CLOSED, 6, 1), status="submitted", reference="S-1",
                           submitted_at=filed_at)
    confirmed = make_support(org, village.code, date(CLOSED, 6, 1), status="confirmed", reference="S-2",
                             submitted_at=filed_at)
    open_year = make_support(org, village.code, date(THIS_YEAR, 1, 5), status="submitted", reference="S-3",
                             submitted_at=datetime(THIS_YEAR, 1, 6, 8, 0))
    close(make_user)
    village_session = login_as(make_user("village", village_code=village.code))
    inbox = village_session.get("/records/inbox").get_data(as_text=True)
    assert inbox.count("帮扶记录不能再新增或修改；确需补录或更正的，请联系当地乡镇或县市区申请重新开放") == 1
    assert f"/records/{waiting.id}/confirm" not in inbox and f"/records/{waiting.id}/dispute" not in inbox
    assert f"/records/{open_year.id}/confirm" in inbox and f"/records/{open_year.id}/dispute" in inbox
    page = village_session.get(f"/records/{waiting.id}").get_data(as_text=True)
    assert 'id="record-frozen"' in page and 'id="decide"' not in page
    unit_session = login_as(make_user("unit", organization_id=org.id))
    page = unit_session.get(f"/records/{confirmed.id}").get_data(as_text=True)
    assert 'id="record-frozen"' in page and "提交更正" not in page
    # nothing to say where the close takes nothing away: the open year's record, a viewer
    assert 'id="record-frozen"' not in unit_session.get(f"/records/{open_year.id}").get_data(as_text=True)
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    assert 'id="record-frozen"' not in viewer.get(f"/records/{waiting.id}").get_data(as_text=True)


# -- assessments, incentives, fund entries ------------------------------------------------------


def test_a_closed_year_refuses_grades_and_incentives(posted, make_user, login_as):
    from registry.assessment.models import Assessment, Incentive

    village, org, person, posting = posted
    county = make_user("region", region_code=COUNTY)
    close(make_user)
    session = login_as(county)
    before = count(Assessment), count(Incentive), count(AuditEvent)
    graded = session.post(f"/assessment/posting/{posting.id}?year={CLOSED}", data={"year": CLOSED, "grade": "称职"})
    assert graded.status_code == 422 and "考核结果不能再新增或修改" in graded.get_data(as_text=True)
    issued = session.post(f"/incentives/new/person/{person.id}", data={
        "kind": "commendation", "issued_on": f"{CLOSED}-12-20", "level": "county", "reason": "表现突出"})
    assert issued.status_code == 422 and "表扬激励和约谈不能再新增或修改" in issued.get_data(as_text=True)
    assert (count(Assessment), count(Incentive), count(AuditEvent)) == before
    ok = session.post(f"/assessment/posting/{posting.id}?year={THIS_YEAR}", data={"year": THIS_YEAR, "grade": "称职"})
    assert ok.status_code == 302


def test_a_closed_year_refuses_fund_entries(db, make_user, login_as):
    from registry.records.models import FundContribution

    org = make_org("charity", region_code=COUNTY, name="测试慈善基金会")
    user = make_user("unit", organization_id=org.id)
    close(make_user)
    session = login_as(user)
    before = counts(FundContribution)
    data = {"donor": "某爱心企业", "amount": "500000", "received_on": f"{CLOSED}-12-01", "receipt_no": "R-1", "note": ""}
    response = session.post(f"/records/funds/{org.id}/contributions/new", data=data)
    assert response.status_code == 422 and "受赠资金不能再新增或修改" in response.get_data(as_text=True)
    assert counts(FundContribution) == before


# -- the close page ---------------------------------------------------------------------------


def test_the_close_page_says_what_closing_freezes_and_lists_what_is_pending(posted, make_user, login_as):
    from registry.closing.models import YearClose

    village, org, person, posting = posted
    make_duty(posting, date(CLOSED, 11, 1))  # 待核实
    make_support(org, village.code, date(CLOSED, 5, 1), status="submitted", submitted_at=datetime(CLOSED, 5, 2))
    county = login_as(make_user("region", region_code=COUNTY, display_name="县乡村振兴局张三"))
    page = county.get(f"/closing/close?year={CLOSED}").get_data(as_text=True)
    for words in ("驻村纪实", "帮扶实效", "考核结果", "表扬激励和约谈", "帮扶记录", "受赠资金", "照原样冻结", "先返回处理",
                  "帮扶记录 待确认</a>：1 条", "驻村纪实 待核实</a>：1 条", "未考核的选派干部</a>：1 人"):
        assert words in page, words
    before = counts(YearClose)
    # neither the choice nor the confirmation: refused; going back closes nothing
    refused = county.post("/closing/close", data={"year": CLOSED})
    assert refused.status_code == 422 and "请先处理完毕，或选择" in refused.get_data(as_text=True)
    back = county.post("/closing/close", data={"year": CLOSED, "pending_choice": "finish", "confirm": "y"})
    assert back.status_code == 302 and "/records" in back.headers["Location"]
    assert counts(YearClose) == before
    # the pending records' links (and the way back) lead to that year's records only
    make_support(org, village.code, date(THIS_YEAR, 1, 5), status="submitted", submitted_at=datetime(THIS_YEAR, 1, 6),
                 title="今年待确认的记录")
    assert f"date_from={CLOSED}-01-01&amp;date_to={CLOSED}-12-31" in page
    listed = county.get(back.headers["Location"]).get_data(as_text=True)
    assert f"date_from={CLOSED}-01-01" in back.headers["Location"] and "今年待确认的记录" not in listed
    assert "今年待确认的记录" in county.get("/records/?status=submitted").get_data(as_text=True)
    done = county.post("/closing/close", data={"year": CLOSED, "pending_choice": "freeze", "confirm": "y"})
    assert done.status_code == 302
    assert count(YearClose) == 1 and count(AuditEvent) == before[1] + 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "YearClose"))
    assert event.action == "year_close" and "待处理事项照原样冻结：帮扶记录 待确认 1 条；驻村纪实 待核实 1 条；未考核的选派干部 1 人" \
        in event.summary
    record_page = county.get("/closing/").get_data(as_text=True)
    assert f"{CLOSED}年度" in record_page and "县乡村振兴局张三" in record_page
    again = county.post("/closing/close", data={"year": CLOSED, "pending_choice": "freeze", "confirm": "y"})
    assert again.status_code == 422 and count(YearClose) == 1


def test_the_pending_records_are_the_regions_records_of_that_year_by_status(posted, make_user):
    """The close page counts the records waiting in the region's year (by record date),
    from the summaries kept with every change: as many as the records themselves."""
    from registry.closing.services import pending_items
    from registry.regions.models import Region

    village, org, person, posting = posted
    for status, day in (("submitted", date(CLOSED, 3, 1)), ("submitted", date(CLOSED, 12, 31)),
                        ("disputed", date(CLOSED, 5, 1)), ("draft", date(CLOSED, 1, 1)),
                        ("confirmed", date(CLOSED, 6, 1)), ("submitted", date(THIS_YEAR, 1, 1))):
        make_support(org, village.code, day, status=status)
    elsewhere = make_village(OTHER_COUNTY, 9)
    make_support(org, elsewhere.code, date(CLOSED, 3, 1), status="submitted")
    counted = {item.label: item.count for item in pending_items(db.session.get(Region, COUNTY), CLOSED)}
    assert {label: n for label, n in counted.items() if label.startswith("帮扶记录")} == {
        "帮扶记录 待确认": 2, "帮扶记录 有异议": 1, "帮扶记录 草稿": 1}
    province = {item.label: item.count for item in pending_items(db.session.get(Region, PROVINCE), CLOSED)}
    assert province["帮扶记录 待确认"] == 3


def test_the_close_page_is_for_region_staff_of_counties_and_above(db, make_user, login_as):
    from registry.regions.models import Region

    township = db.session.scalar(select(Region).where(Region.parent_code == COUNTY).limit(1))
    assert login_as(make_user("region", region_code=township.code)).get("/closing/close").status_code == 403
    assert login_as(make_user("viewer", region_code=COUNTY)).get("/closing/close").status_code == 403
    assert login_as(make_user("region", region_code=CITY)).get("/closing/close").status_code == 200


# -- reopening --------------------------------------------------------------------------------


@pytest.fixture()
def reopening(posted, make_user, login_as):
    from registry.regions.models import Region

    village, org, person, posting = posted
    township = db.session.get(Region, village.parent_code)
    other_township = db.session.scalar(select(Region).where(Region.parent_code == COUNTY, Region.code != township.code)
                                       .limit(1))
    users = {
        "county": make_user("region", region_code=COUNTY, display_name="县甲"),
        "county2": make_user("region", region_code=COUNTY, display_name="县乙"),
        "township": make_user("region", region_code=township.code, display_name="乡镇丙"),
        "other_township": make_user("region", region_code=other_township.code),
        "other_county": make_user("region", region_code=OTHER_COUNTY),
        "city": make_user("region", region_code=CITY),
        "unit": make_user("unit", organization_id=org.id),
    }
    closed = close_year(users["county"], CLOSED, "freeze", True)
    return closed, users, posting


def _ask(user, closed, kinds=("duty",), days=10):
    from datetime import timedelta

    from registry.closing.services import request_reopen

    return request_reopen(closed, user, list(kinds), "11月缺勤天数录入有误，需更正", local_today() + timedelta(days=days))


def test_reopening_is_approved_by_the_closing_level_or_above_never_by_the_requester(reopening, login_as):
    from registry.closing.services import approve_reopen

    closed, users, posting = reopening
    asked = _ask(users["county"], closed)
    requester = login_as(users["county"])
    response = requester.post(f"/closing/reopen/{asked.id}/approve", data={"note": ""}, follow_redirects=True)
    assert "不能审批本人提出的重新开放申请" in response.get_data(as_text=True)
    with pytest.raises(RuleViolation, match="不能审批本人"):
        approve_reopen(asked, users["county"])
    with pytest.raises(RuleViolation, match="关账单位或其上级"):
        approve_reopen(asked, users["township"])  # below the closing level
    db.session.expire_all()
    assert asked.state == "requested"
    assert not year_open(CLOSED, posting.region_code, "duty")
    login_as(users["county2"]).post(f"/closing/reopen/{asked.id}/approve", data={"note": "同意"})
    db.session.expire_all()
    assert asked.state == "approved" and asked.decided_by_id == users["county2"].id


def test_a_decision_note_too_long_is_refused_with_the_field_named(reopening, login_as):
    """It was sent back to the page with no word (only a forged post gets past the
    textarea's own limit)."""
    closed, users, _posting = reopening
    asked = _ask(users["county"], closed)
    page = login_as(users["county2"]).post(f"/closing/reopen/{asked.id}/approve", data={"note": "同" * 1001},
                                          follow_redirects=True).get_data(as_text=True)
    assert "审批意见（不批准时必填）：字段长度不能超过 1000 个字符" in page
    db.session.expire_all()
    assert asked.state == "requested"


def test_a_request_comes_from_the_closing_level_or_below(reopening):
    closed, users, posting = reopening
    for outsider in ("other_county", "city", "unit"):
        with pytest.raises(RuleViolation, match="关账单位及其下级"):
            _ask(users[outsider], closed)
    with pytest.raises(RuleViolation) as refused:
        _ask(users["township"], closed, kinds=(), days=200)
    assert set(refused.value.errors) == {"kinds", "deadline"}


def test_an_approved_reopening_opens_only_the_named_kinds_in_the_requesters_region_until_closed_again(
        reopening, make_user):
    from registry.closing.services import approve_reopen, reclose

    closed, users, posting = reopening
    other_village = make_village(COUNTY, 9, township=users["other_township"].region)
    asked = _ask(users["township"], closed, kinds=("duty", "assessment"))
    approve_reopen(asked, users["city"])  # above the closing level
    assert year_open(CLOSED, posting.region_code, "duty") and year_open(CLOSED, posting.region_code, "assessment")
    assert not year_open(CLOSED, posting.region_code, "records")  # not named
    assert not year_open(CLOSED, other_village.code, "duty")  # another township
    reclose(asked, users["county"])
    assert not year_open(CLOSED, posting.region_code, "duty")
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "ReopenRequest")
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["reopen_request", "reopen_approve", "reclose"]


def test_the_list_of_closes_shows_each_ones_requests_in_one_query_however_many(reopening, make_user, login_as):
    """关账记录 of the province: every close under it with its own reopening requests; the
    requests are read once for the page, not once per close (a province's list holds
    every county's and city's close of every year)."""
    from sqlalchemy import event

    closed, users, posting = reopening
    _ask(users["township"], closed)
    other = close(make_user, OTHER_COUNTY)
    earlier = close(make_user, COUNTY, CLOSED - 1)
    province = login_as(make_user("region", region_code=PROVINCE))
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if "reopen_request" in statement and statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        page = province.get("/closing/").get_data(as_text=True)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(statements) == 1
    for shown in (closed, other, earlier):
        assert f"/closing/{shown.id}" in page
    township = users["township"].region.name
    assert page.count(f"<div>{township} · ") == 1  # the request, under its own close only


def test_the_list_of_closes_exports_as_it_shows(reopening, make_user, login_as):
    import io

    from openpyxl import load_workbook

    closed, users, posting = reopening
    _ask(users["township"], closed)
    other = close(make_user, OTHER_COUNTY)
    county = login_as(users["county"])
    assert "/closing/export.xlsx" in county.get("/closing/").get_data(as_text=True)
    book = load_workbook(io.BytesIO(county.get("/closing/export.xlsx").data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0] == ("年度", "关账单位", "关账人", "关账时间", "关账时待处理事项", "重新开放")
    # the county's own close with the township's request, as the page words it; not the other county's
    assert [r[:3] for r in rows[1:]] == [(CLOSED, f"{closed.region.name}（{closed.region_code}）", "县甲")]
    township = users["township"].region.name
    assert rows[1][5].startswith(f"{township} · ") and rows[1][5].endswith("待审批")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.actor_id == users["county"].id and "关账记录 1 条" in event.summary
    text = login_as(make_user("region", region_code=PROVINCE)).get("/closing/export.csv").get_data(as_text=True)
    assert closed.region.name in text and other.region.name in text
    assert county.get("/closing/export.pdf").status_code == 404
    assert login_as(users["unit"]).get("/closing/export.csv").status_code == 403


def test_a_reopening_ends_by_itself_at_its_deadline(reopening, monkeypatch):
    from datetime import timedelta

    from registry.closing import rules
    from registry.closing.services import approve_reopen

    closed, users, posting = reopening
    asked = _ask(users["township"], closed, days=3)
    approve_reopen(asked, users["county2"])
    assert year_open(CLOSED, posting.region_code, "duty")
    later = local_today() + timedelta(days=4)
    monkeypatch.setattr(rules, "local_today", lambda: later)
    db.session.commit()  # a new transaction reads the closes again
    assert not year_open(CLOSED, posting.region_code, "duty")


def test_the_close_record_page_shows_every_step(reopening, login_as):
    from registry.closing.services import approve_reopen, reclose

    closed, users, posting = reopening
    asked = _ask(users["township"], closed)
    approve_reopen(asked, users["county2"], "同意更正")
    reclose(asked, users["county"])
    page = login_as(users["county2"]).get(f"/closing/{closed.id}").get_data(as_text=True)
    for words in (f"{closed.region.name}{CLOSED}年度关账；待处理事项照原样冻结：未考核的选派干部 1 人", "申请重新开放", "批准重新开放", "重新关账：", "11月缺勤天数录入有误", "同意更正", "已重新关账", "乡镇丙"):
        assert words in page, words
    assert "申请重新开放" in login_as(users["township"]).get(f"/closing/{closed.id}").get_data(as_text=True)
    assert login_as(users["other_county"]).get(f"/closing/{closed.id}").status_code == 404


# -- 依据已变化 --------------------------------------------------------------------------------


def test_a_grade_whose_evidence_changed_is_flagged_with_what_changed_until_the_year_is_closed(
        posted, make_user, login_as):
    from registry.assessment.models import Assessment
    from registry.assessment.services import GradeData, assess_posting
    from registry.duty.services import DutyData, update_month

    village, org, person, posting = posted
    november = make_duty(posting, date(CLOSED, 11, 1), absences=0)
    county_user = make_user("region", region_code=COUNTY)
    unit = make_user("unit", organization_id=org.id)
    graded = assess_posting(posting, GradeData(year=CLOSED, grade="基本称职"), county_user)
    county = login_as(county_user)
    assert "依据已变化" not in county.get(f"/assessment/?year={CLOSED}").get_data(as_text=True)
    # the village changes her November absences from 0 to 6
    update_month(november, DutyData(month=november.month, days_in_village=16, leave_days=0, leave_approved_by=None,
                                    absences=6, summary="走访农户"), unit)
    for url in (f"/assessment/?year={CLOSED}", f"/assessment/person/{person.id}", f"/assessment/{graded.id}"):
        page = county.get(url).get_data(as_text=True)
        assert "依据已变化" in page, url
        assert "全年无故缺勤：评定时0天，现为6天，按缺勤上限最高只能评为“不称职”" in page, url
        assert f"{CLOSED}年11月驻村纪实" in page and "无故缺勤天数 0→6" in page, url
    assert "考核 依据已变化</a>：1 条" in county.get(f"/closing/close?year={CLOSED}").get_data(as_text=True)
    close(make_user)
    assert "依据已变化" not in county.get(f"/assessment/?year={CLOSED}").get_data(as_text=True)
    assert db.session.get(Assessment, graded.id).grade == "基本称职"


def test_a_regrade_takes_in_the_changed_evidence(posted, make_user, login_as):
    from registry.assessment.services import GradeData, assess_posting
    from registry.closing.evidence import evidence_changes
    from registry.duty.services import DutyData, update_month

    village, org, person, posting = posted
    november = make_duty(posting, date(CLOSED, 11, 1), absences=0)
    county_user = make_user("region", region_code=COUNTY)
    graded = assess_posting(posting, GradeData(year=CLOSED, grade="称职"), county_user)
    update_month(november, DutyData(month=november.month, days_in_village=21, leave_days=0, leave_approved_by=None,
                                    absences=1, summary="走访农户"), make_user("unit", organization_id=org.id))
    changed = evidence_changes([graded])[graded.id]
    assert changed.cap == "全年无故缺勤：评定时0天，现为1天" and len(changed.items) == 1  # 称职 is still allowed
    assess_posting(posting, GradeData(year=CLOSED, grade="称职", change_reason="缺勤更正后复核",
                                      version=graded.version), county_user)
    assert evidence_changes([graded]) == {}


def test_a_record_decided_after_grading_flags_its_units_grade_and_every_grade_is_counted(posted, make_user):
    """A record the village confirms after the grade flags the grade of the unit that
    filed it (not a grade of another unit posted there, nor because of a record still
    awaiting confirmation); the close page's count takes in every grade of the region
    however it is cut into batches."""
    from registry.assessment.services import GradeData, assess_posting
    from registry.closing.evidence import DECIDED, evidence_changes
    from registry.closing.services import flagged_grades
    from registry.duty.services import DutyData, update_month
    from registry.records.rules import TRANSITIONS, transition
    from registry.regions.models import Region

    village, org, person, posting = posted
    county_user = make_user("region", region_code=COUNTY)
    village_user = make_user("village", village_code=village.code)
    other_org = make_org(name="另一帮扶单位")
    own = make_support(org, village.code, date(CLOSED, 6, 1), status="submitted", title="本单位的记录")
    theirs = make_support(other_org, village.code, date(CLOSED, 6, 1), status="submitted", title="他单位的记录")
    make_support(org, village.code, date(CLOSED, 7, 1), status="submitted", title="仍待确认的记录")
    graded = assess_posting(posting, GradeData(year=CLOSED, grade="称职"), county_user)
    second = posted_secretary(n=2, start=date(2024, 1, 1))[3]
    november = make_duty(second, date(CLOSED, 11, 1), absences=0)
    other_grade = assess_posting(second, GradeData(year=CLOSED, grade="称职"), county_user)
    assert evidence_changes([graded, other_grade]) == {}

    for record in (own, theirs):  # the village confirms both after the grades were given
        transition(record, "confirmed", actor=village_user)
    db.session.commit()
    update_month(november, DutyData(month=november.month, days_in_village=20, leave_days=0, leave_approved_by=None,
                                    absences=0, summary="改写纪实"), make_user("unit", organization_id=second.organization_id))
    changed = evidence_changes([graded])[graded.id]
    assert len(changed.items) == 1 and "帮扶记录“本单位的记录”" in changed.items[0] and "村已确认" in changed.items[0]
    county = db.session.get(Region, COUNTY)
    assert set(flagged_grades(county, CLOSED)) == {graded.id, other_grade.id}
    assert set(flagged_grades(county, CLOSED, chunk=1)) == {graded.id, other_grade.id}
    # the records read are those the flagging moves can have reached, which they never leave
    assert set(DECIDED) == {"confirmed", "superseded", "withdrawn"}
    assert all(TRANSITIONS[state] <= set(DECIDED) for state in DECIDED)


def test_the_grades_flagged_with_each_change_are_those_the_trail_defines(posted, make_user, runner):
    """The close page finds the grades whose evidence moved by the flags each commit
    keeps (``EvidenceMoved``); after every step they are exactly the grades the whole
    trail says were reached (``moved_after_grading``): a check of a duty month that
    leaves its absences alone, or a record still awaiting the village, reaches none; a
    month filed again, a record decided or results filed after the grade do; a new
    grade clears its flag; ``flask closing reflag`` writes the same flags again."""
    from registry.assessment.services import GradeData, assess_posting
    from registry.closing.evidence import moved_after_grading
    from registry.closing.models import EvidenceMoved
    from registry.duty.services import DutyData, check_month, update_month
    from registry.records.rules import transition
    from registry.results.services import ResultData, file_result

    village, org, person, posting = posted
    county_user = make_user("region", region_code=COUNTY)
    unit = make_user("unit", organization_id=org.id)
    november = make_duty(posting, date(CLOSED, 11, 1), absences=0)
    december = make_duty(posting, date(CLOSED, 12, 1), absences=0)
    waiting = make_support(org, village.code, date(CLOSED, 6, 1), status="submitted", title="待确认的记录")
    other_posting = posted_secretary(n=2, start=date(2024, 1, 1))[3]
    graded = assess_posting(posting, GradeData(year=CLOSED, grade="称职"), county_user)
    other = assess_posting(other_posting, GradeData(year=CLOSED, grade="称职"), county_user)

    def flagged() -> set[int]:
        kept = set(db.session.execute(select(EvidenceMoved.assessment_id, EvidenceMoved.kind)).tuples())
        assert kept == set(db.session.execute(moved_after_grading(CLOSED)).tuples())
        return {grade for grade, _ in kept}

    assert flagged() == set()
    check_month(december, county_user)  # checked as filed: nothing moved
    assert flagged() == set()
    update_month(november, DutyData(month=november.month, days_in_village=20, leave_days=0, leave_approved_by=None,
                                    absences=2, summary="缺勤更正"), unit)
    assert flagged() == {graded.id}
    assess_posting(posting, GradeData(year=CLOSED, grade="基本称职", change_reason="缺勤更正后复核",
                                      version=graded.version), county_user)
    assert flagged() == set()  # given again: what it rests on is new
    transition(waiting, "confirmed", actor=make_user("village", village_code=village.code))
    db.session.commit()  # the unit's record to its village, decided after the new grade
    assert flagged() == {graded.id}
    file_result(other_posting.region_code, ResultData(year=CLOSED, collective_income="100000", per_capita_income="15000",
                                                      monitored_households=1, risk_removed_households=1,
                                                      industry_projects=1, jobs_created=1, practical_matters=1),
                make_user("village", village_code=other_posting.region_code))
    assert other.id in flagged()
    expected = flagged()
    db.session.execute(delete(EvidenceMoved))
    db.session.commit()
    result = runner.invoke(args=["closing", "reflag"])
    assert result.exit_code == 0, result.output
    assert f"依据已变化的考核：{len(expected)} 条待查看" in result.output
    assert flagged() == expected


def test_a_reopening_is_requested_and_refused_on_the_page(reopening, login_as):
    from datetime import timedelta

    from registry.closing.models import ReopenRequest

    closed, users, posting = reopening
    township = login_as(users["township"])
    deadline = (local_today() + timedelta(days=7)).isoformat()
    empty = township.post(f"/closing/{closed.id}/reopen", data={"reason": "", "deadline": deadline})
    assert empty.status_code == 422 and "请选择要重新开放的数据类别" in empty.get_data(as_text=True)
    assert count(ReopenRequest) == 0
    asked = township.post(f"/closing/{closed.id}/reopen", data={"kinds": ["duty", "records"], "reason": "补录",
                                                                "deadline": deadline})
    assert asked.status_code == 302
    item = db.session.scalar(select(ReopenRequest))
    assert item.kind_list == ["duty", "records"] and item.region_code == users["township"].region_code
    refused = login_as(users["county"]).post(f"/closing/reopen/{item.id}/reject", data={"note": "依据不足"},
                                             follow_redirects=True)
    assert "已不批准该申请" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert item.state == "rejected" and not year_open(CLOSED, posting.region_code, "duty")
