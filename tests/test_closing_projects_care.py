"""Closing a year freezes enterprise projects (企业项目) and care records (关心关爱) too: by the
form and by the import alike, nothing is written (rows and audit events stay), a reopening
of that kind lets the change through and a reopening of another kind does not."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.care.models import CareRecord
from registry.care.services import CareData, add_care, cancel_care
from registry.closing.models import KINDS
from registry.closing.rules import year_open
from registry.closing.services import approve_reopen, close_year, request_reopen
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.projects import services
from registry.projects.models import Project, ProjectConfirmation, ProjectProgress, ProjectVillage
from registry.projects.services import ProgressData, ProjectData
from tests.factories import COUNTY, OTHER_COUNTY, first_township, make_org, make_pairing, make_person, make_posting, make_village
from tests.sheets import upload, xlsx_bytes

THIS_YEAR = local_today().year
CLOSED = THIS_YEAR - 1
FROZEN_PROJECTS = "企业项目不能再新增或修改"
FROZEN_CARE = "关心关爱不能再新增或修改"


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def project_census() -> tuple:
    return tuple(count(m) for m in (Project, ProjectVillage, ProjectProgress, ProjectConfirmation, AuditEvent))


def care_census() -> tuple:
    return count(CareRecord), count(AuditEvent)


def _reopen(close, requester, approver, kinds):
    asked = request_reopen(close, requester, list(kinds), "补录上年度数据", local_today() + timedelta(days=10))
    approve_reopen(asked, approver)
    db.session.commit()  # a new transaction reads the closes again


def test_the_new_kinds_can_be_named_by_a_reopening_and_the_close_page_lists_them(db, make_user, login_as):
    assert KINDS["projects"] == "企业项目" and KINDS["care"] == "关心关爱"
    county = make_user("region", region_code=COUNTY)
    page = login_as(county).get(f"/closing/close?year={CLOSED}").get_data(as_text=True)
    assert "企业项目" in page and "关心关爱" in page and "进展日期在该年度内" in page
    closed = close_year(county, CLOSED, "freeze", True)
    detail = login_as(make_user("region", region_code=COUNTY)).get(f"/closing/{closed.id}").get_data(as_text=True)
    assert 'value="projects"' in detail and 'value="care"' in detail


# -- enterprise projects ------------------------------------------------------------------------


@pytest.fixture()
def projects(db, make_user):
    """V1 in COUNTY (closed for CLOSED), V2 in OTHER_COUNTY (open); an enterprise paired with
    both; a project signed in CLOSED touching both, with a pending entry of CLOSED."""
    v1, v2 = make_village(COUNTY, 1), make_village(OTHER_COUNTY, 1)
    enterprise = make_org("enterprise", COUNTY, name="测试农业开发有限公司", level="county")
    for village in (v1, v2):
        make_pairing(enterprise, village.code, "enterprise_village", start=date(CLOSED - 1, 1, 1))
    users = {
        "unit": make_user("unit", organization_id=enterprise.id),
        "u1": make_user("village", village_code=v1.code),
        "u2": make_user("village", village_code=v2.code),
        "county": make_user("region", region_code=COUNTY, display_name="关账员"),
        "county2": make_user("region", region_code=COUNTY),
    }
    project = services.create_project(users["unit"], ProjectData(
        name="油茶精深加工项目", kind="industry", planned_investment="500万", signed_on=date(CLOSED, 3, 1).isoformat(),
        villages=f"{v1.code},{v2.code}"))
    entry = services.record_progress(project, users["unit"], ProgressData(
        entry_date=date(CLOSED, 6, 1).isoformat(), actual_investment="120万", local_jobs="30"))
    closed = close_year(users["county"], CLOSED, "freeze", True)
    return {"v1": v1, "v2": v2, "enterprise": enterprise, "project": project, "entry": entry, "close": closed, **users}


def _progress_form(day: date, **over) -> dict:
    return {"entry_date": day.isoformat(), "actual_investment": "150万", "local_jobs": "40", "note": "", **over}


def _edit_form(w, **over) -> dict:
    project = db.session.get(Project, w["project"].id)
    return {"name": project.name, "kind": project.kind, "planned_investment": str(project.planned_investment),
            "signed_on": project.signed_on.isoformat(), "villages": "\n".join(project.village_codes),
            "organization_id": str(project.organization_id), "description": project.description,
            "version": project.version, **over}


IMPORT_HEADER = ["企业", "项目名称", "项目类型", "湘商回归", "计划投资（元）", "签约日期", "涉及村", "项目简介"]


def test_a_closed_year_refuses_project_figures_by_form_and_import(projects, login_as):
    w = projects
    project, entry = w["project"], w["entry"]
    unit, u1, u2 = login_as(w["unit"]), login_as(w["u1"]), login_as(w["u2"])
    before = project_census()  # after the logins, which are audited too
    # a progress entry dated in the closed year, affecting V1 (closed) and V2 (open)
    response = unit.post(f"/projects/{project.id}/progress", data={**_progress_form(date(CLOSED, 11, 1)),
                                                                   "version": project.version})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"{CLOSED}年度已由" in page and FROZEN_PROJECTS in page
    assert f"其中{w['v1'].name}（{w['v1'].code}）在关账范围内" in page  # says which village is covered
    with pytest.raises(RuleViolation) as refused:
        services.record_progress(project, w["unit"], ProgressData(entry_date=date(CLOSED, 12, 1).isoformat(), note="补录",
                                                                  villages=[w["v1"].code]))
    assert FROZEN_PROJECTS in refused.value.errors["entry_date"][0] and "涉及" not in refused.value.errors["entry_date"][0]
    db.session.rollback()
    # the project's own figures belong to its signing year
    edit = unit.post(f"/projects/{project.id}/edit", data=_edit_form(w, planned_investment="600万"))
    assert edit.status_code == 422 and FROZEN_PROJECTS in edit.get_data(as_text=True)
    moved = unit.post(f"/projects/{project.id}/edit", data=_edit_form(w, signed_on=date(THIS_YEAR, 1, 2).isoformat()))
    assert moved.status_code == 422 and FROZEN_PROJECTS in moved.get_data(as_text=True)
    # the villages' decisions on an entry of the closed year: V2 is open, but the entry is frozen
    confirm = u2.post(f"/projects/{project.id}/progress/{entry.id}/confirm", data={"version": 1}, follow_redirects=True)
    assert FROZEN_PROJECTS in confirm.get_data(as_text=True)
    dispute = u1.post(f"/projects/{project.id}/progress/{entry.id}/dispute", data={"reason": "不符", "version": 1})
    assert dispute.status_code == 422 and FROZEN_PROJECTS in dispute.get_data(as_text=True)
    # the import: a project signed in the closed year in V1
    row = [w["enterprise"].name, "冷库", "基础设施", "否", "30万", date(CLOSED, 5, 1).isoformat(), w["v1"].code, ""]
    imported = upload(unit, "projects", xlsx_bytes([IMPORT_HEADER, row]), "p.xlsx")
    assert imported.status_code == 422 and FROZEN_PROJECTS in imported.get_data(as_text=True)
    assert project_census() == before
    db.session.expire_all()
    stored = db.session.get(Project, project.id)
    assert (stored.planned_investment, stored.actual_investment, stored.signed_on) == \
        (Decimal("5000000.00"), Decimal("1200000.00"), date(CLOSED, 3, 1))
    assert {c.state for c in db.session.get(ProjectProgress, entry.id).confirmations} == {"pending"}


def test_what_a_project_close_leaves_open(projects, login_as):
    w = projects
    project = w["project"]
    unit = login_as(w["unit"])
    # the name and the description are no figures
    renamed = unit.post(f"/projects/{project.id}/edit", data=_edit_form(w, name="油茶精深加工项目（一期）"))
    assert renamed.status_code == 302
    # an entry of the closed year that affects only the open village
    only_v2 = services.record_progress(project, w["unit"], ProgressData(
        entry_date=date(CLOSED, 12, 1).isoformat(), note="二村道路完工", villages=[w["v2"].code]))
    services.confirm_progress(only_v2, w["u2"])
    # a project spanning years: this year's entries are open
    before = count(ProjectProgress)
    response = unit.post(f"/projects/{project.id}/progress", data={**_progress_form(date(THIS_YEAR, 1, 2)),
                                                                   "version": db.session.get(Project, project.id).version})
    assert response.status_code == 302 and count(ProjectProgress) == before + 1
    assert db.session.get(Project, project.id).actual_investment == Decimal("1500000.00")
    # a new project signed this year in the closed county, by the import
    row = [w["enterprise"].name, "冷库", "基础设施", "否", "30万", date(THIS_YEAR, 1, 1).isoformat(), w["v1"].code, ""]
    assert upload(unit, "projects", xlsx_bytes([IMPORT_HEADER, row]), "p.xlsx").status_code == 302
    assert count(Project) == 2


def test_a_reopening_of_projects_lets_the_change_through_and_another_kinds_does_not(projects, login_as):
    w = projects
    project, entry = w["project"], w["entry"]
    _reopen(w["close"], w["county"], w["county2"], ("records", "care"))
    assert not year_open(CLOSED, w["v1"].code, "projects")
    before = project_census()
    with pytest.raises(RuleViolation, match=FROZEN_PROJECTS):
        services.confirm_progress(entry, w["u1"])
    db.session.rollback()
    row = [w["enterprise"].name, "冷库", "基础设施", "否", "30万", date(CLOSED, 5, 1).isoformat(), w["v1"].code, ""]
    unit = login_as(w["unit"])
    before = project_census()
    assert FROZEN_PROJECTS in upload(unit, "projects", xlsx_bytes([IMPORT_HEADER, row]), "p.xlsx").get_data(as_text=True)
    assert project_census() == before
    _reopen(w["close"], w["county"], w["county2"], ("projects",))
    assert year_open(CLOSED, w["v1"].code, "projects")
    services.confirm_progress(entry, w["u1"])
    services.confirm_progress(entry, w["u2"])
    assert db.session.get(Project, project.id).confirmed_investment == Decimal("1200000.00")
    response = unit.post(f"/projects/{project.id}/progress", data={**_progress_form(date(CLOSED, 11, 1)),
                                                                   "version": db.session.get(Project, project.id).version})
    assert response.status_code == 302
    edit = unit.post(f"/projects/{project.id}/edit", data=_edit_form(w, planned_investment="600万"))
    assert edit.status_code == 302 and db.session.get(Project, project.id).planned_investment == Decimal("6000000.00")
    assert upload(unit, "projects", xlsx_bytes([IMPORT_HEADER, row]), "p.xlsx").status_code == 302


def test_the_close_page_lists_the_project_entries_still_waiting_for_the_villages(projects, make_user, login_as):
    other = login_as(make_user("region", region_code=OTHER_COUNTY))  # V2's county: not closed yet
    page = other.get(f"/closing/close?year={CLOSED}").get_data(as_text=True)
    assert "企业项目进展 待村确认</a>：1 条" in page and "待村确认的企业项目进展不能再确认" in page
    assert "企业项目进展 待村确认" not in other.get(f"/closing/close?year={THIS_YEAR}").get_data(as_text=True)


# -- care records ---------------------------------------------------------------------------------

CARE_HEADER = ["干部姓名", "身份证号", "选派开始日期", "类别", "项目", "开始日期", "结束日期", "金额（元）",
               "承保、体检或发放单位", "保单号或文号", "备注"]


@pytest.fixture()
def care(db, make_user):
    """A county-dispatched cadre posted to a village of COUNTY since CLOSED - 1, with a health
    check of CLOSED on record; COUNTY closes CLOSED."""
    village = make_village(COUNTY, 1)
    org = make_org("backing_unit", COUNTY, level="county")
    person = make_person(org, "县派张三")
    posting = make_posting(person, org, village.code, start=date(CLOSED - 1, 1, 1), dispatch_level="county")
    users = {
        "county": make_user("region", region_code=COUNTY, display_name="关账员"),
        "county2": make_user("region", region_code=COUNTY),
        "township": make_user("region", region_code=first_township(COUNTY).code),
    }
    checked = add_care(person, CareData(posting_id=posting.id, kind="health_check", item="年度体检",
                                        start_date=date(CLOSED, 5, 1), amount="800"), users["county"])
    closed = close_year(users["county"], CLOSED, "freeze", True)
    return {"village": village, "person": person, "posting": posting, "checked": checked, "close": closed, **users}


def _care_form(w, start: date, end: date) -> dict:
    return {"posting_id": w["posting"].id, "kind": "allowance", "item": "生活补助", "start_date": start.isoformat(),
            "end_date": end.isoformat(), "amount": "1.5万"}


def _care_row(w, start: date, end: date) -> list:
    return [w["person"].name, w["person"].id_number, "", "补助", "生活补助", start.isoformat(), end.isoformat(), "15000",
            "", "", ""]


def test_a_closed_year_refuses_care_records_by_form_and_import(care, login_as):
    w = care
    person, checked = w["person"], w["checked"]
    county = login_as(w["county"])
    before = care_census()
    response = county.post(f"/care/person/{person.id}/new?kind=allowance",
                           data=_care_form(w, date(CLOSED, 12, 1), date(CLOSED, 12, 31)))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and f"{CLOSED}年度已由" in page and FROZEN_CARE in page
    # a period starting in the closed year: its start decides
    spanning = county.post(f"/care/person/{person.id}/new?kind=allowance",
                           data=_care_form(w, date(CLOSED, 12, 1), date(THIS_YEAR, 1, 31)))
    assert spanning.status_code == 422 and FROZEN_CARE in spanning.get_data(as_text=True)
    cancel = county.post(f"/care/{checked.id}/cancel", data={"reason": "录入错误", "version": checked.version})
    assert cancel.status_code == 422 and FROZEN_CARE in cancel.get_data(as_text=True)
    imported = upload(county, "care", xlsx_bytes([CARE_HEADER, _care_row(w, date(CLOSED, 11, 1), date(CLOSED, 11, 30))]),
                      "c.xlsx")
    assert imported.status_code == 422 and FROZEN_CARE in imported.get_data(as_text=True)
    assert care_census() == before
    db.session.expire_all()
    assert db.session.get(CareRecord, checked.id).status == "active"
    # this year is open
    ok = county.post(f"/care/person/{person.id}/new?kind=allowance",
                     data=_care_form(w, date(THIS_YEAR, 1, 1), date(THIS_YEAR, 1, 1)))
    assert ok.status_code == 302 and count(CareRecord) == before[0] + 1


def test_a_reopening_of_care_lets_the_change_through_and_another_kinds_does_not(care, login_as):
    w = care
    _reopen(w["close"], w["township"], w["county2"], ("projects", "records"))
    county = login_as(w["county"])
    before = care_census()
    with pytest.raises(RuleViolation, match=FROZEN_CARE):
        cancel_care(w["checked"], "录入错误", w["county"])
    db.session.rollback()
    body = xlsx_bytes([CARE_HEADER, _care_row(w, date(CLOSED, 11, 1), date(CLOSED, 11, 30))])
    assert FROZEN_CARE in upload(county, "care", body, "c.xlsx").get_data(as_text=True)
    assert care_census()[0] == before[0]
    _reopen(w["close"], w["township"], w["county2"], ("care",))  # the township holds the village
    assert upload(county, "care", body, "c.xlsx").status_code == 302 and count(CareRecord) == before[0] + 1
    cancel = county.post(f"/care/{w['checked'].id}/cancel", data={"reason": "录入错误", "version": w["checked"].version})
    assert cancel.status_code == 302
    assert db.session.get(CareRecord, w["checked"].id).status == "cancelled"
