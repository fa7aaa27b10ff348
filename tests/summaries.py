"""The summary tables as readers use them, beside a rebuild from the rows (``flask
dashboard rebuild``, the reference): what ``assert_summaries_exact`` compares after a
change, in the same transaction, undoing the rebuild afterwards.

The pairing counts of a village's ``VillageStatus`` row that time has outdated, and an
area row that time or a setting has outdated, are not compared: the coverage page
computes those live (see ``coverage.compute``); the rest of such a village's row is. Every other row must be the rebuild's, and a
village or area that the rebuild has but the stored summaries lack is a difference (a
page reading the summaries would leave it out). Rollup cells whose count and amounts are
all zero are left out on both sides: they add nothing to any sum; so are counts by day of
zero. Counts by day never go stale (they hold days, not the distance from today); the
gaps by day only by a change of setting, until their areas are recomputed.
"""
from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from registry.core.timeutil import local_today
from registry.dashboard.figures import AREA_FIGURES, area_settings
from registry.dashboard.models import (
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
from registry.dashboard.rebuild import rebuild_all
from registry.extensions import db

_ROLLUP_KEY = ("region_code", "level", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation",
               "status")
_TOTAL_KEY = ("region_code", "level", "year", "month", "category", "status")
_CUT_KEY = ("region_code", "level", "year", "cut", "value", "status")
_MEASURES = ("record_count", "amount", "amount_attracted", "amount_in_kind")
_STATUS = ("is_key", "is_poor", "is_relocation", "first_secretaries", "team_size", "resident_pairings",
           "enterprise_pairings", "pairings_valid_until", "last_confirmed_on")
# the columns of a village's row that time does not outdate (not its pairings')
_TIMELESS = tuple(i for i, c in enumerate(_STATUS) if c not in ("resident_pairings", "enterprise_pairings",
                                                                  "pairings_valid_until"))


def _cells(model, key_columns) -> dict[tuple, tuple]:
    table = model.__table__
    out = {}
    for row in db.session.connection().execute(select(*(table.c[c] for c in (*key_columns, *_MEASURES)))):
        n = len(key_columns)
        key, measures = tuple(row[:n]), tuple(row[n:])
        if any(measures):
            out[key] = measures
    return out


def read_summaries() -> dict[str, object]:
    """Every summary table, as plain values (read through the connection: the ORM's
    handling of each result is not needed for plain rows, and cost as much as the reads)."""
    conn = db.session.connection()
    return {
        "support_rollup": _cells(SupportRollup, _ROLLUP_KEY),
        "support_total": _cells(SupportTotal, _TOTAL_KEY),
        "support_cut_total": _cells(SupportCutTotal, _CUT_KEY),
        "village_support_last": set(conn.execute(select(
            VillageSupportLast.village_code, VillageSupportLast.category, VillageSupportLast.org_kind,
            VillageSupportLast.last_confirmed_on)).all()),
        "person_training_year": set(conn.execute(select(
            PersonTrainingYear.person_id, PersonTrainingYear.year, PersonTrainingYear.passed_courses)).all()),
        "village_status": {row.code: tuple(getattr(row, c) for c in _STATUS)
                           for row in conn.execute(select(VillageStatus.__table__))},
        "area_summary": {row.area: row for row in conn.execute(select(AreaSummary.__table__))},
        "area_cut": {(row.cut, row.value, row.area): row for row in conn.execute(select(AreaCut.__table__))},
        "area_year": {(row.year, row.area): (row.settings, row.trained_people, row.months_under_min,
                                             row.ungraded_postings, row.ungraded_first_secretaries)
                      for row in conn.execute(select(AreaYear.__table__))},
        "day_count": {(row.kind, row.level, row.region_code, row.day): row.count
                      for row in conn.execute(select(DayCount.__table__)) if row.count},
        "gap_day": {(row.kind, row.level, row.region_code, row.day): row.count
                    for row in conn.execute(select(GapDay.__table__)) if row.count},
    }


def rebuilt_summaries() -> dict[str, object]:
    """The summaries a rebuild from the rows gives, read, then rolled back to a savepoint."""
    nested = db.session.begin_nested()
    try:
        rebuild_all()
        return read_summaries()
    finally:
        nested.rollback()


def differences() -> list[str]:
    """What the stored summaries say that a rebuild from the rows does not, as readers see
    it today (``local_today``, the day the rebuild computes for)."""
    today = local_today()
    db.session.expire_all()
    stored = read_summaries()
    built = rebuilt_summaries()
    out: list[str] = []
    for name in ("support_rollup", "support_total", "support_cut_total", "village_support_last",
                 "person_training_year", "day_count"):
        have, want = stored[name], built[name]
        if have != want:
            if isinstance(have, dict):
                keys = sorted({*have, *want}, key=str)
                detail = [f"{k}: {have.get(k)} != {want.get(k)}" for k in keys if have.get(k) != want.get(k)]
            else:
                detail = [f"extra {sorted(have - want, key=str)}", f"missing {sorted(want - have, key=str)}"]
            out.append(f"{name}: " + "; ".join(detail))

    have, want = stored["village_status"], built["village_status"]
    valid_until = _STATUS.index("pairings_valid_until")
    for code in sorted({*have, *want}):
        row = have.get(code)
        if row is not None and row[valid_until] is not None and row[valid_until] <= today:
            # outdated by time: its pairing counts are computed live; the rest (what the gaps
            # worklist reads, ``definitions.status_*``) does not depend on the day and must hold
            ref = want.get(code)
            if ref is None or [row[i] for i in _TIMELESS] != [ref[i] for i in _TIMELESS]:
                out.append(f"village_status {code}: {row} != {ref} (besides its pairings)")
            continue
        if row != want.get(code):
            out.append(f"village_status {code}: {row} != {want.get(code)}")

    have, want = stored["area_summary"], built["area_summary"]
    settings = area_settings(current_app.config)
    zeros = dict.fromkeys(AREA_FIGURES, 0)
    for area in sorted({*have, *want}):
        row, ref = have.get(area), want.get(area)
        wanted = {k: getattr(ref, k) for k in AREA_FIGURES} if ref is not None else zeros
        if row is None:
            if wanted != zeros:
                out.append(f"area_summary {area}: missing, rebuild has {wanted}")
            continue
        fresh = row.year == today.year and row.settings == settings and row.computed_on <= today < row.valid_until
        if not fresh:
            continue  # outdated by time or a setting: computed live
        figures = {k: getattr(row, k) for k in AREA_FIGURES}
        if figures != wanted:
            out.append(f"area_summary {area}: {figures} != {wanted}")
        ref_until = ref.valid_until if ref is not None else date(today.year + 1, 1, 1)
        if row.valid_until != ref_until:
            out.append(f"area_summary {area}: valid until {row.valid_until} != {ref_until}")

    # the figures by year: read only beside a fresh area row (the page computes the other areas live)
    fresh_areas = {area for area, row in stored["area_summary"].items()
                   if row.year == today.year and row.settings == settings and row.computed_on <= today < row.valid_until}
    have, want = stored["area_year"], built["area_year"]
    for key in sorted({*have, *want}):
        if key[1] in fresh_areas and have.get(key) != want.get(key):
            out.append(f"area_year {key}: {have.get(key)} != {want.get(key)}")

    # the filtered figures: as the area rows, per filter value; an area the stored area
    # rows know must have a row for every filter value (the page computes a missing one live,
    # but the writer always writes them)
    have, want = stored["area_cut"], built["area_cut"]
    for key in sorted({*have, *want}):
        row, ref = have.get(key), want.get(key)
        wanted = {k: getattr(ref, k) for k in AREA_FIGURES} if ref is not None else zeros
        if row is None:
            if wanted != zeros or key[2] in stored["area_summary"]:
                out.append(f"area_cut {key}: missing, rebuild has {wanted}")
            continue
        fresh = row.year == today.year and row.settings == settings and row.computed_on <= today < row.valid_until
        if not fresh:
            continue  # outdated by time or a setting: computed live
        figures = {k: getattr(row, k) for k in AREA_FIGURES}
        if figures != wanted:
            out.append(f"area_cut {key}: {figures} != {wanted}")
        ref_until = ref.valid_until if ref is not None else date(today.year + 1, 1, 1)
        if row.valid_until != ref_until:
            out.append(f"area_cut {key}: valid until {row.valid_until} != {ref_until}")
    out += live_differences(stored, fresh_areas, today)
    out += gap_day_differences(stored["gap_day"], built["gap_day"], today)
    return out


def gap_day_differences(have: dict, want: dict, today: date) -> list[str]:
    """The gaps by day where the worklist reads them: an area's rows while it carries the
    current settings' stamp, a county's, city's or province's while every area under it
    does (``gap_days.counts``); the others wait for the refresh and are counted live."""
    from registry.dashboard import gap_days
    from registry.regions.models import Region

    stamp = gap_days.stamp(current_app.config)
    stamped = {code for kind, level, code, _day in have if level == "area" and kind == stamp}
    read: dict[tuple, bool] = {}

    def is_read(level: str, code: str) -> bool:
        if level == "area":
            return code in stamped
        if (level, code) not in read:
            region = db.session.get(Region, code)
            read[(level, code)] = region is not None and gap_days.counts(region, today) is not None
        return read[(level, code)]

    # the stamps are not figures: an area emptied keeps its (zero) area row and stamp, where a
    # rebuild writes neither; the gaps' rows of both are the same
    return [f"gap_day {key}: {have.get(key)} != {want.get(key)}" for key in sorted({*have, *want}, key=str)
            if have.get(key) != want.get(key) and not key[0].startswith(gap_days.STAMP + ":")
            and is_read(key[1], key[2])]


def live_differences(stored: dict, fresh_areas: set[str], today: date) -> list[str]:
    """What the fresh filtered and yearly rows say that the coverage page's live
    computation of the same areas (``area_figures`` under the filter, or for the year)
    does not: the rows are counted in Python from the rows ``area_figures`` joins in SQL."""
    from registry.dashboard.cuts import CUTS
    from registry.dashboard.definitions import Filters
    from registry.dashboard.figures import area_figures

    settings = area_settings(current_app.config)
    conn = db.session.connection()  # Core execution: the same statements without the ORM's per-result work
    out: list[str] = []
    zeros = dict.fromkeys(AREA_FIGURES, 0)
    for cut, value in CUTS:
        rows = {key[2]: row for key, row in stored["area_cut"].items() if key[:2] == (cut, value)
                and row.year == today.year and row.settings == settings and row.computed_on <= today < row.valid_until}
        if not rows:
            continue
        filters = Filters(today.year, **{cut: value})
        live = area_figures(conn, sorted(rows), today, today.year, filters=filters)
        for area, row in rows.items():
            figures = {k: getattr(row, k) for k in AREA_FIGURES}
            if figures != live.get(area, zeros):
                out.append(f"area_cut {(cut, value, area)}: {figures} != live {live.get(area, zeros)}")
    if fresh_areas:
        years = {year for year, _area in stored["area_year"]} | {today.year - 1, today.year}
        for year in sorted(years):
            live = area_figures(conn, sorted(fresh_areas), today, year)
            ungraded = _ungraded_by_area(conn, year)
            for area in sorted(fresh_areas):
                _settings, trained, months, *counts = stored["area_year"].get((year, area), (settings, 0, 0, 0, 0))
                want = live.get(area, zeros)
                if (trained, months) != (want["trained_people"], want["months_under_min"]):
                    out.append(f"area_year {(year, area)}: {(trained, months)} != live "
                               f"{(want['trained_people'], want['months_under_min'])}")
                if tuple(counts) != ungraded.get(area, (0, 0)):
                    out.append(f"area_year {(year, area)}: postings awaiting a grade {tuple(counts)} != live "
                               f"{ungraded.get(area, (0, 0))}")
    return out


def _ungraded_by_area(conn, year: int) -> dict[str, tuple[int, int]]:
    """Per area: the postings awaiting a grade for ``year``, and the first secretaries among
    them, counted by the rule the pages count one region by (``dashboard.ungraded``)."""
    from sqlalchemy import case, func

    from registry.dashboard.ungraded import FIRST_SECRETARY, ungraded
    from registry.people.models import Posting

    area = func.substr(Posting.region_code, 1, 9)
    rows = conn.execute(select(area, func.count(), func.sum(case((Posting.role == FIRST_SECRETARY, 1), else_=0)))
                        .where(ungraded(year)).group_by(area))
    return {prefix + "000": (int(n), int(fs or 0)) for prefix, n, fs in rows}


def assert_summaries_exact() -> None:
    found = differences()
    assert not found, "\n".join(found)
