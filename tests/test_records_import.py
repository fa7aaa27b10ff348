"""帮扶记录 import: a unit's own records, checked by the filing rule, keyed by 编号, all or
nothing; the ledger round-trips; the summaries equal a rebuild."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import canonical, snapshot, verify_chain
from registry.extensions import db as _db
from tests.factories_records import file_record, world  # noqa: F401
from tests.sheets import sheet_rows, upload

HEADER = ["编号", "村", "填报单位", "帮扶类别", "标题", "内容说明", "直接投入资金（元）", "引进资金（元）", "实物折价（元）",
          "受益户数", "受益人数", "带动就业人数", "帮扶日期"]


_cells = sheet_rows


def _csv(rows, header=HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def _post(client, body: bytes, name="records.csv", update=False):
    return upload(client, "records", body, name, update)


def _records():
    from registry.records.models import SupportRecord

    _db.session.expire_all()
    return _db.session.scalars(select(SupportRecord).order_by(SupportRecord.id)).all()


def _count() -> int:
    from registry.records.models import SupportRecord

    return _db.session.scalar(select(func.count()).select_from(SupportRecord))


def _day(days_ago=10) -> str:
    return (date.today() - timedelta(days=days_ago)).isoformat()


def _row(village, reference="A-1", **kw) -> list:
    values = {"编号": reference, "村": f"示例（{village.code}）", "填报单位": "", "帮扶类别": "产业", "标题": "捐建产业路",
              "内容说明": "", "直接投入资金（元）": "5万", "引进资金（元）": "", "实物折价（元）": "1,200.50",
              "受益户数": "12", "受益人数": "40", "带动就业人数": "", "帮扶日期": _day()}
    values.update(kw)
    return [values[h] for h in HEADER]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_ledger_round_trips(db, world, login_as, fmt):
    from registry.records.models import SupportRecord

    # distinct dates: the ledger lists the newest first, then the last filed (an import files
    # a file's rows in its order, so records of one day would come back in reverse)
    for days, title, amount in ((3, "=捐建产业路", "5万"), (9, "送医下乡，含逗号", "1200.50"), (30, "消费帮扶", "")):
        file_record(world.unit, world.village.code, status="submitted", title=title, amount=amount,
                    description="第一行\n第二行" if amount else "", record_date=_day(days))
    file_record(world.unit, world.posted_village.code, status="submitted", title="驻村点", reference="甲-7",
                record_date=date(2024, 5, 6).isoformat())
    db.session.commit()
    unit = login_as(world.unit)
    first = unit.get(f"/records/export.{fmt}")
    assert first.status_code == 200
    before = _cells(first.data, fmt)
    assert before[0][:13] == HEADER and before[0][13:] == ["状态", "提交日期", "确认或异议日期", "异议理由", "更正的记录编号"]
    assert len(before) == 5 and {row[13] for row in before[1:]} == {"待确认"}
    db.session.execute(delete(SupportRecord))
    db.session.commit()
    response = _post(unit, first.data, f"ledger.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _cells(unit.get(f"/records/export.{fmt}").data, fmt) == before
    assert {r.status for r in _records()} == {"submitted"} and all(r.created_by_id == world.unit.id for r in _records())
    assert verify_chain().ok
    # the same file again: every row is a duplicate, refused by row, nothing written
    again = _post(unit, first.data, f"ledger.{fmt}")
    page = again.get_data(as_text=True)
    assert again.status_code == 422 and page.count("本单位已有编号为") == 4 and _count() == 4


def test_imported_records_await_the_village_and_are_audited(db, world, login_as):
    unit, village = login_as(world.unit), login_as(world.village_user)
    events = db.session.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))  # ids are not gap-free
    body = _csv([_row(world.village, "R-1"), _row(world.posted_village, "R-2", 帮扶日期="2024年3月5日",
                                                   填报单位="省测试厅", **{"直接投入资金（元）": "１２，５００"})])
    response = _post(unit, body)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    first, second = _records()
    assert (first.reference, first.status, first.amount, first.amount_in_kind) == ("R-1", "submitted", 50000, 1200.5)
    assert second.record_date == date(2024, 3, 5) and second.amount == 12500 and second.submitted_at is not None
    created = db.session.scalars(select(AuditEvent).where(AuditEvent.id > events).order_by(AuditEvent.id)).all()
    assert [e.action for e in created] == ["create", "create", "import_records"]
    assert created[0].entity_id == str(first.id) and created[0].region_code == world.village.code
    # the event holds the stored record as a form save's snapshot of it would
    assert json.loads(created[0].after) == snapshot(first) and first.status == "submitted" and verify_chain().ok
    # ... to the letter: the text a form save's event would hold (the bulk path builds it itself)
    assert [e.after for e in created[:2]] == [canonical(snapshot(first)), canonical(snapshot(second))]
    # the village sees them in its inbox, as records a unit submitted
    assert "捐建产业路" in village.get("/records/inbox").get_data(as_text=True)


def test_each_village_is_told_once_of_the_records_an_import_submitted_to_it(db, world, login_as, make_user):
    from registry.notifications.models import Notification

    other = make_user("village", "village_1b", village_code=world.village.code)  # the village's second account
    body = _csv([_row(world.village, "N-1"), _row(world.village, "N-2"), _row(world.posted_village, "N-3")])
    assert _post(login_as(world.unit), body).status_code == 302
    told = db.session.execute(select(Notification.user_id, Notification.kind, Notification.title, Notification.link)
                              .order_by(Notification.user_id)).all()
    # one notification per account of the village (the posted village has no account), none per record
    assert [(uid, kind, link) for uid, kind, _, link in told] == [
        (world.village_user.id, "record_submitted", "/records/inbox"), (other.id, "record_submitted", "/records/inbox")]
    assert all(title == "待确认的帮扶记录 2 条（省测试厅导入）" for *_, title, _ in told)
    bell = login_as(world.village_user).get("/").get_data(as_text=True)
    assert re.search(r'class="bell"[^>]*aria-label="通知，1 条未读"', bell)


def test_rows_outside_the_units_villages_or_of_another_unit_are_refused_by_row(db, world, login_as):
    unit = login_as(world.unit)
    body = _csv([_row(world.village, "S-1"), _row(world.stranger_village, "S-2"), _row(world.far_village, "S-3"),
                 _row(world.village, "S-4", 填报单位="测试企业"), _row(world.village, "S-5", 村="没有这个村")])
    response = _post(unit, body)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count("该村不在本单位的结对或选派范围内") == 2
    assert "只能导入本单位（省测试厅）的记录" in page and "没有这个村" in page
    assert "C5" in page  # the cell of the other unit's name
    assert _count() == 0


@pytest.mark.parametrize("who", ["village_user", "viewer"])  # region staff import on a unit's behalf
def test_only_those_who_may_file_may_import(db, world, login_as, who):
    client = login_as(getattr(world, who))
    assert client.get("/import/records").status_code == 404  # as for every kind a role may not create
    assert _post(client, _csv([_row(world.village)])).status_code == 404
    assert "/import/records" not in client.get("/records/").get_data(as_text=True)
    assert _count() == 0


def test_the_cli_imports_as_the_unit_and_refuses_an_account_that_may_not_file(db, world, runner, tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(_csv([_row(world.village, "C-1"), _row(world.posted_village, "C-2")]))
    viewer, unit = world.viewer.username, world.unit.username
    refused = runner.invoke(args=["import", "records", str(path), "--as", viewer])
    assert refused.exit_code != 0 and "没有导入帮扶记录的权限" in refused.output and _count() == 0
    done = runner.invoke(args=["import", "records", str(path), "--as", unit])
    assert done.exit_code == 0 and "新增 2 条" in done.output and _count() == 2
    again = runner.invoke(args=["import", "records", str(path), "--as", unit])
    assert again.exit_code == 1 and "本单位已有编号为“C-1”的记录" in again.output and _count() == 2


def test_bad_amounts_dates_and_counts_are_reported_by_row_and_column(db, world, login_as):
    unit = login_as(world.unit)
    body = _csv([
        _row(world.village, "B-1"),
        _row(world.village, "B-2", **{"直接投入资金（元）": "1e308"}),
        _row(world.village, "B-3", **{"引进资金（元）": "abc", "受益户数": "1.5"}),
        _row(world.village, "B-4", 帮扶日期=(date.today() + timedelta(days=3)).isoformat()),
        _row(world.village, "B-5", 帮扶日期="1900-01-01"),
        _row(world.village, "B-6", 帮扶日期="2024-02-30"),
        _row(world.village, "B-7", 帮扶类别="捐款"),
        _row(world.village, ""),
        _row(world.village, "B-1"),
        _row(world.village, "B-8", 村="没有这个村", **{"直接投入资金（元）": "1e308", "帮扶日期": "2026-13-01"}),
    ])
    response = _post(unit, body)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for expected in ("G3", "直接投入资金超出可登记的范围", "H4", "引进资金应为金额", "J4", "受益户数应为整数",
                     "M5", "帮扶日期不能晚于今天", "M6", "帮扶日期不能早于", "M7", "帮扶日期格式应为", "D8", "不是可选的值",
                     "A9", "请填写编号", "A10", "与第2行重复（编号相同，同一条数据在文件中出现两次）",
                     "B11", "G11", "M11"):  # an unknown village does not hide the row's other errors
        assert expected in page, expected
    assert _count() == 0


def test_a_reimport_updates_only_records_the_rules_let_the_filer_edit(db, world, login_as):
    disputed = file_record(world.unit, world.village.code, status="disputed", village_user=world.village_user,
                           reference="U-1", title="旧标题")
    submitted = file_record(world.unit, world.village.code, status="submitted", reference="U-2", title="待确认的")
    confirmed = file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user,
                            reference="U-3", title="已确认的")
    db.session.commit()
    unit = login_as(world.unit)

    def row(record, title):
        return _row(world.village, record.reference, 标题=title, 帮扶类别="产业", 内容说明=record.description,
                    **{"直接投入资金（元）": str(record.amount), "引进资金（元）": str(record.amount_attracted),
                       "实物折价（元）": str(record.amount_in_kind), "受益户数": record.households,
                       "受益人数": record.persons, "带动就业人数": record.jobs,
                       "帮扶日期": record.record_date.isoformat()})

    changed = _csv([row(disputed, "新标题"), row(submitted, "改了待确认的"), row(confirmed, "已确认的")])
    refused = _post(unit, changed)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "本单位已有编号为“U-1”的记录" in page and "更新已有数据" in page
    assert "该记录已确认，不能再修改" in page
    refused = _post(unit, changed, update=True)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "编号“U-2”的记录待确认，不能用导入修改" in page
    assert "U-1" not in page and "U-3" not in page  # the editable one, and an unchanged confirmed one, pass
    assert _records()[0].title == "旧标题"
    ok = _post(unit, _csv([row(disputed, "新标题"), row(submitted, "待确认的"), row(confirmed, "已确认的")]), update=True)
    assert ok.status_code == 302, ok.get_data(as_text=True)[-2000:]
    first, second, third = _records()
    assert (first.title, first.status, first.dispute_reason) == ("新标题", "submitted", None)
    assert (second.version, third.status) == (submitted.version, "confirmed")
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(first.id),
                                                                  AuditEvent.entity_type == "SupportRecord")
                                 .order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["update", "resubmit"]


def test_the_summaries_after_an_import_equal_a_rebuild(db, world, login_as):
    from registry.dashboard.models import SupportRollup, SupportTotal
    from registry.dashboard.rebuild import rebuild_all

    file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user, amount="3000")
    file_record(world.unit, world.village.code, status="submitted", amount="100.10", category="health")
    db.session.commit()
    rows = [_row(world.village if i % 3 else world.posted_village, f"S-{i}", 帮扶类别=("产业", "医疗卫生", "教育")[i % 3],
                 帮扶日期=_day(i * 40), **{"直接投入资金（元）": f"{i * 1000}.{i:02d}", "引进资金（元）": str(i)})
            for i in range(1, 30)]
    response = _post(login_as(world.unit), _csv(rows))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]

    def tables():
        db.session.expire_all()
        out = []
        for model in (SupportRollup, SupportTotal):
            cols = [c for c in model.__table__.columns if c.name != "id"]
            out.append(sorted(tuple(r) for r in db.session.execute(select(*cols)).all() if r.record_count))
        return out

    imported = tables()
    assert sum(r[-4] for r in imported[1] if r[1] == "province" and r[3] == 0) == 31  # every record, once a year
    rebuild_all()
    db.session.commit()
    assert tables() == imported


def test_an_import_leaves_every_summary_a_rebuild_gives_the_counts_by_day_too(db, world, login_as):
    """The records an import submits are added to their areas' counts by day (of records
    awaiting confirmation, overall and under each filter) as deltas; after the import and
    after the village confirms one, every summary is what a rebuild from the rows gives."""
    from registry.dashboard.models import DayCount
    from registry.records.models import SupportRecord
    from tests.summaries import assert_summaries_exact

    file_record(world.unit, world.village.code, status="submitted", amount="100.10", category="health")
    db.session.commit()
    rows = [_row(world.village if i % 3 else world.posted_village, f"D-{i}", 帮扶类别=("产业", "医疗卫生", "教育")[i % 3],
                 帮扶日期=_day(i * 40)) for i in range(1, 12)]
    response = _post(login_as(world.unit), _csv(rows))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    counted = db.session.scalar(select(func.sum(DayCount.count)).where(DayCount.kind == "submitted",
                                                                       DayCount.level == "province"))
    assert counted == 12  # the record filed before and the eleven imported, on the day they were submitted
    assert_summaries_exact()
    record = db.session.scalar(select(SupportRecord).where(SupportRecord.reference == "D-1"))
    record.status = "confirmed"
    db.session.commit()
    assert_summaries_exact()


def test_the_form_numbers_a_blank_reference_and_refuses_a_taken_one(db, world, login_as):
    from registry.core.timeutil import local_today

    first = file_record(world.unit, world.village.code)
    second = file_record(world.unit, world.village.code)
    other = file_record(world.other_unit, world.far_village.code)
    year = local_today().year
    assert (first.reference, second.reference, other.reference) == (f"{year}-0001", f"{year}-0002", f"{year}-0001")
    own = file_record(world.unit, world.village.code, reference="２０２６－甲")
    assert own.reference == "2026-甲"
    unit = login_as(world.unit)
    from tests.factories_records import record_data

    response = unit.post("/records/new", data={**record_data(world.village.code), "reference": first.reference})
    assert response.status_code == 422 and f"编号“{first.reference}”已被本单位的另一条记录使用" in response.get_data(as_text=True)
    assert "record-reference" in unit.get(f"/records/{first.id}").get_data(as_text=True)
    assert f"{year}-0003" == file_record(world.unit, world.village.code).reference


def test_the_next_number_follows_the_highest_of_the_units_numbers_of_the_year(db, world):
    """Only 编号 written as the registry writes them count, compared as numbers: a unit's
    own "2026-00012" is twelve, above "2026-0009" though shorter in order; "2026-9甲",
    "2026-²" and a number of another year or unit count for nothing."""
    from registry.core.timeutil import local_today

    year = local_today().year
    for reference in (f"{year}-0009", f"{year}-00012", f"{year}-9甲", f"{year}-²", f"{year}-", f"{year - 1}-0500"):
        file_record(world.unit, world.village.code, reference=reference)
    file_record(world.other_unit, world.far_village.code, reference=f"{year}-0700")
    assert file_record(world.unit, world.village.code).reference == f"{year}-0013"
    file_record(world.unit, world.village.code, reference=f"{year}-10000")
    assert file_record(world.unit, world.village.code).reference == f"{year}-10001"


def test_the_template_offers_the_units_villages(db, world, login_as):
    unit = login_as(world.unit)
    assert 'href="/import/records">导入</a>' in unit.get("/records/").get_data(as_text=True)
    body = unit.get("/import/records/template.xlsx")
    assert body.status_code == 200
    book = load_workbook(io.BytesIO(body.data))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert [h.lstrip("*") if h else h for h in header][:13] == HEADER
    lists = " ".join(str(v.formula1) for v in sheet.data_validations.dataValidation)
    assert lists  # drop-downs for the village, the unit and the category
    words = lists + " ".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert world.village.code in words and world.stranger_village.code not in words


def test_the_migration_numbers_the_stored_records_by_unit_and_year(tmp_path, app_config, monkeypatch):
    from flask_migrate import upgrade

    from registry import create_app
    from registry.regions import services as regions

    # loading the divisions records an event; today's events have columns (key_id) that
    # the audit table of that old revision lacks, and the trail is not what this tests
    monkeypatch.setattr(regions, "record", lambda *args, **kwargs: None)
    # nor has it today's summary of records by day (day_count), which a new village's area refreshes
    from registry.dashboard import recompute, summary

    monkeypatch.setattr(recompute, "refresh_days", lambda *args, **kwargs: None)
    monkeypatch.setattr(summary, "raise_markers", lambda *args, **kwargs: None)  # nor the change markers
    # nor the filtered area summaries (area_cut, area_year)
    monkeypatch.setattr(recompute, "_refresh_cuts", lambda *args, **kwargs: None)

    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.sqlite3'}"})
    with app.app_context():
        upgrade(revision="1354efd6c8f1")
        from registry.regions.services import load_divisions
        from tests.factories import make_org, make_village

        load_divisions()
        code = make_village().code  # the regions and organizations are as at that revision
        orgs = [make_org(name="甲单位").id, make_org(name="乙单位").id]
        _db.session.commit()  # (reading the ids began a transaction)
        raw = _db.engine.raw_connection()
        for org, created in ((1, "2025-12-31 15:59:00"), (2, "2025-03-01 00:00:00"), (1, "2025-12-31 16:00:00"),
                             (1, "2025-06-01 00:00:00"), (1, "2026-01-02 00:00:00")):
            raw.execute(
                "INSERT INTO support_record (organization_id, village_code, category, title, description, amount, "
                "amount_attracted, amount_in_kind, households, persons, jobs, record_date, status, is_demo, "
                "created_at, updated_at, version) VALUES (?, ?, 'funds', 't', '', 0, 0, 0, 0, 0, 0, "
                "'2025-01-01', 'draft', 0, ?, ?, 1)", (orgs[org - 1], code, created, created))
        # rows that reference the records (a photo, a correction): the rebuilt table keeps them valid
        first_id = raw.execute("SELECT min(id) FROM support_record").fetchone()[0]
        raw.execute("UPDATE support_record SET supersedes_id = ? WHERE id = ?", (first_id, first_id + 4))
        raw.execute("INSERT INTO evidence (record_id, original_name, stored_name, content_type, size, sha256, "
                    "uploaded_at) VALUES (?, 'a.jpg', 'stored-a', 'image/jpeg', 1, ?, '2025-01-01')",
                    (first_id, "0" * 64))
        raw.commit()
        raw.close()
        upgrade()
        with _db.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT organization_id, reference FROM support_record ORDER BY id").all()
            assert conn.exec_driver_sql("SELECT count(*) FROM evidence").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again after the migration
        _db.session.remove()
        _db.engine.dispose()
    # Hunan time: 2025-12-31 16:00 UTC is already 2026 there
    first, second = orgs
    assert rows == [(first, "2025-0001"), (second, "2025-0001"), (first, "2026-0001"), (first, "2025-0002"),
                    (first, "2026-0002")]


def test_an_automatic_number_taken_by_a_concurrent_save_is_refused_not_a_crash(db, world, monkeypatch):
    from registry.core.rules import RuleViolation
    from registry.records import filing, models
    from tests.factories_records import record_data

    file_record(world.unit, world.village.code)
    monkeypatch.setattr(models, "highest_sequence", lambda *args: 0)  # as if the other save were not seen yet
    with pytest.raises(RuleViolation) as refused:
        filing.create_record(world.unit, record_data(world.village.code))
    assert "占用了自动分配的编号" in refused.value.message and _count() == 1


def test_records_added_in_bulk_give_the_summaries_a_rebuild_gives_confirmed_ones_too(db, world):
    from decimal import Decimal

    from registry.dashboard import summary
    from registry.dashboard.rebuild import rebuild_all
    from registry.dashboard.models import AreaSummary, SupportRollup, SupportTotal, VillageStatus, VillageSupportLast
    from registry.records.models import SupportRecord

    file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user, amount="10")
    db.session.commit()
    table = SupportRecord.__table__
    rows = [dict(organization_id=org.id, village_code=code, category=category, title="批量", description="",
                 amount=Decimal(amount), amount_attracted=Decimal("0"), amount_in_kind=Decimal("1.10"), households=0,
                 persons=0, jobs=0, record_date=date.today() - timedelta(days=days), status=status, version=1,
                 reference=f"B-{i}", is_demo=True)
            for i, (org, code, category, amount, days, status) in enumerate((
                (world.org, world.village.code, "funds", "100.25", 5, "confirmed"),
                (world.org, world.posted_village.code, "funds", "7", 400, "confirmed"),
                (world.other_org, world.far_village.code, "health", "3.30", 40, "submitted"),
                (world.org, world.village.code, "funds", "0", 5, "draft")))]
    db.session.execute(table.insert(), rows)
    summary.add_records(db.session, table.c.is_demo.is_(True))
    db.session.commit()

    def tables():
        db.session.expire_all()
        out = []
        for model in (SupportRollup, SupportTotal, VillageSupportLast, VillageStatus, AreaSummary):
            cols = [c for c in model.__table__.columns if c.name != "id"]
            out.append(sorted(tuple(map(str, r)) for r in db.session.execute(select(*cols)).all()
                              if "record_count" not in model.__table__.c or r.record_count))
        return out

    added = tables()
    rebuild_all()
    db.session.commit()
    assert tables() == added


def test_an_import_at_a_whole_second_finds_the_records_it_wrote(db, world, login_as, monkeypatch):
    """The bulk insert stores a timestamp as the ORM does (with its microseconds, also
    .000000), so the rows written at ``now`` are found again at a whole second too."""
    from datetime import datetime

    from registry.records import imports

    monkeypatch.setattr(imports, "utcnow", lambda: datetime(2026, 3, 1, 8, 0, 0))
    response = _post(login_as(world.unit), _csv([_row(world.village, "W-1"), _row(world.village, "W-2")]))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert [r.created_at for r in _records()] == [datetime(2026, 3, 1, 8, 0, 0)] * 2


def test_an_unchanged_reimport_as_an_update_loads_no_record(db, world, login_as):
    """An update whose rows change nothing is told so from the unit's stored values, read
    once for the file: no record is loaded a row (a province's 6,870 records took 7.3 s
    and a statement a row; now 2.0 s)."""
    from sqlalchemy import event

    unit = login_as(world.unit)
    counts = []
    for first, n in ((0, 6), (6, 24)):
        body = _csv([_row(world.village, f"U-{i}", 标题=f"产业路{i}") for i in range(first, first + n)])
        assert _post(unit, body).status_code == 302
        seen = []

        def note(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(_db.engine, "before_cursor_execute", note)
        try:
            response = _post(unit, body, update=True)
        finally:
            event.remove(_db.engine, "before_cursor_execute", note)
        assert response.status_code == 302
        page = unit.get(response.headers["Location"]).get_data(as_text=True)
        assert f"新增 0 条，更新 0 条，{n} 条与已登记的相同，未改动" in page
        counts.append(len(seen))
    assert counts[1] == counts[0], counts


def test_a_ledger_counting_in_wan_yuan_is_read_in_wan_yuan_and_says_so(db, world, login_as):
    """Ledgers often count money in 万元: a column headed 直接投入资金（万元） is read as 万元
    (5 is 50,000 元), never as 元, and the success message says which columns were
    converted and which were not imported at all."""
    unit = login_as(world.unit)
    header = ["编号", "村", "帮扶类别", "标题", "直接投入资金（万元）", "引进资金(万元)", "帮扶日期", "经办人"]
    rows = [["W-1", f"示例（{world.village.code}）", "产业", "产业路", 5, "1.25", _day(), "张三"],
            ["W-2", f"示例（{world.village.code}）", "产业", "水渠", 0.35, "", _day(), "李四"]]
    response = _post(unit, _csv(rows, header=header))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    page = unit.get(response.headers["Location"]).get_data(as_text=True)
    assert ("导入成功：共 2 行，新增 2 条，更新 0 条；“直接投入资金（万元）”按万元换算为元；“引进资金(万元)”按万元换算为元；"
            "未识别的列没有导入：经办人") in page
    assert [(r.reference, r.amount, r.amount_attracted) for r in _records()] == [
        ("W-1", Decimal("50000.00"), Decimal("12500.00")), ("W-2", Decimal("3500.00"), Decimal("0.00"))]
    both = _csv([["W-3", f"示例（{world.village.code}）", "产业", "桥", 5, 50000, _day()]],
                header=["编号", "村", "帮扶类别", "标题", "直接投入资金（万元）", "直接投入资金（元）", "帮扶日期"])
    refused = _post(unit, both).get_data(as_text=True)
    assert "表头“直接投入资金（元）”与第E列重复" in refused and _count() == 2
    guide = load_workbook(io.BytesIO(unit.get("/import/records/template.xlsx").data))["填写说明"]
    rules = {row[0].value: row[3].value for row in guide.iter_rows(min_row=2) if row[0].value}
    assert rules["直接投入资金（元）"].endswith("表头也可写成“直接投入资金（万元）”，整列按万元读")


def test_a_ledger_kept_in_its_own_words_imports(db, world, login_as):
    """A unit's 帮扶台账 as units keep it: 序号, 日期, 帮扶村 by name, 帮扶类型 written
    产业帮扶 or 捐资助学, 项目名称, 帮扶内容, 帮扶资金（万元）; with a 编号 column added (the
    one thing a ledger must have for an import to know its rows again)."""
    unit = login_as(world.unit)
    one, two = date.today() - timedelta(days=40), date.today() - timedelta(days=10)
    header = ["序号", "编号", "日期", "帮扶村", "帮扶类型", "项目名称", "帮扶内容", "帮扶资金（万元）", "受益户"]
    rows = [[1, "L-1", f"{one.year}.{one.month}.{one.day}", world.village.name, "产业帮扶", "茶叶加工", "购置揉捻机两台", 3, 40],
            [2, "L-2", f"{two.year}年{two.month}月{two.day}日", world.village.name, "捐资助学", "秋季助学", "资助学生12名",
             "0.6", ""]]
    response = _post(unit, _csv(rows, header=header))
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert [(r.reference, r.record_date, r.category, r.title, r.description, r.amount, r.households)
            for r in _records()] == [
        ("L-1", one, "industry", "茶叶加工", "购置揉捻机两台", Decimal("30000.00"), 40),
        ("L-2", two, "education", "秋季助学", "资助学生12名", Decimal("6000.00"), 0)]
    page = unit.get(response.headers["Location"]).get_data(as_text=True)
    assert "“帮扶资金（万元）”按万元换算为元；未识别的列没有导入：序号" in page


def test_a_missing_column_names_the_headers_it_may_have(db, world, login_as):
    """A ledger whose only text is 帮扶内容 lacks the title: the message says the headers a
    title may have, so the user can rename one."""
    page = _post(login_as(world.unit), _csv([["N-1", world.village.code, "产业", "修路", _day()]],
                                            header=["编号", "村", "帮扶类别", "帮扶内容", "帮扶日期"])).get_data(as_text=True)
    assert "缺少必填列“标题”（表头也可写作项目名称、帮扶项目、事项）" in page and _count() == 0


def test_a_ledger_without_numbers_is_told_how_to_number_it(db, world, login_as):
    page = _post(login_as(world.unit), _csv([[world.village.code, "产业", "修路", _day()]],
                                            header=["村", "帮扶类别", "标题", "帮扶日期"])).get_data(as_text=True)
    assert "缺少必填列“编号”：台账没有编号时，请加一列“编号”并逐行编上（如 2026-0001、2026-0002）" in page and _count() == 0


def test_a_village_written_after_its_township_or_county_is_found(db, world, login_as):
    """Ledgers write a village after its township (峒河街道茶园村) or its county and township:
    each is the village; after another township it is not."""
    from registry.regions.models import Region

    village = world.village
    township = _db.session.get(Region, village.parent_code)
    county = _db.session.get(Region, village.code[:6] + "000000")
    rows = [_row(village, "T-1", 村=f"{township.name}{village.name}"),
            _row(village, "T-2", 村=f"{county.name}{township.name}{village.name}"),
            _row(village, "T-3", 村=f"{county.name} {village.name}")]
    response = _post(login_as(world.unit), _csv(rows))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    assert {r.village_code for r in _records()} == {village.code}
    wrong = _post(login_as(world.unit), _csv([_row(village, "T-4", 村=f"别的镇{village.name}")])).get_data(as_text=True)
    assert f"村“别的镇{village.name}”不存在或不在您的范围内" in wrong and _count() == 3
