"""Who is told: every recipient is a user account, found from what an item belongs to.

Only active accounts receive (``notify`` also drops disabled ones). A cadre account (驻村干部,
being built beside this) is a user bound to a person: ``person_users`` finds it through
``User.person_id`` as soon as that column exists, so events about a person reach the cadre
with no change here.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select

from ..accounts.models import User
from ..extensions import db


def _ids(stmt) -> list[int]:
    return list(db.session.scalars(stmt.where(User.active.is_(True)).order_by(User.id)))


@dataclass(frozen=True)
class Accounts:
    """The accounts of one role whose ``column`` (of ``User``) is ``value``: what
    ``village_accounts`` and ``unit_accounts`` name, for ``notify`` to read with their
    settings in one statement it builds once (``select()``: the same accounts as a query)."""

    role: str
    column: str
    value: object

    def select(self) -> Select:
        return select(User.id).where(User.role == self.role, getattr(User, self.column) == self.value)


def village_accounts(village_code: str) -> Accounts:
    """``village_users`` as ``Accounts``, for ``notify`` to read with its recipients'
    settings in one statement."""
    return Accounts("village", "village_code", village_code)


def village_users(village_code: str) -> list[int]:
    """The village's accounts (村党组织书记, or the first secretary acting for the village)."""
    return _ids(village_accounts(village_code).select())


def village_users_of(village_codes) -> dict[str, list[int]]:
    """``village_users`` of many villages at once (an import's): code -> account ids."""
    found: dict[str, list[int]] = {}
    codes = list(dict.fromkeys(village_codes))
    for start in range(0, len(codes), 5000):
        for uid, code in db.session.execute(select(User.id, User.village_code).where(
                User.role == "village", User.active.is_(True), User.village_code.in_(codes[start:start + 5000]))
                .order_by(User.id)):
            found.setdefault(code, []).append(uid)
    return found


def unit_accounts(organization_id: int) -> Accounts:
    """``unit_users`` as ``Accounts`` (see ``village_accounts``)."""
    return Accounts("unit", "organization_id", organization_id)


def unit_users(organization_id: int) -> list[int]:
    """The accounts of a helping organization (帮扶单位)."""
    return _ids(unit_accounts(organization_id).select())


def region_staff(region_code: str) -> list[int]:
    """The staff of one region's office (not of the regions under it)."""
    return _ids(select(User.id).where(User.role == "region", User.region_code == region_code))


def person_users(person_id: int) -> list[int]:
    """Accounts bound to a person (cadre accounts), when such accounts exist."""
    column = getattr(User, "person_id", None)
    if column is None:
        return []
    return _ids(select(User.id).where(column == person_id))


def dispatching_region(posting) -> str:
    """The code of the region that sent a posting's person: 县派 the target's county, 市派 its
    city, 省派 and 中央 the province."""
    code = posting.region_code
    if posting.dispatch_level == "county":
        return code[:6] + "0" * 6
    if posting.dispatch_level == "city":
        return code[:4] + "0" * 8
    return code[:2] + "0" * 10
