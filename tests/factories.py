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
