"""Charitable funds (公益慈善组织): money in (``FundContribution``) and money out (the
fund's confirmed support records), so raised, disbursed and balance are always visible.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, func, select

from ..audit.services import record as audit
from ..core.paging import Key, order_by
from ..core.parsing import CONFIRM_FIELD, check_amounts, check_text, clean_text, halfwidth, parse_amount, parse_date
from ..core.rules import Collector, RuleViolation
from ..closing.rules import ensure_year_open
from ..core.scope import scoped
from ..extensions import db
from ..organizations.models import Organization
from ..transfer.writing import Column
from .models import FundContribution, SupportRecord

ZERO = Decimal("0.00")


def is_fund(org: Organization | None) -> bool:
    return org is not None and org.kind == "charity"


def may_record_contribution(user, org: Organization) -> bool:
    """The fund's own unit, region staff (the fund is in their scope) and administrators."""
    if user.role == "unit":
        return user.organization_id == org.id
    return user.role in ("admin", "region")


def add_contribution(org: Organization, user, data: dict) -> FundContribution:
    """Record money received by the fund: donor, amount (> 0), date, receipt number (unique
    per fund)."""
    if not is_fund(org):
        raise RuleViolation({"": "只有公益慈善组织可以登记受赠资金"})
    if not may_record_contribution(user, org):
        raise RuleViolation({"": "只有该基金本单位、行政区工作人员或系统管理员可以登记受赠资金"})
    errors = Collector()
    donor = clean_text(data.get("donor"))
    if not donor:
        errors.add("donor", "请填写捐赠方")
    elif len(donor) > 200:
        errors.add("donor", "捐赠方不能超过200个字")
    else:
        check_text(donor, "donor", "捐赠方", errors)
    amount = parse_amount(data.get("amount"), "amount", "捐赠金额", errors, positive=True)
    check_amounts({"amount": ("捐赠金额", amount)}, errors, confirmed=data.get(CONFIRM_FIELD) is True)
    received_on = parse_date(data.get("received_on"), "received_on", "到账日期", errors)
    receipt_no = halfwidth(data.get("receipt_no"))
    if not receipt_no:
        errors.add("receipt_no", "请填写收据编号")
    elif len(receipt_no) > 50:
        errors.add("receipt_no", "收据编号不能超过50个字符")
    elif check_text(receipt_no, "receipt_no", "收据编号", errors) and db.session.scalar(
        select(func.count()).select_from(FundContribution).where(
            FundContribution.organization_id == org.id, FundContribution.receipt_no == receipt_no
        )
    ):
        errors.add("receipt_no", "该收据编号已登记过，请核对")
    note = str(data.get("note") or "").strip()
    errors.check(len(note) <= 1000, "note", "备注不能超过1000个字")
    check_text(note, "note", "备注", errors, multiline=True)
    errors.raise_if_any()
    ensure_year_open(received_on.year, org.region_code, "funds", "received_on")

    item = FundContribution(
        organization_id=org.id, donor=donor, amount=amount, received_on=received_on, receipt_no=receipt_no,
        note=note or None, created_by_id=user.id,
    )
    db.session.add(item)
    db.session.flush()
    audit("create", item, summary=f"登记受赠资金：{donor} {amount} 元（收据 {receipt_no}）", actor=user)
    db.session.commit()
    return item


@dataclass
class FundTotals:
    raised: Decimal
    disbursed: Decimal  # direct money of confirmed support records
    pending: Decimal  # direct money of records awaiting the village's confirmation
    in_kind: Decimal  # in-kind value of confirmed records (shown, not in the balance)
    contributions: int
    records: int

    @property
    def balance(self) -> Decimal:
        return self.raised - self.disbursed


def totals(org: Organization) -> FundTotals:
    """The fund's figures, over all its records (the balance is the fund's, wherever it
    spent the money)."""
    raised, n_contrib = db.session.execute(
        select(func.coalesce(func.sum(FundContribution.amount), 0), func.count())
        .where(FundContribution.organization_id == org.id)
    ).one()
    by_status = {
        status: (amount, in_kind, n)
        for status, amount, in_kind, n in db.session.execute(
            select(SupportRecord.status, func.coalesce(func.sum(SupportRecord.amount), 0),
                   func.coalesce(func.sum(SupportRecord.amount_in_kind), 0), func.count())
            .where(SupportRecord.organization_id == org.id, SupportRecord.status.in_(("confirmed", "submitted")))
            .group_by(SupportRecord.status)
        )
    }
    confirmed = by_status.get("confirmed", (ZERO, ZERO, 0))
    pending = by_status.get("submitted", (ZERO, ZERO, 0))
    return FundTotals(
        raised=Decimal(raised).quantize(ZERO), disbursed=Decimal(confirmed[0]).quantize(ZERO),
        pending=Decimal(pending[0]).quantize(ZERO), in_kind=Decimal(confirmed[1]).quantize(ZERO),
        contributions=n_contrib, records=confirmed[2],
    )


CONTRIBUTION_ORDER = (Key(FundContribution.received_on, descending=True), Key(FundContribution.id, descending=True))
FUND_ORDER = (Key(Organization.name), Key(Organization.id))


def contributions(org: Organization, user) -> Select:
    """What the fund received, newest first (sorted by ``CONTRIBUTION_ORDER``)."""
    return scoped(select(FundContribution).where(FundContribution.organization_id == org.id), FundContribution, user).order_by(
        *order_by(CONTRIBUTION_ORDER)
    )


def funds_in_scope(user) -> Select:
    """The charitable funds the user may see, by name (sorted by ``FUND_ORDER``)."""
    return scoped(select(Organization).where(Organization.kind == "charity"), Organization, user).order_by(
        *order_by(FUND_ORDER)
    )


# -- 资金台账: the exports of the fund list and of one fund ------------------------------------

FUND_COLUMNS = (
    Column("组织名称", "name", width=30), Column("统一社会信用代码", "credit_code", width=20),
    Column("所在地", "region", width=20), Column("累计受赠（元）", "raised", "amount", 16),
    Column("受赠笔数", "contributions", "int", 10), Column("已拨付（村已确认，元）", "disbursed", "amount", 18),
    Column("已确认帮扶记录数", "records", "int", 12), Column("结余（元）", "balance", "amount", 16),
    Column("待村确认（元）", "pending", "amount", 16), Column("实物折价（已确认，元）", "in_kind", "amount", 18),
)


def fund_rows(stmt: Select) -> Iterator[list]:
    """One row per fund of ``stmt`` (``funds_in_scope``) with its figures, as the list shows them."""
    for org in db.session.scalars(stmt).all():  # funds are few; each needs its own totals
        t = totals(org)
        yield [org.name, org.credit_code, org.region.name if org.region else org.region_code, t.raised,
               t.contributions, t.disbursed, t.records, t.balance, t.pending, t.in_kind]


LEDGER_COLUMNS = (
    Column("日期", "date", "date", 12), Column("收支", "direction", width=6),
    Column("捐赠方或受援村", "party", width=30), Column("收据编号或记录编号", "reference", width=18),
    Column("收入（元）", "income", "amount", 16), Column("支出（元）", "spending", "amount", 16),
    Column("实物折价（元）", "in_kind", "amount", 16), Column("事项", "title", width=30), Column("备注", "note", width=30),
)


def ledger_statements(org: Organization, user) -> tuple[Select, Select]:
    """What the fund received and what it paid out (records the village confirmed, with
    money or goods), as far as ``user`` may see them."""
    from .queries import RecordFilters, record_list

    money_in = scoped(select(FundContribution).where(FundContribution.organization_id == org.id),
                      FundContribution, user).order_by(FundContribution.received_on, FundContribution.id)
    money_out = record_list(user, RecordFilters(organization_id=org.id, status="confirmed")).where(
        (SupportRecord.amount > 0) | (SupportRecord.amount_in_kind > 0)
    ).order_by(None).order_by(SupportRecord.record_date, SupportRecord.id)
    return money_in, money_out


def ledger_rows(money_in: Select, money_out: Select) -> Iterator[list]:
    """Money in and money out in one list by date (receipts first on a day), streamed."""
    received = (
        ((c.received_on, 0, c.id), [c.received_on, "收入", c.donor, c.receipt_no, c.amount, None, None, None, c.note])
        for c in db.session.scalars(money_in.execution_options(yield_per=2000))
    )
    paid = (
        ((r.record_date, 1, r.id), [r.record_date, "支出", r.village.name, str(r.id), None, r.amount,
                                    r.amount_in_kind or None, r.title, None])
        for r in db.session.scalars(money_out.execution_options(yield_per=2000))
    )
    for _key, row in heapq.merge(received, paid, key=lambda item: item[0]):
        yield row
