"""Builders for test data. They go through the services where a rule applies, so a
factory can never build something the application itself would refuse."""
from __future__ import annotations

from registry.extensions import db
from registry.regions.models import Region

# Real divisions from seeds/: 湘西州 › 吉首市 › a township; 长沙市 › 宁乡市 › a township.
PROVINCE = "430000000000"
CITY = "433100000000"
COUNTY = "433101000000"
OTHER_COUNTY = "430182000000"


def first_township(county_code: str) -> Region:
    from sqlalchemy import select

    return db.session.scalars(
        select(Region).where(Region.level == "township", Region.parent_code == county_code).order_by(Region.code)
    ).first()


def make_village(county_code: str = COUNTY, n: int = 1, *, is_key: bool = False, is_poor: bool = False, township: Region | None = None) -> Region:
    township = township or first_township(county_code)
    village = Region(
        code=f"{township.code[:9]}{n:03d}",
        name=f"测试{n}村",
        level="village",
        parent_code=township.code,
        is_key=is_key,
        is_poor=is_poor,
    )
    db.session.add(village)
    db.session.commit()
    return village


# -- registry objects (model level; feature tests may prefer the services) ----------------

from datetime import date, timedelta  # noqa: E402
from itertools import count  # noqa: E402

from registry.core.identity import credit_code_check_char, id_check_char  # noqa: E402

_seq = count(1)


def valid_credit_code(n: int | None = None) -> str:
    body = f"91430100MA{(n if n is not None else next(_seq)):07d}"
    return body + credit_code_check_char(body)


def valid_id_number(n: int | None = None, born: str = "19850315") -> str:
    body = f"430101{born}{(n if n is not None else next(_seq)) % 1000:03d}"
    return body + id_check_char(body)


def make_org(kind: str = "backing_unit", region_code: str = PROVINCE, name: str | None = None, **kw):
    from registry.organizations.models import Organization

    n = next(_seq)
    org = Organization(
        name=name or f"测试单位{n}",
        kind=kind,
        level=kw.pop("level", "provincial"),
        region_code=region_code,
        credit_code=kw.pop("credit_code", valid_credit_code(n)),
        **kw,
    )
    db.session.add(org)
    db.session.commit()
    return org


def make_person(org, name: str | None = None, **kw):
    from registry.people.models import Person

    n = next(_seq)
    person = Person(name=name or f"测试干部{n}", organization_id=org.id, gender=kw.pop("gender", "male"), **kw)
    person.set_id_number(valid_id_number(n))
    person.set_phone(f"138{n:08d}"[:11])
    db.session.add(person)
    db.session.commit()
    return person


def make_individual(region_code: str = PROVINCE, name: str | None = None, way: str = "returnee", **person_kw):
    """An individual helper (个人): its organization row (kind ``individual``) and its person."""
    n = next(_seq)
    name = name or f"测试个人{n}"
    org = make_org("individual", region_code, name=name, level=None, credit_code=None, subtype=way)
    person = make_person(org, name, **person_kw)
    if "gender" not in person_kw:  # as the person rule derives it
        from registry.core.identity import gender_from_id

        person.gender = gender_from_id(person.id_number)
        db.session.commit()
    return org


def make_posting(person, org, region_code: str, role: str = "first_secretary", start: date | None = None, **kw):
    from registry.people.models import Posting

    start = start or date(2024, 1, 1)
    posting = Posting(
        person_id=person.id,
        organization_id=org.id,
        role=role,
        region_code=region_code,
        dispatch_level=kw.pop("dispatch_level", "provincial"),
        start_date=start,
        planned_end=kw.pop("planned_end", start + timedelta(days=730)),
        **kw,
    )
    db.session.add(posting)
    db.session.commit()
    return posting


def make_pairing(org, region_code: str, kind: str = "resident", start: date | None = None, **kw):
    from registry.pairings.models import Pairing

    pairing = Pairing(organization_id=org.id, region_code=region_code, kind=kind, start_date=start or date(2023, 1, 1), **kw)
    db.session.add(pairing)
    db.session.commit()
    return pairing


def make_cadre(person, actor, password: str | None = None, username: str | None = None):
    """A cadre's account for ``person``, opened by ``actor`` (who manages the person) and
    activated with ``password`` (the test password) — through the services, as the pages do."""
    from registry.cadres.services import activate, issue_activation
    from tests.conftest import PASSWORD

    issued = issue_activation(person, username or f"cadre{person.id}", actor=actor)
    password = password or PASSWORD
    return activate(issued.user.username, issued.code, password, password, "192.0.2.1")
