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


@pytest.mark.parametrize("value", [HUGE, MUCH_TOO_HUGE, str(ID_MAX + 1), "0" * 5000 + "1", "٣"])
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
    assert session.get(f"/people/{HUGE}").status_code == 404
    assert session.get(f"/people/{HUGE}/edit").status_code == 404


# -- numbers in query strings ------------------------------------------------------------------

@pytest.mark.parametrize("url, argument", [
    ("/people/?org=99999999999999999999", "org"),
    ("/people/?org=abc", "org"),
    ("/people/new?org=99999999999999999999", "org"),
    ("/people/?page=99999999999999999999", "page"),
    ("/people/?page=0", "page"),
    ("/postings/?org=99999999999999999999", "org"),
    ("/pairings/?org=99999999999999999999", "org"),
    ("/organizations/?page=-1", "page"),
    (f"/gaps/{COUNTY}?page=99999999999999999999", "page"),
    ("/training/?year=99999999999999999999", "year"),
    ("/results/?year=99999999999999999999", "year"),
    ("/assessment/?year=99999999999999999999", "year"),
    ("/closing/close?year=99999999999999999999", "year"),
    ("/duty/?month=99999999999999999999-01", "month"),
    ("/audit/?page=99999999999999999999", "page"),
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
