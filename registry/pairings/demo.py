"""Demo pairings (示例): resident assistance for most villages with a posted first
secretary (and some without), village–enterprise pairings, paired assistance of key
counties by sector, fixed-point assistance by army units, and some ended pairings.
No two pairings of one organization, place and kind overlap."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from ..audit.services import record
from ..core.timeutil import local_today
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Posting
from ..regions.models import Region
from .models import Pairing


@step(30, "生成示例结对关系")
def pairings(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Pairing)):
        ctx.echo("  已有结对关系，跳过")
        return
    rng = ctx.rng
    today = local_today()
    orgs = db.session.scalars(select(Organization).order_by(Organization.id)).all()
    if not orgs:
        return
    by_kind: dict[str, list[Organization]] = {}
    for org in orgs:
        by_kind.setdefault(org.kind, []).append(org)
    demo_unit = by_kind["backing_unit"][0]
    villages = db.session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).all()
    counties = db.session.scalars(select(Region).where(Region.level == "county").order_by(Region.code)).all()
    # (village, organization, start) of every current first secretary posting
    secretaries = db.session.execute(
        select(Posting.region_code, Posting.organization_id, Posting.start_date)
        .where(Posting.role == "first_secretary", Posting.is_active)
    ).all()
    made: list[Pairing] = []
    seen: set[tuple[int, str, str]] = set()

    def add(org: Organization, code: str, kind: str, start: date, end: date | None = None, sector: str | None = None,
            note: str | None = None) -> None:
        key = (org.id, code, kind)
        if key in seen:
            return
        seen.add(key)
        made.append(Pairing(organization_id=org.id, region_code=code, kind=kind, sector=sector, start_date=start,
                            end_date=end, note=note, is_demo=True))

    # resident assistance: the first secretary's unit backs the village (most of the time)
    by_id = {org.id: org for org in orgs}
    for code, org_id, start in secretaries:
        if org_id == demo_unit.id or rng.random() < 0.8:
            add(by_id[org_id], code, "resident", start - timedelta(days=rng.randint(0, 60)))
    # some villages are backed without a posted secretary; others had a pairing that ended
    for village in rng.sample(villages, max(1, len(villages) // 25)):
        unit = rng.choice(by_kind["backing_unit"])
        if rng.random() < 0.5:
            add(unit, village.code, "resident", today - timedelta(days=rng.randint(100, 900)))
        else:
            end = today - timedelta(days=rng.randint(30, 300))
            add(unit, village.code, "resident", end - timedelta(days=730), end, note="帮扶任务调整，结对结束")

    # 万企兴万村: enterprises pair with villages, mostly in their own county
    for enterprise in by_kind.get("enterprise", []):
        local = [v for v in villages if v.code.startswith(enterprise.region_code[:6])] or villages
        for village in rng.sample(local, min(len(local), rng.randint(1, 3))):
            add(enterprise, village.code, "enterprise_village", today - timedelta(days=rng.randint(30, 1200)))

    # 对口帮扶 by sector: paired units with key counties (and a few villages)
    key_counties = [c for c in counties if c.is_key] or counties[:5]
    for unit in by_kind.get("paired_unit", []):
        for county in rng.sample(key_counties, min(len(key_counties), 2)):
            add(unit, county.code, "paired", date(2021, 6, 1) + timedelta(days=rng.randint(0, 400)), sector=unit.subtype)
        for village in rng.sample([v for v in villages if v.is_key] or villages, 2):
            add(unit, village.code, "paired", today - timedelta(days=rng.randint(60, 900)), sector=unit.subtype)

    # 定点帮扶: army units and mass organisations; one ended
    for n, unit in enumerate(by_kind.get("army_unit", []) + by_kind.get("mass_org", [])):
        place = rng.choice(key_counties) if n % 2 else rng.choice(villages)
        start = today - timedelta(days=rng.randint(200, 1500))
        end = start + timedelta(days=700) if n == 1 and start + timedelta(days=700) < today else None
        add(unit, place.code, "fixed_point", start, end)
    # charities, parties and others: "other" assistance with villages
    for unit in by_kind.get("charity", []) + by_kind.get("party_federation", []) + by_kind.get("other", []):
        for village in rng.sample(villages, min(len(villages), 2)):
            add(unit, village.code, "other", today - timedelta(days=rng.randint(30, 800)))

    # the demo village: the demo unit's resident pairing (above) plus an enterprise
    jishou = [v for v in villages if v.code.startswith(FOCUS_COUNTIES[0])]
    local_firms = [o for o in by_kind.get("enterprise", []) if o.region_code.startswith(FOCUS_COUNTIES[0])]
    if jishou and local_firms:
        add(local_firms[0], jishou[0].code, "enterprise_village", today - timedelta(days=400))
    if jishou:
        add(demo_unit, jishou[0].code, "resident", today - timedelta(days=320))
        if len(jishou) > 4:
            add(demo_unit, jishou[4].code, "resident", today - timedelta(days=150))

    db.session.add_all(made)
    db.session.flush()
    record("demo", "Pairing", after={"added": len(made)}, summary=f"生成示例结对关系 {len(made)} 条")
    ctx.echo(f"  生成示例结对关系 {len(made)} 条")
