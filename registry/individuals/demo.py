"""Demo individual helpers (示例): a few citizens of the demo county — a veteran who came
home to start a business, a donor, a volunteer — each paired (其他) with a village there,
the first with the demo village, with support records in several states: the demo village
confirms theirs like any other.

The step runs after every step that draws from the shared random generator and draws
from a generator of its own, so the other features' demo data stay as they were."""
from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select

from ..audit.services import record
from ..core import crypto
from ..core.enums import INDIVIDUAL
from ..core.identity import id_check_char
from ..core.timeutil import local_today
from ..demo import DemoContext, step
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..pairings.services import INDIVIDUAL_PAIRING
from ..people.demo import DEMO_COUNTY
from ..people.models import Person
from ..regions.models import Region

# (name, male, way, veteran, expertise, note)
HELPERS = (
    ("向志军", True, "returnee", True, "黄牛养殖", "退役后返乡创办养牛合作社，带动村民务工"),
    ("彭丽华", False, "donation", False, None, "在外经商，每年捐赠村小学物资"),
    ("田国强", True, "volunteer", True, "电工", "退役军人志愿服务队成员，义务检修村组线路"),
    ("龙小梅", False, "returnee", False, "农村电商", "返乡开办网店，代销村里的腊肉和茶叶"),
)
# (status, age in days) of each helper's records; the first helper's, in the demo village,
# include one waiting for the village's confirmation
RECORDS = (("confirmed", 150), ("confirmed", 60), ("submitted", 5))


def _id_number(area: str, born: date, male: bool, n: int) -> str:
    body = f"{area}{born:%Y%m%d}{(n * 2 + (1 if male else 0)) % 1000:03d}"
    return body + id_check_char(body)


@step(58, "生成示例个人帮扶者")
def individuals(ctx: DemoContext) -> None:
    from ..records.demo import add_records

    if db.session.scalar(select(func.count()).select_from(Organization).where(Organization.kind == INDIVIDUAL)):
        ctx.echo("  已有个人帮扶者，跳过")
        return
    villages = db.session.scalars(select(Region.code).where(
        Region.level == "village", Region.code.between(DEMO_COUNTY + "000000", DEMO_COUNTY + "999999"))
        .order_by(Region.code)).all()
    if not villages:
        return
    own = DemoContext(rng=random.Random(ctx.rng.getrandbits(32)), scale=ctx.scale, echo=ctx.echo)  # noqa: S311
    rng, today = own.rng, local_today()
    township = villages[0][:9] + "000"
    home = township if db.session.get(Region, township) is not None else DEMO_COUNTY + "000000"
    taken = set(db.session.scalars(select(Person.id_number_index)))
    filings = []
    for n, (name, male, way, veteran, expertise, note) in enumerate(HELPERS):
        shown = f"{name}（示例）"
        org = Organization(name=shown, kind=INDIVIDUAL, subtype=way, region_code=home, note=note, is_demo=True)
        db.session.add(org)
        db.session.flush()
        born = date(1975, 1, 1) + timedelta(days=rng.randint(0, 365 * 20))
        number = _id_number(DEMO_COUNTY, born, male, 700 + n)
        while crypto.blind_index(number) in taken:  # not a cadre's number
            born += timedelta(days=1)
            number = _id_number(DEMO_COUNTY, born, male, 700 + n)
        person = Person(name=shown, gender="male" if male else "female", ethnicity=rng.choice(("土家族", "苗族", "汉族")),
                        birth_date=born, organization_id=org.id, is_veteran=veteran, is_party_member=veteran,
                        education="secondary", expertise=expertise, is_demo=True)
        person.set_id_number(number)
        person.set_phone(f"1{rng.choice('3578')}{rng.randint(0, 999_999_999):09d}")
        db.session.add(person)
        village = villages[n % len(villages)]
        start = today - timedelta(days=300 - 30 * n)
        pairing = Pairing(organization_id=org.id, region_code=village, kind=INDIVIDUAL_PAIRING, start_date=start,
                          note="示例：个人帮扶结对", is_demo=True)
        db.session.add(pairing)
        db.session.flush()
        filings += [(org.id, village, pairing.id, start, status, age) for status, age in RECORDS[: 3 if n == 0 else 2]]
    made = add_records(own, filings)
    record("demo", "Organization", after={"individuals": len(HELPERS), "records": made},
           summary=f"生成示例个人帮扶者 {len(HELPERS)} 人，帮扶记录 {made} 条")
    ctx.echo(f"  生成示例个人帮扶者 {len(HELPERS)} 人，帮扶记录 {made} 条")
