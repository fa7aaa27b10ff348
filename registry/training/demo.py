"""Demo courses and attendance (示例): quarterly provincial pre-posting courses, yearly
rotations by the province and the focus cities, county topic courses; most posted people
trained in time, some late or never, some still without this year's training."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select

from ..audit.services import record
from ..core.timeutil import local_today
from ..demo import DemoContext, step
from ..demo.base import FOCUS_COUNTIES
from ..extensions import db
from ..people.models import Posting
from ..regions.models import Region
from .models import Attendance, Training

PROVINCE = "430000000000"
PRE_POSTING_MONTHS = (1, 4, 7, 10)


def _course(title, organizer, level, kind, mode, region_code, start, days, hours, location=None) -> Training:
    return Training(
        title=title, organizer=organizer, level=level, kind=kind, mode=mode, region_code=region_code,
        start_date=start, end_date=start + timedelta(days=days - 1), hours=Decimal(hours), location=location,
        note="示例数据", is_demo=True,
    )



def _refresh_summaries() -> None:
    """Bulk rows bypass the ORM flush; the dashboard's per-person training summary (if
    that feature is installed) is recomputed, as its module asks of bulk loads."""
    try:
        from ..dashboard.recompute import refresh_person_training
    except ImportError:
        return
    refresh_person_training(db.session.connection(), None)


@step(50, "生成示例培训与参训记录")
def trainings(ctx: DemoContext) -> None:
    if db.session.scalar(select(func.count()).select_from(Training)):
        ctx.echo("  已有培训，跳过")
        return
    rng = ctx.rng
    today = local_today()
    postings = db.session.execute(
        select(Posting.id, Posting.person_id, Posting.region_code, Posting.start_date, Posting.end_date).order_by(Posting.id)
    ).all()
    if not postings:
        ctx.echo("  没有选派记录，跳过")
        return
    first_year = min(p.start_date for p in postings).year - 1
    cities = {
        r.code[:4]: r for r in db.session.scalars(
            select(Region).where(Region.level == "city", Region.code.in_([c[:4] + "00000000" for c in FOCUS_COUNTIES]))
        )
    }
    counties = {
        r.code[:6]: r for r in db.session.scalars(
            select(Region).where(Region.code.in_([c + "000000" for c in FOCUS_COUNTIES]))
        )
    }

    courses: list[Training] = []
    pre_posting: list[Training] = []
    rotations: dict[int, list[Training]] = {}
    for year in range(first_year, today.year + 1):
        for n, month in enumerate(PRE_POSTING_MONTHS, start=1):
            course = _course(f"{year}年第{n}期全省驻村干部岗前培训班", "省委组织部、省乡村振兴局", "provincial", "pre_posting",
                             "onsite" if n % 2 else "online", PROVINCE, date(year, month, 10), 5, 40, "湖南省委党校")
            courses.append(course)
            pre_posting.append(course)
        year_courses = [
            _course(f"{year}年全省驻村第一书记示范培训班", "省乡村振兴局", "provincial", "rotation", "online", PROVINCE,
                    date(year, 5, 15), 3, 24)
        ]
        for prefix, city in cities.items():
            year_courses.append(_course(f"{year}年{city.name}驻村干部轮训班", f"{city.name}委组织部", "city", "rotation", "onsite",
                                        city.code, date(year, 9, 8), 3, 24, f"{city.name}委党校"))
        for prefix, county in counties.items():
            year_courses.append(_course(f"{year}年{county.name}乡村振兴产业发展专题培训", f"{county.name}农业农村局", "county",
                                        "special", "onsite", county.code, date(year, 6, 20), 1, 8))
        courses += year_courses
        rotations[year] = year_courses
    # announced for next month: nobody has attended yet
    nxt = (today.replace(day=1) + timedelta(days=40)).replace(day=18)
    courses.append(_course(f"{nxt.year}年{nxt.month}月驻村干部电商技能专题培训", "省商务厅、省乡村振兴局", "provincial", "special",
                           "online", PROVINCE, nxt, 2, 12))
    db.session.add_all(courses)
    db.session.flush()

    taken: set[tuple[int, int]] = set()
    rows: list[dict] = []

    def attend(course: Training, person_id: int) -> None:
        if course.start_date > today or (course.id, person_id) in taken:
            return
        taken.add((course.id, person_id))
        passed = rng.random() > 0.02
        rows.append({"training_id": course.id, "person_id": person_id, "hours": course.hours, "passed": passed,
                     "note": None if passed else "结业考核未通过", "is_demo": True})

    for p in postings:
        roll = rng.random()
        if roll < 0.84:  # in time: the nearest pre-posting course within the window
            near = min(pre_posting, key=lambda c: abs((c.start_date - p.start_date).days))
            if abs((near.start_date - p.start_date).days) <= 90:
                attend(near, p.person_id)
        elif roll < 0.89:  # late: a course months after the window closed
            later = [c for c in pre_posting if 120 <= (c.start_date - p.start_date).days <= 240]
            if later:
                attend(rng.choice(later), p.person_id)
        # else: never trained before posting (a gap)
        last = (p.end_date or today).year
        for year in range(p.start_date.year, last + 1):
            chance = 0.62 if year == today.year else 0.86
            if rng.random() < chance:
                local = [c for c in rotations.get(year, []) if c.region_code in (PROVINCE, p.region_code[:4] + "00000000",
                                                                                  p.region_code[:6] + "000000")]
                for course in rng.sample(local, min(len(local), rng.choice((1, 1, 1, 2)))):
                    attend(course, p.person_id)
    if rows:
        db.session.execute(insert(Attendance), rows)
        _refresh_summaries()
    record("demo", "Training", after={"trainings": len(courses), "attendance": len(rows)},
           summary=f"生成示例培训 {len(courses)} 期、参训记录 {len(rows)} 条")
    ctx.echo(f"  生成示例培训 {len(courses)} 期，参训记录 {len(rows)} 条")
