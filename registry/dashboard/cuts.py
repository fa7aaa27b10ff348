"""The filtered and past-year figures of an area, for the summaries ``AreaCut`` and
``AreaYear``: what the summary writer stores beside an area's ``AreaSummary`` row, so a
filtered coverage page of a province sums small rows instead of joining the postings,
pairings, latest confirmed support and duty months of 24,000 villages.

The figures follow ``definitions`` (the coverage page computes an area without a fresh
row live, by ``figures.area_figures`` with the filter, and the two must agree: the
dashboard tests compare a filtered page with the raw rows, the property test every row
with a rebuild). Per area, a handful of rows is read once (its villages, active
postings, active pairings, latest confirmed support per category and per kind, short
duty months) and every filter value is counted from them in Python: one read for the
twenty-odd filter values instead of twenty-odd runs of the area's statements.

- category C: the default figures, with support in the last 12 months counted from the
  village's latest confirmed record of category C (``VillageSupportLast`` (v, C, '*'));
- organization kind K: the postings, pairings and support of helpers of kind K only
  (villages and key villages stay all villages); people posted and trained, duty months
  under the minimum: of postings sent by kind K;
- village flag F: only villages with flag F, and the postings and duty months to them.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, case, extract, func, literal, or_, select

from ..assessment.models import graded_posting
from ..core.enums import ORG_KINDS, RECORD_CATEGORIES, VILLAGE_ROLES
from ..core.parsing import EARLIEST_PLAUSIBLE
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from ..training.checks import active_in_years
from .definitions import FLAGS, support_cutoff
from .figures import AREA_FIGURES
from .models import ANY, PersonTrainingYear, VillageSupportLast

CUTS: tuple[tuple[str, str], ...] = (*(("category", c) for c in RECORD_CATEGORIES),
                                     *(("org_kind", k) for k in ORG_KINDS), *(("flag", f) for f in FLAGS))
_FLAG_INDEX = {"key": 0, "poor": 1, "relocation": 2}

_STATEMENTS: dict[tuple, tuple] = {}


def _restrict(stmt, col, by_area: bool):
    if not by_area:
        return stmt
    return stmt.where(col.between(bindparam("lo"), bindparam("hi")),
                      func.substr(col, 1, 9).in_(bindparam("areas", expanding=True)))


def _statements(today: date, year: int, by_area: bool) -> tuple:
    """The statements of ``cut_figures``, built once per day, year and settings (the
    support window and the minimum days are in them)."""
    from .figures import area_settings

    cfg = current_app.config
    key = (today, year, by_area, area_settings(cfg))
    statements = _STATEMENTS.get(key)
    if statements is None:
        from ..duty.models import DutyMonth as d

        t = PersonTrainingYear
        villages = _restrict(select(Region.code, Region.is_key, Region.is_poor, Region.is_relocation)
                             .where(Region.level == "village"), Region.code, by_area)
        postings = _restrict(
            select(Posting.region_code, Posting.role, Organization.kind, t.passed_courses)
            .outerjoin(Organization, Organization.id == Posting.organization_id)
            .outerjoin(t, and_(t.person_id == Posting.person_id, t.year == year))
            .where(Posting.is_active), Posting.region_code, by_area)
        pairings = _restrict(
            select(Pairing.region_code, Pairing.kind, Organization.kind)
            .outerjoin(Organization, Organization.id == Pairing.organization_id)
            .where(Pairing.kind.in_(("resident", "enterprise_village")), Pairing.active_on(today)),
            Pairing.region_code, by_area)
        last = VillageSupportLast
        latest = _restrict(
            select(last.village_code, last.category, last.org_kind)
            .where(or_(last.category == ANY, last.org_kind == ANY), last.last_confirmed_on >= support_cutoff(today)),
            last.village_code, by_area)
        months = _restrict(
            select(d.region_code, Organization.kind, func.count())
            .outerjoin(Organization, Organization.id == d.organization_id)
            .where(d.month.between(date(year, 1, 1), date(year, 12, 31)),
                   d.short_clause(int(cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"])))
            .group_by(d.region_code, Organization.kind), d.region_code, by_area)
        statements = (villages, postings, pairings, latest, months)
        if len(_STATEMENTS) > 16:
            _STATEMENTS.clear()
        _STATEMENTS[key] = statements
    return statements


def _params(chunk: list[str] | None) -> dict:
    if chunk is None:
        return {}
    return {"lo": chunk[0][:9] + "000", "hi": chunk[-1][:9] + "999", "areas": [a[:9] for a in chunk]}


def cut_figures(conn, chunk: list[str] | None, today: date, year: int,
                base: dict[str, dict[str, int]]) -> dict[tuple[str, str, str], dict[str, int]]:
    """Per (cut, value, area): the area's figures under that filter, for every area of
    ``chunk`` (every area of ``base`` when None; ``base``: the areas' unfiltered figures,
    ``area_figures``'), zeros included."""
    cfg = current_app.config
    min_team, required = int(cfg["REGISTRY_MIN_TEAM_SIZE"]), int(cfg["REGISTRY_YEARLY_TRAININGS"])
    villages_stmt, postings_stmt, pairings_stmt, latest_stmt, months_stmt = _statements(today, year, chunk is not None)
    params = _params(chunk)

    flags: dict[str, tuple[bool, bool, bool]] = {}
    by_area: dict[str, list[str]] = defaultdict(list)
    for code, is_key, is_poor, is_relocation in conn.execute(villages_stmt, params):
        flags[code] = (bool(is_key), bool(is_poor), bool(is_relocation))
        by_area[code[:9] + "000"].append(code)

    fs_kinds: dict[str, set] = defaultdict(set)  # village -> kinds with an active first secretary
    team: dict[str, dict] = defaultdict(lambda: defaultdict(int))  # village -> kind -> active village postings
    people: dict[str, dict] = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # area -> key -> [posted, trained]
    for code, role, kind, passed in conn.execute(postings_stmt, params):
        if code is None:
            continue
        if role in VILLAGE_ROLES:
            team[code][kind] += 1
            if role == "first_secretary":
                fs_kinds[code].add(kind)
        trained = int(passed is not None and passed >= required)
        cells = people[code[:9] + "000"]
        for key in (("org_kind", kind), *(("flag", f) for f, i in _FLAG_INDEX.items()
                                          if code in flags and flags[code][i])):
            cells[key][0] += 1
            cells[key][1] += trained

    resident: dict[str, set] = defaultdict(set)
    enterprise: dict[str, set] = defaultdict(set)
    for code, pairing_kind, kind in conn.execute(pairings_stmt, params):
        (resident if pairing_kind == "resident" else enterprise)[code].add(kind)

    by_category: dict[str, set] = defaultdict(set)
    by_kind: dict[str, set] = defaultdict(set)
    for code, category, kind in conn.execute(latest_stmt, params):
        if category != ANY and kind == ANY:
            by_category[code].add(category)
        elif category == ANY:
            by_kind[code].add(kind)  # ANY itself: support by anyone

    months: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for code, kind, count in conn.execute(months_stmt, params):
        if code is None:
            continue
        cells = months[code[:9] + "000"]
        cells[("org_kind", kind)] += count
        for f, i in _FLAG_INDEX.items():
            if code in flags and flags[code][i]:
                cells[("flag", f)] += count

    def village_figures(codes, kind, category) -> dict[str, int]:
        out = dict.fromkeys(AREA_FIGURES, 0)
        for code in codes:
            key = flags[code][0]
            if kind is None:
                fs = bool(fs_kinds.get(code))
                size = sum(team[code].values()) if code in team else 0
                backing = size > 0 or bool(resident.get(code))
                ent = bool(enterprise.get(code))
            else:
                fs = kind in fs_kinds.get(code, ())
                size = team[code].get(kind, 0) if code in team else 0
                backing = size > 0 or kind in resident.get(code, ())
                ent = kind in enterprise.get(code, ())
            if category is not None:
                supported = category in by_category.get(code, ())
            else:
                supported = (kind or ANY) in by_kind.get(code, ())
            out["villages"] += 1
            out["key_villages"] += key
            for name, value in (("first_secretary", fs), ("backing_unit", backing), ("enterprise", ent),
                                ("support_12m", supported)):
                out[name] += value
                out[name + "_key"] += value and key
            out["teams_under_min"] += 0 < size < min_team
        return out

    areas = sorted(base) if chunk is None else chunk
    out: dict[tuple[str, str, str], dict[str, int]] = {}
    zeros = dict.fromkeys(AREA_FIGURES, 0)
    for area in areas:
        codes = by_area.get(area, [])
        default = base.get(area, zeros)
        for cut, value in CUTS:
            if cut == "category":
                figures = dict(default)
                sup = village_figures(codes, None, value)
                figures["support_12m"], figures["support_12m_key"] = sup["support_12m"], sup["support_12m_key"]
            elif cut == "org_kind":
                figures = village_figures(codes, value, None)
                posted, trained = people[area].get(("org_kind", value), (0, 0)) if area in people else (0, 0)
                figures.update(posted_people=posted, trained_people=trained,
                               months_under_min=months[area].get(("org_kind", value), 0) if area in months else 0)
            else:
                i = _FLAG_INDEX[value]
                figures = village_figures([c for c in codes if flags[c][i]], None, None)
                posted, trained = people[area].get(("flag", value), (0, 0)) if area in people else (0, 0)
                figures.update(posted_people=posted, trained_people=trained,
                               months_under_min=months[area].get(("flag", value), 0) if area in months else 0)
            out[(cut, value, area)] = figures
    return out


_YEAR_STATEMENTS: dict[tuple, tuple] = {}


def _year_statements(required: int, minimum: int, by_area: bool) -> tuple:
    key = (required, minimum, by_area)
    statements = _YEAR_STATEMENTS.get(key)
    if statements is None:
        from ..duty.models import DutyMonth as d

        t = PersonTrainingYear
        p = func.substr(Posting.region_code, 1, 9)
        trained = _restrict(
            select(p, t.year, func.sum(case((t.passed_courses >= required, 1), else_=0)))
            .join(t, t.person_id == Posting.person_id)
            .where(Posting.is_active).group_by(p, t.year), Posting.region_code, by_area)
        q, year = func.substr(d.region_code, 1, 9), extract("year", d.month).cast(Integer)
        months = _restrict(select(q, year, func.count()).where(d.short_clause(minimum)).group_by(q, year),
                           d.region_code, by_area)
        # every year from the first a posting can begin in to this one (``last``), each posting
        # counted in the years it was active in and has no grade for (the rules a page counts
        # one year by: ``active_in_year``, ``graded_posting``)
        years = select(literal(EARLIEST_PLAUSIBLE.year, Integer).label("year")).cte("years", recursive=True)
        years = years.union_all(select(years.c.year + 1).where(years.c.year < bindparam("last", type_=Integer)))
        y = years.c.year
        ungraded = _restrict(
            select(p, y, func.count(), func.sum(case((Posting.role == "first_secretary", 1), else_=0)))
            .join(years, active_in_years(y))
            .where(~graded_posting(y)).group_by(p, y), Posting.region_code, by_area)
        statements = _YEAR_STATEMENTS[key] = (trained, months, ungraded)
    return statements


YEAR_FIGURES = ("trained_people", "months_under_min", "ungraded_postings", "ungraded_first_secretaries")


def year_figures(conn, chunk: list[str] | None, today: date) -> dict[tuple[str, int], list[int]]:
    """Per (area, year) with a figure, ``YEAR_FIGURES``: people in an active posting trained
    in the year, duty months of the year under the minimum, postings active in the year
    without a grade for it, and first secretaries among them (the years up to ``today``'s)."""
    cfg = current_app.config
    trained_stmt, months_stmt, ungraded_stmt = _year_statements(
        int(cfg["REGISTRY_YEARLY_TRAININGS"]), int(cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"]), chunk is not None)
    params = _params(chunk)
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for p, year, count in conn.execute(trained_stmt, params):
        if p is not None and count:
            out[(p + "000", int(year))][0] += int(count)
    for p, year, count in conn.execute(months_stmt, params):
        if p is not None and count:
            out[(p + "000", int(year))][1] += int(count)
    for p, year, count, first_secretaries in conn.execute(ungraded_stmt, {**params, "last": today.year}):
        if p is not None and count:
            row = out[(p + "000", int(year))]
            row[2] += int(count)
            row[3] += int(first_secretaries or 0)
    return dict(out)
