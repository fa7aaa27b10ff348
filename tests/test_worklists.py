"""Worklists that close gaps (issue 14): each line of the gaps worklist offers the action
that closes it, pre-filled, and the form returns to the list, where the gap is gone; the
lists count, filter, sort and export within the user's scope; the overdue list likewise."""
from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today, utcnow
from registry.dashboard.gaps import GAP_KINDS
from registry.extensions import db
from registry.regions.models import Region
from tests.factories import CITY, COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, make_support, make_training


@dataclass
class World:
    t1: object  # two townships of the county
    t2: object
    bare: object  # key village in t1 with nothing: no first secretary, no backing unit, no support
    team: object  # key village in t2 with a first secretary alone (a team of one), untrained
    rotating: object  # a village in t1 whose first secretary and team member end within 90 days
    far: object  # a key village in another county
    far_posting: object
    unit: object
    posting: object  # the untrained first secretary of ``team``
    member_ending: object
    secretary_ending: object
    idle: object  # people without a posting: a first secretary, a team member, a successor
    member: object
    successor: object
    pre_course: object  # a pre-posting course within the posting's window
    year_course: object  # a course of this year (not pre-posting)
    records: dict  # ids of the overdue records by name
    county: object
    city: object
    viewer: object
    village_user: object  # the village ``team``


def _build(make_user) -> World:
    today = local_today()
    t1, t2 = db.session.scalars(select(Region).where(Region.parent_code == COUNTY).order_by(Region.code)).all()[:2]
    bare = make_village(COUNTY, 1, is_key=True, township=t1)
    team = make_village(COUNTY, 2, is_key=True, township=t2)
    rotating = make_village(COUNTY, 5, township=t1)
    far = make_village(OTHER_COUNTY, 3, is_key=True)
    unit = make_org(region_code=COUNTY, level="county", name="吉首市测试局")
    posting = make_posting(make_person(unit, "未培训书记"), unit, team.code, start=today - timedelta(days=100))
    make_duty(posting, today.replace(day=1) - timedelta(days=1), days=5, status="checked")  # verified: a gap
    ending = dict(start=today - timedelta(days=710), planned_end=today + timedelta(days=20))
    secretary_ending = make_posting(make_person(unit, "到期书记"), unit, rotating.code, **ending)
    member_ending = make_posting(make_person(unit, "到期队员"), unit, rotating.code, role="team_member", **ending)
    records = {
        "t1_100": make_support(unit, bare.code, today - timedelta(days=110), status="submitted", category="project",
                               title="甲村逾期百日", submitted_at=utcnow() - timedelta(days=100)),
        "t2_40": make_support(unit, team.code, today - timedelta(days=50), status="submitted", category="industry",
                              title="乙村逾期四十日", submitted_at=utcnow() - timedelta(days=40)),
        "t2_200": make_support(unit, team.code, today - timedelta(days=210), status="submitted", category="project",
                               title="乙村逾期二百日", submitted_at=utcnow() - timedelta(days=200)),
        "far_50": make_support(unit, far.code, today - timedelta(days=60), status="submitted", category="project",
                               title="外县逾期", submitted_at=utcnow() - timedelta(days=50)),
        "recent": make_support(unit, bare.code, today - timedelta(days=12), status="submitted", category="project",
                               title="甲村未逾期", submitted_at=utcnow() - timedelta(days=10)),
    }
    records = {name: record.id for name, record in records.items()}
    far_unit = make_org(region_code=OTHER_COUNTY, level="county")
    far_posting = make_posting(make_person(far_unit, "外县书记"), far_unit, far.code, start=today - timedelta(days=100))
    return World(
        t1=t1, t2=t2, bare=bare, team=team, rotating=rotating, far=far, far_posting=far_posting, unit=unit, posting=posting,
        member_ending=member_ending, secretary_ending=secretary_ending,
        idle=make_person(unit, "待派书记"), member=make_person(unit, "待派队员"), successor=make_person(unit, "接任队员"),
        pre_course=make_training(COUNTY, "pre_posting", today - timedelta(days=100), title="岗前示范班", level="county"),
        year_course=make_training(COUNTY, "rotation", today, title="年度轮训班", level="county"),
        records=records,
        county=make_user("region", "wl_county", region_code=COUNTY),
        city=make_user("region", "wl_city", region_code=CITY),
        viewer=make_user("viewer", "wl_viewer", region_code=COUNTY),
        village_user=make_user("village", "wl_village", village_code=team.code),
    )


@pytest.fixture()
def w(db, make_user) -> World:
    from tests.conftest import built_once

    return built_once("worklists.world", lambda: _build(make_user))


def _action(page: str, subject: str, label: str) -> str:
    """The href of the action ``label`` on the worklist line about ``subject``."""
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        if subject in row and f">{label}<" in row:
            return html.unescape(re.search(rf'href="([^"]+)">{label}<', row).group(1))
    raise AssertionError(f"no {label} for {subject}")


def _link(page: str, pattern: str) -> str:
    return html.unescape(re.search(rf'href="({pattern}[^"]*)"', page).group(1))


def _remaining(session, kind: str) -> list[str]:
    body = session.get(f"/api/v1/gaps/{COUNTY}?kind={kind}").get_json()
    return [i["url"] if "posting_id" in i else i["code"] for i in body["gaps"][0]["items"]]


def test_each_action_is_pre_filled_and_saving_it_closes_the_gap_and_returns(app, w, login_as, monkeypatch):
    monkeypatch.setitem(app.config, "REGISTRY_MIN_TEAM_SIZE", 2)
    county = login_as(w.county)
    back = f"/gaps/{COUNTY}?sort=township"
    page = county.get(back).get_data(as_text=True)
    today = local_today().isoformat()

    # 结对后盾单位: the organization to choose, then the form with the village and 驻村帮扶 chosen
    choose = county.get(_action(page, w.bare.name, "结对后盾单位")).get_data(as_text=True)
    form_url = _link(choose, f"/organizations/{w.unit.id}/pairings/new")
    form = county.get(form_url).get_data(as_text=True)
    assert f'value="{w.bare.code}"' in form and '<option selected value="resident">' in form
    saved = county.post(form_url, {"region_code": w.bare.code, "kind": "resident", "sector": "", "start_date": today})
    assert saved.status_code == 302 and saved.headers["Location"] == back
    assert w.bare.code not in _remaining(county, "no_backing_unit")

    # 选派第一书记: the person to choose, then the form with the village and the role chosen
    choose = county.get(_action(page, w.bare.name, "选派第一书记")).get_data(as_text=True)
    form_url = _link(choose, f"/people/{w.idle.id}/postings/new")
    form = county.get(form_url).get_data(as_text=True)
    assert f'value="{w.bare.code}"' in form and '<option selected value="first_secretary">' in form
    saved = county.post(form_url, {"region_code": w.bare.code, "role": "first_secretary", "dispatch_level": "county",
                                   "start_date": today})
    assert saved.status_code == 302 and saved.headers["Location"] == back
    assert w.bare.code not in _remaining(county, "no_first_secretary")

    # 选派工作队员: the role team member chosen
    form_url = _link(county.get(_action(page, w.team.name, "选派工作队员")).get_data(as_text=True),
                     f"/people/{w.member.id}/postings/new")
    assert '<option selected value="team_member">' in county.get(form_url).get_data(as_text=True)
    saved = county.post(form_url, {"region_code": w.team.code, "role": "team_member", "dispatch_level": "county",
                                   "start_date": today})
    assert saved.headers["Location"] == back and w.team.code not in _remaining(county, "small_team")

    # 登记年度培训, then 登记岗前培训: the courses that count, then the attendance form with the person ticked
    posting_url = f"/postings/{w.posting.id}"
    for label, course, kind in (("登记年度培训", w.year_course, "no_yearly_training"),
                                ("登记岗前培训", w.pre_course, "no_pre_posting_training")):
        assert posting_url in _remaining(county, kind)
        courses = county.get(_action(page, "未培训书记", label)).get_data(as_text=True)
        detail = county.get(_link(courses, f"/training/{course.id}\\?")).get_data(as_text=True)
        assert re.search(rf'name="person_ids" value="{w.posting.person_id}" checked', detail)
        action = html.unescape(re.search(r'action="(/training/\d+/attendance[^"]*)"', detail).group(1))
        saved = county.post(action, {"person_ids": str(w.posting.person_id), "hours": "24", "passed": "y"})
        assert saved.status_code == 302 and saved.headers["Location"] == back
        assert posting_url not in _remaining(county, kind)

    # 选派接替人选 for a team member: village, role and start (the day the term ends) chosen
    form_url = _link(county.get(_action(page, "到期队员", "选派接替人选")).get_data(as_text=True),
                     f"/people/{w.successor.id}/postings/new")
    form = county.get(form_url).get_data(as_text=True)
    start = w.member_ending.planned_end.isoformat()
    assert f'value="{w.rotating.code}"' in form and '<option selected value="team_member">' in form
    assert f'value="{start}"' in form
    saved = county.post(form_url, {"region_code": w.rotating.code, "role": "team_member", "dispatch_level": "county",
                                   "start_date": start})
    assert saved.headers["Location"] == back
    assert _remaining(county, "ending_no_successor") == [f"/postings/{w.secretary_ending.id}"]
    # a first secretary's successor waits for the incumbent's end: that line links to the posting
    assert _action(page, "到期书记", "办理期满轮换") == f"/postings/{w.secretary_ending.id}"


def test_an_off_site_next_is_not_followed(w, login_as):
    county = login_as(w.county)
    url = f"/organizations/{w.unit.id}/pairings/new?region={w.bare.code}&next=//evil.example/x"
    saved = county.post(url, {"region_code": w.bare.code, "kind": "resident", "sector": "",
                                "start_date": local_today().isoformat()})
    assert saved.status_code == 302 and re.fullmatch(r"/pairings/\d+", saved.headers["Location"])


def test_only_the_roles_that_may_act_see_the_actions(w, login_as):
    viewer = login_as(w.viewer).get(f"/gaps/{COUNTY}").get_data(as_text=True)
    assert w.bare.name in viewer and ">选派第一书记<" not in viewer and ">登记岗前培训<" not in viewer
    assert "由结对单位填报帮扶记录" in viewer  # who closes a gap no form here closes
    county = login_as(w.county).get(f"/gaps/{COUNTY}").get_data(as_text=True)
    assert _action(county, w.posting.person.name, "查看驻村纪实") == f"/duty/posting/{w.posting.id}"
    assert _action(county, "乙村逾期二百日", "查看记录") == f"/records/{w.records['t2_200']}"
    assert login_as(w.viewer).get(f"/training/arrange/{w.posting.id}").status_code == 403
    county = login_as(w.county)
    assert county.get(f"/training/arrange/{w.far_posting.id}").status_code == 404  # another county's posting
    outsider = county.get(f"/training/{w.pre_course.id}?person={w.far_posting.person_id}").get_data(as_text=True)
    assert "外县书记" not in outsider and 'name="person_ids"' not in outsider  # nobody outside the scope is offered


def test_a_places_county_and_township_come_from_its_code(app, w):
    from registry.regions.areas import Areas, above

    assert above(w.bare.code, "county") == COUNTY and above(w.bare.code, "township") == w.t1.code
    assert above(COUNTY, "township") == "" and above(CITY, "county") == "" and above("4331", "county") == ""
    assert Areas().preload([w.bare.code, w.team.code]).of(w.team.code) == ("吉首市", w.t2.name)


def test_the_gaps_list_counts_filters_sorts_and_exports_within_the_scope(w, login_as):
    county = login_as(w.county)
    page = county.get(f"/gaps/{COUNTY}").get_data(as_text=True)
    counts = {g["kind"]: g["count"] for g in county.get(f"/api/v1/gaps/{COUNTY}").get_json()["gaps"]}
    for kind in GAP_KINDS:  # each count a link that filters
        assert re.search(rf'data-kind="{kind}" href="/gaps/{COUNTY}\?kind={kind}">[^<]+<span class="badge">{counts[kind]}<',
                         page), kind

    narrowed = county.get(f"/gaps/{COUNTY}?kind=no_support&township={w.t1.code}").get_data(as_text=True)
    assert w.bare.name in narrowed and w.team.name not in narrowed
    assert f"sort=county&amp;county=&amp;township={w.t1.code}" not in narrowed  # no empty arguments
    assert f"sort=county&amp;township={w.t1.code}" in narrowed  # sorting keeps the filters
    assert f"/gaps/{COUNTY}/export.xlsx?kind=no_support&amp;township={w.t1.code}" in narrowed  # so does the export
    assert county.get(f"/gaps/{COUNTY}?township={w.far.parent_code}").status_code == 404

    city = login_as(w.city)
    assert w.team.name not in city.get(f"/gaps/{CITY}?county={COUNTY}&township={w.t1.code}&kind=no_support").get_data(as_text=True)
    assert city.get(f"/gaps/{CITY}?county={OTHER_COUNTY}").status_code == 404

    book = load_workbook(io.BytesIO(county.get(f"/gaps/{COUNTY}/export.xlsx?kind=no_support&township={w.t1.code}").data))
    rows = [[c.value for c in r] for r in book.worksheets[0].iter_rows()][1:]
    about = {r[0].value: r[1].value for r in book.worksheets[1].iter_rows()}
    assert [r[1] for r in rows] == [w.bare.name] and rows[0][3] == w.t1.name
    assert f"乡镇（街道）：{w.t1.name}" in about["筛选条件"]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Gap")).all()[-1]
    assert w.t1.name in event.summary
    everything = county.get(f"/gaps/{COUNTY}/export.csv").get_data(as_text=True)
    assert w.far.name not in everything and w.team.name in everything


def _ids(page: str) -> list[str]:
    return re.findall(r'<td class="ref"[^>]*><a href="/records/(\d+)">', page)


def test_the_overdue_list_counts_filters_and_sorts_with_county_and_township(w, login_as):
    county = login_as(w.county)
    r = {k: str(v) for k, v in w.records.items()}
    page = county.get("/records/overdue").get_data(as_text=True)
    assert _ids(page) == [r["t2_200"], r["t1_100"], r["t2_40"]]  # the longest waiting first; not another county's
    assert f'<td data-label="县（市、区）">吉首市</td><td data-label="乡镇（街道）">{w.t2.name}</td>' in page
    assert re.search(r'data-category="project" href="/records/overdue\?category=project">项目 <span class="badge">2<', page)
    assert re.search(r'data-category="industry" href="[^"]+">[^<]+<span class="badge">1<', page)
    assert [re.search(rf'data-age="{d}" href="[^"]+">[^<]+<span class="badge">(\d+)<', page).group(1)
            for d in (60, 90, 180)] == ["2", "2", "1"]
    assert "查看记录" in page and "确认或提出异议" not in page

    def ids(query):
        return _ids(county.get("/records/overdue?" + query).get_data(as_text=True))

    assert ids("category=project") == [r["t2_200"], r["t1_100"]]
    assert ids("age=180") == [r["t2_200"]]
    assert ids(f"township={w.t1.code}") == [r["t1_100"]]
    assert ids("sort=township") == [r["t1_100"], r["t2_200"], r["t2_40"]]
    assert ids("sort=-township&category=project") == [r["t2_200"], r["t1_100"]]
    assert county.get(f"/records/overdue?township={w.far.parent_code}").status_code == 404
    assert county.get(f"/records/overdue?region={OTHER_COUNTY}").status_code == 404


def test_the_overdue_list_pages_in_its_sort_order(app, w):
    from registry.core.paging import paginate
    from registry.records import overdue

    for sort, expected in (("-township", ["t2_200", "t2_40", "t1_100"]), ("county", ["t2_200", "t1_100", "t2_40"])):
        filters = overdue.OverdueFilters.from_args({"sort": sort})
        stmt, keys, seen, args = filters.query(w.county, None), overdue.sort_keys(sort), [], {}
        while True:
            page = paginate(stmt, keys, args, per_page=1)
            seen += [item.id for item in page.items]
            if not page.has_next:
                break
            args = {"after": page.next_cursor}
        assert seen == [w.records[k] for k in expected], sort


def test_the_overdue_count_of_home_and_region_pages_is_the_lists_count(app, w):
    """A county's or city's overdue count from the counts by day is what counting the
    records gives, for the user's own region and a region page within it."""
    from registry.dashboard.coverage import overdue_count
    from registry.records import queries

    for user in (w.county, w.city, w.viewer):
        assert overdue_count(user) == queries.count(queries.overdue(user)) > 0, user.username
        assert overdue_count(user, w.county.region) == queries.count(queries.overdue(user, w.county.region))
        assert overdue_count(user, w.t1) == queries.count(queries.overdue(user, w.t1))


def test_the_overdue_lists_counts_in_one_pass_are_those_of_its_filters(app, w):
    """``tallies`` (one grouped pass) gives what counting each filter's records gives."""
    from sqlalchemy import func

    from registry.records import overdue
    from registry.records.queries import count

    for args in ({}, {"category": "project"}, {"age": "90"}, {"age": "180", "category": "project"}, {"age": "60"}):
        filters = overdue.OverdueFilters.from_args(args)
        by_category, by_age, total = overdue.tallies(w.county, None, filters)
        assert total == count(filters.query(w.county, None)), args
        listed = overdue.overdue(w.county, None, min_days=filters.min_days).order_by(None).subquery()
        expected = dict(db.session.execute(select(listed.c.category, func.count()).group_by(listed.c.category)).all())
        assert by_category == expected, args
        for age in (None, *overdue.AGES):
            assert by_age[age] == count(overdue.overdue(w.county, None, category=filters.category, min_days=age)), (
                args, age)
        assert overdue.chase_counts(w.county, None, filters) == overdue.chase_counts(w.county, None, filters, total)


def test_the_overdue_lists_counts_from_the_counts_by_day_are_those_of_its_records(app, w, make_user):
    """A county's, city's or province's counts by category and age come from the counts by
    day; with records submitted just before and just after every age's cut-off (the cut-off's
    own day, which the counts by day cannot split), they are what counting the records gives,
    for every role that sees the region in full, and a township's are counted as before."""
    from sqlalchemy import func

    from registry.dashboard.coverage import seen_whole
    from registry.records import overdue
    from registry.records.queries import count

    base = app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
    for n, days in enumerate((base, *overdue.AGES)):
        # just past the cut-off and just short of it (its own day), and a day past it
        for side, shift in (("过", timedelta(minutes=5)), ("未", -timedelta(minutes=5)), ("前日", timedelta(days=1))):
            make_support(w.unit, (w.bare, w.team)[n % 2].code, local_today() - timedelta(days=days + 1),
                         status="submitted", category=("project", "industry", "funds")[n % 3],
                         title=f"临界{days}天{side}", submitted_at=utcnow() - timedelta(days=days) - shift)
    admin = make_user("admin", "wl_admin_tallies")
    province = db.session.get(Region, "430000000000")  # the administrator's list is the province's
    cases = [(w.county, None), (w.county, w.county.region), (w.city, None), (w.city, w.county.region),
             (w.viewer, None), (admin, province), (admin, w.county.region), (w.county, w.t1)]
    assert [seen_whole(user, region) is not None for user, region in cases] == [True] * 7 + [False]
    for user, region in cases:
        assert overdue.tallies(user, region, overdue.OverdueFilters())[2] > 0, (user.username, region)
        for args in ({}, {"category": "project"}, {"age": "60"}, {"age": "90", "category": "industry"},
                     {"age": "180"}):
            filters = overdue.OverdueFilters.from_args(args)
            by_category, by_age, total = overdue.tallies(user, region, filters)
            assert total == count(filters.query(user, region)), (user.username, region, args)
            listed = overdue.overdue(user, region, min_days=filters.min_days).order_by(None).subquery()
            expected = dict(db.session.execute(select(listed.c.category, func.count())
                                               .group_by(listed.c.category)).all())
            assert by_category == expected, (user.username, region, args)
            for age in (None, *overdue.AGES):
                assert by_age[age] == count(overdue.overdue(user, region, category=filters.category, min_days=age)), (
                    user.username, region, args, age)


def test_the_overdue_export_has_the_lists_filters_columns_and_an_audit_record(w, login_as):
    county = login_as(w.county)
    body = county.get("/records/overdue/export.csv?category=project&sort=-township").data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:5] == ["编号", "县（市、区）", "乡镇（街道）", "村", "区划代码"]
    assert [row[7] for row in rows[1:]] == ["乙村逾期二百日", "甲村逾期百日"] and rows[1][2] == w.t2.name
    assert int(rows[1][rows[0].index("已等待（天）")]) >= 200
    assert rows[0][-3:] == ["催办次数", "最近催办", "督办升级"] and rows[1][-3:] == ["0", "", ""]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()[-1]
    assert event.entity_type == "SupportRecord" and "帮扶类别：项目" in event.summary and "2 条" in event.summary
    assert login_as(w.viewer).get(f"/records/overdue/export.csv?township={w.far.parent_code}").status_code == 404


def test_a_village_sees_its_own_overdue_records_with_the_confirm_page(w, login_as):
    page = login_as(w.village_user).get("/records/overdue").get_data(as_text=True)
    records = w.records
    assert _ids(page) == [str(records["t2_200"]), str(records["t2_40"])]
    assert f'href="/records/{records["t2_200"]}#decide">确认或提出异议<' in page
