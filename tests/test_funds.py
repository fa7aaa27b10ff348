"""Charitable funds: money received, money paid out (confirmed support records), balance."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.core.rules import RuleViolation
from registry.records import funds
from registry.records.models import FundContribution
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing
from tests.factories_records import audit_count, file_record, world  # noqa: F401


@pytest.fixture()
def fund(db, world, make_user):
    org = make_org("charity", region_code=COUNTY, name="测试慈善基金会")
    make_pairing(org, world.village.code, "other")
    user = make_user("unit", "fund_user", organization_id=org.id)
    return org, user


def _contribution(**kw) -> dict:
    data = {"donor": "某爱心企业", "amount": "500000", "received_on": (date.today() - timedelta(days=60)).isoformat(),
            "receipt_no": "JJH-2025-001", "note": ""}
    data.update(kw)
    return data


def _count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(FundContribution))


def test_raised_disbursed_and_balance(login_as, db, world, fund):
    org, user = fund
    session = login_as(user)
    assert session.post(f"/records/funds/{org.id}/contributions/new", data=_contribution()).status_code == 302
    assert session.post(f"/records/funds/{org.id}/contributions/new",
                        data=_contribution(receipt_no="JJH-2025-002", amount="20000.50")).status_code == 302
    file_record(user, world.village.code, status="confirmed", village_user=world.village_user, amount="120000", amount_in_kind="5000")
    file_record(user, world.village.code, status="submitted", amount="30000")  # pending: not disbursed
    file_record(user, world.village.code, status="disputed", village_user=world.village_user, amount="9999")
    file_record(user, world.village.code, amount="7777")  # a draft

    totals = funds.totals(org)
    assert totals.raised == Decimal("520000.50")
    assert totals.disbursed == Decimal("120000.00")
    assert totals.pending == Decimal("30000.00")
    assert totals.balance == Decimal("400000.50")
    assert totals.in_kind == Decimal("5000.00")

    body = session.get(f"/records/funds/{org.id}").get_data(as_text=True)
    assert '<b id="fund-raised">520,000.50 元</b>' in body
    assert '<b id="fund-disbursed">120,000.00 元</b>' in body
    assert 'id="fund-balance" class="">400,000.50 元</b>' in body
    assert '<b id="fund-pending">30,000.00 元</b>' in body
    assert "不计入已拨付和结余" in body and "JJH-2025-002" in body
    assert session.get("/records/funds").status_code == 302  # a fund's user goes to its own page


def test_a_correction_counts_once(db, world, fund):
    org, user = fund
    from registry.records import services
    from tests.factories_records import record_data

    original = file_record(user, world.village.code, status="confirmed", village_user=world.village_user, amount="100000")
    correction = services.start_correction(original, user, record_data(world.village.code, amount="90000"), submit=True)
    services.confirm_record(correction, world.village_user)
    assert funds.totals(org).disbursed == Decimal("90000.00")


@pytest.mark.parametrize("field,value,fragment", [
    ("donor", "", "请填写捐赠方"),
    ("amount", "0", "捐赠金额应大于零"),
    ("amount", "-10", "捐赠金额不能为负数"),
    ("amount", "10.001", "捐赠金额最多保留两位小数"),
    ("received_on", (date.today() + timedelta(days=3)).isoformat(), "到账日期不能晚于今天"),
    ("received_on", "昨天", "到账日期格式应为"),
    ("receipt_no", "", "请填写收据编号"),
])
def test_bad_contributions_are_refused(login_as, db, fund, field, value, fragment):
    org, user = fund
    session = login_as(user)
    before = audit_count()
    response = session.post(f"/records/funds/{org.id}/contributions/new", data=_contribution(**{field: value}))
    assert response.status_code == 422 and fragment in response.get_data(as_text=True)
    assert _count(db) == 0 and audit_count() == before


def test_a_receipt_number_is_recorded_once_per_fund(db, fund):
    org, user = fund
    funds.add_contribution(org, user, _contribution())
    with pytest.raises(RuleViolation) as caught:
        funds.add_contribution(org, user, _contribution(amount="1"))
    assert "该收据编号已登记过" in caught.value.errors["receipt_no"][0]
    db.session.rollback()
    assert _count(db) == 1


def test_who_may_record_money_received(login_as, db, world, fund, make_user):
    org, user = fund
    county = world.county  # the fund is based in the county
    assert login_as(county).post(f"/records/funds/{org.id}/contributions/new", data=_contribution(receipt_no="R1")).status_code == 302
    assert login_as(world.admin).post(f"/records/funds/{org.id}/contributions/new", data=_contribution(receipt_no="R2")).status_code == 302
    assert login_as(world.other_unit).post(f"/records/funds/{org.id}/contributions/new", data=_contribution(receipt_no="R3")).status_code == 404
    assert login_as(world.viewer).post(f"/records/funds/{org.id}/contributions/new", data=_contribution(receipt_no="R4")).status_code == 403
    assert login_as(world.village_user).get(f"/records/funds/{org.id}").status_code == 403
    assert login_as(world.other_county).get(f"/records/funds/{org.id}").status_code == 404
    assert _count(db) == 2


def test_only_charities_have_fund_pages(login_as, db, world, fund):
    org, _ = fund
    with pytest.raises(RuleViolation):
        funds.add_contribution(world.org, world.unit, _contribution())
    assert login_as(world.admin).get(f"/records/funds/{world.org.id}").status_code == 404
    assert login_as(world.unit).get("/records/funds").status_code == 404
    body = login_as(world.county).get("/records/funds").get_data(as_text=True)
    assert "测试慈善基金会" in body
    other_fund = make_org("charity", region_code=OTHER_COUNTY, name="外县基金会")
    assert "外县基金会" not in login_as(world.county).get("/records/funds").get_data(as_text=True)
    assert login_as(world.county).get(f"/records/funds/{other_fund.id}").status_code == 404


def test_the_fund_link_in_the_navigation(login_as, world, fund):
    org, user = fund
    assert f'href="/records/funds/{org.id}"' in login_as(user).get("/").get_data(as_text=True)
    assert "慈善资金" not in login_as(world.unit).get("/").get_data(as_text=True)
    assert 'href="/records/funds"' in login_as(world.county).get("/").get_data(as_text=True)
