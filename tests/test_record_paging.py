"""Keyset paging of the record lists: every row once and in order, forwards and back; scope
and filters on every page; a cursor that is not one of ours starts the list over."""
from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from registry.core import paging
from registry.extensions import db as _db
from registry.records import funds, services
from registry.records.models import FundContribution, SupportRecord
from tests.factories import make_org
from tests.factories_records import world  # noqa: F401

NEXT = re.compile(r'<a href="([^"]+)" rel="next">下一页</a>')
PREV = re.compile(r'<a href="([^"]+)" rel="prev">上一页</a>')
ROW = re.compile(r'<td class="ref"[^>]*><a href="/records/(\d+)">[^<]+</a></td>')


def _bulk(org, village_code: str, n: int, *, status: str = "confirmed", start: date | None = None,
          category: str = "industry") -> list[int]:
    """``n`` records straight into the table (the paging, not the filing rules, is under
    test); dates repeat so that the id has to break ties."""
    start = start or date.today() - timedelta(days=10)
    now = datetime(2025, 1, 1)
    rows = [
        SupportRecord(organization_id=org.id, village_code=village_code, category=category, title=f"分页记录{i}",
                      record_date=start - timedelta(days=i // 7), status=status,
                      submitted_at=None if status == "draft" else now + timedelta(minutes=i % 5), amount=Decimal("1.00"))
        for i in range(n)
    ]
    _db.session.add_all(rows)
    _db.session.commit()
    return [r.id for r in rows]


def _expected(db, stmt) -> list[int]:
    return [r.id for r in db.session.scalars(stmt)]


def _walk(db, stmt, keys, **kw) -> tuple[list[int], list[int]]:
    """All ids following next links from the first page, then all following previous links
    back from the last page."""
    forward, pages = [], []
    args: dict = {}
    while True:
        page = paging.paginate(stmt, keys, args, **kw)
        pages.append(page)
        forward += [r.id for r in page.items]
        if not page.has_next:
            break
        args = {"after": page.next_cursor}
    backward = [r.id for r in pages[-1].items]
    page = pages[-1]
    while page.has_prev:
        page = paging.paginate(stmt, keys, {"before": page.prev_cursor}, **kw)
        backward = [r.id for r in page.items] + backward
    return forward, backward


@pytest.mark.parametrize("count_limit", [10_000, 5], ids=["small set", "large set"])
def test_forward_and_back_every_record_once_in_order(db, world, count_limit):
    _bulk(world.org, world.village.code, 23)
    _bulk(world.org, world.village.code, 6, status="submitted", start=date.today() - timedelta(days=3))
    stmt = services.record_list(world.county)
    expected = _expected(db, stmt)
    forward, backward = _walk(db, stmt, services.RECORD_ORDER, per_page=4, count_limit=count_limit)
    assert forward == expected and backward == expected
    assert len(set(forward)) == 29


def test_pending_order_and_funds_page_the_same_way(db, world):
    _bulk(world.org, world.village.code, 11, status="submitted")
    for stmt, keys in ((services.inbox(world.village_user), services.PENDING_ORDER),
                       (services.overdue(world.county), services.PENDING_ORDER)):
        expected = _expected(db, stmt)
        assert len(expected) == 11
        assert _walk(db, stmt, keys, per_page=3) == (expected, expected)
        assert _walk(db, stmt, keys, per_page=3, count_limit=2) == (expected, expected)
    fund = make_org("charity", name="测试基金")
    _db.session.add_all(FundContribution(organization_id=fund.id, donor=f"捐赠人{i}", amount=Decimal("10"),
                                         received_on=date(2024, 5, 1 + i % 3), receipt_no=f"R{i}") for i in range(8))
    _db.session.commit()
    stmt = funds.contributions(fund, world.admin)
    expected = _expected(db, stmt)
    assert len(expected) == 8 and _walk(db, stmt, funds.CONTRIBUTION_ORDER, per_page=3) == (expected, expected)


def test_a_page_counts_up_to_the_limit_and_then_says_more():
    page = paging.Page([], 42, 10_000, None, None)
    assert page.count_text == "共 42 条"
    assert paging.Page([], None, 10_000, None, None).count_text == "超过 10,000 条"


def _pages(session, url: str, pattern=NEXT) -> tuple[list[int], list[str]]:
    ids, bodies = [], []
    while url:
        response = session.get(url)
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        bodies.append(body)
        ids += [int(i) for i in ROW.findall(body)]
        link = pattern.search(body)
        url = link.group(1).replace("&amp;", "&") if link else None
    return ids, bodies


def test_the_list_pages_by_links_and_keeps_filters_and_scope(db, login_as, world, monkeypatch):
    mine = _bulk(world.org, world.village.code, 60, category="education")
    _bulk(world.org, world.village.code, 45, category="health")
    theirs = _bulk(world.other_org, world.far_village.code, 70, category="education")
    session = login_as(world.county)

    ids, bodies = _pages(session, "/records/?category=education")
    assert sorted(ids) == sorted(mine) and len(bodies) == 2
    assert "共 60 条" in bodies[0] and "category=education" in NEXT.search(bodies[0]).group(1)
    assert "上一页" not in bodies[0] and "下一页" not in bodies[1]
    back, _ = _pages(session, PREV.search(bodies[1]).group(1).replace("&amp;", "&"), PREV)
    assert back[:50] == ids[:50]
    assert not set(ids) & set(theirs)

    monkeypatch.setattr(paging, "COUNT_LIMIT", 100)
    ids, bodies = _pages(session, "/records/")
    assert len(ids) == len(set(ids)) == 105 and "超过 100 条" in bodies[0]
    assert ids == _expected(db, services.record_list(world.county))


def test_a_crafted_cursor_never_reaches_beyond_the_scope(db, login_as, world):
    mine = set(_bulk(world.org, world.village.code, 8))
    theirs = _bulk(world.other_org, world.far_village.code, 8, start=date.today() - timedelta(days=1))
    other = db.session.get(SupportRecord, theirs[3])
    cursor = paging.encode(services.RECORD_ORDER, other)
    session = login_as(world.county)
    for name in ("after", "before"):
        body = session.get(f"/records/?{name}={cursor}").get_data(as_text=True)
        shown = {int(i) for i in ROW.findall(body)}
        assert shown == mine
    # a cursor of another list's order is read as that list's values, within its scope
    assert session.get(f"/records/overdue?after={cursor}").status_code == 200


def _b64(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "garbage!!", "%%%", "a" * 5000, _b64({"a": 1}), _b64(["2024-01-01"]), _b64(["2024-01-01", "12"]),
    _b64(["2024-13-01", 5]), _b64(["2024-01-01", True]), _b64(["2024-01-01", 2**70]), _b64([None, 1]),
    _b64(["2024-01-01T00:00:00", 1]), base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    _b64(["2024-01-01T00:00:00+08:00", 1]), _b64(["\u0000", 1]), _b64(["0000-01-01", 1]),
])
def test_a_cursor_that_is_not_ours_starts_the_list_over(db, login_as, world, cursor):
    ids = _bulk(world.org, world.village.code, 55)
    first = [int(i) for i in ROW.findall(login_as(world.county).get("/records/").get_data(as_text=True))]
    session = login_as(world.county)
    for url in (f"/records/?after={cursor}", f"/records/?before={cursor}", f"/records/overdue?after={cursor}",
                f"/records/inbox?before={cursor}", f"/records/funds?after={cursor}"):
        response = session.get(url)
        assert response.status_code in (200, 403), url
    assert [int(i) for i in ROW.findall(session.get(f"/records/?after={cursor}").get_data(as_text=True))] == first
    assert len(first) == 50 and set(first) <= set(ids)
    assert login_as(world.village_user).get(f"/records/inbox?after={cursor}").status_code == 200
    assert login_as(world.admin).get(f"/records/funds?before={cursor}").status_code == 200


def test_cursors_read_back_what_they_hold(db, world):
    (rid,) = _bulk(world.org, world.village.code, 1, status="submitted")
    record = db.session.get(SupportRecord, rid)
    assert paging.decode(services.RECORD_ORDER, paging.encode(services.RECORD_ORDER, record)) == [record.record_date, rid]
    assert paging.decode(services.PENDING_ORDER, paging.encode(services.PENDING_ORDER, record)) == [record.submitted_at, rid]
    fund = make_org("charity", name="名字带“引号”的基金")
    assert paging.decode(funds.FUND_ORDER, paging.encode(funds.FUND_ORDER, fund)) == [fund.name, fund.id]
    assert db.session.scalar(select(SupportRecord.id).where(SupportRecord.id == rid)) == rid
