"""Villages: export (the import's columns), import into a database without them, export
again: the same cells; a re-import refuses the duplicates or, when asked, updates."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.extensions import db
from registry.regions.imports import VillageImport
from registry.regions.models import Region
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village


def _cells(body: bytes, fmt: str):
    if fmt == "csv":
        return body.decode("utf-8-sig")
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(body)).worksheets[0].iter_rows()]


def _villages() -> int:
    return db.session.scalar(select(func.count()).select_from(Region).where(Region.level == "village"))


def _upload(session, body: bytes, name: str, update: bool = False):
    data = {"file": (io.BytesIO(body), name)}
    if update:
        data["update"] = "y"
    return session.post("/import/villages", data=data, content_type="multipart/form-data")


@pytest.fixture()
def villages(db):
    made = [make_village(COUNTY, 1, is_key=True), make_village(COUNTY, 2, is_poor=True), make_village(COUNTY, 3)]
    made[2].name, made[2].is_relocation = "=安置点社区", True  # a name a spreadsheet would take for a formula
    make_village(OTHER_COUNTY, 4)  # not under the county: not exported with it
    db.session.commit()
    return made


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_villages_round_trip(villages, login_as, make_user, fmt):
    admin = login_as(make_user("admin"))
    first = admin.get(f"/regions/{COUNTY}/villages.{fmt}")
    assert first.status_code == 200
    cells = _cells(first.data, fmt)
    if fmt == "xlsx":
        assert cells[0] == [c.header for c in VillageImport.export_columns()]
        assert [r[0] for r in cells[1:]] == [v.code for v in villages]
        assert cells[3][1:6] == ["'=安置点社区", villages[2].parent_code, "否", "否", "是"]
    db.session.execute(delete(Region).where(Region.code.in_([v.code for v in villages])))
    db.session.commit()
    response = _upload(admin, first.data, f"v.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _villages() == 4
    assert _cells(admin.get(f"/regions/{COUNTY}/villages.{fmt}").data, fmt) == _cells(first.data, fmt)
    again = _upload(admin, first.data, f"v.{fmt}")
    assert again.status_code == 422 and "系统中已有这条数据" in again.get_data(as_text=True)
    assert _villages() == 4


def test_villages_with_dependants_stay_and_the_rest_come_back(villages, login_as, make_user):
    """The villages a posting points to cannot go; deleting the others and importing the
    file with "update" brings them back and leaves the kept ones as they were."""
    org = make_org("backing_unit", COUNTY)
    make_posting(make_person(org), org, villages[0].code, start=date(2024, 1, 1))
    admin = login_as(make_user("admin"))
    first = admin.get(f"/regions/{COUNTY}/villages.csv").data  # read (it streams) before the rows go
    db.session.execute(delete(Region).where(Region.code.in_([v.code for v in villages[1:]])))
    db.session.commit()
    assert _upload(admin, first, "v.csv").status_code == 422  # the kept village is a duplicate
    assert _villages() == 2
    assert _upload(admin, first, "v.csv", update=True).status_code == 302
    assert _villages() == 4
    assert _cells(admin.get(f"/regions/{COUNTY}/villages.csv").data, "csv") == _cells(first, "csv")


def test_the_villages_export_is_scoped(villages, login_as, make_user):
    county = login_as(make_user("region", region_code=COUNTY))
    assert county.get(f"/regions/{OTHER_COUNTY}/villages.csv").status_code == 404
    body = county.get(f"/regions/{COUNTY}/villages.csv").get_data(as_text=True)
    assert villages[0].code in body and "测试4村" not in body
    assert county.get(f"/regions/{COUNTY}/villages.pdf").status_code == 404
    assert f'/regions/{COUNTY}/villages.xlsx' in county.get(f"/regions/{COUNTY}").get_data(as_text=True)


def test_a_large_villages_export_runs_as_a_job(villages, login_as, make_user, app, monkeypatch):
    from registry.transfer import jobs

    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 2)
    admin = login_as(make_user("admin"))
    response = admin.get(f"/regions/{COUNTY}/villages.csv")
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"]
    assert jobs.work(once=True) == 1
    body = admin.get(response.headers["Location"] + "/download").data.decode("utf-8-sig")
    assert [line.split(",")[0] for line in body.splitlines()[1:]] == [v.code for v in villages]
