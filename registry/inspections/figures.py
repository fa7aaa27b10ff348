"""The inspections' figure for the yearly assessment of cities and counties (实绩考核).

``findings_rectified(region_code, year)`` -> (closed, all): the findings of the inspections
of that region (as the inspected party) in that year, and how many of them are closed
(已销号); a finding that a 容错 decision covers (予以容错, ``tolerance.effects``) counts in
neither. ``finding_counts`` also says how many were left out. One indexed query on the
findings (``ix_inspection_finding_target_year``) and one on the cases (by ``subject_key``);
unscoped, as a figure the scoring service computes for the region it scores.
"""
from __future__ import annotations

from sqlalchemy import select

from ..core.rectification import CLOSED
from ..extensions import db
from .models import Finding

KIND = "finding"  # the subject kind of a 容错 case about a finding (``inspections.tolerance``)


def _tolerated(ids: list[int]) -> set[int]:
    """None when the fault-tolerance feature is not installed."""
    try:
        from ..tolerance.effects import tolerated_ids
    except ImportError:
        return set()
    return tolerated_ids(KIND, ids)


def finding_counts(region_code: str, year: int) -> tuple[int, int, int]:
    """(closed, all, tolerated): the region's findings of the year, those covered by a 容错
    decision (the last figure) left out of the first two."""
    rows = db.session.execute(select(Finding.id, Finding.status).where(
        Finding.target_region_code == region_code, Finding.year == year)).all()
    spared = _tolerated([r.id for r in rows])
    kept = [r for r in rows if r.id not in spared]
    return sum(1 for r in kept if r.status == CLOSED), len(kept), len(spared)


def findings_rectified(region_code: str, year: int) -> tuple[int, int]:
    closed, total, _ = finding_counts(region_code, year)
    return closed, total
