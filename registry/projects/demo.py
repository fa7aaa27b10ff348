"""Demo enterprise projects (示例): one to three per demo enterprise (at most 60 in all), in
the villages it is paired with (村企结对): some only signed, most under construction or in
production with dated progress, a few ended with a reason; the 湘商回归 enterprises'
projects carry the flag. The villages have confirmed most entries, disputed a few, and the
latest entries wait. Written in bulk (the services' rules hold: tests/test_projects.py
checks the demo against them), with one audit event for the step, as the other demos do."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from ..core.timeutil import local_today
from ..demo import DemoContext, step
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..audit.services import record
from ..core.timeutil import utcnow
from .models import ZERO, Project, ProjectConfirmation, ProjectProgress, ProjectVillage

CENT = Decimal("0.01")

MAX_PROJECTS = 80
NAMES = {
    "industry": ("油茶精深加工基地（示例）", "蔬菜种植示范园（示例）", "生猪标准化养殖场（示例）", "柑橘产业园（示例）"),
    "employment": ("扶贫车间（示例）", "来料加工点（示例）"),
    "consumption": ("农产品直采基地（示例）", "消费帮扶专柜（示例）"),
    "public_welfare": ("村级光伏电站捐建（示例）", "助学帮扶计划（示例）"),
    "infrastructure": ("冷链仓储中心（示例）", "产业路硬化（示例）"),
}
DISPUTES = ("实际到位资金与村账不符", "村里尚未见到开工", "带动本村就业人数偏多")


@step(58, "生成示例企业项目")
def projects(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Project)):
        ctx.echo("  已有企业项目，跳过")
        return
    rng = ctx.rng
    today = local_today()
    rows = db.session.execute(
        select(Organization, Pairing.region_code).join(Pairing, Pairing.organization_id == Organization.id)
        .where(Organization.kind == "enterprise", Organization.is_demo.is_(True), Pairing.kind == "enterprise_village")
        .order_by(Organization.id, Pairing.region_code)).all()
    villages: dict[int, list[str]] = {}
    enterprises: dict[int, Organization] = {}
    for org, code in rows:
        enterprises[org.id] = org
        villages.setdefault(org.id, []).append(code)
    made: list[Project] = []
    plans = []
    for org_id, codes in villages.items():
        org = enterprises[org_id]
        for _ in range(rng.randint(1, 3)):
            if len(made) >= MAX_PROJECTS:
                break
            kind = rng.choice(list(NAMES))
            chosen = rng.sample(codes, rng.randint(1, min(2, len(codes))))
            signed = today - timedelta(days=rng.randint(120, 900))
            planned = Decimal(rng.choice((50, 120, 300, 500, 800, 1500, 3000)) * 10_000)
            project = Project(organization_id=org.id, name=f"{org.name.removesuffix('（示例）')}{rng.choice(NAMES[kind])}",
                              kind=kind, is_xiangshang=org.is_xiangshang, planned_investment=planned, signed_on=signed,
                              status="signed", lead_village_code=chosen[0], is_demo=True,
                              description="示例数据：企业在结对村投资兴业，带动村民就业增收。")
            project.villages = [ProjectVillage(village_code=code) for code in chosen]
            made.append(project)
            plans.append((project, chosen, signed, planned))
    db.session.add_all(made)
    db.session.flush()
    entries = 0
    for project, chosen, signed, planned in plans:
        entries += _advance(rng, project, chosen, signed, planned, today)
    db.session.flush()
    record("demo", "Project", after={"added": len(made), "progress": entries},
           summary=f"生成示例企业项目 {len(made)} 个，进展 {entries} 条")
    ctx.echo(f"  生成示例企业项目 {len(made)} 个，进展 {entries} 条")


def _advance(rng, project: Project, chosen: list[str], signed, planned: Decimal, today) -> int:
    """Move the project to a random stage by dated entries; the villages decided every entry
    but (sometimes) the latest, a few with a dispute. Returns the entries made."""
    stage = rng.choices(("signed", "building", "operating", "terminated"), weights=(2, 4, 4, 1))[0]
    if stage == "signed":
        return 0
    span = (today - signed).days
    day = signed + timedelta(days=rng.randint(10, max(11, span // 3)))
    share = Decimal(str(round(rng.uniform(0.2, 0.5), 2)))
    steps = [(day, "building", (planned * share).quantize(CENT), rng.randint(5, 30), "项目开工，完成土地流转与场地平整")]
    if stage in ("operating", "terminated"):
        day = min(today, day + timedelta(days=rng.randint(30, max(31, (today - day).days // 2))))
        if stage == "operating":
            full = Decimal(str(round(rng.uniform(0.8, 1.0), 2)))
            steps.append((day, "operating", (planned * full).quantize(CENT), rng.randint(10, 80), "项目建成投产"))
        else:
            steps.append((day, "terminated", steps[0][2], steps[0][3], ""))
            project.end_reason = "企业经营调整，项目停止实施"
    now = utcnow()
    status = "signed"
    confirmed = ZERO
    decide_last = rng.random() < 0.5
    for n, (when, to, amount, jobs, note) in enumerate(steps):
        entry = ProjectProgress(project_id=project.id, entry_date=when, status_from=status, status_to=to,
                                actual_investment=amount, local_jobs=jobs, note=note, is_demo=True, created_at=now)
        status = to
        setattr(project, {"building": "started_on", "operating": "operating_on", "terminated": "terminated_on"}[to], when)
        decided = n < len(steps) - 1 or decide_last
        states = []
        for code in chosen:
            state = "pending" if not decided else ("disputed" if rng.random() < 0.1 else "confirmed")
            states.append(state)
            entry.confirmations.append(ProjectConfirmation(
                project_id=project.id, village_code=code, state=state,
                reason=rng.choice(DISPUTES) if state == "disputed" else None, decided_at=now if decided else None))
        if all(state == "confirmed" for state in states):
            confirmed = amount
        db.session.add(entry)
    project.status, project.actual_investment, project.local_jobs = status, steps[-1][2], steps[-1][3]
    project.confirmed_investment = confirmed
    return len(steps)
