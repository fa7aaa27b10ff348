"""Builders for support-record tests: a small world of units, villages and accounts, and
records filed through the services (so they obey the same rules as the pages)."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.audit.services import snapshot
from registry.extensions import db
from tests.factories import COUNTY, OTHER_COUNTY, first_township, make_org, make_pairing, make_person, make_posting, make_village


def record_data(village_code: str, **overrides) -> dict:
    data = {
        "village_code": village_code,
        "category": "industry",
        "title": "捐建村级产业路",
        "description": "硬化村道 1.2 公里",
        "amount": "125000.50",
        "amount_attracted": "30000",
        "amount_in_kind": "",
        "households": "42",
        "persons": "156",
        "jobs": "8",
        "record_date": (date.today() - timedelta(days=20)).isoformat(),
    }
    data.update(overrides)
    return data


def file_record(user, village_code: str, *, status: str = "draft", village_user=None, reason: str = "金额与实际不符", **overrides):
    """A record filed by ``user`` (a unit account) and taken to ``status`` through the services."""
    from registry.records import services

    record = services.create_record(user, record_data(village_code, **overrides), submit=status != "draft")
    if status in ("confirmed", "disputed"):
        if status == "confirmed":
            services.confirm_record(record, village_user)
        else:
            services.dispute_record(record, village_user, reason)
    elif status == "withdrawn":
        services.withdraw_record(record, user)
    return record


def png_bytes(size=(64, 48), color=(200, 30, 30), fmt="PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def pdf_bytes() -> bytes:
    return (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
            b"trailer<</Root 1 0 R>>\n%%EOF\n")


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


def state_of(record) -> dict:
    """The stored row, read fresh (to prove a refusal changed nothing)."""
    from registry.records.models import SupportRecord

    db.session.expire_all()
    return snapshot(db.session.get(SupportRecord, record.id))


@dataclass
class World:
    org: object  # the filing unit, paired with village and posting to posted_village
    other_org: object
    village: object  # paired with org
    posted_village: object  # org posts a first secretary here
    stranger_village: object  # nothing to do with org (same township)
    far_village: object  # another county
    pairing: object
    unit: object
    unit2: object  # a second account of the same unit
    other_unit: object
    village_user: object
    stranger_village_user: object
    township: object
    county: object
    other_county: object
    viewer: object
    admin: object


@pytest.fixture()
def world(db, make_user) -> World:
    from tests.conftest import built_once

    return built_once("records.world", lambda: _build_world(make_user))


def _build_world(make_user) -> World:
    township = first_township(COUNTY)
    village = make_village(COUNTY, 1, township=township, is_key=True)
    posted = make_village(COUNTY, 2, township=township)
    stranger = make_village(COUNTY, 3, township=township)
    far = make_village(OTHER_COUNTY, 1)
    org = make_org("backing_unit", name="省测试厅")
    other = make_org("enterprise", name="测试企业")
    pairing = make_pairing(org, village.code, "resident", start=date(2023, 1, 1))
    make_pairing(other, far.code, "enterprise_village", start=date(2023, 1, 1))
    person = make_person(org)
    make_posting(person, org, posted.code, "first_secretary", start=date(2024, 1, 1))
    return World(
        org=org, other_org=other, village=village, posted_village=posted, stranger_village=stranger, far_village=far,
        pairing=pairing,
        unit=make_user("unit", "unit_a", organization_id=org.id),
        unit2=make_user("unit", "unit_a2", organization_id=org.id),
        other_unit=make_user("unit", "unit_b", organization_id=other.id),
        village_user=make_user("village", "village_1", village_code=village.code),
        stranger_village_user=make_user("village", "village_3", village_code=stranger.code),
        township=make_user("region", "township_1", region_code=township.code),
        county=make_user("region", "county_1", region_code=COUNTY),
        other_county=make_user("region", "county_2", region_code=OTHER_COUNTY),
        viewer=make_user("viewer", "viewer_1", region_code=COUNTY),
        admin=make_user("admin", "admin_1"),
    )


ZERO = Decimal("0.00")
