"""Demo summons, assessments and commendations (示例).

Summons first: of people with short months or absences and of a slow enterprise, in every
follow-up state — 吉首市 (the demo county) has one of each. Then last year's grades for most
postings active then and for the backing units (this year's are left to do), each within the
cap the grading service enforces (``evidence.grade_cap``: absences, and the year's summons not
tolerated). Then commendations for some of last year's best."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import case, func, insert, select

from ..audit.services import record
from ..core.timeutil import local_today, utcnow
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..duty.models import DutyMonth
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Person, Posting
from ..regions.models import Region
from ..training.checks import active_in_year
from .evidence import grade_cap
from .models import Assessment, Incentive, subject_key

PROVINCE = "430000000000"
LEVEL_OF = {"province": "provincial", "city": "city", "county": "county", "township": "township"}
SUMMONS_REASONS = (
    "驻村纪实显示连续数月在村天数不足规定要求",
    "驻村期间无故离岗，群众反映走访不到位",
    "防返贫动态监测排查不细致，存在漏登风险户",
)
ORG_SUMMONS = "村企结对项目推进缓慢，承诺的帮扶资金未按期到位"
COMMENDATIONS = (
    "带领村民发展特色产业，村集体经济经营性收入大幅增长",
    "扎根基层、真抓实干，年度考核优秀",
    "创新消费帮扶模式，带动脱贫户稳定增收",
)
RECTIFY_NOTES = ("制定驻村考勤制度，每周向乡镇报备在岗情况", "重新排查监测对象，建立问题清单并逐项整改")
CLOSE_NOTES = ("经乡镇核查，连续三个月在村天数达标，整改到位，予以销号", "整改措施落实到位，群众满意，予以销号")


def _short(name: str) -> str:
    for suffix in ("土家族苗族自治州", "自治州", "市", "县", "区", "省"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@step(56, "生成示例考核结果")
def assessments(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Assessment)):
        ctx.echo("  已有考核结果，跳过")
        return
    rng = ctx.rng
    year = local_today().year - 1
    grades = list(current_app.config["REGISTRY_PERSON_GRADES"])
    org_grades = list(current_app.config["REGISTRY_ORG_GRADES"])
    postings = db.session.execute(
        select(Posting.id, Posting.person_id, Posting.organization_id, Posting.region_code)
        .where(active_in_year(year)).order_by(Posting.id)
    ).all()
    if not postings:
        ctx.echo("  没有选派记录，跳过")
        return
    absences = dict(db.session.execute(
        select(DutyMonth.posting_id, func.sum(DutyMonth.absences))
        .where(DutyMonth.month.between(date(year, 1, 1), date(year, 12, 1))).group_by(DutyMonth.posting_id)
    ).all())
    counties = {r.code: r.name for r in db.session.scalars(select(Region).where(Region.level == "county"))}
    at = utcnow() - timedelta(days=rng.randint(250, 320))
    rows: list[dict] = []
    numbers: dict[str, int] = defaultdict(int)
    for p in postings:
        if rng.random() > 0.9:
            continue  # not graded yet
        grade = rng.choices(grades, (20, 62, 13, 5)[: len(grades)] if len(grades) == 4 else None)[0]
        missed = int(absences.get(p.id) or 0)
        cap = grade_cap(p.id, p.person_id, year, missed)  # the rule assess_posting enforces
        if not cap.allows(grade):
            grade = cap.best
        county = p.region_code[:6] + "000000"
        numbers[county] += 1
        rows.append({
            "year": year, "subject_kind": "person", "subject_key": subject_key("person", p.id), "posting_id": p.id,
            "person_id": p.person_id, "organization_id": p.organization_id, "region_code": p.region_code,
            "assessor_region_code": county if county in counties else PROVINCE,
            "grade": grade, "comment": "履职尽责，群众认可" if grade == grades[0] else None,
            "document_number": f"{_short(counties.get(county, '湘'))}组通〔{year + 1}〕{numbers[county]}号",
            "absences": missed, "assessed_at": at, "is_demo": True, "version": 1,
        })
    senders = db.session.scalars(
        select(Organization).where(Organization.kind == "backing_unit", Organization.id.in_(select(Posting.organization_id)))
        .order_by(Organization.id)
    ).all()
    for org in senders:
        if rng.random() < 0.6:
            rows.append({
                "year": year, "subject_kind": "organization", "subject_key": subject_key("organization", org.id),
                "posting_id": None, "person_id": None, "organization_id": org.id, "region_code": org.region_code,
                "assessor_region_code": org.region_code,
                "grade": rng.choices(org_grades, (30, 45, 20, 5)[: len(org_grades)] if len(org_grades) == 4 else None)[0],
                "comment": None, "document_number": f"湘乡振考〔{year + 1}〕{org.id}号", "absences": 0,
                "assessed_at": at, "is_demo": True, "version": 1,
            })
    if rows:
        db.session.execute(insert(Assessment), rows)
    record("demo", "Assessment", after={"assessments": len(rows), "year": year},
           summary=f"生成{year}年度示例考核结果 {len(rows)} 条")
    ctx.echo(f"  生成{year}年度示例考核结果 {len(rows)} 条")


class _Issuer:
    """Adds demo incentives (rows for one bulk insert), numbered in order."""

    def __init__(self, ctx: DemoContext, start: int = 0):
        self.rng, self.today, self.now, self.rows, self.start = ctx.rng, local_today(), utcnow(), [], start
        self.regions = {r.code: r for r in db.session.scalars(
            select(Region).where(Region.level.in_(("province", "city", "county"))))}

    def issuer(self, code: str, weights=(15, 25, 60)) -> str:
        level = self.rng.choices(("province", "city", "county"), weights)[0]
        return {"province": PROVINCE, "city": code[:4] + "00000000", "county": code[:6] + "000000"}[level]

    def add(self, kind, person_id, org_id, subject_region, issuer_code, reason, state=None, days_ago=None):
        rng, rows, now = self.rng, self.rows, self.now
        issued = self.today - timedelta(days=days_ago if days_ago is not None else rng.randint(10, 400))
        region = self.regions.get(issuer_code) or self.regions[PROVINCE]
        row = {
            "kind": kind, "subject_kind": "person" if person_id else "organization", "person_id": person_id,
            "organization_id": org_id, "region_code": region.code, "subject_region_code": subject_region,
            "issued_on": issued, "level": LEVEL_OF[region.level], "reason": reason,
            "document_number": f"{_short(region.name)}乡振{'表' if kind == 'commendation' else '约'}〔{issued.year}〕{self.start + len(rows) + 1}号",
            "follow_up": state, "rectify_note": None, "rectify_at": None, "close_note": None, "closed_at": None,
            "created_at": now, "is_demo": True, "version": 1,
        }
        if state in ("rectifying", "closed"):
            row["rectify_note"], row["rectify_at"] = rng.choice(RECTIFY_NOTES), now - timedelta(days=8)
        if state == "closed":
            row["close_note"], row["closed_at"] = rng.choice(CLOSE_NOTES), now - timedelta(days=2)
        rows.append(row)


@step(55, "生成示例约谈")
def summons(ctx: DemoContext) -> None:
    """Before the grades: a summons of the graded year caps the grade (unless tolerated)."""
    if db.session.scalar(select(func.count()).select_from(Incentive).where(Incentive.kind == "summons")):
        ctx.echo("  已有约谈，跳过")
        return
    rng = ctx.rng
    employers = dict(db.session.execute(select(Person.id, Person.organization_id)).all())
    active = db.session.execute(
        select(Posting.id, Posting.person_id, Posting.region_code).where(Posting.is_active).order_by(Posting.id)
    ).all()
    if not active:
        ctx.echo("  没有在岗选派，跳过")
        return
    out = _Issuer(ctx)
    add, issuer = out.add, out.issuer
    # people with short months or absences in the last year are summoned
    flagged = set(db.session.scalars(
        select(DutyMonth.posting_id).group_by(DutyMonth.posting_id).having(
            (func.sum(DutyMonth.absences) > 0) | (func.sum(case((DutyMonth.short_clause(), 1), else_=0)) >= 2)
        )
    ))
    states = ("open", "rectifying", "closed")
    demo_county = FOCUS_COUNTIES[0] + "000000"
    jishou = [p for p in active if p.region_code.startswith(FOCUS_COUNTIES[0])]
    for n, p in enumerate(x for x in active if x.id in flagged and rng.random() < 0.3):
        add("summons", p.person_id, employers[p.person_id], p.region_code, issuer(p.region_code, (5, 25, 70)),
            rng.choice(SUMMONS_REASONS), states[n % 3])
    # 吉首市 summons someone in every follow-up state (the demo county's worklist)
    for state, p in zip(states, jishou[-3:]):
        add("summons", p.person_id, employers[p.person_id], p.region_code, demo_county, rng.choice(SUMMONS_REASONS), state,
            days_ago={"open": 12, "rectifying": 40, "closed": 90}[state])
    # a slow enterprise in a pairing with a village
    from ..pairings.models import Pairing

    slow = db.session.execute(
        select(Pairing.organization_id, Pairing.region_code, Organization.region_code)
        .join(Organization, Organization.id == Pairing.organization_id)
        .where(Pairing.kind == "enterprise_village", Pairing.end_date.is_(None)).order_by(Pairing.id).limit(2)
    ).all()
    for org_id, village_code, home in slow:
        add("summons", None, org_id, home, village_code[:6] + "000000", ORG_SUMMONS, "open")
    if out.rows:
        db.session.execute(insert(Incentive), out.rows)
    record("demo", "Incentive", after={"summons": len(out.rows)}, summary=f"生成示例约谈 {len(out.rows)} 条")
    ctx.echo(f"  生成示例约谈 {len(out.rows)} 条")


@step(57, "生成示例表扬激励")
def commendations(ctx: DemoContext) -> None:
    """After the grades: some of last year's best are commended."""
    if db.session.scalar(select(func.count()).select_from(Incentive).where(Incentive.kind == "commendation")):
        ctx.echo("  已有表扬激励，跳过")
        return
    rng = ctx.rng
    employers = dict(db.session.execute(select(Person.id, Person.organization_id)).all())
    out = _Issuer(ctx, start=db.session.scalar(select(func.count()).select_from(Incentive)))
    add, issuer = out.add, out.issuer
    best = db.session.execute(
        select(Assessment.person_id, Assessment.region_code).where(
            Assessment.subject_kind == "person", Assessment.grade == current_app.config["REGISTRY_PERSON_GRADES"][0]
        )
    ).all()
    for person_id, code in best:
        if rng.random() < 0.3 and person_id in employers:
            add("commendation", person_id, employers[person_id], code, issuer(code, (30, 40, 30)), rng.choice(COMMENDATIONS),
                days_ago=rng.randint(60, 300))
    if out.rows:
        db.session.execute(insert(Incentive), out.rows)
    record("demo", "Incentive", after={"commendations": len(out.rows)},
           summary=f"生成示例表扬激励 {len(out.rows)} 条")
    ctx.echo(f"  生成示例表扬激励 {len(out.rows)} 条")
