"""代为填报: region staff file and import support records on a unit's behalf, for units that
help villages inside their region and only for those villages; the record stays the unit's,
remembers who filed it, and goes to the village as any other."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import canonical, snapshot, verify_chain
from registry.core.rules import RuleViolation
from registry.extensions import db as _db
from registry.records import filers, filing, services
from registry.records.models import SupportRecord
from tests.factories import COUNTY
from tests.factories_records import record_data, world  # noqa: F401
from tests.sheets import sheet_rows, upload

HEADER = ["编号", "村", "帮扶单位", "帮扶类别", "标题", "直接投入资金（元）", "帮扶日期"]
DAY = (date.today() - timedelta(days=10)).isoformat()


def _csv(rows, header=HEADER) -> bytes:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _row(village, org, reference, **kw) -> list:
    values = {"编号": reference, "村": f"{village.name}（{village.code}）", "帮扶单位": org, "帮扶类别": "产业",
              "标题": "代填的产业路", "直接投入资金（元）": "5万", "帮扶日期": DAY}
    values.update(kw)
    return [values[h] for h in HEADER]


def _count() -> int:
    return _db.session.scalar(select(func.count()).select_from(SupportRecord))


def _events_since(first: int) -> list[AuditEvent]:
    return _db.session.scalars(select(AuditEvent).where(AuditEvent.id > first).order_by(AuditEvent.id)).all()


def _last_event_id() -> int:
    return _db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


# -- the rule ---------------------------------------------------------------------------------

def test_who_may_file_for_which_unit(db, world):
    from tests.factories import make_pairing

    assert [o.id for o in filers.acting_organizations(world.county)] == [world.org.id]
    assert [o.id for o in filers.acting_organizations(world.township)] == [world.org.id]
    assert [o.id for o in filers.acting_organizations(world.other_county)] == [world.other_org.id]
    assert [o.id for o in filers.acting_organizations(world.unit)] == [world.org.id]
    for nobody in (world.viewer, world.admin, world.village_user):
        assert filers.acting_organizations(nobody) == []
    assert filers.filer_for(world.county, world.org.id).within.code == COUNTY
    assert not filers.filer_for(world.unit).on_behalf
    with pytest.raises(RuleViolation) as outside:
        filers.filer_for(world.county, world.other_org.id)
    assert "不在您可以代为填报的单位之列" in outside.value.errors["organization_id"][0]
    with pytest.raises(RuleViolation) as unchosen:
        filers.filer_for(world.county)
    assert "请选择帮扶单位" in unchosen.value.message
    for refused in (world.viewer, world.admin, world.village_user):
        with pytest.raises(RuleViolation):
            filers.filer_for(refused, world.org.id)
    # the unit's villages, inside the staff member's region only
    assert filers.filer_village_codes(world.org.id, world.county.region) == {world.village.code,
                                                                              world.posted_village.code}
    assert filers.filer_village_codes(world.org.id, world.other_county.region) == set()
    # a county-wide pairing (对口帮扶 of a county) makes the unit one its county and townships act for
    assert set(filers.acting_village_names(world.county)) == {world.village.code, world.posted_village.code}
    make_pairing(world.other_org, COUNTY, "paired")
    assert {o.id for o in filers.acting_organizations(world.township)} == {world.org.id, world.other_org.id}
    assert world.stranger_village.code in filers.filer_village_codes(world.other_org.id, world.township.region)
    # the villages offered are those of every unit the staff may act for, in one query
    union = set()
    for org in filers.acting_organizations(world.township):
        union |= filers.filer_village_codes(org.id, world.township.region)
    assert set(filers.acting_village_names(world.township)) == union and world.stranger_village.code in union
    assert filers.acting_village_names(world.viewer) == {}


def test_the_villages_of_many_units_read_at_once_are_each_units_own(db, world):
    """``filer_village_names_of`` (a file naming many units) gives every unit, within every
    region, exactly what ``filer_village_names`` gives it alone: villages paired with and
    posted to, those inside a county or township a pairing binds, none of a pairing that
    has not started."""
    from tests.factories import first_township, make_org, make_pairing

    other, township_unit, future, idle = (make_org("backing_unit", COUNTY, name=f"单位{i}") for i in range(4))
    make_pairing(other, COUNTY, "paired", sector="education")
    make_pairing(township_unit, first_township(COUNTY).code, "paired", sector="health")
    make_pairing(township_unit, world.posted_village.code, "resident")
    make_pairing(future, world.village.code, "resident", start=date.today() + timedelta(days=30))
    units = [world.org.id, world.other_org.id, other.id, township_unit.id, future.id, idle.id]
    for within in (None, world.county.region, world.township.region, world.other_county.region):
        together = filers.filer_village_names_of(units, within)
        assert together == {unit: filers.filer_village_names(unit, within) for unit in units}, within
    assert filers.filer_village_names_of([other.id], world.county.region)[other.id]  # a county's villages
    assert filers.filer_village_names_of([future.id])[future.id] == {} and filers.filer_village_names_of([]) == {}


def test_region_staff_file_for_the_unit_the_village_confirms_and_the_unit_sees_it(db, world, login_as):
    first = _last_event_id()
    record = services.create_record(world.county, record_data(world.village.code, title="代填"),
                                    organization_id=world.org.id)
    assert (record.organization_id, record.status, record.on_behalf_region_code, record.created_by_id) == (
        world.org.id, "submitted", COUNTY, world.county.id)  # no draft: straight to the village
    created, submitted = _events_since(first)
    assert (created.action, submitted.action) == ("create", "submit")
    # the event names both: the staff member who filed it and the unit it was filed for
    assert created.actor == world.county.username and created.organization_id == world.org.id
    assert world.org.name in created.summary and "代" in created.summary and "乡村振兴局" in created.summary
    assert json.loads(created.after)["on_behalf_region_code"] == COUNTY and verify_chain().ok

    unit_page = login_as(world.unit).get(f"/records/{record.id}").get_data(as_text=True)
    assert "代为填报" in unit_page and world.county.region.name in unit_page
    assert "代填" in login_as(world.unit).get("/records/").get_data(as_text=True)
    services.confirm_record(record, world.village_user)
    assert record.status == "confirmed"
    # another county's staff cannot see it; the unit, not the county, is the filer afterwards
    # (a correction of the confirmed record is the unit's to file)
    assert login_as(world.other_county).get(f"/records/{record.id}").status_code == 404
    from registry.records.rules import refusal

    assert refusal(record, world.county, "correct") and refusal(record, world.unit, "correct") is None


def test_villages_outside_the_unit_or_the_region_are_refused(db, world):
    from tests.factories import make_pairing

    make_pairing(world.org, world.far_village.code)  # the unit helps there too, but it is not this county's
    for village in (world.far_village, world.stranger_village):
        with pytest.raises(RuleViolation) as refused:
            services.create_record(world.county, record_data(village.code), organization_id=world.org.id)
        assert refused.value.errors["village_code"] == [filing.OUTSIDE_ACTING]
    with pytest.raises(RuleViolation):
        services.create_record(world.viewer, record_data(world.village.code), organization_id=world.org.id)
    assert _count() == 0


def test_the_pages_offer_only_units_the_staff_may_act_for(db, world, login_as):
    county = login_as(world.county)
    listing = county.get("/records/").get_data(as_text=True)
    assert 'href="/records/new"' in listing and 'href="/import/records"' in listing
    choose = county.get("/records/new").get_data(as_text=True)
    assert world.org.name in choose and world.other_org.name not in choose
    assert county.get(f"/records/new?organization={world.other_org.id}").status_code == 404
    assert county.get("/records/new?organization=999999").status_code == 404
    form = county.get(f"/records/new?organization={world.org.id}").get_data(as_text=True)
    assert world.village.code in form and world.far_village.code not in form and "保存草稿" not in form
    bad = county.post(f"/records/new?organization={world.other_org.id}", data=record_data(world.far_village.code))
    assert bad.status_code == 404
    refused = county.post(f"/records/new?organization={world.org.id}", data=record_data(world.far_village.code))
    assert refused.status_code == 422 and filing.OUTSIDE_ACTING in refused.get_data(as_text=True)
    done = county.post(f"/records/new?organization={world.org.id}",
                       data={**record_data(world.village.code), "action": "save"})
    assert done.status_code == 302
    record = _db.session.scalars(select(SupportRecord)).one()
    assert record.status == "submitted" and record.organization_id == world.org.id
    page = county.get(f"/records/{record.id}").get_data(as_text=True)
    assert "代为填报" in page and 'id="on-behalf"' in page
    viewer = login_as(world.viewer)
    assert viewer.get("/records/new").status_code == 403
    assert viewer.post(f"/records/new?organization={world.org.id}",
                       data=record_data(world.village.code)).status_code == 403
    assert 'href="/records/new"' not in viewer.get("/records/").get_data(as_text=True)
    assert _count() == 1


# -- the import -------------------------------------------------------------------------------

def test_region_staff_import_on_behalf_row_by_row(db, world, login_as):
    county = login_as(world.county)
    org = f"{world.org.name}（{world.org.credit_code}）"
    bad = _csv([_row(world.village, org, "Q-1"),
                _row(world.village, world.other_org.name, "Q-2"),  # a unit of another county
                _row(world.far_village, world.org.credit_code, "Q-3"),  # a village outside the county
                _row(world.village, "", "Q-4"),  # no unit named
                _row(world.stranger_village, world.org.name, "Q-5")])  # in the county, but not the unit's
    response = upload(county, "records", bad, "r.csv")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "C3" in page and "帮扶单位“测试企业”不存在或不在您的范围内" in page
    assert page.count(filing.OUTSIDE_ACTING) == 2 and "B4" in page and "B6" in page
    assert "C5" in page and "请填写帮扶单位" in page
    assert _count() == 0

    first = _last_event_id()
    good = _csv([_row(world.village, org, "Q-1"), _row(world.posted_village, world.org.credit_code, "Q-2",
                                                       村=world.posted_village.name)])
    response = upload(county, "records", good, "r.csv")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    records = _db.session.scalars(select(SupportRecord).order_by(SupportRecord.id)).all()
    assert [(r.reference, r.organization_id, r.status, r.on_behalf_region_code, r.created_by_id) for r in records] == [
        ("Q-1", world.org.id, "submitted", COUNTY, world.county.id),
        ("Q-2", world.org.id, "submitted", COUNTY, world.county.id)]
    events = _events_since(first)
    assert [e.action for e in events] == ["create", "create", "import_records"]
    assert events[0].actor == world.county.username and events[0].organization_id == world.org.id
    assert world.org.name in events[0].summary and "代" in events[0].summary
    assert events[0].after == canonical(snapshot(records[0])) and verify_chain().ok
    # the unit sees them; the village confirms them as any other
    assert "Q-2" in login_as(world.unit).get("/records/").get_data(as_text=True)
    services.confirm_record(records[0], world.village_user)
    # the same file again: refused by row, naming the unit
    again = upload(county, "records", good, "r.csv").get_data(as_text=True)
    assert f"{world.org.name}已有编号为“Q-1”的记录" in again and _count() == 2


def test_a_row_twice_in_a_region_file_names_the_unit_and_the_number(db, world, login_as):
    """Region staff file for several units, which may use the same 编号: a row repeated is
    the same 编号 of the same unit, and the report says both."""
    from tests.factories import make_org, make_pairing

    neighbour = make_org(region_code=COUNTY, name="县里另一个帮扶单位")
    make_pairing(neighbour, world.village.code)
    county = login_as(world.county)
    rows = [_row(world.village, world.org.credit_code, "Q-1"), _row(world.village, neighbour.name, "Q-1"),
            _row(world.village, world.org.name, "Q-1")]
    page = upload(county, "records", _csv(rows), "r.csv").get_data(as_text=True)
    assert "与第2行重复（编号、帮扶单位相同，同一条数据在文件中出现两次）" in page and "A4" in page
    assert "第3行" not in page and _count() == 0


def test_the_template_and_a_region_ledger_round_trip(db, world, login_as):
    county = login_as(world.county)
    book = load_workbook(io.BytesIO(county.get("/import/records/template.xlsx").data))
    header = [c.value for c in book.worksheets[0][1]]
    assert header[:3] == ["编号", "村", "帮扶单位"]
    words = " ".join(str(v.formula1) for v in book.worksheets[0].data_validations.dataValidation)
    words += " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert world.org.credit_code in words and world.other_org.name not in words
    assert world.village.code in words and world.far_village.code not in words and "必填：代哪个帮扶单位填报" in words
    # a file without the unit column is refused as a whole
    missing = upload(county, "records", _csv([["Q-9", world.village.code]], header=["编号", "村"]), "r.csv")
    assert missing.status_code == 422 and "缺少必填列“帮扶单位”" in missing.get_data(as_text=True)

    services.create_record(world.county, record_data(world.village.code, reference="L-1"), organization_id=world.org.id)
    # (distinct dates: the ledger lists the newest first, an import writes a file's rows in order)
    services.create_record(world.unit, record_data(world.posted_village.code, reference="L-2",
                                                   record_date=(date.today() - timedelta(days=30)).isoformat()),
                           submit=True)
    first = county.get("/records/export.csv")
    before = sheet_rows(first.data, "csv")
    _db.session.execute(delete(SupportRecord))
    _db.session.commit()
    response = upload(county, "records", first.data, "ledger.csv")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert sheet_rows(county.get("/records/export.csv").data, "csv") == before


def test_the_cli_imports_for_a_region_user(db, world, runner, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(_csv([_row(world.village, world.org.name, "K-1")]))
    done = runner.invoke(args=["import", "records", str(path), "--as", world.county.username])
    assert done.exit_code == 0 and "新增 1 条" in done.output, done.output
    outside = runner.invoke(args=["import", "records", str(path), "--as", world.other_county.username])
    assert outside.exit_code == 1 and "[帮扶单位]" in outside.output and _count() == 1
    refused = runner.invoke(args=["import", "records", str(path), "--as", world.viewer.username])
    assert refused.exit_code != 0 and "没有导入帮扶记录的权限" in refused.output and _count() == 1


def test_a_region_file_reads_its_units_together_however_many_it_names(db, world, login_as):
    """The units a region's file names are read in a few statements for them all: the
    same file again (refused) makes as many statements naming 8 units as naming 2."""
    from sqlalchemy import event

    from tests.factories import make_org, make_pairing

    units = [make_org("backing_unit", COUNTY, name=f"代填单位{i}") for i in range(10)]
    for unit in units:
        make_pairing(unit, world.village.code, "resident")
    county = login_as(world.county)
    counts = []
    for first, n in ((0, 2), (2, 8)):
        body = _csv([_row(world.village, unit.name, f"M-{i}") for i, unit in enumerate(units[first:first + n])])
        assert upload(county, "records", body, "r.csv").status_code == 302
        seen = []

        def note(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", note)
        try:
            page = upload(county, "records", body, "r.csv").get_data(as_text=True)
        finally:
            event.remove(_db.engine, "before_cursor_execute", note)
        assert f"{n} 行有 {n} 处错误" in page
        counts.append(len(seen))
    assert counts[1] == counts[0], counts
