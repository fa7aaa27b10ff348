"""Choosing where to post someone (or pair an organization): the places in a user's
jurisdiction a posting or pairing may target, and who holds their first-secretary posts."""
from __future__ import annotations

from sqlalchemy import Select, or_, select

from ..core.scope import region_clause
from ..extensions import db
from ..regions.models import Region
from .models import Posting


def target_query(user, *, levels: tuple[str, ...], q: str = "", without_first_secretary: bool = False) -> Select:
    """Places in the user's jurisdiction a posting or pairing may target."""
    stmt = select(Region).where(Region.level.in_(levels), region_clause(Region.code, user))
    if user.role not in ("admin", "region"):
        stmt = stmt.where(Region.code.is_(None))
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(Region.name.contains(q), Region.code.startswith(q)))
    if without_first_secretary:
        stmt = stmt.where(
            Region.level == "village",
            Region.code.not_in(
                select(Posting.region_code).where(Posting.role == "first_secretary", Posting.is_active)
            ),
        )
    return stmt.order_by(Region.code)


def active_first_secretaries(codes) -> dict[str, Posting]:
    codes = list(codes)
    if not codes:
        return {}
    rows = db.session.scalars(
        select(Posting).where(Posting.region_code.in_(codes), Posting.role == "first_secretary", Posting.is_active)
    )
    return {p.region_code: p for p in rows}
