"""Bad input never gives a 500 (issue 13, defects 3 and 6): ids in paths, numbers in query
strings and forms, amounts, counts, hours and dates out of any plausible range, and
names carrying control or bidirectional-override characters. Each is refused with a
4xx or a message on its field, and nothing is written."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.core.parsing import ID_MAX
from registry.extensions import db
from tests.factories import COUNTY, PROVINCE, make_org

HUGE = "9223372036854775808"  # 2^63: beyond any integer SQLite can bind
MUCH_TOO_HUGE = "99999999999999999999999999"


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- ids in paths ----------------------------------------------------------------------------

def _int_rules(app):
    return [rule for rule in app.url_map.iter_rules() if re.search(r"<int:", rule.rule)]


def _url(rule, value: str) -> str:
    """The rule's path with ``value`` for each id and a plausible value for the rest."""
    def fill(match):
        kind, name = match.group(1), match.group(2)
        if kind == "int":
            return value
        return COUNTY if "code" in name else "csv" if name == "fmt" else "x"

    return re.sub(r"<(?:([^:>]+):)?([^>]+)>", fill, rule.rule)


def test_every_id_in_a_path_is_an_int_route(app):
    # every route argument named like an id is bounded by the one converter
    loose = [rule.rule for rule in app.url_map.iter_rules()
             if re.search(r"<(?:string:|path:)?[a-z_]*_id>", rule.rule)]
    assert loose == []
    assert len(_int_rules(app)) > 50


@pytest.mark.parametrize("value", [HUGE, str(ID_MAX + 1)])
def test_an_id_no_table_can_hold_is_a_404_on_every_route(app, make_user, login_as, value):
    session = login_as(make_user("admin"))
    failures = []
    for rule in _int_rules(app):
        url = _url(rule, value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = session.client.open(url, method=method, data={"csrf_token": session.token})
            if response.status_code != 404:
                failures.append((method, url, response.status_code))
    assert failures == []


def test_the_largest_id_is_looked_up_and_not_found(app, make_user, login_as):
    """ID_MAX itself reaches the views (and the database): not found, never a 500."""
    session = login_as(make_user("admin"))
    failures = []
    for rule in _int_rules(app):
        if "GET" not in rule.methods:
            continue
        response = session.get(_url(rule, str(ID_MAX)))
        if response.status_code >= 500:
            failures.append((rule.rule, response.status_code))
    assert failures == []


def test_the_person_page_of_2_to_the_63_is_not_found(app, make_user, login_as):
    session = login_as(make_user("admin"))
    for value in (HUGE, MUCH_TOO_HUGE, "0" * 5000 + "1", "٣"):  # int() refuses 4,300 digits; ٣ is no ASCII digit
        assert session.get(f"/people/{value}").status_code == 404
        assert session.get(f"/people/{value}/edit").status_code == 404


# -- numbers in query strings ------------------------------------------------------------------

@pytest.mark.parametrize("url, argument", [
    ("/people/?org=99999999999999999999", "org"),
    ("/people/?org=abc", "org"),
    ("/people/new?org=99999999999999999999", "org"),
    # (the people, postings, organizations and audit lists page by key, ?after=…: their
    # page numbers are the individuals list's and the jobs list's here, lists that still
    # page by number)
    ("/individuals/?page=99999999999999999999", "page"),
    ("/individuals/?page=0", "page"),
    ("/postings/?org=99999999999999999999", "org"),
    ("/pairings/?org=99999999999999999999", "org"),
    ("/individuals/?page=-1", "page"),
    (f"/gaps/{COUNTY}?page=99999999999999999999", "page"),
    ("/training/?year=99999999999999999999", "year"),
    ("/results/?year=99999999999999999999", "year"),
    ("/assessment/?year=99999999999999999999", "year"),
    ("/closing/close?year=99999999999999999999", "year"),
    ("/duty/?month=99999999999999999999-01", "month"),
    ("/import/jobs?page=99999999999999999999", "page"),
])
def test_a_number_out_of_range_in_a_query_is_a_400_naming_it(app, make_user, login_as, url, argument):
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.get(url)
    assert response.status_code == 400, (url, response.status_code)
    assert f"（{argument}）" in response.get_data(as_text=True)


@pytest.mark.parametrize("query, argument", [
    (f"offset={HUGE}", "offset"), ("offset=-1", "offset"), ("offset=1.5", "offset"),
    ("limit=99999999999999999999", "limit"), ("limit=1001", "limit"), ("limit=abc", "limit"),
])
def test_the_api_refuses_an_offset_or_limit_out_of_range_with_a_json_400(app, make_user, login_as, query, argument):
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.get(f"/api/v1/gaps/{COUNTY}?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert list(body["errors"]) == [argument] and f"（{argument}）" in body["message"]


def test_numbers_in_range_still_work(app, make_user, login_as):
    session = login_as(make_user("region", region_code=COUNTY))
    # the records list ignores a filter it cannot use (its own way since it was written)
    assert session.get("/records/?organization_id=99999999999999999999").status_code == 200
    assert session.get(f"/api/v1/gaps/{COUNTY}?limit=1000&offset={ID_MAX}").status_code == 200
    assert session.get(f"/gaps/{COUNTY}?page=2").status_code == 200
    assert session.get("/people/?page=3&org=").status_code == 200
    assert session.get("/training/?year=").status_code == 200


# -- ids in forms ------------------------------------------------------------------------------

def test_a_huge_employer_id_on_the_person_form_is_a_form_error(app, make_user, login_as, monkeypatch):
    from registry.people import forms
    from registry.people.models import Person

    monkeypatch.setattr(forms, "EMPLOYER_SELECT_MAX", 0)  # the text input with a hidden id, as at province scale
    make_org("backing_unit", COUNTY, name="吉首市农业农村局")
    session = login_as(make_user("region", region_code=COUNTY))
    from tests.factories import valid_id_number

    person = {"name": "张三", "id_number": valid_id_number(), "gender": "", "education": "", "ethnicity": "汉族"}
    for organization_id in (MUCH_TOO_HUGE, HUGE, str(ID_MAX + 1)):
        # the hidden id alone, as a client without the text input posts it
        response = session.post("/people/new", data={**person, "organization_id": organization_id})
        assert response.status_code == 422, organization_id
        assert "工作单位：请选择您管辖范围内的工作单位" in response.get_data(as_text=True)
    # the select of a few employers refuses it too
    monkeypatch.setattr(forms, "EMPLOYER_SELECT_MAX", 50)
    response = session.post("/people/new", data={**person, "organization_id": MUCH_TOO_HUGE})
    assert response.status_code == 422
    assert "工作单位：不是有效的选择" in response.get_data(as_text=True)
    assert rows(Person) == 0


def test_a_huge_person_id_in_an_attendance_is_a_form_error(app, make_user, login_as):
    from registry.training.models import Attendance
    from tests.factories_assessment import make_training

    training = make_training(PROVINCE, start=date(2024, 1, 10))
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post(f"/training/{training.id}/attendance",
                            data={"person_ids": [MUCH_TOO_HUGE], "hours": "24", "passed": "y"})
    assert response.status_code in (302, 422)
    assert rows(Attendance) == 0


# -- amounts, counts and hours on the forms --------------------------------------------------------

from tests.factories_records import record_data, world  # noqa: E402,F401


def _record_form(world, **over):
    return {**record_data(world.village.code), "action": "save", **over}


@pytest.mark.parametrize("field, value, message", [
    ("amount", "1e308", "直接投入资金超出可登记的范围"),
    ("amount_attracted", "1E+999999999999999999999", "引进资金超出可登记的范围"),
    ("amount_in_kind", "-Infinity", "实物折价应为数字（单位：元）"),
    ("persons", "9" * 5000, "受益人数超出可登记的范围"),
])
def test_extreme_numbers_on_the_record_form_are_form_errors(db, world, login_as, field, value, message):
    from registry.records.models import SupportRecord

    response = login_as(world.unit).post("/records/new", data=_record_form(world, **{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert rows(SupportRecord) == 0


def test_an_amount_above_the_ceiling_is_refused_whatever_the_confirmation(db, world, login_as):
    from registry.records.models import SupportRecord

    session = login_as(world.unit)
    response = session.post("/records/new", data=_record_form(world, amount="110101001001", amount_confirmed="y"))
    assert response.status_code == 422
    assert "直接投入资金（11,010,100.10 万元）超过单条记录的上限 100,000.00 万元" in response.get_data(as_text=True)
    assert rows(SupportRecord) == 0


def test_a_large_amount_is_saved_once_the_user_confirms_it(db, world, login_as):
    from registry.records.models import SupportRecord

    session = login_as(world.unit)
    response = session.post("/records/new", data=_record_form(world, amount="20000000"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and rows(SupportRecord) == 0
    assert "直接投入资金金额较大（2,000.00 万元），请确认" in body
    assert 'name="amount_confirmed"' in body  # the box appears only now
    assert 'name="amount_confirmed"' not in session.get("/records/new").get_data(as_text=True)
    response = session.post("/records/new", data=_record_form(world, amount="20000000", amount_confirmed="y"))
    assert response.status_code == 302
    record = db.session.scalars(select(SupportRecord)).one()
    # an edit that keeps the amount asks nothing again; a new large amount does
    edit = {**_record_form(world, amount="20000000.00", title="改了标题"), "version": record.version}
    assert session.post(f"/records/{record.id}/edit", data=edit).status_code == 302
    edit = {**_record_form(world, amount="30000000", title="又改"), "version": record.version + 1}
    assert session.post(f"/records/{record.id}/edit", data=edit).status_code == 422


def test_the_limits_are_settings(app, db, world, login_as):
    session = login_as(world.unit)
    app.config.update(REGISTRY_AMOUNT_MAX_YUAN=100_000, REGISTRY_AMOUNT_CONFIRM_YUAN=50_000)
    try:
        body = session.post("/records/new", data=_record_form(world, amount="60000")).get_data(as_text=True)
        assert "直接投入资金金额较大（6.00 万元），请确认" in body
        body = session.post("/records/new", data=_record_form(world, amount="100000.01")).get_data(as_text=True)
        assert "超过单条记录的上限 10.00 万元" in body
    finally:
        app.config.update(REGISTRY_AMOUNT_MAX_YUAN=1_000_000_000, REGISTRY_AMOUNT_CONFIRM_YUAN=10_000_000)


def test_a_record_import_asks_for_the_confirmation_column(db, world):
    from registry.records.imports import RecordImport
    from registry.records.models import SupportRecord
    from registry.transfer.importing import run_import
    from tests.sheets import csv_bytes

    header = ["编号", "村", "帮扶类别", "标题", "直接投入资金（元）", "帮扶日期"]
    row = ["A-1", world.village.code, "产业", "捐建产业路", "2000万", record_data("")["record_date"]]
    report = run_import(RecordImport(), csv_bytes([header, row]), "records.csv", world.unit)
    assert [(e.row, e.message) for e in report.errors] == [
        (2, "直接投入资金金额较大（2,000.00 万元），请确认；核对无误请在该行“大额已核实”列填“是”"
            "（文件中没有此列的，在表头添加一列“大额已核实”）")]
    report = run_import(RecordImport(), csv_bytes([header, ["A-2", *row[1:4], "110101001001", row[5]]]), "r.csv", world.unit)
    assert "超过单条记录的上限" in report.errors[0].message
    assert rows(SupportRecord) == 0
    report = run_import(RecordImport(), csv_bytes([[*header, "大额已核实"], [*row, "是"]]), "records.csv", world.unit)
    assert report.ok, report.errors
    assert rows(SupportRecord) == 1


def _fund(world, make_user):
    from tests.factories import make_pairing

    org = make_org("charity", region_code=COUNTY, name="测试慈善基金会")
    make_pairing(org, world.village.code, "other")
    return org, make_user("unit", "fund_user", organization_id=org.id)


@pytest.mark.parametrize("amount, message", [
    ("1e308", "捐赠金额超出可登记的范围"),
    ("110101001001", "超过单条记录的上限"),
    ("20000000", "捐赠金额金额较大（2,000.00 万元），请确认"),
])
def test_the_fund_contribution_form_refuses_extreme_amounts(db, world, make_user, login_as, amount, message):
    from registry.records.models import FundContribution

    org, user = _fund(world, make_user)
    data = {"donor": "某爱心企业", "amount": amount, "received_on": record_data("")["record_date"], "receipt_no": "R-1"}
    response = login_as(user).post(f"/records/funds/{org.id}/contributions/new", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert rows(FundContribution) == 0


def _results_form(**over):
    from registry.core.timeutil import local_today

    data = {"year": str(local_today().year - 1), "collective_income": "156800.50", "per_capita_income": "16234.00",
            "monitored_households": "14", "risk_removed_households": "9", "industry_projects": "3",
            "jobs_created": "42", "practical_matters": "18", "note": ""}
    return {**data, **over}


@pytest.mark.parametrize("over, message", [
    ({"collective_income": "1e308"}, "村集体经济经营性收入数额过大"),
    ({"per_capita_income": "NaN"}, "脱贫人口人均纯收入应为数字（元）"),
    ({"jobs_created": "1e308"}, "带动就业人数应为整数"),
    ({"practical_matters": "9" * 5000}, "办实事件数数值过大"),
    ({"collective_income": "20000000"}, "村集体经济经营性收入金额较大（2,000.00 万元），请确认"),
])
def test_the_results_form_refuses_extreme_figures(db, make_user, login_as, over, message):
    from registry.results.models import VillageResult
    from tests.factories import make_village

    village = make_village(COUNTY, 1)
    session = login_as(make_user("village", village_code=village.code))
    response = session.post("/results/new", data=_results_form(**over))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert rows(VillageResult) == 0
    if "请确认" in message:
        assert session.post("/results/new", data=_results_form(**over, amount_confirmed="y")).status_code == 302


def _course_form(**over):
    data = {"title": "第一书记岗前培训班", "organizer": "吉首市委组织部", "kind": "pre_posting", "level": "county",
            "mode": "onsite", "region_code": COUNTY, "start_date": "2025-03-02", "end_date": "2025-03-06",
            "hours": "40", "location": "", "note": ""}
    return {**data, **over}


@pytest.mark.parametrize("over, message", [
    ({"hours": "1e308"}, "学时：学时不能超过999.9"),
    ({"hours": "Infinity"}, "学时：学时应大于0"),
    ({"end_date": "9999-12-31"}, "结束日期：结束日期不能晚于"),
    ({"start_date": "9999-12-30", "end_date": "9999-12-31"}, "开始日期：开始日期不能晚于"),
])
def test_the_training_form_refuses_extreme_hours_and_dates(db, make_user, login_as, over, message):
    from registry.training.models import Training

    session = login_as(make_user("region", region_code=COUNTY))
    response = session.post("/training/new", data=_course_form(**over))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert rows(Training) == 0


# -- plausible dates -----------------------------------------------------------------------------

def test_a_date_years_ahead_is_refused_as_a_setting_says(app):
    from registry.core.parsing import check_plausible_date, latest_plausible
    from registry.core.rules import Collector
    from registry.core.timeutil import local_today

    latest = latest_plausible()
    assert (latest - local_today()).days in range(365 * 5, 365 * 5 + 2)
    errors = Collector()
    assert check_plausible_date(latest, "end_date", "结束日期", errors) and errors.errors == {}
    assert not check_plausible_date(date(9999, 12, 31), "end_date", "结束日期", errors)
    assert errors.errors["end_date"] == [f"结束日期不能晚于{latest.year}年{latest.month}月{latest.day}日（今天起5年内）"]
    assert not check_plausible_date(date(1, 1, 1), "start_date", "开始日期", errors)
    assert errors.errors["start_date"] == ["开始日期不能早于1990年1月1日"]
    app.config["REGISTRY_DATE_YEARS_AHEAD"] = 1
    try:
        assert latest_plausible(date(2024, 2, 29)) == date(2025, 2, 28)
    finally:
        app.config["REGISTRY_DATE_YEARS_AHEAD"] = 5


def test_postings_and_pairings_refuse_dates_far_ahead(db, make_user):
    from registry.core.rules import RuleViolation
    from registry.pairings.services import check_pairing
    from registry.people.postings import check_posting
    from tests.factories import make_person, make_village

    village = make_village(COUNTY, 1)
    org = make_org()
    with pytest.raises(RuleViolation) as refused:
        check_posting(person=make_person(org), role="first_secretary", region=village, dispatch_level="county",
                      start_date=date(9999, 1, 1), planned_end=date(9999, 12, 31))
    assert "开始日期不能晚于" in refused.value.errors["start_date"][0]
    with pytest.raises(RuleViolation) as refused:
        check_pairing(organization=org, region=village, kind="resident", sector=None,
                      start_date=date(2024, 1, 1), end_date=date(9999, 12, 31))
    assert "结束日期不能晚于" in refused.value.errors["end_date"][0]


# -- control and bidirectional-override characters -----------------------------------------------

@pytest.mark.parametrize("text, multiline, found", [
    ("示例\u202e村", False, "U+202E"), ("a\u2066b", False, "U+2066"), ("a\u200fb", False, "U+200F"),
    ("a\x00b", True, "U+0000"), ("a\x1bb", True, "U+001B"), ("a\x85b", True, "U+0085"), ("a\nb", False, "U+000A"),
    ("a\u200bb", False, "U+200B"),  # zero width: two names that look alike must be alike
    ("张·三", False, None), ("阿卜杜·热合曼", False, None), ("第一行\n第二行\t缩进", True, None),
    ("村（４３３１）", False, None),
])
def test_the_one_rule_for_characters_in_text(text, multiline, found):
    from registry.core.parsing import unsafe_character

    assert unsafe_character(text, multiline=multiline) == found


def test_a_village_name_with_an_rtl_override_is_refused(db):
    from registry.regions.models import Region
    from registry.regions.services import import_villages

    body = "code,name,township_code,is_poor,is_key,is_relocation\n433101005201,\u202e村例示,433101005000,否,否,否\n"
    import io

    result = import_villages(io.BytesIO(body.encode()), "villages.csv")
    db.session.rollback()
    assert (2, "name", "村名称含有不可见的控制字符（U+202E），请删除后重新填写") in result.errors
    assert db.session.get(Region, "433101005201") is None


def test_an_organization_or_person_name_with_an_rtl_override_is_refused(db, login_as, make_user):
    from registry.organizations.models import Organization
    from registry.people.models import Person
    from tests.factories import valid_credit_code, valid_id_number

    session = login_as(make_user("region", region_code=COUNTY))
    response = session.post("/organizations/new", data={
        "name": "吉首市\u202e局业农", "kind": "backing_unit", "subtype": "", "level": "", "region_code": COUNTY,
        "credit_code": valid_credit_code(901), "contact_name": "张\u2067经理", "note": "第一行\n第二行"})
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "单位名称：单位名称含有不可见的控制字符（U+202E）" in body and "联系人含有不可见的控制字符（U+2067）" in body
    assert "备注含有" not in body  # line breaks are a note's own
    org = make_org("backing_unit", COUNTY)
    response = session.post("/people/new", data={"name": "张\u202e三", "id_number": valid_id_number(), "gender": "",
                                                 "education": "", "ethnicity": "汉族", "organization_id": str(org.id)})
    assert response.status_code == 422
    assert "姓名含有不可见的控制字符（U+202E）" in response.get_data(as_text=True)
    assert rows(Organization) == 1 and rows(Person) == 0


def test_a_record_title_must_be_clean_and_its_description_keeps_its_lines(db, world, login_as):
    from registry.records.models import SupportRecord

    session = login_as(world.unit)
    response = session.post("/records/new", data=_record_form(world, title="捐建\u202e路业产", description="a\x07b"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "标题含有不可见的控制字符（U+202E）" in body and "内容说明含有不可见的控制字符（U+0007）" in body
    assert session.post("/records/new", data=_record_form(world, description="第一行\r\n第二行")).status_code == 302
    assert rows(SupportRecord) == 1


def test_nul_anywhere_in_a_request_is_a_400(db, world, login_as):
    session = login_as(world.unit)
    assert session.get("/people/?q=a%00b").status_code == 400
    assert session.get("/regions/4331%00").status_code == 404
    response = session.post("/records/new", data=_record_form(world, description="a\x00b"))
    assert response.status_code == 400
    assert "U+0000" in response.get_data(as_text=True)
