"""Scope: a user sees only their part of the tree; outside it is a 404."""
from __future__ import annotations

from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_village


def test_province_page_lists_14_cities(login_as, make_user):
    session = login_as(make_user("region", region_code=PROVINCE))
    body = session.get(f"/regions/{PROVINCE}").get_data(as_text=True)
    assert body.count('href="/regions/43') >= 14
    for city in ("长沙市", "湘西土家族苗族自治州", "张家界市", "怀化市"):
        assert city in body


def test_county_user_sees_only_its_county(login_as, make_user, db):
    village = make_village(COUNTY)
    other = make_village(OTHER_COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/regions/{COUNTY}").status_code == 200
    assert session.get(f"/regions/{village.code}").status_code == 200
    assert session.get(f"/regions/{village.parent_code}").status_code == 200
    for outside in (PROVINCE, CITY, OTHER_COUNTY, other.code, "433102000000"):
        assert session.get(f"/regions/{outside}").status_code == 404, outside


def test_county_page_does_not_link_above_the_county(login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get(f"/regions/{COUNTY}").get_data(as_text=True)
    assert f"/regions/{PROVINCE}" not in body and f"/regions/{CITY}" not in body


def test_village_user_sees_only_its_village(login_as, make_user):
    village = make_village(COUNTY, 1)
    neighbour = make_village(COUNTY, 2)
    session = login_as(make_user("village", village_code=village.code))
    assert session.get(f"/regions/{village.code}").status_code == 200
    assert session.get(f"/regions/{neighbour.code}").status_code == 404
    assert session.get(f"/regions/{COUNTY}").status_code == 404


def test_malformed_code_is_404(login_as, make_user):
    session = login_as(make_user("admin"))
    assert session.get("/regions/43").status_code == 404
    assert session.get("/regions/abcdefghijkl").status_code == 404


def test_village_counts_on_the_region_page(login_as, make_user):
    make_village(COUNTY, 1, is_key=True)
    make_village(COUNTY, 2)
    session = login_as(make_user("region", region_code=CITY))
    body = session.get(f"/regions/{CITY}").get_data(as_text=True)
    assert "村（社区） <b>2</b>" in body and "重点帮扶村 <b>1</b>" in body


def test_unit_and_village_users_cannot_read_the_audit_trail(login_as, make_user):
    village = make_village()
    session = login_as(make_user("village", village_code=village.code))
    assert session.get("/audit/").status_code == 403
