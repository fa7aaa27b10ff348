"""The gaps worklist's lines about active postings by day (``GapDay``): what the summary
writer stores per area, and the counts a province, city or county reads from them.

A kind's rows are changes of its number of lines from their day on: the lines on a day
are the sum of the rows up to it. For each active posting (DESIGN.md section 5; the
rules are those the worklist runs live, ``gaps._sources``):

- no pre-posting training: +1 the day after its window closes, if no passed pre-posting
  course lies within the window (``training.checks.pre_posting_trained_clause``);
- no yearly training: +1 from the first day; -1 on 1 January of each year in which its
  person passed the required courses (``PersonTrainingYear``), +1 on the next 1 January;
- a resident cadre without accident insurance: +1 from the first day; -1 on the first
  day of each span its person's policies cover together, +1 the day after it ends;
- a resident cadre without a health check: as yearly training, by the years of a check;
- ending without a successor: +1 from the start of its ending-soon span, or from the
  day the last later posting to its place in its role ended if later; -1 the day after
  its planned end; nothing while such a later posting is active.

A change of the pre-posting window, the yearly courses required or the ending-soon span
changes the kinds' names (``kinds``) and the areas' stamp: a region is read only while
every area of it (an ``AreaSummary`` row) carries the current stamp (``counts``); until
the areas are recomputed, the worklist counts its lines live."""
from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import bindparam, func, select, true
from sqlalchemy.orm import aliased

from ..core.enums import VILLAGE_ROLES
from ..core.queries import as_date
from ..people.models import Posting
from ..regions.models import Region
from .definitions import later_postings
from .models import AreaSummary, GapDay, PersonTrainingYear

FIRST = date.min  # the day a line open from the start is counted from
STAMP = "areas"  # the stamp kind's prefix: one row per area, day FIRST, count 1

# the worklist's kinds read from these rows, and the setting each depends on
SETTINGS = {
    "no_pre_posting_training": ("pre_posting", "REGISTRY_PRE_POSTING_TRAINING_DAYS"),
    "no_yearly_training": ("yearly", "REGISTRY_YEARLY_TRAININGS"),
    "no_accident_insurance": ("uninsured", None),
    "no_health_check": ("unchecked", None),
    "ending_no_successor": ("ending", "REGISTRY_ENDING_SOON_DAYS"),
}


def kinds(cfg) -> dict[str, str]:
    """{worklist kind: ``GapDay.kind`` under the current settings}."""
    return {gap: name if key is None else f"{name}:{int(cfg[key])}" for gap, (name, key) in SETTINGS.items()}


def stamp(cfg) -> str:
    return f"{STAMP}:" + "|".join(str(int(cfg[key])) for _name, key in SETTINGS.values() if key)


def counts(region: Region, today: date) -> dict[str, int] | None:
    """{worklist kind: lines on ``today``} of a province, city or county from its rows;
    None below a county, or while an area of the region lacks the current stamp."""
    if region.level not in ("province", "city", "county"):
        return None
    from ..extensions import db

    cfg = current_app.config
    names, current = kinds(cfg), stamp(cfg)
    sums_of, areas_of, other_stamp = _count_statements()
    here = {"level": region.level, "code": region.code}
    sums = dict(db.session.execute(sums_of, {**here, "kinds": [*names.values(), current], "day": today}).all())
    lo, hi = region.range()
    areas = db.session.scalar(areas_of, {"lo": lo, "hi": hi})
    if sums.get(current, 0) != areas or db.session.scalar(other_stamp, {**here, "current": current}) is not None:
        return None  # an area not computed yet, or under other settings
    return {gap: int(sums.get(kind) or 0) for gap, kind in names.items()}


@functools.cache
def _count_statements():
    """``counts``' three statements, built once (their parameters bound when run): the
    gaps worklist and the home panels read them on every page, and building them and
    their cache keys cost more than running them. The sums by kind (the key's first
    column: each kind's rows read along it, not the whole table); the region's areas;
    a stamp of other settings on a row of the region that counts."""
    g = GapDay
    here = (g.level == bindparam("level"), g.region_code == bindparam("code"))
    sums = (select(g.kind, func.sum(g.count))
            .where(g.kind.in_(bindparam("kinds", expanding=True)), *here, g.day <= bindparam("day", type_=g.day.type))
            .group_by(g.kind))
    areas = select(func.count()).select_from(AreaSummary).where(Region.within_bounds(AreaSummary.area))
    other = select(g.kind).where(g.kind.between(STAMP + ":", STAMP + ";"), g.kind != bindparam("current"), *here,
                                 g.count != 0).limit(1)
    return sums, areas, other


def area_rows(conn, areas: list[str] | None, stamped, cfg) -> dict[tuple, int]:
    """{(``GapDay.kind``, area, day): change} of the areas (sorted; every area when
    None) from their active postings, with the stamp of each area of ``stamped``."""
    names = kinds(cfg)
    window = int(cfg["REGISTRY_PRE_POSTING_TRAINING_DAYS"])
    required = int(cfg["REGISTRY_YEARLY_TRAININGS"])
    span = timedelta(days=int(cfg["REGISTRY_ENDING_SOON_DAYS"]))
    out: dict[tuple, int] = defaultdict(int)
    for area in stamped:
        out[(stamp(cfg), area, FIRST)] = 1
    params = {} if areas is None else {"lo": areas[0][:9] + "000", "hi": areas[-1][:9] + "999",
                                       "areas": [a[:9] for a in areas]}
    postings = conn.execute(_postings(window, areas is not None), params).all()
    people = sorted({p.person_id for p in postings})
    trained = _years(conn, people, _trained_years(required)) if required > 0 else None
    insured, checked = _care(conn, people)
    for p in postings:
        area = p.region_code[:9] + "000"
        if not p.pre_trained:
            out[(names["no_pre_posting_training"], area, p.start_date + timedelta(days=window + 1))] += 1
        if trained is not None:
            _open_but_years(out, names["no_yearly_training"], area, trained.get(p.person_id, ()))
        if insured is not None and p.role in VILLAGE_ROLES:
            _open_but_spans(out, names["no_accident_insurance"], area, insured.get(p.person_id, ()))
            _open_but_years(out, names["no_health_check"], area, checked.get(p.person_id, ()))
        if p.planned_end is not None and not p.successor_active:
            first = max(p.planned_end - span, as_date(p.successor_ended) or FIRST)
            if first <= p.planned_end:
                out[(names["ending_no_successor"], area, first)] += 1
                out[(names["ending_no_successor"], area, p.planned_end + timedelta(days=1))] -= 1
    return {key: n for key, n in out.items() if n}


def _open_but_years(out: dict, kind: str, area: str, years) -> None:
    """A line from the first day but in ``years``."""
    out[(kind, area, FIRST)] += 1
    for year in years:
        out[(kind, area, date(year, 1, 1))] -= 1
        out[(kind, area, date(year + 1, 1, 1))] += 1


def _open_but_spans(out: dict, kind: str, area: str, spans) -> None:
    """A line from the first day but on the days the (start, end or None) ``spans`` cover."""
    out[(kind, area, FIRST)] += 1
    merged: list[list] = []
    for start, end in sorted(spans):
        if end is not None and end < start:
            continue  # covers no day
        if merged and (merged[-1][1] is None or start <= merged[-1][1] + timedelta(days=1)):
            last = merged[-1]
            last[1] = None if last[1] is None or end is None else max(last[1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        out[(kind, area, start)] -= 1
        if end is not None:
            out[(kind, area, end + timedelta(days=1))] += 1


@functools.lru_cache(maxsize=16)
def _postings(window: int, restrict: bool):
    """The active postings (of the areas ``lo``..``hi`` / ``areas`` when ``restrict``),
    each with whether its pre-posting training was on time, whether a later posting to
    its place in its role is active and the last day such a one that ended ended.

    Built once per window (its parameters are bound when run): every write that moves an
    area's postings, training or care recomputes that area's rows, and building this
    statement (its aliases and subqueries) cost a fifth of that."""
    try:
        from ..training.checks import pre_posting_trained_clause
    except ImportError:  # no training feature: no such line
        trained = true()
    else:
        trained = pre_posting_trained_clause(window)
    successor = aliased(Posting)
    stmt = select(Posting.id, Posting.person_id, Posting.region_code, Posting.role, Posting.start_date,
                  Posting.planned_end, trained.label("pre_trained"),
                  later_postings(successor).where(successor.is_active).exists().label("successor_active"),
                  later_postings(successor).with_only_columns(func.max(successor.end_date))
                  .scalar_subquery().label("successor_ended")).where(Posting.is_active)
    if restrict:
        stmt = stmt.where(Posting.region_code.between(bindparam("lo"), bindparam("hi")),
                          func.substr(Posting.region_code, 1, 9).in_(bindparam("areas", expanding=True)))
    return stmt


def _trained_years(required: int):
    t = PersonTrainingYear
    return select(t.person_id, t.year).where(t.person_id.in_(bindparam("people", expanding=True)),
                                              t.passed_courses >= required)


def _years(conn, people: list[int], stmt) -> dict[int, set[int]]:
    out: dict[int, set[int]] = defaultdict(set)
    for i in range(0, len(people), 900):
        for person, year in conn.execute(stmt, {"people": people[i:i + 900]}):
            out[person].add(int(year))
    return out


def _care(conn, people: list[int]) -> tuple[dict | None, dict]:
    """({person: [(start, end)] of accident insurance}, {person: {years of a health check}});
    (None, {}) without the care feature."""
    try:
        from ..care.models import CareRecord, accident_insurance, health_check
    except ImportError:
        return None, {}
    c = CareRecord
    insured: dict[int, list] = defaultdict(list)
    checked: dict[int, set[int]] = defaultdict(set)
    for i in range(0, len(people), 900):
        chunk = people[i:i + 900]
        for person, start, end in conn.execute(select(c.person_id, c.start_date, c.end_date)
                                               .where(c.person_id.in_(chunk), *accident_insurance())):
            insured[person].append((as_date(start), as_date(end)))
        for person, start in conn.execute(select(c.person_id, c.start_date)
                                          .where(c.person_id.in_(chunk), *health_check())):
            checked[person].add(as_date(start).year)
    return insured, checked

