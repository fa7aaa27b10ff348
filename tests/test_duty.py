"""Days in the village (驻村纪实): filing, the monthly rules, the flag, checking."""
from __future__ import annotations

import calendar
from datetime import date

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.duty.models import DutyMonth
from registry.duty.services import add_months, month_start, previous_month
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, posted_secretary


def count(model=DutyMonth) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def ym(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


LAST = previous_month()


def _form(month: date | str = LAST, **over):
    data = {"month": month if isinstance(month, str) else ym(month), "days_in_village": "22", "leave_days": "2", "leave_approved_by": "乡镇党委书记",
            "absences": "0", "summary": "走访脱贫户32户，协调产业项目资金"}
    data.update(over)
    return data


@pytest.fixture()
def setup(make_user, login_as):
    village, org, person, posting = posted_secretary()
    unit = login_as(make_user("unit", organization_id=org.id))
    return village, org, person, posting, unit


def test_the_unit_files_a_month(setup):
    village, org, person, posting, unit = setup
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form())
    assert response.status_code == 302
    duty = db.session.scalar(select(DutyMonth))
    assert (duty.month, duty.days_in_village, duty.leave_days, duty.status) == (LAST, 22, 2, "filed")
    assert duty.region_code == village.code and duty.organization_id == org.id
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.entity_type == "DutyMonth")).startswith("填报驻村纪实")


def test_the_village_files_a_month(make_user, login_as):
    village, org, person, posting = posted_secretary()
    session = login_as(make_user("village", village_code=village.code))
    assert session.post(f"/duty/posting/{posting.id}/new", data=_form()).status_code == 302
    assert count() == 1


def _days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


@pytest.mark.parametrize(
    "over, field, message",
    [
        ({"month": ym(add_months(month_start(local_today()), 1))}, "月份", "不能填报未来月份的纪实"),
        ({"month": "2023-12"}, "月份", "月份不能早于选派开始的2024年1月"),
        ({"month": "abc"}, "月份", "请选择月份"),
        ({"days_in_village": "32", "leave_days": "0"}, "在村天数", f"在村天数不能超过当月天数（{_days_in(LAST)}天）"),
        ({"days_in_village": "-1"}, "在村天数", "在村天数不能为负数"),
        ({"days_in_village": "二十"}, "在村天数", "在村天数应为整数"),
        ({"days_in_village": ""}, "在村天数", "请填写在村天数"),
        ({"days_in_village": str(_days_in(LAST) - 1), "leave_days": "2"}, "请假天数", "合计不能超过该月在岗天数"),
        ({"leave_approved_by": ""}, "请假批准人", "有请假天数时须填写请假批准人"),
        ({"absences": "-2"}, "无故缺勤天数", "无故缺勤天数不能为负数"),
        ({"summary": "  "}, "工作纪实（民情日记摘要）", "请填写工作纪实"),
        ({"summary": "字" * 1001}, "工作纪实（民情日记摘要）", "工作纪实最多1000字"),
    ],
)
def test_bad_months_are_refused_naming_the_field_and_nothing_written(setup, over, field, message):
    *_, posting, unit = setup
    before = count(AuditEvent)
    month = over.pop("month", LAST)
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form(month, **over))
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f"{field}：" in body and message in body
    assert count() == 0 and count(AuditEvent) == before
    if over.get("summary", "").strip():
        assert over["summary"][:50] in body  # the user's input stays on the form


def test_one_record_per_posting_and_month(setup):
    *_, posting, unit = setup
    make_duty(posting, LAST)
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form())
    assert response.status_code == 422
    assert f"{LAST.year}年{LAST.month}月的纪实已填报" in response.get_data(as_text=True)
    assert count() == 1


def test_not_after_the_posting_ended(make_user, login_as):
    village, org, person, posting = posted_secretary(start=date(2023, 1, 1))
    posting.end_date, posting.end_reason = date(2024, 6, 15), "term_completed"
    db.session.commit()
    unit = login_as(make_user("unit", organization_id=org.id))
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form(date(2024, 7, 1)))
    assert "月份不能晚于选派结束的2024年6月" in response.get_data(as_text=True)
    # the last month counts only up to the end date: 15 days
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form(date(2024, 6, 1), days_in_village="16", leave_days="0"))
    assert "在村天数不能超过该月在岗天数（15天）" in response.get_data(as_text=True)
    assert count() == 0
    assert unit.post(f"/duty/posting/{posting.id}/new", data=_form(date(2024, 6, 1), days_in_village="12", leave_days="0")).status_code == 302
    assert not db.session.scalar(select(DutyMonth)).is_short  # 12 of the pro rata 10 days (20 × 15 / 30)


def test_only_village_postings_have_duty_months(make_user, login_as):
    org = make_org()
    person = make_person(org)
    cadre = make_posting(person, org, COUNTY, role="seconded_cadre")
    unit = login_as(make_user("unit", organization_id=org.id))
    assert unit.get(f"/duty/posting/{cadre.id}").status_code == 404
    assert unit.post(f"/duty/posting/{cadre.id}/new", data=_form()).status_code == 404


# -- the flag --------------------------------------------------------------------------------


def test_a_month_under_20_days_is_saved_and_flagged(setup, monkeypatch, app):
    *_, posting, unit = setup
    response = unit.post(f"/duty/posting/{posting.id}/new", data=_form(days_in_village="15", leave_days="0"))
    assert response.status_code == 302
    duty = db.session.scalar(select(DutyMonth))
    assert duty.is_short and duty.required_days == 20
    page = unit.get(f"/duty/posting/{posting.id}").get_data(as_text=True)
    assert "不足20天" in page
    assert db.session.scalar(select(func.count()).select_from(DutyMonth).where(DutyMonth.short_clause())) == 1
    monkeypatch.setitem(app.config, "REGISTRY_MIN_DAYS_IN_VILLAGE", 15)
    assert not duty.is_short
    assert db.session.scalar(select(func.count()).select_from(DutyMonth).where(DutyMonth.short_clause())) == 0


def test_the_first_month_minimum_is_pro_rata(make_user, login_as):
    village, org, person, posting = posted_secretary(start=date(2024, 3, 21))  # 11 of 31 days
    unit = login_as(make_user("unit", organization_id=org.id))
    unit.post(f"/duty/posting/{posting.id}/new", data=_form(date(2024, 3, 1), days_in_village="7", leave_days="0"))
    duty = db.session.scalar(select(DutyMonth))
    assert (duty.available_days, duty.required_days, duty.is_short) == (11, 8, True)  # ceil(20 × 11 / 31)
    assert db.session.scalar(select(func.count()).select_from(DutyMonth).where(DutyMonth.short_clause())) == 1
    duty.days_in_village = 8
    db.session.commit()
    assert not duty.is_short
    assert db.session.scalar(select(func.count()).select_from(DutyMonth).where(DutyMonth.short_clause())) == 0


def test_the_posting_page_shows_missing_months(setup):
    *_, posting, unit = setup
    make_duty(posting, LAST, days=12)
    page = unit.get(f"/duty/posting/{posting.id}").get_data(as_text=True)
    assert "未填报" in page and "2024年1月" in page and "不足20天" in page


def test_the_list_filters_by_a_month_chosen_from_a_list(setup):
    """The month filter lists months in Chinese (a month input shows "--------- ----" in a
    Chinese browser); the list still reads ?month=2025-03 through the one parser."""
    village, org, person, posting, unit = setup
    earlier = add_months(LAST, -1)
    make_duty(posting, LAST)
    make_duty(posting, earlier, days=12)
    page = unit.get(f"/duty/?status=all&month={ym(earlier)}").get_data(as_text=True)
    assert 'type="month"' not in page
    assert f'<option value="{ym(earlier)}" selected>{earlier.year}年{earlier.month}月</option>' in page
    assert f'<option value="{ym(LAST)}">{LAST.year}年{LAST.month}月</option>' in page
    assert '<optgroup label="2021年">' in page and '<option value="2021-01">2021年1月</option>' in page
    assert '<optgroup label="2020年">' not in page  # nothing before the registry's earliest date
    rows = page.split("<tbody>")[1]
    assert f"{earlier.year}年{earlier.month}月" in rows and f"{LAST.year}年{LAST.month}月" not in rows
    # a month from before the list is still shown as chosen
    assert '<option value="2019-05" selected>2019年5月</option>' in unit.get("/duty/?month=2019-05").get_data(as_text=True)


# -- checking and sending back ------------------------------------------------------------------


def test_township_checks_a_month_and_it_is_locked(setup, make_user, login_as):
    village, org, person, posting, unit = setup
    duty = make_duty(posting, LAST)
    township = login_as(make_user("region", region_code=village.parent_code))
    assert township.get("/duty/").status_code == 200
    assert person.name in township.get("/duty/?status=filed").get_data(as_text=True)
    assert township.post(f"/duty/{duty.id}/check", data={"version": duty.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).status == "checked"
    before = count(AuditEvent)
    response = unit.post(f"/duty/{duty.id}/edit", data=_form(days_in_village="25"))
    assert response.status_code == 302  # redirected with a warning
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).days_in_village == 22 and count(AuditEvent) == before


def test_township_sends_a_month_back_with_a_reason_and_the_unit_refiles(setup, make_user, login_as):
    village, org, person, posting, unit = setup
    duty = make_duty(posting, LAST, days=28)
    township = login_as(make_user("region", region_code=village.parent_code))
    before = count(AuditEvent)
    response = township.post(f"/duty/{duty.id}/return", data={"reason": "", "version": duty.version})
    assert response.status_code == 422 and "退回原因：退回时须填写退回原因" in response.get_data(as_text=True)
    assert count(AuditEvent) == before and db.session.get(DutyMonth, duty.id).status == "filed"
    assert township.post(f"/duty/{duty.id}/return", data={"reason": "与考勤记录不符", "version": duty.version}).status_code == 302
    db.session.expire_all()
    duty = db.session.get(DutyMonth, duty.id)
    assert duty.status == "returned" and duty.return_reason == "与考勤记录不符"
    assert township.post(f"/duty/{duty.id}/check", data={"version": duty.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).status == "returned"  # a returned month is not checked
    assert unit.post(f"/duty/{duty.id}/edit", data=_form(days_in_village="21", leave_days="0", version=duty.version)).status_code == 302
    db.session.expire_all()
    duty = db.session.get(DutyMonth, duty.id)
    assert (duty.status, duty.days_in_village, duty.return_reason) == ("filed", 21, None)
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "refile"


def test_stale_edit_is_refused(setup):
    *_, posting, unit = setup
    duty = make_duty(posting, LAST)
    stale = duty.version
    duty.summary = "别人改过"
    db.session.commit()
    response = unit.post(f"/duty/{duty.id}/edit", data=_form(days_in_village="25", version=stale))
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).days_in_village == 22


# -- who may ---------------------------------------------------------------------------------------


def test_other_units_villages_and_counties_get_404(setup, make_user, login_as):
    village, org, person, posting, unit = setup
    duty = make_duty(posting, LAST)
    other_org = make_org()
    other_village = make_village(COUNTY, 2)
    outsiders = [
        login_as(make_user("unit", organization_id=other_org.id)),
        login_as(make_user("village", village_code=other_village.code)),
        login_as(make_user("region", region_code=OTHER_COUNTY)),
    ]
    for session in outsiders:
        assert session.get(f"/duty/posting/{posting.id}").status_code == 404
        if session.user.role != "region":
            assert session.post(f"/duty/posting/{posting.id}/new", data=_form()).status_code == 404
            assert session.post(f"/duty/{duty.id}/edit", data=_form()).status_code == 404
        else:
            assert session.post(f"/duty/{duty.id}/check", data={}).status_code == 404
    assert count() == 1 and db.session.get(DutyMonth, duty.id).status == "filed"


def test_roles_that_may_not_check_or_file_get_403(setup, make_user, login_as):
    village, org, person, posting, unit = setup
    duty = make_duty(posting, LAST)
    assert unit.post(f"/duty/{duty.id}/check", data={}).status_code == 403
    township = login_as(make_user("region", region_code=village.parent_code))
    assert township.post(f"/duty/posting/{posting.id}/new", data=_form()).status_code == 403
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    assert viewer.get(f"/duty/posting/{posting.id}").status_code == 200
    assert viewer.post(f"/duty/{duty.id}/check", data={}).status_code == 403


def test_home_panels(setup, make_user, login_as):
    village, org, person, posting, unit = setup
    assert "驻村纪实待填报" in unit.get("/").get_data(as_text=True)
    make_duty(posting, LAST)
    township = login_as(make_user("region", region_code=village.parent_code))
    assert "待核实的驻村纪实" in township.get("/").get_data(as_text=True)
    assert person.name in township.get(f"/regions/{village.code}").get_data(as_text=True)


def test_duty_months_export_with_filters_in_scope_and_audited(db, login_as, make_user):
    import io
    from datetime import date

    from openpyxl import load_workbook
    from sqlalchemy import select

    from registry.audit.models import AuditEvent
    from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
    from tests.factories_assessment import make_duty

    org = make_org("backing_unit", COUNTY, name="县直单位")
    mine, far = make_village(COUNTY, 8), make_village(OTHER_COUNTY, 8)
    here = make_posting(make_person(org, name="在县干部"), org, mine.code, "first_secretary", start=date(2025, 1, 1))
    there = make_posting(make_person(org, name="外县干部"), org, far.code, "first_secretary", start=date(2025, 1, 1))
    make_duty(here, date(2025, 3, 1), days=12)
    make_duty(there, date(2025, 3, 1), days=25)
    db.session.commit()
    county = login_as(make_user("region", region_code=COUNTY))
    sheet = load_workbook(io.BytesIO(county.get("/duty/export.xlsx?status=filed&month=2025-03&purpose=核对名单").data))
    rows = [[c.value for c in r] for r in sheet.worksheets[0].iter_rows()]
    assert rows[0][:3] == ["姓名", "岗位", "村"] and len(rows) == 2
    assert rows[1][0] == "在县干部" and rows[1][6] == 12 and rows[1][11] == "待核实"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()[-1]
    assert event.summary.startswith("导出驻村纪实 1 条")
    assert county.get("/duty/export.pdf").status_code == 404
