"""The coverage page of a region (DESIGN.md section 4): its figures as a whole and for
each child region, assembled from the summaries. What each figure counts is in
``definitions``; the figures of one area, shared with the summary writer, in ``figures``.

The default view (current year, no filter) of a province, city or county sums the
``AreaSummary`` rows of its townships; an area whose row time or a setting has outdated
is computed live by ``area_figures``, the same code that writes the rows. A view with one
filter (a category, an organization kind or a village flag) sums the ``AreaCut`` rows of
that filter the same way (live, under the filter, where a row no longer holds); a past
(or next) year takes the village figures and posted people from ``AreaSummary`` and the
year's trained people and short duty months from ``AreaYear``. Other views (a township,
two filters, the veteran filter) scan ``VillageStatus`` (one row per village) or, with
an organization-kind or category filter, join the postings, pairings and latest
confirmed support. Support amounts and the confirmation funnel come from the
``SupportTotal``/``SupportRollup`` summaries. Overdue and ending soon of a province,
city or county, unfiltered or under one filter, come from the counts by day
(``DayCount``); otherwise from the partial indexes of pending records and active
postings. Nothing here scans the support records, except for a township's villages (a
few hundred rows) and the pending records of such other views.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, case, extract, func, literal, literal_column, or_, select, union_all

from ..core.enums import CHILD_LEVEL, PREFIX_LENGTH, RECORD_CATEGORIES, RECORD_STATUSES, VILLAGE_ROLES
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Posting
from ..records import queries as records_queries
from ..regions.models import Region
from .definitions import (
    FLAGS,
    Filters,
    overdue_cutoff,
    posting_filters,
    record_filters,
    support_cutoff,
    veteran_helpers,
)
from .figures import (
    AREA_FIGURES,
    VILLAGE_FIGURES,
    area_figures,
    area_settings,
    fresh_clause,
    months_short_query,
    trained_query,
    village_live_query,
)
from .models import (YEAR_TOTAL, AreaCut, AreaSummary, AreaYear, DayCount, SupportCutTotal, SupportRollup, SupportTotal,
                     VillageStatus)

# Tests import VILLAGE_ROLES, FLAGS, overdue_cutoff, AREA_FIGURES and area_figures from
# here; they are defined in core.enums, ``definitions`` and ``figures``.
__all__ = ["AREA_FIGURES", "FLAGS", "VILLAGE_ROLES", "Coverage", "Filters", "Row", "area_figures", "compute",
           "overdue_cutoff"]


@dataclass
class Row:
    """Figures of one region (a child, or the whole)."""

    code: str
    name: str
    level: str
    villages: int = 0
    key_villages: int = 0
    first_secretary: int = 0
    first_secretary_key: int = 0
    backing_unit: int = 0
    backing_unit_key: int = 0
    enterprise: int = 0
    enterprise_key: int = 0
    support_12m: int = 0
    support_12m_key: int = 0
    confirmed_count: int = 0
    confirmed_amount: Decimal = Decimal("0")
    confirmed_attracted: Decimal = Decimal("0")
    confirmed_in_kind: Decimal = Decimal("0")
    pending: int = 0
    disputed: int = 0
    overdue: int = 0
    posted_people: int = 0
    trained_people: int = 0
    ending_soon: int = 0
    teams_under_min: int = 0
    months_under_min: int = 0

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def shares(self) -> dict[str, float | None]:
        s = self._share
        return {
            "first_secretary": s(self.first_secretary, self.villages),
            "first_secretary_key": s(self.first_secretary_key, self.key_villages),
            "backing_unit": s(self.backing_unit, self.villages),
            "backing_unit_key": s(self.backing_unit_key, self.key_villages),
            "enterprise": s(self.enterprise, self.villages),
            "enterprise_key": s(self.enterprise_key, self.key_villages),
            "support_12m": s(self.support_12m, self.villages),
            "support_12m_key": s(self.support_12m_key, self.key_villages),
            "trained": s(self.trained_people, self.posted_people),
        }

    @property
    def confirmation_rate(self) -> float | None:
        return self._share(self.confirmed_count, self.confirmed_count + self.pending + self.disputed)

    @property
    def confirmed_total(self) -> Decimal:
        return self.confirmed_amount + self.confirmed_attracted + self.confirmed_in_kind

    def to_dict(self) -> dict:
        out = dict(self.__dict__)  # the fields, in their order (asdict deep-copies: slow)
        for key in ("confirmed_amount", "confirmed_attracted", "confirmed_in_kind"):
            out[key] = str(out[key])
        out["confirmed_total"] = str(self.confirmed_total)
        out["shares"] = {k: (round(v, 4) if v is not None else None) for k, v in self.shares.items()}
        rate = self.confirmation_rate
        out["confirmation_rate"] = round(rate, 4) if rate is not None else None
        return out


@dataclass
class Coverage:
    region: Region
    filters: Filters
    total: Row
    children: list[Row]
    by_category: dict[str, Decimal] = field(default_factory=dict)
    by_month: list[dict] = field(default_factory=list)  # [{month, category, amount}]
    funnel: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "region": {"code": self.region.code, "name": self.region.name, "level": self.region.level},
            "filters": self.filters.as_args(),
            "total": self.total.to_dict(),
            "children": [c.to_dict() for c in self.children],
            "confirmed_by_category": {k: str(v) for k, v in self.by_category.items()},
            "confirmed_by_month": [{**m, "amount": str(m["amount"])} for m in self.by_month],
            "funnel": self.funnel,
        }


# -- the figures ----------------------------------------------------------------------------

def compute(region: Region, filters: Filters, today: date | None = None) -> Coverage:
    today = today or local_today()
    cfg = current_app.config
    lo, hi = region.range()
    child_level = CHILD_LEVEL.get(region.level)
    n = PREFIX_LENGTH[child_level] if child_level else 12

    children = _run(_children_stmt(), code=region.code).all() if child_level else []
    rows = {c.code[:n]: Row(c.code, c.name, c.level) for c in children}
    total = Row(region.code, region.name, region.level)

    add = _Adder(total, rows)

    # 1. village-based shares, people trained, months under the minimum: the areas'
    #    summaries for the default view; otherwise one scan over the village summary (filters
    #    on organization kind or category need the postings, pairings and records themselves)
    from_areas = _areas_answer(region, filters, today)
    cut = _cut_answer(region, filters, today)
    past_year = _past_year_answer(region, filters, today)
    if from_areas:
        _area_summaries(lo, hi, n, add, today, cfg, filters.year)
    elif cut is not None:
        _cut_summaries(lo, hi, n, add, today, cfg, filters, cut)
    elif past_year:
        _year_summaries(lo, hi, n, add, today, cfg, filters.year)
    elif filters.org_kind is None and filters.category is None and not filters.veteran:
        fresh = or_(VillageStatus.pairings_valid_until.is_(None), VillageStatus.pairings_valid_until > today)
        rows_iter = _run(_village_summary_query(lo, hi, n, filters, fresh, cfg, today)).all()
        stale = select(VillageStatus.code).where(region.within(VillageStatus.code), ~fresh)
        if _run(stale.limit(1)).scalar() is not None:  # usually none: pairings rarely change date
            rows_iter += _run(village_live_query(lo, hi, n, filters, today, cfg, only=stale)).all()
        _add_village_rows(add, rows_iter)
    else:
        _add_village_rows(add, _run(village_live_query(lo, hi, n, filters, today, cfg)))

    # 2. support amounts and funnel from the rollup (or the records, under a township)
    by_category: dict[str, Decimal] = {}
    by_month: dict[tuple[int, str], Decimal] = {}
    funnel = {status: 0 for status in RECORD_STATUSES}
    _support_figures(region, filters, n, add, by_category, by_month, funnel)

    # 3. overdue records and 4. postings ending soon: from the counts by day where no
    #    filter narrows them (pending records and active postings otherwise, indexed)
    if by_days(region, filters):
        _day_counts(region, lo, hi, n, add, today, cfg, filters)
    else:
        _overdue(lo, hi, filters, n, add, cfg["REGISTRY_CONFIRMATION_OVERDUE_DAYS"])
        _ending_soon(lo, hi, filters, n, add, today, cfg)
    # (without the areas' summaries, people trained this year and months under the minimum)
    if not (from_areas or cut is not None or past_year):
        for p, people, trained in _run(trained_query(lo, hi, n, filters, cfg)):
            add(p, posted_people=people, trained_people=trained)
        for p, count in _run(months_short_query(lo, hi, n, filters, cfg)):
            add(p, months_under_min=count)

    return Coverage(
        region=region,
        filters=filters,
        total=total,
        children=list(rows.values()),
        by_category={k: by_category[k] for k in RECORD_CATEGORIES if k in by_category},
        by_month=[{"month": m, "category": c, "amount": a} for (m, c), a in sorted(by_month.items())],
        funnel=funnel,
    )


def _add_village_rows(add, rows) -> None:
    for p, *values in rows:
        add(p, **dict(zip(VILLAGE_FIGURES, values)))


# -- the areas' summaries -------------------------------------------------------------------

def _areas_answer(region: Region, filters: Filters, today: date) -> bool:
    """Whether the areas' summaries hold this view: a province, city or county (a
    township's children are villages), the current year, no filter."""
    return (region.level in ("province", "city", "county") and filters.year == today.year
            and filters.category is None and filters.org_kind is None and filters.flag is None
            and not filters.veteran)


@cache
def _area_stmts(n: int):
    a = AreaSummary
    fresh = fresh_clause(bindparam("year"), bindparam("settings"), bindparam("today"))
    in_range = Region.within_bounds(a.area)
    prefix = func.substr(a.area, 1, n)
    sums = select(prefix, *(func.sum(getattr(a, name)) for name in AREA_FIGURES)).where(in_range, fresh).group_by(prefix)
    return sums, select(a.area).where(in_range, ~fresh)


def _area_summaries(lo, hi, n, add, today, cfg, year) -> None:
    """Sum the fresh area rows per child; compute the other areas live. Every area with
    villages or postings has a row once the summaries are built (the listener writes one
    for each area it touches; bulk loads rebuild); where none is built yet the whole
    region is computed live."""
    sums_stmt, stale_stmt = _area_stmts(n)
    params = dict(lo=lo, hi=hi, year=today.year, settings=area_settings(cfg), today=today)
    sums = _run(sums_stmt, **params).all()
    stale = _run(stale_stmt, **params).scalars().all()
    if not sums and not stale:  # no row at all: not built yet (or nothing there)
        live = area_figures(db.session, None, today, year, lo, hi)
    else:
        live = area_figures(db.session, stale, today, year) if stale else {}
    for p, *values in sums:
        add(p, **dict(zip(AREA_FIGURES, values)))
    for area, values in live.items():
        add(area[:n], **values)


def _cut_answer(region: Region, filters: Filters, today: date) -> tuple[str, str] | None:
    """The ``AreaCut`` rows (cut, value) that hold this view, if any: a province, city or
    county, the current year, one filter (a category, an organization kind or a flag)."""
    if region.level not in ("province", "city", "county") or filters.year != today.year or filters.veteran:
        return None
    given = [(cut, value) for cut, value in (("category", filters.category), ("org_kind", filters.org_kind),
                                             ("flag", filters.flag)) if value is not None]
    return given[0] if len(given) == 1 else None


def _past_year_answer(region: Region, filters: Filters, today: date) -> bool:
    """Whether ``AreaSummary`` with ``AreaYear`` holds this view: a province, city or
    county, another year than the current one, no other filter."""
    return (region.level in ("province", "city", "county") and filters.year != today.year
            and filters.category is None and filters.org_kind is None and filters.flag is None
            and not filters.veteran)


@cache
def _cut_stmts(n: int):
    c, a = AreaCut, AreaSummary
    fresh = fresh_clause(bindparam("year"), bindparam("settings"), bindparam("today"), c)
    own = and_(c.cut == bindparam("cut"), c.value == bindparam("value"))
    prefix = func.substr(c.area, 1, n)
    sums = (select(prefix, *(func.sum(getattr(c, name)) for name in AREA_FIGURES))
            .where(own, Region.within_bounds(c.area), fresh).group_by(prefix))
    # the areas without a fresh row of the cut: every area with a row is expected to have one
    stale = select(a.area).where(Region.within_bounds(a.area),
                                 ~select(c.area).where(own, c.area == a.area, fresh).exists())
    return sums, stale


def _cut_summaries(lo, hi, n, add, today, cfg, filters: Filters, cut: tuple[str, str]) -> None:
    """Sum the fresh ``AreaCut`` rows of the filter per child; compute the other areas live
    under the filter (``area_figures``, the code that writes the rows)."""
    sums_stmt, stale_stmt = _cut_stmts(n)
    params = dict(lo=lo, hi=hi, year=today.year, settings=area_settings(cfg), today=today, cut=cut[0], value=cut[1])
    sums = _run(sums_stmt, **params).all()
    stale = _run(stale_stmt, **params).scalars().all()
    if not sums and not stale:  # no row at all: not built yet (or nothing there)
        live = area_figures(db.session, None, today, filters.year, lo, hi, filters=filters)
    else:
        live = area_figures(db.session, stale, today, filters.year, filters=filters) if stale else {}
    for p, *values in sums:
        add(p, **dict(zip(AREA_FIGURES, values)))
    for area, values in live.items():
        add(area[:n], **values)


_YEARLESS = tuple(name for name in AREA_FIGURES if name not in ("trained_people", "months_under_min"))


@cache
def _year_stmts(n: int):
    a, y = AreaSummary, AreaYear
    fresh = fresh_clause(bindparam("this_year"), bindparam("settings"), bindparam("today"))
    in_range = Region.within_bounds(a.area)
    prefix = func.substr(a.area, 1, n)
    base = select(prefix, *(func.sum(getattr(a, name)) for name in _YEARLESS)).where(in_range, fresh).group_by(prefix)
    q = func.substr(y.area, 1, n)
    year = (select(q, func.sum(y.trained_people), func.sum(y.months_under_min))
            .join(a, a.area == y.area)
            .where(y.year == bindparam("year"), y.settings == bindparam("settings"),
                   Region.within_bounds(y.area), fresh)
            .group_by(q))
    return base, year, select(a.area).where(in_range, ~fresh)


def _year_summaries(lo, hi, n, add, today, cfg, year: int) -> None:
    """A past (or next) year: the village figures and posted people of the fresh
    ``AreaSummary`` rows (they do not depend on the year), the year's trained people and
    short duty months from ``AreaYear``; the other areas live for the year."""
    base_stmt, year_stmt, stale_stmt = _year_stmts(n)
    params = dict(lo=lo, hi=hi, this_year=today.year, year=year, settings=area_settings(cfg), today=today)
    base = _run(base_stmt, **params).all()
    stale = _run(stale_stmt, **params).scalars().all()
    if not base and not stale:
        live = area_figures(db.session, None, today, year, lo, hi)
    else:
        live = area_figures(db.session, stale, today, year) if stale else {}
        for p, trained, months in _run(year_stmt, **params):
            add(p, trained_people=int(trained or 0), months_under_min=int(months or 0))
    for p, *values in base:
        add(p, **dict(zip(_YEARLESS, values)))
    for area, values in live.items():
        add(area[:n], **values)


# -- the page's own queries ---------------------------------------------------------------

def _run(stmt, **params):
    """Run a Core select on the session's connection (no ORM entities here, so the
    ORM's execution layer would only add time). The statements of the default view are
    built once (``@cache``) with bound parameters: building and keying a statement costs
    more than running these small indexed queries."""
    return db.session.connection().execute(stmt, params)


@cache
def _children_stmt():
    return select(Region.code, Region.name, Region.level).where(Region.parent_code == bindparam("code")).order_by(Region.code)


def _village_summary_query(lo, hi, n, filters, fresh, cfg, today):
    vs = VillageStatus
    key = case((vs.is_key, 1), else_=0)
    cutoff = support_cutoff(today)

    def flag(cond):
        return case((cond, 1), else_=0)

    fs, backing = flag(vs.first_secretaries > 0), flag(or_(vs.team_size > 0, vs.resident_pairings > 0))
    enterprise, supported = flag(vs.enterprise_pairings > 0), flag(vs.last_confirmed_on >= cutoff)
    prefix = func.substr(vs.code, 1, n)
    stmt = (
        select(
            prefix, func.count(), func.sum(key),
            func.sum(fs), func.sum(fs * key), func.sum(backing), func.sum(backing * key),
            func.sum(enterprise), func.sum(enterprise * key), func.sum(supported), func.sum(supported * key),
            func.sum(flag(and_(vs.team_size > 0, vs.team_size < cfg["REGISTRY_MIN_TEAM_SIZE"]))),
        )
        .where(vs.code.between(lo, hi), fresh)
        .group_by(prefix)
    )
    if filters.flag:
        stmt = stmt.where(getattr(vs, "is_" + filters.flag).is_(True))
    return stmt


@cache
def _support_stmts(child_level: str | None, shape):
    """The region's confirmed amounts by month and category, its year by status, and its
    children's year by status (villages under a township: from the records themselves)."""
    filters = Filters.parametric(shape)

    def apply_filters(stmt, cols):
        if filters.category is not None:
            stmt = stmt.where(cols["category"] == filters.category)
        if filters.org_kind is not None:
            stmt = stmt.where(cols["org_kind"] == filters.org_kind)
        if filters.flag:
            stmt = stmt.where(cols["is_" + filters.flag].is_(True))
        return stmt

    if filters.veteran:
        return _veteran_support_stmts(child_level, apply_filters)
    # Without an organization-kind or flag filter the coarser SupportTotal answers.
    r = SupportTotal if filters.org_kind is None and filters.flag is None else SupportRollup
    cols = {"category": r.category, "org_kind": getattr(r, "org_kind", None), "is_key": getattr(r, "is_key", None),
            "is_poor": getattr(r, "is_poor", None), "is_relocation": getattr(r, "is_relocation", None)}
    own = and_(r.region_code == bindparam("code"), r.year == filters.year)
    by_month = apply_filters(
        select(r.month, r.category, _amounts_total(r.amount, r.amount_attracted, r.amount_in_kind))
        .where(own, r.month != YEAR_TOTAL, r.status == "confirmed")
        .group_by(r.month, r.category),
        cols,
    )
    by_status = apply_filters(
        select(r.status, func.sum(r.record_count), func.sum(r.amount), func.sum(r.amount_attracted),
               func.sum(r.amount_in_kind))
        .where(own, r.month == YEAR_TOTAL)
        .group_by(r.status),
        cols,
    )
    one = [(cut, value) for cut, value in (("category", filters.category), ("org_kind", filters.org_kind),
                                           ("flag", filters.flag)) if value is not None]
    if child_level and child_level != "village" and len(one) == 1:  # one filter: its own year totals
        c = SupportCutTotal
        per_child = (
            select(c.region_code, c.status, func.sum(c.record_count), func.sum(c.amount), func.sum(c.amount_attracted),
                   func.sum(c.amount_in_kind))
            .where(c.level == child_level, c.year == filters.year, c.cut == one[0][0], c.value == one[0][1],
                   Region.within_bounds(c.region_code), _counted(c.status))
            .group_by(c.region_code, c.status)
        )
    elif child_level and child_level != "village":
        per_child = apply_filters(
            select(r.region_code, r.status, func.sum(r.record_count), func.sum(r.amount), func.sum(r.amount_attracted),
                   func.sum(r.amount_in_kind))
            # the month a literal, so the partial indexes of the year's cells (month = 0) apply
            .where(r.level == child_level, r.year == filters.year, r.month == literal_column(str(YEAR_TOTAL)),
                   Region.within_bounds(r.region_code), _counted(r.status))
            .group_by(r.region_code, r.status),
            cols,
        )
    elif child_level == "village":
        from ..records.models import SupportRecord as s

        per_child = apply_filters(
            select(s.village_code, s.status, func.count(), func.sum(s.amount), func.sum(s.amount_attracted),
                   func.sum(s.amount_in_kind))
            .join(Region, Region.code == s.village_code)
            .join(Organization, Organization.id == s.organization_id)
            .where(Region.within_bounds(s.village_code),
                   s.record_date.between(bindparam("year_lo"), bindparam("year_hi")), _counted(s.status))
            .group_by(s.village_code, s.status),
            {"category": s.category, "org_kind": Organization.kind, "is_key": Region.is_key, "is_poor": Region.is_poor,
             "is_relocation": Region.is_relocation},
        )
    else:
        per_child = None
    return by_month, by_status, per_child


# The statuses a child's row counts (``_support_figures``): its other rows are not fetched.
_COUNTED_STATUSES = ("confirmed", "submitted", "disputed")


def _counted(status):
    return status.in_([literal_column(f"'{value}'") for value in _COUNTED_STATUSES])


def _amounts_total(amount, attracted, in_kind):
    """The sum of the three amounts of a group, in one column: a month's confirmed total by
    category is all the answer shows of them (one decimal to convert per row, not three)."""
    return (func.coalesce(func.sum(amount), 0) + func.coalesce(func.sum(attracted), 0)
            + func.coalesce(func.sum(in_kind), 0))


def _veteran_support_stmts(child_level: str | None, apply_filters):
    """``_support_stmts`` for the veteran filter, which the rollups do not carry: the
    records of the individual helpers who are veterans (``veteran_helpers``, a few
    organizations; their records through ix_support_record_org_status), in the region and
    year; each child from its villages' rows."""
    from ..records.models import SupportRecord as s

    cols = {"category": s.category, "org_kind": Organization.kind, "is_key": Region.is_key, "is_poor": Region.is_poor,
            "is_relocation": Region.is_relocation}

    def over(stmt):
        return apply_filters(
            stmt.join(Region, Region.code == s.village_code).join(Organization, Organization.id == s.organization_id)
            .where(s.organization_id.in_(veteran_helpers()),
                   s.record_date.between(bindparam("year_lo"), bindparam("year_hi")),
                   Region.within_bounds(s.village_code)),
            cols,
        )

    sums = (func.sum(s.amount), func.sum(s.amount_attracted), func.sum(s.amount_in_kind))
    month = extract("month", s.record_date).cast(Integer)
    by_month = over(select(month, s.category, _amounts_total(s.amount, s.amount_attracted, s.amount_in_kind))
                    .where(s.status == "confirmed").group_by(month, s.category))
    by_status = over(select(s.status, func.count(), *sums).group_by(s.status))
    per_child = over(select(s.village_code, s.status, func.count(), *sums).where(_counted(s.status))
                     .group_by(s.village_code, s.status)) if child_level else None
    return by_month, by_status, per_child


def _support_figures(region, filters, n, add, by_category, by_month, funnel) -> None:
    by_month_stmt, by_status_stmt, per_child_stmt = _support_stmts(CHILD_LEVEL.get(region.level), filters.shape)
    lo, hi = region.range()
    params = dict(filters.params, code=region.code, lo=lo, hi=hi,
                  year_lo=date(filters.year, 1, 1), year_hi=date(filters.year, 12, 31))
    for month, category, value in _run(by_month_stmt, **params).all():
        value = Decimal(value)
        by_category[category] = by_category.get(category, Decimal("0")) + value
        by_month[(month, category)] = value
    total_only = {}
    for status, count, amount, attracted, in_kind in _run(by_status_stmt, **params):
        funnel[status] = int(count or 0)
        total_only[status] = (count, amount, attracted, in_kind)
    per_child = _run(per_child_stmt, **params).all() if per_child_stmt is not None else []

    def figures(status, count, amount, attracted, in_kind) -> dict:
        count = int(count or 0)
        if status == "confirmed":
            return {"confirmed_count": count, "confirmed_amount": Decimal(amount or 0),
                    "confirmed_attracted": Decimal(attracted or 0), "confirmed_in_kind": Decimal(in_kind or 0)}
        if status == "submitted":
            return {"pending": count}
        if status == "disputed":
            return {"disputed": count}
        return {}

    # the whole from the region's own rows; each child from its rows
    for status, (count, amount, attracted, in_kind) in total_only.items():
        add.total_only(**figures(status, count, amount, attracted, in_kind))
    for code, status, count, amount, attracted, in_kind in per_child:
        add.child_only(code[:n], **figures(status, count, amount, attracted, in_kind))


class _Adder:
    """Adds figures to the whole and to the child whose code starts with a prefix."""

    def __init__(self, total: Row, rows: dict[str, Row]):
        self.total, self.rows = total, rows

    @staticmethod
    def _add(target: Row | None, values: dict) -> None:
        if target is None:
            return
        figures = target.__dict__  # a Row's fields (no slots, no descriptors): read and written directly
        for key, value in values.items():
            if value:
                figures[key] += value

    def __call__(self, prefix: str, **values) -> None:
        self._add(self.total, values)
        self._add(self.rows.get(prefix), values)

    def total_only(self, **values) -> None:
        self._add(self.total, values)

    def child_only(self, prefix: str, **values) -> None:
        self._add(self.rows.get(prefix), values)


def _one_filter(filters: Filters) -> tuple[str, str] | None | bool:
    """The filter of a view narrowed by one category, organization kind or village flag
    (and nothing else but the year); None without any; False with more than one or the
    veteran filter."""
    if filters.veteran:
        return False
    given = [(cut, value) for cut, value in (("category", filters.category), ("org_kind", filters.org_kind),
                                             ("flag", filters.flag)) if value is not None]
    return given[0] if len(given) == 1 else (None if not given else False)


def by_days(region: Region, filters: Filters) -> bool:
    """Whether the counts by day answer a region's overdue and ending-soon figures: a
    province, city or county (a township's children are villages, counted from their few
    records and postings), without a filter or with one category, organization kind or
    flag (the counts by day hold each); the year does not change either figure."""
    return region.level in ("province", "city", "county") and _one_filter(filters) is not False


@cache
def _day_stmts(shape):
    """The children's sums of the counts by day (``DayCount``) over a span of days, and
    the records submitted on the cut-off's own day before the cut-off (the one day the
    rows cannot split), through the index on (status, submitted_at), under the filter."""
    from ..records.models import SupportRecord as s

    d = DayCount
    sums = (select(d.region_code, func.sum(d.count))
            .where(d.kind == bindparam("kind"), d.level == bindparam("level"),
                   Region.within_bounds(d.region_code),
                   d.day.between(bindparam("first"), bindparam("last")))
            .group_by(d.region_code))
    prefix = func.substr(s.village_code, 1, bindparam("n"))
    sliver = (select(prefix, func.count())
              .where(*_cut_off_day(bindparam("day_start"), bindparam("cutoff"), bindparam("region_prefix")))
              .group_by(prefix))
    return sums, record_filters(sliver, s, Filters.parametric(shape))


def _cut_off_day(start, cutoff, region_prefix) -> tuple:
    """Conditions on ``SupportRecord``: awaiting confirmation, submitted on a cut-off's own
    day (from ``start``, its midnight) before the cut-off, in the region whose code begins
    with ``region_prefix`` (its first ``m`` digits: the parameter ``m``): the one day the
    counts by day cannot split, counted through the index on (status, submitted_at,
    category, village). The region by its code's prefix, not a range of village codes: a
    range would lead the planner to the pending records' index by village, all of a
    province's."""
    from ..records.models import SupportRecord as s

    return (s.status == literal_column("'submitted'"), s.submitted_at >= start, s.submitted_at < cutoff,
            func.substr(s.village_code, 1, bindparam("m")) == region_prefix)


def _day_counts(region, lo, hi, n, add, today, cfg, filters: Filters, ending: bool = True) -> None:
    """Overdue and ending soon (unless not ``ending``) of a province, city or county from the counts by day of its
    children (an area's rows for a county's townships and its own postings), under the
    view's filter (``day_counts.day_kind``; a category does not narrow the postings)."""
    from .day_counts import day_kind

    one = _one_filter(filters) or None
    submitted = day_kind("submitted", *one) if one else "submitted"
    ends = day_kind("ends", *one) if one and one[0] != "category" else "ends"
    sums, sliver = _day_stmts(filters.shape)
    level = {"province": "city", "city": "county", "county": "area"}[region.level]
    cutoff = overdue_cutoff(cfg["REGISTRY_CONFIRMATION_OVERDUE_DAYS"])
    day_start = datetime.combine(cutoff.date(), time())
    for code, count in _run(sums, kind=submitted, level=level, lo=lo, hi=hi, first=date.min,
                            last=cutoff.date() - timedelta(days=1)):
        add(code[:n], overdue=int(count or 0))
    m = PREFIX_LENGTH[region.level]
    for p, count in _run(sliver, **filters.params, n=n, m=m, region_prefix=region.code[:m], day_start=day_start,
                         cutoff=cutoff):
        add(p, overdue=count)
    if not ending:
        return
    soon = today + timedelta(days=cfg["REGISTRY_ENDING_SOON_DAYS"])
    for code, count in _run(sums, kind=ends, level=level, lo=lo, hi=hi, first=today, last=soon):
        add(code[:n], ending_soon=int(count or 0))


def overdue_total(region: Region) -> int | None:
    """The overdue records of a province, city or county, from the counts by day as the
    coverage page counts them (a few rows per child instead of every pending record);
    None for a region below a county (its own records are few: count them)."""
    if region.level not in ("province", "city", "county"):
        return None
    lo, hi = region.range()
    n = PREFIX_LENGTH[CHILD_LEVEL[region.level]]
    found = [0]

    def add(_prefix, overdue):
        found[0] += int(overdue or 0)

    today = local_today()
    _day_counts(region, lo, hi, n, add, today, current_app.config, Filters(today.year), ending=False)
    return found[0]


def ending_total(region: Region, last: date) -> int:
    """The active postings of a province, city or county planned to end by ``last`` (the
    staff home's panel of postings ending soon, those past their planned end included),
    from the region's own counts by day of planned ends: a few hundred rows, where
    counting the postings read a province's 40,000."""
    stmt = _ending_total_stmt()
    return int(db.session.execute(stmt, {"level": region.level, "code": region.code, "last": last}).scalar() or 0)


@cache
def _ending_total_stmt():
    from .day_counts import day_kind

    d = DayCount
    return select(func.sum(d.count)).where(d.kind == day_kind("ends"), d.level == bindparam("level"),
                                           d.region_code == bindparam("code"),
                                           d.day <= bindparam("last", type_=d.day.type))


def seen_whole(user, region: Region | None = None) -> Region | None:
    """The province, city or county all of whose records and postings ``user`` sees (their
    scope is by region for these roles: ``records.queries.overdue(user, region)`` lists all
    of its overdue records), so that the summaries may count them (the counts by day, the
    postings awaiting a grade): ``region`` (or the user's own) for administrators, region
    staff and viewers; None for a township or village, or another role, whose rows are
    counted themselves."""
    staff = user.role in ("region", "viewer") and user.region is not None
    area = region if region is not None else (user.region if staff else None)
    # an administrator sees every record; staff those of their region (a region page is
    # looked up within it, so its region lies there)
    if (area is not None and area.level in ("province", "city", "county")
            and (user.role == "admin" or (staff and user.region.contains(area.code)))):
        return area
    return None


def overdue_count(user, region: Region | None = None) -> int:
    """How many records ``records.queries.overdue(user, region)`` lists: from a few rows
    per child of the counts by day where they hold them (``seen_whole``;
    ``overdue_total``, as the coverage page and the gaps worklist count them) instead of
    every pending record of the region, else by counting the records."""
    area = seen_whole(user, region)
    if area is not None:
        return overdue_total(area)
    return records_queries.count(records_queries.overdue(user, region))


def overdue_by_category(region: Region, ages: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """{category: (records overdue, and overdue more than each of ``ages`` days)} of a
    province, city or county (with nothing overdue left out), from the region's own counts
    by day under each category (some 1,200 rows for a province, against 26,000 overdue
    records to group), and, for each cut-off, the records submitted on its own day
    before it (the one day the rows cannot split, as ``_day_counts`` counts it)."""
    cutoffs = [overdue_cutoff(days) for days in
               (current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"], *ages)]
    sums, slivers, kinds = _overdue_by_category_stmts(len(cutoffs))
    # the whole days before each cut-off's day (the first cut-off is the latest)
    days = {f"last{n}": cutoff.date() - timedelta(days=1) for n, cutoff in enumerate(cutoffs)}
    found = {category: [0] * len(cutoffs) for category in RECORD_CATEGORIES}
    for kind, *counts in db.session.execute(sums, {**days, "level": region.level, "code": region.code}):
        found[kinds[kind]] = [int(n or 0) for n in counts]
    m = PREFIX_LENGTH[region.level]
    times = {}
    for n, cutoff in enumerate(cutoffs):
        times[f"start{n}"], times[f"cut{n}"] = datetime.combine(cutoff.date(), time()), cutoff
    for n, category, count in db.session.execute(slivers, {**times, "m": m, "prefix": region.code[:m]}):
        found.setdefault(category, [0] * len(cutoffs))[n] += count
    return {category: tuple(counts) for category, counts in found.items() if counts[0]}


@cache
def _overdue_by_category_stmts(n: int) -> tuple:
    """``overdue_by_category``'s statements for ``n`` cut-offs, built once (building them
    cost more than running them): the counts by day under each category, summed up to the
    day before each cut-off's (``last0``, the latest, first), and each cut-off's own day
    through the index on (status, submitted_at, category, village); the region by its
    code's prefix (a range of village codes would lead to the index by village)."""
    from ..records.models import SupportRecord as s
    from .day_counts import day_kind

    d = DayCount
    kinds = {day_kind("submitted", "category", category): category for category in RECORD_CATEGORIES}
    sums = (select(d.kind, *(func.sum(case((d.day <= bindparam(f"last{i}", type_=d.day.type), d.count), else_=0))
                             for i in range(n)))
            .where(d.kind.in_(list(kinds)), d.level == bindparam("level"), d.region_code == bindparam("code"),
                   d.day <= bindparam("last0", type_=d.day.type))
            .group_by(d.kind))
    slivers = union_all(*(
        select(literal(i, Integer).label("n"), s.category, func.count())
        .where(*_cut_off_day(bindparam(f"start{i}", type_=s.submitted_at.type),
                             bindparam(f"cut{i}", type_=s.submitted_at.type), bindparam("prefix")))
        .group_by(s.category) for i in range(n)))
    return sums, slivers, kinds


@cache
def _overdue_stmt(n: int, shape):
    from ..records.models import SupportRecord as s

    prefix = func.substr(s.village_code, 1, n)
    stmt = (
        select(prefix, func.count())
        # a literal status, so SQLite can use the partial index ix_support_record_pending
        .where(s.status == literal_column("'submitted'"), s.submitted_at < bindparam("cutoff"),
               Region.within_bounds(s.village_code))
        .group_by(prefix)
    )
    return record_filters(stmt, s, Filters.parametric(shape))


def _overdue(lo, hi, filters, n, add, days) -> None:
    stmt = _overdue_stmt(n, filters.shape)
    for p, count in _run(stmt, **filters.params, lo=lo, hi=hi, cutoff=overdue_cutoff(days)):
        add(p, overdue=count)


@cache
def _ending_soon_stmt(n: int, shape):
    prefix = func.substr(Posting.region_code, 1, n)
    stmt = (select(prefix, func.count())
            .where(Posting.is_active, Region.within_bounds(Posting.region_code),
                   Posting.planned_end.between(bindparam("today"), bindparam("soon")))
            .group_by(prefix))
    return posting_filters(stmt, Filters.parametric(shape))


def _ending_soon(lo, hi, filters, n, add, today, cfg) -> None:
    soon = today + timedelta(days=cfg["REGISTRY_ENDING_SOON_DAYS"])
    for p, count in _run(_ending_soon_stmt(n, filters.shape), **filters.params, lo=lo, hi=hi, today=today, soon=soon):
        add(p, ending_soon=count)
