"""Keyset paging (core.paging) of the lists that paged by COUNT and OFFSET until issue 16: the
audit trail, one's notifications, the e-mail outbox, the accounts, enterprise projects, care
records, inspections and their findings, the supervision's money records and the
fault-tolerance cases. Walking each list by its cursors (both ways, small and "large" sets)
gives every row exactly once in the list's own order, with its filters; a cursor made from
a row outside the user's scope gives nothing outside it; the pages link onwards with their
filters kept, and a broken cursor is not an error. The audit trail, the largest table, is
read along an index on its first and later pages (no full scan, SQLite and PostgreSQL)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from registry.accounts.models import User
from registry.accounts.views import USER_ORDER
from registry.audit.models import AuditEvent
from registry.audit.services import record
from registry.audit.views import AUDIT_ORDER
from registry.care import services as care
from registry.care.models import CareRecord
from registry.core import paging
from registry.core.scope import scoped
from registry.extensions import db as _db
from registry.inspections import services as inspections
from registry.inspections.models import Finding, Inspection, InspectionPlan
from registry.notifications import delivery, services as notifications
from registry.notifications.models import Notification, OutboundEmail
from registry.projects import queries as projects
from registry.projects.models import Project, ProjectVillage
from registry.records.queries import RECORD_ORDER
from registry.supervision.services import money_records
from registry.tolerance import services as tolerance
from registry.tolerance.models import FaultToleranceCase
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_support

NEXT = re.compile(r'<a href="([^"]+)" rel="next">下一页</a>')
PREV = re.compile(r'<a href="([^"]+)" rel="prev">上一页</a>')
MOMENT = datetime(2025, 3, 1, 8, 0)


def _county(county: str, tag: str, reader) -> None:
    """A county's worth of every list's rows, with ties on every sort key but the id."""
    villages = [make_village(county, n) for n in range(1, 6)]
    units = [make_org("backing_unit", county, name=f"单位{tag}{i}") for i in range(3)]
    enterprise = make_org("enterprise", county, name=f"企业{tag}")
    fund = make_org("charity", county, name=f"基金{tag}")
    for i in range(12):
        village = villages[i % 5].code
        org = units[i % 3]
        record("update", "Organization" if i % 2 else "Person", after={"n": i}, summary=f"变更{tag}{i}",
               region_code=village, organization_id=org.id)
        project = Project(organization_id=enterprise.id, name=f"项目{tag}{i}", kind="industry",
                          signed_on=date(2024, 1 + i % 3, 1), status=("signed", "building")[i % 2],
                          lead_village_code=village)
        project.villages = [ProjectVillage(village_code=village)]
        _db.session.add(project)
        person = make_person(org, name=f"干部{tag}{i}")
        posting = make_posting(person, org, village, start=date(2024, 1, 1))
        _db.session.add(CareRecord(
            person_id=person.id, posting_id=posting.id, organization_id=org.id, region_code=village,
            provider_region_code=county, kind=("allowance", "insurance")[i % 2],
            item=("生活补助", "人身意外伤害保险")[i % 2], start_date=date(2025, 1 + i % 2, 1), end_date=date(2025, 6, 30),
            status="cancelled" if i % 5 == 4 else "active"))
        _db.session.add(FaultToleranceCase(
            subject_kind="summons", subject_id=i, subject_key=f"summons:{tag}{i}", subject_title=f"约谈{tag}{i}",
            person_id=person.id, organization_id=org.id, region_code=village, decider_region_code=county, year=2025,
            grounds="objective", facts="说明", applied_at=MOMENT + timedelta(days=i % 3),
            status=("pending", "tolerated")[i % 2]))
        make_support(org if i % 3 else fund, village, date(2025, 1 + i % 2, 1), category="funds" if i % 3 else "industry",
                     status=("confirmed", "submitted")[i % 2], title=f"资金{tag}{i}", submitted_at=MOMENT)
    for year in (2024, 2025):
        plan = InspectionPlan(year=year, region_code=county, title=f"{year}年督查")
        _db.session.add(plan)
        _db.session.flush()
        for n, village in enumerate(villages):
            inspection = Inspection(plan_id=plan.id, year=year, inspector_region_code=county, target_kind="region",
                                    target_key=f"region:{village.code}", target_region_code=village.code)
            _db.session.add(inspection)
            _db.session.flush()
            _db.session.add(Finding(
                inspection_id=inspection.id, year=year, inspector_region_code=county, target_kind="region",
                target_region_code=village.code, item=("funds", "other")[n % 2], description="问题",
                deadline=date(year, 6 + n % 2, 30), status=("open", "closed")[n % 2]))
    for i in range(15):
        _db.session.add(Notification(user_id=reader.id, kind=("record_submitted", "record_confirmed")[i % 2],
                                     title=f"通知{tag}{i}", created_at=MOMENT + timedelta(hours=i % 3),
                                     read_at=MOMENT if i % 5 == 0 else None))
        _db.session.add(OutboundEmail(to_address=f"{tag}{i}@example.org", subject=f"邮件{tag}{i}", body="",
                                      status=("failed", "sent")[i % 2], created_at=MOMENT + timedelta(hours=i % 3)))
    _db.session.commit()


@pytest.fixture
def scene(db, make_user):
    """Two counties' rows; the first county's staff is the reader (and an administrator).
    Built once per test process on SQLite and copied back for each test (``built_once``;
    no test here makes users of its own), built anew on PostgreSQL."""
    from tests.conftest import built_once

    def build():
        mine = make_user("region", region_code=COUNTY)
        theirs = make_user("region", region_code=OTHER_COUNTY)
        _county(COUNTY, "甲", mine)
        _county(OTHER_COUNTY, "乙", theirs)
        for i in range(7):
            make_user("viewer", region_code=COUNTY)
        return {"mine": mine, "theirs": theirs, "admin": make_user("admin")}

    return built_once("list-paging-more.scene", build)


def _lists(user):
    """(name, statement, keys, scoped) of every list with a choice of its filters; the
    outbox and the accounts are the administrators' (no scope: ``scoped`` False)."""
    events = scoped(select(AuditEvent), AuditEvent, user).order_by(*paging.order_by(AUDIT_ORDER))
    return [
        ("audit", events, AUDIT_ORDER, True),
        ("audit Person", events.where(AuditEvent.entity_type == "Person"), AUDIT_ORDER, True),
        ("notifications", notifications.notifications_for(user), notifications.NOTIFICATION_ORDER, True),
        ("notifications unread", notifications.notifications_for(user, kind="record_submitted", state="unread"),
         notifications.NOTIFICATION_ORDER, True),
        ("outbox", delivery.outbox(), delivery.OUTBOX_ORDER, False),
        ("outbox failed", delivery.outbox("failed"), delivery.OUTBOX_ORDER, False),
        ("accounts", select(User).order_by(*paging.order_by(USER_ORDER)), USER_ORDER, False),
        ("projects", projects.project_list(user, projects.ProjectFilters()), projects.PROJECT_ORDER, True),
        ("projects building", projects.project_list(user, projects.ProjectFilters(status="building", q="项目")),
         projects.PROJECT_ORDER, True),
        ("care", care.care_for(user, status="all"), care.CARE_ORDER, True),
        ("care active allowance", care.care_for(user, kind="allowance", year=2025), care.CARE_ORDER, True),
        ("inspections", inspections.inspections_for(user), inspections.INSPECTION_ORDER, True),
        ("inspections 2025", inspections.inspections_for(user, 2025), inspections.INSPECTION_ORDER, True),
        ("findings", inspections.findings_for(user), inspections.FINDING_ORDER, True),
        ("findings open funds", inspections.findings_for(user, inspections.FindingFilters(state="open", item="funds")),
         inspections.FINDING_ORDER, True),
        ("money records", money_records(user), RECORD_ORDER, True),
        ("money records confirmed", money_records(user, status="confirmed", q="资金"), RECORD_ORDER, True),
        ("tolerance", tolerance.cases_for(user), tolerance.CASE_ORDER, True),
        ("tolerance pending", tolerance.cases_for(user, status="pending"), tolerance.CASE_ORDER, True),
    ]


def _id(row):
    return row.username if isinstance(row, User) else row.id


def _walk(stmt, keys, **kw) -> tuple[list, list]:
    """All rows following next cursors from the first page, then back by previous cursors."""
    forward, pages, args = [], [], {}
    while True:
        page = paging.paginate(stmt, keys, args, **kw)
        pages.append(page)
        forward += [_id(row) for row in page.items]
        if not page.has_next:
            break
        args = {"after": page.next_cursor}
    backward, page = [_id(row) for row in pages[-1].items], pages[-1]
    while page.has_prev:
        page = paging.paginate(stmt, keys, {"before": page.prev_cursor}, **kw)
        backward = [_id(row) for row in page.items] + backward
    return forward, backward


@pytest.mark.parametrize("count_limit", [10_000, 3], ids=["small set", "large set"])
def test_every_list_pages_every_row_once_in_its_order(db, scene, count_limit):
    for name, stmt, keys, _ in _lists(scene["mine"]):
        expected = [_id(row) for row in db.session.scalars(stmt)]  # the export's rows, in its order
        assert len(expected) > 4, name  # more than a page for every list and filter
        forward, backward = _walk(stmt, keys, per_page=4, count_limit=count_limit)
        assert forward == expected, name
        assert backward == expected, name
        assert len(set(forward)) == len(forward), name


def test_the_filters_and_the_scope_hold(db, scene):
    """What the lists hold at all: the reader's county only, and the filter's rows only."""
    lists = {name: list(db.session.scalars(stmt)) for name, stmt, _, _ in _lists(scene["mine"])}
    assert all(e.region_code.startswith(COUNTY[:6]) for e in lists["audit"])
    assert {e.entity_type for e in lists["audit Person"]} == {"Person"}
    assert {n.user_id for n in lists["notifications"]} == {scene["mine"].id}
    assert all(n.read_at is None and n.kind == "record_submitted" for n in lists["notifications unread"])
    assert {e.status for e in lists["outbox failed"]} == {"failed"}
    assert all(p.status == "building" and p.lead_village_code.startswith(COUNTY[:6]) for p in lists["projects building"])
    assert all(c.region_code.startswith(COUNTY[:6]) for c in lists["care"])
    assert {i.year for i in lists["inspections 2025"]} == {2025}
    assert all(f.status == "open" and f.item == "funds" for f in lists["findings open funds"])
    assert all(r.status == "confirmed" and r.village_code.startswith(COUNTY[:6]) for r in lists["money records confirmed"])
    assert {c.status for c in lists["tolerance pending"]} == {"pending"}


def test_a_cursor_from_outside_the_scope_gives_nothing_outside_it(db, scene):
    for (name, stmt, keys, is_scoped), (_, theirs, _, _) in zip(_lists(scene["mine"]), _lists(scene["theirs"])):
        if not is_scoped:
            continue
        mine = {_id(row) for row in db.session.scalars(stmt)}
        outside = [row for row in db.session.scalars(theirs) if _id(row) not in mine]
        assert outside, name  # the other county has rows of every list the reader cannot see
        for row in outside:
            cursor = paging.encode(keys, row)
            for arg in ("after", "before"):
                shown = {_id(r) for r in paging.paginate(stmt, keys, {arg: cursor}, per_page=4).items}
                assert shown <= mine, (name, arg)


def _small_pages(monkeypatch, per_page=4):
    """Every view of these lists pages by ``per_page`` rows."""
    from registry.accounts import views as accounts_views
    from registry.audit import views as audit_views
    from registry.care import views as care_views
    from registry.inspections import views as inspections_views
    from registry.notifications import views as notifications_views
    from registry.projects import views as projects_views
    from registry.supervision import views as supervision_views
    from registry.tolerance import views as tolerance_views

    def small(stmt, keys, args, **kw):
        return paging.paginate(stmt, keys, args, **{**kw, "per_page": per_page})

    for module in (accounts_views, audit_views, care_views, inspections_views, notifications_views, projects_views,
                   supervision_views, tolerance_views):
        monkeypatch.setattr(module, "paginate", small)


# (who, url, link to each row of the list or None, the statement the list shows)
PAGES = [
    ("mine", "/audit/?entity_type=Person", re.compile(r"<tr><td>(\d+)</td>"),
     lambda u: scoped(select(AuditEvent), AuditEvent, u).where(AuditEvent.entity_type == "Person")
     .order_by(*paging.order_by(AUDIT_ORDER))),
    ("mine", "/notifications/?state=unread", None,
     lambda u: notifications.notifications_for(u, state="unread")),
    ("admin", "/admin/notifications/outbox?status=sent", None, lambda u: delivery.outbox("sent")),
    ("admin", "/admin/users", None, lambda u: select(User).order_by(*paging.order_by(USER_ORDER))),
    ("mine", "/projects/?status=building", re.compile(r'<td data-label="项目"><a href="/projects/(\d+)"'),
     lambda u: projects.project_list(u, projects.ProjectFilters(status="building"))),
    ("mine", "/care/?status=all&kind=insurance", None, lambda u: care.care_for(u, kind="insurance", status="all")),
    ("mine", "/inspections/?year=2025", re.compile(r'<td data-label="被督查对象"><a href="/inspections/(\d+)"'),
     lambda u: inspections.inspections_for(u, 2025)),
    ("mine", "/inspections/findings/?state=open", re.compile(r'<td data-label="问题"><a href="/inspections/findings/(\d+)"'),
     lambda u: inspections.findings_for(u, inspections.FindingFilters(state="open"))),
    ("mine", "/supervision/?status=confirmed", re.compile(r'<td data-label="标题"><a href="/supervision/records/(\d+)"'),
     lambda u: money_records(u, status="confirmed")),
    ("mine", "/tolerance/?status=pending", re.compile(r'<td data-label="申请日期"><a href="/tolerance/(\d+)"'),
     lambda u: tolerance.cases_for(u, status="pending")),
]


def _follow(session, url: str) -> list[str]:
    bodies = []
    while url:
        response = session.get(url)
        assert response.status_code == 200, url
        bodies.append(response.get_data(as_text=True))
        link = NEXT.search(bodies[-1])
        url = link.group(1).replace("&amp;", "&") if link else None
    return bodies


@pytest.mark.parametrize("who, url, row, expected", PAGES, ids=[url for _, url, _, _ in PAGES])
def test_the_pages_link_onwards_with_their_filters(db, scene, login_as, monkeypatch, who, url, row, expected):
    """More rows than a page: 下一页 carries the filter and the cursor, 上一页 goes back; the
    pages together show the list's rows, each once, in its order; the count is shown."""
    _small_pages(monkeypatch)
    session = login_as(scene[who])
    bodies = _follow(session, url)
    rows = list(db.session.scalars(expected(scene[who])))
    assert len(bodies) == (len(rows) + 3) // 4 > 1, url
    query = url.split("?")[1] if "?" in url else ""
    onward = NEXT.search(bodies[0]).group(1).replace("&amp;", "&")
    assert query in onward and onward.count("after=") == 1, url
    assert f"共 {len(rows)} 条" in bodies[0], url
    assert "上一页" not in bodies[0] and "上一页" in bodies[1] and "下一页" not in bodies[-1]
    back = PREV.search(bodies[1]).group(1).replace("&amp;", "&")
    assert query in back and back.count("before=") == 1
    assert session.get(back).get_data(as_text=True).count("<tr") == bodies[0].count("<tr")
    if row is not None:
        shown = [int(i) for body in bodies for i in dict.fromkeys(row.findall(body))]
        assert shown == [r.id for r in rows], url


@pytest.mark.parametrize("who, url", [(who, url) for who, url, _, _ in PAGES] + [("mine", "/audit/")])
def test_a_broken_or_foreign_cursor_is_not_an_error(db, scene, login_as, who, url):
    """A cursor that cannot be read (or of another list's keys) starts the list over; the
    old ?page= is ignored."""
    session = login_as(scene[who])
    joiner = "&" if "?" in url else "?"
    first = session.get(url)
    assert first.status_code == 200
    for extra in ("after=bm9wZQ", "before=WzEsMl0", "after=WyJ4IiwiMjAyNSJd", "after=WyJcdTAwMDAiLDFd",
                  "after=" + "A" * 2000, "page=2", "page=99999999999999999999"):
        response = session.get(f"{url}{joiner}{extra}")
        assert response.status_code == 200, (url, extra)
    assert session.get(f"{url}{joiner}before=%00").status_code == 400  # the app refuses NUL in any argument


def test_the_count_stops_at_the_limit(db, scene, login_as, monkeypatch):
    monkeypatch.setattr(paging, "COUNT_LIMIT", 5)
    body = login_as(scene["mine"]).get("/audit/").get_data(as_text=True)
    assert "超过 5 条" in body and 'rel="next">下一页' not in body  # 50 a page: the county's events fit


# -- the audit trail's plans ---------------------------------------------------------------------------


def _audit_statements(app, scene, login_as, monkeypatch) -> list[tuple[str, str, object]]:
    """(page, statement, parameters) of every SELECT on audit_event that the trail's first,
    next and previous pages issue, for an administrator and for county staff, without and
    with a filter, as a small set and (the count's limit lowered) as a large one."""
    _small_pages(monkeypatch)
    statements: list[tuple[str, str, object]] = []
    label = [""]

    def capture(conn, cursor, statement, parameters, context, executemany):
        if label[0] and "audit_event" in statement and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((label[0], statement, parameters))

    engine = _db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for who in ("admin", "mine"):
            session = login_as(scene[who])
            for limit in (10_000, 5):
                monkeypatch.setattr(paging, "COUNT_LIMIT", limit)
                for url in ("/audit/", "/audit/?entity_type=Person"):
                    label[0] = f"{who} {url} limit {limit} first"
                    body = session.get(url).get_data(as_text=True)
                    onward = NEXT.search(body)
                    assert onward is not None, label[0]
                    label[0] = f"{who} {url} limit {limit} next"
                    body = session.get(onward.group(1).replace("&amp;", "&")).get_data(as_text=True)
                    back = PREV.search(body)
                    label[0] = f"{who} {url} limit {limit} previous"
                    assert session.get(back.group(1).replace("&amp;", "&")).status_code == 200
                    label[0] = ""
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return statements


def test_the_audit_trail_is_read_along_an_index(app, db, scene, login_as, monkeypatch):
    """No page of the trail scans audit_event whole: SQLite's plan has no ``SCAN audit_event``
    but a walk of the primary key in order (a LIMIT stops it; no sort), PostgreSQL's (with
    sequential scans priced out) no ``Seq Scan``."""
    from tests.test_query_plans import full_scans

    statements = _audit_statements(app, scene, login_as, monkeypatch)
    assert len({page for page, _, _ in statements}) == 24
    problems = []
    conn = db.session.connection()
    for page, statement, parameters in statements:
        if "audit_event" not in full_scans(conn, statement, parameters):
            continue
        if conn.dialect.name == "sqlite" and _walks_the_key_in_order(conn, statement, parameters):
            continue
        problems.append(f"{page}: {' '.join(statement.split())[:300]}")
    db.session.rollback()
    assert not problems, "\n".join(problems)


def _walks_the_key_in_order(conn, statement: str, parameters) -> bool:
    """SQLite: the only scan of audit_event goes along its rowid in the statement's order,
    with a LIMIT: no temporary sort, no filter beyond what a page may skip (the
    administrator's unfiltered trail, newest first)."""
    raw = conn.connection.driver_connection
    plan = [row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()]
    flat = " ".join(statement.split()).replace(" WHERE 1 = 1 ", " ")  # an administrator's scope
    return (plan == ["SCAN audit_event"] and " WHERE " not in flat and "ORDER BY audit_event.id DESC LIMIT" in flat)
