"""Pairings 结对关系: organization ↔ village or county; kind rules, end ≥ start, no
duplicate active pairing; ending is an action; jurisdiction and scope; audit."""
from __future__ import annotations

import json
from datetime import date, timedelta

from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.pairings.models import Pairing
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org, make_pairing, make_village


def _count(db, model=Pairing) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(region_code, **kw):
    data = {"region_code": region_code, "kind": "resident", "sector": "", "start_date": "2025-01-01", "end_date": "", "note": ""}
    data.update(kw)
    return data


def _refused(db, session, org, data, label, message):
    pairings, events = _count(db), _count(db, AuditEvent)
    response = session.post(f"/organizations/{org.id}/pairings/new", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:300]
    assert f"{label}：" in body and message in body, body[body.find('role="alert"') - 200:][:800]
    assert _count(db) == pairings and _count(db, AuditEvent) == events


def test_pair_a_backing_unit_with_a_village(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY, name="吉首市住建局", level="county")
    village = make_village(COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    response = session.post(f"/organizations/{org.id}/pairings/new", _form(village.code))
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    pairing = db.session.scalar(select(Pairing))
    assert pairing.kind == "resident" and pairing.is_active
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Pairing"))
    assert event.action == "create" and event.region_code == village.code and event.organization_id == org.id
    page = session.get(f"/regions/{village.code}").get_data(as_text=True)
    assert "吉首市住建局" in page and "驻村帮扶" in page and "驻村帮扶结对" in page  # a backing unit by its pairing


def test_end_before_start_is_refused(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    village = make_village(COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, org, _form(village.code, end_date="2024-12-31"), "结束日期", "结束日期不能早于开始日期")


def test_no_duplicate_active_pairing(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY, name="重复单位")
    village = make_village(COUNTY)
    make_pairing(org, village.code, kind="resident", start=date(2023, 1, 1))
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, org, _form(village.code), "结对地（12位区划代码）", "不能重复结对")
    # another kind with the same village is a different pairing
    other = session.post(f"/organizations/{org.id}/pairings/new", _form(village.code, kind="other"))
    assert other.status_code == 302


def test_kind_rules(db, login_as, make_user):
    unit = make_org("backing_unit", COUNTY)
    village = make_village(COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, unit, _form(village.code, kind="enterprise_village"), "结对类型", "只适用于企业")
    _refused(db, session, unit, _form(COUNTY, kind="resident"), "结对地（12位区划代码）", "驻村帮扶只能结对到村")
    _refused(db, session, unit, _form(first_township(COUNTY).code, kind="fixed_point"), "结对地（12位区划代码）", "应为村（社区）或县市区")
    _refused(db, session, unit, _form(COUNTY, kind="paired"), "帮扶领域", "对口帮扶须选择帮扶领域")
    _refused(db, session, unit, _form(COUNTY, kind="fixed_point", sector="health"), "帮扶领域", "只有对口帮扶填写帮扶领域")
    ok = session.post(f"/organizations/{unit.id}/pairings/new", _form(COUNTY, kind="paired", sector="education"))
    assert ok.status_code == 302
    page = session.get(f"/regions/{COUNTY}").get_data(as_text=True)
    assert "本县结对关系" in page and "对口帮扶（教育）" in page


def test_only_the_jurisdiction_pairs(db, login_as, make_user):
    org = make_org("enterprise", COUNTY, level=None)
    outside = make_village(OTHER_COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    _refused(db, session, org, _form(outside.code, kind="enterprise_village"), "结对地（12位区划代码）", "不在您的管辖范围内")
    assert session.get(f"/organizations/{org.id}/pairings/new?region={outside.code}").status_code == 404
    unit = login_as(make_user("unit", organization_id=org.id))
    assert unit.post(f"/organizations/{org.id}/pairings/new", _form(make_village(COUNTY).code)).status_code == 403


def test_end_a_pairing(db, login_as, make_user):
    org = make_org("backing_unit", COUNTY)
    village = make_village(COUNTY)
    pairing = make_pairing(org, village.code, start=date(2023, 1, 1))
    session = login_as(make_user("region", region_code=COUNTY))
    events = _count(db, AuditEvent)
    refused = session.post(f"/pairings/{pairing.id}/end", {"end_date": "2022-12-31", "note": "", "version": str(pairing.version)})
    assert refused.status_code == 422 and "结束日期：" in refused.get_data(as_text=True)
    assert _count(db, AuditEvent) == events
    response = session.post(f"/pairings/{pairing.id}/end", {"end_date": local_today().isoformat(), "note": "帮扶任务调整",
                                                            "version": str(pairing.version)})
    assert response.status_code == 302
    db.session.expire_all()
    pairing = db.session.get(Pairing, pairing.id)
    assert pairing.end_date == local_today() and "帮扶任务调整" in pairing.note
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "end"))
    assert event.entity_type == "Pairing" and event.entity_id == str(pairing.id)
    # after it ended, the same pairing may start again later
    again = session.post(f"/organizations/{org.id}/pairings/new",
                         _form(village.code, start_date=(local_today() + timedelta(days=1)).isoformat()))
    assert again.status_code == 302


def test_scope_of_pairings(db, login_as, make_user):
    mine = make_org("backing_unit", COUNTY, name="甲单位")
    theirs = make_org("backing_unit", OTHER_COUNTY, name="乙单位")
    here = make_pairing(mine, make_village(COUNTY).code)
    there = make_pairing(theirs, make_village(OTHER_COUNTY).code)
    county = login_as(make_user("region", region_code=COUNTY))
    assert county.get(f"/pairings/{here.id}").status_code == 200
    assert county.get(f"/pairings/{there.id}").status_code == 404
    assert county.post(f"/pairings/{there.id}/end", {"end_date": "2025-01-01"}).status_code == 404
    body = county.get("/pairings/").get_data(as_text=True)
    assert "甲单位" in body and "乙单位" not in body
    unit = login_as(make_user("unit", organization_id=mine.id))
    assert unit.get(f"/pairings/{here.id}").status_code == 200
    assert unit.get(f"/pairings/{there.id}").status_code == 404
    assert "乙单位" not in unit.get("/pairings/export.csv").get_data(as_text=True)
    viewer = login_as(make_user("viewer", region_code=PROVINCE))
    assert viewer.get(f"/pairings/{there.id}").status_code == 200
    assert viewer.post(f"/pairings/{there.id}/end", {"end_date": "2025-01-01"}).status_code == 403


def test_an_export_is_on_the_record_with_its_filters_and_rows(db, login_as, make_user):
    """An individual helper's name is personal data: a pairings export is audited as the
    ledger's is, with who, the filters and the row count."""
    person = make_org("individual", COUNTY, name="张爱心", level=None)
    make_pairing(person, make_village(COUNTY, 1).code)
    make_pairing(make_org("backing_unit", COUNTY, name="甲单位"), make_village(COUNTY, 2).code)
    db.session.commit()
    user = make_user("region", region_code=COUNTY)
    county = login_as(user)
    body = county.get("/pairings/export.csv?kind=resident").get_data(as_text=True)
    assert "张爱心" in body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export",
                                                        AuditEvent.entity_type == "Pairing"))
    after = json.loads(event.after)
    assert event.actor_id == user.id and after["rows"] == 2 and after["format"] == "csv"
    assert after["filters"] == {"kind": "resident"} and "导出结对关系 2 条" in event.summary


def test_start_from_the_village_page(db, login_as, make_user):
    org = make_org("charity", COUNTY, name="吉首慈善会", level=None)
    village = make_village(COUNTY)
    session = login_as(make_user("region", region_code=COUNTY))
    chooser = session.get(f"/pairings/new?region={village.code}").get_data(as_text=True)
    assert "吉首慈善会" in chooser and f"/organizations/{org.id}/pairings/new?region={village.code}" in chooser
    form = session.get(f"/organizations/{org.id}/pairings/new?region={village.code}").get_data(as_text=True)
    assert village.code in form and village.name in form
