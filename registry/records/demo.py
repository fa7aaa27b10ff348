"""Demo support records (示例): records in every state across the demo villages over the
last eighteen months, filed by the organizations that the earlier demo steps paired with
or posted to each village; money received by the charitable funds.

The demo unit (the first backing unit) gets records in the demo village (the first
village of 吉首市) in every state, so the demo accounts open living home pages: drafts,
records waiting for the village (one overdue), a dispute with its reason, confirmed
records with a photo, a correction that superseded its original, a withdrawn record.

Rows are written in bulk (no per-row audit events; one summary event per step); the
coverage summaries are rebuilt from them by the dashboard's last demo step.
"""
from __future__ import annotations

import io
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, insert, select

from ..audit.services import record as audit
from ..core.enums import RECORD_STATUSES
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from . import evidence as files
from .models import Evidence, FundContribution, SupportRecord

DAYS_BACK = 540  # about eighteen months

TITLES = {
    "funds": ("拨付村集体经济发展资金", "注入村级产业发展基金", "支持村级公益事业资金"),
    "project": ("建设村级光伏电站", "援建村级冷链仓储项目", "实施人居环境整治项目"),
    "industry": ("扶持茶叶种植基地", "发展柑橘产业示范园", "扶持黄牛养殖合作社", "建设中药材种苗基地"),
    "employment": ("组织劳务输出专场招聘", "开展家政技能培训", "设立村级就业帮扶车间"),
    "consumption": ("采购村特色农产品", "工会节日慰问品定点采购", "组织电商直播带货"),
    "education": ("资助困难家庭学生", "捐建村小图书室", "开展暑期支教"),
    "health": ("组织专家义诊送药", "捐赠村卫生室设备", "开展慢病随访筛查"),
    "culture": ("捐建农家书屋", "组织文艺演出下乡", "修缮村史馆"),
    "science_tech": ("推广稻虾共养技术", "开展科技特派员服务", "建设农业物联网示范点"),
    "infrastructure": ("硬化通组公路", "改造农村饮水工程", "安装太阳能路灯"),
    "goods": ("捐赠农机设备", "捐赠冬季御寒物资", "捐赠办公电脑"),
    "volunteer": ("青年志愿者进村服务", "开展法律咨询志愿服务", "组织环境卫生志愿活动"),
    "other": ("协调解决村民饮水纠纷", "开展乡风文明宣讲"),
}
# (low, high) of the direct money in 元; None: given in kind or as service
AMOUNTS = {
    "funds": (50_000, 500_000), "project": (100_000, 2_000_000), "industry": (20_000, 800_000),
    "employment": (5_000, 100_000), "consumption": (10_000, 300_000), "education": (5_000, 80_000),
    "health": (3_000, 50_000), "culture": (5_000, 100_000), "science_tech": (5_000, 60_000),
    "infrastructure": (100_000, 3_000_000), "goods": None, "volunteer": None, "other": (1_000, 50_000),
}
BY_KIND = {
    "enterprise": ("industry", "employment", "consumption", "funds", "goods"),
    "charity": ("funds", "education", "health", "goods"),
    "mass_org": ("volunteer", "employment", "education", "consumption", "culture"),
    "army_unit": ("infrastructure", "volunteer", "goods", "education"),
    "paired_unit": ("education", "health", "culture", "science_tech", "project"),
    "individual": ("goods", "volunteer", "employment", "industry"),
}
DISPUTE_REASONS = (
    "实际到位资金与填报金额不符，请核对",
    "项目尚未完工，受益户数偏多",
    "物资只送达了一部分，数量需核实",
    "日期有误，活动实际在下个月举办",
    "受益人数与村里台账不一致，存在重复统计",
)
DONORS = ("湖南某建设集团有限公司", "长沙某科技股份有限公司", "爱心人士王某", "湘商联谊会", "某银行湖南省分行",
          "株洲某实业有限公司", "社会各界爱心捐款", "某电力公司职工", "某医药连锁有限公司")


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    """A plausible amount: whole hundreds, now and then with fifty yuan or fifty fen."""
    return Decimal(rng.randint(low // 100, high // 100) * 100) + Decimal(rng.choice(("0.00", "0.00", "50.00", "0.50")))


def _timestamps(rng: random.Random, day: date, now: datetime) -> tuple[datetime, datetime, datetime]:
    """created, submitted, decided: in order, none in the future."""
    created = datetime.combine(day, time(1, 0)) + timedelta(days=rng.randint(0, 4), hours=rng.randint(0, 9))
    created = min(created, now - timedelta(minutes=30))
    submitted = min(created + timedelta(days=rng.randint(0, 6), hours=rng.randint(0, 8)), now - timedelta(minutes=20))
    decided = min(submitted + timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 8)), now - timedelta(minutes=10))
    return created, submitted, decided


def _bindings(today: date) -> list[tuple[int, str, int | None, date]]:
    """(organization, village, pairing, since) for every village an organization has a
    started pairing with or a posting to; villages of paired counties get two samples."""
    out: dict[tuple[int, str], tuple[int | None, date]] = {}
    village_pairings = db.session.execute(
        select(Pairing.organization_id, Pairing.region_code, Pairing.id, Pairing.start_date, Region.level)
        .join(Region, Region.code == Pairing.region_code)
        .where(Pairing.start_date <= today).order_by(Pairing.id)
    ).all()
    for org_id, code, pairing_id, start, level in village_pairings:
        if level == "village":
            out.setdefault((org_id, code), (pairing_id, start))
        elif level in ("county", "township"):
            area = Region(code=code, level=level)
            villages = db.session.scalars(
                select(Region.code).where(Region.level == "village", area.within(Region.code)).order_by(Region.code).limit(2)
            ).all()
            for village in villages:
                out.setdefault((org_id, village), (pairing_id, start))
    postings = db.session.execute(
        select(Posting.organization_id, Posting.region_code, func.min(Posting.start_date))
        .join(Region, Region.code == Posting.region_code)
        .where(Region.level == "village", Posting.start_date <= today)
        .group_by(Posting.organization_id, Posting.region_code)
    ).all()
    for org_id, code, start in postings:
        pairing, since = out.get((org_id, code), (None, start))
        out[(org_id, code)] = (pairing, min(since, start))
    return [(org, village, pairing, since) for (org, village), (pairing, since) in sorted(out.items())]


class _Maker:
    def __init__(self, ctx: DemoContext, kinds: dict[int, str]):
        self.rng = ctx.rng
        self.kinds = kinds
        self.today = local_today()
        self.now = utcnow()
        self.earliest = current_app.config["REGISTRY_RECORD_EARLIEST_DATE"]
        # each pairing's period: a record dated outside it is not linked to it (the rule of
        # ``filing.validate_record_data``), as a unit whose posting came first files
        self.pairings = {p.id: p for p in db.session.scalars(select(Pairing))}

    def row(self, org_id: int, village: str, pairing_id: int | None, since: date, status: str, *,
            age: int | None = None, **extra) -> dict:
        rng = self.rng
        first = max(since, self.earliest, self.today - timedelta(days=DAYS_BACK))
        span = max(0, (self.today - first).days)
        days_ago = min(age if age is not None else rng.randint(0, span), span)
        day = self.today - timedelta(days=days_ago)
        if pairing_id is not None and not self.pairings[pairing_id].active_on(day):
            pairing_id = None
        kind = self.kinds.get(org_id, "backing_unit")
        category = extra.pop("category", None) or rng.choice(BY_KIND.get(kind) or tuple(TITLES))
        limits = AMOUNTS[category]
        amount = _money(rng, *limits) if limits else Decimal("0.00")
        in_kind = _money(rng, 5_000, 200_000) if category == "goods" or rng.random() < 0.1 else Decimal("0.00")
        attracted = _money(rng, 10_000, 1_000_000) if rng.random() < 0.15 else Decimal("0.00")
        households = rng.randint(0, 180)
        created, submitted, decided = _timestamps(rng, day, self.now)
        row = {
            "organization_id": org_id, "village_code": village, "pairing_id": pairing_id, "category": category,
            "title": rng.choice(TITLES[category]), "description": "示例数据：" + rng.choice(
                ("已按计划实施，资金和物资均已到村。", "由驻村工作队协调落实，村两委参与验收。", "详见佐证材料，台账已存档。")),
            "amount": amount, "amount_attracted": attracted, "amount_in_kind": in_kind,
            "households": households, "persons": households * rng.randint(2, 4), "jobs": rng.randint(0, 30),
            "record_date": day, "status": status, "dispute_reason": None, "supersedes_id": None,
            "created_by_id": None, "submitted_at": None, "decided_at": None, "decided_by_id": None,
            "is_demo": True, "created_at": created, "updated_at": created, "version": 1,
        }
        if status != "draft":
            row["submitted_at"] = submitted
            row["updated_at"] = submitted
        if status in ("confirmed", "disputed", "superseded"):
            row["decided_at"] = decided
            row["updated_at"] = decided
            row["version"] = 3
        if status == "disputed":
            row["dispute_reason"] = rng.choice(DISPUTE_REASONS)
        if status == "withdrawn":
            row["updated_at"] = decided
        row.update(extra)
        return row

    def status(self, age_hint: int) -> str:
        """Recent records are still on their way; older ones are mostly settled."""
        weights = ((("draft", 18), ("submitted", 45), ("confirmed", 27), ("disputed", 10)) if age_hint < 40 else
                   (("confirmed", 78), ("disputed", 5), ("withdrawn", 5), ("submitted", 5), ("superseded", 7)))
        values, w = zip(*weights)
        return self.rng.choices(values, w)[0]


def add_records(ctx: DemoContext, filings: list[tuple[int, str, int | None, date, str, int]]) -> int:
    """Demo records for a later step (individual helpers): (organization, village, pairing,
    since, status, age in days) each, made as this step makes its own; returns how many."""
    if not filings:
        return 0
    kinds = dict(db.session.execute(select(Organization.id, Organization.kind)
                                    .where(Organization.id.in_({f[0] for f in filings}))).all())
    maker = _Maker(ctx, kinds)
    return len(_insert([maker.row(org, village, pairing, since, status, age=age)
                        for org, village, pairing, since, status, age in filings]))


def _insert(rows: list[dict]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), 2000):
        chunk = rows[start:start + 2000]
        ids += db.session.scalars(
            insert(SupportRecord).returning(SupportRecord.id, sort_by_parameter_order=True), chunk
        ).all()
    return ids


def _correction_of(maker: _Maker, original: dict, original_id: int) -> dict:
    """A confirmed correction of ``original`` (which is superseded), a few days later."""
    row = dict(original)
    row["amount"] = (original["amount"] * Decimal("0.9")).quantize(Decimal("0.01"))
    row["title"] = original["title"] + "（更正）"
    row["description"] = "示例数据：更正原记录金额，以村账为准。"
    row["supersedes_id"] = original_id
    row["status"] = "confirmed"
    confirmed = original["decided_at"] or maker.now
    row["created_at"] = min(confirmed + timedelta(days=maker.rng.randint(1, 20)), maker.now - timedelta(minutes=9))
    row["submitted_at"] = min(row["created_at"] + timedelta(hours=1), maker.now - timedelta(minutes=8))
    row["decided_at"] = min(row["submitted_at"] + timedelta(days=maker.rng.randint(1, 10)), maker.now - timedelta(minutes=5))
    row["updated_at"] = row["decided_at"]
    row["version"] = 3
    return row


def _demo_unit_and_village() -> tuple[Organization | None, Region | None]:
    org = db.session.scalars(select(Organization).where(Organization.kind == "backing_unit").order_by(Organization.id)).first()
    county = FOCUS_COUNTIES[0]
    village = db.session.scalars(
        select(Region).where(Region.level == "village", Region.code.between(county + "000000", county + "999999"))
        .order_by(Region.code)
    ).first()
    return org, village


def _photo(rng: random.Random, label: int) -> files.Upload:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 420), (rng.randint(60, 120), rng.randint(120, 170), rng.randint(60, 110)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 300, 640, 420), fill=(150, 120, 80))
    draw.ellipse((470, 40, 560, 130), fill=(250, 220, 120))
    draw.text((20, 20), f"DEMO {label}", fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=80)
    return files.Upload(original_name=f"示例现场照片{label}.jpg", data=buf.getvalue(), content_type="image/jpeg")


@step(40, "生成示例帮扶记录")
def support_records(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(SupportRecord)):
        ctx.echo("  已有帮扶记录，跳过")
        return
    rng = ctx.rng
    today = local_today()
    bindings = _bindings(today)
    if not bindings:
        ctx.echo("  尚无结对或选派关系，跳过")
        return
    kinds = dict(db.session.execute(select(Organization.id, Organization.kind)).all())
    maker = _Maker(ctx, kinds)
    demo_org, demo_village = _demo_unit_and_village()

    # the demo unit in the demo village: every state, for living home pages
    special: list[tuple[str, dict]] = []
    if demo_org is not None and demo_village is not None:
        key = next(((p, s) for o, v, p, s in bindings if o == demo_org.id and v == demo_village.code), None)
        if key is None:  # the demo unit files only where it is paired or posts people
            pairing = Pairing(organization_id=demo_org.id, region_code=demo_village.code, kind="resident",
                              start_date=today - timedelta(days=400), is_demo=True, note="示例帮扶记录所需的结对")
            db.session.add(pairing)
            db.session.flush()
            key = (pairing.id, pairing.start_date)
        pairing_id, since = key
        since = min(since, today - timedelta(days=200))
        add = lambda status, age, **kw: special.append((status, maker.row(demo_org.id, demo_village.code, pairing_id, since, status, age=age, **kw)))  # noqa: E731
        add("draft", 2, title="组织村民参加电商培训", category="employment")
        add("draft", 6)
        add("submitted", 4, title="捐赠村小学课桌椅", category="goods")
        add("submitted", 10)
        add("submitted", 75, title="援建村级农产品冷库", category="project")  # overdue
        add("disputed", 25, title="扶持黄牛养殖合作社", category="industry")
        for age in (40, 95, 150, 190):
            add("confirmed", age)
        add("superseded", 120, title="硬化通组公路", category="infrastructure")
        add("withdrawn", 60)

    plain: list[tuple[str, dict]] = []
    per_binding = max(1.0, 3 * min(ctx.scale, 1.5))
    for org_id, village, pairing_id, since in bindings:
        if demo_org is not None and demo_village is not None and (org_id, village) == (demo_org.id, demo_village.code):
            continue
        for _ in range(max(1, round(rng.uniform(0.4, 1.6) * per_binding))):
            age = rng.randint(0, DAYS_BACK)
            status = maker.status(age)
            plain.append((status, maker.row(org_id, village, pairing_id, since, status, age=age)))

    everything = special + plain
    originals = [row for status, row in everything if status == "superseded"]
    others = [row for status, row in everything if status != "superseded"]
    original_ids = _insert(originals)
    corrections = [_correction_of(maker, row, rid) for row, rid in zip(originals, original_ids)]
    ids = _insert(others + corrections)

    # a photo on a few of the demo unit's records (stored like any upload)
    photos = 0
    demo_ids = {i for i, row in zip(ids, others) if demo_org is not None and row["organization_id"] == demo_org.id
                and demo_village is not None and row["village_code"] == demo_village.code
                and row["status"] in ("confirmed", "submitted", "disputed")}
    for n, record_id in enumerate(sorted(demo_ids)[:4], start=1):
        upload = _photo(rng, n)
        name = files.store(upload)
        db.session.add(Evidence(record_id=record_id, original_name=upload.original_name, stored_name=name,
                                content_type=upload.content_type, size=upload.size, sha256=upload.sha256,
                                uploaded_at=utcnow()))
        photos += 1

    contributions = _fund_contributions(rng, today)
    total = len(originals) + len(others) + len(corrections)
    audit("demo", "SupportRecord", after={"added": total, "evidence": photos, "fund_contributions": contributions},
          summary=f"生成示例帮扶记录 {total} 条")
    by_status: dict[str, int] = {}
    for row in originals + others + corrections:
        by_status[row["status"]] = by_status.get(row["status"], 0) + 1
    ctx.echo(f"  生成示例帮扶记录 {total} 条（" + "，".join(f"{RECORD_STATUSES[k]} {by_status[k]}" for k in RECORD_STATUSES
                                                    if k in by_status)
             + f"），佐证照片 {photos} 张，慈善受赠 {contributions} 笔")


def _fund_contributions(rng: random.Random, today: date) -> int:
    """Money received by each charity: more than it has paid out, so balances are positive."""
    rows = []
    charities = db.session.execute(select(Organization.id).where(Organization.kind == "charity").order_by(Organization.id)).scalars().all()
    for org_id in charities:
        paid = db.session.scalar(select(func.coalesce(func.sum(SupportRecord.amount), 0))
                                 .where(SupportRecord.organization_id == org_id, SupportRecord.status == "confirmed"))
        target = Decimal(paid) * Decimal("1.4") + Decimal(rng.randint(200_000, 2_000_000))
        count = rng.randint(6, 14)
        for n in range(count):
            rows.append({
                "organization_id": org_id, "donor": rng.choice(DONORS),
                "amount": (target / count).quantize(Decimal("1")) + rng.randint(0, 99) * 100,
                "received_on": today - timedelta(days=rng.randint(0, DAYS_BACK)),
                "receipt_no": f"JZ{today.year % 100:02d}-{org_id:04d}-{n + 1:04d}",
                "note": "示例数据", "is_demo": True, "created_at": utcnow(), "version": 1,
            })
    if rows:
        db.session.execute(insert(FundContribution), rows)
    return len(rows)
