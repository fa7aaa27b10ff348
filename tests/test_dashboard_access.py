"""Coverage pages, downloads and the API under scope; the API token; OpenAPI; the map."""
from __future__ import annotations

from datetime import date

import csv
import io
import json
from pathlib import Path

from openpyxl import load_workbook

from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_posting, make_village

ROOT = Path(__file__).resolve().parents[1]


def _setup(db):
    village = make_village(COUNTY, 1, is_key=True)
    other = make_village(OTHER_COUNTY, 1)
    org = make_org()
    make_posting(make_person(org), org, village.code)
    make_posting(make_person(org), org, other.code)
    return village, other


def test_county_user_is_kept_to_its_county(db, make_user, login_as):
    _setup(db)
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.get(f"/coverage/{COUNTY}").status_code == 200
    for code in (PROVINCE, CITY, OTHER_COUNTY):
        assert session.get(f"/coverage/{code}").status_code == 404
        assert session.get(f"/coverage/{code}/data/coverage.csv").status_code == 404
        assert session.get(f"/coverage/{code}/data/coverage.xlsx").status_code == 404
        assert session.get(f"/api/v1/coverage/{code}").status_code == 404
        assert session.get(f"/api/v1/gaps/{code}").status_code == 404
        assert session.get(f"/gaps/{code}").status_code == 404


def test_county_totals_equal_the_countys_own(db, make_user, login_as):
    _setup(db)
    county = login_as(make_user("region", region_code=COUNTY)).get(f"/api/v1/coverage/{COUNTY}").get_json()
    province = login_as(make_user("region", region_code=PROVINCE)).get(f"/api/v1/coverage/{PROVINCE}").get_json()
    assert county["total"]["villages"] == 1 and county["total"]["first_secretary"] == 1
    assert province["total"]["villages"] == 2 and province["total"]["first_secretary"] == 2
    city_row = next(c for c in province["children"] if c["code"] == CITY)
    assert city_row["villages"] == county["total"]["villages"]


def test_downloads_are_scoped_and_safe(db, make_user, login_as):
    _setup(db)
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.get(f"/coverage/{COUNTY}/data/coverage.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][1] == "名称"
    assert rows[-1][2] == "1"  # the county's own total: one village
    response = session.get(f"/coverage/{COUNTY}/data/funnel.xlsx")
    wb = load_workbook(io.BytesIO(response.data))
    assert wb.active["A1"].value == "环节"
    # as every other export: a Chinese name, the page's filters on the second sheet, the
    # amounts as numbers under a header in 元
    response = session.get(f"/coverage/{COUNTY}/data/amounts.xlsx?year={date.today().year}&category=funds")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    about = {row[0]: row[1] for row in book.worksheets[1].iter_rows(values_only=True)}
    assert f"年度：{date.today().year}年" in about["筛选条件"] and "帮扶类别：资金" in about["筛选条件"]
    header = [c.value for c in book.worksheets[0][1]]
    assert all("元" in h for h in header[1:]), header
    assert session.get(f"/coverage/{COUNTY}/data/nothing.csv").status_code == 404


def test_bad_filter_is_a_clear_4xx(db, make_user, login_as):
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.get(f"/api/v1/coverage/{COUNTY}?category=bogus")
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"category": ["帮扶类别无效"]}
    assert session.get(f"/coverage/{COUNTY}?year=abc").status_code == 400


def test_units_and_villages_cannot_open_coverage(db, make_user, login_as):
    village, _ = _setup(db)
    org = make_org()
    for user in (make_user("unit", organization_id=org.id), make_user("village", village_code=village.code)):
        session = login_as(user)
        assert session.get(f"/coverage/{COUNTY}").status_code == 403
        assert session.get(f"/api/v1/coverage/{COUNTY}").status_code == 403


def test_api_token(db, make_user, login_as, client):
    _setup(db)
    session = login_as(make_user("region", region_code=COUNTY))
    page = session.post("/account/token").get_data(as_text=True)
    token = page.split('class="token">')[1].split("<")[0]
    response = client.get(f"/api/v1/coverage/{COUNTY}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["total"]["villages"] == 1
    assert client.get(f"/api/v1/coverage/{PROVINCE}", headers={"Authorization": f"Bearer {token}"}).status_code == 404
    assert client.get(f"/api/v1/coverage/{COUNTY}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get(f"/api/v1/coverage/{COUNTY}").status_code == 401


def test_openapi_document(db, make_user, login_as):
    session = login_as(make_user("viewer", region_code=PROVINCE))
    doc = session.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/coverage/{code}" in doc["paths"] and "/api/v1/gaps/{code}" in doc["paths"]


def test_page_has_no_inline_script_and_local_plotly(db, make_user, login_as):
    _setup(db)
    body = login_as(make_user("region", region_code=PROVINCE)).get(f"/coverage/{PROVINCE}").get_data(as_text=True)
    import re

    # every script and style comes from the site itself (the page's random tokens are not
    # looked at: a CSRF token or nonce may spell "cdn" by chance)
    assert "/assets/plotly.min.js" in body
    sources = re.findall(r'(?:src|href)="([^"]*)"', body)
    assert sources and not [s for s in sources if "cdn" in s.lower() or s.startswith(("http:", "https:", "//"))]

    for tag in re.findall(r"<script[^>]*>", body):
        assert 'src="' in tag or 'type="application/json"' in tag, tag


def test_map_only_with_a_configured_geojson(app, db, make_user, login_as, tmp_path):
    _setup(db)
    session = login_as(make_user("region", region_code=PROVINCE))
    assert 'id="chart-map"' not in session.get(f"/coverage/{PROVINCE}").get_data(as_text=True)
    features = [
        {"type": "Feature", "properties": {"code": code},
         "geometry": {"type": "Polygon", "coordinates": [[[110 + i, 27], [111 + i, 27], [111 + i, 28], [110 + i, 27]]]}}
        for i, code in enumerate(("430100000000", "433100000000"))
    ]
    path = tmp_path / "hunan.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    app.config["GEOJSON_PATH"] = str(path)
    try:
        body = session.get(f"/coverage/{PROVINCE}?metric=first_secretary").get_data(as_text=True)
    finally:
        app.config["GEOJSON_PATH"] = None
    assert 'id="chart-map"' in body
    figure = json.loads(body.split('id="figure-map">')[1].split("</script>")[0])
    assert figure["data"][0]["type"] == "choropleth"
    assert "433100000000" in figure["data"][0]["locations"]
    # no base map, and the base topology Plotly loads anyway is the site's own (empty) file
    geo = figure["layout"]["geo"]
    assert geo["visible"] is False and geo["fitbounds"] == "locations"
    assert 'data-topojson="/static/geo/"' in body
    topology = json.loads((ROOT / "static" / "geo" / f"{geo['scope']}_{geo['resolution']}m.json").read_text(encoding="utf-8"))
    assert topology["type"] == "Topology" and topology["arcs"] == []


def test_gaps_worklist_links_to_act(db, make_user, login_as):
    village, _ = _setup(db)
    bare = make_village(COUNTY, 2, is_key=True)
    session = login_as(make_user("region", region_code=COUNTY))
    data = session.get(f"/api/v1/gaps/{COUNTY}").get_json()
    lists = {g["kind"]: g for g in data["gaps"]}
    assert lists["no_first_secretary"]["count"] == 1
    assert lists["no_first_secretary"]["items"][0]["url"] == f"/regions/{bare.code}"
    assert lists["small_team"]["count"] == 1  # the village with a one-person team
    body = session.get(f"/gaps/{COUNTY}").get_data(as_text=True)
    assert "没有在岗第一书记" in body and f"/regions/{bare.code}" in body


def test_pairings_that_start_or_end_later_are_counted_on_the_right_day(app, db):
    from datetime import timedelta

    from registry.core.timeutil import local_today
    from registry.dashboard.coverage import Filters, compute
    from registry.regions.models import Region
    from tests.factories import make_pairing

    village = make_village(COUNTY, 1)
    org = make_org()
    today = local_today()
    make_pairing(org, village.code, kind="resident", start=today + timedelta(days=1))
    make_pairing(make_org(kind="enterprise"), village.code, kind="enterprise_village", start=today - timedelta(days=10),
                 end_date=today)
    county = db.session.get(Region, COUNTY)
    now = compute(county, Filters(today.year), today).total
    assert (now.backing_unit, now.enterprise) == (0, 1)
    later = compute(county, Filters(today.year), today + timedelta(days=1)).total
    assert (later.backing_unit, later.enterprise) == (1, 0)
