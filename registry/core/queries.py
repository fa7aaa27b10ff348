"""Running the ``Select`` statements that services build, for what a page shows beside
``db.paginate``: a total and the first few rows (home panels), or all rows (short lists).

Services build and scope the statement; views pass it here or to ``db.paginate``.
"""
from __future__ import annotations

from sqlalchemy import Select, func, select

from ..extensions import db


def count(stmt: Select) -> int:
    """How many rows ``stmt`` returns (its ordering dropped)."""
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def first(stmt: Select, n: int) -> list:
    """The first ``n`` objects ``stmt`` returns, in its order."""
    return list(db.session.scalars(stmt.limit(n)).all())


def every(stmt: Select) -> list:
    """All objects ``stmt`` returns, in its order."""
    return list(db.session.scalars(stmt).all())
