"""The person form's 工作单位 at province scale: one employer rule
(``services.employers_query``) behind the select, the lookup endpoint, the text input
and the save; a plain select for few organizations, a text input with suggestions (and
a server that resolves an exact name or 统一社会信用代码) for many."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.organizations.models import Organization
from registry.people import services
from registry.people.forms import EMPLOYER_SELECT_MAX, employer_choices
from registry.people.models import Person
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_village, valid_id_number

URL = "/people/employers"


def _lookup(session, q: str) -> dict:
    response = session.get(URL, query_string={"q": q}, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    return response.get_json()


def _names(data: dict) -> list[str]:
    return [row["name"] for row in data["results"]]


# -- the rule, in one place -----------------------------------------------------------------

def test_choices_lookup_and_save_share_one_rule(db, make_user):
    """Whatever the role, the select's choices are exactly the organizations the save
    accepts and the lookup can return."""
    orgs = [make_org("backing_unit", code, name=f"同名局{n}") for n, code in enumerate((PROVINCE, CITY, COUNTY, OTHER_COUNTY))]
    users = [
        make_user("admin"), make_user("region", region_code=PROVINCE), make_user("region", region_code=CITY),
        make_user("region", region_code=COUNTY), make_user("unit", organization_id=orgs[2].id),
        make_user("viewer", region_code=PROVINCE),
    ]
    for user in users:
        chosen = {int(i) for i, _ in employer_choices(user)}
        allowed = {o.id for o in orgs if services.employer_allowed(user, o)}
        found = {o.id for o in services.employer_lookup(user, "同名局")[0]}
        assert chosen == allowed == found, user.username
    assert {int(i) for i, _ in employer_choices(users[3])} == {orgs[2].id}  # the county: its own only
    assert employer_choices(users[5]) == []  # a viewer registers nobody


# -- the lookup -----------------------------------------------------------------------------

def test_county_user_never_sees_another_countys_organizations(db, login_as, make_user):
    mine = make_org("enterprise", COUNTY, name="吉首峒河茶业有限公司")
    make_org("enterprise", OTHER_COUNTY, name="宁乡峒河茶业有限公司")
    above = make_org("backing_unit", PROVINCE, name="省峒河茶业办公室")
    session = login_as(make_user("region", region_code=COUNTY))
    data = _lookup(session, "峒河茶业")
    assert data == {
        "results": [{"id": mine.id, "name": "吉首峒河茶业有限公司", "credit_code": mine.credit_code, "kind": "enterprise",
                     "kind_label": "企业", "region": "吉首市"}],
        "more": False,
    }
    # not even by its exact 统一社会信用代码
    assert _lookup(session, above.credit_code)["results"] == []
    # the province sees all three
    province = login_as(make_user("region", region_code=PROVINCE))
    assert len(_lookup(province, "峒河茶业")["results"]) == 3


def test_unit_finds_only_itself(db, login_as, make_user):
    mine = make_org("backing_unit", COUNTY, name="吉首市农业农村局")
    make_org("backing_unit", COUNTY, name="吉首市财政局")
    session = login_as(make_user("unit", organization_id=mine.id))
    assert _names(_lookup(session, "吉首市")) == ["吉首市农业农村局"]


def test_at_most_twenty_and_says_there_are_more(db, login_as, make_user):
    for n in range(25):
        make_org("backing_unit", COUNTY, name=f"吉首市第{n:02d}农技站")
    session = login_as(make_user("region", region_code=COUNTY))
    data = _lookup(session, "农技站")
    assert len(data["results"]) == services.EMPLOYER_LOOKUP_LIMIT == 20 and data["more"] is True
    assert _lookup(session, "第2")["more"] is False


def test_matches_name_substring_and_credit_code_prefix(db, login_as, make_user):
    tea = make_org("enterprise", COUNTY, name="吉首茶业有限公司")
    exact = make_org("enterprise", COUNTY, name="茶业")
    starts = make_org("enterprise", COUNTY, name="茶业合作社联合社")
    other = make_org("backing_unit", COUNTY, name="吉首市财政局")
    session = login_as(make_user("region", region_code=COUNTY))
    # exact name first, then names that start with it, then the rest
    assert [r["id"] for r in _lookup(session, "茶业")["results"]] == [exact.id, starts.id, tea.id]
    # a code prefix, lower case and with full-width digits as typed on a Chinese keyboard
    prefix = other.credit_code[:17]  # the factory's codes differ only in their last digits
    wide = prefix.lower().translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert _names(_lookup(session, wide)) == ["吉首市财政局"]
    assert _names(_lookup(session, other.credit_code)) == ["吉首市财政局"]
    # LIKE wildcards are text, not patterns; an empty query asks for nothing
    assert _lookup(session, "%")["results"] == [] and _lookup(session, "_")["results"] == []
    assert _lookup(session, "  ") == {"results": [], "more": False}


def test_lookup_access(client, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    # anonymous: the login page, like every page outside /api/
    response = client.get(URL + "?q=测试")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # roles that register nobody: 403, as JSON to a script that asks for JSON
    for user in (make_user("viewer", region_code=PROVINCE), make_user("village", village_code=make_village(COUNTY).code)):
        response = login_as(user).get(URL + "?q=测试", headers={"Accept": "application/json"})
        assert response.status_code == 403 and response.get_json()["error"] == "没有权限"
    assert _names(_lookup(login_as(make_user("admin")), org.name)) == [org.name]


# -- the form -------------------------------------------------------------------------------

@pytest.fixture()
def many(db):
    """More organizations in the county than the select shows: the form turns to the
    text input for the county's staff."""
    for n in range(EMPLOYER_SELECT_MAX):
        db.session.add(Organization(name=f"吉首市第{n:02d}村级服务站", kind="other", level="county", region_code=COUNTY))
    db.session.commit()
    return {
        "tea": make_org("enterprise", COUNTY, name="吉首峒河茶业有限公司"),
        "twin_a": make_org("backing_unit", COUNTY, name="吉首市乡村振兴局"),
        "twin_b": make_org("paired_unit", COUNTY, name="吉首市乡村振兴局", subtype="education"),
        "elsewhere": make_org("enterprise", OTHER_COUNTY, name="宁乡花猪有限公司"),
    }


def _person(**kw) -> dict:
    data = {"name": "向红梅", "id_number": valid_id_number(7, born="19900715"), "ethnicity": "土家族", "gender": "",
            "birth_date": "", "education": "", "phone": ""}
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _refused(db, session, data, message, url="/people/new") -> str:
    people, events = _count(db, Person), _count(db, AuditEvent)
    response = session.post(url, data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:500]
    assert f"工作单位：{message}" in body, body[body.find('class="error"'):][:500]
    assert _count(db, Person) == people and _count(db, AuditEvent) == events
    return body


def _saved(db, session, data) -> Person:
    response = session.post("/people/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return db.session.scalar(select(Person).order_by(Person.id.desc()))


def test_few_organizations_keep_the_select(db, login_as, make_user):
    make_org("backing_unit", COUNTY)
    body = login_as(make_user("region", region_code=COUNTY)).get("/people/new").get_data(as_text=True)
    assert '<select id="organization_id" name="organization_id">' in body
    assert "organization_id_text" not in body and "combobox.js" not in body


def test_many_organizations_get_a_text_input_with_suggestions(db, login_as, make_user, many):
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get("/people/new").get_data(as_text=True)
    assert "<select id=\"organization_id\"" not in body and "吉首市第00村级服务站" not in body
    assert re.search(r'<div class="combobox" data-combobox="/people/employers"><input [^>]*id="organization_id"[^>]*'
                     r'name="organization_id_text"', body)
    assert '<input data-combobox-value name="organization_id" type="hidden" value="">' in body
    assert 'role="combobox"' in body and 'aria-controls="organization_id-options"' in body
    assert re.search(r'<script src="/static/js/combobox\.js(\?v=[0-9a-f]+)?"></script>', body) and "css/combobox.css" in body
    # from an organization's page the employer is preset, by name
    body = session.get(f"/people/new?org={many['tea'].id}").get_data(as_text=True)
    assert 'value="吉首峒河茶业有限公司"' in body and f'value="{many["tea"].id}"' in body
    # an organization outside the jurisdiction is not preset
    body = session.get(f"/people/new?org={many['elsewhere'].id}").get_data(as_text=True)
    assert "宁乡花猪" not in body


def test_picked_suggestion_is_saved(db, login_as, make_user, many):
    session = login_as(make_user("region", region_code=COUNTY))
    twin = many["twin_b"]
    # the picked id decides between two organizations of the same name
    person = _saved(db, session, _person(organization_id=str(twin.id), organization_id_text=twin.name))
    assert person.organization_id == twin.id


def test_text_without_javascript_is_resolved(db, login_as, make_user, many):
    session = login_as(make_user("region", region_code=COUNTY))
    tea = many["tea"]
    # an exact 统一社会信用代码, as typed (lower case, spaces around)
    person = _saved(db, session, _person(organization_id_text=f" {tea.credit_code.lower()} "))
    assert person.organization_id == tea.id
    # an exact name; an id left over from an earlier choice gives way to the text
    person = _saved(db, session, _person(id_number=valid_id_number(8), organization_id=str(many["twin_a"].id),
                                         organization_id_text="吉首峒河茶业有限公司"))
    assert person.organization_id == tea.id


def test_employer_refusals(db, login_as, make_user, many):
    session = login_as(make_user("region", region_code=COUNTY))
    elsewhere = many["elsewhere"]
    # missing
    _refused(db, session, _person(organization_id="", organization_id_text=""), "请选择工作单位")
    # unknown
    body = _refused(db, session, _person(organization_id_text="不存在的单位"), "在您的管辖范围内没有名称或统一社会信用代码为“不存在的单位”的单位")
    assert 'value="不存在的单位"' in body and 'value="向红梅"' in body  # the input stays on the form
    # out of scope: by name, by code, by a tampered id: as if it did not exist
    body = _refused(db, session, _person(organization_id_text=elsewhere.name), "在您的管辖范围内没有")
    assert body.count("宁乡花猪有限公司") == 2  # the error and the input: never among the nearest ones
    _refused(db, session, _person(organization_id_text=elsewhere.credit_code), "在您的管辖范围内没有")
    _refused(db, session, _person(organization_id=str(elsewhere.id), organization_id_text=elsewhere.name), "在您的管辖范围内没有")
    _refused(db, session, _person(organization_id=str(elsewhere.id)), "请选择您管辖范围内的工作单位")
    _refused(db, session, _person(organization_id="abc"), "请选择您管辖范围内的工作单位")
    # ambiguous: two organizations of that name
    body = _refused(db, session, _person(organization_id_text="吉首市乡村振兴局"),
                    "有多个单位名为“吉首市乡村振兴局”，请从候选列表中选择，或填写其统一社会信用代码")
    assert f"（{many['twin_a'].credit_code}、{many['twin_b'].credit_code}）" in body
    # a partial name is not a choice; the nearest ones are named (a form without JavaScript has no list)
    _refused(db, session, _person(organization_id_text="峒河茶业"),
             "在您的管辖范围内没有名称或统一社会信用代码为“峒河茶业”的单位，请从候选列表中选择。相近的单位：吉首峒河茶业有限公司")


def test_other_errors_keep_the_chosen_employer(db, login_as, make_user, many):
    session = login_as(make_user("region", region_code=COUNTY))
    tea = many["tea"]
    response = session.post("/people/new", _person(id_number="4331011990071500", organization_id_text=tea.credit_code))
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "身份证号：" in body and "工作单位：" not in body
    assert f'name="organization_id" type="hidden" value="{tea.id}"' in body


def test_edit_shows_the_current_employer_and_can_change_it(db, login_as, make_user, many):
    person = make_person(many["twin_a"], name="原名")
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get(f"/people/{person.id}/edit").get_data(as_text=True)
    assert re.search(r'name="organization_id_text"[^>]*value="吉首市乡村振兴局"', body)
    assert f'name="organization_id" type="hidden" value="{many["twin_a"].id}"' in body
    data = _person(name="原名", id_number=person.id_number, version=str(person.version),
                   organization_id=str(many["twin_a"].id), organization_id_text=many["tea"].name)
    response = session.post(f"/people/{person.id}/edit", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    db.session.expire_all()
    assert db.session.get(Person, person.id).organization_id == many["tea"].id


def test_province_form_offers_no_giant_select(db, login_as, make_user, many):
    """The province user's form holds no option per organization, whatever their number."""
    body = login_as(make_user("region", region_code=PROVINCE)).get("/people/new").get_data(as_text=True)
    assert body.count("<option") < 100 and "村级服务站" not in body
