"""The world of the route × persona matrix (``test_route_matrix.py``): a few villages at
every level of the tree, with something of every kind in and out of every persona's
scope, and the accounts of the personas.

Geography (real divisions): V1 and V2 in township T1 of 吉首市 (COUNTY), V3 in another
township of 吉首市, V4 in 泸溪县 (same city), V5 in 宁乡市 (another city). The unit persona
is organization A, helping V1; the village persona is V1; the cadre persona (驻村干部) is
the account of 矩阵干部甲一, A's first secretary in V1.
"""
from __future__ import annotations

import calendar
import io
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from registry.extensions import db
from registry.regions.models import Region
from tests.conftest import PASSWORD
from tests.factories import (
    CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_individual, make_org, make_pairing, make_person, make_posting,
    make_village)
from tests.factories_assessment import attend, make_duty, make_result, make_training

SAME_CITY_COUNTY = "433122000000"  # 泸溪县
PNG_EVIDENCE_NAME = "现场照片.png"

# Each persona but the anonymous one is an account of the world; "disabled" is county staff
# whose account is switched off after logging in.
PERSONAS = ("anonymous", "admin", "province", "city", "county", "township", "unit", "village", "viewer", "disabled",
            "cadre")


@dataclass
class MatrixWorld:
    user_ids: dict  # persona -> its account's id (no entry for anonymous)
    tokens: dict  # persona -> the import-error token of its own file
    codes: list  # the divisions of the world, from the top down
    evidence_png: bytes = b""

    @property
    def users(self) -> dict:
        from registry.accounts.models import User

        return {persona: db.session.get(User, ident) for persona, ident in self.user_ids.items()}


def _townships(county: str) -> list[Region]:
    return list(db.session.scalars(
        select(Region).where(Region.level == "township", Region.parent_code == county).order_by(Region.code).limit(2)))


def _user(username, role, **scope):
    from registry.accounts.services import create_user

    user, _ = create_user(username, role, password=PASSWORD, **scope)
    db.session.commit()
    return user


def build_world() -> MatrixWorld:
    from werkzeug.datastructures import FileStorage

    from registry.assessment.services import (
        GradeData, IncentiveData, assess_organization, assess_posting, issue_to_organization, issue_to_person)
    from registry.assessment.views import default_year
    from registry.closing.services import close_year, request_reopen
    from registry.core.timeutil import local_today
    from registry.records import services as records
    from registry.records.funds import add_contribution
    from tests.factories_records import file_record, png_bytes

    today = local_today()
    last_year = today.year - 1
    t1, t2 = _townships(COUNTY)
    v1 = make_village(COUNTY, 1, township=t1, is_key=True, is_poor=True)
    v2 = make_village(COUNTY, 2, township=t1, is_key=True)
    v3 = make_village(COUNTY, 3, township=t2, is_key=True)
    v4 = make_village(SAME_CITY_COUNTY, 1, is_key=True)
    v5 = make_village(OTHER_COUNTY, 1, is_key=True)

    # the first of each kind is the most local: region users find their own first
    org_h = make_org("other", t1.code, name="矩阵乡镇单位庚", level="other")
    org_a = make_org("backing_unit", PROVINCE, name="矩阵后盾单位甲")
    org_b = make_org("enterprise", OTHER_COUNTY, name="矩阵企业乙", level="county")
    org_c = make_org("backing_unit", COUNTY, name="矩阵县直单位丙", level="county")
    org_d = make_org("backing_unit", SAME_CITY_COUNTY, name="矩阵县直单位丁", level="county")
    fund_f = make_org("charity", PROVINCE, name="矩阵基金戊")
    fund_g = make_org("charity", OTHER_COUNTY, name="矩阵基金己", level="county")

    start = date(today.year - 2, 3, 1)
    make_pairing(org_a, v1.code, "resident", start=start)
    make_pairing(org_b, v5.code, "enterprise_village", start=start)
    make_pairing(org_c, v3.code, "resident", start=start)
    make_pairing(org_d, v4.code, "resident", start=start)
    make_pairing(fund_f, v1.code, "other", start=start)
    make_pairing(fund_g, v5.code, "other", start=start)

    people = {
        "h": make_person(org_h, "矩阵干部庚"),
        "a1": make_person(org_a, "矩阵干部甲一"), "a2": make_person(org_a, "矩阵干部甲二"),
        "b": make_person(org_b, "矩阵干部乙"), "c": make_person(org_c, "矩阵干部丙"),
        "d": make_person(org_d, "矩阵干部丁"), "e": make_person(org_c, "矩阵干部戊"),
    }
    # individual helpers (个人): one at home in T1, a veteran, helping V1; one in the other city
    helper_i = make_individual(t1.code, "矩阵个人壬", is_veteran=True)
    helper_j = make_individual(OTHER_COUNTY, "矩阵个人癸")
    make_pairing(helper_i, v1.code, "other", start=start)
    make_pairing(helper_j, v5.code, "other", start=start)
    postings = {
        "h": make_posting(people["h"], org_h, v2.code, role="team_member", start=start),
        "a1": make_posting(people["a1"], org_a, v1.code, start=start),
        "b": make_posting(people["b"], org_b, v5.code, start=start),
        "c": make_posting(people["c"], org_c, v3.code, start=start),
        "d": make_posting(people["d"], org_d, v4.code, start=start),
        "e": make_posting(people["e"], org_c, v2.code, role="team_member", start=start),
    }

    users = {
        "admin": _user("m_admin", "admin"),
        "province": _user("m_province", "region", region_code=PROVINCE),
        "city": _user("m_city", "region", region_code=CITY),
        "county": _user("m_county", "region", region_code=COUNTY),
        "township": _user("m_township", "region", region_code=t1.code),
        "unit": _user("m_unit", "unit", organization_id=org_a.id),
        "village": _user("m_village", "village", village_code=v1.code),
        "viewer": _user("m_viewer", "viewer", region_code=COUNTY),
        "disabled": _user("m_disabled", "region", region_code=COUNTY),
    }
    # accounts that file and decide what the personas then look at
    unit_b = _user("m_unit_b", "unit", organization_id=org_b.id)
    unit_c = _user("m_unit_c", "unit", organization_id=org_c.id)
    unit_d = _user("m_unit_d", "unit", organization_id=org_d.id)
    unit_f = _user("m_unit_f", "unit", organization_id=fund_f.id)
    unit_i = _user("m_unit_i", "unit", organization_id=helper_i.id)  # the helper's own account
    unit_j = _user("m_unit_j", "unit", organization_id=helper_j.id)
    other_county = _user("m_other_county", "region", region_code=OTHER_COUNTY)
    same_city_county = _user("m_same_city_county", "region", region_code=SAME_CITY_COUNTY)
    county_clerk = _user("m_county_clerk", "region", region_code=COUNTY)

    # support records: A's draft, submitted and confirmed ones (the first two with a photo),
    # the fund's, and others' elsewhere, drafts among them
    png = png_bytes()

    def evidence():
        return [FileStorage(io.BytesIO(png), filename=PNG_EVIDENCE_NAME)]

    records.create_record(users["unit"], _record(v1.code, "矩阵记录甲草稿"), evidence())
    records.create_record(users["unit"], _record(v1.code, "矩阵记录甲已提交"), evidence(), submit=True)
    file_record(users["unit"], v1.code, status="confirmed", village_user=users["village"], title="矩阵记录甲已确认")
    file_record(unit_f, v1.code, status="confirmed", village_user=users["village"], title="矩阵记录戊已确认")
    file_record(unit_i, v1.code, status="confirmed", village_user=users["village"], title="矩阵记录壬已确认")
    file_record(unit_j, v5.code, status="submitted", title="矩阵记录癸已提交")
    overdue = file_record(unit_c, v3.code, status="submitted", title="矩阵记录丙一")
    overdue.submitted_at -= timedelta(days=60)  # waiting for the village longer than allowed
    db.session.commit()
    file_record(unit_c, v2.code, status="submitted", title="矩阵记录丙二")
    file_record(unit_d, v4.code, status="submitted", title="矩阵记录丁")
    records.create_record(unit_b, _record(v5.code, "矩阵记录乙已提交"), evidence(), submit=True)
    file_record(unit_b, v5.code, status="draft", title="矩阵记录乙草稿")

    # enterprise projects: B's in V1 and V5 (湘商回归; a milestone waiting for both villages,
    # with a photo) and B's in V5 only
    from registry.projects import services as projects

    in_v1 = projects.create_project(users["admin"], projects.ProjectData(
        name="矩阵项目乙一", kind="industry", planned_investment="300万", signed_on=start.isoformat(),
        villages=f"{v1.code},{v5.code}", organization_id=org_b.id, is_xiangshang=True))
    projects.record_progress(in_v1, users["admin"], projects.ProgressData(
        entry_date=(start + timedelta(days=30)).isoformat(), status_to="building", actual_investment="100万"), evidence())
    in_v5 = projects.create_project(users["admin"], projects.ProjectData(
        name="矩阵项目乙二", kind="consumption", planned_investment="40万", signed_on=start.isoformat(),
        villages=v5.code, organization_id=org_b.id))
    projects.record_progress(in_v5, users["admin"], projects.ProgressData(
        entry_date=(start + timedelta(days=30)).isoformat(), note="开工"), evidence())

    # money a fund received
    add_contribution(fund_f, unit_f, {"donor": "矩阵捐赠人一", "amount": "5000", "received_on": start.isoformat(),
                                      "receipt_no": "M-001"})
    add_contribution(fund_g, users["admin"], {"donor": "矩阵捐赠人二", "amount": "7000",
                                              "received_on": start.isoformat(), "receipt_no": "M-002"})

    # days in the village, village results, trainings
    month = date(today.year, today.month, 1) - timedelta(days=1)
    for key in ("a1", "b", "c", "d"):
        make_duty(postings[key], month, days=calendar.monthrange(month.year, month.month)[1] - 8)
    for village in (v1, v3, v4, v5):
        make_result(village.code, year=last_year)
    township_course = make_training(t1.code, "yearly", start=date(last_year, 4, 1), title="矩阵乡镇培训",
                                    level="township", organizer="镇溪街道")
    county_course = make_training(COUNTY, "yearly", start=date(last_year, 6, 1), title="矩阵县级培训", level="county",
                                  organizer="吉首市乡村振兴局")
    province_course = make_training(PROVINCE, "yearly", start=date(last_year, 5, 1), title="矩阵省级培训")
    other_course = make_training(OTHER_COUNTY, "yearly", start=date(last_year, 7, 1), title="矩阵外县培训",
                                 level="county", organizer="宁乡市乡村振兴局")
    attend(township_course, people["a1"])
    attend(county_course, people["a1"])
    attend(province_course, people["c"])
    attend(other_course, people["b"])

    # grades (of the year the lists show first), commendations and summons
    year = default_year()
    assess_posting(postings["a1"], GradeData(year, "称职"), users["county"])
    assess_posting(postings["b"], GradeData(year, "优秀"), other_county)
    assess_organization(org_c, GradeData(year, "好"), users["county"])
    assess_posting(postings["d"], GradeData(year, "称职"), same_city_county)
    summons = IncentiveData("summons", today - timedelta(days=3), "county", "驻村天数不足")
    summons_a1 = issue_to_person(people["a1"], summons, users["county"])
    issue_to_organization(org_b, IncentiveData("commendation", today - timedelta(days=3), "county", "帮扶成效突出"),
                          other_county)

    # inspections (督查) of this year: the city's of 吉首市 first (so that the city's own come
    # first among what it sees), then the province's of 吉首市, of unit A (a provincial
    # department) and of 宁乡市; each with a finding, the city's with a photo, the unit's
    # rectifying with its photo, the province's of 吉首市 overdue (on the home worklists)
    from registry.inspections import services as inspections

    city_plan = inspections.create_plan(users["city"], today.year, "矩阵市州督查计划")
    city_inspection = inspections.add_inspection(city_plan, users["city"], f"region:{COUNTY}")
    inspections.add_visit(city_inspection, users["city"], today, "市督查组：甲、乙")
    due = (today + timedelta(days=30)).isoformat()
    city_finding = inspections.add_finding(city_inspection, users["city"], inspections.FindingData(
        "funds", "矩阵督查问题一", due, uploads=evidence()))
    province_plan = inspections.create_plan(users["province"], today.year, "矩阵省级督查计划")
    late = inspections.add_finding(
        inspections.add_inspection(province_plan, users["province"], f"region:{COUNTY}"), users["province"],
        inspections.FindingData("monitoring", "矩阵督查问题二", due))
    unit_finding = inspections.add_finding(
        inspections.add_inspection(province_plan, users["province"], f"organization:{org_a.id}"), users["province"],
        inspections.FindingData("paired_support", "矩阵督查问题三", due))
    inspections.rectify(unit_finding, "已整改", users["unit"])
    inspections.add_evidence(unit_finding, users["unit"], evidence())
    inspections.add_finding(
        inspections.add_inspection(province_plan, users["province"], f"region:{OTHER_COUNTY}"), users["province"],
        inspections.FindingData("training", "矩阵督查问题四", due))
    late.deadline = today - timedelta(days=3)
    db.session.commit()
    # 实绩考核: the province's scheme of the year; 吉首市's scorecard published (with an
    # evidence file), 宁乡市's still being scored
    from registry.scorecards import services as scorecards

    reviewer = _user("m_province_reviewer", "region", region_code=PROVINCE)
    scheme = scorecards.create_scheme(users["province"], {"name": "矩阵考核方案", "year": str(today.year),
                                                          "target_level": "county"})
    scorecards.add_indicator(users["province"], scheme, {
        "name": "第一书记覆盖", "weight": "60", "source": "computed", "provider": "first_secretary_share",
        "rule": "linear", "better": "higher", "floor": "0", "target": "100"})
    scorecards.add_indicator(users["province"], scheme, {"name": "工作创新", "weight": "40", "source": "entered",
                                                         "rule": "direct"})
    scorecards.activate(users["province"], scheme)
    card = scorecards.start_scorecard(users["province"], scheme, COUNTY)
    scorecards.compute_line(users["province"], card, scheme.indicators[0])
    scorecards.enter_line(users["province"], card, scheme.indicators[1], {"value": "30", "note": "矩阵评分依据"},
                          evidence())
    scorecards.submit(users["province"], card)
    scorecards.approve(reviewer, card)
    scorecards.publish(users["province"], card)
    scorecards.start_scorecard(users["province"], scheme, OTHER_COUNTY)
    # care (关心关爱): A's first secretary insured by the province that dispatched them, and
    # the other county's secretary checked; fault-tolerance cases about a summons in each
    from registry.care.services import CareData, add_care
    from registry.tolerance.services import Application, Decision, apply, decide

    add_care(people["a1"], CareData(postings["a1"].id, "insurance", "人身意外伤害保险", today - timedelta(days=10),
                                    today + timedelta(days=355), "500000"), users["province"])
    add_care(people["b"], CareData(postings["b"].id, "health_check", "年度体检", today - timedelta(days=1)),
             users["province"])
    summons_b = issue_to_person(people["b"], IncentiveData("summons", today - timedelta(days=2), "county", "走访不到位"),
                                other_county)
    apply("summons", summons_b, Application("objective", "暴雨致道路中断"), unit_b)
    case_a1 = apply("summons", summons_a1, Application("objective", "山洪致道路中断，未能返村"), users["unit"])
    decide(case_a1, Decision("tolerated", "情况属实"), users["city"])
    # and one about the city's finding of 吉首市, applied for by the county (no organization:
    # units see none of it), waiting for the city's decision
    apply("finding", city_finding, Application("objective", "汛期道路中断，资金项目无法按期施工"), users["county"])

    # year closes and reopen requests (after everything of that year is in)
    closed_here = close_year(users["county"], last_year - 1, "freeze", True)
    closed_there = close_year(other_county, last_year - 1, "freeze", True)
    request_reopen(closed_here, county_clerk, ["duty"], "补录驻村纪实，需重新开放", today + timedelta(days=10))
    request_reopen(closed_there, other_county, ["duty"], "补录驻村纪实，需重新开放", today + timedelta(days=10))

    # a notification for every persona (its own to open; others' are 404) and a failed e-mail
    from registry.notifications import notify
    from registry.notifications.models import OutboundEmail

    notify("record_chased", list(users.values()), title="矩阵通知", link="/notifications/")
    db.session.add(OutboundEmail(to_address="matrix@example.gov.cn", subject="矩阵邮件", body="…", status="failed",
                                 attempts=6, last_error="SMTPServerDisconnected"))
    db.session.commit()

    from registry.accounts.tokens import issue_token

    tokens = {}
    for persona, user in users.items():
        tokens[persona] = _jobs_and_reports(user)
        issue_token(user, f"{persona}的接口令牌")  # an API token of its own, to revoke
    # the cadre: an account of 矩阵干部甲一's own (no API token nor jobs: a cadre has neither)
    from tests.factories import make_cadre

    users["cadre"] = make_cadre(people["a1"], users["unit"], username="m_cadre")
    notify("record_chased", [users["cadre"]], title="矩阵通知", link="/notifications/")  # its own, too
    db.session.commit()
    codes = [PROVINCE, CITY, COUNTY, t1.code, v1.code, v2.code, t2.code, v3.code, SAME_CITY_COUNTY, v4.code,
             OTHER_COUNTY, v5.code]
    return MatrixWorld(user_ids={p: u.id for p, u in users.items()}, tokens=tokens, codes=codes, evidence_png=png)


def _record(village_code: str, title: str) -> dict:
    from tests.factories_records import record_data

    return record_data(village_code, title=title)


def _jobs_and_reports(user) -> str:
    """An export job with its file and an import job with its error sheet, owned by
    ``user``; and an import-error sheet of theirs. Returns the sheet's token."""
    import json

    from registry.core.timeutil import utcnow
    from registry.transfer.models import TransferJob

    now = utcnow()
    export = TransferJob(user_id=user.id, action="export", kind="people", status="done", filename="帮扶干部.csv",
                         options=json.dumps({"path": "/people/export.csv", "query": "", "fmt": "csv", "total": 1}),
                         output=f"m{user.id}-export.csv", started_at=now, finished_at=now)
    imported = TransferJob(user_id=user.id, action="import", kind="people", status="failed", filename="帮扶干部.xlsx",
                           result=json.dumps({}), output=f"m{user.id}-errors.xlsx", started_at=now, finished_at=now)
    db.session.add_all([export, imported])
    db.session.commit()
    return f"matrixtoken{user.id:012d}"


def lay_files(app, world: MatrixWorld) -> None:
    """The files the rows point at: evidence, job outputs, error sheets. Written again
    before each test (a test may delete one; the database is laid anew, the disk is not)."""
    from registry.core.storage import store
    from registry.records.evidence import key_of
    from registry.records.models import Evidence
    from registry.transfer.files import job_key, report_key
    from registry.transfer.models import TransferJob
    from tests.sheets import xlsx_bytes

    from registry.inspections.models import FindingEvidence
    from registry.projects.models import ProjectEvidence
    from registry.scorecards.models import ScoreFile

    files = store()
    stored = [*db.session.scalars(select(Evidence.stored_name)), *db.session.scalars(select(FindingEvidence.stored_name)),
              *db.session.scalars(select(ScoreFile.stored_name)), *db.session.scalars(select(ProjectEvidence.stored_name))]
    for stored_name in stored:
        if not files.exists(key_of(stored_name)):
            files.put(key_of(stored_name), world.evidence_png)
    sheet = xlsx_bytes([["姓名"], ["矩阵干部甲一"]])
    for output in db.session.scalars(select(TransferJob.output).where(TransferJob.output.is_not(None))):
        if not files.exists(job_key(output)):
            files.put(job_key(output), b"\xef\xbb\xbf\xe5\xa7\x93\xe5\x90\x8d\r\n" if output.endswith(".csv") else sheet)
    for persona, user in world.users.items():
        if persona not in world.tokens:
            continue
        if not files.exists(report_key(user.id, world.tokens[persona])):
            files.put(report_key(user.id, world.tokens[persona]), sheet)
