"""The people import's bulk paths: new people written in batches with their audit events,
personal data sealed in the current form, each distinct employer cell resolved once,
and the garbage collector back on after every import."""
from __future__ import annotations

import gc
import json

from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.audit.services import verify_chain
from registry.core import crypto
from registry.extensions import db as _db
from registry.people.imports import PersonImport
from registry.people.models import Person
from registry.transfer.importing import run_import
from tests.factories import COUNTY, make_org, make_person, valid_id_number

HEADER = "姓名,身份证号,工作单位,联系电话\n"


def _run(user, text: str):
    return run_import(PersonImport(), text.encode("utf-8"), "people.csv", user)


def test_new_people_and_their_audit_events_match_row_by_row(db, make_user):
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    user = make_user("region", region_code=COUNTY)
    numbers = [valid_id_number(n) for n in range(1, 31)]
    rows = "".join(f"干部{n},{number},{org.name},1380000{n:04d}\n" for n, number in enumerate(numbers, start=1))
    report = _run(user, HEADER + rows)
    assert report.ok and report.created == 30, report.errors[:3]
    people = db.session.scalars(select(Person).order_by(Person.id)).all()
    assert [(p.name, p.id_number, p.phone) for p in people] == [
        (f"干部{n}", number, f"1380000{n:04d}") for n, number in enumerate(numbers, start=1)]
    assert all(p.id_number_encrypted.startswith(crypto.PREFIX) and p.phone_encrypted.startswith(crypto.PREFIX)
               for p in people)
    assert all(p.id_number_index == crypto.blind_index(p.id_number) for p in people)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Person",
                                                         AuditEvent.action == "create")).all()
    by_id = {p.id: p for p in people}
    assert len(events) == 30
    for event in events:
        person = by_id[int(event.entity_id)]
        after = json.loads(event.after)
        assert after["id"] == person.id and after["name"] == person.name in event.summary
        assert after["id_number_masked"] == person.id_number_masked and person.id_number not in event.after
    assert verify_chain().ok
    assert gc.isenabled()


def test_people_imported_beside_people_already_registered_get_their_own_events(db, make_user):
    # the new ids are read back after the insert: people stored before must not be taken for them
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    stored = [make_person(org, name=f"已登记{n}") for n in range(3)]
    user = make_user("region", region_code=COUNTY)
    numbers = [valid_id_number(n, born="19900101") for n in range(1, 5)]
    report = _run(user, HEADER + "".join(f"新干部{n},{number},{org.name},\n" for n, number in enumerate(numbers)))
    assert report.ok and report.created == 4, report.errors[:3]
    new = db.session.scalars(select(Person).where(Person.id.not_in([p.id for p in stored]))).all()
    assert sorted((p.name, p.id_number) for p in new) == [(f"新干部{n}", number) for n, number in enumerate(numbers)]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "Person",
                                                         AuditEvent.action == "create")).all()
    assert sorted((int(e.entity_id), json.loads(e.after)["name"]) for e in events) == sorted((p.id, p.name) for p in new)
    assert verify_chain().ok


def test_every_row_naming_an_unknown_employer_is_reported(db, make_user):
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    user = make_user("region", region_code=COUNTY)
    rows = (f"甲,{valid_id_number(1)},不存在的单位,\n乙,{valid_id_number(2)},{org.name},\n"
            f"丙,{valid_id_number(3)},不存在的单位,\n")
    report = _run(user, HEADER + rows)
    assert [(e.row, e.column) for e in report.errors] == [(2, "organization_id"), (4, "organization_id")]
    assert all("不存在的单位" in e.message for e in report.errors)
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0
    assert gc.isenabled()


def test_the_collector_stays_off_if_it_was_off(db, make_user):
    user = make_user("region", region_code=COUNTY)
    gc.disable()
    try:
        _run(user, HEADER + "甲,1,某单位,\n")
        assert not gc.isenabled()
    finally:
        gc.enable()


def _roster_column(make_user, header: str, words: list[str], bad: str, attribute: str):
    """People imported with one more column ``header`` holding ``words`` (a row each), and
    a second file with ``bad`` in it: (the stored people's ``attribute``, the second
    file's report)."""
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    user = make_user("region", region_code=COUNTY)
    rows = "".join(f"干部{n},{valid_id_number(n)},{org.name},{word}\n" for n, word in enumerate(words, start=1))
    report = _run(user, f"姓名,身份证号,工作单位,{header}\n" + rows)
    assert report.ok, report.errors[:3]
    stored = [getattr(p, attribute) for p in _db.session.scalars(select(Person).order_by(Person.id))]
    return stored, _run(user, f"姓名,身份证号,工作单位,{header}\n干部99,{valid_id_number(99)},{org.name},{bad}\n")


def test_a_roster_with_a_political_status_column_is_read_for_party_membership(db, make_user):
    """Rosters write 政治面貌, not a 是/否 column: members of the Party (full or
    probationary) are 中共党员, every other status is not; anything else is an error on
    the cell."""
    stored, wrong = _roster_column(make_user, "政治面貌", ["中共党员", "中共预备党员", "群众", "共青团员", "九三学社社员", "是", ""],
                                   "积极分子", "is_party_member")
    assert stored == [True, True, False, False, False, True, False]
    assert [(e.row, e.cell, e.message) for e in wrong.errors] == [
        (2, "D2", "应填“是”或“否”，或政治面貌（如中共党员、中共预备党员、群众、共青团员）")]


def test_a_rosters_other_columns_are_left_to_their_own_import(db, make_user):
    """A roster's 选派 columns are not the people import's: named as not imported."""
    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    report = _run(make_user("region", region_code=COUNTY),
                  f"姓名,身份证号,工作单位,选派类型\n干部1,{valid_id_number(1)},{org.name},第一书记\n")
    assert report.ok and report.ignored_headers == ["选派类型"] and "未识别的列没有导入：选派类型" in report.summary()


def test_a_rosters_education_is_read_in_its_own_words(db, make_user):
    """学历 as rosters write it (本科, 硕士研究生, 大专, 高中...) is read as the label it
    means; a word that means none is an error naming the choices."""
    stored, wrong = _roster_column(make_user, "最高学历", ["本科", "硕士研究生", "大专", "高中", "大学本科", "研究生", ""],
                                   "留学", "education")
    assert stored == ["bachelor", "postgraduate", "college", "secondary", "bachelor", "postgraduate", None]
    assert [(e.cell, e.message) for e in wrong.errors] == [
        ("D2", "“留学”不是可选的值，应为：研究生、大学本科、大学专科、中专/高中、其他")]


def test_a_rosters_ethnicity_may_leave_off_its_zu(db, make_user):
    """Rosters write 汉, 土家, 苗: each is its 民族; a word that is none is named."""
    stored, wrong = _roster_column(make_user, "民族", ["汉", "土家", "苗族", ""], "火星", "ethnicity")
    assert stored == ["汉族", "土家族", "苗族", "汉族"]
    assert [e.message for e in wrong.errors] == ["民族“火星”无效，应为56个民族之一，如汉族、土家族、苗族"]
