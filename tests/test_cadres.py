"""Accounts for the cadres themselves (驻村干部, issue 14): opened by whoever manages the
person with a one-time activation code; the cadre activates, sees only their own
postings, training, days in the village and grades, and files their own months, which
the township verifies (and the gap 驻村天数不足 follows the verified months)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from registry.accounts.models import User
from registry.audit.models import AuditEvent
from registry.core.crypto import secret_digest
from registry.core.timeutil import local_today, utcnow
from registry.duty.models import DutyMonth
from registry.extensions import db
from registry.regions.models import Region
from tests.conftest import PASSWORD, session_csrf_token
from tests.factories import (
    COUNTY, OTHER_COUNTY, first_township, make_cadre, make_org, make_person, make_posting, make_village)
from tests.factories_assessment import attend, make_duty, make_training

NEW_PASSWORD = "Zhucun-ganbu-2026"
_CODE = re.compile(r'id="activation-code">([A-Z0-9-]+)<')


@dataclass
class World:
    village: Region
    other_village: Region
    unit: object
    person: object  # 甲: posted to ``village`` by ``unit``
    posting: object
    other: object  # 乙: posted to another county
    other_posting: object
    idle: object  # registered, never posted
    users: dict


@pytest.fixture()
def world(app, db, make_user):
    from tests.conftest import built_once

    def build():
        township = first_township(COUNTY)
        village = make_village(COUNTY, 1, township=township, is_key=True)
        other_village = make_village(OTHER_COUNTY, 1, is_key=True)
        unit = make_org("backing_unit", "430000000000", name="省直后盾单位甲")
        other_unit = make_org("backing_unit", OTHER_COUNTY, name="宁乡单位乙", level="county")
        start = date(local_today().year - 1, 1, 1)
        person = make_person(unit, "驻村干部甲")
        other = make_person(other_unit, "驻村干部乙")
        idle = make_person(unit, "未选派干部丙")
        posting = make_posting(person, unit, village.code, start=start)
        other_posting = make_posting(other, other_unit, other_village.code, start=start)
        users = {
            "county": make_user("region", region_code=COUNTY),
            "township": make_user("region", region_code=township.code),
            "other_county": make_user("region", region_code=OTHER_COUNTY),
            "unit": make_user("unit", organization_id=unit.id),
            "other_unit": make_user("unit", organization_id=other_unit.id),
            "village": make_user("village", village_code=village.code),
            "viewer": make_user("viewer", region_code=COUNTY),
            "admin": make_user("admin"),
        }
        return World(village, other_village, unit, person, posting, other, other_posting, idle, users)

    return built_once("cadres.world", build)


def _open(session, person, username: str | None = None):
    data = {"username": username} if username is not None else {}
    return session.post(f"/people/{person.id}/account", data=data)


def _code(response) -> str:
    match = _CODE.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:2000]
    return match.group(1)


def _activate(client, identifier: str, code: str, password: str = NEW_PASSWORD, confirm: str | None = None,
              address: str = "198.51.100.7"):
    return client.post("/activate", data={
        "identifier": identifier, "code": code, "password": password, "confirm": password if confirm is None else confirm,
        "csrf_token": session_csrf_token(client)}, environ_base={"REMOTE_ADDR": address})


# -- opening the account --------------------------------------------------------------------

@pytest.mark.parametrize("who", ["county", "township", "unit", "admin"])
def test_who_manages_the_person_opens_the_account_and_sees_the_code_once(world, login_as, who):
    session = login_as(world.users[who])
    page = session.get(f"/people/{world.person.id}/account")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "驻村干部甲" in text and world.person.phone_masked in text and world.person.phone not in text
    assert "未开通" in text
    response = _open(session, world.person, "jia.cadre")
    assert response.status_code == 200
    code = _code(response)
    user = db.session.scalar(select(User).where(User.username == "jia.cadre"))
    assert user.role == "cadre" and user.person_id == world.person.id and user.activated_at is None
    # only the digest is kept, nowhere the code itself (neither the row nor the trail)
    assert user.activation_digest == secret_digest(code.replace("-", ""))
    trail = " ".join(f"{e.after} {e.summary}" for e in db.session.scalars(select(AuditEvent)))
    assert code.replace("-", "") not in trail and code not in trail
    days = current_app.config["REGISTRY_CADRE_ACTIVATION_DAYS"]
    assert abs(user.activation_expires_at - (utcnow() + timedelta(days=days))) < timedelta(minutes=1)
    # shown once: the page opened again shows the account's state, not the code
    again = session.get(f"/people/{world.person.id}/account").get_data(as_text=True)
    assert "待激活" in again and 'id="activation-code"' not in again and code not in again


@pytest.mark.parametrize("who, status", [("other_county", 404), ("other_unit", 404), ("village", 403),
                                         ("viewer", 403)])
def test_no_one_else_opens_an_account(world, login_as, who, status):
    session = login_as(world.users[who])
    assert session.get(f"/people/{world.person.id}/account").status_code == status
    assert _open(session, world.person, "jia.cadre").status_code == status
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == "cadre")) == 0


def test_only_a_posted_person_gets_an_account_and_only_one(world, login_as):
    session = login_as(world.users["unit"])
    refused = _open(session, world.idle, "bing.cadre")
    assert refused.status_code == 422 and "尚无选派记录" in refused.get_data(as_text=True)
    taken = _open(session, world.person, world.users["county"].username)
    assert taken.status_code == 422 and "用户名已存在" in taken.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == "cadre")) == 0
    first = _code(_open(session, world.person, "jia.cadre"))
    second = _code(_open(session, world.person))  # a new code for the same account replaces the first
    assert first != second
    assert db.session.scalar(select(func.count()).select_from(User).where(User.person_id == world.person.id)) == 1
    client = current_app.test_client()
    assert "不匹配" in _activate(client, "jia.cadre", first).get_data(as_text=True)
    assert _activate(client, "jia.cadre", second).status_code == 302


def test_the_administrators_form_does_not_make_a_cadre(world, login_as):
    from registry.accounts.services import create_user
    from registry.core.rules import RuleViolation

    with pytest.raises(RuleViolation, match="干部信息页开通"):
        create_user("x.cadre", "cadre", password=PASSWORD)
    page = login_as(world.users["admin"]).get("/admin/users/new").get_data(as_text=True)
    assert 'value="cadre"' not in page


# -- activation -------------------------------------------------------------------------------

def test_activation_by_username_or_phone_sets_the_password_once(world, login_as, app):
    code = _code(_open(login_as(world.users["unit"]), world.person, "jia.cadre"))
    client = app.test_client()
    weak = _activate(client, "jia.cadre", code, password="password123456")
    assert weak.status_code == 422 and "过于常见" in weak.get_data(as_text=True)
    mismatch = _activate(client, "jia.cadre", code, confirm=NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "不一致" in mismatch.get_data(as_text=True)
    phone = world.person.phone
    done = _activate(client, f"{phone[:3]} {phone[3:7]} {phone[7:]}", code.lower())  # as typed on a phone
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    home = client.get("/").get_data(as_text=True)
    assert "驻村干部甲" in home and "填报本月驻村天数" in home
    user = db.session.scalar(select(User).where(User.username == "jia.cadre"))
    assert user.activated_at is not None and user.activation_digest is None
    # the code works once
    again = _activate(app.test_client(), "jia.cadre", code, password="Another-pass-2026")
    assert again.status_code == 422 and "不匹配" in again.get_data(as_text=True)
    # and the password chosen is the one that logs in
    login = app.test_client()
    response = login.post("/login", data={"username": "jia.cadre", "password": NEW_PASSWORD,
                                          "csrf_token": session_csrf_token(login)})
    assert response.status_code == 302
    assert "已激活" in login_as(world.users["unit"]).get(f"/people/{world.person.id}/account").get_data(as_text=True)


def test_a_code_expires(world, login_as, app):
    code = _code(_open(login_as(world.users["county"]), world.person, "jia.cadre"))
    user = db.session.scalar(select(User).where(User.username == "jia.cadre"))
    user.activation_expires_at = utcnow() - timedelta(seconds=1)  # the setting's days have passed
    db.session.commit()
    expired = _activate(app.test_client(), "jia.cadre", code)
    assert expired.status_code == 422 and "已过期" in expired.get_data(as_text=True)
    assert "激活码已过期" in login_as(world.users["county"]).get(f"/people/{world.person.id}/account").get_data(
        as_text=True)
    assert db.session.get(User, user.id).activated_at is None


def test_a_name_that_is_not_the_codes_account_is_refused(world, login_as, app):
    code = _code(_open(login_as(world.users["unit"]), world.person, "jia.cadre"))
    _code(_open(login_as(world.users["other_unit"]), world.other, "yi.cadre"))
    refused = _activate(app.test_client(), "yi.cadre", code)  # another account's name with this code
    assert refused.status_code == 422 and "不匹配" in refused.get_data(as_text=True)
    assert db.session.scalar(select(User.activated_at).where(User.username == "jia.cadre")) is None


def test_wrong_codes_are_throttled_like_logins(world, login_as, app):
    code = _code(_open(login_as(world.users["unit"]), world.person, "jia.cadre"))
    client = app.test_client()
    free = app.config["REGISTRY_LOGIN_MAX_FAILURES"]
    for n in range(free):
        assert _activate(client, "jia.cadre", f"WRONG{n:011d}").status_code == 422
    throttled = _activate(client, "jia.cadre", f"WRONG{free:011d}")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert "激活尝试失败次数过多" in throttled.get_data(as_text=True)
    # even the right code waits its turn from there, and nothing was activated
    assert _activate(client, "jia.cadre", code).status_code == 429
    assert db.session.scalar(select(User.activated_at).where(User.username == "jia.cadre")) is None
    # another address is not held up by these failures
    assert _activate(app.test_client(), "jia.cadre", code, address="203.0.113.9").status_code == 302


# -- what a cadre sees ------------------------------------------------------------------------

@pytest.fixture()
def cadre(world):
    return make_cadre(world.person, world.users["unit"])


def _courses_attended(world):
    """A pre-posting course of the cadre's county that 甲 attended, and one of the other
    county that 乙 attended."""
    course = make_training(COUNTY, "pre_posting", start=world.posting.start_date, title="岗前培训甲", level="county")
    other_course = make_training(OTHER_COUNTY, "pre_posting", start=world.posting.start_date, title="岗前培训乙",
                                 level="county")
    attend(course, world.person)
    attend(other_course, world.other)
    return course, other_course


def test_a_cadre_sees_their_own_part_only(world, cadre, login_as):
    course, other_course = _courses_attended(world)
    month = date(local_today().year, local_today().month, 1) - timedelta(days=1)
    own = make_duty(world.posting, month, days=22)
    theirs = make_duty(world.other_posting, month, days=22)
    session = login_as(cadre)
    for url in ("/", f"/people/{world.person.id}", f"/postings/{world.posting.id}", f"/duty/posting/{world.posting.id}",
                f"/duty/{own.id}/edit", f"/duty/posting/{world.posting.id}/new", "/duty/",
                f"/training/person/{world.person.id}", f"/training/{course.id}",
                f"/assessment/person/{world.person.id}", "/account", "/account/password"):
        response = session.get(url)
        assert response.status_code == 200, url
        assert "驻村干部乙" not in response.get_data(as_text=True), url
    assert "岗前培训甲" in session.get(f"/training/person/{world.person.id}").get_data(as_text=True)
    assert "驻村干部甲" in session.get("/duty/").get_data(as_text=True)
    for url in (f"/people/{world.other.id}", f"/postings/{world.other_posting.id}",
                f"/duty/posting/{world.other_posting.id}", f"/duty/{theirs.id}/edit",
                f"/duty/posting/{world.other_posting.id}/new", f"/training/person/{world.other.id}",
                f"/training/{other_course.id}", f"/assessment/person/{world.other.id}",
                # nothing else exists for a cadre, their own village and unit included
                "/people/", "/postings/", "/records/", f"/regions/{world.village.code}",
                f"/organizations/{world.unit.id}", "/duty/postings", "/training/", "/assessment/", "/incentives/",
                "/account/token", f"/people/{world.person.id}/account", "/transfer/jobs",
                "/api/v1/openapi.json"):
        assert session.get(url).status_code == 404, url
    assert session.post(f"/duty/{own.id}/check", data={"version": own.version}).status_code == 404
    assert db.session.get(DutyMonth, own.id).status == "filed"


def test_a_cadre_exports_their_own_days_in_the_village(world, cadre, login_as):
    month = date(local_today().year, local_today().month, 1) - timedelta(days=1)
    make_duty(world.posting, month, days=22)
    make_duty(world.other_posting, month, days=21)
    session = login_as(cadre)
    assert "/duty/export.xlsx" in session.get("/duty/").get_data(as_text=True)
    text = session.get("/duty/export.csv").get_data(as_text=True)
    # their own month, as their list shows it, and nobody else's; audited as personal data
    assert "驻村干部甲" in text and "驻村干部乙" not in text and month.strftime("%Y-%m") in text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.actor_id == cadre.id and "驻村纪实" in event.summary
    assert session.get("/duty/export.xlsx").status_code == 200


def test_a_cadre_exports_their_own_training_record(world, cadre, login_as):
    _courses_attended(world)
    session = login_as(cadre)
    url = f"/training/person/{world.person.id}"
    assert f"{url}/export.xlsx" in session.get(url).get_data(as_text=True)
    text = session.get(f"{url}/export.csv").get_data(as_text=True)
    assert "岗前培训甲" in text and "岗前培训乙" not in text and "合格" in text
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.actor_id == cadre.id and "个人培训记录 1 条" in event.summary and "驻村干部甲" in event.summary
    assert session.get(f"/training/person/{world.other.id}/export.csv").status_code == 404
    # staff who see the person export the same record
    assert "岗前培训甲" in login_as(world.users["county"]).get(f"{url}/export.csv").get_data(as_text=True)


def test_a_cadres_pages_link_nowhere_closed_to_them(world, cadre, login_as, app):
    from registry.core.access import cadre_may_open

    course = make_training(COUNTY, "pre_posting", start=world.posting.start_date, title="岗前培训甲", level="county")
    attend(course, world.person)
    duty = make_duty(world.posting, date(local_today().year, local_today().month, 1) - timedelta(days=1), days=12)
    session = login_as(cadre)
    adapter = app.url_map.bind("localhost")
    dead = []
    for url in ("/", f"/people/{world.person.id}", f"/postings/{world.posting.id}", f"/duty/posting/{world.posting.id}",
                "/duty/", f"/duty/{duty.id}/edit", f"/duty/posting/{world.posting.id}/new", f"/training/{course.id}",
                f"/training/person/{world.person.id}", f"/assessment/person/{world.person.id}", "/account",
                "/account/password"):
        html = session.get(url).get_data(as_text=True)
        for path in re.findall(r'\s(?:href|action)="(/[^"#?]*)', html):
            endpoint, _ = adapter.match(path, method="POST" if "/logout" in path or "/end" in path else "GET")
            if endpoint != "static" and not cadre_may_open(app.view_functions[endpoint]):
                dead.append(f"{url} links to {path}")
    assert not dead, dead


# -- filing and verifying ---------------------------------------------------------------------

def _month_data(month: date, days: int, **extra) -> dict:
    return {"month": f"{month:%Y-%m}", "days_in_village": str(days), "leave_days": "2", "leave_approved_by": "乡党委书记",
            "absences": "0", "summary": "走访脱贫户，推进产业项目", **extra}


def test_a_cadre_files_a_month_the_township_verifies_and_the_gap_follows(world, cadre, login_as, app):
    from registry.dashboard.gaps import gaps

    last = date(local_today().year, local_today().month, 1) - timedelta(days=1)
    session = login_as(cadre)
    form = session.get(f"/duty/posting/{world.posting.id}/new?month={last:%Y-%m}").get_data(as_text=True)
    assert "填报：" in form and "核实：" in form and "乡镇" in form
    filed = session.post(f"/duty/posting/{world.posting.id}/new", data=_month_data(last, 12))
    assert filed.status_code == 302
    duty = db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == world.posting.id))
    assert duty.status == "filed" and duty.filed_by_id == cadre.id and duty.is_short

    def low_days():
        with app.test_request_context():
            found = {g.kind: g for g in gaps(db.session.get(Region, COUNTY), kinds=["low_days"], limit=50)}
        return [item["posting_id"] for item in found["low_days"].items]

    assert low_days() == []  # a claim, not yet a gap
    township = login_as(world.users["township"])
    assert "驻村干部甲" in township.get("/duty/?status=filed").get_data(as_text=True)
    assert township.post(f"/duty/{duty.id}/check", data={"version": duty.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).status == "checked"
    assert low_days() == [world.posting.id]
    gaps_page = login_as(world.users["county"]).get(f"/gaps/{COUNTY}?kind=low_days").get_data(as_text=True)
    assert "驻村干部甲" in gaps_page
    # the cadre sees it verified, and can no longer change it
    home = session.get("/").get_data(as_text=True)
    assert "已核实" in home
    assert session.post(f"/duty/{duty.id}/edit", data=_month_data(last, 25)).status_code == 302
    assert db.session.get(DutyMonth, duty.id).days_in_village == 12


def test_a_returned_month_goes_back_to_the_cadre(world, cadre, login_as):
    last = date(local_today().year, local_today().month, 1) - timedelta(days=1)
    session = login_as(cadre)
    session.post(f"/duty/posting/{world.posting.id}/new", data=_month_data(last, 21))
    duty = db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == world.posting.id))
    township = login_as(world.users["township"])
    assert township.post(f"/duty/{duty.id}/return", data={"reason": "请假天数与审批单不符",
                                                          "version": duty.version}).status_code == 302
    home = session.get("/").get_data(as_text=True)
    assert "请假天数与审批单不符" in home and "修改后重新提交" in home
    fixed = session.post(f"/duty/{duty.id}/edit", data=_month_data(last, 21, leave_days="1",
                                                                    version=str(db.session.get(DutyMonth, duty.id).version)))
    assert fixed.status_code == 302
    db.session.expire_all()
    assert db.session.get(DutyMonth, duty.id).status == "filed"


def test_the_village_still_files_for_its_team(world, cadre, login_as):
    last = date(local_today().year, local_today().month, 1) - timedelta(days=1)
    village = login_as(world.users["village"])
    page = village.get(f"/duty/posting/{world.posting.id}").get_data(as_text=True)
    assert "填报：" in page and "核实：" in page
    assert village.post(f"/duty/posting/{world.posting.id}/new", data=_month_data(last, 23)).status_code == 302
    duty = db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == world.posting.id))
    assert duty.filed_by_id == world.users["village"].id
    # the cadre sees the month the village filed, and may correct it before it is verified
    assert f"/duty/{duty.id}/edit" in login_as(cadre).get("/").get_data(as_text=True)


def test_a_seconded_cadre_files_no_days(world, login_as):
    township = first_township(COUNTY)
    person = make_person(world.unit, "挂职干部丁")
    make_posting(person, world.unit, township.code, role="seconded_cadre", post_held="副乡长",
                 start=date(local_today().year - 1, 3, 1))
    session = login_as(make_cadre(person, world.users["county"]))
    home = session.get("/").get_data(as_text=True)
    assert "挂职干部" in home and "填报本月驻村天数" not in home


def test_a_summons_about_the_cadre_reaches_them_and_its_link_opens(world, cadre, login_as):
    """The summons' notification goes to the cadre's own account too: its link must open,
    with the summons about them and no other."""
    from registry.assessment.services import IncentiveData, issue_to_person
    from registry.notifications.models import Notification

    county = world.users["county"]
    about_them = issue_to_person(world.person, IncentiveData("summons", local_today(), "county", "驻村天数不足"), county)
    db.session.commit()
    told = db.session.scalars(select(Notification).where(Notification.user_id == cadre.id,
                                                         Notification.kind == "summons")).all()
    assert [n.link for n in told] == [f"/incentives/{about_them.id}"]
    session = login_as(cadre)
    page = session.get(told[0].link)
    assert page.status_code == 200 and "驻村天数不足" in page.get_data(as_text=True)
    assert 'href="/incentives/"' not in page.get_data(as_text=True)  # the list is closed to a cadre
    other_county = world.users["other_county"]
    about_another = issue_to_person(world.other, IncentiveData("summons", local_today(), "county", "另一人"), other_county)
    db.session.commit()
    assert session.get(f"/incentives/{about_another.id}").status_code == 404


def test_a_cadres_own_grade_opens_and_links_nowhere_closed_to_them(world, cadre, login_as):
    from registry.assessment.services import GradeData, assess_posting

    grade = assess_posting(world.posting, GradeData(local_today().year - 1, "称职"), world.users["county"])
    db.session.commit()
    page = login_as(cadre).get(f"/assessment/{grade.id}")
    assert page.status_code == 200 and "称职" in page.get_data(as_text=True)
    body = page.get_data(as_text=True)
    assert 'href="/assessment/?' not in body and 'href="/assessment/"' not in body  # the list is closed to them


def test_a_cadres_home_lists_their_grades(world, cadre, login_as):
    """The home's 考核 card: each of the cadre's grades by year, linked to its page (the
    grades alone are loaded: ``cadre_home``)."""
    from registry.assessment.services import GradeData, assess_posting

    year = local_today().year - 1
    grade = assess_posting(world.posting, GradeData(year, "称职"), world.users["county"])
    db.session.commit()
    body = login_as(cadre).get("/").get_data(as_text=True)
    card = body[body.index('id="cadre-assessment"'):]
    assert f'<a href="/assessment/{grade.id}">{year}年度：称职</a>' in card


def test_a_cadre_exports_their_own_grades_and_summons(world, cadre, login_as):
    from registry.assessment.services import GradeData, IncentiveData, assess_posting, issue_to_person

    county = world.users["county"]
    assess_posting(world.posting, GradeData(local_today().year - 1, "称职"), county)
    issue_to_person(world.person, IncentiveData("summons", local_today(), "county", "驻村天数不足"), county)
    issue_to_person(world.other, IncentiveData("summons", local_today(), "county", "乙的约谈事由"),
                    world.users["other_county"])
    db.session.commit()
    session = login_as(cadre)
    url = f"/assessment/person/{world.person.id}"
    page = session.get(url).get_data(as_text=True)
    assert f"{url}/grades.xlsx" in page and f"{url}/incentives.xlsx" in page
    grades = session.get(f"{url}/grades.csv").get_data(as_text=True)
    assert "驻村干部甲" in grades and "称职" in grades
    summons = session.get(f"{url}/incentives.csv").get_data(as_text=True)
    assert "驻村天数不足" in summons and "乙的约谈事由" not in summons
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert event.actor_id == cadre.id and "个人表扬激励与约谈 1 条" in event.summary
    assert session.get(f"/assessment/person/{world.other.id}/grades.csv").status_code == 404
    assert session.get(f"{url}/nothing.csv").status_code == 404
