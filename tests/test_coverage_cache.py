"""The coverage API's validators and cache (``dashboard.coverage_cache``): an ETag that
changes with every committed change to a figure of the region (or of a region under it),
304 on If-None-Match, never a stale answer, never another user's answer."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry.core.timeutil import local_today, utcnow
from registry.dashboard import coverage_cache, views
from registry.dashboard.models import ANY, AreaChange
from registry.regions.models import Region
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_support


def api(code: str) -> str:
    return f"/api/v1/coverage/{code}"


@pytest.fixture()
def world(db, make_user, login_as):
    village = make_village(COUNTY, 1, is_key=True)
    other = make_village(OTHER_COUNTY, 1)
    org = make_org()
    make_posting(make_person(org), org, village.code)
    province = login_as(make_user("region", region_code=PROVINCE))
    county = login_as(make_user("region", region_code=COUNTY))
    return dict(village=village, other=other, org=org, province=province, county=county)


def _get(session, code: str, etag: str | None = None):
    headers = {"If-None-Match": etag} if etag else {}
    return session.get(api(code), headers=headers)


def test_etag_and_304(world):
    first = _get(world["province"], PROVINCE)
    assert first.status_code == 200 and first.headers["ETag"]
    again = _get(world["province"], PROVINCE, first.headers["ETag"])
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == first.headers["ETag"]
    assert _get(world["province"], PROVINCE, '"something else"').status_code == 200
    assert _get(world["province"], PROVINCE).get_json() == first.get_json()
    # the cached answer is what a fresh computation gives
    coverage_cache.store().clear()
    assert _get(world["province"], PROVINCE).data == first.data


def test_a_write_changes_the_etag_of_the_region_and_its_ancestors_and_is_served(db, world):
    province, county = world["province"], world["county"]
    before = {code: _get(s, code) for s, code in ((province, PROVINCE), (province, CITY), (county, COUNTY))}
    other_before = _get(province, OTHER_COUNTY).headers["ETag"]
    org = world["org"]
    make_posting(make_person(org), org, make_village(COUNTY, 2).code)  # a second village with a first secretary
    for (session, code), old in zip(((province, PROVINCE), (province, CITY), (county, COUNTY)), before.values()):
        response = _get(session, code, old.headers["ETag"])
        assert response.status_code == 200, code  # not 304: the figures changed
        assert response.headers["ETag"] != old.headers["ETag"]
        assert response.get_json()["total"]["first_secretary"] == old.get_json()["total"]["first_secretary"] + 1
    # a county elsewhere kept its marker (and its ETag)
    assert _get(province, OTHER_COUNTY, other_before).status_code == 304


def test_write_then_read_never_serves_a_stale_figure(db, world):
    from registry.people.models import Posting

    province = world["province"]
    assert _get(province, PROVINCE).get_json()["total"]["first_secretary"] == 1
    posting = db.session.scalar(select(Posting))
    db.session.delete(posting)
    db.session.commit()
    assert _get(province, PROVINCE).get_json()["total"]["first_secretary"] == 0
    # a record confirmed in the county: the confirmed count moves at once
    make_support(world["org"], world["village"].code, local_today())
    assert _get(province, PROVINCE).get_json()["total"]["confirmed_count"] == 1
    assert _get(world["county"], COUNTY).get_json()["total"]["confirmed_count"] == 1


def test_a_cached_answer_is_served_without_computing_until_a_change(db, world, monkeypatch):
    province = world["province"]
    first = _get(province, PROVINCE)

    def boom(*_a, **_k):
        raise AssertionError("computed although nothing changed")

    monkeypatch.setattr(views, "compute", boom)
    assert _get(province, PROVINCE).data == first.data
    assert _get(province, PROVINCE, first.headers["ETag"]).status_code == 304
    monkeypatch.undo()
    region = db.session.get(Region, CITY)  # a child's name is a line of the province's answer
    name = region.name
    region.name = "湘西土家族苗族自治州（改）"
    db.session.commit()
    try:
        response = _get(province, PROVINCE, first.headers["ETag"])
        assert response.status_code == 200
        assert any(c["name"] == "湘西土家族苗族自治州（改）" for c in response.get_json()["children"])
    finally:  # the divisions outlive the test (conftest._clean keeps them): the next tests need the real name
        region = db.session.get(Region, CITY)
        region.name = name
        db.session.commit()


def test_every_query_string_its_own_answer(world):
    province = world["province"]
    default = _get(province, PROVINCE).get_json()
    key = world["province"].get(api(PROVINCE) + "?flag=key").get_json()
    assert key["filters"] != default["filters"]
    assert world["province"].get(api(PROVINCE) + "?flag=nonsense").status_code in (400, 422)
    assert world["province"].get(api(PROVINCE) + "?flag=key").get_json() == key


def test_scope_still_holds_and_no_answer_crosses_users(db, world, make_user, login_as):
    province, county = world["province"], world["county"]
    assert _get(province, PROVINCE).status_code == 200
    assert _get(province, COUNTY).status_code == 200
    # the county user cannot read the province's or another county's answer, cached or not
    assert _get(county, PROVINCE).status_code == 404
    assert _get(county, OTHER_COUNTY).status_code == 404
    outsider = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert _get(outsider, COUNTY).status_code == 404
    assert _get(outsider, COUNTY, _get(province, COUNTY).headers["ETag"]).status_code == 404
    # each user's answers are keyed to them: the county's own is computed for the county user
    keys = {key[0][0] for key in coverage_cache.store()._entries}
    assert keys == {province.user.id}
    assert _get(county, COUNTY).status_code == 200
    assert {key[0][0] for key in coverage_cache.store()._entries} == {province.user.id, county.user.id}
    # a user in the region but without the right to read it: no answer, cached or not
    unit = login_as(make_user("unit", organization_id=world["org"].id))
    assert _get(unit, COUNTY).status_code in (403, 404)


def test_markers_rise_with_every_kind_of_change(db, world):
    def version(area: str) -> int:
        return db.session.scalar(select(AreaChange.version).where(AreaChange.area == area)) or 0

    area = world["village"].code[:9] + "000"
    before = version(area)
    make_support(world["org"], world["village"].code, local_today(), status="submitted", submitted_at=utcnow())
    assert version(area) > before
    everywhere = version(ANY)
    world["org"].kind = "enterprise"  # its records and pairings move in every area
    db.session.commit()
    assert version(ANY) > everywhere
    everywhere = version(ANY)
    person = make_person(world["org"])  # the veteran view reads the people themselves
    assert version(ANY) == everywhere
    person.is_veteran = True
    db.session.commit()
    assert version(ANY) > everywhere


def test_the_answer_expires_when_a_record_becomes_overdue(app, db, world, monkeypatch):
    days = app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
    make_support(world["org"], world["village"].code, local_today() - timedelta(days=days),
                 status="submitted", submitted_at=utcnow() - timedelta(days=days) + timedelta(hours=1))
    province = world["province"]
    first = _get(province, PROVINCE)
    assert first.get_json()["total"]["overdue"] == 0
    later = utcnow() + timedelta(hours=2)
    monkeypatch.setattr(coverage_cache, "_now", lambda: later)
    import registry.dashboard.coverage as coverage_module
    from registry.records import queries as record_queries

    monkeypatch.setattr(record_queries, "utcnow", lambda: later)
    monkeypatch.setattr(coverage_module, "overdue_cutoff",
                        lambda d: later - timedelta(days=int(d)))
    response = _get(province, PROVINCE, first.headers["ETag"])
    assert response.status_code == 200 and response.get_json()["total"]["overdue"] == 1


def test_cache_off(app, world, monkeypatch):
    monkeypatch.setitem(app.config, "COVERAGE_CACHE_SIZE", 0)
    app.extensions.pop("coverage_cache", None)
    response = _get(world["province"], PROVINCE)
    assert response.status_code == 200 and "ETag" not in response.headers
    app.extensions.pop("coverage_cache", None)
