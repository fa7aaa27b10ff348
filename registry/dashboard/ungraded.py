"""Postings without a grade (待考核): the rule, and how many a region has in a year.

A posting awaits its grade for a year when it was active at some time in the year and
has no grade for it. The province staff's home shows how many first secretaries await
theirs, the year close page how many postings, the list of them its total: counted from
the postings, a province's are 40,000 rows and their grades (12-22 ms on SQLite, the
largest statement of the province's home). A province, city or county sums instead its
areas' rows of the summaries (``AreaYear``, written with each area's ``AreaSummary`` row
by ``cuts.year_figures``, the same rule over every year at once), and counts live only
the areas whose rows no longer hold (time or a setting outdated them: the same areas the
coverage page computes live).
"""
from __future__ import annotations

from datetime import date
from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, func, select, union

from ..assessment.models import graded_posting
from ..core.parsing import EARLIEST_PLAUSIBLE
from ..core.timeutil import local_today
from ..extensions import db
from ..people.models import Posting
from ..regions.models import Region
from ..training.checks import active_in_year
from .figures import area_settings, fresh_clause
from .models import AreaSummary, AreaYear

FIRST_SECRETARY = "first_secretary"


def ungraded(year: int, role: str | None = None):
    """Condition on ``Posting``: active in ``year`` without a grade for it (of ``role``)."""
    condition = and_(active_in_year(year), ~graded_posting(year))
    return and_(condition, Posting.role == role) if role else condition


def ungraded_count(region: Region, year: int, role: str | None = None) -> int:
    """How many postings in ``region`` await their grade for ``year`` (of ``role``: all
    roles, or first secretaries): from the summaries where they hold them (a province,
    city or county, a year up to this one), else by counting the postings."""
    counted = _from_summaries(region, year, role, local_today())
    if counted is not None:
        return counted
    return _live(region.within(Posting.region_code), year, role)


def _live(where, year: int, role: str | None) -> int:
    return db.session.scalar(select(func.count()).select_from(Posting).where(where, ungraded(year, role))) or 0


@cache
def _statements():
    a, y = AreaSummary, AreaYear
    fresh = fresh_clause(bindparam("this_year"), bindparam("settings"), bindparam("today"))
    held = select(a.area).where(a.area == y.area, fresh).exists()  # the area's row holds today
    of_year = and_(y.year == bindparam("year"), y.settings == bindparam("settings"), Region.within_bounds(y.area))
    sums = select(func.sum(y.ungraded_postings), func.sum(y.ungraded_first_secretaries)).where(of_year, held)
    # counted live: the areas whose row no longer holds, and those with figures of the year
    # but no row (a rebuild writes rows for the areas with a figure of this year only)
    stale = union(select(a.area).where(Region.within_bounds(a.area), ~fresh), select(y.area).where(of_year, ~held))
    built = select(a.area).where(Region.within_bounds(a.area)).limit(1)
    return sums, stale, built


def _from_summaries(region: Region, year: int, role: str | None, today: date) -> int | None:
    if region.level not in ("province", "city", "county") or not EARLIEST_PLAUSIBLE.year <= year <= today.year:
        return None  # a township's few postings are counted; a year not yet summarised is counted
    if role not in (None, FIRST_SECRETARY):
        return None
    sums, stale, built = _statements()
    lo, hi = region.range()
    conn = db.session.connection()
    if conn.execute(built, {"lo": lo, "hi": hi}).first() is None:
        return None  # not built yet (or nothing there)
    params = dict(lo=lo, hi=hi, year=year, this_year=today.year, settings=area_settings(current_app.config),
                  today=today)
    every, first_secretaries = conn.execute(sums, params).one()
    total = int((first_secretaries if role else every) or 0)
    areas = sorted(conn.execute(stale, params).scalars())
    for i in range(0, len(areas), 500):  # the areas whose rows do not hold, counted live
        chunk = [area[:9] for area in areas[i:i + 500]]
        total += _live(and_(Posting.region_code.between(chunk[0] + "000", chunk[-1] + "999"),
                            func.substr(Posting.region_code, 1, 9).in_(chunk)), year, role)
    return total
