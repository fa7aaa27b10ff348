"""Every query behind the province-scale pages uses an index on the large tables.

The pages ``make bench`` times (bench/pages.py: every role's home, the coverage API with
each filter and a past year, the gaps worklists, every list, a village and a record) are
requested on a small copy of the bench's dataset, then the keyset lists' next and previous
pages (as a small set and, with paging.COUNT_LIMIT lowered, as a large one read along the
sort's index); every SELECT they issue is captured,
and each is explained on this database: SQLite's ``EXPLAIN QUERY PLAN`` must not
``SCAN`` support_record, posting, duty_month or audit_event without an index, and
PostgreSQL's plan (with sequential scans priced out, so any usable index is taken) must
not hold a ``Seq Scan`` on them. No statistics are gathered: the plans are the ones the
indexes allow, not the ones a small table's statistics would prefer.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from registry.core import paging
from registry.extensions import db

LARGE = ("support_record", "posting", "duty_month", "audit_event")
SQLITE_SCAN = re.compile(r"\bSCAN (\w+)(?: AS \w+)?(?! USING)")
PG_SCAN = re.compile(r"Seq Scan on (\w+)")
NEXT = re.compile(r'<a href="([^"]+)" rel="next">下一页</a>')
PREV = re.compile(r'<a href="([^"]+)" rel="prev">上一页</a>')


@pytest.fixture(scope="module")
def captured(_app):
    """(page, statement, parameters) of every SELECT the pages issued."""
    from bench import pages as bench_pages
    from bench.dataset import fill
    from registry.dashboard.rebuild import rebuild_all
    from tests.conftest import _clean

    _clean(_app)
    with _app.app_context():
        fill(db.session.connection(), scale=0.002, log=lambda _text: None)
        rebuild_all()
        db.session.commit()
        # the plans are judged without statistics: an earlier test of this process may have
        # analyzed its own few rows (``flask dashboard refresh`` does), and SQLite would plan
        # this dataset by them (a scan of a table it thinks holds ten rows)
        conn = db.session.connection()
        if conn.dialect.name == "sqlite":
            for (name,) in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'").all():
                conn.exec_driver_sql(f"DROP TABLE {name}")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # and no connection keeps the statistics it loaded
        found = bench_pages.prepare_users(_app)
        engine = db.engine
    statements: list[tuple[str, str, object]] = []
    page = [""]

    def capture(conn, cursor, statement, parameters, context, executemany):
        if page[0] and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            statements.append((page[0], statement, parameters))

    clients = {}
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with _app.app_context():
            for label, persona, url in bench_pages.pages(found):
                if persona not in clients:
                    clients[persona] = bench_pages.login(_app, f"bench_{persona}")
                page[0] = label
                response = clients[persona].get(url.format(last_year=2025))
                assert response.status_code == 200, (label, response.status_code)
                page[0] = ""
            # the gaps worklist's other shapes: a kind's later page, sorted by place, narrowed
            # by chase state (the overdue records themselves, not the counts by day), a city
            gaps = f"/gaps/{bench_pages.PROVINCE}"
            for url in (f"{gaps}?kind=no_pre_posting_training&page=2", f"{gaps}?kind=no_yearly_training&sort=-township",
                        f"{gaps}?sort=county", f"{gaps}?chase=none", f"/gaps/{bench_pages.CITY}"):
                page[0] = f"gaps {url}"
                assert clients["province"].get(url).status_code == 200, url
                page[0] = ""
            # the keyset lists' further pages (a cursor's position in the query), as a small
            # set and as a large one (paging.COUNT_LIMIT passed: read along the sort's index)
            lists = [(label, persona, url) for label, persona, url in bench_pages.pages(found) if label.endswith(" list")]
            saved = paging.COUNT_LIMIT
            try:
                for limit in (saved, 5):
                    paging.COUNT_LIMIT = limit
                    for label, persona, url in lists:
                        size = "large" if limit < saved else "small"
                        body = clients[persona].get(url).get_data(as_text=True)
                        onward = NEXT.search(body)
                        if onward is None:
                            continue
                        page[0] = f"{label} ({size}, next page)"
                        body = clients[persona].get(onward.group(1).replace("&amp;", "&")).get_data(as_text=True)
                        back = PREV.search(body)
                        page[0] = f"{label} ({size}, previous page)"
                        assert back is not None and clients[persona].get(back.group(1).replace("&amp;", "&")).status_code == 200
                        page[0] = ""
            finally:
                paging.COUNT_LIMIT = saved
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    yield statements
    _clean(_app)


def full_scans(conn, statement: str, parameters) -> list[str]:
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("EXPLAIN " + statement, parameters)
            plan = "\n".join(row[0] for row in cur.fetchall())
        return [t for t in PG_SCAN.findall(plan) if t in LARGE]
    plan = "\n".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall())
    return [t for t in SQLITE_SCAN.findall(plan) if t in LARGE]


def test_no_full_scan_of_the_large_tables(captured, _app):
    assert len({page for page, _, _ in captured}) >= 30  # every page was requested and issued queries
    further = {page for page, _, _ in captured if page.endswith("page)")}
    for label in ("people list", "postings list", "organizations list", "pairings list", "records list", "training list",
                  "training gaps list", "duty list", "duty postings list", "ungraded list"):
        for size in ("small", "large"):  # the keyset lists page on, both ways (the dataset has no
            # results, grades or incentives to page through: their first pages are checked)
            assert f"{label} ({size}, next page)" in further and f"{label} ({size}, previous page)" in further, label
    problems = []
    with _app.app_context():
        conn = db.session.connection()
        seen = set()
        for page, statement, parameters in captured:
            if statement in seen:
                continue
            seen.add(statement)
            tables = full_scans(conn, statement, parameters)
            if tables:
                problems.append(f"{page}: full scan of {', '.join(tables)} in\n  {' '.join(statement.split())[:400]}")
        db.session.rollback()
    assert not problems, f"{len(problems)} statements scan a large table:\n" + "\n".join(problems)


def test_coverage_filters_read_their_summaries(captured):
    """The province coverage API under one filter sums the filter's area rows
    (``area_cut``), a past year the area rows with the year's (``area_year``), and both
    count overdue and ending soon by day (``day_count``): none joins the postings,
    pairings, duty months or latest confirmed support of the province's villages (the live
    computation, for an area whose row no longer holds), nor counts its pending records."""
    live = re.compile(r"\b(?:FROM|JOIN) (posting|pairing|duty_month|village_support_last|village_status)\b")
    pending = re.compile(r"\bFROM support_record\b(?!.*submitted_at >=)", re.S)
    for label, table in (("?category=funds", "area_cut"), ("?org_kind=enterprise", "area_cut"),
                         ("?flag=key", "area_cut"), ("?year=last", "area_year")):
        statements = [statement for page, statement, _ in captured if page == f"coverage API {label}"]
        assert statements, label
        assert any(f"FROM {table}" in s for s in statements), (label, table)
        assert any("FROM day_count" in s for s in statements), label
        assert not [s for s in statements if live.search(s)], (label, [s[:200] for s in statements if live.search(s)])
        # the one read of the records: those submitted on the overdue cut-off's own day
        assert not [s for s in statements if pending.search(s)], label


def test_the_check_sees_a_full_scan(app):
    """The check itself: a filter on a column without an index is a full scan."""
    conn = db.session.connection()
    marker = "%s" if conn.dialect.name == "postgresql" else "?"
    assert full_scans(conn, f"SELECT count(*) FROM support_record WHERE title = {marker}", ("x",)) == ["support_record"]
    assert full_scans(conn, f"SELECT id FROM support_record WHERE id = {marker}", (1,)) == []
    db.session.rollback()


def test_home_panel_counts_months_to_check_by_place(captured):
    """The home panel of months awaiting the check counts them without the range over every
    month that steers its first rows along the month order: with it, SQLite counted a
    county's months by reading every filed month of the province in month order."""
    for label in ("home (province)", "home (city)", "home (county)", "home (township)"):
        counts = [statement for page, statement, _ in captured
                  if page == label and "count(" in statement and "FROM duty_month" in statement]
        assert counts, label
        assert not [s for s in counts if "duty_month.month BETWEEN" in s], label


def test_province_lists_look_up_helpers_per_row(captured):
    """For the province, the organizations and people in scope are those based (employed)
    in it, or helping in it looked up per row (EXISTS): never the list of every pairing or
    posting of the province, built for each request."""
    whole = re.compile(r"IN \(SELECT (pairing\.organization_id|posting\.organization_id|posting\.person_id) FROM")
    for label in ("organizations list", "people list"):
        statements = [statement for page, statement, _ in captured if page == label]
        assert statements, label
        assert not [s for s in statements if whole.search(" ".join(s.split()))], label


def test_overdue_counts_read_only_what_they_count(captured):
    """The overdue list's counts by category, age and chase state select the columns they
    count, not a subquery of every column of the records (built anew, in Python, on each
    request)."""
    counts = [statement for page, statement, _ in captured
              if page == "overdue records" and "count(" in statement and "FROM support_record" in statement]
    assert counts
    assert not [s for s in counts if "support_record.description" in s]


def test_the_next_reference_is_read_along_its_index(app):
    """A filing takes its unit's next 编号 while it holds the write lock: the look-up reads
    the unit's 编号 of the year along ``ix_support_record_sequence``, highest first, and
    stops, instead of sorting all of them (which grew with the ledger)."""
    from registry.records.models import _highest_statement

    conn = db.session.connection()
    compiled = _highest_statement().compile(conn)
    params = compiled.construct_params({"organization_id": 1, "prefix": "2026-"})
    raw = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:  # psycopg's named parameters, as the statement is compiled
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("EXPLAIN " + compiled.string, params)
            plan = "\n".join(row[0] for row in cur.fetchall())
        assert "ix_support_record_sequence" in plan and "Sort" not in plan, plan
    else:
        plan = "\n".join(row[-1] for row in raw.execute("EXPLAIN QUERY PLAN " + compiled.string,
                                                        [params[name] for name in compiled.positiontup]).fetchall())
        assert "ix_support_record_sequence" in plan and "TEMP B-TREE" not in plan, plan
    db.session.rollback()
