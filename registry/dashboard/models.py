"""Summary tables for support records, kept current in the same transaction as every
change to a record (see ``summary.py``), so coverage pages never scan the records.

``SupportRollup``: one row per region (township, county, city and province level), year,
month, category, filer's organization kind, village flags and record status, holding the
count and the amounts of the records in that cell. A province page reads only the
province's and its cities' rows.

``VillageSupportLast``: per village, the latest date of a confirmed record, overall
(category '*', kind '*') and per category and/or organization kind, so "villages with
confirmed support in the last 12 months" is a scan over one row per village.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, Index, Integer, Numeric, String, UniqueConstraint, text  # noqa: F401
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

ANY = "*"
YEAR_TOTAL = 0  # the month of a rollup row that holds the whole year's figures
LEVEL_CUTS = (("township", 9), ("county", 6), ("city", 4), ("province", 2))  # rollup levels, code prefix length


def area_of(code: str) -> str:
    """The area (``AreaSummary``) a village, township or county code belongs to."""
    return code[:9] + "000"


class SupportMeasures:
    """What a cell of the support records' rollups sums: the records and their amounts
    (元). Shared by ``SupportRollup``, ``SupportTotal`` and ``SupportCutTotal``."""

    record_count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    amount_attracted: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    amount_in_kind: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)


class SupportRollup(SupportMeasures, db.Model):
    __tablename__ = "support_rollup"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    org_kind: Mapped[str] = mapped_column(String(20))
    is_key: Mapped[bool] = mapped_column(Boolean)
    is_poor: Mapped[bool] = mapped_column(Boolean)
    is_relocation: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))

    __table_args__ = (
        UniqueConstraint(
            "region_code", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation", "status",
            name="uq_support_rollup_cell",
        ),
        Index("ix_support_rollup_level_year_region", "level", "year", "region_code"),
        # a filtered page's children, by organization kind or village flag: the year's cells
        *(Index(f"ix_support_rollup_year_{name}", "level", "year", column, "region_code",
                sqlite_where=text("month = 0"), postgresql_where=text("month = 0"))
          for name, column in (("kind", "org_kind"), ("key", "is_key"), ("poor", "is_poor"),
                               ("relocation", "is_relocation"))),
    )


class SupportTotal(SupportMeasures, db.Model):
    """``SupportRollup`` without the organization-kind and flag dimensions: what an
    unfiltered (or category-filtered) page reads. Same maintenance, same month rule."""

    __tablename__ = "support_total"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))

    __table_args__ = (
        UniqueConstraint("region_code", "year", "month", "category", "status", name="uq_support_total_cell"),
        Index("ix_support_total_level_year_region", "level", "year", "region_code"),
        # a page's children: the year's cells (month = 0) only
        Index("ix_support_total_year", "level", "year", "region_code",
              sqlite_where=text("month = 0"), postgresql_where=text("month = 0")),
    )


class SupportCutTotal(SupportMeasures, db.Model):
    """The year's cells of ``SupportRollup`` (month 0) by one filter only: per region, year,
    filter (``cut`` 'category', 'org_kind' or 'flag'; ``value`` the category, kind or flag
    key/poor/relocation) and status. A page under one filter reads its children's few rows
    here instead of every rollup cell of theirs. Kept with the rollup cells (the same
    additions, in the same upsert batch), rebuilt from them."""

    __tablename__ = "support_cut_total"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(10))
    year: Mapped[int] = mapped_column(Integer)
    cut: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))

    __table_args__ = (
        UniqueConstraint("region_code", "year", "cut", "value", "status", name="uq_support_cut_total_cell"),
        Index("ix_support_cut_total_children", "level", "year", "cut", "value", "region_code"),
    )


class VillageSupportLast(db.Model):
    __tablename__ = "village_support_last"

    village_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    org_kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_confirmed_on: Mapped[date] = mapped_column(Date)

    __table_args__ = (Index("ix_village_support_last_filter", "category", "org_kind", "village_code"),)


class VillageStatus(db.Model):
    """One row per village with what its coverage figures need, kept current by the
    after-flush listener whenever a posting, pairing, confirmed record or the village
    itself changes. A province page reads 24,000 of these rows instead of joining
    postings, pairings and records.

    Pairings can start or end on a future date, so their counts are only valid until
    ``pairings_valid_until`` (the next start or end of a pairing of the village); the
    coverage query computes such villages live.
    """

    __tablename__ = "village_status"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    is_key: Mapped[bool] = mapped_column(Boolean, default=False)
    is_poor: Mapped[bool] = mapped_column(Boolean, default=False)
    is_relocation: Mapped[bool] = mapped_column(Boolean, default=False)
    first_secretaries: Mapped[int] = mapped_column(Integer, default=0)
    team_size: Mapped[int] = mapped_column(Integer, default=0)
    resident_pairings: Mapped[int] = mapped_column(Integer, default=0)
    enterprise_pairings: Mapped[int] = mapped_column(Integer, default=0)
    pairings_valid_until: Mapped[date | None] = mapped_column(Date, index=True)
    last_confirmed_on: Mapped[date | None] = mapped_column(Date)

    __table_args__ = (
        # the priority villages (key or poverty-exited) with what the gaps worklist's village
        # lines test: a province counts them from about 7,000 entries (``gaps._village_gaps``);
        # the predicate as each engine renders ``definitions.status_priority()``
        Index("ix_village_status_priority", "code", "first_secretaries", "team_size", "last_confirmed_on",
              "resident_pairings", "pairings_valid_until",
              sqlite_where=text("is_key IS 1 OR is_poor IS 1"),
              postgresql_where=text("is_key IS true OR is_poor IS true")),
    )


class PersonTrainingYear(db.Model):
    """Passed courses per person and year (of the course's start), kept current by the
    after-flush listener on attendances and courses: the trained share of a province is
    a join of the active postings to this small table."""

    __tablename__ = "person_training_year"

    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    passed_courses: Mapped[int] = mapped_column(Integer, default=0)


class AreaFigures:
    """The coverage figures of one area, and when they hold: the columns ``AreaSummary``
    (unfiltered) and ``AreaCut`` (under one filter) share. Figures are valid for ``year``
    and the ``settings`` they were computed with, from ``computed_on`` until
    ``valid_until``."""

    year: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(String(40))
    computed_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date, index=True)
    villages: Mapped[int] = mapped_column(Integer, default=0)
    key_villages: Mapped[int] = mapped_column(Integer, default=0)
    first_secretary: Mapped[int] = mapped_column(Integer, default=0)
    first_secretary_key: Mapped[int] = mapped_column(Integer, default=0)
    backing_unit: Mapped[int] = mapped_column(Integer, default=0)
    backing_unit_key: Mapped[int] = mapped_column(Integer, default=0)
    enterprise: Mapped[int] = mapped_column(Integer, default=0)
    enterprise_key: Mapped[int] = mapped_column(Integer, default=0)
    support_12m: Mapped[int] = mapped_column(Integer, default=0)
    support_12m_key: Mapped[int] = mapped_column(Integer, default=0)
    teams_under_min: Mapped[int] = mapped_column(Integer, default=0)
    posted_people: Mapped[int] = mapped_column(Integer, default=0)
    trained_people: Mapped[int] = mapped_column(Integer, default=0)
    months_under_min: Mapped[int] = mapped_column(Integer, default=0)


class AreaSummary(AreaFigures, db.Model):
    """The default (unfiltered, current-year) coverage figures of one area: a township
    with its villages and the postings to them and to the township itself, or a county's
    own postings. An area's code is the township's (or the county's): the first nine
    digits of every code it holds, then ``000``. A province, city or county page sums about 2,000 of these rows instead of 24,000
    villages, 40,000 postings and 400,000 duty months.

    A row is recomputed from the rows it sums (by ``figures.area_figures``, the same
    code the coverage page runs for an area without a row) whenever a flush touches the
    area. It is only used while it still holds: for ``year`` and the ``settings`` it was
    computed with, from ``computed_on`` until ``valid_until`` (the next day on which time
    alone changes a figure: a pairing starting or ending, a village's latest confirmed
    support leaving the 12-month window, the year ending). The coverage page computes
    any other area live; ``flask dashboard refresh`` (daily) recomputes them.
    """

    __tablename__ = "area_summary"

    area: Mapped[str] = mapped_column(String(12), primary_key=True)


class ByDay:
    """Counts by kind, level ('area', 'county', 'city', 'province'), region and day: the
    columns ``DayCount`` and ``GapDay`` share."""

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[str] = mapped_column(String(10), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DayCount(ByDay, db.Model):
    """The counts that depend on the day, by day, so a page counts them from a few rows:
    ``kind`` 'submitted' holds the records awaiting confirmation by the day they were
    submitted (UTC), 'ends' the active postings by their planned end. A record submitted
    before the cut-off 30 days ago is overdue; a posting ending between today and 90 days
    on is ending soon: the sum of the rows on those days.

    ``level`` 'area' holds each area's own rows (``area_of``: a township with its villages,
    or a county's own postings), kept by the summary writer with the area's other figures;
    'county', 'city' and 'province' hold the sums of the areas under them, kept by adding
    each area's change. Nothing here depends on today, so no row goes stale.

    The same counts under each filter of the coverage page have kinds of their own
    (``day_counts.day_kind``: ``submitted:category=funds``, ``ends:org_kind=enterprise``,
    ``submitted:flag=key``): a record counts under its category, its filer's kind and its
    village's flags, a posting under its sending unit's kind and its village's flags."""

    __tablename__ = "day_count"


class GapDay(ByDay, db.Model):
    """The gaps worklist's lines about active postings, by day, so a province's, city's
    or county's count is the sum of a few rows (``gap_days``): each row is a change of
    the number of lines of a kind from that day on, so the lines on a day are the sum of
    the rows up to it. A posting's pre-posting training gap opens the day after its
    window closes; a cadre without this year's training or health check is a line from
    the first day of every year but those they have them in; one without accident
    insurance from the first day but the days a policy covers; a posting ending without
    a successor from the start of its ending-soon span (or the day a later posting to
    its place ended) to its planned end. ``kind`` carries the setting a rule depends on
    (``pre_posting:90``, ``yearly:1``, ``ending:90``), and every area has a stamp row
    (``areas:<settings>``, day ``date.min``, count 1) of the settings it was computed
    under: a region is read only while all of its areas have the current one.

    Levels as ``DayCount``: 'area' rows kept by the summary writer with the area's other
    figures, 'county', 'city' and 'province' rows the sums of their areas'. Nothing here
    depends on today, so no row goes stale but by a change of setting."""

    __tablename__ = "gap_day"


class AreaChange(db.Model):
    """A counter per area (``area_of``: a township's code, or a county's, city's or the
    province's own code for a change to that region itself), raised in the transaction of
    every change the summary writer sees there, committed with it; ``*`` is raised by a
    change that may touch any area (a rebuild, an organization's kind, a project). The sum
    of a region's counters and ``*`` changes with every committed change to its figures:
    the coverage API's change marker (``coverage_cache``)."""

    __tablename__ = "area_change"
    # the marker sums a region's range of counters: read from this index alone
    __table_args__ = (Index("ix_area_change_area_version", "area", "version"),)

    area: Mapped[str] = mapped_column(String(12), primary_key=True)
    # raised by a random step (``recompute.raise_markers``), so a value never comes back
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class AreaCut(AreaFigures, db.Model):
    """``AreaSummary`` for one filter of the coverage page: the figures of an area under a
    record category (``cut`` 'category'), a filer's organization kind ('org_kind') or a
    village flag ('flag'; ``value`` key, poor or relocation), for the current year. Written
    with the area's ``AreaSummary`` row, one row per area and filter value (zeros
    included), so a filtered province page sums about 2,000 rows. Same freshness rule as
    ``AreaSummary`` (``year``, ``settings``, ``computed_on`` .. ``valid_until``); the
    coverage page computes an area live where its row no longer holds."""

    __tablename__ = "area_cut"

    cut: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    area: Mapped[str] = mapped_column(String(12), primary_key=True)


class AreaYear(db.Model):
    """The figures of an area that depend on the year, for every year: people in an active
    posting trained in that year, duty months of that year under the minimum, postings
    active in that year without a grade for it (all, and first secretaries: 待考核, as
    ``dashboard.ungraded`` counts them). Written with the area's ``AreaSummary`` row (only
    years with a figure: a missing row is zeros), and read only beside a fresh one; a
    past year's page takes the rest from ``AreaSummary`` (the village figures and the
    posted people do not depend on the year). Nothing here depends on the day (a posting
    still open counts in every year from its start to the year its area was computed in,
    and a new year makes every area's row stale)."""

    __tablename__ = "area_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    area: Mapped[str] = mapped_column(String(12), primary_key=True)
    settings: Mapped[str] = mapped_column(String(40))
    trained_people: Mapped[int] = mapped_column(Integer, default=0)
    months_under_min: Mapped[int] = mapped_column(Integer, default=0)
    ungraded_postings: Mapped[int] = mapped_column(Integer, default=0)
    ungraded_first_secretaries: Mapped[int] = mapped_column(Integer, default=0)
