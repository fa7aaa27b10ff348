"""Demo village results (示例): last year's figures for villages with posted helpers or
pairings and for key villages — most verified, some waiting for the township, some sent
back — and the year before, verified."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from ..audit.services import record
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..people.models import Posting
from ..regions.models import Region
from .models import VillageResult

RETURN_REASONS = (
    "村集体经济经营性收入与乡镇台账不一致，请核对后重报",
    "监测对象户数与防返贫监测系统不一致，请核对",
    "办实事件数缺少清单，请补充说明",
)


def _figures(rng, village: Region, growth: float = 1.0) -> dict:
    base = 40_000 if village.is_key else 90_000
    monitored = rng.randint(0, 35 if village.is_poor else 12)
    return {
        "collective_income": Decimal(int(rng.randint(base, base * 6) * growth)).quantize(Decimal("0.01")),
        "per_capita_income": Decimal(round(rng.uniform(11_500, 21_000) * growth, 2)).quantize(Decimal("0.01")),
        "monitored_households": monitored,
        "risk_removed_households": rng.randint(0, monitored),
        "industry_projects": rng.randint(0, 6),
        "jobs_created": rng.randint(0, 80),
        "practical_matters": rng.randint(3, 30),
    }


@step(54, "生成示例帮扶实效")
def village_results(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(VillageResult)):
        ctx.echo("  已有帮扶实效，跳过")
        return
    rng = ctx.rng
    last_year = local_today().year - 1
    helped = set(db.session.scalars(select(Posting.region_code).distinct()))
    villages = db.session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).all()
    chosen = [v for v in villages if v.code in helped or v.is_key or (v.code[:6] in FOCUS_COUNTIES and rng.random() < 0.7)]
    if not chosen:
        ctx.echo("  没有需要填报的村，跳过")
        return
    demo_village = next((v.code for v in villages if v.code.startswith(FOCUS_COUNTIES[0])), None)
    now = utcnow()
    rows: list[dict] = []
    for village in chosen:
        if village.code == demo_village:
            status = "returned"  # the demo village has something to correct
        else:
            status = rng.choices(("verified", "filed", "returned"), (70, 20, 10))[0]
        filed_at = now - timedelta(days=rng.randint(20, 300))
        rows.append({
            "village_code": village.code, "year": last_year, **_figures(rng, village), "status": status,
            "return_reason": rng.choice(RETURN_REASONS) if status == "returned" else None, "note": "示例数据",
            "filed_at": filed_at, "verified_at": filed_at + timedelta(days=12) if status == "verified" else None,
            "is_demo": True, "version": 1,
        })
        if rng.random() < 0.6 or village.code == demo_village:
            rows.append({
                "village_code": village.code, "year": last_year - 1, **_figures(rng, village, 0.9), "status": "verified",
                "return_reason": None, "note": "示例数据", "filed_at": filed_at - timedelta(days=365),
                "verified_at": filed_at - timedelta(days=350), "is_demo": True, "version": 1,
            })
    db.session.execute(insert(VillageResult), rows)
    record("demo", "VillageResult", after={"results": len(rows)}, summary=f"生成示例帮扶实效 {len(rows)} 条")
    ctx.echo(f"  生成示例帮扶实效 {len(rows)} 条")
