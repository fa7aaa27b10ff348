"""People 帮扶干部: ID numbers checked, normalised, unique, stored encrypted and shown
masked except to the roles of ``people.privacy``; scope; audit; edit with a version
check; exports."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from registry.audit.models import AuditEvent
from registry.people.models import Person
from registry.people.privacy import may_see_full_identity
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_posting, make_village, valid_id_number

# a woman born 1990-07-15 in 吉首市 (check character X)
ID_BODY = "43310119900715002"


def _full_id() -> str:
    from registry.core.identity import id_check_char

    return ID_BODY + id_check_char(ID_BODY)


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(org, **kw) -> dict:
    data = {
        "name": "向红梅", "id_number": _full_id(), "gender": "", "birth_date": "", "ethnicity": "土家族",
        "phone": "13974300001", "is_party_member": "y", "education": "bachelor", "organization_id": str(org.id),
        "post": "科长", "rank": "正科级", "expertise": "农业技术",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def test_region_staff_registers_a_person(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    number = _full_id()
    # full-width digits and a lower-case x are normalised, not refused
    messy = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９x"))
    response = session.post("/people/new", _form(org, id_number=messy, phone="139 7430 0001"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    person = db.session.scalar(select(Person))
    assert person.id_number == number and person.phone == "13974300001"
    # gender and birth date default from the ID number
    assert person.gender == "female" and person.birth_date.isoformat() == "1990-07-15"
    # stored so that a dump does not reveal it
    raw = db.session.execute(text("SELECT * FROM person")).mappings().one()
    assert number not in str(dict(raw)) and "13974300001" not in str(dict(raw))
    assert raw["id_number_masked"] == number[:4] + "*" * 10 + number[-4:]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Person"))
    assert event.action == "create" and event.organization_id == org.id
    assert number not in (event.after or "") and "13974300001" not in (event.after or "")
    page = session.get(response.headers["Location"]).get_data(as_text=True)
    assert number in page and "13974300001" in page  # region staff see the full number


def _refused(db, session, data, label, message, url="/people/new"):
    people, events = _count(db, Person), _count(db, AuditEvent)
    response = session.post(url, data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:500]
    assert (label is None or f"{label}：" in body) and message in body, body[body.find('class="error"'):][:500]
    assert _count(db, Person) == people and _count(db, AuditEvent) == events
    return body


def test_bad_id_check_digit_is_refused_and_nothing_written(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    number = _full_id()
    bad = number[:17] + ("1" if number[17] != "1" else "2")
    body = _refused(db, session, _form(org, id_number=bad), "身份证号", "身份证号校验位不正确")
    assert "向红梅" in body  # the user's input stays on the form
    _refused(db, session, _form(org, id_number="4331011990071500"), "身份证号", "应为18位")
    _refused(db, session, _form(org, id_number="433101199013150021"), "身份证号", "出生日期无效")


def test_duplicate_id_number_is_a_field_error_not_a_crash(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.post("/people/new", _form(org)).status_code == 302
    _refused(db, session, _form(org, name="另一人", id_number=_full_id().lower()), "身份证号", "该身份证号已登记")


def test_duplicate_caught_by_the_database_too(db, make_user):
    """Two registrations racing past the check: the unique blind index refuses the
    second with the same field message."""
    from registry.core.rules import RuleViolation
    from registry.people import services

    org = make_org("backing_unit", COUNTY)
    user = make_user("region", region_code=COUNTY)
    services.create_person(_form(org), actor=user)
    original = services._clean_person

    def racing(values, *, actor, person):  # the check ran before the other commit
        data = dict(values)
        data.update(id_number=_full_id(), gender="female", birth_date=None, organization_id=org.id)
        return {**{k: None for k in services.PERSON_FIELDS}, **data, "birth_date": None,
                "is_party_member": False, "is_reserve_cadre": False, "is_veteran": False}

    services._clean_person = racing
    try:
        with pytest.raises(RuleViolation) as refused:
            services.create_person(_form(org, name="并发"), actor=user)
    finally:
        services._clean_person = original
    assert refused.value.errors == {"id_number": [services.DUPLICATE_ID]}
    db.session.rollback()
    assert _count(db, Person) == 1


def test_gender_and_birth_date_must_match_the_id_number(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, _form(org, gender="male"), "性别", "性别与身份证号不符")
    _refused(db, session, _form(org, birth_date="1990-07-16"), "出生日期", "出生日期与身份证号不符")


def test_bad_phone_is_refused(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, _form(org, phone="1234567"), "联系电话", "11位手机号")


def test_employer_must_be_in_the_jurisdiction(db, login_as, make_user):
    other = make_org("backing_unit", OTHER_COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, _form(other), "工作单位", "不是有效的选择")


def test_unit_registers_its_own_people_only(db, login_as, make_user):
    mine = make_org("backing_unit", COUNTY)
    other = make_org("backing_unit", COUNTY)
    session = login_as(make_user("unit", organization_id=mine.id))
    _refused(db, session, _form(other), "工作单位", "不是有效的选择")
    assert session.post("/people/new", _form(mine)).status_code == 302
    assert db.session.scalar(select(Person.organization_id)) == mine.id


def test_unit_cannot_see_or_change_another_units_people(db, login_as, make_user):
    mine = make_org("backing_unit", COUNTY)
    other = make_org("backing_unit", COUNTY)
    own_person = make_person(mine, name="本单位干部")
    stranger = make_person(other, name="外单位干部")
    session = login_as(make_user("unit", organization_id=mine.id))
    assert session.get(f"/people/{own_person.id}").status_code == 200
    assert session.get(f"/people/{stranger.id}").status_code == 404
    assert session.get(f"/people/{stranger.id}/edit").status_code == 404
    assert session.post(f"/people/{stranger.id}/edit", {"name": "改"}).status_code == 404
    body = session.get("/people/").get_data(as_text=True)
    assert "本单位干部" in body and "外单位干部" not in body
    assert "外单位干部" not in session.get("/people/export.csv").get_data(as_text=True)


def test_county_sees_people_of_its_county_and_those_posted_into_it(db, login_as, make_user):
    county_org = make_org("backing_unit", COUNTY)
    province_org = make_org("backing_unit", PROVINCE)
    other_org = make_org("backing_unit", OTHER_COUNTY)
    local = make_person(county_org, name="本县干部")
    posted = make_person(province_org, name="省派干部")
    outside = make_person(other_org, name="外县干部")
    make_posting(posted, province_org, make_village(COUNTY).code)
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/people/{local.id}").status_code == 200
    assert session.get(f"/people/{posted.id}").status_code == 200
    assert session.get(f"/people/{outside.id}").status_code == 404
    # visible because posted here, but the province's person: edited by the province
    assert session.get(f"/people/{posted.id}/edit").status_code == 403


# -- no leaks ------------------------------------------------------------------------------

def _leak_world(db):
    org = make_org("backing_unit", COUNTY, contact_phone="13700001111")
    village = make_village(COUNTY)
    person = make_person(org, name="保密干部")
    make_posting(person, org, village.code)
    return org, village, person


def _pages(org, village, person):
    from registry.extensions import db
    from registry.people.models import Posting

    posting_id = db.session.scalar(select(Posting.id).where(Posting.person_id == person.id))
    return [
        "/people/", f"/people/?q={person.name}", f"/people/{person.id}", f"/organizations/{org.id}",
        f"/regions/{village.code}", f"/postings/{posting_id}", "/postings/", "/", "/people/export.csv", "/organizations/export.csv",
    ]


@pytest.mark.parametrize("role", ["viewer", "village"])
def test_masked_roles_never_receive_a_full_number(db, login_as, make_user, role):
    org, village, person = _leak_world(db)
    number, phone = person.id_number, person.phone
    scope = {"region_code": PROVINCE} if role == "viewer" else {"village_code": village.code}
    session = login_as(make_user(role, **scope))
    pages = _pages(org, village, person)
    seen_masked = False
    for url in pages:
        response = session.get(url)
        assert response.status_code == 200, (url, response.status_code)
        body = response.get_data(as_text=True)
        assert number not in body and phone not in body and "13700001111" not in body, url
        seen_masked = seen_masked or person.id_number_masked in body
    assert seen_masked
    # xlsx too, and searching by a full number finds nothing (no existence oracle)
    sheet = load_workbook(io.BytesIO(session.get("/people/export.xlsx").data)).active
    cells = str([[c.value for c in row] for row in sheet.iter_rows()])
    assert number not in cells and phone not in cells and person.id_number_masked in cells
    body = session.get(f"/people/?q={number}").get_data(as_text=True)
    assert "保密干部" not in body and "没有符合条件的帮扶干部" in body


@pytest.mark.parametrize("role", ["region", "unit", "admin"])
def test_full_numbers_for_the_roles_that_need_them(db, login_as, make_user, role):
    org, village, person = _leak_world(db)
    scope = {"region": {"region_code": COUNTY}, "unit": {"organization_id": org.id}, "admin": {}}[role]
    session = login_as(make_user(role, **scope))
    assert person.id_number in session.get(f"/people/{person.id}").get_data(as_text=True)
    assert person.phone in session.get("/people/").get_data(as_text=True)
    assert person.id_number in session.get("/people/export.csv?purpose=核对名单").get_data(as_text=True)
    # and they may find a person by the exact number
    body = session.get(f"/people/?q={person.id_number.lower()}").get_data(as_text=True)
    assert f"/people/{person.id}" in body


def test_the_rule_itself():
    """Issue 12 changed the rule: region staff no longer see every number in their scope,
    only those of the people they answer for (by level: tests/test_privacy.py)."""
    from types import SimpleNamespace as NS

    def U(role, organization_id=None, level=None):
        return NS(role=role, organization_id=organization_id, is_authenticated=True, id=1,
                  region=NS(level=level) if level else None)

    def P(organization_id):
        return NS(id=1, organization_id=organization_id, organization=None)

    assert may_see_full_identity(U("admin"), P(1)) and not may_see_full_identity(U("region", level="township"), P(1))
    assert may_see_full_identity(U("unit", 7), P(7)) and not may_see_full_identity(U("unit", 7), P(8))
    assert not may_see_full_identity(U("viewer"), P(1)) and not may_see_full_identity(U("village"), P(1))
    assert not may_see_full_identity(None, P(1))


def test_templates_never_print_raw_numbers():
    """Every template shows numbers through shown_id / shown_phone / shown_contact_phone."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "templates"
    raw = re.compile(r"\.(id_number|phone|contact_phone)\b(?!_masked)")
    offenders = [
        f"{path.relative_to(root)}:{n}"
        for path in root.rglob("*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if raw.search(line)
    ]
    assert not offenders, offenders


def test_people_export_is_audited(db, login_as, make_user):
    org, village, person = _leak_world(db)
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get("/people/export.xlsx?purpose=核对名单").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert event.entity_type == "Person" and event.region_code == COUNTY
    assert "含完整身份证号" in event.summary and '"rows":1' in event.after
    viewer = login_as(make_user("viewer", region_code=PROVINCE))
    viewer.get("/people/export.csv")
    last = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id.desc()))
    assert "已遮蔽" in last.summary


# -- editing -------------------------------------------------------------------------------

def test_edit_person_with_version_check_and_audit(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    person = make_person(org, name="原名", gender="male")
    session = login_as(make_user("region", region_code=COUNTY))
    page = session.get(f"/people/{person.id}/edit").get_data(as_text=True)
    assert person.id_number in page  # the editor sees the number they correct
    new_number = valid_id_number(555, born="19800101")
    form = _form(org, name="新名", id_number=new_number, gender="", birth_date="", phone="", version=str(person.version))
    response = session.post(f"/people/{person.id}/edit", form)
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    db.session.expire_all()
    person = db.session.get(Person, person.id)
    assert person.name == "新名" and person.id_number == new_number and person.phone == "" and person.phone_masked is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "update"))
    assert event.entity_type == "Person" and '"name":"原名"' in event.before and new_number not in event.after
    # the same form again is now stale
    body = _refused(db, session, form, None, "已被他人修改", url=f"/people/{person.id}/edit")
    assert "已被他人修改" in body


def test_person_detail_shows_the_posting_history(db, login_as, make_user):
    from datetime import date

    org = make_org("backing_unit", COUNTY)
    person = make_person(org)
    village = make_village(COUNTY)
    make_posting(person, org, village.code, start=date(2021, 9, 1), end_date=date(2023, 9, 1), end_reason="term_completed")
    make_posting(person, org, village.code, start=date(2023, 9, 1))
    body = login_as(make_user("viewer", region_code=PROVINCE)).get(f"/people/{person.id}").get_data(as_text=True)
    assert "选派经历" in body and "2021年9月1日" in body and "期满轮换" in body and "在岗" in body
    assert person.id_number not in body


def test_lists_do_not_name_a_posting_outside_scope(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    person = make_person(org, name="外派干部")
    away = make_village(OTHER_COUNTY, 7)
    make_posting(person, org, away.code)
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get("/people/").get_data(as_text=True)
    assert "外派干部" in body and "在其他地区在岗" in body and away.name not in body
    form = session.get(f"/people/{person.id}/postings/new").get_data(as_text=True)
    assert "目前在其他地区在岗" in form and away.name not in form
