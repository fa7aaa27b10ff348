"""Demo fault-tolerance cases (示例容错纠错): about summons of the demo county (吉首市),
one tolerated (its summons no longer caps the year's grade), one refused with the
correction asked for, and one waiting for the county's decision."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from ..assessment.models import Incentive
from ..audit.services import record
from ..core.timeutil import utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from .models import FaultToleranceCase, case_key
from .subjects import SUBJECTS

CASES = (
    ("tolerated", "objective", "汛期山体滑坡致进村道路中断一周，无法返村，已第一时间向乡镇报告并在安置点开展工作",
     "经核实，缺勤系不可抗力所致，本人及时报告并积极履职，符合容错情形，予以容错", None),
    ("not_tolerated", "other", "因家中有事未及时返村，事后补办了请假手续",
     "未按规定事先请假，不属于容错情形，不予容错", "严格执行驻村考勤和请销假制度，补足在村天数，由乡镇每月核实"),
    ("pending", "exploration", "试点村级集体经济合作社统一收购模式，因市场价格波动未达预期，群众有反映", None, None),
)


@step(59, "生成示例容错纠错")
def cases(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(FaultToleranceCase)):
        ctx.echo("  已有容错纠错记录，跳过")
        return
    county = FOCUS_COUNTIES[0] + "000000"
    summons = db.session.scalars(select(Incentive).where(
        Incentive.kind == "summons", Incentive.subject_kind == "person", Incentive.region_code == county)
        .order_by(Incentive.id)).all()
    if not summons:
        ctx.echo("  没有可申请容错的约谈，跳过")
        return
    now = utcnow()
    kind = SUBJECTS["summons"]
    made = 0
    for (status, grounds, facts, reason, correction), incentive in zip(CASES, summons):
        info = kind.info(incentive)
        case = FaultToleranceCase(
            subject_kind="summons", subject_id=incentive.id, subject_key=case_key("summons", incentive.id),
            subject_title=info.title[:200], person_id=info.person_id, organization_id=info.organization_id,
            region_code=info.region_code, decider_region_code=info.decider_region_code, year=info.year,
            grounds=grounds, facts=facts, applied_at=now - timedelta(days=6), status=status, is_demo=True,
        )
        if status != "pending":
            case.decision_reason, case.correction = reason, correction
            case.document_number = f"吉乡振容〔{info.year}〕{made + 1}号"
            case.effect = kind.effect(incentive) if status == "tolerated" else "维持原约谈，照常计入考核"
            case.decided_at = now - timedelta(days=2)
        db.session.add(case)
        made += 1
    db.session.flush()
    record("demo", "FaultToleranceCase", after={"cases": made}, summary=f"生成示例容错纠错 {made} 件")
    ctx.echo(f"  生成示例容错纠错 {made} 件")
