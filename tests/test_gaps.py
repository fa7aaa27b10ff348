"""The gaps worklist: each kind lists exactly the places that lack what policy asks for,
each line links to the place to act, and a jurisdiction sees only its own."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from registry.core.timeutil import local_today, utcnow
from registry.dashboard.gaps import GAP_KINDS, gaps
from registry.regions.models import Region
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, make_support, posted_secretary


@pytest.fixture()
def world(db):
    today = local_today()
    bare = make_village(n=1, is_key=True)  # nothing at all
    small, org, person, posting = posted_secretary(n=2)  # a first secretary alone
    small.is_poor = True
    full = make_village(n=3, is_key=True)  # a full team, a resident pairing, support
    unit = make_org()
    for role in ("first_secretary", "team_leader", "team_member"):
        make_posting(make_person(unit), unit, full.code, role=role, start=today - timedelta(days=30))
    make_pairing(unit, full.code)
    make_support(unit, full.code, today - timedelta(days=20))
    make_duty(posting, date(today.year, today.month, 1) - timedelta(days=1), days=5, status="checked")
    overdue = make_support(org, small.code, today - timedelta(days=50), status="submitted",
                           submitted_at=utcnow() - timedelta(days=45))
    ending = make_posting(make_person(unit), unit, make_village(OTHER_COUNTY, n=1).code, role="first_secretary",
                          start=today - timedelta(days=700), planned_end=today + timedelta(days=20))
    db.session.commit()
    return dict(bare=bare, small=small, full=full, posting=posting, overdue=overdue, ending=ending)


def _by_kind(region_code: str, db, app) -> dict:
    with app.test_request_context():  # the items carry URLs
        return {g.kind: g for g in gaps(db.session.get(Region, region_code), limit=50)}


def test_each_kind_lists_exactly_the_places_that_lack_it(app, db, world):
    lists = _by_kind(COUNTY, db, app)
    assert set(lists) == set(GAP_KINDS)
    codes = {kind: [item.get("code") for item in g.items] for kind, g in lists.items()}
    assert codes["no_first_secretary"] == [world["bare"].code]
    assert codes["no_backing_unit"] == [world["bare"].code]
    assert codes["small_team"] == [world["small"].code]
    assert codes["no_support"] == [world["bare"].code, world["small"].code]
    for kind in ("no_first_secretary", "no_backing_unit", "small_team", "no_support"):
        assert lists[kind].count == len(codes[kind])
        assert all(item["url"] == f"/regions/{item['code']}" for item in lists[kind].items)

    posting_url = f"/postings/{world['posting'].id}"
    assert [i["url"] for i in lists["low_days"].items] == [posting_url]
    assert "在村5天" in lists["low_days"].items[0]["detail"]
    assert posting_url in [i["url"] for i in lists["no_pre_posting_training"].items]
    assert posting_url in [i["url"] for i in lists["no_yearly_training"].items]
    assert [i["url"] for i in lists["overdue"].items] == [f"/records/{world['overdue'].id}"]
    assert lists["ending_no_successor"].count == 0  # that posting is in another county

    other = _by_kind(OTHER_COUNTY, db, app)
    assert [i["url"] for i in other["ending_no_successor"].items] == [f"/postings/{world['ending'].id}"]
    assert other["overdue"].count == other["low_days"].count == 0


def test_a_successor_closes_the_ending_gap(app, db, world):
    ending = world["ending"]
    unit = make_org()
    make_posting(make_person(unit), unit, ending.region_code, role="first_secretary",
                 start=local_today() + timedelta(days=21))
    assert _by_kind(OTHER_COUNTY, db, app)["ending_no_successor"].count == 0


def test_the_api_pages_and_refuses_outside_the_scope(app, db, world, login_as, make_user):
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get(f"/api/v1/gaps/{COUNTY}?kind=no_support&limit=1").get_json()
    assert body["gaps"][0]["count"] == 2 and len(body["gaps"][0]["items"]) == 1
    second = session.get(f"/api/v1/gaps/{COUNTY}?kind=no_support&limit=1&offset=1").get_json()
    assert second["gaps"][0]["items"][0]["code"] == world["small"].code
    assert session.get(f"/api/v1/gaps/{OTHER_COUNTY}").status_code == 404
    assert session.get(f"/api/v1/gaps/{COUNTY}?kind=nonsense").status_code == 422
    page = session.get(f"/gaps/{COUNTY}")
    assert page.status_code == 200
    assert world["bare"].name in page.get_data(as_text=True)


def test_every_gap_item_the_api_gives_is_one_its_document_describes(app, db, world, login_as, make_user):
    """Every kind of gap in this world, checked against the OpenAPI document's GapItem (the
    fuzzers draw only some kinds in a run: a field added to one kind showed there late)."""
    import jsonschema_rs  # schemathesis's validator (a test dependency through it)

    from registry.dashboard.openapi import openapi_document

    schema = openapi_document("")["components"]["schemas"]["GapItem"]
    session = login_as(make_user("region", region_code=COUNTY))
    body = session.get(f"/api/v1/gaps/{COUNTY}?limit=1000").get_json()
    items = [item for gap in body["gaps"] for item in gap["items"]]
    assert {gap["kind"] for gap in body["gaps"] if gap["items"]} >= {"no_support"}
    validator = jsonschema_rs.validator_for(schema)
    for item in items:
        validator.validate(item)


def test_each_kinds_count_and_pages_agree_with_its_full_list_at_every_level(app, db, world):
    """The counts come from cheaper queries (the postings alone, the passed courses per
    person and year, the counts by day of the overdue records) and a page's lines are picked
    before they are named: both must give exactly what the full list (the export's own
    statements) holds, in its order, for a province, a city and a county."""
    from registry.dashboard.gaps import gap_counts, gap_rows

    unit = make_org()
    for n, days in ((4, 31), (5, 29), (6, 90)):  # overdue, not yet overdue, overdue: in another county
        village = make_village(OTHER_COUNTY, n=n)
        make_support(unit, village.code, local_today() - timedelta(days=days + 5), status="submitted",
                     submitted_at=utcnow() - timedelta(days=days))
        make_posting(make_person(unit), unit, village.code, role="team_member",
                     start=local_today() - timedelta(days=200 + n))
    db.session.commit()
    for code in ("430000000000", COUNTY[:4] + "00000000", COUNTY, OTHER_COUNTY):
        region = db.session.get(Region, code)
        with app.test_request_context():
            full: dict[str, list] = {kind: [] for kind in GAP_KINDS}
            for row in gap_rows(region):
                full[next(k for k, label in GAP_KINDS.items() if label == row[0])].append((row[1], row[4]))
            counts = gap_counts(region)
            for sort in ("", "-township"):
                lists = {g.kind: g for g in gaps(region, limit=1000, sort=sort)}
                for kind in GAP_KINDS:
                    assert lists[kind].count == counts[kind] == len(full[kind]), (code, kind)
                    if not sort:
                        assert [(i["subject"], i["code"]) for i in lists[kind].items] == full[kind], (code, kind)
                    paged = [i for offset in range(0, len(full[kind]) + 1, 2)
                             for i in gaps(region, [kind], limit=2, offset=offset, sort=sort)[0].items]
                    assert [i["subject"] for i in paged] == [i["subject"] for i in lists[kind].items], (code, kind)
            assert counts["overdue"] == {"430000000000": 3, COUNTY: 1, OTHER_COUNTY: 2}.get(code, counts["overdue"])
            # with a chase state the records themselves are counted: none chased, all of them
            assert gap_counts(region, ["overdue"], chase="none")["overdue"] == counts["overdue"]


def test_a_province_lists_the_lines_of_its_counties(app, db, world):
    """A province's low-days and overdue lines are read by plans of their own (along the
    status indexes, the province's range kept from them): the same lines as its counties'."""
    province = _by_kind("430000000000", db, app)
    for kind in ("low_days", "overdue"):
        below = [(i["url"], i["detail"]) for code in (COUNTY, OTHER_COUNTY) for i in _by_kind(code, db, app)[kind].items]
        assert below and sorted((i["url"], i["detail"]) for i in province[kind].items) == sorted(below), kind
        assert province[kind].count == len(below), kind


def test_the_csv_export_streams_after_the_views_session_is_gone(_app, app, db, world, make_user):
    """A CSV download is streamed after the view returns. Under gunicorn no app context
    outlives the request: the view's session is removed before the first row is read.
    Requested from a thread of its own (no app context of this test around it), the whole
    file arrives; the lines were read after the view's session had gone."""
    import threading

    from flask.testing import FlaskClient

    from tests.conftest import Session

    session = Session(_app.test_client(), make_user("region", region_code=COUNTY))
    db.session.commit()
    got: dict = {}

    def download():
        # FlaskClient's own request (the suite's Client clears ``g``, which needs an app context)
        response = FlaskClient.open(session.client, f"/gaps/{COUNTY}/export.csv")
        try:
            got["status"], got["body"] = response.status_code, response.get_data(as_text=True)
        except Exception as error:  # noqa: BLE001  (what the streamed body raised, reported below)
            import traceback
            got["error"] = repr(error) + traceback.format_exc()

    thread = threading.Thread(target=download)
    thread.start()
    thread.join()
    assert "error" not in got, got.get("error")
    assert got["status"] == 200
    assert world["bare"].name in got["body"] and world["small"].name in got["body"]
    assert len(got["body"].splitlines()) > 5
