"""An update import looks up the people and postings its rows name a few at a time,
not one query a row (``ImportKind.prefetch``, ``privacy.VisiblePeople``): the same list
exported masked and imported back unchanged makes as many statements with 24 rows as
with 6. (A 40,000-row people update made one query a row: 20 s, now 2.6 s; /tmp bench
in the session note.)"""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from tests.factories import COUNTY, make_org, make_person, make_posting, make_village
from tests.sheets import upload


def _statements(db, run, seen: list | None = None) -> int:
    """How many statements ``run()`` makes (appended to ``seen`` if given)."""
    seen = [] if seen is None else seen

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return len(seen)


def _round_trip(db, county, kind: str, path: str, rows: int) -> int:
    exported = county.get(f"{path}?masked=1")
    assert exported.status_code == 200, exported.data[:500]
    response = None

    def run():
        nonlocal response
        response = upload(county, kind, exported.data, f"{kind}.xlsx", update=True)

    count = _statements(db, run)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    page = county.get(response.headers["Location"]).get_data(as_text=True)
    assert f"新增 0 条，更新 0 条，{rows} 条与已登记的相同，未改动" in page
    return count


def _counts_for_6_and_24_rows(login_as, make_user, measure) -> list[int]:
    """``measure(county, rows)`` (the statements of one import) with 6 cadres and their
    postings registered in a county, then with 24."""
    village = make_village()
    org = make_org("backing_unit", COUNTY, level="county")
    county = login_as(make_user("region", region_code=COUNTY))
    counts = []
    for n in (6, 18):  # 6 rows, then 24
        for _ in range(n):
            person = make_person(org)
            make_posting(person, org, village.code, role="team_member", start=date(2024, 1, 1),
                         dispatch_level="county")
        counts.append(measure(county, 6 if n == 6 else 24))
    return counts


KINDS = pytest.mark.parametrize(("kind", "path"), [("people", "/people/export.xlsx"),
                                                   ("postings", "/postings/export.xlsx")])


@KINDS
def test_an_unchanged_update_makes_as_many_statements_for_24_rows_as_for_6(db, login_as, make_user, kind, path):
    counts = _counts_for_6_and_24_rows(login_as, make_user, lambda county, rows: _round_trip(db, county, kind, path, rows))
    assert counts[1] == counts[0], counts


def _refused(db, county, kind: str, path: str, rows: int) -> int:
    exported = county.get(f"{path}?purpose=核对名单")  # numbers in full: the same rows again, not as an update
    response = None

    def run():
        nonlocal response
        response = upload(county, kind, exported.data, f"{kind}.xlsx")

    count = _statements(db, run)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"{rows} 行有 {rows} 处错误" in page, page[-2000:]
    return count


@KINDS
def test_a_file_imported_twice_is_refused_in_as_many_statements_for_24_rows_as_for_6(db, login_as, make_user,
                                                                                        kind, path):
    """The same file again without 更新已有数据: every row is refused as registered
    already, and the stored objects the rows name are read a batch at a time (a county's
    20,000 cadres imported twice took 9 s at the console, one look-up a row; now 3 s)."""
    counts = _counts_for_6_and_24_rows(login_as, make_user, lambda county, rows: _refused(db, county, kind, path, rows))
    assert counts[1] == counts[0], counts


def test_organizations_are_imported_refused_and_updated_in_no_more_statements_for_24_rows_than_for_6(
        db, login_as, make_user):
    """A file of organizations: the stored ones it names and the holders of its credit
    codes are read a batch at a time, and the new ones written in one flush (5,000
    enterprises took 11 s to import, 5 s to refuse again and 15 s to re-import as an
    update, one look-up and one flush a row; now 1.9, 0.8 and 2.5 s)."""
    from tests.factories import valid_credit_code

    county = login_as(make_user("region", region_code=COUNTY))

    def file(first: int, n: int) -> bytes:
        rows = "".join(f"测试企业{i},企业,{COUNTY},{valid_credit_code(9000 + i)},张三\n" for i in range(first, first + n))
        return ("单位名称,主体类型,所在行政区,统一社会信用代码,联系人\n" + rows).encode("utf-8-sig")

    _three_ways(db, county, "organizations", "INSERT INTO organization ", file)


def test_pairings_are_imported_refused_and_updated_in_no_more_statements_for_24_rows_than_for_6(db, login_as, make_user):
    """A file of pairings: the organizations, places and pairings it names are read a
    batch at a time, the new ones written in one flush (3,000 village–enterprise
    pairings took 18 s to import, 5 s to refuse again and 5.5 s as an unchanged update:
    a few look-ups and a flush a row; now 1.6, 0.5 and 0.6 s)."""
    county = login_as(make_user("region", region_code=COUNTY))
    orgs = [make_org("enterprise", COUNTY, name=f"结对企业{i}") for i in range(32)]
    villages = [make_village(n=i + 1) for i in range(32)]

    def file(first: int, n: int) -> bytes:
        rows = "".join(f"{orgs[i].name},{villages[i].code},村企结对,2025-03-01\n" for i in range(first, first + n))
        return ("帮扶主体,结对地,结对类型,开始日期\n" + rows).encode("utf-8-sig")

    _three_ways(db, county, "pairings", "INSERT INTO pairing ", file)


def _three_ways(db, county, kind: str, insert: str, file) -> None:
    """A new file of ``kind`` imported, the same again (refused) and again as an update
    (unchanged): no more statements for 24 rows than for 6 (after 2, which read a few
    things once), but for the ORM's one insert a new row (one for all where the driver
    batches them, as on PostgreSQL)."""
    counts = []
    for first, n in ((0, 2), (2, 6), (8, 24)):
        data, said = file(first, n), {}

        def run(update=False, expect=302):
            response = upload(county, kind, data, f"{kind}.csv", update=update)
            assert response.status_code == expect, response.get_data(as_text=True)[-2000:]
            said[(update, expect)] = (county.get(response.headers["Location"]).get_data(as_text=True)
                                      if expect == 302 else response.get_data(as_text=True))

        made: list[str] = []
        _statements(db, run, made)
        inserts = sum(statement.startswith(insert) for statement in made)
        counts.append((len(made) - inserts, _statements(db, lambda: run(expect=422)),
                       _statements(db, lambda: run(update=True))))
        assert inserts in (1, n)
        assert f"新增 {n} 条" in said[(False, 302)] and f"{n} 行有 {n} 处错误" in said[(False, 422)]
        assert f"新增 0 条，更新 0 条，{n} 条与已登记的相同，未改动" in said[(True, 302)]
    assert all(more <= few for few, more in zip(counts[1], counts[2])), counts
