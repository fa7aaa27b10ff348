"""Divisions and the village import (all or nothing, errors by row and column)."""
from __future__ import annotations

import io

from openpyxl import Workbook
from sqlalchemy import func, select

from registry.regions.models import Region
from registry.regions.services import import_villages


def _count(db, level):
    return db.session.scalar(select(func.count()).select_from(Region).where(Region.level == level))


def test_divisions_loaded(db):
    assert _count(db, "province") == 1
    assert _count(db, "city") == 14
    assert _count(db, "county") == 122
    assert _count(db, "township") == 1947


def test_parent_is_the_code_prefix(db):
    for region in db.session.scalars(select(Region).where(Region.parent_code.is_not(None))):
        assert region.code.startswith(region.parent.prefix), region.code


GOOD = "code,name,township_code,is_poor,is_key,is_relocation\n433101005201,甲村,433101005000,是,是,否\n433101005202,乙村,433101005000,0,0,1\n"


def test_import_villages_from_csv(db, tmp_path):
    path = tmp_path / "villages.csv"
    path.write_text(GOOD, encoding="utf-8")
    result = import_villages(path, path.name)
    db.session.commit()
    assert result.ok and result.created == 2
    village = db.session.get(Region, "433101005201")
    assert village.is_key and village.is_poor and not village.is_relocation
    assert village.parent_code == "433101005000"


def test_import_refuses_bad_rows_and_writes_nothing(db, tmp_path):
    path = tmp_path / "villages.csv"
    path.write_text(
        GOOD
        + "43310100520,短码村,433101005000,否,否,否\n"
        + "433102001203,错乡镇村,433101005000,否,否,否\n"
        + "433101005204,,433101005000,也许,否,否\n",
        encoding="utf-8",
    )
    result = import_villages(path, path.name)
    db.session.rollback()
    assert not result.ok
    assert (4, "code", "村代码应为12位数字") in result.errors
    assert any(row == 5 and column == "code" for row, column, _ in result.errors)
    assert (6, "name", "村名称不能为空") in result.errors
    assert (6, "is_poor", "应填“是”或“否”") in result.errors
    assert _count(db, "village") == 0


def test_import_villages_from_xlsx_with_chinese_headers(db):
    wb = Workbook()
    ws = wb.active
    ws.append(["村代码", "村名称", "乡镇代码", "脱贫村", "重点帮扶村", "易地扶贫搬迁安置点"])
    ws.append(["433101005201", "甲村", "433101005000", "是", "否", "否"])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    result = import_villages(buf, "villages.xlsx")
    db.session.commit()
    assert result.ok and _count(db, "village") == 1


def test_cli_import_reports_row_errors(runner, db, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("code,name,township_code,is_poor,is_key,is_relocation\n433101005201,甲村,999999999000,否,否,否\n", encoding="utf-8")
    result = runner.invoke(args=["regions", "import-villages", str(path)])
    assert result.exit_code == 1
    assert "第2行 [township_code]：乡镇代码不存在" in result.output
    assert _count(db, "village") == 0


def test_sqlite_runs_in_wal_with_immediate_writes(app, db):
    if db.engine.dialect.name != "sqlite":
        return
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_the_breadcrumbs_name_only_the_ancestors_in_the_users_scope(db, make_user, login_as):
    """A village page's crumbs: a county user's start at the county, the province's at the
    province; no link leads to a division outside the user's scope."""
    import re

    from tests.factories import COUNTY, PROVINCE, make_village

    village = make_village(COUNTY, 1)
    township = db.session.get(Region, village.parent_code)
    county = login_as(make_user("region", region_code=COUNTY))
    province = login_as(make_user("region", region_code=PROVINCE))

    def crumbs(session) -> list[str]:
        page = session.get(f"/regions/{village.code}")
        assert page.status_code == 200
        nav = re.search(r'<nav class="crumbs".*?</nav>', page.get_data(as_text=True), re.S).group()
        return re.findall(r'href="/regions/(\d{12})"', nav)

    assert crumbs(county) == [COUNTY, township.code]
    assert crumbs(province) == [PROVINCE, "433100000000", COUNTY, township.code]
