"""Demo 实绩考核 (示例): this year's county scheme of the province, six indicators (five
computed from the demo's own figures, one entered), and the demo counties scored: 吉首市
(the demo county) published, the next approved, the third waiting for review.

Runs after the coverage summaries are rebuilt (step 99): the computed lines read them, as
scoring does. Written directly with the same scoring rule and providers as the services
(the demo accounts do not exist yet when the steps run), each row with its audit event."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from ..audit.services import record as audit
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..regions.models import Region
from .models import Indicator, Scheme, ScoreLine, Scorecard
from .providers import PROVIDERS
from .rules import score_of, shown

PROVINCE = "430000000000"
INDICATORS = (
    dict(name="驻村第一书记覆盖", weight=25, source="computed", provider="first_secretary_share", rule="linear",
         floor=40, target=100),
    dict(name="后盾单位覆盖", weight=15, source="computed", provider="backing_unit_share", rule="linear",
         floor=40, target=100),
    dict(name="帮扶记录确认", weight=15, source="computed", provider="confirmation_rate", rule="linear",
         floor=50, target=95),
    dict(name="驻村天数达标", weight=15, source="computed", provider="duty_days", rule="steps",
         steps='[["90", "100"], ["80", "80"], ["60", "50"]]'),
    dict(name="约谈情况", weight=10, source="computed", provider="summons", rule="steps", better="lower",
         steps='[["0", "100"], ["1", "70"], ["3", "40"]]'),
    dict(name="产业发展与村集体经济（示例）", weight=20, source="entered", rule="direct",
         note="依据县级年度述职材料和现场核查评定"),
)
ENTERED_NOTES = ("示例：村集体经济经营性收入稳步增长，特色产业带动明显（据述职材料及现场核查）",
                 "示例：产业项目推进较好，部分村集体经济收入偏低",
                 "示例：产业基础薄弱，村集体经济增长乏力")
STATES = ("published", "approved", "submitted")


@step(100, "生成示例实绩考核")
def scorecards(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Scheme)):
        ctx.echo("  已有考核方案，跳过")
        return
    year = local_today().year
    scheme = Scheme(region_code=PROVINCE, year=year, target_level="county", state="active", is_demo=True,
                    name=f"示例：{year}年度市县党委和政府乡村振兴实绩考核（县市区）",
                    note="示例方案：系统计算的指标在评分时取数并固定保存，人工录入的指标附评分依据。",
                    activated_at=utcnow())
    db.session.add(scheme)
    for n, values in enumerate(INDICATORS, start=1):
        provider = values.get("provider")
        db.session.add(Indicator(
            scheme=scheme, position=n, name=values["name"], weight=Decimal(values["weight"]), source=values["source"],
            provider=provider, rule=values["rule"], better=values.get("better", "higher"),
            floor=Decimal(values["floor"]) if "floor" in values else None,
            target=Decimal(values["target"]) if "target" in values else None, steps=values.get("steps"),
            unit=PROVIDERS[provider].unit if provider else "分", note=values.get("note")))
    db.session.flush()
    audit("create", scheme, summary=f"制定考核方案（示例）：{scheme.name}")
    counties = [c for c in (db.session.get(Region, code + "000000") for code in FOCUS_COUNTIES) if c is not None]
    counties += db.session.scalars(select(Region).where(
        Region.level == "county", Region.parent_code == "433100000000", Region.code.not_in([c.code for c in counties]))
        .order_by(Region.code).limit(len(STATES))).all()
    now = utcnow()
    for n, (county, state) in enumerate(zip(counties, STATES)):
        card = Scorecard(scheme=scheme, region_code=county.code, state=state, is_demo=True,
                         created_at=now - timedelta(days=3))
        db.session.add(card)
        for indicator in scheme.indicators:
            if indicator.source == "computed":
                figures = PROVIDERS[indicator.provider].compute(county.code, year)
                line = ScoreLine(scorecard=card, indicator=indicator, value=figures.value, numerator=figures.numerator,
                                 denominator=figures.denominator, basis=figures.basis, as_of=now,
                                 score=score_of(indicator, figures.value))
            else:
                value = (indicator.weight * Decimal(("0.9", "0.75", "0.6")[n])).quantize(Decimal("0.01"))
                line = ScoreLine(scorecard=card, indicator=indicator, value=value, note=ENTERED_NOTES[n], as_of=now,
                                 score=score_of(indicator, value))
            db.session.add(line)
        db.session.flush()
        card.total = card.running_total
        card.submitted_at = now - timedelta(days=2)
        if state in ("approved", "published"):
            card.reviewed_at = now - timedelta(days=1)
        if state == "published":
            card.published_at = now
        db.session.flush()
        audit("create", card, summary=f"示例考核结果：{county.name}，总分{shown(card.total)}分（{card.state_label}）")
    ctx.echo(f"  考核方案 1 个，考核结果 {len(STATES)} 个")
