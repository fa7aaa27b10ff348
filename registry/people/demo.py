"""Demo people and postings (示例): about one person per two villages, first
secretaries and work teams (current and ended, with reasons), seconded cadres, and
villages with gaps (no first secretary, a team under the minimum).

Built so that the posting rules hold by construction (a person's postings never
overlap, a village's first-secretary terms follow one another); ``tests/test_postings``
checks the generated data against ``postings.check_posting``. The demo unit (the first
backing unit) gets people, a first secretary in the demo village (the first village of
吉首市) with a full team, more postings in 吉首市, one ending soon and one recalled.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, select

from ..audit.services import record
from ..core.identity import id_check_char
from ..core.timeutil import local_today
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .models import Person, Posting

DEMO_COUNTY = FOCUS_COUNTIES[0]  # 吉首市, the demo accounts' county

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万覃向"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉力斌波宇鹏飞云海亮红玲燕志林春梅兰凤雪琴晶婷佳欣浩俊凯博"
POSTS = ("科长", "副科长", "四级调研员", "一级主任科员", "二级主任科员", "科员", "副主任", "主任科员")
RANKS = ("正科级", "副科级", "一级主任科员", "二级主任科员", "四级主任科员", "一级科员")
EXPERTISE = ("农业技术", "电子商务", "乡村规划", "财务管理", "基层党建", "文旅开发", "医疗卫生", "教育", "水利工程", "法律服务")
RECALL_GROUNDS = (
    "年度考核不称职，经县委组织部研究决定召回",
    "驻村期间多次无故离岗，驻村纪实连续三个月不足规定天数",
    "因身体原因无法继续驻村，本人申请并经批准召回",
)
ENDED_REASONS = ("term_completed",) * 6 + ("promoted", "reassigned", "other")
LEVEL_OF = {"provincial": "provincial", "city": "city", "county": "county"}


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class _Builder:
    """Makes people and postings in memory; the step adds them in bulk."""

    def __init__(self, ctx: DemoContext, counties: list[str]):
        self.rng = ctx.rng
        self.today = local_today()
        self.term = int(current_app.config["REGISTRY_PLANNED_TERM_YEARS"])
        self.counties = counties
        self.people: list[Person] = []
        self.postings: list[Posting] = []
        self.ids: set[str] = set()

    def _id_number(self, org: Organization, male: bool) -> tuple[str, date]:
        rng = self.rng
        area = org.region_code[:6] if org.region_code[2:6] != "0000" else rng.choice(self.counties)
        if area[4:6] == "00":
            area = area[:4] + "02"
        while True:
            born = date(1968, 1, 1) + timedelta(days=rng.randint(0, 365 * 28))
            seq = rng.randint(0, 499) * 2 + (1 if male else 0)
            body = f"{area}{born:%Y%m%d}{seq:03d}"
            number = body + id_check_char(body)
            if number not in self.ids:
                self.ids.add(number)
                return number, born

    def _ethnicity(self, code: str) -> str:
        r = self.rng.random()
        if code.startswith("4331"):
            return "土家族" if r < 0.4 else "苗族" if r < 0.75 else "汉族"
        if code.startswith("4312"):
            return "侗族" if r < 0.2 else "苗族" if r < 0.3 else "汉族"
        if code.startswith("4311"):
            return "瑶族" if r < 0.15 else "汉族"
        return "汉族" if r < 0.95 else self.rng.choice(("土家族", "苗族", "侗族", "瑶族", "回族"))

    def person(self, org: Organization) -> Person:
        rng = self.rng
        male = rng.random() < 0.7
        number, born = self._id_number(org, male)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        person = Person(
            name=name, gender="male" if male else "female", ethnicity=self._ethnicity(org.region_code), birth_date=born,
            is_party_member=rng.random() < 0.85,
            education=rng.choices(("postgraduate", "bachelor", "college", "secondary"), (20, 60, 15, 5))[0],
            organization_id=org.id, organization=org, post=rng.choice(POSTS), rank=rng.choice(RANKS),
            is_reserve_cadre=rng.random() < 0.2, is_veteran=rng.random() < 0.08,
            expertise=rng.choice(EXPERTISE) if rng.random() < 0.7 else None, is_demo=True,
        )
        person.set_id_number(number)
        if rng.random() < 0.8:
            person.set_phone(f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}")
        self.people.append(person)
        return person

    def posting(self, person: Person, org: Organization, code: str, role: str, start: date, *, end: date | None = None,
                reason: str | None = None, note: str | None = None, post_held: str | None = None) -> Posting:
        posting = Posting(
            person=person, organization_id=org.id, role=role, region_code=code, post_held=post_held,
            dispatch_level=LEVEL_OF.get(org.level or "", "provincial"), round=f"{start.year}届", start_date=start,
            planned_end=_years_later(start, self.term), end_date=end, end_reason=reason,
            end_note=note if reason != "recalled" else (note or self.rng.choice(RECALL_GROUNDS)), is_demo=True,
        )
        self.postings.append(posting)
        return posting

    def ended_reason(self) -> tuple[str, str | None]:
        reason = self.rng.choice(ENDED_REASONS)
        return reason, "任期届满，按期轮换" if reason == "term_completed" else None


def _senders(session):
    orgs = session.scalars(select(Organization).where(Organization.kind == "backing_unit").order_by(Organization.id)).all()
    by_region: dict[str, list[Organization]] = defaultdict(list)
    for org in orgs:
        by_region[org.region_code].append(org)
    return orgs, by_region


@step(25, "生成示例帮扶干部与选派")
def people_and_postings(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Person)):
        ctx.echo("  已有帮扶干部，跳过")
        return
    rng = ctx.rng
    villages = db.session.scalars(select(Region).where(Region.level == "village").order_by(Region.code)).all()
    counties = db.session.scalars(select(Region).where(Region.level == "county").order_by(Region.code)).all()
    if not villages:
        return
    backing, by_region = _senders(db.session)
    demo_unit = backing[0]
    provincial = by_region["430000000000"]
    paired = db.session.scalars(select(Organization).where(Organization.kind == "paired_unit").order_by(Organization.id)).all()
    b = _Builder(ctx, [c.code[:6] for c in counties])
    today = b.today

    def sender(village: Region) -> Organization:
        county = by_region.get(village.code[:6] + "000000") or provincial
        city = by_region.get(village.code[:4] + "00000000") or provincial
        weights = (50, 25, 25) if village.is_key else (15, 25, 60)
        return rng.choice(rng.choices((provincial, city, county), weights)[0])

    def team(village: Region, start: date, size: int, org: Organization | None = None) -> None:
        for _ in range(size):
            member_org = org or sender(village)
            b.posting(b.person(member_org), member_org, village.code, "team_member", start + timedelta(days=rng.randint(0, 30)))

    # -- the demo unit in 吉首市: living data for every demo account ------------------------
    jishou = [v for v in villages if v.code.startswith(DEMO_COUNTY)]
    special: set[str] = set()
    if jishou:
        home = jishou[0]
        special.add(home.code)
        start = today - timedelta(days=300)
        previous = b.person(demo_unit)
        b.posting(previous, demo_unit, home.code, "first_secretary", _years_later(start, -b.term), end=start,
                  reason="term_completed", note="任期届满，按期轮换")
        b.posting(b.person(demo_unit), demo_unit, home.code, "first_secretary", start)
        b.posting(b.person(demo_unit), demo_unit, home.code, "team_member", start)
        county_org = (by_region.get(DEMO_COUNTY + "000000") or [demo_unit])[0]
        b.posting(b.person(county_org), county_org, home.code, "team_member", start + timedelta(days=10))
        if len(jishou) > 1:
            second = jishou[1]
            special.add(second.code)
            # a first secretary whose term ends within the ending-soon window; a team of one
            soon = today - timedelta(days=365 * b.term - 45)
            b.posting(b.person(demo_unit), demo_unit, second.code, "first_secretary", soon)
            b.posting(previous, demo_unit, second.code, "team_member", start + timedelta(days=20))
        if len(jishou) > 2:
            third = jishou[2]
            special.add(third.code)
            # recalled two months ago: the village has had no first secretary since
            recalled = b.person(demo_unit)
            b.posting(recalled, demo_unit, third.code, "first_secretary", today - timedelta(days=500),
                      end=today - timedelta(days=60), reason="recalled", note=RECALL_GROUNDS[1])
        jishou_city = db.session.get(Region, DEMO_COUNTY + "000000")
        if jishou_city is not None:
            b.posting(b.person(demo_unit), demo_unit, jishou_city.code, "seconded_cadre", today - timedelta(days=200),
                      post_held="副市长")
        if len(jishou) > 3:
            special.add(jishou[-1].code)  # the county's last village: a plain gap, nobody posted

    # -- every other village ---------------------------------------------------------------
    for village in villages:
        if village.code in special:
            continue
        focus = village.code[:6] in FOCUS_COUNTIES
        p_secretary = 0.85 if village.is_key else 0.5 if village.is_poor else 0.4 if focus else 0.08
        if rng.random() < p_secretary:
            org = sender(village)
            start = today - timedelta(days=rng.randint(20, 720))
            secretary = b.person(org)
            if rng.random() < 0.3:
                # the previous term: the same person retained, or a predecessor who left
                before = _years_later(start, -b.term)
                if rng.random() < 0.35:
                    b.posting(secretary, org, village.code, "first_secretary", before, end=start, reason="retained",
                              note="期满考核优秀，留任一届")
                else:
                    reason, note = b.ended_reason()
                    b.posting(b.person(org), org, village.code, "first_secretary", before, end=start, reason=reason, note=note)
            b.posting(secretary, org, village.code, "first_secretary", start)
            team(village, start, rng.choice((0, 0, 1, 1, 2) if village.is_key or focus else (0, 0, 0, 1)))
        else:
            if rng.random() < 0.1:
                org = sender(village)
                end = today - timedelta(days=rng.randint(10, 200))
                reason = rng.choice(("recalled", "promoted", "term_completed"))
                b.posting(b.person(org), org, village.code, "first_secretary", end - timedelta(days=rng.randint(200, 700)),
                          end=end, reason=reason, note=None if reason != "term_completed" else "任期届满，按期轮换")
            if rng.random() < 0.08:
                team(village, today - timedelta(days=rng.randint(30, 400)), 1)

    # -- seconded cadres to counties and townships ------------------------------------------
    townships = db.session.scalars(
        select(Region).where(Region.level == "township", Region.code.like(f"{DEMO_COUNTY[:4]}%")).order_by(Region.code)
    ).all()
    for county in counties:
        if county.code.startswith(DEMO_COUNTY):
            continue
        count = 2 if county.is_key else (1 if rng.random() < 0.4 else 0)
        for n in range(count):
            org = rng.choice(provincial + paired) if n == 0 else rng.choice(provincial)
            start = today - timedelta(days=rng.randint(30, 700))
            b.posting(b.person(org), org, county.code, "seconded_cadre", start,
                      post_held="副县长" if n == 0 else "县长助理")
    for township in townships:
        if rng.random() < 0.3:
            org = rng.choice(by_region.get(township.code[:6] + "000000") or provincial)
            b.posting(b.person(org), org, township.code, "seconded_cadre", today - timedelta(days=rng.randint(30, 600)),
                      post_held=rng.choice(("副镇长", "乡长助理", "党委副书记")))

    # a few people registered but not (yet) posted
    for org in rng.sample(backing, min(len(backing), max(3, len(villages) // 100))):
        b.person(org)
    b.person(demo_unit)

    db.session.add_all(b.people)
    db.session.add_all(b.postings)
    db.session.flush()
    active = sum(1 for p in b.postings if p.end_date is None)
    record("demo", "Person", after={"people": len(b.people), "postings": len(b.postings)},
           summary=f"生成示例帮扶干部 {len(b.people)} 人、选派 {len(b.postings)} 条（在岗 {active} 条）")
    ctx.echo(f"  生成示例帮扶干部 {len(b.people)} 人，选派 {len(b.postings)} 条（在岗 {active} 条）")
