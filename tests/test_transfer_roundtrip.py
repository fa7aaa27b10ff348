"""Export, import into an empty database, export again: the same file (but its timestamps)."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete

from tests.factories import COUNTY, make_org


def _cells(body: bytes, fmt: str):
    if fmt == "csv":
        return body.decode("utf-8-sig")
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(body)).worksheets[0].iter_rows()]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_organizations_round_trip(db, login_as, make_user, fmt):
    from registry.organizations.models import Organization

    make_org("enterprise", COUNTY, name="=甲公司", is_private=True, contact_name="王五", contact_phone="13912345678",
             level=None, address="县城中路1号", note="备注，含逗号\n和换行")
    make_org("mass_org", COUNTY, name="县妇联", subtype="women_federation", level="county", credit_code=None)
    make_org("paired_unit", COUNTY, name="对口单位", subtype="education", level="city")
    admin = login_as(make_user("admin"))
    first = admin.get(f"/organizations/export.{fmt}?purpose=核对名单")
    assert first.status_code == 200
    db.session.execute(delete(Organization))
    db.session.commit()
    response = admin.post("/import/organizations", data={"file": (io.BytesIO(first.data), f"orgs.{fmt}")},
                          content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    second = admin.get(f"/organizations/export.{fmt}?purpose=核对名单")
    assert _cells(second.data, fmt) == _cells(first.data, fmt)
    assert len(_cells(first.data, fmt)) >= 4 if fmt == "xlsx" else first.data.count(b"\r\n") >= 4


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_pairings_round_trip(db, login_as, make_user, fmt):
    from datetime import date

    from registry.pairings.models import Pairing
    from tests.factories import make_village

    village = make_village()
    org = make_org("enterprise", COUNTY, name="甲公司")
    unit = make_org("paired_unit", COUNTY, name="对口单位", subtype="education", credit_code=None)
    for values in (dict(organization_id=org.id, region_code=village.code, kind="enterprise_village",
                        start_date=date(2023, 1, 1), end_date=date(2023, 12, 31), note="第一期"),
                   dict(organization_id=org.id, region_code=village.code, kind="enterprise_village",
                        start_date=date(2024, 1, 1)),
                   dict(organization_id=unit.id, region_code=COUNTY, kind="paired", sector="education",
                        start_date=date(2024, 3, 5))):
        db.session.add(Pairing(**values))
    db.session.commit()
    county = login_as(make_user("region", region_code=COUNTY))
    first = county.get(f"/pairings/export.{fmt}")
    assert first.status_code == 200, first.data[:3000]
    db.session.execute(delete(Pairing))
    db.session.commit()
    response = county.post("/import/pairings", data={"file": (io.BytesIO(first.data), f"p.{fmt}")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _cells(county.get(f"/pairings/export.{fmt}").data, fmt) == _cells(first.data, fmt)
    again = county.post("/import/pairings", data={"file": (io.BytesIO(first.data), f"p.{fmt}")},
                        content_type="multipart/form-data")
    assert again.status_code == 422 and "不能重复结对" in again.get_data(as_text=True)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_people_round_trip(db, login_as, make_user, fmt):
    from registry.audit.services import verify_chain
    from registry.people.models import Person
    from tests.factories import make_person

    from registry.core.identity import birth_date_from_id, gender_from_id

    org = make_org("backing_unit", COUNTY, name="县农业农村局")
    people = [make_person(org, name="张三", ethnicity="汉族", is_party_member=True, post="科员", education="bachelor"),
              make_person(org, name="李四", ethnicity="苗族", expertise="=种植")]
    for person in people:  # the factory's gender is not the ID number's; the person rule insists
        person.gender, person.birth_date = gender_from_id(person.id_number), birth_date_from_id(person.id_number)
    db.session.commit()
    county = login_as(make_user("region", region_code=COUNTY))
    first = county.get(f"/people/export.{fmt}?purpose=核对名单")
    assert first.status_code == 200 and first.data  # read before the rows go
    db.session.execute(delete(Person))
    db.session.commit()
    response = county.post("/import/people", data={"file": (io.BytesIO(first.data), f"p.{fmt}")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert _cells(county.get(f"/people/export.{fmt}?purpose=核对名单").data, fmt) == _cells(first.data, fmt)
    assert verify_chain().ok
    again = county.post("/import/people", data={"file": (io.BytesIO(first.data), f"p.{fmt}")},
                        content_type="multipart/form-data")
    assert again.status_code == 422 and "身份证号已登记（张三）" in again.get_data(as_text=True)
