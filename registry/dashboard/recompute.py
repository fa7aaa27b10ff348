"""Recomputing the summaries of chosen villages and areas from the rows.

A village's ``VillageStatus`` and ``VillageSupportLast``, a person's
``PersonTrainingYear``, an area's ``AreaSummary`` with its filtered (``AreaCut``) and
yearly (``AreaYear``) rows and its counts by day: each recomputed whole for the villages,
people and areas a transaction touched (``summary.settle``), for those that time has
outdated (``refresh_stale``, daily), or for all (``rebuild``). The change markers
(``AreaChange``) that tell the coverage cache an area moved are raised here too
(``raise_markers``).
"""
from __future__ import annotations

import functools
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, case, delete, extract, func, literal, or_, select, union_all

from ..core.database import AREA_LOCKS, lock_keys
from ..core.enums import VILLAGE_ROLES
from ..core.queries import as_date, upsert
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from . import gap_days
from .additions import record_model
from .cuts import YEAR_FIGURES, cut_figures, year_figures
from .day_counts import refresh_days
from .definitions import support_cutoff, support_window
from .figures import AREA_FIGURES, area_figures, area_fresh, area_settings, fresh_clause
from .models import (
    ANY,
    AreaChange,
    AreaCut,
    AreaSummary,
    AreaYear,
    GapDay,
    PersonTrainingYear,
    VillageStatus,
    VillageSupportLast,
    area_of,
)


def area_key(area: str) -> int:
    """An area's lock key: its township code without the three zeros (fits 32 bits)."""
    return int(area[:9])


def raise_markers(conn, areas: set[str] | None) -> None:
    """Raise the change marker (``AreaChange``) of each area, or with None every one
    (``*``), in the writer's transaction: committed with the change, so a reader that
    sees the change sees the new marker (``coverage_cache``). One upsert, in sorted order
    (the rows stay locked to the end of the transaction on PostgreSQL)."""
    keys = sorted(areas) if areas is not None else [ANY]
    if not keys:
        return
    stmt = upsert(conn.dialect, AreaChange.__table__, ("area", "version"), ("area",), add=("version",))
    # a random step, not 1: a marker never comes back to a value it had, even after the
    # table was emptied or a backup restored (whose counters a cached answer may have seen)
    conn.execute(stmt, [{"area": key, "version": secrets.randbelow(MARKER_STEP) + 1} for key in keys])


MARKER_STEP = 1 << 30


def refresh_person_training(conn, people: set[int] | None) -> None:
    """Recompute ``PersonTrainingYear`` for the given people (everyone when None)."""
    try:
        from ..training.models import Attendance, Training
    except ImportError:
        return
    table = PersonTrainingYear.__table__
    year = extract("year", Training.start_date).cast(Integer)
    chunks = [None] if people is None else [sorted(people)[i:i + 500] for i in range(0, len(people), 500)]
    for chunk in chunks:
        stmt = (
            select(Attendance.person_id, year, func.count())
            .join(Training, Training.id == Attendance.training_id)
            .where(Attendance.passed.is_(True))
            .group_by(Attendance.person_id, year)
        )
        if chunk is not None:
            stmt = stmt.where(Attendance.person_id.in_(chunk))
            conn.execute(table.delete().where(table.c.person_id.in_(chunk)))
        else:
            conn.execute(table.delete())
        conn.execute(table.insert().from_select(["person_id", "year", "passed_courses"], stmt))


def _last_confirmed_select(village_filter=None):
    """Latest confirmed record date per village, overall and per category/kind."""
    model = record_model()
    base = (
        select(model.village_code, model.category, Organization.kind.label("kind"), model.record_date)
        .join(Organization, Organization.id == model.organization_id)
        .where(model.status == "confirmed")
    )
    if village_filter is not None:
        base = base.where(village_filter(model.village_code))
    sub = base.subquery()
    parts = []
    for category, kind in ((literal(ANY), literal(ANY)), (sub.c.category, literal(ANY)),
                           (literal(ANY), sub.c.kind), (sub.c.category, sub.c.kind)):
        parts.append(
            select(sub.c.village_code, category.label("category"), kind.label("org_kind"),
                   func.max(sub.c.record_date).label("last_confirmed_on"))
            .group_by(sub.c.village_code, category, kind)
        )
    return union_all(*parts)


def refresh_last_confirmed(conn, villages: set[str]) -> None:
    table = VillageSupportLast.__table__
    codes = sorted(villages)
    conn.execute(delete(table).where(table.c.village_code.in_(codes)))
    conn.execute(
        table.insert().from_select(
            ["village_code", "category", "org_kind", "last_confirmed_on"],
            _last_confirmed_select(lambda col: col.in_(codes)),
        )
    )


def refresh_village_status(conn, codes: set[str] | None, today=None) -> None:
    """Recompute ``VillageStatus`` for the given villages (all when ``codes`` is None)."""
    today = today or local_today()
    chunks = [None] if codes is None else [sorted(codes)[i:i + 500] for i in range(0, len(codes), 500)]
    table = VillageStatus.__table__
    villages, postings, pairings, latest = _village_statements(today, codes is not None)
    for chunk in chunks:
        params = {} if chunk is None else {"codes": chunk}
        rows = {}
        for code, is_key, is_poor, is_relocation in conn.execute(villages, params):
            rows[code] = dict(code=code, is_key=bool(is_key), is_poor=bool(is_poor), is_relocation=bool(is_relocation),
                              first_secretaries=0, team_size=0, resident_pairings=0, enterprise_pairings=0,
                              pairings_valid_until=None, last_confirmed_on=None)
        for code, role in conn.execute(postings, params):
            if code in rows:
                rows[code]["team_size"] += 1
                rows[code]["first_secretaries"] += role == "first_secretary"
        for code, kind, start, end, active in conn.execute(pairings, params):
            row = rows.get(code)
            if row is None:
                continue
            if active:
                row["resident_pairings" if kind == "resident" else "enterprise_pairings"] += 1
            change = start if start > today else (end + timedelta(days=1) if end is not None and end >= today else None)
            if change is not None and (row["pairings_valid_until"] is None or change < row["pairings_valid_until"]):
                row["pairings_valid_until"] = change
        for code, day in conn.execute(latest, params):
            if code in rows:
                rows[code]["last_confirmed_on"] = day
        conn.execute(table.delete() if chunk is None else table.delete().where(table.c.code.in_(chunk)))
        if rows:
            conn.execute(table.insert(), list(rows.values()))


# built once a day (the day is in them) with the villages or areas as a parameter: building
# a statement costs more than running it on a handful of villages
@functools.lru_cache(maxsize=16)
def _village_statements(today: date, by_code: bool) -> tuple:
    codes = bindparam("codes", expanding=True)

    def limit(col, stmt):
        return stmt.where(col.in_(codes)) if by_code else stmt

    last = VillageSupportLast
    return (
        limit(Region.code, select(Region.code, Region.is_key, Region.is_poor, Region.is_relocation)
              .where(Region.level == "village")),
        limit(Posting.region_code, select(Posting.region_code, Posting.role)
              .where(Posting.is_active, Posting.role.in_(VILLAGE_ROLES))),
        limit(Pairing.region_code, select(Pairing.region_code, Pairing.kind, Pairing.start_date, Pairing.end_date,
                                          Pairing.active_on(today))
              .where(Pairing.kind.in_(("resident", "enterprise_village")))),
        limit(last.village_code, select(last.village_code, last.last_confirmed_on)
              .where(last.category == ANY, last.org_kind == ANY)),
    )


def area_valid_until(conn, prefixes: list[str] | None, today: date) -> tuple[dict[str, date], dict[str, date]]:
    """Per area, the first day on which time alone changes one of its figures: a pairing
    starts or ends, a village's latest confirmed support leaves the 12-month window, or
    the year ends. Two answers from one read of each table: for ``AreaSummary`` (its
    support is a village's latest of any category and kind) and for the filtered figures
    (``AreaCut``, whose support is also a village's latest by category or by kind)."""
    year_end = date(today.year + 1, 1, 1)
    areas: dict[str, date] = {}
    cuts: dict[str, date] = {}

    def earlier(out: dict[str, date], p: str, day: date | None) -> None:
        if day is not None:
            area = p + "000"
            out[area] = min(out.get(area, year_end), day)

    params = {} if prefixes is None else {"prefixes": prefixes}
    pairings, latest = _valid_until_statements(today, support_cutoff(today), prefixes is not None)
    for prefix, next_start, next_end in conn.execute(pairings, params):
        for day in (as_date(next_start), as_date(next_end) + timedelta(days=1) if next_end is not None else None):
            earlier(areas, prefix, day)
            earlier(cuts, prefix, day)
    leaves = support_window() + timedelta(days=1)  # a date leaves the window the day after its last day in it
    for prefix, oldest_overall, oldest_any in conn.execute(latest, params):
        earlier(areas, prefix, as_date(oldest_overall) + leaves if oldest_overall is not None else None)
        earlier(cuts, prefix, as_date(oldest_any) + leaves if oldest_any is not None else None)
    return areas, cuts


# built once a day (the day is in them) with the villages or areas as a parameter: building
# a statement costs more than running it on a handful of villages
@functools.lru_cache(maxsize=16)
def _valid_until_statements(today: date, cutoff: date, by_prefix: bool) -> tuple:
    def restrict(stmt, col):
        return stmt.where(func.substr(col, 1, 9).in_(bindparam("prefixes", expanding=True))) if by_prefix else stmt

    p = func.substr(Pairing.region_code, 1, 9)
    pairings = (select(p, func.min(case((Pairing.start_date > today, Pairing.start_date))),
                       func.min(case((Pairing.end_date >= today, Pairing.end_date))))
                .where(Pairing.kind.in_(("resident", "enterprise_village"))).group_by(p))
    last = VillageSupportLast
    q = func.substr(last.village_code, 1, 9)
    overall = and_(last.category == ANY, last.org_kind == ANY)  # a village's latest of every category and kind
    # over the rows of any filtered figure (by category or by kind, overall among them):
    # the oldest overall latest (AreaSummary's) and the oldest of them all (AreaCut's)
    latest = (select(q, func.min(case((overall, last.last_confirmed_on))), func.min(last.last_confirmed_on))
              .where(or_(last.category == ANY, last.org_kind == ANY), last.last_confirmed_on >= cutoff)
              .group_by(q))
    return restrict(pairings, Pairing.region_code), restrict(latest, last.village_code)


def refresh_areas(conn, areas: set[str] | None, today: date | None = None, *,
                  gap_areas: set[str] | None = None) -> None:
    """Recompute ``AreaSummary`` for the given areas (all when None), with their counts
    by day, and the gaps by day of ``gap_areas`` (when None: of the same areas)."""
    today = today or local_today()
    table = AreaSummary.__table__
    settings = area_settings(current_app.config)
    chunks = [None] if areas is None else [sorted(areas)[i:i + 500] for i in range(0, len(areas), 500)]
    for chunk in chunks:
        figures = area_figures(conn, chunk, today, today.year)
        if chunk is not None:
            for area in chunk:  # an emptied area keeps a row of zeros: it is known, not missing
                figures.setdefault(area, dict.fromkeys(AREA_FIGURES, 0))
        valid, cut_valid = area_valid_until(conn, None if chunk is None else [a[:9] for a in chunk], today)
        conn.execute(table.delete() if chunk is None else table.delete().where(table.c.area.in_(chunk)))
        rows = [dict(area=area, year=today.year, settings=settings, computed_on=today,
                     valid_until=valid.get(area, date(today.year + 1, 1, 1)), **values)
                for area, values in figures.items()]
        if rows:
            conn.execute(table.insert(), rows)
        _refresh_cuts(conn, chunk, today, settings, figures, cut_valid)
    refresh_days(conn, areas, areas if gap_areas is None else gap_areas)


def _refresh_cuts(conn, chunk: list[str] | None, today: date, settings: str, figures: dict,
                  valid: dict[str, date]) -> None:
    """Write the areas' ``AreaCut`` and ``AreaYear`` rows (every area's when ``chunk`` is
    None), with their ``AreaSummary`` rows (``figures``: theirs) and the days until
    which their filtered figures hold (``valid``: ``area_valid_until``'s second answer)."""
    cut_table, year_table = AreaCut.__table__, AreaYear.__table__
    cuts = cut_figures(conn, chunk, today, today.year, figures)
    if chunk is None:
        conn.execute(cut_table.delete())
        conn.execute(year_table.delete())
    else:
        conn.execute(cut_table.delete().where(cut_table.c.area.in_(chunk)))
        conn.execute(year_table.delete().where(year_table.c.area.in_(chunk)))
    end = date(today.year + 1, 1, 1)
    rows = [dict(cut=cut, value=value, area=area, year=today.year, settings=settings, computed_on=today,
                 valid_until=valid.get(area, end), **values)
            for (cut, value, area), values in cuts.items()]
    if rows:
        conn.execute(cut_table.insert(), rows)
    years = [dict(year=year, area=area, settings=settings, **dict(zip(YEAR_FIGURES, values)))
             for (area, year), values in sorted(year_figures(conn, chunk, today).items())]
    if years:
        conn.execute(year_table.insert(), years)


def refresh_stale(today: date | None = None) -> int:
    """Recompute the village summaries whose pairings changed by date and every area row
    that no longer holds (or is missing); return the number of areas recomputed. Run
    daily (``flask dashboard refresh``) so coverage pages read only summaries."""
    today = today or local_today()
    conn = db.session.connection()
    villages = set(conn.execute(select(VillageStatus.code).where(VillageStatus.pairings_valid_until <= today)).scalars())
    known = set(conn.execute(select(AreaSummary.area)).scalars())
    stale = known - set(conn.execute(select(AreaSummary.area).where(area_fresh(today, current_app.config))).scalars())
    stale |= known - set(conn.execute(select(AreaCut.area).distinct()).scalars())  # no filtered rows yet
    stale |= known - set(conn.execute(select(GapDay.region_code).where(  # no gaps by day under these settings
        GapDay.kind == gap_days.stamp(current_app.config), GapDay.level == "area")).scalars())
    stale |= set(conn.execute(select(AreaCut.area).where(~fresh_clause(today.year, area_settings(current_app.config),
                                                                         today, AreaCut)).distinct()).scalars())
    p = func.substr(Region.code, 1, 9).concat("000")
    held = set(conn.execute(select(p).where(Region.level == "village").distinct()).scalars())
    q = func.substr(Posting.region_code, 1, 9).concat("000")
    held |= set(conn.execute(select(q).where(Posting.is_active).distinct()).scalars())
    areas = stale | (held - known)
    # the areas' locks, as a writer takes them (sorted), so a write in one waits or is waited for
    lock_keys(conn, [(AREA_LOCKS, area_key(area)) for area in areas | {area_of(code) for code in villages}])
    if villages:
        refresh_village_status(conn, villages, today)
    if areas:
        refresh_areas(conn, areas, today)
    raise_markers(conn, None)
    return len(areas)
