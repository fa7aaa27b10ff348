"""A village's postings and pairings, whole: the village page links to the postings and
pairings lists narrowed to the village (``?village=``), which show and export all of them
(the page shows the last 20 past cadres), with the village written among the export's
filters; a village outside the user's scope, or a code that is not a village's, is a 404."""
from __future__ import annotations

from datetime import date
from urllib.parse import quote

import pytest

from tests.factories import (
    COUNTY, OTHER_COUNTY, first_township, make_org, make_pairing, make_person, make_posting, make_village,
)
from tests.sheets import sheet_rows


@pytest.fixture()
def world(db, make_user, login_as):
    org = make_org("backing_unit", COUNTY, name="吉首市农业农村局", level="county")
    here, there = make_village(COUNTY, 1), make_village(COUNTY, 2)
    make_posting(make_person(org, name="在岗书记"), org, here.code, start=date(2025, 3, 1))
    make_posting(make_person(org, name="历任书记"), org, here.code, start=date(2021, 3, 1), end_date=date(2023, 3, 1),
                 end_reason="term_completed")
    make_posting(make_person(org, name="邻村书记"), org, there.code, start=date(2025, 3, 1))
    make_pairing(org, here.code, kind="resident")
    make_pairing(make_org("enterprise", COUNTY, name="邻村企业"), there.code, kind="enterprise_village")
    db.session.commit()
    return {"here": here, "there": there, "session": login_as(make_user("region", region_code=COUNTY))}


def test_the_village_page_links_to_its_whole_lists(world):
    body = world["session"].get(f"/regions/{world['here'].code}").get_data(as_text=True)
    for path in ("/postings/", "/postings/export.xlsx", "/postings/export.csv", "/pairings/", "/pairings/export.xlsx"):
        assert f"{path}?village={world['here'].code}" in body, path


def test_the_lists_narrowed_to_a_village_show_and_export_only_its_rows(world):
    session, code = world["session"], world["here"].code
    postings = session.get(f"/postings/?village={code}").get_data(as_text=True)
    assert "在岗书记" in postings and "历任书记" in postings and "邻村书记" not in postings
    assert world["here"].name in postings  # the heading says which village
    pairings = session.get(f"/pairings/?village={code}").get_data(as_text=True)
    assert "吉首市农业农村局" in pairings and "邻村企业" not in pairings

    for fmt in ("xlsx", "csv"):
        response = session.get(f"/postings/export.{fmt}?village={code}&masked=1")
        assert response.status_code == 200
        assert quote(f"{world['here'].name}选派-") in response.headers["Content-Disposition"]
        names = {cell for row in sheet_rows(response.data, fmt) for cell in row}
        assert {"在岗书记", "历任书记"} <= names and "邻村书记" not in names
        response = session.get(f"/pairings/export.{fmt}?village={code}")
        assert response.status_code == 200
        # the file's name says whose it is
        assert quote(f"{world['here'].name}结对关系-") in response.headers["Content-Disposition"]
        organizations = " ".join(row[0] for row in sheet_rows(response.data, fmt)[1:])
        assert "吉首市农业农村局" in organizations and "邻村企业" not in organizations


def test_the_export_writes_the_village_among_its_filters(world):
    from openpyxl import load_workbook
    import io

    code = world["here"].code
    for url in (f"/postings/export.xlsx?village={code}&masked=1", f"/pairings/export.xlsx?village={code}"):
        book = load_workbook(io.BytesIO(world["session"].get(url).data), read_only=True)
        about = {row[0]: row[1] for row in book.worksheets[1].iter_rows(values_only=True)}
        assert f"村：{world['here'].name}（{code}）" in about["筛选条件"], (url, about)


def test_a_village_out_of_scope_or_not_a_village_is_a_404(world, make_user, login_as):
    elsewhere = make_village(OTHER_COUNTY, 1)
    township = first_township(COUNTY)
    for arg in (elsewhere.code, township.code, "12345", "43310100000x"):
        for path in ("/postings/", "/postings/export.csv", "/pairings/", "/pairings/export.csv"):
            assert world["session"].get(f"{path}?village={arg}").status_code == 404, (path, arg)
    # a township's staff see one village of the county, not the other's lists
    other_township = make_user("region", region_code=first_township(OTHER_COUNTY).code)
    assert login_as(other_township).get(f"/postings/?village={world['here'].code}").status_code == 404


def test_an_organizations_page_leads_to_its_whole_lists_and_counts_them_all(world, db, app, monkeypatch):
    from registry.organizations import views as organization_views
    from registry.organizations.models import Organization
    from sqlalchemy import select

    org = db.session.scalar(select(Organization).where(Organization.name == "吉首市农业农村局"))
    session = world["session"]
    body = session.get(f"/organizations/{org.id}").get_data(as_text=True)
    for path in ("/people/", "/people/export.xlsx", "/postings/", "/postings/export.xlsx", "/pairings/", "/pairings/export.csv"):
        assert f"{path}?org={org.id}" in body, path
    # the page lists the first rows of each section; its counts are of every row
    monkeypatch.setattr(organization_views, "LIMIT", 2)
    body = session.get(f"/organizations/{org.id}").get_data(as_text=True)
    assert '帮扶干部 <span class="badge">3</span>' in body and "以上为前 2 人" in body
    assert '选派 <span class="badge">2</span>' in body  # two of its three postings are active

    # the whole lists say what they are narrowed to, and their filter forms keep it
    postings = session.get(f"/postings/?org={org.id}").get_data(as_text=True)
    assert f'href="/organizations/{org.id}">吉首市农业农村局</a>' in postings
    assert f'<input type="hidden" name="org" value="{org.id}">' in postings
    people = session.get(f"/people/?org={org.id}").get_data(as_text=True)
    assert f'href="/organizations/{org.id}">吉首市农业农村局</a>' in people
    assert '<a href="/people/">查看全部</a>' in people
    pairings = session.get(f"/pairings/?org={org.id}&village={world['here'].code}").get_data(as_text=True)
    assert "吉首市农业农村局" in pairings and world["here"].name in pairings
    assert f'<input type="hidden" name="village" value="{world["here"].code}">' in pairings


def test_a_filter_with_nothing_to_choose_is_not_offered(world, db, make_user, login_as):
    from registry.organizations.models import Organization
    from sqlalchemy import select

    org = db.session.scalar(select(Organization).where(Organization.name == "吉首市农业农村局"))
    unit = login_as(make_user("unit", organization_id=org.id))
    for path in ("/postings/", "/pairings/"):
        # the county's staff choose among its townships; a unit would have only 全部
        assert 'name="region"' in world["session"].get(path).get_data(as_text=True), path
        unit_page = unit.get(path).get_data(as_text=True)
        assert 'name="region"' not in unit_page and 'name="status"' in unit_page, path
