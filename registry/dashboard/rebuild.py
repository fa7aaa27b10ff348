"""Every summary rebuilt from the rows: after a bulk load that bypassed the ORM (the
benchmark's dataset, the demo) and by ``flask dashboard rebuild``; the reference the
tests hold the incremental writer (``summary``) to.
"""
from __future__ import annotations

import functools

from sqlalchemy import Integer, and_, extract, func, literal, literal_column, select

from ..core.bulk_load import large_page_cache, postgres_settings, rewritten
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from .additions import CUT_FLAGS, CUT_KEY, MEASURES, ROLLUP_KEY, record_model
from .models import (
    ANY,
    LEVEL_CUTS,
    YEAR_TOTAL,
    AreaChange,
    AreaCut,
    AreaSummary,
    AreaYear,
    DayCount,
    GapDay,
    PersonTrainingYear,
    SupportCutTotal,
    SupportRollup,
    SupportTotal,
    VillageStatus,
    VillageSupportLast,
)
from .recompute import raise_markers, refresh_areas, refresh_person_training, refresh_village_status


# every table ``rebuild_all`` rewrites
SUMMARY_TABLES = tuple(model.__table__ for model in (
    SupportRollup, SupportTotal, SupportCutTotal, VillageSupportLast, PersonTrainingYear, AreaChange, VillageStatus,
    AreaSummary, AreaCut, AreaYear, DayCount, GapDay))


def rebuild_all() -> None:
    """Recompute every summary from the records (after a bulk load or a flag change). On
    SQLite with a large page cache while it runs: its GROUP BYs sort a million rows."""
    with large_page_cache(REBUILD_PAGE_CACHE_KIB):
        _rebuild_all()


REBUILD_PAGE_CACHE_KIB = 262144


# from this many records, a rebuild fills empty summaries first and indexes them after:
# below it the indexes' DDL costs more than the inserts it spares (the tests' small registries)
INDEXES_LATER_RECORDS = 100_000


def _rebuild_all() -> None:
    model = record_model()
    conn = db.session.connection()
    refresh_person_training(conn, None)
    raise_markers(conn, None)
    # refilled from scratch through shadows of themselves (``rewritten``): only the rows
    # that differ are written (at province scale, millions of rows rewritten otherwise,
    # the bulk of a rebuild's time on PostgreSQL); readers see the old figures meanwhile.
    # Empty ones (a first build) are filled directly, at scale with their indexes built after
    large = model is not None and conn.execute(
        select(literal(1)).select_from(model).offset(INDEXES_LATER_RECORDS).limit(1)).first() is not None
    with rewritten(conn, (SupportRollup.__table__, SupportTotal.__table__, SupportCutTotal.__table__,
                          VillageSupportLast.__table__), indexes_later=large):
        # PostgreSQL: each GROUP BY in a hash table, not sorted (the refill's tables have no
        # statistics yet, and with a few hundred rows guessed the planner sorts: a rollup
        # level's GROUP BY of 218,000 cells took 3.2 s sorted, 1.9 s hashed, at scale 0.25)
        if model is not None:
            with postgres_settings(conn, enable_sort="off"):
                _refill_support_summaries(model, conn)
    refresh_village_status(conn, None)
    refresh_areas(conn, None)


def _refill_support_summaries(model, conn) -> None:
    """The rollup, its totals, its cut totals and the latest confirmed dates, from the records."""
    for statement in _rebuild_rollup_statements(model):
        conn.execute(statement)
    r = SupportRollup
    conn.execute(
        SupportTotal.__table__.insert().from_select(
            ["region_code", "level", "year", "month", "category", "status", "record_count", "amount",
             "amount_attracted", "amount_in_kind"],
            select(r.region_code, r.level, r.year, r.month, r.category, r.status, func.sum(r.record_count),
                   func.sum(r.amount), func.sum(r.amount_attracted), func.sum(r.amount_in_kind))
            .group_by(r.region_code, r.level, r.year, r.month, r.category, r.status),
        )
    )
    for statement in _rebuild_cut_total_statements():
        conn.execute(statement)
    for statement in _rebuild_last_statements():
        conn.execute(statement)


def _rollup_select(model, level: str, n: int, whole_year: bool, condition=None, *, total: bool = False):
    """The records' rollup cells at one level (by month, or the whole year), as
    ``SupportRollup`` (or, with ``total``, ``SupportTotal``) holds them; ``condition``
    limits the records counted."""
    year = extract("year", model.record_date).cast(Integer)
    region_code = func.substr(model.village_code, 1, n).concat("0" * (12 - n))
    month = literal(YEAR_TOTAL) if whole_year else extract("month", model.record_date).cast(Integer)
    cuts = [model.category] if total else [model.category, Organization.kind, Region.is_key, Region.is_poor,
                                             Region.is_relocation]
    stmt = (
        select(
            region_code.label("region_code"), literal(level).label("level"), year.label("year"), month.label("month"),
            *cuts, model.status, func.count().label("record_count"),
            func.coalesce(func.sum(model.amount), 0), func.coalesce(func.sum(model.amount_attracted), 0),
            func.coalesce(func.sum(model.amount_in_kind), 0),
        )
        .group_by(region_code, year, month, *cuts, model.status)
    )
    if not total:
        stmt = (stmt.join(Organization, Organization.id == model.organization_id)
                .join(Region, Region.code == model.village_code))
    return stmt if condition is None else stmt.where(condition)


@functools.cache
def _rebuild_rollup_statements(model) -> tuple:
    """The rollup's INSERT ... SELECT statements: the townships' months from the records
    (the one pass over them), then each level's months from the months of the level below,
    then every level's year from its months. Summing the cells below gives the figures of
    summing the records (a cell is a sum of records), at a fraction of the reading. Built
    once (a statement and its cache key cost more Python than the rebuild of a small
    registry, which the summaries' tests do after every change)."""
    table, r = SupportRollup.__table__, SupportRollup
    columns = [*ROLLUP_KEY, *MEASURES]
    cuts = (r.category, r.org_kind, r.is_key, r.is_poor, r.is_relocation, r.status)
    sums = (func.sum(r.record_count), func.sum(r.amount), func.sum(r.amount_attracted), func.sum(r.amount_in_kind))

    def from_rows(level: str, n: int, below: str, month, where) -> object:
        region_code = func.substr(r.region_code, 1, n).concat("0" * (12 - n))
        return table.insert().from_select(columns, select(
            region_code, literal(level), r.year, month, *cuts, *sums,
        ).where(r.level == below, where).group_by(region_code, r.year, month, *cuts))

    statements = [table.insert().from_select(columns, _rollup_select(model, "township", 9, False))]
    for (level, n), (below, _) in zip(LEVEL_CUTS[1:], LEVEL_CUTS):
        statements.append(from_rows(level, n, below, r.month, r.month != YEAR_TOTAL))
    for level, n in LEVEL_CUTS:
        statements.append(from_rows(level, n, level, literal(YEAR_TOTAL), r.month != YEAR_TOTAL))
    return tuple(statements)


@functools.cache
def _rebuild_cut_total_statements() -> tuple:
    """``SupportCutTotal`` from the year cells (month 0, a literal: the partial indexes) of
    ``SupportTotal`` (by category) and of the rollup (by kind, by each flag)."""
    table = SupportCutTotal.__table__
    columns = [*CUT_KEY, *MEASURES]
    statements = []
    for model, cut, value, where in (
            (SupportTotal, "category", SupportTotal.category, None),
            (SupportRollup, "org_kind", SupportRollup.org_kind, None),
            *((SupportRollup, "flag", literal(name), getattr(SupportRollup, "is_" + name).is_(True))
              for name in CUT_FLAGS)):
        r = model
        sums = (func.sum(r.record_count), func.sum(r.amount), func.sum(r.amount_attracted), func.sum(r.amount_in_kind))
        stmt = (select(r.region_code, r.level, r.year, literal(cut), value, r.status, *sums)
                .where(r.month == literal_column(str(YEAR_TOTAL)))
                .group_by(r.region_code, r.level, r.year, value, r.status))
        statements.append(table.insert().from_select(columns, stmt if where is None else stmt.where(where)))
    return tuple(statements)


@functools.cache
def _rebuild_last_statements() -> tuple:
    """``VillageSupportLast`` rebuilt: the latest confirmed date per village, category and
    kind from the records (one pass), then the coarser rows (any kind, any category, both)
    from those: the latest of the latest."""
    model = record_model()
    table, last = VillageSupportLast.__table__, VillageSupportLast
    columns = ["village_code", "category", "org_kind", "last_confirmed_on"]
    statements = [table.insert().from_select(columns, (
        select(model.village_code, model.category, Organization.kind, func.max(model.record_date))
        .join(Organization, Organization.id == model.organization_id)
        .where(model.status == "confirmed")
        .group_by(model.village_code, model.category, Organization.kind)))]
    finest = and_(last.category != ANY, last.org_kind != ANY)
    for category, kind, keys in ((last.category, literal(ANY), [last.category]),
                                 (literal(ANY), last.org_kind, [last.org_kind]), (literal(ANY), literal(ANY), [])):
        statements.append(table.insert().from_select(columns, (
            select(last.village_code, category, kind, func.max(last.last_confirmed_on))
            .where(finest).group_by(last.village_code, *keys))))
    return tuple(statements)
