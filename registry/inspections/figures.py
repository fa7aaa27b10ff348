"""The inspections' figure for the yearly assessment of cities and counties (实绩考核).

``findings_rectified(region_code, year)`` -> (closed, all): the findings of the inspections
of that region (as the inspected party) in that year, and how many of them are closed
(已销号). One indexed query (``ix_inspection_finding_target_year``); unscoped, as a figure
the scoring service computes for the region it scores.
"""
from __future__ import annotations

from sqlalchemy import case, func, select

from ..core.rectification import CLOSED
from ..extensions import db
from .models import Finding


def findings_rectified(region_code: str, year: int) -> tuple[int, int]:
    closed, total = db.session.execute(
        select(func.coalesce(func.sum(case((Finding.status == CLOSED, 1), else_=0)), 0), func.count())
        .where(Finding.target_region_code == region_code, Finding.year == year)
    ).one()
    return int(closed), int(total)
