"""Pairings exported and imported back as an update (``pairings/imports.py``): the rows
left alone are skipped, an end date added ends the pairing as the page's 结束结对 does
(its rule, its audit event, text added to 备注 as the ending's note), and any other
change to a stored pairing is refused on its row, with nothing written."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.pairings.models import Pairing
from tests.factories import COUNTY, make_org, make_village
from tests.sheets import sheet_rows, upload, xlsx_bytes


@pytest.fixture()
def pairings(db):
    village = make_village()
    org = make_org("enterprise", COUNTY, name="甲公司")
    unit = make_org("paired_unit", COUNTY, name="对口单位", subtype="education", credit_code=None)
    rows = [Pairing(organization_id=org.id, region_code=village.code, kind="enterprise_village",
                    start_date=date(2023, 1, 1), end_date=date(2023, 12, 31), note="第一期"),
            Pairing(organization_id=org.id, region_code=village.code, kind="enterprise_village",
                    start_date=date(2024, 1, 1), note="第二期"),
            Pairing(organization_id=unit.id, region_code=COUNTY, kind="paired", sector="education",
                    start_date=date(2024, 3, 5))]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _export(county) -> list[list]:
    response = county.get("/pairings/export.xlsx")
    assert response.status_code == 200
    return sheet_rows(response.data, "xlsx")


def _events(db) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def _row(rows: list[list], note: str) -> list:
    return next(row for row in rows if row[6] == note)


def test_an_unchanged_export_imported_as_an_update_changes_nothing(db, login_as, make_user, pairings):
    county = login_as(make_user("region", region_code=COUNTY))
    rows = _export(county)
    before = [(p.end_date, p.note, p.version) for p in db.session.scalars(select(Pairing).order_by(Pairing.id))]
    response = upload(county, "pairings", xlsx_bytes(rows), "p.xlsx", update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    page = county.get(response.headers["Location"]).get_data(as_text=True)
    assert "新增 0 条，更新 0 条，3 条与已登记的相同，未改动" in page
    db.session.expire_all()
    assert [(p.end_date, p.note, p.version) for p in db.session.scalars(select(Pairing).order_by(Pairing.id))] == before


def test_an_end_date_added_ends_the_pairing_as_the_page_does(db, login_as, make_user, pairings):
    county = login_as(make_user("region", region_code=COUNTY))
    rows = _export(county)
    ending = _row(rows, "第二期")
    yesterday = local_today() - timedelta(days=1)
    ending[5], ending[6] = yesterday, "第二期\n村集体接手"
    events = _events(db)
    response = upload(county, "pairings", xlsx_bytes(rows), "p.xlsx", update=True)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert "新增 0 条，更新 1 条，2 条与已登记的相同" in county.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    ended = db.session.get(Pairing, pairings[1].id)
    assert ended.end_date == yesterday
    assert ended.note == f"第二期\n结束说明（{yesterday.year}年{yesterday.month}月{yesterday.day}日）：村集体接手"
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(_events(db) - events)).all()
    assert sorted(actions) == ["end", "import_pairings"]
    # the exported list now shows it ended, and imports back unchanged
    again = upload(county, "pairings", xlsx_bytes(_export(county)), "p.xlsx", update=True)
    assert "3 条与已登记的相同" in county.get(again.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize(("column", "value", "message"), [
    (3, "文化", "不能修改帮扶领域"),  # the paired unit's sector
    (5, "tomorrow", "结束日期不能晚于今天"),
    (6, "改过的备注", "备注不能修改"),
])
def test_any_other_change_to_a_stored_pairing_is_refused_on_its_row(db, login_as, make_user, pairings, column, value,
                                                                    message):
    county = login_as(make_user("region", region_code=COUNTY))
    rows = _export(county)
    target = rows[1 + next(i for i, row in enumerate(rows[1:]) if row[2] == "对口帮扶")]
    target[column] = local_today() + timedelta(days=1) if value == "tomorrow" else value
    events, versions = _events(db), [p.version for p in db.session.scalars(select(Pairing).order_by(Pairing.id))]
    response = upload(county, "pairings", xlsx_bytes(rows), "p.xlsx", update=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and message in page, page[-3000:]
    assert f"第{rows.index(target) + 1}行" in page or f"<td>{rows.index(target) + 1}</td>" in page
    db.session.expire_all()
    assert _events(db) == events
    assert [p.version for p in db.session.scalars(select(Pairing).order_by(Pairing.id))] == versions


def test_without_update_a_stored_pairing_is_still_refused(db, login_as, make_user, pairings):
    county = login_as(make_user("region", region_code=COUNTY))
    response = upload(county, "pairings", xlsx_bytes(_export(county)), "p.xlsx")
    assert response.status_code == 422 and "不能重复结对" in response.get_data(as_text=True)


def test_rows_whose_periods_overlap_are_refused_by_row_and_new_pairings_saved_together(db, login_as, make_user,
                                                                                        pairings):
    """Two rows of one organization, place and kind whose periods overlap: the second is
    refused on its own row (before, both passed their checks and the save stopped with
    no row named); rows that follow one another are saved, each audited."""
    county = login_as(make_user("region", region_code=COUNTY))
    other = make_village(n=2)
    org = "甲公司"
    header = ["帮扶主体", "结对地", "结对类型", "开始日期", "结束日期"]
    first = [org, other.code, "村企结对", "2025-01-01", "2025-06-30"]
    overlapping = [org, other.code, "村企结对", "2025-06-01", None]
    response = upload(county, "pairings", xlsx_bytes([header, first, overlapping]), "p.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "B3" in page and "B2" not in page
    assert f"文件前面的行已有甲公司与{other.name}的村企结对（2025年1月1日至2025年6月30日），时间重叠，不能重复结对" in page
    events = _events(db)
    following = [org, other.code, "村企结对", "2025-07-01", None]
    response = upload(county, "pairings", xlsx_bytes([header, first, following]), "p.xlsx")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    saved = db.session.scalars(select(Pairing).where(Pairing.region_code == other.code).order_by(Pairing.start_date)).all()
    assert [(p.start_date, p.end_date) for p in saved] == [(date(2025, 1, 1), date(2025, 6, 30)), (date(2025, 7, 1), None)]
    assert _events(db) == events + 3  # each pairing, and the import
    again = upload(county, "pairings", xlsx_bytes([header, following]), "p.xlsx").get_data(as_text=True)
    assert f"甲公司与{other.name}已有村企结对（2025年7月1日起，尚未结束），不能重复结对" in again
