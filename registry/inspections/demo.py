"""Demo inspections (示例督查): this year's provincial plan (湘西州, 吉首市 — the demo county —,
宁乡市 and the demo unit's department) and 湘西州's plan (泸溪县), a visit each, and findings
in every state: 吉首市 has one 待整改, one 整改中, one 已销号 and one overdue; the department
one 整改中 (the demo unit's to see)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from ..audit.services import record
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .models import Finding, Inspection, InspectionPlan, InspectionVisit, target_key

PROVINCE = "430000000000"
TEAMS = ("示例督查组：省乡村振兴局 张明（组长）、省农业农村厅 李华、省财政厅 王芳",
         "示例督查组：州委农办 刘强（组长）、州乡村振兴局 陈静")
# (item, description, state, deadline in days from today)
JISHOU = (
    ("funds", "示例：衔接资金项目开工率偏低，部分资金滞留在县级账户", "open", 40),
    ("resident_support", "示例：个别驻村工作队员在村天数不足，考勤记录不完整", "rectifying", 20),
    ("monitoring", "示例：防返贫监测对象识别纳入不及时", "closed", 10),
    ("responsibility", "示例：乡镇帮扶责任清单未细化到村", "open", -10),  # overdue
)
RECTIFY_NOTE = "示例：已制定整改方案，明确责任人和完成时限，正在逐项落实"
CLOSE_NOTE = "示例：经督查组回访核查，整改到位，予以销号"


def _inspection(plan, kind, ident, focus) -> Inspection:
    inspection = Inspection(plan=plan, year=plan.year, inspector_region_code=plan.region_code, target_kind=kind,
                            target_key=target_key(kind, ident), focus=focus, is_demo=True,
                            target_region_code=ident if kind == "region" else None,
                            target_organization_id=ident if kind == "organization" else None)
    db.session.add(inspection)
    return inspection


def _finding(inspection, visit, item, description, state, deadline) -> Finding:
    now = utcnow()
    finding = Finding(inspection=inspection, visit=visit, year=inspection.year,
                      inspector_region_code=inspection.inspector_region_code, target_kind=inspection.target_kind,
                      target_region_code=inspection.target_region_code,
                      target_organization_id=inspection.target_organization_id, item=item, description=description,
                      deadline=deadline, status=state, is_demo=True, created_at=now - timedelta(days=30))
    if state in ("rectifying", "closed"):
        finding.rectify_note, finding.rectify_at = RECTIFY_NOTE, now - timedelta(days=12)
    if state == "closed":
        finding.close_note, finding.closed_at = CLOSE_NOTE, now - timedelta(days=3)
    db.session.add(finding)
    return finding


@step(58, "生成示例督查")
def inspections(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(InspectionPlan)):
        ctx.echo("  已有督查计划，跳过")
        return
    today = local_today()
    year = today.year
    county = FOCUS_COUNTIES[0] + "000000"  # 吉首市
    city = county[:4] + "00000000"
    regions = {r.code: r for r in db.session.scalars(select(Region).where(
        Region.code.in_([PROVINCE, city, county, FOCUS_COUNTIES[1] + "000000", FOCUS_COUNTIES[2] + "000000"])))}
    if PROVINCE not in regions or county not in regions or city not in regions:
        ctx.echo("  没有示例地区，跳过")
        return
    visited = max(date(year, 1, 1), today - timedelta(days=45))
    plan = InspectionPlan(year=year, region_code=PROVINCE, title=f"示例：{year}年度乡村振兴责任制落实情况督查",
                          note="示例：对市州、县市区和省直部门落实帮扶责任情况开展年度督查", is_demo=True)
    db.session.add(plan)
    jishou = _inspection(plan, "region", county, "示例：衔接资金使用、驻村帮扶、防返贫监测")
    visit = InspectionVisit(inspection=jishou, visited_on=visited, team=TEAMS[0], is_demo=True,
                            summary="示例：听取汇报，查阅台账，随机走访3个村")
    db.session.add(visit)
    findings = [_finding(jishou, visit, item, text, state, today + timedelta(days=days))
                for item, text, state, days in JISHOU]
    _inspection(plan, "region", city, "示例：州级统筹和对县督查情况")
    other = FOCUS_COUNTIES[2] + "000000"
    if other in regions:
        _inspection(plan, "region", other, None)
    department = db.session.scalars(select(Organization).where(
        Organization.kind == "backing_unit", Organization.level == "provincial").order_by(Organization.id)).first()
    if department is not None:
        inspected = _inspection(plan, "organization", department.id, "示例：定点帮扶责任落实")
        findings.append(_finding(inspected, None, "paired_support", "示例：定点帮扶村走访频次不足，帮扶项目台账不全",
                                 "rectifying", today + timedelta(days=25)))
    luxi = FOCUS_COUNTIES[1] + "000000"
    if luxi in regions:
        city_plan = InspectionPlan(year=year, region_code=city, title=f"示例：{year}年度州级乡村振兴督查", is_demo=True)
        db.session.add(city_plan)
        inspected = _inspection(city_plan, "region", luxi, "示例：驻村工作队管理")
        city_visit = InspectionVisit(inspection=inspected, visited_on=visited, team=TEAMS[1], is_demo=True)
        db.session.add(city_visit)
        findings.append(_finding(inspected, city_visit, "training", "示例：驻村干部年度轮训参训率偏低", "open",
                                 today + timedelta(days=30)))
    db.session.flush()
    record("demo", "Finding", after={"plans": 2 if luxi in regions else 1, "findings": len(findings)},
           summary=f"生成示例督查计划及督查问题 {len(findings)} 个")
    ctx.echo(f"  生成示例督查问题 {len(findings)} 个")


@step(60, "生成示例督查问题容错")
def finding_tolerance(ctx: DemoContext) -> None:
    """One 容错纠错 case about a finding (after the summons' cases, step 59): 吉首市 applied about
    its open finding on funds (slowed by the flood season), and the province, which inspected,
    tolerated it — the finding leaves 吉首市's yearly figure, its rectification goes on."""
    try:
        from ..tolerance.models import FaultToleranceCase, case_key
        from ..tolerance.subjects import SUBJECTS
    except ImportError:  # the fault-tolerance feature is not installed
        return
    if db.session.scalar(select(func.count()).select_from(FaultToleranceCase).where(
            FaultToleranceCase.subject_kind == "finding")):
        ctx.echo("  已有督查问题容错记录，跳过")
        return
    finding = db.session.scalar(select(Finding).where(
        Finding.target_region_code == FOCUS_COUNTIES[0] + "000000", Finding.inspector_region_code == PROVINCE,
        Finding.item == "funds", Finding.status == "open", Finding.is_demo.is_(True)).limit(1))
    if finding is None or "finding" not in SUBJECTS:
        ctx.echo("  没有可申请容错的示例督查问题，跳过")
        return
    kind, now = SUBJECTS["finding"], utcnow()
    info = kind.info(finding)
    case = FaultToleranceCase(
        subject_kind="finding", subject_id=finding.id, subject_key=case_key("finding", finding.id),
        subject_title=info.title[:200], person_id=None, organization_id=info.organization_id,
        region_code=info.region_code, decider_region_code=info.decider_region_code, year=info.year,
        grounds="objective", facts="示例：汛期道路多次中断，项目无法进场施工，资金未能按进度拨付，已向督查组书面报告",
        applied_at=now - timedelta(days=8), status="tolerated",
        decision_reason="示例：经核实，开工率偏低系汛期客观原因所致，县里已及时报告并调整计划，予以容错",
        document_number=f"湘乡振容〔{info.year}〕1号", correction="示例：汛期结束后一个月内全面开工，资金按进度拨付到位",
        effect=kind.effect(finding)[:300], decided_at=now - timedelta(days=4), is_demo=True,
    )
    db.session.add(case)
    db.session.flush()
    record("demo", "FaultToleranceCase", after={"cases": 1}, summary="生成示例督查问题容错 1 件")
    ctx.echo("  生成示例督查问题容错 1 件")
