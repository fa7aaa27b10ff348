"""Keyset paging (core.paging) of the lists beyond the records and the people: postings,
organizations, pairings, courses and training gaps, duty months and village postings,
village results, assessments, the ungraded worklist and incentives. Walking a list by its
cursors (both ways, small and "large" sets) gives every row exactly once in the list's own
order, with its filters; a cursor made from a row outside the user's scope gives nothing
outside it; the pages link onwards with their filters kept."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from registry.assessment import services as assessment
from registry.assessment.models import Assessment, Incentive
from registry.core import paging
from registry.core.timeutil import local_today
from registry.duty import services as duty
from registry.extensions import db as _db
from registry.organizations import services as organizations
from registry.pairings import services as pairings
from registry.people import postings
from registry.people.models import Posting
from registry.results import services as results
from registry.training import services as training
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, make_result, make_training

YEAR = 2025
NEXT = re.compile(r'<a href="([^"]+)" rel="next">下一页</a>')
PREV = re.compile(r'<a href="([^"]+)" rel="prev">上一页</a>')


def _county(county: str, tag: str) -> None:
    """A county's worth of every list's rows, with ties on every sort key but the id."""
    villages = [make_village(county, n) for n in range(1, 4)]
    orgs = [make_org("backing_unit" if i % 3 else "enterprise", county, name=f"同名单位{tag}{i % 4}") for i in range(12)]
    today = local_today()
    for i in range(14):
        org = orgs[i % len(orgs)]
        person = make_person(org, name=f"干部{tag}{i % 3}")
        start = date(2024, 1 + i % 2 * 2, 1)
        ended = i % 4 == 0
        posting = make_posting(
            person, org, villages[i % 3].code, role=("first_secretary", "team_member")[i % 2], start=start,
            planned_end=today + timedelta(days=5) if i % 5 == 1 else start + timedelta(days=730),
            end_date=date(2025, 6, 30) if ended else None, end_reason="term_completed" if ended else None,
        )
        for month in (1, 2, 3):
            make_duty(posting, date(YEAR, month, 1), status=("filed", "checked")[(i + month) % 2])
        _db.session.add(Assessment(
            year=YEAR, subject_kind="person", subject_key=f"person:{posting.id}", posting_id=posting.id,
            person_id=person.id, organization_id=org.id, region_code=posting.region_code, assessor_region_code=county,
            grade="优秀" if i % 2 else "称职"))
        _db.session.add(Incentive(
            kind=("commendation", "summons")[i % 2], subject_kind="person", person_id=person.id, organization_id=org.id,
            region_code=county, subject_region_code=posting.region_code, issued_on=date(YEAR, 1 + i % 2, 1),
            level="county", reason="测试", follow_up="open" if i % 2 else None))
    for i, org in enumerate(orgs[:6]):
        _db.session.add(Assessment(
            year=YEAR, subject_kind="organization", subject_key=f"organization:{org.id}", organization_id=org.id,
            region_code=county, assessor_region_code=county, grade="好"))
    for i in range(10):
        make_pairing(orgs[i % len(orgs)], villages[i % 3].code, start=date(2023, 1 + i % 2, 1),
                     end_date=date(2024, 1, 1) if i % 3 == 0 else None)
        make_training(county, kind=("pre_posting", "yearly")[i % 2], start=date(YEAR, 1 + i % 2, 1))
    for village in villages:
        for year in (2023, 2024, YEAR):
            make_result(village.code, year, status=("filed", "verified")[year % 2])
    _db.session.commit()


@pytest.fixture
def scene(db, make_user):
    """Both counties' rows and the county's account: built once per test process on
    SQLite and copied back for each test (``built_once``), built anew on PostgreSQL."""
    from tests.conftest import built_once

    def build():
        _county(COUNTY, "甲")
        _county(OTHER_COUNTY, "乙")
        return make_user("region", "paging_county", region_code=COUNTY)

    return built_once("list-paging.scene", build)


def _lists(user):
    """(name, statement, keys) of every list with a choice of its filters."""
    today = local_today()
    out = [
        ("postings", postings.posting_query(user), postings.posting_order()),
        ("postings active", postings.posting_query(user, status="active"), postings.posting_order("active")),
        ("postings ending", postings.posting_query(user, status="ending"), postings.posting_order("ending")),
        ("postings 干部甲1", postings.posting_query(user, q="干部甲1", role="team_member"), postings.posting_order()),
        ("organizations", organizations.organization_query(user, individuals=False), organizations.ORGANIZATION_ORDER),
        ("organizations enterprise", organizations.organization_query(user, kind="enterprise"),
         organizations.ORGANIZATION_ORDER),
        ("pairings", pairings.pairing_query(user), pairings.PAIRING_ORDER),
        ("pairings active", pairings.pairing_query(user, status="active"), pairings.PAIRING_ORDER),
        ("courses", training.courses_for(user), training.COURSE_ORDER),
        ("courses yearly", training.courses_for(user, training.CourseFilters(YEAR, "yearly", "")), training.COURSE_ORDER),
        ("training gaps", training.training_gaps(user, "pre_posting", today), training.GAP_ORDER),
        ("duty months", duty.duty_months_for(user), duty.DUTY_MONTH_ORDER),
        ("duty months filed", duty.duty_months_for(user, status="filed", month=date(YEAR, 2, 1)), duty.DUTY_MONTH_ORDER),
        ("village postings", duty.active_village_postings(user), duty.VILLAGE_POSTING_ORDER),
        ("results", results.results_for(user), results.RESULT_ORDER),
        ("results verified", results.results_for(user, status="verified", year=YEAR), results.RESULT_ORDER),
        ("assessments", assessment.assessments_for(user, year=YEAR), assessment.ASSESSMENT_ORDER),
        ("assessments 优秀", assessment.assessments_for(user, year=YEAR, kind="person", grade="优秀"),
         assessment.ASSESSMENT_ORDER),
        ("ungraded postings", assessment.ungraded_postings(user, 2024), assessment.UNGRADED_POSTING_ORDER),
        ("ungraded organizations", assessment.ungraded_organizations(user, YEAR),
         assessment.UNGRADED_ORGANIZATION_ORDER),
        ("incentives", assessment.incentives_for(user), assessment.INCENTIVE_ORDER),
        ("incentives pending", assessment.incentives_for(user, follow_up="pending"), assessment.INCENTIVE_ORDER),
    ]
    return out


def _walk(stmt, keys, **kw) -> tuple[list[int], list[int]]:
    """All ids following next cursors from the first page, then back by previous cursors."""
    forward, pages, args = [], [], {}
    while True:
        page = paging.paginate(stmt, keys, args, **kw)
        pages.append(page)
        forward += [row.id for row in page.items]
        if not page.has_next:
            break
        args = {"after": page.next_cursor}
    backward, page = [row.id for row in pages[-1].items], pages[-1]
    while page.has_prev:
        page = paging.paginate(stmt, keys, {"before": page.prev_cursor}, **kw)
        backward = [row.id for row in page.items] + backward
    return forward, backward


@pytest.mark.parametrize("count_limit", [10_000, 3], ids=["small set", "large set"])
def test_every_list_pages_every_row_once_in_its_order(db, scene, count_limit):
    for name, stmt, keys in _lists(scene):
        expected = [row.id for row in db.session.scalars(stmt)]  # the export's rows, in its order
        assert expected, name  # the scene has rows for every list and filter
        forward, backward = _walk(stmt, keys, per_page=4, count_limit=count_limit)
        assert forward == expected, name
        assert backward == expected, name
        assert len(set(forward)) == len(forward), name


def test_a_cursor_from_outside_the_scope_gives_nothing_outside_it(db, scene, make_user):
    other = make_user("region", region_code=OTHER_COUNTY)
    for (name, stmt, keys), (_, theirs, _) in zip(_lists(scene), _lists(other)):
        mine = {row.id for row in db.session.scalars(stmt)}
        for row in db.session.scalars(theirs):
            cursor = paging.encode(keys, row)
            for arg in ("after", "before"):
                shown = {r.id for r in paging.paginate(stmt, keys, {arg: cursor}, per_page=4).items}
                assert shown <= mine, (name, arg)


def _follow(session, url: str, row: re.Pattern) -> tuple[list[int], list[str]]:
    ids, bodies = [], []
    while url:
        response = session.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        bodies.append(body)
        ids += [int(i) for i in row.findall(body)]
        link = NEXT.search(body)
        url = link.group(1).replace("&amp;", "&") if link else None
    return ids, bodies


@pytest.mark.parametrize("url, row, per_page", [
    ("/postings/?status=active", r'href="/postings/(\d+)"', 50),
    ("/organizations/?kind=backing_unit", r'href="/organizations/(\d+)"', 30),
    ("/pairings/", r'href="/pairings/(\d+)"', 30),
])
def test_the_pages_link_onwards_with_their_filters(db, scene, login_as, monkeypatch, url, row, per_page):
    """More rows than a page: 下一页 carries the filter and the cursor; every row once; 上一页 back."""
    from registry.organizations import views as org_views
    from registry.pairings import views as pairing_views
    from registry.people import views as people_views

    for module in (org_views, pairing_views, people_views):
        monkeypatch.setattr(module, "PER_PAGE", 5)
    session = login_as(scene)
    ids, bodies = _follow(session, url, re.compile(row))
    assert len(bodies) > 1 and len(ids) == len(set(ids))
    query = url.split("?")[1] if "?" in url else ""
    assert query in NEXT.search(bodies[0]).group(1).replace("&amp;", "&") and "after=" in NEXT.search(bodies[0]).group(1)
    assert "上一页" not in bodies[0] and "上一页" in bodies[1] and "下一页" not in bodies[-1]
    assert PREV.search(bodies[1]).group(1).count("before=") == 1
    if url.startswith("/postings"):
        expected = [p.id for p in db.session.scalars(postings.posting_query(scene, status="active"))]
        assert ids == expected and all(db.session.get(Posting, i).region_code.startswith(COUNTY[:6]) for i in ids)


@pytest.mark.parametrize("url", [
    "/training/", "/training/gaps", "/duty/?status=", "/duty/postings", "/results/?status=", f"/assessment/?year={YEAR}",
    f"/assessment/todo?year={YEAR}&which=organization", "/incentives/",
])
def test_the_other_lists_page_by_cursor(db, scene, login_as, url):
    """A page of each list answers with its count and, given a cursor (its own, foreign or
    broken), still answers; the legacy ?page= is ignored."""
    session = login_as(scene)
    body = session.get(url).get_data(as_text=True)
    assert re.search(r"共 \d+ 条", body), url
    joiner = "&" if "?" in url else "?"
    for extra in ("after=bm9wZQ", "before=WzEsMl0", "page=2"):
        assert session.get(f"{url}{joiner}{extra}").status_code == 200, (url, extra)


def test_the_duty_tabs_count_up_to_the_limit(db, scene, login_as, monkeypatch):
    """The duty list's tab counts stop where its pager's count does: "5+" past the limit."""
    county = login_as(scene)
    body = county.get("/duty/?status=").get_data(as_text=True)
    assert "已核实 21" in body  # 14 postings × 3 months in the county, half of them checked
    assert duty.duty_status_counts(scene, 100) == {"filed": 21, "checked": 21, "returned": 0}
    assert duty.duty_status_counts(scene) == {"filed": 21, "checked": 21}
    monkeypatch.setattr(paging, "COUNT_LIMIT", 5)
    body = county.get("/duty/?status=").get_data(as_text=True)
    assert "已核实 5+" in body and "超过 5 条" in body


@pytest.mark.parametrize("url, marker, expected", [
    ("/postings/export.csv?status=active&masked=1", "干部甲", lambda user: postings.posting_query(user, status="active")),
    ("/organizations/export.csv?kind=backing_unit", "同名单位甲",
     lambda user: organizations.organization_query(user, kind="backing_unit", individuals=False)),
    ("/pairings/export.csv?status=active", "同名单位甲", lambda user: pairings.pairing_query(user, status="active")),
    ("/duty/export.csv?status=checked&masked=1", "干部甲", lambda user: duty.duty_months_for(user, status="checked")),
])
def test_an_export_still_holds_every_row_the_filters_keep(db, scene, login_as, monkeypatch, url, marker, expected):
    """The lists page by key; their exports are not paged: every filtered row, more than a page."""
    from registry.organizations import views as org_views
    from registry.pairings import views as pairing_views
    from registry.people import views as people_views

    for module in (org_views, pairing_views, people_views):
        monkeypatch.setattr(module, "PER_PAGE", 3)
    response = login_as(scene).get(url)
    assert response.status_code == 200, url
    lines = [line for line in response.get_data(as_text=True).splitlines() if marker in line]
    rows = len(list(db.session.scalars(expected(scene))))
    assert rows > 3 and len(lines) == rows, (url, rows, len(lines))  # every row, one line each


def test_the_training_gap_tabs_count_up_to_the_limit(db, scene, login_as, monkeypatch):
    """The training gaps' tab counts stop where the pager's count does."""
    today = local_today()
    full = training.training_gap_counts(scene, today)
    assert full["pre_posting"] > 3 and training.training_gap_counts(scene, today, 1_000) == full
    monkeypatch.setattr(paging, "COUNT_LIMIT", 3)
    body = login_as(scene).get("/training/gaps").get_data(as_text=True)
    assert '<span class="badge">3+</span>' in body and "超过 3 条" in body


def test_the_training_gap_counts_of_a_county_come_from_the_gaps_by_day(db, scene, login_as, monkeypatch):
    """A county's training gap tabs and pager take their numbers from the gaps worklist's
    counts by day (the same lines): the numbers counting the postings gives."""
    from registry.dashboard import gap_days

    from sqlalchemy import func, select

    from registry.people.models import Person
    from tests.factories_assessment import attend

    today = local_today()
    # two of the county's people trained this year: the two tabs count differently
    course = make_training(COUNTY, kind="rotation", start=today - timedelta(days=1), level="county")
    for person in _db.session.scalars(select(Person).join(Posting, Posting.person_id == Person.id)
                                      .where(Posting.is_active, scene.region.within(Posting.region_code)).limit(2)):
        attend(course, person)
    # the postings counted, not through the summaries
    full = {which: _db.session.scalar(select(func.count()).select_from(training.training_gaps(scene, which, today)
                                                                       .order_by(None).subquery()))
            for which in ("pre_posting", "yearly")}
    assert gap_days.counts(scene.region, today) is not None and full["yearly"] > 3
    assert full["pre_posting"] == full["yearly"] + 2
    session = login_as(scene)

    def shown() -> dict:
        out = {}
        for which in ("pre_posting", "yearly"):
            body = session.get(f"/training/gaps?which={which}").get_data(as_text=True)
            out[which] = (re.findall(r'<span class="badge">([^<]+)</span>', body), re.search(r"共 [\d,]+ 条", body).group(0))
        return out

    from_rows = shown()
    assert from_rows["pre_posting"][1] == f"共 {full['pre_posting']} 条" and from_rows["yearly"][1] == f"共 {full['yearly']} 条"
    assert from_rows["pre_posting"][0][:2] == [str(full["pre_posting"]), str(full["yearly"])]
    monkeypatch.setattr(gap_days, "counts", lambda *_: None)  # as without the rows: counted
    assert shown() == from_rows


def test_the_courses_attendance_counts_follow_the_attendance_scope(db, scene, make_user):
    """The course list counts attendances through the person's rule (a join, not a list of
    every person in scope): the same numbers as the attendance's own scope rule gives."""
    from sqlalchemy import func, select

    from registry.core.scope import scoped
    from registry.people.models import Person
    from registry.training.models import Attendance
    from tests.factories_assessment import attend

    courses = list(db.session.scalars(training.courses_for(make_user("admin"))))
    people = list(db.session.scalars(select(Person)))
    for i, course in enumerate(courses):
        for person in people[i % 5::4]:
            attend(course, person)
    ids = [c.id for c in courses]
    for user in (scene, make_user("region", region_code=OTHER_COUNTY), make_user("admin")):
        rule = scoped(select(Attendance.training_id, func.count()), Attendance, user)
        by_rule = dict(db.session.execute(rule.where(Attendance.training_id.in_(ids)).group_by(Attendance.training_id)).all())
        assert by_rule and training.attendance_counts(user, ids) == by_rule
