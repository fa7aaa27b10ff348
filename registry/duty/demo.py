"""Demo months in the village (示例) for the last twelve months of village postings:
most months at or above the minimum, some under it, a few unexcused absences, leave with
who approved it; older months checked, recent ones waiting for the township, a few sent
back, and some not filed yet."""
from __future__ import annotations

import calendar
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, insert, select

from ..audit.services import record
from ..core.enums import VILLAGE_ROLES
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..people.models import Posting
from .models import DutyMonth
from .services import add_months, month_start, posting_days_in_month

WORK = (
    "走访脱贫户和监测户{n}户，更新帮扶台账",
    "召开村支两委会议{n}次，研究村集体经济项目",
    "协调产业资金，推进油茶基地建设",
    "组织劳务输出对接会，帮助{n}名村民外出务工",
    "开展人居环境整治，清理沟渠{n}公里",
    "对接消费帮扶，销售农产品{n}万元",
    "入户排查防返贫风险，落实帮扶措施",
    "组织党员开展主题党日活动",
    "协调修缮村级道路，解决群众出行难",
    "调解邻里纠纷{n}起，收集群众诉求",
)
APPROVERS = ("乡镇党委书记", "乡镇党委副书记", "县委组织部", "派出单位分管领导")
RETURN_REASONS = ("在村天数与乡镇考勤记录不符，请核对", "请假未附审批材料，请补充批准人", "工作纪实过于简略，请补充具体工作")


def _summary(rng) -> str:
    return "；".join(part.format(n=rng.randint(2, 40)) for part in rng.sample(WORK, 2))


@step(52, "生成示例驻村纪实")
def duty_months(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(DutyMonth)):
        ctx.echo("  已有驻村纪实，跳过")
        return
    rng = ctx.rng
    today = local_today()
    minimum = int(current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"])
    this_month = month_start(today)
    first = add_months(this_month, -12)
    last = add_months(this_month, -1)
    postings = db.session.scalars(
        select(Posting).where(
            Posting.role.in_(VILLAGE_ROLES), Posting.is_active | (Posting.end_date >= first)
        ).order_by(Posting.id)
    ).all()
    if not postings:
        ctx.echo("  没有驻村选派，跳过")
        return
    # the demo village's first secretary (吉首市's first village): a short month and one absence
    demo_village = min((p.region_code for p in postings if p.region_code.startswith(FOCUS_COUNTIES[0])), default=None)
    # and its last team member's last month left for the member to file with an account of
    # their own (驻村干部): the row is made (the random draws stay the same) but not kept
    own_filer = max((p.id for p in postings if p.region_code == demo_village and p.role == "team_member"
                     and p.end_date is None), default=None)
    now = utcnow()
    rows: list[dict] = []
    for p in postings:
        showcase = p.region_code == demo_village and p.role == "first_secretary" and p.end_date is None
        month = max(first, month_start(p.start_date))
        end = min(last, month_start(p.end_date)) if p.end_date else last
        n = 0
        while month <= end:
            n += 1
            recent = month >= add_months(last, -1)
            if not showcase and rng.random() < (0.22 if month == last else 0.03):
                month = add_months(month, 1)
                continue  # not filed (yet)
            month_days = calendar.monthrange(month.year, month.month)[1]
            available = posting_days_in_month(p, month)
            required = -(-minimum * available // month_days)
            short = rng.random() < 0.08 or (showcase and n == 2)
            if short and required > 0:
                days = rng.randint(max(0, required - 8), required - 1)
            else:
                days = rng.randint(required, min(available, required + 6))
            spare = available - days
            leave = rng.randint(1, min(3, spare)) if spare > 0 and rng.random() < 0.25 else 0
            spare -= leave
            absences = 0
            if spare > 0 and (rng.random() < 0.015 or (showcase and month.year == today.year and n == 3)):
                absences = 1 if showcase else rng.choice((1, 1, 2))
            if recent:
                status = rng.choices(("filed", "checked", "returned"), (70, 24, 6))[0]
            else:
                status = "checked"
            filed_at = now - timedelta(days=(this_month - month).days - 3)
            row = {
                "posting_id": p.id, "region_code": p.region_code, "organization_id": p.organization_id, "month": month,
                "month_days": month_days, "available_days": available, "days_in_village": days, "leave_days": leave,
                "leave_approved_by": rng.choice(APPROVERS) if leave else None, "absences": absences,
                "summary": _summary(rng), "status": status,
                "return_reason": rng.choice(RETURN_REASONS) if status == "returned" else None,
                "filed_at": filed_at, "checked_at": filed_at + timedelta(days=5) if status != "filed" else None,
                "is_demo": True, "version": 1,
            }
            if not (p.id == own_filer and month == last):
                rows.append(row)
            month = add_months(month, 1)
    if rows:
        db.session.execute(insert(DutyMonth), rows)
    short = sum(1 for r in rows if r["days_in_village"] * r["month_days"] < minimum * r["available_days"])
    record("demo", "DutyMonth", after={"months": len(rows), "short": short},
           summary=f"生成示例驻村纪实 {len(rows)} 条（不足{minimum}天 {short} 条）")
    ctx.echo(f"  生成示例驻村纪实 {len(rows)} 条，其中不足{minimum}天 {short} 条")
