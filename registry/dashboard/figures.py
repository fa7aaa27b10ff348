"""The figures of one area (a township with its villages and the postings to them, or a
county's own postings), computed from the postings, pairings, latest confirmed support
and duty months: what the summary writer stores in ``AreaSummary`` and what the coverage
page computes live for an area without a fresh row, so the two never differ."""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import Date, String, and_, bindparam, case, func, select

from ..people.models import Posting
from ..regions.models import Region
from .definitions import (
    Filters,
    backing_unit_villages,
    enterprise_villages,
    first_secretary_villages,
    flag_clause,
    posting_filters,
    support_cutoff,
    supported_villages,
    team_sizes,
)
from .models import AreaSummary, PersonTrainingYear

VILLAGE_FIGURES = ("villages", "key_villages", "first_secretary", "first_secretary_key", "backing_unit",
                   "backing_unit_key", "enterprise", "enterprise_key", "support_12m", "support_12m_key",
                   "teams_under_min")
AREA_FIGURES = (*VILLAGE_FIGURES, "posted_people", "trained_people", "months_under_min")


def area_settings(cfg) -> str:
    """The settings an area's figures depend on; a row computed under others is unused."""
    return "|".join(str(int(cfg[k])) for k in
                    ("REGISTRY_MIN_TEAM_SIZE", "REGISTRY_MIN_DAYS_IN_VILLAGE", "REGISTRY_YEARLY_TRAININGS",
                     "REGISTRY_SUPPORT_WINDOW_DAYS"))


def fresh_clause(year, settings, today, a=AreaSummary):
    """Condition: an area row (``AreaSummary``, or ``a``: ``AreaCut``) computed for ``year``
    under ``settings`` that holds on ``today``."""
    return and_(a.year == year, a.settings == settings, a.computed_on <= today, a.valid_until > today)


def area_fresh(today: date, cfg):
    """Condition: an area row that still holds today under the current settings."""
    return fresh_clause(today.year, area_settings(cfg), today)


def area_figures(executor, areas: list[str] | None, today: date, year: int,
                 lo: str = "000000000000", hi: str = "999999999999",
                 filters: Filters | None = None) -> dict[str, dict[str, int]]:
    """The summary figures of each area, computed from the postings, pairings, latest
    confirmed support and duty months (when ``areas`` is None: every area between
    ``lo`` and ``hi`` with any of them); with ``filters``, under its category,
    organization kind or flag (``year``: the filters')."""
    cfg = current_app.config
    filters = filters or Filters(year)
    village, trained, months = _area_statements(filters, area_settings(cfg), areas is not None)
    out: dict[str, dict[str, int]] = {}

    def row(p: str) -> dict[str, int]:
        return out.setdefault(p + "000", dict.fromkeys(AREA_FIGURES, 0))

    chunks = [None] if areas is None else [sorted(areas)[i:i + 500] for i in range(0, len(areas), 500)]
    for chunk in chunks:
        params = {"lo": lo, "hi": hi, "day": today, "since": support_cutoff(today)}
        if chunk is not None:
            params.update(lo=chunk[0][:9] + "000", hi=chunk[-1][:9] + "999", areas=[a[:9] for a in chunk])
        for p, *values in executor.execute(village, params):
            row(p).update(zip(VILLAGE_FIGURES, (int(v or 0) for v in values)))
        for p, people, trained_people in executor.execute(trained, params):
            row(p).update(posted_people=int(people or 0), trained_people=int(trained_people or 0))
        for p, count in executor.execute(months, params):
            row(p)["months_under_min"] = int(count or 0)
    return out


_STATEMENTS: dict[tuple, tuple] = {}
# A few keys per year (one per filter the coverage page asks for), each ~110 KB of
# statements: the oldest goes first, where clearing them all at the bound rebuilt the
# ones in use. The summaries' property test, which moves through the years, raises the
# bound for itself.
_STATEMENTS_KEPT = 64


def _area_statements(filters: Filters, settings: str, by_area: bool) -> tuple:
    """The three statements of ``area_figures``, built once (per filters and settings)
    with the bounds, areas and day as parameters (``day``, and ``since``: the support
    window's first day): every flush that touches an area runs them, and building them
    costs more than running them on a township. Built once a day before, with the day in
    them, the statements were built again at every change of day: a site's first flush
    of the day, and most steps of the summaries' property test, which moves the clock."""
    key = (filters, settings, by_area)
    statements = _STATEMENTS.get(key)
    if statements is None:
        cfg = current_app.config
        lo, hi = bindparam("lo", type_=String), bindparam("hi", type_=String)
        areas = bindparam("areas", expanding=True) if by_area else None
        day, since = bindparam("day", type_=Date), bindparam("since", type_=Date)
        statements = (village_live_query(lo, hi, 9, filters, day, cfg, areas=areas, since=since),
                      trained_query(lo, hi, 9, filters, cfg, areas=areas),
                      months_short_query(lo, hi, 9, filters, cfg, areas=areas))
        _STATEMENTS[key] = statements
        if len(_STATEMENTS) > _STATEMENTS_KEPT:
            _STATEMENTS.pop(list(_STATEMENTS)[0], None)  # list(): one step, even beside other threads
    return statements


def in_areas(col, prefixes: list[str] | None):
    return None if prefixes is None else func.substr(col, 1, 9).in_(prefixes)


def village_live_query(lo, hi, n, filters, today, cfg, only=None, areas=None, since=None):
    """The same figures from postings, pairings and the latest confirmed dates, on
    ``today`` (a date, or a bound parameter with ``since``, the support window's first
    day, as another)."""
    kind, veteran = filters.org_kind, filters.veteran
    fs = first_secretary_villages(lo, hi, kind, veteran).subquery()
    bu = backing_unit_villages(lo, hi, today, kind, veteran).subquery()
    en = enterprise_villages(lo, hi, today, kind, veteran).subquery()
    sp = supported_villages(lo, hi, today, filters.category, kind, veteran, since=since).subquery()
    teams = team_sizes(lo, hi, kind, veteran).subquery()
    key = case((Region.is_key, 1), else_=0)
    prefix = func.substr(Region.code, 1, n)
    min_team = cfg["REGISTRY_MIN_TEAM_SIZE"]

    def has(sub):
        return case((sub.c.code.is_not(None), 1), else_=0)

    stmt = (
        select(
            prefix.label("p"),
            func.count(),
            func.sum(key),
            func.sum(has(fs)), func.sum(has(fs) * key),
            func.sum(has(bu)), func.sum(has(bu) * key),
            func.sum(has(en)), func.sum(has(en) * key),
            func.sum(has(sp)), func.sum(has(sp) * key),
            func.sum(case((and_(teams.c.size.is_not(None), teams.c.size < min_team), 1), else_=0)),
        )
        .select_from(Region)
        .outerjoin(fs, fs.c.code == Region.code)
        .outerjoin(bu, bu.c.code == Region.code)
        .outerjoin(en, en.c.code == Region.code)
        .outerjoin(sp, sp.c.code == Region.code)
        .outerjoin(teams, teams.c.code == Region.code)
        .where(Region.level == "village", Region.code.between(lo, hi))
        .group_by(prefix)
    )
    if only is not None:
        stmt = stmt.where(Region.code.in_(only))
    if (c := in_areas(Region.code, areas)) is not None:
        stmt = stmt.where(c)
    if (c := flag_clause(filters.flag)) is not None:
        stmt = stmt.where(c)
    return stmt


def trained_query(lo, hi, n, filters, cfg, areas=None):
    """Per prefix: people in an active posting, and of them those trained in the year.
    A person holds at most one active posting (a posting rule), so rows are people."""
    required = int(cfg["REGISTRY_YEARLY_TRAININGS"])
    t = PersonTrainingYear
    prefix = func.substr(Posting.region_code, 1, n)
    stmt = (
        select(prefix, func.count(), func.sum(case((t.passed_courses >= required, 1), else_=0)))
        .outerjoin(t, and_(t.person_id == Posting.person_id, t.year == filters.year))
        .where(Posting.is_active, Posting.region_code.between(lo, hi))
        .group_by(prefix)
    )
    if (c := in_areas(Posting.region_code, areas)) is not None:
        stmt = stmt.where(c)
    return posting_filters(stmt, filters)


def months_short_query(lo, hi, n, filters, cfg, areas=None):
    """Per prefix: duty months of the year under the minimum (``DutyMonth.short_clause``,
    the duty feature's own pro-rata rule). A duty month carries its posting's village and
    sending unit."""
    from ..duty.models import DutyMonth as d

    prefix = func.substr(d.region_code, 1, n)
    stmt = (
        select(prefix, func.count())
        .where(d.month.between(date(filters.year, 1, 1), date(filters.year, 12, 31)),
               d.short_clause(int(cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"])), d.region_code.between(lo, hi))
        .group_by(prefix)
    )
    if (c := in_areas(d.region_code, areas)) is not None:
        stmt = stmt.where(c)
    # a duty month carries its posting, whose person is the veteran or not
    person = select(Posting.person_id).where(Posting.id == d.posting_id).scalar_subquery()
    return posting_filters(stmt, filters, d.region_code, d.organization_id, person)
