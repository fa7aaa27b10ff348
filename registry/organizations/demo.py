"""Demo organizations (示例): every kind and subtype, with valid generated credit codes.

The first backing unit created here is the demo unit account's organization
(``registry.demo.accounts`` takes the first ``backing_unit`` by id), so it is created
first and later steps give it people, postings and pairings in 吉首市.
"""
from __future__ import annotations

from sqlalchemy import func, select

from ..audit.services import record
from ..core.identity import credit_code_check_char
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..regions.models import Region
from .models import Organization

PROVINCE = "430000000000"
DEMO_UNIT_NAME = "湖南省农业农村厅（示例）"

PROVINCIAL_BACKING = (
    "湖南省发展和改革委员会", "湖南省教育厅", "湖南省科学技术厅", "湖南省财政厅", "湖南省人力资源和社会保障厅",
    "湖南省自然资源厅", "湖南省住房和城乡建设厅", "湖南省交通运输厅", "湖南省水利厅", "湖南省商务厅",
    "湖南省文化和旅游厅", "湖南省卫生健康委员会", "湖南省林业局", "湖南省供销合作总社", "国网湖南省电力有限公司",
)
CITY_BACKING = ("农业农村局", "财政局", "人力资源和社会保障局")
COUNTY_BACKING = ("农业农村局", "人力资源和社会保障局", "住房和城乡建设局", "自然资源局", "交通运输局")
PAIRED = {
    "locality": ("长沙市对口帮扶湘西州工作队", "株洲市对口帮扶工作组"),
    "education": ("湖南师范大学", "长沙市第一中学"),
    "culture": ("湖南省文化馆", "湖南图书馆"),
    "health": ("中南大学湘雅医院", "湖南省人民医院"),
    "science_tech": ("湖南农业大学", "湖南省农业科学院"),
}
MASS = {
    "trade_union": "湖南省总工会",
    "youth_league": "共青团湖南省委",
    "women_federation": "湖南省妇女联合会",
    "science_association": "湖南省科学技术协会",
    "disabled_federation": "湖南省残疾人联合会",
}
PARTY = (
    ("democratic_party", "民盟湖南省委员会"),
    ("democratic_party", "农工党湖南省委员会"),
    ("democratic_party", "九三学社湖南省委员会"),
    ("commerce_federation", "湖南省工商业联合会"),
)
ARMY = ("驻湘某部", "湖南省军区某部")
CHARITY = ("湖南省慈善总会", "湖南省乡村振兴基金会")
OTHER = ("湖南省乡村振兴研究会",)
ENTERPRISE_WORDS = ("农业开发", "茶业", "食品", "生态农业", "柑橘", "文化旅游", "电子商务", "建材", "中药材", "养殖")
ENTERPRISE_SUFFIX = ("有限公司", "股份有限公司", "农民专业合作社联合社")
# credit-code prefixes: registration authority + category (GB 32100)
PREFIX = {
    "backing_unit": "11", "paired_unit": "12", "mass_org": "13", "party_federation": "13",
    "enterprise": "91", "charity": "53", "other": "51",
}


class _Codes:
    def __init__(self, rng):
        self.rng = rng
        self.n = 0

    def make(self, kind: str, region_code: str) -> str | None:
        if kind == "army_unit":
            return None  # army units hold no unified social credit code
        self.n += 1
        body = f"{PREFIX[kind]}{region_code[:6]}{self.rng.randint(10, 99)}{self.n:07d}"
        return body + credit_code_check_char(body)


def _phone(rng) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


@step(20, "生成示例帮扶主体")
def organizations(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Organization)):
        ctx.echo("  已有帮扶主体，跳过")
        return
    rng = ctx.rng
    codes = _Codes(rng)
    cities = db.session.scalars(select(Region).where(Region.level == "city").order_by(Region.code)).all()
    counties = db.session.scalars(select(Region).where(Region.level == "county").order_by(Region.code)).all()
    made: list[Organization] = []

    def add(name: str, kind: str, region_code: str, level: str | None, subtype: str | None = None, **kw) -> Organization:
        org = Organization(
            name=name if name.endswith("（示例）") else f"{name}（示例）", kind=kind, subtype=subtype, level=level,
            region_code=region_code, credit_code=codes.make(kind, region_code), contact_name=f"{rng.choice('张王李刘陈杨黄赵')}主任",
            contact_phone=_phone(rng), is_demo=True, **kw,
        )
        made.append(org)
        return org

    add(DEMO_UNIT_NAME, "backing_unit", PROVINCE, "provincial", address="长沙市芙蓉区")  # the demo unit: first by id
    for name in PROVINCIAL_BACKING:
        add(name, "backing_unit", PROVINCE, "provincial")
    for city in cities:
        for word in CITY_BACKING:
            add(f"{city.name}{word}", "backing_unit", city.code, "city")
    for county in counties:
        focus = county.code[:6] in FOCUS_COUNTIES
        for word in COUNTY_BACKING[: (5 if focus else 2)]:
            add(f"{county.name}{word}", "backing_unit", county.code, "county")
    for sector, names in PAIRED.items():
        for name in names:
            add(name, "paired_unit", PROVINCE if "湖南" in name or "中南" in name else "430100000000",
                "provincial" if "湖南" in name or "中南" in name else "city", subtype=sector)
    for subtype, name in MASS.items():
        add(name, "mass_org", PROVINCE, "provincial", subtype=subtype)
    for subtype, name in PARTY:
        add(name, "party_federation", PROVINCE, "provincial", subtype=subtype)
    for name in ARMY:
        add(name, "army_unit", PROVINCE, "other")
    for name in CHARITY:
        add(name, "charity", PROVINCE, "provincial")
    for name in OTHER:
        add(name, "other", PROVINCE, "other")
    # enterprises: a few per city, more in the focus counties; 民营 and 湘商回归 flags
    places = [c for c in counties if c.code[:6] in FOCUS_COUNTIES] * 3 + rng.sample(counties, 30)
    used: set[tuple[str, str]] = set()
    for county in places:
        word = rng.choice([w for w in ENTERPRISE_WORDS if (county.code, w) not in used])
        used.add((county.code, word))
        private = rng.random() < 0.8
        short = county.name[:-1] if len(county.name) > 2 else county.name
        add(
            f"{short}{word}{rng.choice(ENTERPRISE_SUFFIX)}", "enterprise", county.code, None,
            is_private=private, is_xiangshang=private and rng.random() < 0.35,
        )
    db.session.add_all(made)
    db.session.flush()
    record("demo", "Organization", after={"added": len(made)}, summary=f"生成示例帮扶主体 {len(made)} 个")
    ctx.echo(f"  生成示例帮扶主体 {len(made)} 个")
