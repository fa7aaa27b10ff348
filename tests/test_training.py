"""Training: courses, attendance, the pre-posting window and the yearly training check."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.people.models import Posting
from registry.training import checks
from registry.training.models import Attendance, Training
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_posting, make_village
from tests.factories_assessment import attend, make_training, posted_secretary


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def events() -> int:
    return count(AuditEvent)


# -- the pre-posting window -------------------------------------------------------------------

START = date(2024, 3, 1)
TODAY = date(2024, 12, 1)


@pytest.mark.parametrize(
    "offset, status",
    [(-90, "done"), (-30, "done"), (0, "done"), (45, "done"), (90, "done"), (91, "late"), (-91, "missing")],
)
def test_pre_posting_training_within_90_days_before_or_after_the_start_counts(app, offset, status):
    village, org, person, posting = posted_secretary(start=START)
    attend(make_training(kind="pre_posting", start=START + timedelta(days=offset)), person)
    check = checks.pre_posting_check(posting, today=TODAY)
    assert check.status == status
    assert check.gap == (status in ("late", "missing"))


def test_only_a_pre_posting_course_counts_for_the_pre_posting_check(app):
    _, _, person, posting = posted_secretary(start=START)
    attend(make_training(kind="rotation", start=START), person)
    attend(make_training(kind="special", start=START + timedelta(days=5)), person)
    assert checks.pre_posting_check(posting, today=TODAY).status == "missing"


def test_a_failed_course_does_not_count(app):
    _, _, person, posting = posted_secretary(start=START)
    attend(make_training(kind="pre_posting", start=START), person, passed=False)
    assert checks.pre_posting_check(posting, today=TODAY).status == "missing"
    assert checks.yearly_check(person.id, 2024, today=TODAY).ok is False


def test_pre_posting_is_due_while_the_window_is_open(app):
    _, _, person, posting = posted_secretary(start=START)
    check = checks.pre_posting_check(posting, today=START + timedelta(days=10))
    assert check.status == "due" and not check.gap
    assert checks.pre_posting_check(posting, today=START + timedelta(days=91)).status == "missing"


def test_the_window_is_a_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_PRE_POSTING_TRAINING_DAYS", 30)
    _, _, person, posting = posted_secretary(start=START)
    attend(make_training(kind="pre_posting", start=START + timedelta(days=45)), person)
    assert checks.pre_posting_check(posting, today=TODAY).status == "late"


# -- yearly training --------------------------------------------------------------------------


def test_yearly_training_needs_a_course_in_the_calendar_year(app):
    _, _, person, posting = posted_secretary(start=date(2023, 1, 1))
    attend(make_training(kind="rotation", start=date(2023, 6, 1)), person)
    assert checks.yearly_check(person.id, 2023, today=TODAY).ok
    missing = checks.yearly_check(person.id, 2024, today=TODAY)
    assert missing.gap and missing.in_progress and "尚未完成" in missing.label
    assert checks.yearly_check(person.id, 2024, today=date(2025, 2, 1)).label == "2024年未完成培训（0/1次）"
    attend(make_training(kind="special", start=date(2024, 11, 30)), person)
    assert checks.yearly_check(person.id, 2024, today=TODAY).ok


def test_the_yearly_minimum_is_a_setting(app, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_YEARLY_TRAININGS", 2)
    _, _, person, posting = posted_secretary(start=date(2023, 1, 1))
    attend(make_training(kind="rotation", start=date(2024, 6, 1)), person)
    assert checks.yearly_check(person.id, 2024, today=TODAY).gap
    attend(make_training(kind="rotation", start=date(2024, 9, 1)), person)
    assert checks.yearly_check(person.id, 2024, today=TODAY).ok


# -- set-based versions agree with the single ones, without a query per posting ----------------------


def _scenario():
    """Five postings: trained in time, late, never (window closed), due (window open),
    and trained this year by a rotation course only."""
    today = local_today()
    org = make_org()
    postings = []
    for n, (start_offset, course) in enumerate(
        [(-200, ("pre_posting", -190)), (-200, ("pre_posting", -50)), (-200, None), (-10, None), (-400, ("rotation", -5))], start=1
    ):
        village = make_village(COUNTY, n)
        person = make_person(org)
        posting = make_posting(person, org, village.code, start=today + timedelta(days=start_offset))
        if course:
            kind, offset = course
            attend(make_training(kind=kind, start=today + timedelta(days=offset)), person)
        postings.append(posting)
    return today, postings


def test_set_based_checks_agree_with_single_checks_and_the_sql_clauses(app):
    today, postings = _scenario()
    many = checks.posting_training_checks(postings, today=today)
    for posting in postings:
        single = checks.posting_training_check(posting, today=today)
        assert many[posting.id] == single
    assert [many[p.id].pre_posting.status for p in postings] == ["done", "late", "missing", "due", "missing"]
    base = select(Posting.id)
    missing_pre = set(db.session.scalars(checks.missing_pre_posting(base, today)))
    assert missing_pre == {p.id for p in postings if many[p.id].pre_posting.gap}
    missing_year = set(db.session.scalars(checks.missing_yearly(base, today.year)))
    assert missing_year == {p.id for p in postings if many[p.id].yearly.gap}
    trained = set(db.session.scalars(select(Posting.id).where(checks.pre_posting_trained_clause())))
    assert trained == {postings[0].id}


def test_set_based_checks_use_one_query_whatever_the_number_of_postings(app):
    today, postings = _scenario()
    for posting in postings:  # loaded before counting: the point is the training query
        assert posting.person_id and posting.start_date
    statements = []

    def count_query(*args):
        statements.append(args[2])

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count_query)
    try:
        checks.posting_training_checks(postings, today=today)
    finally:
        event.remove(engine, "before_cursor_execute", count_query)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1


# -- courses through the pages --------------------------------------------------------------------


def _course_form(**over):
    data = {
        "title": "2026年第一书记岗前培训班", "organizer": "吉首市委组织部", "kind": "pre_posting", "level": "county",
        "mode": "onsite", "region_code": COUNTY, "start_date": "2026-03-02", "end_date": "2026-03-06",
        "hours": "40", "location": "吉首市委党校", "note": "",
    }
    data.update(over)
    return data


def test_region_staff_create_a_course_and_it_is_audited(login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.post("/training/new", data=_course_form())
    assert response.status_code == 302
    training = db.session.scalar(select(Training))
    assert training.title == "2026年第一书记岗前培训班" and str(training.hours) == "40.0"
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.entity_type == "Training")).startswith("新建培训")


@pytest.mark.parametrize(
    "over, field, message",
    [
        ({"end_date": "2026-03-01"}, "结束日期", "结束日期不能早于开始日期"),
        ({"hours": "0"}, "学时", "学时应大于0"),
        ({"hours": "1.25"}, "学时", "学时最多保留1位小数"),
        ({"hours": "abc"}, "学时", "学时应为数字"),
        ({"title": ""}, "培训主题", "请填写培训主题"),
        ({"region_code": OTHER_COUNTY}, "组织地区", ""),
    ],
)
def test_a_bad_course_is_refused_with_the_field_named_and_nothing_written(login_as, make_user, over, field, message):
    session = login_as(make_user("region", region_code=COUNTY))
    before = events()
    response = session.post("/training/new", data=_course_form(**over))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{field}：{message}" in body
    assert count(Training) == 0 and events() == before


def test_units_and_villages_cannot_create_courses(login_as, make_user):
    org = make_org()
    session = login_as(make_user("unit", organization_id=org.id))
    assert session.get("/training/new").status_code == 403
    assert session.post("/training/new", data=_course_form()).status_code == 403


def test_a_county_sees_provincial_courses_but_cannot_edit_them(login_as, make_user):
    provincial = make_training(PROVINCE)
    other = make_training(OTHER_COUNTY, level="county")
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/training/{provincial.id}").status_code == 200
    assert session.get(f"/training/{provincial.id}/edit").status_code == 403
    assert session.get(f"/training/{other.id}").status_code == 404
    assert session.get(f"/training/{other.id}/edit").status_code == 404


def test_stale_course_edit_is_refused_and_input_kept(login_as, make_user):
    training = make_training(COUNTY, level="county")
    session = login_as(make_user("region", region_code=COUNTY))
    form = _course_form(title="改过的主题", version=str(training.version))
    training.organizer = "别人先改了"
    db.session.commit()
    response = session.post(f"/training/{training.id}/edit", data=form)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "已被他人修改" in body and "改过的主题" in body
    db.session.expire_all()
    assert db.session.get(Training, training.id).title != "改过的主题"


# -- attendance --------------------------------------------------------------------------------


def test_register_attendance_for_several_people_at_once(login_as, make_user):
    village, org, person, posting = posted_secretary()
    second = make_person(org, name="李四")
    make_posting(second, org, village.code, role="team_member")
    training = make_training(PROVINCE, start=date(2024, 1, 10), hours=24)
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post(f"/training/{training.id}/attendance", data={"person_ids": [person.id, second.id], "hours": "24", "passed": "y"})
    assert response.status_code == 302
    assert count(Attendance) == 2
    page = session.get(f"/training/person/{person.id}").get_data(as_text=True)
    assert "已按时参加岗前培训" in page and training.title in page


def test_attendance_is_unique_per_course_and_person_and_all_or_nothing(login_as, make_user):
    village, org, person, posting = posted_secretary()
    second = make_person(org, name="李四")
    training = make_training(PROVINCE, start=date(2024, 1, 10))
    attend(training, person)
    session = login_as(make_user("region", region_code=PROVINCE))
    before = events()
    response = session.post(f"/training/{training.id}/attendance", data={"person_ids": [person.id, second.id], "hours": "8", "passed": "y"})
    assert response.status_code == 422
    assert "参训人员：已登记参加本次培训：" + person.name in response.get_data(as_text=True)
    assert count(Attendance) == 1 and events() == before


@pytest.mark.parametrize(
    "hours, message", [("30", "学时不能超过24.0"), ("", "请填写学时"), ("-1", "学时应大于0")]
)
def test_credited_hours_cannot_exceed_the_course(login_as, make_user, hours, message):
    _, org, person, _ = posted_secretary()
    training = make_training(PROVINCE, start=date(2024, 1, 10), hours=24)
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post(f"/training/{training.id}/attendance", data={"person_ids": [person.id], "hours": hours})
    assert response.status_code == 422 and f"认定学时：{message}" in response.get_data(as_text=True)
    assert count(Attendance) == 0


def test_a_course_not_yet_started_takes_no_attendance(login_as, make_user):
    _, _, person, _ = posted_secretary()
    training = make_training(PROVINCE, start=local_today() + timedelta(days=10))
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post(f"/training/{training.id}/attendance", data={"person_ids": [person.id], "hours": "8"})
    assert response.status_code == 422 and "培训尚未开始" in response.get_data(as_text=True)
    assert count(Attendance) == 0
    # its page says when attendance opens, instead of a form that would be refused
    page = session.get(f"/training/{training.id}?person={person.id}").get_data(as_text=True)
    assert 'id="not-started"' in page and "/attendance" not in page


def test_a_new_course_in_the_future_says_when_attendance_opens(login_as, make_user):
    session = login_as(make_user("region", region_code=PROVINCE))
    start = local_today() + timedelta(days=10)
    response = session.post("/training/new", data=_course_form(start_date=start.isoformat(), end_date=start.isoformat(),
                                                               level="provincial", region_code=PROVINCE),
                            follow_redirects=True)
    body = response.get_data(as_text=True)
    assert "培训开始后可登记参训人员" in body and "请继续登记参训人员" not in body and 'id="not-started"' in body


def test_a_person_outside_the_jurisdiction_cannot_be_registered(login_as, make_user):
    _, _, outsider, _ = posted_secretary(OTHER_COUNTY)
    outsider_org = outsider.organization
    outsider_org.region_code = OTHER_COUNTY
    db.session.commit()
    training = make_training(COUNTY, level="county", start=date(2024, 1, 10))
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.post(f"/training/{training.id}/attendance", data={"person_ids": [outsider.id], "hours": "8"})
    assert response.status_code == 422 and "不在您的管辖范围内" in response.get_data(as_text=True)
    assert count(Attendance) == 0


def test_attendance_can_be_corrected_and_removed(login_as, make_user):
    _, _, person, posting = posted_secretary(start=START)
    training = make_training(PROVINCE, start=START)
    attendance = attend(training, person)
    session = login_as(make_user("region", region_code=PROVINCE))
    response = session.post(f"/training/attendance/{attendance.id}/edit", data={"hours": "12", "version": attendance.version})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Attendance, attendance.id).passed is False
    assert checks.pre_posting_check(posting, today=TODAY).status == "missing"
    assert session.post(f"/training/attendance/{attendance.id}/delete").status_code == 302
    assert count(Attendance) == 0
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "delete")) == 1


# -- who reads a person's training -------------------------------------------------------------


def test_a_unit_reads_its_own_peoples_training_only(login_as, make_user):
    _, org, person, _ = posted_secretary()
    other_org = make_org()
    other = make_person(other_org)
    training = make_training(PROVINCE, start=date(2024, 1, 2))
    attend(training, person)
    session = login_as(make_user("unit", organization_id=org.id))
    assert session.get(f"/training/person/{person.id}").status_code == 200
    assert session.get(f"/training/person/{other.id}").status_code == 404
    assert session.get(f"/training/{training.id}").status_code == 200
    listing = session.get("/training/").get_data(as_text=True)
    assert training.title in listing


def test_the_gap_list_shows_people_without_training(login_as, make_user):
    today, postings = _scenario()
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get("/training/gaps").get_data(as_text=True)
    assert body.count("未参加岗前培训") + body.count("岗前培训未按时完成") >= 3
    yearly = session.get("/training/gaps?which=yearly").get_data(as_text=True)
    assert "尚未完成培训" in yearly


def test_the_training_ledger_exports_attendance_in_scope_and_audited(db, login_as, make_user):
    import io
    from datetime import date

    from openpyxl import load_workbook
    from sqlalchemy import select

    from registry.audit.models import AuditEvent
    from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person
    from tests.factories_assessment import attend, make_training

    course = make_training(COUNTY, start=date(2025, 4, 1), title="县级轮训", kind="rotation", level="county")
    attend(course, make_person(make_org("backing_unit", COUNTY), name="县内学员"), hours=16)
    attend(course, make_person(make_org("backing_unit", OTHER_COUNTY), name="外县学员"), passed=False)
    county = login_as(make_user("region", region_code=COUNTY))
    sheet = load_workbook(io.BytesIO(county.get("/training/export.xlsx?year=2025&purpose=核对名单").data)).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:2] == ["培训主题", "主办单位"]
    names = [r[8] for r in rows[1:]]
    assert "县内学员" in names
    row = rows[1 + names.index("县内学员")]
    assert row[0] == "县级轮训" and row[3] == "轮训" and row[10] == 16 and row[11] == "是"
    summary = db.session.scalars(select(AuditEvent.summary).where(AuditEvent.action == "export")).all()[-1]
    assert summary.startswith(f"导出培训台账 {len(names)} 条")
