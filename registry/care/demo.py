"""Demo care records (示例关心关爱): in the focus counties, this year's accident insurance,
health checks, quarterly allowances and some leave for the resident cadres, as their
dispatching offices would record them; a few cadres are left uninsured or unchecked, so
the gaps worklist has lines, and one record is cancelled with its reason."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, or_, select

from ..audit.services import record
from ..core.enums import VILLAGE_ROLES
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..notifications.recipients import dispatching_region
from ..people.models import Posting
from .models import CareRecord

INSURERS = ("中国人民财产保险股份有限公司湘西分公司", "中国人寿保险股份有限公司湖南省分公司")
HOSPITALS = ("吉首市人民医院体检中心", "湘西州人民医院体检中心", "长沙县人民医院")


@step(58, "生成示例关心关爱记录")
def care(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(CareRecord)):
        ctx.echo("  已有关心关爱记录，跳过")
        return
    rng = ctx.rng
    today = local_today()
    year_start = date(today.year, 1, 1)
    focus = [Posting.region_code.startswith(code) for code in FOCUS_COUNTIES]
    postings = db.session.scalars(select(Posting).where(Posting.is_active, Posting.role.in_(VILLAGE_ROLES), or_(*focus))
                                  .order_by(Posting.id)).all()
    if not postings:
        ctx.echo("  没有在岗的驻村干部，跳过")
        return
    now = utcnow()
    rows: list[dict] = []

    def add(p: Posting, kind: str, item: str, start: date, end: date | None, amount="0", **kw):
        start = max(start, p.start_date)
        if end is not None and end < start:  # a period over before the posting began: not theirs
            return
        rows.append({
            "person_id": p.person_id, "posting_id": p.id, "organization_id": p.organization_id,
            "region_code": p.region_code, "provider_region_code": dispatching_region(p), "kind": kind, "item": item,
            "start_date": start, "end_date": end, "amount": Decimal(amount),
            "provider_name": kw.get("provider"), "reference": kw.get("reference"), "note": kw.get("note"),
            "status": kw.get("status", "active"), "cancel_reason": kw.get("cancel_reason"),
            "cancelled_at": now if kw.get("status") == "cancelled" else None, "cancelled_by_id": None,
            "recorded_by_id": None, "created_at": now, "is_demo": True, "version": 1,
        })

    for n, p in enumerate(postings):
        # most are insured for the year; every seventh is not (a gap)
        if n % 7 != 3:
            add(p, "insurance", "人身意外伤害保险", year_start, date(today.year, 12, 31), "500000",
                provider=rng.choice(INSURERS), reference=f"示例保单{today.year}{p.id:05d}")
        # most had this year's health check; every fifth has not yet (a gap)
        if n % 5 != 1:
            day = year_start + timedelta(days=rng.randint(0, max((today - year_start).days, 0)))
            add(p, "health_check", "年度体检", day, None, str(rng.choice((600, 800, 1200))), provider=rng.choice(HOSPITALS))
        for quarter in range(4):  # the quarters already over: 生活补助, 每月 800 元
            first = date(today.year, quarter * 3 + 1, 1)
            last = (date(today.year, quarter * 3 + 4, 1) if quarter < 3 else date(today.year + 1, 1, 1)) - timedelta(days=1)
            if last < today:
                add(p, "allowance", "生活补助", first, last, "2400", reference=f"示例文号〔{today.year}〕{quarter + 1}号")
        if n % 4 == 0 and today > year_start + timedelta(days=60):
            start = year_start + timedelta(days=rng.randint(30, 50))
            add(p, "leave", rng.choice(("探亲假", "轮休")), start, start + timedelta(days=4), note="经乡镇同意")
    if rows:  # one entered twice and cancelled, as a wrong entry is
        wrong = dict(rows[0], reference="示例录入错误", status="cancelled", cancel_reason="重复登记，予以作废",
                     cancelled_at=now)
        rows.append(wrong)
        db.session.execute(insert(CareRecord), rows)
    record("demo", "CareRecord", after={"records": len(rows)}, summary=f"生成示例关心关爱记录 {len(rows)} 条")
    ctx.echo(f"  生成示例关心关爱记录 {len(rows)} 条（{len(postings)} 名驻村干部）")
