"""Minimum necessary for personal data (issue 12, point 5): who sees full ID numbers and
phones (``registry/people/privacy.py``), by role and by level; exports with full numbers
ask for a purpose that goes on the record; the pages say the rule the code applies."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from registry.audit.models import AuditEvent
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org, make_person, make_posting, make_village

PURPOSE = "purpose=年度考核核对"


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def _posted(db, employer_region: str, dispatch: str | None, *, name: str = "省直干部"):
    """A person of an organization based in ``employer_region``, posted (``dispatch`` level)
    to a village of 吉首市 — or not posted at all when ``dispatch`` is None."""
    org = make_org("backing_unit", employer_region, level=None)
    person = make_person(org, name=name)
    village = make_village(COUNTY)
    if dispatch:
        make_posting(person, org, village.code, dispatch_level=dispatch)
    return org, village, person


# -- the acceptance case of the issue ------------------------------------------------------

def test_a_township_account_exports_masked_numbers(db, login_as, make_user):
    """Provincial-unit staff posted in the township's village: the township reads who is
    posted there, not their identity numbers — in the list, the page and the export."""
    org, village, person = _posted(db, PROVINCE, "provincial")
    township = login_as(make_user("region", region_code=first_township(COUNTY).code))
    number, phone = person.id_number, person.phone
    rows = _csv(township.get("/people/export.csv").data)
    assert [r[0] for r in rows[1:]] == ["省直干部"]
    assert number not in str(rows) and phone not in str(rows)
    assert person.id_number_masked in rows[1] and person.phone_masked in rows[1]
    for url in ("/people/", f"/people/{person.id}", "/postings/export.csv"):
        body = township.get(url).get_data(as_text=True)
        assert number not in body and phone not in body, url
    # and a full number finds nothing: no test of whether a number is registered
    assert "省直干部" not in township.get(f"/people/?q={number}").get_data(as_text=True)


# -- the rule, by role and level -----------------------------------------------------------

# (employer's home region, dispatch level or None for not posted) -> the region levels of
# staff who see full numbers (the others see them masked)
CASES = [
    (PROVINCE, "provincial", {"province"}),
    (PROVINCE, "central", {"province"}),
    (CITY, "city", {"province", "city"}),
    (COUNTY, "county", {"province", "city", "county"}),
    (COUNTY, "provincial", {"province", "city", "county"}),  # the county's own unit: its office
    (PROVINCE, "county", {"province", "city", "county"}),  # posted by the county: it answers
    (OTHER_COUNTY, "city", {"province", "city"}),  # 湘西州 posted a 宁乡 unit's cadre
    (COUNTY, None, {"province", "city", "county"}),  # not posted yet: the registering office
]
LEVELS = {"province": PROVINCE, "city": CITY, "county": COUNTY, "township": None}


@pytest.mark.parametrize("employer, dispatch, full_levels", CASES)
@pytest.mark.parametrize("level", list(LEVELS))
def test_region_staff_by_level(db, make_user, employer, dispatch, full_levels, level):
    from registry.people.models import Person
    from registry.people.privacy import full_identity_filter, may_see_full_identity

    _, _, person = _posted(db, employer, dispatch)
    code = LEVELS[level] or first_township(COUNTY).code
    user = make_user("region", region_code=code)
    expected = level in full_levels
    assert may_see_full_identity(user, person) is expected
    # the SQL form of the same rule (lists and exports count with it)
    in_sql = db.session.scalar(select(Person.id).where(Person.id == person.id, full_identity_filter(user)))
    assert (in_sql is not None) is expected


@pytest.mark.parametrize("role, expected", [
    ("admin", True), ("own_unit", True), ("other_unit", False), ("viewer", False), ("village", False),
])
def test_other_roles(db, make_user, role, expected):
    from registry.people.models import Person
    from registry.people.privacy import full_identity_filter, may_see_full_identity, may_see_full_phone_of

    org, village, person = _posted(db, PROVINCE, "provincial")
    other = make_org("backing_unit", PROVINCE)
    scope = {"admin": {}, "own_unit": {"organization_id": org.id}, "other_unit": {"organization_id": other.id},
             "viewer": {"region_code": PROVINCE}, "village": {"village_code": village.code}}[role]
    user = make_user(role.split("_")[-1], **scope)
    assert may_see_full_identity(user, person) is expected
    in_sql = db.session.scalar(select(Person.id).where(Person.id == person.id, full_identity_filter(user)))
    assert (in_sql is not None) is expected
    # an organization's contact phone: its own unit and the office of its home region
    assert may_see_full_phone_of(user, org) is expected
    assert not may_see_full_identity(None, person)


@pytest.mark.parametrize("level, expected", [("province", True), ("city", True), ("county", False), ("township", False)])
def test_contact_phone_by_level(db, make_user, level, expected):
    """An organization's contact phone: the office of the organization's home region and above."""
    from registry.people.privacy import may_see_full_phone_of

    org = make_org("enterprise", CITY, contact_phone="13912345678", level=None)
    code = {"province": PROVINCE, "city": CITY, "county": COUNTY, "township": first_township(COUNTY).code}[level]
    assert may_see_full_phone_of(make_user("region", region_code=code), org) is expected


# -- exports with full numbers ask for a purpose -------------------------------------------

def _exports(db):
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export").order_by(AuditEvent.id)))


@pytest.mark.parametrize("url", ["/people/export.csv", "/postings/export.csv", "/people/export.xlsx"])
def test_an_export_with_full_numbers_asks_for_a_purpose(db, login_as, make_user, url):
    org, village, person = _posted(db, COUNTY, "county")
    county = login_as(make_user("region", region_code=COUNTY))
    asked = county.get(url + "?q=省直")
    body = asked.get_data(as_text=True)
    assert asked.status_code == 200 and asked.mimetype == "text/html"
    assert 'name="purpose"' in body and 'value="省直"' in body  # the filters travel with the form
    assert person.id_number not in body and _exports(db) == []
    # a blank purpose is refused, naming the field
    blank = county.get(url + "?q=省直&purpose=+")
    assert blank.status_code == 422 and "导出用途：" in blank.get_data(as_text=True) and _exports(db) == []
    # with a purpose: the file, and the purpose on the record with the filters and the count
    done = county.get(url + "?q=省直&" + PURPOSE)
    assert done.status_code == 200 and "attachment" in done.headers["Content-Disposition"]
    if url.endswith(".csv"):
        assert person.id_number in done.get_data(as_text=True)
    (event,) = _exports(db)
    assert "年度考核核对" in event.summary and '"purpose":"年度考核核对"' in event.after
    assert '"rows":1' in event.after and '"q":"省直"' in event.after


def test_a_masked_export_needs_no_purpose(db, login_as, make_user):
    org, village, person = _posted(db, COUNTY, "county")
    county = login_as(make_user("region", region_code=COUNTY))
    response = county.get("/people/export.csv?masked=1")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert person.id_number not in text and person.id_number_masked in text
    (event,) = _exports(db)
    assert '"full_identity_rows":0' in event.after


def test_masked_roles_are_never_asked(db, login_as, make_user):
    org, village, person = _posted(db, PROVINCE, "provincial")
    viewer = login_as(make_user("viewer", region_code=PROVINCE))
    response = viewer.get("/people/export.csv")
    assert "attachment" in response.headers["Content-Disposition"]


def test_the_purpose_travels_with_a_job(app, db, login_as, make_user, monkeypatch):
    from registry.transfer import jobs

    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 0)
    org, village, person = _posted(db, COUNTY, "county")
    county = login_as(make_user("region", region_code=COUNTY))
    assert 'name="purpose"' in county.get("/people/export.csv").get_data(as_text=True)  # asked before queuing
    response = county.get("/people/export.csv?" + PURPOSE)
    assert response.status_code == 302
    jobs.work(once=True)
    rows = _csv(county.get(response.headers["Location"] + "/download").data)
    assert person.id_number in rows[1]
    (event,) = _exports(db)
    assert "年度考核核对" in event.summary


# -- the words say the rule ----------------------------------------------------------------

def test_pages_say_the_rule_the_code_applies(db, login_as, make_user):
    from registry.people.privacy import rule_text

    org, village, person = _posted(db, PROVINCE, "provincial")
    text = rule_text()
    assert "乡镇" in text and "省派" in text and "用途" in text
    county = login_as(make_user("region", region_code=COUNTY))
    assert text in county.get("/people/new").get_data(as_text=True)
    page = county.get(f"/people/{person.id}").get_data(as_text=True)
    assert person.id_number_masked in page and text in page
    assert text in county.get("/people/").get_data(as_text=True)
    from registry.people.privacy import contact_rule_text

    org_page = county.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert text in org_page and contact_rule_text() in org_page


# -- imports -------------------------------------------------------------------------------

def test_an_import_cannot_reach_a_person_it_may_not_edit(db, make_user, runner, tmp_path):
    """A unit uploading another unit's person's full ID number learns no name (the duplicate
    message named the person) and changes nobody: the row is refused, as the form's edit."""
    from registry.people.models import Person

    theirs = make_org("backing_unit", PROVINCE, name="省甲厅")
    person = make_person(theirs, name="甲厅干部")
    mine = make_org("backing_unit", PROVINCE, name="省乙厅")
    unit = make_user("unit", organization_id=mine.id)
    path = tmp_path / "people.csv"
    path.write_text(f"姓名,身份证号,工作单位,职务\n改名,{person.id_number},{mine.name},科员\n", encoding="utf-8")
    for update in ([], ["--update"]):
        result = runner.invoke(args=["import", "people", str(path), "--as", unit.username, *update])
        assert result.exit_code == 1 and "第2行" in result.output and "无权修改" in result.output, result.output
        assert "甲厅干部" not in result.output
    db.session.expire_all()
    assert db.session.get(Person, person.id).organization_id == theirs.id
    assert db.session.get(Person, person.id).name == "甲厅干部"
