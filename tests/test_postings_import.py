"""Importing 选派: the posting rule by row, the round trip, duplicates, ending by update, scope."""
from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.extensions import db
from registry.people.models import Posting
from registry.people.posting_imports import PostingImport
from registry.transfer.importing import run_import
from tests.factories import COUNTY, OTHER_COUNTY, first_township, make_org, make_person, make_posting, make_village
from tests.sheets import csv_bytes, upload

HEADER = ["干部姓名", "身份证号", "选派类型", "派驻地", "挂职职务", "选派层级", "届次", "开始日期", "计划结束日期",
          "结束日期", "结束原因", "结束说明"]


def _csv(*rows, header=HEADER) -> bytes:
    return csv_bytes([header, *rows])


def _cells(body: bytes, fmt: str):
    if fmt == "csv":
        return body.decode("utf-8-sig")
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(body)).worksheets[0].iter_rows()]


def _postings() -> int:
    return db.session.scalar(select(func.count()).select_from(Posting))


def _upload(session, body: bytes, name: str = "p.csv", update: bool = False):
    return upload(session, "postings", body, name, update)


@pytest.fixture()
def world(db, make_user):
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    village = make_village(COUNTY, 1)
    other_village = make_village(COUNTY, 2)
    people = [make_person(org, name=n) for n in ("张三", "李四", "王五")]
    county = make_user("region", region_code=COUNTY)
    return {"org": org, "village": village, "other_village": other_village, "people": people, "county": county}


def _row(person, role="第一书记", place=None, start="2024-01-01", **over):
    values = {"name": person.name, "id_number": person.id_number, "role": role, "place": place, "post_held": "",
              "level": "省派", "round": "2024届", "start": start, "planned": "", "end": "", "reason": "", "note": ""}
    values.update(over)
    return list(values.values())


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_postings_round_trip(world, login_as, fmt):
    zhang, li, wang = world["people"]
    org, village = world["org"], world["village"]
    make_posting(zhang, org, village.code, "first_secretary", start=date(2024, 3, 1), round="2024届")
    make_posting(li, org, village.code, "team_member", start=date(2022, 3, 1), end_date=date(2023, 9, 30),
                 end_reason="recalled", end_note="=长期不在岗")
    make_posting(li, org, world["other_village"].code, "team_member", start=date(2024, 3, 1))
    make_posting(wang, org, first_township(COUNTY).code, "seconded_cadre", start=date(2024, 3, 1), post_held="副镇长",
                 dispatch_level="county")
    county = login_as(world["county"])
    first = county.get(f"/postings/export.{fmt}?purpose=核对名单")
    assert first.status_code == 200
    header = _cells(first.data, fmt)
    if fmt == "xlsx":
        assert header[0] == [c.header for c in PostingImport.export_columns()] and len(header) == 5
        assert zhang.id_number in [r[1] for r in header[1:]]  # region staff see ID numbers in full
    db.session.execute(delete(Posting))
    db.session.commit()
    response = _upload(county, first.data, f"p.{fmt}")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _postings() == 4
    assert _cells(county.get(f"/postings/export.{fmt}?purpose=核对名单").data, fmt) == _cells(first.data, fmt)
    # every posting is on the record, as the form's save would put it, and so is each export
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.entity_type == "Posting", AuditEvent.action == "create")) == 4
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "export")) == 2
    assert verify_chain().ok  # the batch of events is the chain one event at a time would make
    again = _upload(county, first.data, f"p.{fmt}")
    assert again.status_code == 422 and "已登记" in again.get_data(as_text=True)
    assert _postings() == 4


@pytest.mark.parametrize("masked", [False, True])
def test_the_people_and_postings_exported_come_back_unchanged_in_an_update(world, login_as, masked):
    """The county's roster and postings, exported with ID numbers in full or masked and
    imported back as an update, change nothing: each row is found by its ID number (in
    full, or masked with the name) and counted as unchanged, not refused for the masked
    number; an edit to a person's row is still saved."""
    from registry.people.models import Person

    zhang, li, wang = world["people"]
    make_posting(zhang, world["org"], world["village"].code, "first_secretary", start=date(2024, 3, 1), round="2024届")
    county = login_as(world["county"])
    query = "?masked=1" if masked else "?purpose=核对名单"
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    for kind, url, rows in (("people", "/people/export.xlsx", 3), ("postings", "/postings/export.xlsx", 1)):
        exported = county.get(url + query)
        assert exported.status_code == 200
        response = upload(county, kind, exported.data, f"{kind}.xlsx", update=True)
        assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
        page = county.get(response.headers["Location"]).get_data(as_text=True)
        assert f"更新 0 条，{rows} 条与已登记的相同，未改动" in page, kind
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.notin_(("export", "import_people", "import_postings")))) == events
    book = load_workbook(io.BytesIO(county.get("/people/export.xlsx" + query).data))
    row = next(r for r in book.worksheets[0].iter_rows(min_row=2) if r[0].value == "李四")
    row[9].value = "科长"  # 职务
    row[2].value = row[4].value = None  # 性别, 出生日期: read from the ID number (the factory's may not agree with it)
    buf = io.BytesIO()
    book.save(buf)
    response = upload(county, "people", buf.getvalue(), "people.xlsx", update=True)
    if masked:  # a masked number names nobody to change: the row says which number it needs
        assert response.status_code == 422 and "身份证号" in response.get_data(as_text=True)
    else:
        assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
        db.session.expire_all()
        assert db.session.get(Person, li.id).post == "科长"


def test_each_bad_row_is_reported_by_row_and_column_and_nothing_is_written(world):
    zhang, li, wang = world["people"]
    village = world["village"].code
    body = _csv(
        _row(zhang, place=village),  # good
        _row(li, role="书记", place=village),  # unknown role
        _row(wang, place=village, start="2024-02-30"),  # no such date
        _row(li, place="不存在村"),  # unknown place
        _row(wang, id_number=wang.id_number[:-1] + ("1" if wang.id_number[-1] == "0" else "0"), place=village),
        _row(wang, role="挂职干部", place=village),  # a seconded cadre to a village, no post
        _row(wang, name="王六", place=world["other_village"].code),  # name not the ID number's
        _row(li, place=world["other_village"].code, planned="2023-01-01", start="2024-05-01"),  # planned < start
        _row(li, place=world["other_village"].code, start="2023-01-01", end="2023-06-30"),  # end without reason
        _row(li, id_number="", place=world["other_village"].code, start=""),  # blank required cells
    )
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    errors = {(e.row, e.column) for e in report.errors}
    assert (3, "role") in errors and (4, "start_date") in errors and (5, "region_code") in errors
    assert (6, "id_number") in errors and (7, "region_code") in errors and (7, "post_held") in errors
    assert (8, "name") in errors and (9, "planned_end") in errors and (10, "end_reason") in errors
    assert {(e.message) for e in report.errors if e.row == 11} == {"请填写身份证号", "请填写开始日期"}
    assert not any(e.row == 2 for e in report.errors)
    cells = {(e.row, e.cell) for e in report.errors}
    assert (4, "H4") in cells
    assert _postings() == 0


def test_overlaps_and_the_village_s_first_secretary_are_checked_against_the_registry(world):
    zhang, li, wang = world["people"]
    make_posting(zhang, world["org"], world["village"].code, "first_secretary", start=date(2024, 1, 1))
    body = _csv(
        _row(zhang, role="工作队员", place=world["other_village"].code, start="2024-06-01"),  # already posted
        _row(li, place=world["village"].code, start="2024-06-01"),  # the village has its first secretary
        _row(zhang, role="工作队员", place=world["other_village"].code, start="2023-01-01", end="2024-03-01",
             reason="调整"),  # overlaps the active posting
    )
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert "一人同时只能有一个在岗选派" in messages[(2, "id_number")]
    assert "一个村同时只能有一名第一书记" in messages[(3, "region_code")]
    assert "重叠" in messages[(4, "start_date")]
    assert _postings() == 1


def test_a_clash_between_rows_of_one_file_writes_nothing(world):
    zhang = world["people"][0]
    body = _csv(_row(zhang, place=world["village"].code, start="2024-01-01"),
                _row(zhang, role="工作队员", place=world["other_village"].code, start="2024-06-01"))
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    assert not report.ok and report.errors[0].message.startswith("张三自2024年")
    assert "一人同时只能有一个在岗选派" in report.errors[0].message
    assert _postings() == 0


def test_duplicates_within_the_file_are_refused_by_row(world):
    zhang = world["people"][0]
    body = _csv(_row(zhang, place=world["village"].code), _row(zhang, place=world["village"].code))
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    assert [(e.row, e.message) for e in report.errors] == [(3, "与第2行重复（身份证号、开始日期相同，同一条数据在文件中出现两次）")]
    assert _postings() == 0


def test_update_ends_an_active_posting_through_the_end_rule(world, login_as):
    zhang, li, _ = world["people"]
    active = make_posting(zhang, world["org"], world["village"].code, "first_secretary", start=date(2024, 1, 1),
                          planned_end=date(2026, 1, 1), round="2024届")
    county = login_as(world["county"])
    ending = _csv(_row(zhang, place=world["village"].code, planned="2026-01-01", end="2025-06-30", reason="召回", note=""))
    refused = _upload(county, ending, update=True)
    assert refused.status_code == 422 and "召回须写明召回事由" in refused.get_data(as_text=True)
    plain = _upload(county, ending)  # without "update": the posting is there already
    assert plain.status_code == 422 and "已登记" in plain.get_data(as_text=True)
    ending = _csv(_row(zhang, place=world["village"].code, planned="2026-01-01", end="2025-06-30", reason="召回",
                       note="长期不在岗"))
    assert _upload(county, ending, update=True).status_code == 302
    db.session.expire_all()
    posting = db.session.get(Posting, active.id)
    assert (posting.end_date, posting.end_reason, posting.end_note) == (date(2025, 6, 30), "recalled", "长期不在岗")
    assert db.session.scalar(select(AuditEvent.summary).where(AuditEvent.action == "end")).startswith("结束选派：张三")
    # the same file again changes nothing; a change of anything but the end is refused by row
    report = run_import(PostingImport(), ending, "p.csv", world["county"], update=True)
    assert report.ok and report.updated == 0
    changed = _csv(_row(zhang, role="工作队员", place=world["other_village"].code, level="县派", planned="2026-01-01",
                        end="2025-07-31", reason="召回", note="长期不在岗"))
    report = run_import(PostingImport(), changed, "p.csv", world["county"], update=True)
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert "选派登记后不能修改选派类型" in messages[(2, "role")]
    assert "不能修改派驻地" in messages[(2, "region_code")] and "不能修改选派层级" in messages[(2, "dispatch_level")]
    report = run_import(PostingImport(), _csv(_row(zhang, place=world["village"].code, planned="2026-01-01",
                                                  end="2025-07-31", reason="召回", note="长期不在岗")),
                        "p.csv", world["county"], update=True)
    assert "结束信息不能修改" in report.errors[0].message and report.errors[0].column == "end_date"


def test_scope_outside_the_jurisdiction_is_refused_by_row(world, make_user):
    zhang, li, _ = world["people"]
    far_village = make_village(OTHER_COUNTY, 3)
    stranger = make_person(make_org("backing_unit", OTHER_COUNTY), name="宁乡干部")
    body = _csv(_row(zhang, place=far_village.code), _row(stranger, place=world["village"].code),
                _row(li, place=f"{far_village.name}（{far_village.code}）"))
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert "不存在或不在您的范围内" in messages[(2, "region_code")]
    assert "未登记或不在您的范围内" in messages[(3, "id_number")]
    assert "不存在或不在您的范围内" in messages[(4, "region_code")]
    # one of the county's people posted elsewhere: the duplicate does not say where
    make_posting(li, world["org"], make_village(OTHER_COUNTY, 6).code, "team_member", start=date(2024, 2, 1))
    report = run_import(PostingImport(), _csv(_row(li, role="工作队员", place=world["village"].code, start="2024-02-01")),
                        "p.csv", world["county"])
    assert [e.message.split("；")[0] for e in report.errors] == ["李四自2024年2月1日起的选派已登记"]
    report = run_import(PostingImport(), _csv(_row(li, role="工作队员", place=world["village"].code, start="2024-02-01",
                                                   end="2024-05-01", reason="调整")), "p.csv", world["county"], update=True)
    assert [e.message for e in report.errors] == ["该选派不在您的管辖范围内，不能修改"]
    # a township's staff may not post into another township of the county
    township = first_township(COUNTY)
    other = make_village(COUNTY, 5, township=db.session.scalars(
        select(type(township)).where(type(township).parent_code == COUNTY, type(township).code != township.code)).first())
    township_staff = make_user("region", region_code=township.code)
    report = run_import(PostingImport(), _csv(_row(zhang, place=other.code)), "p.csv", township_staff)
    assert report.errors and report.errors[0].column in ("region_code", "id_number")
    assert _postings() == 1


def test_only_posting_staff_see_the_import(world, login_as, make_user):
    unit = login_as(make_user("unit", organization_id=world["org"].id))
    assert unit.get("/import/postings").status_code == 404
    county = login_as(world["county"])
    assert 'href="/import/postings"' in county.get("/postings/").get_data(as_text=True)
    template = county.get("/import/postings/template.xlsx")
    assert template.status_code == 200
    headers = [c.value for c in next(load_workbook(io.BytesIO(template.data)).worksheets[0].iter_rows())]
    assert "身份证号" in " ".join(str(h) for h in headers)


def test_the_cli_imports_postings_as_a_named_account(world, runner, tmp_path):
    zhang = world["people"][0]
    path = tmp_path / "p.csv"
    path.write_bytes(_csv(_row(zhang, place=world["village"].code)))
    refused = runner.invoke(args=["import", "postings", str(path)])
    assert refused.exit_code != 0 and "--as" in refused.output
    result = runner.invoke(args=["import", "postings", str(path), "--as", world["county"].username])
    assert result.exit_code == 0, result.output
    assert _postings() == 1


def test_a_large_postings_export_runs_as_a_job_and_its_file_imports_again(world, login_as, app, monkeypatch):
    from registry.transfer import jobs

    monkeypatch.setitem(app.config, "REGISTRY_EXPORT_JOB_ROWS", 2)
    zhang, li, wang = world["people"]
    for person, village in ((zhang, world["village"]), (li, world["other_village"])):
        make_posting(person, world["org"], village.code, "team_member", start=date(2024, 3, 1))
    make_posting(wang, world["org"], first_township(COUNTY).code, "seconded_cadre", start=date(2024, 3, 1),
                 post_held="副镇长")
    county = login_as(world["county"])
    response = county.get("/postings/export.csv?purpose=核对名单")
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"]
    assert jobs.work(once=True) == 1
    body = county.get(response.headers["Location"] + "/download").data
    assert zhang.id_number in body.decode("utf-8-sig")
    db.session.execute(delete(Posting))
    db.session.commit()
    assert _upload(county, body).status_code == 302
    assert _postings() == 3


def test_a_row_with_several_bad_cells_names_each_in_one_pass(world):
    # an unknown role (the import's own reading), an unknown place, a planned end before the
    # start (the posting rule): all three, not the first stage's alone
    li = world["people"][1]
    body = _csv(_row(li, role="书记", place="不存在村", start="2024-05-01", planned="2023-01-01"))
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    assert {e.column for e in report.errors if e.row == 2} >= {"role", "region_code", "planned_end"}, report.errors
    # a person the ID number does not find: the posting rule has nobody to check, the other cells are read
    body = _csv(_row(li, id_number="11010119900307001X", place="不存在村", start="2024-02-30"))
    report = run_import(PostingImport(), body, "p.csv", world["county"])
    assert {e.column for e in report.errors} == {"id_number", "region_code", "start_date"}, report.errors
    assert _postings() == 0


def test_a_work_team_roster_imports_as_people_then_as_postings(db, make_user, login_as):
    """A county's 驻村工作队花名册 as counties keep it (序号, 政治面貌, 学历, 驻村职务 队长/队员,
    派驻村, 选派层级 县直, 派驻时间) goes in as it is, the same file twice: first as people
    (the posting columns ignored), then as postings (the person's columns ignored)."""
    from tests.factories import valid_id_number

    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    villages = [make_village(COUNTY, n) for n in (1, 2)]
    county = login_as(make_user("region", region_code=COUNTY))
    header = ["序号", "姓名", "身份证号", "政治面貌", "学历", "工作单位", "职务", "联系电话", "驻村职务", "派驻村", "选派层级",
              "派驻时间"]
    roster = csv_bytes([header,
                        [1, "赵一", valid_id_number(71), "中共党员", "本科", org.name, "副局长", "13900000001", "第一书记",
                         villages[0].code, "县直", "2024-03-01"],
                        [2, "钱二", valid_id_number(72), "群众", "大专", org.name, "科员", "13900000002", "队员",
                         f"{villages[0].name}（{villages[0].code}）", "县直", "2024/3/1"],
                        [3, "孙三", valid_id_number(73), "中共预备党员", "硕士研究生", org.name, "科员", "13900000003",
                         "第一书记", villages[1].code, "县派", "2024年3月1日"]])
    people = upload(county, "people", roster, "花名册.csv")
    assert people.status_code == 302, people.get_data(as_text=True)[-2000:]
    postings = upload(county, "postings", roster, "花名册.csv")
    assert postings.status_code == 302, postings.get_data(as_text=True)[-2000:]
    stored = db.session.scalars(select(Posting).order_by(Posting.id)).all()
    assert [(p.person.name, p.person.is_party_member, p.person.education, p.role, p.region_code, p.dispatch_level,
             p.start_date) for p in stored] == [
        ("赵一", True, "bachelor", "first_secretary", villages[0].code, "county", date(2024, 3, 1)),
        ("钱二", False, "college", "team_member", villages[0].code, "county", date(2024, 3, 1)),
        ("孙三", True, "postgraduate", "first_secretary", villages[1].code, "county", date(2024, 3, 1))]
