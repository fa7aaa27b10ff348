"""The counts by day (``DayCount``): per area (township), the records awaiting
confirmation by the day they were submitted and the active postings by their planned
end, under every filter (``day_kind``), with the county's, city's and province's rows
above them; and the gaps by day (``GapDay``, computed by ``gap_days``) carried up the
same way. An area's rows are recomputed (``refresh_days``) or moved by a transaction's
record changes (``add_day_changes``); the rows above the areas are only added to
(``additions.add_days``).
"""
from __future__ import annotations

import functools
from collections import defaultdict

from flask import current_app
from sqlalchemy import and_, bindparam, func, literal, literal_column, select

from ..core.queries import as_date
from ..organizations.models import Organization
from ..people.models import Posting
from ..regions.models import Region
from . import gap_days
from .additions import DAY_COLUMNS, add_days
from .models import AreaSummary, DayCount, GapDay


DAY_LEVELS = (("county", 6), ("city", 4), ("province", 2))  # DayCount's levels above the areas


def refresh_days(conn, areas: set[str] | None, gap_areas: set[str] | None = None) -> None:
    """Recompute the areas' ``DayCount`` rows (every area when None) from the records
    awaiting confirmation and the active postings, and add each area's change to the
    rows of its county, city and province; and the gaps by day (``refresh_gap_days``) of
    ``gap_areas`` (when None: of the same areas)."""
    refresh_gap_days(conn, areas if areas is None or gap_areas is None else gap_areas)
    table = DayCount.__table__
    if areas is None:
        conn.execute(table.delete())
        by_area, by_level = _day_rebuild_statements()
        for statement in by_area:
            conn.execute(statement)
        rows = [dict(kind=kind, level="area", region_code=code, day=day, count=count)
                for (kind, code, day), count in sorted(
                    _day_cut_counts(conn, _day_cut_sources(restrict=False), {}).items())]
        for i in range(0, len(rows), 5000):
            conn.execute(table.insert(), rows[i:i + 5000])
        for statement in by_level:
            conn.execute(statement)
        return
    pending, ending = _day_statements()
    cut_sources = _day_cut_sources(restrict=True)
    for i in range(0, len(areas), 500):
        chunk = sorted(areas)[i:i + 500]
        params = {"lo": chunk[0][:9] + "000", "hi": chunk[-1][:9] + "999", "areas": [a[:9] for a in chunk]}
        new: dict[tuple, int] = {}
        for kind, statement in (("submitted", pending), ("ends", ending)):
            for prefix, day, count in conn.execute(statement, params):
                if day is not None:
                    new[(kind, prefix + "000", as_date(day))] = int(count)
        new.update(_day_cut_counts(conn, cut_sources, params))
        _replace_area_rows(conn, table, chunk, new)


def _replace_area_rows(conn, table, chunk: list[str], new: dict[tuple, int]) -> None:
    """Make the areas' (``chunk``) rows of a table by day (``DayCount``, ``GapDay``) the
    ``new`` ones ((kind, area, day) -> count) and add each one's change to the rows of
    its county, city and province; nothing is written when they are the same."""
    t = table.c
    old = {(kind, code, as_date(day)): int(count) for kind, code, day, count in conn.execute(
        select(t.kind, t.region_code, t.day, t.count).where(t.level == "area", t.region_code.in_(chunk)))}
    if new == old:
        return
    conn.execute(table.delete().where(t.level == "area", t.region_code.in_(chunk)))
    if new:
        conn.execute(table.insert(), [dict(kind=kind, level="area", region_code=code, day=day, count=count)
                                      for (kind, code, day), count in sorted(new.items())])
    change: dict[tuple, int] = defaultdict(int)
    for key in new.keys() | old.keys():
        delta = new.get(key, 0) - old.get(key, 0)
        if delta:
            kind, code, day = key
            for level, n in DAY_LEVELS:
                change[(kind, level, code[:n] + "0" * (12 - n), day)] += delta
    add_days(change, table)


def refresh_gap_days(conn, areas: set[str] | None) -> None:
    """Recompute the areas' ``GapDay`` rows (every area's when None), each with its stamp
    (every area with an ``AreaSummary`` row: those the caller has just written), and carry
    the change to their county, city and province."""
    table, cfg = GapDay.__table__, current_app.config
    if areas is not None:
        for i in range(0, len(areas), 500):
            chunk = sorted(areas)[i:i + 500]
            _replace_area_rows(conn, table, chunk, gap_days.area_rows(conn, chunk, chunk, cfg))
        return
    stamped = conn.execute(select(AreaSummary.area)).scalars().all()
    new = gap_days.area_rows(conn, None, stamped, cfg)
    conn.execute(table.delete())
    rows = [{"kind": kind, "level": "area", "region_code": code, "day": day, "count": count}
            for (kind, code, day), count in sorted(new.items())]
    for i in range(0, len(rows), 5000):
        conn.execute(table.insert(), rows[i:i + 5000])
    for statement in _level_statements(table):
        conn.execute(statement)


def add_day_changes(conn, changes: dict[tuple, int]) -> None:
    """Add the changes of areas' counts by day ((kind, area, day) -> change) to the area
    rows and to those of their county, city and province (at the end of the transaction:
    ``add_days``)."""
    rows: dict[tuple, int] = defaultdict(int)
    for (kind, area, day), delta in changes.items():
        rows[(kind, "area", area, day)] += delta
        for level, n in DAY_LEVELS:
            rows[(kind, level, area[:n] + "0" * (12 - n), day)] += delta
    add_days(rows)


def _day_sources(restrict: bool) -> tuple:
    """Per area (its code's first nine digits) and day: the records awaiting confirmation
    by the day they were submitted, the active postings by their planned end; through
    the partial indexes of pending records and of active postings."""
    from ..records.models import SupportRecord as s

    def limit(stmt, col):
        if not restrict:
            return stmt
        return stmt.where(col.between(bindparam("lo"), bindparam("hi")),
                          func.substr(col, 1, 9).in_(bindparam("areas", expanding=True)))

    p, day = func.substr(s.village_code, 1, 9), func.date(s.submitted_at)
    pending = limit(select(p, day, func.count())
                    .where(s.status == literal_column("'submitted'"), s.submitted_at.is_not(None))
                    .group_by(p, day), s.village_code)
    q = func.substr(Posting.region_code, 1, 9)
    ending = limit(select(q, Posting.planned_end, func.count())
                   .where(Posting.is_active, Posting.planned_end.is_not(None))
                   .group_by(q, Posting.planned_end), Posting.region_code)
    return pending, ending


def day_kind(kind: str, cut: str | None = None, value: str | None = None) -> str:
    """``DayCount.kind`` of the counts by day under a filter: 'submitted' or 'ends', then
    the filter (``submitted:category=funds``, ``ends:flag=key``); without one, the kind."""
    return kind if cut is None else f"{kind}:{cut}={value}"


@functools.cache
def _day_cut_sources(restrict: bool) -> tuple:
    """Per area (its code's first nine digits), day, category, kind and village flags: the
    records awaiting confirmation and the active postings, as ``_day_sources`` counts them;
    ``_day_cut_counts`` spreads them over the filters (``day_kind``). Built once for each
    ``restrict`` (the areas' refresh, the rebuild): they depend on the models alone."""
    from ..records.models import SupportRecord as s

    def limit(stmt, col):
        if not restrict:
            return stmt
        return stmt.where(col.between(bindparam("lo"), bindparam("hi")),
                          func.substr(col, 1, 9).in_(bindparam("areas", expanding=True)))

    flags = (Region.is_key, Region.is_poor, Region.is_relocation)
    p, day = func.substr(s.village_code, 1, 9), func.date(s.submitted_at)
    pending = limit(select(p, day, s.category, Organization.kind, *flags, func.count())
                    .select_from(s)
                    .outerjoin(Organization, Organization.id == s.organization_id)
                    .outerjoin(Region, Region.code == s.village_code)
                    .where(s.status == literal_column("'submitted'"), s.submitted_at.is_not(None))
                    .group_by(p, day, s.category, Organization.kind, *flags), s.village_code)
    q = func.substr(Posting.region_code, 1, 9)
    ending = limit(select(q, Posting.planned_end, Organization.kind, *flags, func.count())
                   .select_from(Posting)
                   .outerjoin(Organization, Organization.id == Posting.organization_id)
                   .outerjoin(Region, and_(Region.code == Posting.region_code, Region.level == "village"))
                   .where(Posting.is_active, Posting.planned_end.is_not(None))
                   .group_by(q, Posting.planned_end, Organization.kind, *flags), Posting.region_code)
    return pending, ending


def _day_cut_counts(conn, sources: tuple, params: dict) -> dict[tuple, int]:
    """(kind, area, day) -> count of the counts by day under each filter: a record by its
    category, its filer's kind and its village's flags; a posting by its sending unit's
    kind and its village's flags (the category does not narrow the postings ending)."""
    pending, ending = sources
    out: dict[tuple, int] = defaultdict(int)
    names = ("key", "poor", "relocation")
    for kind, statement in (("submitted", pending), ("ends", ending)):
        for prefix, day, *keys, count in conn.execute(statement, params):
            if day is None or prefix is None:
                continue
            category = keys.pop(0) if kind == "submitted" else None
            org_kind, *flags = keys
            day, area = as_date(day), prefix + "000"
            cuts = [("org_kind", org_kind)] if org_kind is not None else []
            if category is not None:
                cuts.append(("category", category))
            cuts += [("flag", name) for name, flag in zip(names, flags) if flag]
            for cut, value in cuts:
                out[(day_kind(kind, cut, value), area, day)] += int(count)
    return dict(out)


@functools.cache
def _day_statements() -> tuple:
    return _day_sources(restrict=True)


@functools.cache
def _day_rebuild_statements() -> tuple:
    """Every area's rows from the records and postings, then each level's from the areas."""
    table, columns = DayCount.__table__, list(DAY_COLUMNS)
    statements = []
    for kind, source in zip(("submitted", "ends"), _day_sources(restrict=False)):
        prefix, day, count = source.selected_columns
        statements.append(table.insert().from_select(columns, source.with_only_columns(
            literal(kind), literal("area"), prefix.concat("000"), day, count)))
    return tuple(statements), _level_statements(table)


@functools.cache
def _level_statements(table) -> tuple:
    """The rows of each level of a table by day (``DayCount``, ``GapDay``) from its areas'
    (sums of zero left out, as the writer deletes them)."""
    t = table.c
    statements = []
    for level, n in DAY_LEVELS:
        code = func.substr(t.region_code, 1, n).concat("0" * (12 - n))
        statements.append(table.insert().from_select(list(DAY_COLUMNS), select(
            t.kind, literal(level), code, t.day, func.sum(t.count)).where(t.level == "area")
            .group_by(t.kind, code, t.day).having(func.sum(t.count) != 0)))
    return tuple(statements)
