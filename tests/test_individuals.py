"""Individual helpers (个人帮扶, 湘办〔2023〕17号 §六) and veterans (退役军人): registered with
the privacy rules of cadres, paired with villages, filing records the village confirms like
a unit's, commended like any helper; veterans marked and filtered in the people lists."""
from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.assessment.models import Incentive
from registry.audit.models import AuditEvent
from registry.core import crypto
from registry.core.enums import ORG_KINDS
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.individuals import services
from registry.individuals.imports import IndividualImport
from registry.organizations.models import Organization
from registry.pairings.models import Pairing
from registry.people.models import Person, Posting
from registry.records.models import SupportRecord
from registry.transfer.importing import run_import
from tests.factories import (
    COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_individual, make_org, make_pairing, make_person,
    make_village, valid_id_number)
from tests.factories_records import file_record, record_data


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(**over) -> dict:
    data = {"name": "向志军", "id_number": valid_id_number(501, "19800812"), "gender": "", "ethnicity": "土家族",
            "phone": "13907430001", "education": "secondary", "way": "returnee", "region_code": COUNTY,
            "address": "吉首市乾州街道", "expertise": "黄牛养殖", "is_veteran": "y", "note": "退役后返乡创办养牛合作社"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture()
def county(make_user, login_as):
    return login_as(make_user("region", region_code=COUNTY))


def test_county_registers_an_individual_helper_with_the_privacy_of_a_cadre(db, county):
    response = county.post("/individuals/new", _form())
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    org = db.session.scalar(select(Organization))
    person = db.session.scalar(select(Person))
    assert (org.kind, org.kind_label, org.subtype, org.region_code, org.name) == (
        "individual", "个人", "returnee", COUNTY, "向志军")
    assert person.organization_id == org.id and person.is_veteran and person.gender == "male"
    # the ID number and phone are kept as a cadre's are: encrypted, indexed, masked
    number = valid_id_number(501, "19800812")
    assert person.id_number_encrypted.startswith(crypto.PREFIX) and number not in person.id_number_encrypted
    assert person.id_number_index == crypto.blind_index(number) and person.id_number_masked.startswith(number[:4])
    events = {(e.entity_type, e.action) for e in db.session.scalars(select(AuditEvent))}
    assert {("Organization", "create"), ("Person", "create")} <= events
    assert all(number not in (e.after or "") for e in db.session.scalars(select(AuditEvent)))
    page = county.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert "个人信息" in page and number in page and "退役军人" in page and "返乡创业" in page  # the county sees it in full


@pytest.mark.parametrize("over, field, message", [
    (dict(way=""), "way", "参与方式"),
    (dict(id_number="430000198008120000"), "id_number", "身份证号"),
    (dict(region_code=OTHER_COUNTY), "region_code", "所在行政区"),
    (dict(name=""), "name", "姓名"),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_written(db, county, make_user, over, field, message):
    actor = make_user("region", region_code=COUNTY)
    with pytest.raises(RuleViolation) as broken:
        services.create_individual(_form(**over), actor=actor)
    assert field in broken.value.errors and message in broken.value.message
    db.session.rollback()
    response = county.post("/individuals/new", _form(**over))
    assert response.status_code == 422
    assert _count(Organization) == 0 and _count(Person) == 0


def test_an_id_number_already_registered_for_a_cadre_is_refused(db, county):
    cadre = make_person(make_org("backing_unit", COUNTY, level="county"), "李干部")
    response = county.post("/individuals/new", _form(id_number=cadre.id_number))
    assert response.status_code == 422 and "已登记" in response.get_data(as_text=True)
    assert _count(Organization) == 1 and _count(Person) == 1


def test_an_individual_is_never_a_bare_organization_nor_a_second_persons_employer(db, make_user):
    actor = make_user("region", region_code=COUNTY)
    from registry.organizations.services import create_organization
    from registry.people import services as people

    with pytest.raises(RuleViolation) as broken:
        create_organization({"name": "某人", "kind": "individual", "subtype": "donation", "region_code": COUNTY},
                            actor=actor)
    assert "个人帮扶" in broken.value.message
    helper = make_individual(COUNTY, "彭丽华")
    assert people.employer(actor, helper.id) is None  # never offered as an employer
    with pytest.raises(RuleViolation):
        people.create_person({"name": "第二人", "id_number": valid_id_number(502), "organization_id": helper.id},
                             actor=actor)
    person = services.person_of(helper)
    with pytest.raises(RuleViolation) as broken:  # the person is edited with its helper
        people.update_person(person, {"name": "改名"}, version=person.version, actor=actor)
    assert "个人帮扶" in broken.value.message


def test_an_edit_keeps_row_and_person_together_and_a_stale_form_is_refused(db, county):
    helper = make_individual(COUNTY, "龙小梅", way="returnee")
    person = services.person_of(helper)
    page = county.get(f"/individuals/{helper.id}/edit").get_data(as_text=True)
    assert person.id_number in page  # the editor sees the number it edits
    stale = services.version_of(helper, person)
    data = _form(name="龙晓梅", id_number=person.id_number, way="volunteer", is_veteran=None, gender="",
                 version=stale)
    assert county.post(f"/individuals/{helper.id}/edit", data).status_code == 302
    db.session.expire_all()
    assert (helper.name, helper.subtype, services.person_of(helper).name) == ("龙晓梅", "volunteer", "龙晓梅")
    assert not services.person_of(helper).is_veteran
    response = county.post(f"/individuals/{helper.id}/edit", dict(data, name="再改"))  # the old version
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)
    # the organization and person pages send their editors to the helper's form
    assert county.get(f"/organizations/{helper.id}/edit").headers["Location"].endswith(f"/individuals/{helper.id}/edit")
    assert county.get(f"/people/{person.id}/edit").headers["Location"].endswith(f"/individuals/{helper.id}/edit")


def test_the_id_number_is_masked_for_those_who_may_not_see_it(db, make_user, login_as):
    village = make_village(COUNTY, 1)
    helper = make_individual(COUNTY, "田国强", is_veteran=True)
    make_pairing(helper, village.code, "other")
    person = services.person_of(helper)
    township = login_as(make_user("region", region_code=first_township(COUNTY).code))
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    village_user = login_as(make_user("village", village_code=village.code))
    province = login_as(make_user("region", region_code=PROVINCE))
    for session in (township, viewer, village_user):
        page = session.get(f"/organizations/{helper.id}").get_data(as_text=True)
        assert person.id_number_masked in page and person.id_number not in page, session
        assert person.phone not in page
    for session in (township, viewer):
        listing = session.get("/individuals/").get_data(as_text=True)
        assert "田国强" in listing and person.id_number not in listing and "退役军人" in listing
    # the township cannot open the editor (it would show the number)
    assert township.get(f"/individuals/{helper.id}/edit").status_code == 403
    # the province answers for people employed in its jurisdiction: it sees the number
    assert person.id_number in province.get(f"/organizations/{helper.id}").get_data(as_text=True)
    # an export asks a purpose before carrying full numbers, and masks for the township
    sheet = township.get("/individuals/export.csv").get_data(as_text=True)
    assert "田国强" in sheet and person.id_number not in sheet and person.id_number_masked in sheet


def test_out_of_scope_helpers_are_404(db, make_user, login_as):
    helper = make_individual(OTHER_COUNTY, "外县个人")
    county = login_as(make_user("region", region_code=COUNTY))
    assert county.get(f"/organizations/{helper.id}").status_code == 404
    assert county.get(f"/individuals/{helper.id}/edit").status_code == 404
    assert "外县个人" not in county.get("/individuals/").get_data(as_text=True)


# -- pairing, postings, records ---------------------------------------------------------------

def test_an_individual_pairs_with_a_village_only_as_other(db, make_user):
    from registry.pairings.services import create_pairing

    actor = make_user("region", region_code=COUNTY)
    village = make_village(COUNTY, 1)
    helper = make_individual(COUNTY, "彭丽华")
    start = local_today() - timedelta(days=30)
    for kind, region in (("resident", village.code), ("fixed_point", village.code), ("other", COUNTY)):
        with pytest.raises(RuleViolation) as broken:
            create_pairing(helper, {"region_code": region, "kind": kind, "start_date": start}, actor=actor)
        assert "个人帮扶者只能" in broken.value.message
        db.session.rollback()
    pairing = create_pairing(helper, {"region_code": village.code, "kind": "other", "start_date": start}, actor=actor)
    assert pairing.organization_id == helper.id and _count(Pairing) == 1


def test_an_individual_is_never_posted(db, make_user):
    from registry.people.postings import create_posting

    actor = make_user("region", region_code=COUNTY)
    village = make_village(COUNTY, 1)
    helper = make_individual(COUNTY, "向志军")
    with pytest.raises(RuleViolation) as broken:
        create_posting(services.person_of(helper), {"region_code": village.code, "role": "first_secretary",
                                                    "dispatch_level": "county", "start_date": local_today()},
                       actor=actor)
    assert "不能选派" in broken.value.message
    db.session.rollback()
    assert _count(Posting) == 0


def test_an_individual_gets_no_cadre_account_and_no_posting_button(db, county):
    helper = make_individual(COUNTY, "向志军")
    person = services.person_of(helper)
    page = county.get(f"/people/{person.id}").get_data(as_text=True)
    assert "个人帮扶者" in page and "驻村干部账号" not in page and "/postings/targets" not in page
    assert county.get(f"/people/{person.id}/account").status_code == 403


def test_an_individuals_record_is_confirmed_by_the_village_like_a_units(db, make_user, login_as):
    village = make_village(COUNTY, 1)
    helper = make_individual(COUNTY, "彭丽华", way="donation")
    make_pairing(helper, village.code, "other", start=date(2024, 1, 1))
    own = make_user("unit", organization_id=helper.id)  # the helper's own account
    village_user = make_user("village", village_code=village.code)
    record = file_record(own, village.code, status="submitted", category="goods", title="捐赠村小学课桌椅")
    assert record.status == "submitted" and record.organization_id == helper.id
    # the village sees it to confirm, and confirms it as any other
    session = login_as(village_user)
    assert "捐赠村小学课桌椅" in session.get(f"/records/{record.id}").get_data(as_text=True)
    from registry.records import services as records

    records.confirm_record(record, village_user)
    assert db.session.get(SupportRecord, record.id).status == "confirmed"
    # the helper cannot confirm its own record
    from registry.records.rules import refusal

    assert refusal(record, own, "confirm") is not None


def test_an_individual_cannot_file_for_a_village_it_is_not_paired_with(db, make_user):
    from registry.records import services as records
    from registry.records.filing import OUTSIDE_UNIT

    paired, other = make_village(COUNTY, 1), make_village(COUNTY, 2)
    helper = make_individual(COUNTY, "彭丽华", way="donation")
    make_pairing(helper, paired.code, "other", start=date(2024, 1, 1))
    own = make_user("unit", organization_id=helper.id)
    with pytest.raises(RuleViolation) as broken:
        records.create_record(own, record_data(other.code, title="不该有的记录"), submit=True)
    assert OUTSIDE_UNIT in broken.value.message
    db.session.rollback()
    assert _count(SupportRecord) == 0


# -- commendation ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", list(ORG_KINDS))
def test_organizations_of_every_kind_can_be_commended(db, make_user, login_as, kind):
    """§八 表扬激励: departments, social helpers and individuals alike."""
    village = make_village(COUNTY, 1)
    if kind == "individual":
        subject = make_individual(COUNTY, "彭丽华")
    else:
        subject = make_org(kind, COUNTY, name=f"受表扬的{ORG_KINDS[kind]}", level="county",
                           subtype={"mass_org": "youth_league", "party_federation": "commerce_federation",
                                    "paired_unit": "education"}.get(kind))
    make_pairing(subject, village.code, "other")
    county = login_as(make_user("region", region_code=COUNTY))
    response = county.post(f"/incentives/new/organization/{subject.id}", data={
        "kind": "commendation", "issued_on": local_today().isoformat(), "level": "county",
        "reason": "积极参与乡村振兴，帮扶成效明显", "document_number": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    incentive = db.session.scalar(select(Incentive))
    assert (incentive.subject_kind, incentive.organization_id, incentive.kind) == (
        "organization", subject.id, "commendation")


def test_an_individual_helpers_person_can_be_commended_too(db, make_user, login_as):
    helper = make_individual(COUNTY, "田国强", is_veteran=True)
    county = login_as(make_user("region", region_code=COUNTY))
    person = services.person_of(helper)
    response = county.post(f"/incentives/new/person/{person.id}", data={
        "kind": "commendation", "issued_on": local_today().isoformat(), "level": "county",
        "reason": "退役不褪色，义务检修村组线路", "document_number": ""})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert db.session.scalar(select(Incentive.person_id)) == person.id


def test_an_individual_is_commended_not_graded_as_a_unit(db, make_user):
    from registry.assessment.services import GradeData, assess_organization, ungraded_organizations

    county = make_user("region", region_code=COUNTY)
    helper = make_individual(COUNTY, "彭丽华")
    unit = make_org("backing_unit", COUNTY, level="county")
    year = local_today().year
    with pytest.raises(RuleViolation) as broken:
        assess_organization(helper, GradeData(year, "好"), county)
    assert "表扬激励" in broken.value.message
    db.session.rollback()
    assert [o.id for o in db.session.scalars(ungraded_organizations(county, year))] == [unit.id]


# -- veterans in the people lists ------------------------------------------------------------

def test_people_lists_mark_and_filter_veterans_and_leave_individuals_to_their_list(db, county):
    org = make_org("backing_unit", COUNTY, level="county")
    make_person(org, "老兵干部", is_veteran=True)
    make_person(org, "普通干部")
    make_individual(COUNTY, "个人老兵", is_veteran=True)
    everyone = county.get("/people/").get_data(as_text=True)
    assert "老兵干部" in everyone and "普通干部" in everyone and "退役军人" in everyone
    assert "个人老兵" not in everyone  # individual helpers are listed under 个人帮扶
    veterans = county.get("/people/?veteran=1").get_data(as_text=True)
    assert "老兵干部" in veterans and "普通干部" not in veterans
    others = county.get("/people/?veteran=0").get_data(as_text=True)
    assert "普通干部" in others and "老兵干部" not in others
    helpers = county.get("/individuals/?veteran=1").get_data(as_text=True)
    assert "个人老兵" in helpers and "老兵干部" not in helpers


def test_the_coverage_veteran_filter_counts_what_a_recount_gives(db, app):
    """A small world: a veteran first secretary and a plain one; a veteran individual
    helper and a plain one, each with a confirmed record. The veteran view counts the
    veteran's village, the veteran's posting and the veteran helper's support only."""
    from registry.dashboard.coverage import Filters, compute
    from registry.regions.models import Region

    today = local_today()
    v1, v2, v3, v4 = (make_village(COUNTY, n) for n in (1, 2, 3, 4))
    unit = make_org("backing_unit", COUNTY, level="county")
    from tests.factories import make_posting

    make_posting(make_person(unit, "老兵书记", is_veteran=True), unit, v1.code, start=today - timedelta(days=100))
    make_posting(make_person(unit, "书记"), unit, v2.code, start=today - timedelta(days=100))
    amounts = {}
    for village, name, veteran, amount in ((v3, "老兵个人", True, "8000"), (v4, "个人", False, "5000")):
        helper = make_individual(COUNTY, name, is_veteran=veteran)
        make_pairing(helper, village.code, "other", start=date(2024, 1, 1))
        own_user = _unit_user(helper)
        village_user = _village_user(village)
        file_record(own_user, village.code, status="confirmed", village_user=village_user, amount=amount,
                    amount_attracted="", record_date=(today - timedelta(days=1)).isoformat())
        amounts[veteran] = amount
    county = db.session.get(Region, COUNTY)
    whole = compute(county, Filters(today.year)).total
    vets = compute(county, Filters(today.year, veteran=True)).total
    # the independent recount, from the rows
    veteran_ids = set(db.session.scalars(select(Person.id).where(Person.is_veteran.is_(True))))
    veteran_orgs = set(db.session.scalars(select(Person.organization_id).join(Organization).where(
        Person.is_veteran.is_(True), Organization.kind == "individual")))
    postings = db.session.scalars(select(Posting).where(Posting.end_date.is_(None))).all()
    records = db.session.scalars(select(SupportRecord).where(SupportRecord.status == "confirmed")).all()
    assert vets.first_secretary == len({p.region_code for p in postings if p.person_id in veteran_ids
                                        and p.role == "first_secretary"}) == 1
    assert vets.posted_people == sum(p.person_id in veteran_ids for p in postings) == 1
    assert vets.support_12m == len({r.village_code for r in records if r.organization_id in veteran_orgs}) == 1
    assert vets.confirmed_count == 1 and vets.confirmed_amount == sum(
        r.amount for r in records if r.organization_id in veteran_orgs)
    assert (whole.first_secretary, whole.support_12m, whole.confirmed_count) == (2, 2, 2)


def _unit_user(org):
    from registry.accounts.services import create_user

    user, _ = create_user(f"unit_{org.id}", "unit", password="Ab-1234567890!", organization_id=org.id)
    db.session.commit()
    return user


def _village_user(village):
    from registry.accounts.services import create_user

    user, _ = create_user(f"village_{village.code}", "village", password="Ab-1234567890!", village_code=village.code)
    db.session.commit()
    return user


def test_the_coverage_page_and_api_take_the_veteran_filter(db, county):
    page = county.get(f"/coverage/{COUNTY}?veteran=1")
    assert page.status_code == 200 and "只计退役军人" in page.get_data(as_text=True)
    api = county.get(f"/api/v1/coverage/{COUNTY}?veteran=1")
    assert api.status_code == 200 and api.get_json()["filters"]["veteran"] == 1
    assert county.get(f"/api/v1/coverage/{COUNTY}?veteran=yes").status_code == 422


# -- import and export ------------------------------------------------------------------------

HEADER = "姓名,身份证号,联系电话,退役军人,参与方式,所在行政区,备注\n"


def _import(user, text: str, update: bool = False):
    return run_import(IndividualImport(), text.encode("utf-8"), "individuals.csv", user, update=update)


def test_the_import_registers_helpers_all_or_nothing_and_finds_them_again(db, make_user):
    user = make_user("region", region_code=COUNTY)
    a, b = valid_id_number(601, "19790101"), valid_id_number(602, "19880202")
    bad = _import(user, HEADER + f"甲,{a},13900000001,是,返乡创业,{COUNTY},\n乙,{b},,否,不存在的方式,{COUNTY},\n")
    assert not bad.ok and any(e.column == "way" for e in bad.errors)
    assert _count(Organization) == 0 and _count(Person) == 0  # nothing half-written
    report = _import(user, HEADER + f"甲,{a},13900000001,是,返乡创业,{COUNTY},\n乙,{b},,否,捐款捐物,{COUNTY},\n")
    assert report.ok and report.created == 2, report.errors[:3]
    helpers = db.session.scalars(select(Organization).order_by(Organization.id)).all()
    assert [(o.kind, o.subtype, o.name) for o in helpers] == [("individual", "returnee", "甲"), ("individual", "donation", "乙")]
    assert services.person_of(helpers[0]).is_veteran and not services.person_of(helpers[1]).is_veteran
    again = _import(user, HEADER + f"甲,{a},13900000001,否,志愿服务,{COUNTY},改了\n")
    assert not again.ok and "已登记" in again.errors[0].message
    updated = _import(user, HEADER + f"甲,{a},13900000001,否,志愿服务,{COUNTY},改了\n", update=True)
    assert updated.ok and updated.updated == 1
    db.session.expire_all()
    assert (helpers[0].subtype, helpers[0].note, services.person_of(helpers[0]).is_veteran) == ("volunteer", "改了", False)
    # a cadre's number names nobody to the helpers' import
    cadre = make_person(make_org("backing_unit", COUNTY, level="county"), "干部")
    refused = _import(user, HEADER + f"丙,{cadre.id_number},,否,捐款捐物,{COUNTY},\n", update=True)
    assert not refused.ok and "无权修改" in refused.errors[0].message


def test_the_people_import_leaves_an_individuals_person_to_the_helpers_import(db, make_user):
    from registry.people.imports import PersonImport

    user = make_user("region", region_code=COUNTY)
    unit = make_org("backing_unit", COUNTY, level="county", name="县农业农村局")
    person = services.person_of(make_individual(COUNTY, "向志军"))
    text = f"姓名,身份证号,工作单位\n向志军,{person.id_number},{unit.name}\n"
    report = run_import(PersonImport(), text.encode(), "people.csv", user, update=True)
    assert not report.ok and "个人帮扶" in report.errors[0].message
    db.session.expire_all()
    assert services.person_of(db.session.get(Organization, person.organization_id)).id == person.id


def test_the_export_imports_again_unchanged(db, make_user, login_as):
    user = make_user("region", region_code=COUNTY)
    make_individual(COUNTY, "向志军", is_veteran=True, way="returnee")
    session = login_as(user)
    response = session.get("/individuals/export.xlsx?masked=0&purpose=核对名单")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[0]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    header = rows[0]
    assert header[:2] == ["姓名", "身份证号"] and "退役军人" in header and "参与方式" in header
    assert rows[1][header.index("退役军人")] == "是"
    report = run_import(IndividualImport(), response.data, "individuals.xlsx", user, update=True)
    assert report.ok and report.created == 0, report.errors[:3]
    # a helper the township registered, which the county sees but cannot register itself
    # (its 所在行政区 is a township), comes back unchanged with the numbers masked too
    make_individual(first_township(COUNTY).code, "龙秀英")
    for query in ("?purpose=核对名单", "?masked=1"):
        exported = session.get("/individuals/export.xlsx" + query)
        report = run_import(IndividualImport(), exported.data, "individuals.xlsx", user, update=True)
        assert report.ok and (report.rows, report.unchanged) == (2, 2), report.errors[:3]


def test_the_template_and_the_upload_page_are_offered_to_region_staff_only(db, county, make_user, login_as):
    template = county.get("/import/individuals/template.xlsx")
    assert template.status_code == 200
    book = load_workbook(io.BytesIO(template.data))
    header = [c.value for c in book.worksheets[0][1]]
    assert header[:2] == ["姓名", "身份证号"] and "参与方式" in header and "退役军人" in header
    assert county.get("/import/individuals").status_code == 200
    viewer = login_as(make_user("viewer", region_code=COUNTY))
    assert viewer.get("/import/individuals").status_code == 404  # not a kind a viewer imports
