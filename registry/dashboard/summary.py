"""Keeping the support summaries current.

Every flush that adds, changes or deletes a ``SupportRecord`` updates ``SupportRollup``
and ``VillageSupportLast`` in the same transaction (an ``after_flush`` listener), so no
service can forget it and a rolled-back change rolls its summary back too. So does a
flush that changes what those rows are keyed on, a village's flags or an organization's
kind: the records of that village or organization move from their old cells to their
new ones (``rekey``). Bulk loads that bypass the ORM (the benchmark) call
``rebuild_all``; so does ``flask dashboard rebuild``, the reference the tests hold the
listener to.

The listener only notes what each flush changed (``Touched``); the summaries are
written once per transaction, just before it commits (``settle``, a
``core.database.before_commit`` step): the rollup cells and the counts by day
(``DayCount``, every kind, under every filter, and the county's, city's and province's
rows) of every record change, added to; then the village summaries and the
``AreaSummary`` rows of every area (township) the transaction touched (a posting,
pairing, village, duty month, grade or passed course in it, or a confirmed record that moves
its village's latest confirmed support: one dated no later changes none of the rows
computed from it), each recomputed once however many flushes touched it (a bulk job's
thousand postings in one township: one recomputation), with its counts by day. On
PostgreSQL each area is locked first (an advisory lock per township, taken in sorted
order, held to the end of the transaction), so two transactions recomputing or adding
to the same area's rows do so one after the other and the second reads the first's
rows, while transactions in other areas go on at the same time; the rollup cells are
added to (an atomic upsert), not recomputed, and need no lock of their own. SQLite
serialises writers anyway.
"""
from __future__ import annotations

import functools
import secrets
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import (Integer, and_, bindparam, case, delete, event, extract, func, inspect, literal, literal_column,
                        null, or_, select, union_all)
from sqlalchemy.orm import Session

from ..core.database import (AREA_LOCKS, PERSON_LOCKS, before_commit, large_page_cache, listen_before_commit,
                             lock_keys, pending, pending_all, postgres_settings, rewritten)
from ..core.enums import VILLAGE_ROLES
from ..core.queries import upsert
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from .cuts import YEAR_FIGURES, cut_figures, year_figures
from .definitions import support_cutoff, support_window
from . import gap_days
from .figures import AREA_FIGURES, area_figures, area_fresh, area_settings, fresh_clause
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
    area_of,
)

_FIELDS = ("village_code", "record_date", "category", "organization_id", "status",
           "amount", "amount_attracted", "amount_in_kind", "submitted_at")
ZERO = Decimal("0")


def _record_model():
    try:
        from ..records.models import SupportRecord
    except ImportError:  # the records feature is not installed
        return None
    return SupportRecord


def _current(obj) -> dict:
    return {name: getattr(obj, name) for name in _FIELDS}


def _committed(obj) -> dict:
    state = inspect(obj)
    out = {}
    for name in _FIELDS:
        hist = state.attrs[name].history
        if hist.deleted:
            out[name] = hist.deleted[0]
        elif hist.unchanged:
            out[name] = hist.unchanged[0]
        else:
            out[name] = getattr(obj, name)
    return out


def _touched_places(session) -> set[str]:
    """Villages whose postings, pairings or own flags changed in this flush."""
    codes: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, (Posting, Pairing)):
            codes.add(obj.region_code)
            hist = inspect(obj).attrs.region_code.history
            codes.update(c for c in hist.deleted if c)
        elif isinstance(obj, Region) and obj.level == "village":
            codes.add(obj.code)
    codes.discard(None)
    return codes


_FLAGS = ("is_key", "is_poor", "is_relocation")


def _rekeyed(session) -> tuple[dict[str, tuple[bool, bool, bool]], dict[int, str]]:
    """Villages whose flags, and organizations whose kind, this flush changed: with the
    flags or kind their records are counted under until now (``Region``'s flags and
    ``Organization.kind`` keep the value they replace: ``active_history``)."""
    villages: dict[str, tuple[bool, bool, bool]] = {}
    orgs: dict[int, str] = {}
    for obj in session.dirty:
        if isinstance(obj, Region):
            state = inspect(obj)
            old = tuple(bool(h.deleted[0]) if h.deleted else bool(getattr(obj, name))
                        for name, h in ((name, state.attrs[name].history) for name in _FLAGS))
            if old != tuple(bool(getattr(obj, name)) for name in _FLAGS) and obj.level == "village":
                villages[obj.code] = old
        elif isinstance(obj, Organization):
            hist = inspect(obj).attrs.kind.history
            if hist.deleted and hist.deleted[0] is not None and hist.deleted[0] != obj.kind:
                orgs[obj.id] = hist.deleted[0]
    return villages, orgs


def _touched_duty_places(session) -> set[str]:
    try:
        from ..duty.models import DutyMonth
    except ImportError:
        return set()
    return {obj.region_code for obj in (*session.new, *session.dirty, *session.deleted)
            if isinstance(obj, DutyMonth) and obj.region_code}


def _touched_grades(session) -> set[str]:
    """Places of the postings whose grades this flush added, deleted, or moved to another
    posting or year: their areas' postings without a grade by year (``AreaYear``). A
    changed grade alone moves nothing."""
    from ..assessment.models import Assessment

    postings: set[int] = set()
    for objects, moved_only in ((session.new, False), (session.dirty, True), (session.deleted, False)):
        for obj in objects:
            if not isinstance(obj, Assessment):
                continue
            state = inspect(obj)
            was = state.attrs.posting_id.history.deleted
            if moved_only and not (was or state.attrs.year.history.deleted):
                continue
            postings.add(obj.posting_id)
            postings.update(was)
    postings.discard(None)
    if not postings:
        return set()
    return set(session.connection().execute(
        select(Posting.region_code).where(Posting.id.in_(sorted(postings)))).scalars())


def _touched_trainees(session) -> set[int]:
    """People whose passed courses may have changed in this flush."""
    try:
        from ..training.models import Attendance, Training
    except ImportError:
        return set()
    people: set[int] = set()
    courses: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Attendance):
            people.add(obj.person_id)
            people.update(p for p in inspect(obj).attrs.person_id.history.deleted if p)
        elif isinstance(obj, Training) and obj.id is not None:
            courses.add(obj.id)
    if courses:
        conn = session.connection()
        people.update(conn.execute(select(Attendance.person_id).where(Attendance.training_id.in_(courses))).scalars())
    people.discard(None)
    return people


def _touched_cared(session) -> set[int]:
    """People whose care records (accident insurance, health checks: gaps by day) changed."""
    try:
        from ..care.models import CareRecord
    except ImportError:
        return set()
    people: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CareRecord):
            people.add(obj.person_id)
            people.update(p for p in inspect(obj).attrs.person_id.history.deleted if p)
    people.discard(None)
    return people


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


def listen() -> None:
    """Keep the summaries current on every flush from now on. The dashboard blueprint
    calls this when it is registered (``views.py``); calling it again changes nothing."""
    listen_before_commit()
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


@dataclass
class Touched:
    """What a transaction's flushes changed, for ``settle`` to write before it commits."""

    areas: set[str] = field(default_factory=set)  # AreaSummary rows to recompute
    places: set[str] = field(default_factory=set)  # villages whose VillageStatus to recompute
    last: set[str] = field(default_factory=set)  # villages whose VillageSupportLast to recompute
    trainees: set[int] = field(default_factory=set)  # people whose PersonTrainingYear to recompute
    cared: set[int] = field(default_factory=set)  # people whose care records changed: their areas' gaps by day
    marks: set[str] = field(default_factory=set)  # AreaChange counters to raise besides those of the areas above
    changes: list[tuple[dict, int]] = field(default_factory=list)  # record values counted in (+1) or out (-1)
    # records confirmed, as (village, category, kind, record date), when nothing else moved
    # their villages' confirmed records: the latest confirmed support can only move forward
    added: list[tuple[str, str, str, date]] = field(default_factory=list)
    day_changes: dict[tuple, int] = field(default_factory=dict)  # (kind, area, day) -> change of the area's DayCount
    # villages and organizations re-keyed, with the flags and kind the summaries hold
    # them under (the first a flush saw: what was committed before this transaction)
    old_flags: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)
    old_kinds: dict[int, str] = field(default_factory=dict)


def _touched(session) -> Touched:
    return pending(session, "summaries", Touched)


def _after_flush(session, _ctx):
    trainees = _touched_trainees(session)
    cared = _touched_cared(session)
    places = _touched_places(session)
    areas = {area_of(code) for code in places | _touched_duty_places(session) | _touched_grades(session)}
    old_flags, old_kinds = _rekeyed(session)
    model = _record_model()
    changes: list[tuple[dict, int]] = []
    if model is not None:
        for obj in session.new:
            if isinstance(obj, model):
                changes.append((_current(obj), 1))
        for obj in session.dirty:
            if isinstance(obj, model):  # changed when a summarised field differs (not any column)
                old, new = _committed(obj), _current(obj)
                if old != new:
                    changes += [(old, -1), (new, 1)]
        for obj in session.deleted:
            if isinstance(obj, model):
                changes.append((_committed(obj), -1))
    # records entering or leaving confirmation, or submitted again (``submitted_at``), are
    # changes too: their areas' counts by day move by them (``settle``)
    marks = _touched_marks(session)
    if not (areas or changes or trainees or cared or old_kinds or old_flags or marks):
        return
    touched = _touched(session)
    touched.cared |= cared
    touched.marks |= marks
    touched.areas |= areas
    touched.places |= places
    touched.trainees |= trainees
    touched.changes += changes
    for code, flags in old_flags.items():
        touched.old_flags.setdefault(code, flags)
    for org_id, kind in old_kinds.items():
        touched.old_kinds.setdefault(org_id, kind)


def _touched_marks(session) -> set[str]:
    """Change markers a flush raises beyond its areas' own: a county's, city's or the
    province's own row (its name is a child's line of its parent's figures); every marker
    (``*``) for a model the coverage API's extras are computed from, and for a person who
    is or was a veteran (the veteran view is computed from the people, not the summaries)."""
    from ..people.models import Person
    from .sections import watched_models

    watched = watched_models()
    marks: set[str] = set()
    dirty = session.dirty
    for changed, objects in ((False, session.new), (True, dirty), (False, session.deleted)):
        for obj in objects:
            if isinstance(obj, Region) and obj.level != "village" and obj.code:
                marks.add(area_of(obj.code))
            elif watched and isinstance(obj, watched):
                marks.add(ANY)
            elif isinstance(obj, Person) and _veteran_moved(obj, changed):
                marks.add(ANY)
    return marks


def _veteran_moved(person, dirty: bool) -> bool:
    """Whether a person added, changed or deleted moves a figure of the veteran view: a
    veteran added or deleted, the flag changed, or a veteran's organization changed."""
    if not dirty:
        return bool(person.is_veteran)
    attrs = inspect(person).attrs
    return attrs.is_veteran.history.has_changes() or (bool(person.is_veteran)
                                                      and attrs.organization_id.history.has_changes())


def raise_everywhere_later(session) -> None:
    """Raise every change marker (``*``) before the transaction commits: for a bulk write
    through Core the listener does not see (a people import with veterans)."""
    _touched(session).marks.add(ANY)


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

_REBUILT_LATER = "summaries_rebuilt_later"  # session.info: a bulk job ends with rebuild_all


@contextmanager
def rebuilt_later(session):
    """Within: commits leave the summaries alone, because the job ends with
    ``rebuild_all`` (demo generation, whose last step it is): the per-transaction
    recomputation would be thrown away."""
    session.info[_REBUILT_LATER] = True
    try:
        yield
    finally:
        session.info.pop(_REBUILT_LATER, None)


@before_commit(10, "summaries")
def settle(session, pending_work: list[Touched]) -> None:
    """Write what the transaction's flushes changed into the summaries, once: lock its
    areas (and trainees), add the record changes to the rollups and to the counts by day
    and move re-keyed records, then recompute the villages' and areas' rows whose inputs
    moved: a record confirmed recomputes its village and area only when it moves the
    village's latest confirmed support (``_latest_moved``); a record entering or leaving
    confirmation moves its area's counts by day by itself, unless the area is recomputed
    anyway."""
    if session.info.get(_REBUILT_LATER):
        return
    touched = Touched()
    for part in pending_work:
        touched.areas |= part.areas
        touched.places |= part.places
        touched.last |= part.last
        touched.trainees |= part.trainees
        touched.cared |= part.cared
        touched.changes += part.changes
        touched.added += part.added
        for key, delta in part.day_changes.items():
            touched.day_changes[key] = touched.day_changes.get(key, 0) + delta
        for code, flags in part.old_flags.items():
            touched.old_flags.setdefault(code, flags)
        for org_id, kind in part.old_kinds.items():
            touched.old_kinds.setdefault(org_id, kind)
        touched.marks |= part.marks
    conn = session.connection()
    model = _record_model()
    confirmed = {c["village_code"] for c, _ in touched.changes if c["village_code"] and c["status"] == "confirmed"}
    confirmed |= {code for code, *_ in touched.added}
    pending_areas = {area_of(c["village_code"]) for c, _ in touched.changes
                     if c["village_code"] and c["status"] == "submitted"} | {a for _, a, _ in touched.day_changes}
    # the areas whose gaps by day may move: those of the postings, villages and duty
    # months changed, and of the people trained or cared for (a record moves none)
    gap_areas = set(touched.areas)
    if touched.trainees or touched.cared:
        gap_areas |= _areas_of_people(conn, touched.trainees | touched.cared)
    areas = gap_areas | {area_of(code) for code in touched.last}
    if model is not None and touched.old_kinds:  # their villages' latest confirmed support per kind moves
        areas |= {area_of(code) for code in _confirmed_villages_of(conn, model, touched.old_kinds)}
    if touched.old_kinds:  # and the figures by kind (AreaCut, DayCount) of the areas they work in
        areas |= _areas_of_orgs(conn, model, touched.old_kinds)
    # every area whose figures this transaction may change (``*``: an organization's kind
    # moves its records and pairings in any area)
    marks = areas | touched.marks | pending_areas | {area_of(c["village_code"]) for c, _ in touched.changes
                                                     if c["village_code"]}
    marks |= {area_of(code) for code in touched.old_flags.keys() | confirmed}
    if touched.old_kinds:
        marks.add(ANY)
    # locked before the latest confirmed support is read (a transaction confirming in the
    # same area meanwhile is waited for, and read), as before the areas are recomputed
    locked = areas | pending_areas | {area_of(code) for code in confirmed}
    lock_keys(conn, [(AREA_LOCKS, _area_key(area)) for area in sorted(locked)]
              + [(PERSON_LOCKS, person) for person in touched.trainees])
    if touched.trainees:
        refresh_person_training(conn, touched.trainees)
    _settle_rollups(session, touched)
    moved = _latest_moved(conn, touched.added)
    touched.last |= moved
    touched.places |= moved
    areas |= {area_of(code) for code in touched.last}
    if touched.last:
        refresh_last_confirmed(conn, touched.last)
    if touched.places:
        refresh_village_status(conn, touched.places)
    if areas:
        refresh_areas(conn, areas, gap_areas=gap_areas)  # with their counts and gaps by day
    add_day_changes(conn, {key: delta for key, delta in touched.day_changes.items()
                           if delta and key[1] not in areas})
    raise_markers(conn, marks)


def _settle_rollups(session, touched: Touched) -> None:
    """Add ``touched``'s record changes to the rollups and move its re-keyed records;
    note the villages whose latest confirmed support they may have changed, the records
    confirmed (``added``: their villages' latest support moves only if they are later)
    and the changes of the counts by day."""
    model = _record_model()
    if touched.changes:  # counted under the flags and kinds the summaries hold now, then re-keyed
        moved, added, days = apply_changes(session, touched.changes, touched.old_flags, touched.old_kinds)
        if touched.old_flags or touched.old_kinds:  # re-keyed too: recompute their villages
            moved |= {code for code, *_ in added}
            added = []
        touched.places |= moved
        touched.last |= moved
        touched.added += added
        for key, delta in days.items():
            touched.day_changes[key] = touched.day_changes.get(key, 0) + delta
    if model is not None and (touched.old_flags or touched.old_kinds):
        touched.last |= rekey(session, touched.old_flags, touched.old_kinds)
    touched.changes, touched.old_flags, touched.old_kinds = [], {}, {}


def _latest_moved(conn, added: list[tuple[str, str, str, date]]) -> set[str]:
    """The villages whose latest confirmed support (``VillageSupportLast``: overall, by
    category, by kind, by both) the records ``added`` to the confirmed move: a record
    dated later than the latest it counts under, or the first. A record dated no later
    moves none of them, so nothing computed from them (``VillageStatus``, the area rows)
    changes."""
    if not added:
        return set()
    last = VillageSupportLast
    held = {(code, category, kind): _as_date(day) for code, category, kind, day in conn.execute(
        _cached(("latest",), lambda: select(last.village_code, last.category, last.org_kind, last.last_confirmed_on)
                .where(last.village_code.in_(bindparam("codes", expanding=True)))),
        {"codes": sorted({code for code, *_ in added})})}
    moved = set()
    for code, category, kind, day in added:
        for key in ((code, ANY, ANY), (code, category, ANY), (code, ANY, kind), (code, category, kind)):
            have = held.get(key)
            if have is None or have < day:
                moved.add(code)
                break
    return moved


def _area_key(area: str) -> int:
    """An area's lock key: its township code without the three zeros (fits 32 bits)."""
    return int(area[:9])


def _confirmed_villages_of(conn, model, orgs: dict[int, str]) -> set[str]:
    return set(conn.execute(select(model.village_code).where(model.organization_id.in_(sorted(orgs)),
                                                             model.status == "confirmed").distinct()).scalars())


def _areas_of_orgs(conn, model, orgs: dict[int, str]) -> set[str]:
    """The areas of the organizations' postings (with their duty months), pairings and
    records awaiting confirmation: those whose figures by organization kind they are in."""
    ids = sorted(orgs)
    codes = set(conn.execute(select(Posting.region_code).where(Posting.organization_id.in_(ids)).distinct()).scalars())
    codes |= set(conn.execute(select(Pairing.region_code).where(Pairing.organization_id.in_(ids)).distinct()).scalars())
    if model is not None:
        codes |= set(conn.execute(select(model.village_code).where(model.organization_id.in_(ids),
                                                                    model.status == "submitted").distinct()).scalars())
    return {area_of(code) for code in codes if code}


def _areas_of_people(conn, people: set[int]) -> set[str]:
    codes = conn.execute(select(Posting.region_code).where(Posting.person_id.in_(sorted(people)),
                                                           Posting.is_active)).scalars()
    return {area_of(code) for code in codes if code}


def apply_changes(session, changes: list[tuple[dict, int]], old_flags: dict | None = None,
                  old_kinds: dict | None = None) -> tuple[set[str], list[tuple], dict[tuple, int]]:
    """Update the rollups. Return the villages whose latest confirmed date may have
    changed (a confirmed record changed or left: their ``VillageSupportLast`` and
    ``VillageStatus`` are the caller's), the records only added to the confirmed, as
    (village, category, kind, record date), of the other villages (which move their
    latest only if later: ``_latest_moved``), and the changes of the counts by day of
    records awaiting confirmation ((``DayCount.kind``, area, day) -> change).
    ``old_flags`` and ``old_kinds``: the villages and organizations this flush re-keys,
    whose records count under their old flags and kind until ``rekey`` moves them."""
    conn = session.connection()
    villages = {c["village_code"] for c, _ in changes}
    orgs = {c["organization_id"] for c, _ in changes}
    # the villages' flags and the organizations' kinds: one statement (the rows of one or
    # the other, told apart by which of code and id they carry)
    keys_of = _cached(("keys",), lambda: (
        select(Region.code, null().label("org"), Region.is_key, Region.is_poor, Region.is_relocation,
               null().label("kind"))
        .where(Region.code.in_(bindparam("codes", expanding=True)))
        .union_all(select(null(), Organization.id, null(), null(), null(), Organization.kind)
                   .where(Organization.id.in_(bindparam("ids", expanding=True))))))
    flags, kinds = {}, {}
    for code, org_id, is_key, is_poor, is_relocation, kind in conn.execute(
            keys_of, {"codes": sorted(villages, key=str), "ids": sorted(orgs, key=str)}):
        if code is not None:
            flags[code] = (bool(is_key), bool(is_poor), bool(is_relocation))
        else:
            kinds[org_id] = kind
    flags.update(old_flags or {})
    kinds.update(old_kinds or {})

    cells: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    touched_confirmed: set[str] = set()
    added: list[tuple] = []
    days: dict[tuple, int] = defaultdict(int)
    for values, sign in changes:
        code = values["village_code"]
        if code and values["status"] == "submitted" and values["submitted_at"] is not None:
            _day_change(days, code, values, kinds.get(values["organization_id"]),
                        flags.get(code, (False, False, False)), sign)
        day = values["record_date"]
        if code is None or day is None:
            continue
        if values["status"] == "confirmed":
            if sign > 0:
                added.append((code, values["category"], kinds.get(values["organization_id"], "other"), day))
            else:
                touched_confirmed.add(code)
        measures = (sign, sign * Decimal(values["amount"] or 0), sign * Decimal(values["amount_attracted"] or 0),
                    sign * Decimal(values["amount_in_kind"] or 0))
        _spread(cells, code, day.year, day.month, values["category"], kinds.get(values["organization_id"], "other"),
                flags.get(code, (False, False, False)), values["status"], measures)

    totals: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    for (region_code, level, year, month, category, _kind, *_flags, status), values in cells.items():
        cell = totals[(region_code, level, year, month, category, status)]
        for i in range(4):
            cell[i] += values[i]

    _add_to_cells(session, conn, SupportRollup, _ROLLUP_KEY, cells)
    _add_to_cells(session, conn, SupportTotal, _TOTAL_KEY, totals)
    _add_to_cells(session, conn, SupportCutTotal, _CUT_KEY, _cut_totals(cells))
    added = [entry for entry in added if entry[0] not in touched_confirmed]
    return touched_confirmed, added, {key: delta for key, delta in days.items() if delta}


def _day_change(days: dict, code: str, values: dict, org_kind: str | None, flags: tuple, sign: int) -> None:
    """Count a record awaiting confirmation in (+1) or out (-1) of its area's counts by
    day, as ``refresh_days`` counts it: by the day it was submitted, overall and under each
    filter it is in (``_day_cut_counts``: its kind, its category, each flag of its village)."""
    submitted = values["submitted_at"]
    # the day as the recount's SQL date() takes it: a date stored in the column is its own day
    area, day = area_of(code), submitted.date() if isinstance(submitted, datetime) else submitted
    cuts = [("org_kind", org_kind)] if org_kind is not None else []
    if values["category"] is not None:
        cuts.append(("category", values["category"]))
    cuts += [("flag", name) for name, flag in zip(_CUT_FLAGS, flags) if flag]
    days[("submitted", area, day)] += sign
    for cut, value in cuts:
        days[(day_kind("submitted", cut, value), area, day)] += sign


def _spread(cells: dict, code: str, year: int, month: int, category: str, kind: str, flags: tuple, status: str,
            measures) -> None:
    """Add a village's (count, amounts) to its rollup cells: each level, its month and the year."""
    for level, n in LEVEL_CUTS:
        region_code = code[:n] + "0" * (12 - n)
        for month_key in (month, YEAR_TOTAL):
            cell = cells[(region_code, level, year, month_key, category, kind, *flags, status)]
            for i in range(4):
                cell[i] += measures[i]


def rekey(session, old_flags: dict[str, tuple[bool, bool, bool]], old_kinds: dict[int, str]) -> set[str]:
    """Move the records of the villages whose flags changed and of the organizations
    whose kind changed from the rollup cells of their old flags and kind to those of the
    new: one grouped read of their records (by village and organization), one batch of
    upserts. ``SupportTotal`` has neither dimension; ``VillageSupportLast`` has the kind:
    returns the villages of a re-kind-ed organization's confirmed records, whose rows the
    caller recomputes."""
    conn = session.connection()
    by_village, by_org = _rekey_statements()
    groups: dict[tuple, tuple] = {}
    for stmt, name, keys in ((by_village, "villages", sorted(old_flags)), (by_org, "orgs", sorted(old_kinds))):
        for i in range(0, len(keys), 500):
            for code, org_id, year, month, category, status, kind, *rest in conn.execute(stmt, {name: keys[i:i + 500]}):
                groups[(code, org_id, year, month, category, status)] = (kind, *rest)  # a group read twice is one
    cells: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    kind_moved: set[str] = set()
    for (code, org_id, year, month, category, status), (kind, *rest) in groups.items():
        flags, (count, *amounts) = tuple(bool(f) for f in rest[:3]), rest[3:]
        measures = (count, *(Decimal(str(a)) for a in amounts))
        was_flags, was_kind = old_flags.get(code, flags), old_kinds.get(org_id, kind)
        _spread(cells, code, year, month, category, was_kind, was_flags, status, [-m for m in measures])
        _spread(cells, code, year, month, category, kind, flags, status, measures)
        if status == "confirmed" and was_kind != kind:
            kind_moved.add(code)
    _add_to_cells(session, conn, SupportRollup, _ROLLUP_KEY, cells)
    _add_to_cells(session, conn, SupportCutTotal, _CUT_KEY, _cut_totals(cells))
    return kind_moved


def _rekey_statements() -> tuple:
    """The records of some villages, and of some organizations, per village, organization
    and rollup cell, with the flags and kind they count under now."""
    def build():
        model = _record_model()
        year = extract("year", model.record_date).cast(Integer)
        month = extract("month", model.record_date).cast(Integer)
        keys = (model.village_code, model.organization_id, year, month, model.category, model.status,
                Organization.kind, Region.is_key, Region.is_poor, Region.is_relocation)
        base = (
            select(*keys, func.count(), func.coalesce(func.sum(model.amount), 0),
                   func.coalesce(func.sum(model.amount_attracted), 0), func.coalesce(func.sum(model.amount_in_kind), 0))
            .join(Organization, Organization.id == model.organization_id)
            .join(Region, Region.code == model.village_code)
            .group_by(*keys)
        )
        return (base.where(model.village_code.in_(bindparam("villages", expanding=True))),
                base.where(model.organization_id.in_(bindparam("orgs", expanding=True))))

    return _cached(("rekey",), build)


_ROLLUP_KEY = ("region_code", "level", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation",
               "status")
_TOTAL_KEY = ("region_code", "level", "year", "month", "category", "status")
_MEASURES = ("record_count", "amount", "amount_attracted", "amount_in_kind")
_CUT_KEY = ("region_code", "level", "year", "cut", "value", "status")
_CUT_FLAGS = ("key", "poor", "relocation")


def _cut_totals(cells: dict[tuple, list]) -> dict[tuple, list]:
    """``SupportCutTotal``'s cells of rollup cells (``_ROLLUP_KEY``: their year's, month 0):
    each counted under its category, its kind and each flag it has."""
    out: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    for (region_code, level, year, month, category, kind, *flags, status), values in cells.items():
        if month != YEAR_TOTAL:
            continue
        cuts = [("category", category), ("org_kind", kind)]
        cuts += [("flag", name) for name, flag in zip(_CUT_FLAGS, flags) if flag]
        for cut, value in cuts:
            cell = out[(region_code, level, year, cut, value, status)]
            for i in range(4):
                cell[i] += values[i]
    return out


def _add_to_cells(session, conn, model, key_columns, cells) -> None:
    """Add each cell's (count, amounts) to its summary row, creating it if needed, at the
    end of the transaction (``_add_last``): one upsert statement per table for all its
    cells, in the cells' order (on PostgreSQL each row stays locked to the end of the
    transaction: two transactions adding to the same cells take them in the same order,
    so neither waits on the other in a circle)."""
    later = _additions(session).cells.setdefault((model, key_columns), {})
    for key, measures in cells.items():
        cell = later.setdefault(key, [0, ZERO, ZERO, ZERO])
        for i in range(4):
            cell[i] += measures[i]


# The rows writers add to (the rollup's cells, the totals', the counts by day) include
# those above the areas: every writer of a province adds to the same province rows (and
# most to their city's), and on PostgreSQL a row an upsert has added to stays locked
# until the transaction ends, so a second writer waits there for the first to commit.
# Added at the start of a transaction's summaries, they were held through the
# recomputation of its areas and through its audit events: every write of the province
# ran one after the other (8 workers wrote no faster than 2, their database sessions
# waiting on one another's rows). Gathered instead and added after everything else (the
# audit step's order is 20), they are held for those upserts and the commit alone. Nothing
# a transaction recomputes reads them (its areas' own counts by day it recomputes are not
# among the additions), and the locks it takes still come in one order (its areas', its
# chains', these rows sorted), so no two transactions wait on each other in a circle.


@dataclass
class Additions:
    """The transaction's additions to the summaries' additive rows, for ``_add_last``."""

    cells: dict[tuple, dict[tuple, list]] = field(default_factory=dict)  # (model, key columns) -> cells
    days: dict[object, dict[tuple, int]] = field(default_factory=dict)  # table -> (kind, level, code, day) -> change


def _additions(session) -> Additions:
    return pending(session, "summary additions", Additions)


@before_commit(30, "summary additions")
def _add_last(session, parts: list[Additions]) -> None:
    """Add the transaction's changes (``_add_to_cells``, ``_add_days``) to the rollup, the
    totals, the cut totals, the counts by day and the gaps by day (the rows above the
    areas down to zero deleted): one upsert per table, each table's rows in key order."""
    conn = session.connection()
    cells: dict[tuple, dict[tuple, list]] = {}
    days: dict[object, dict[tuple, int]] = {}
    if len(parts) == 1:  # a transaction's one set of additions (a form's write): nothing to merge
        cells, days = parts[0].cells, parts[0].days
        parts = ()
    for part in parts:
        for target, found in part.cells.items():
            merged = cells.setdefault(target, {})
            for key, measures in found.items():
                cell = merged.setdefault(key, [0, ZERO, ZERO, ZERO])
                for i in range(4):
                    cell[i] += measures[i]
        for table, found in part.days.items():
            merged_days = days.setdefault(table, defaultdict(int))
            for key, delta in found.items():
                merged_days[key] += delta
    for model, key_columns in ((SupportRollup, _ROLLUP_KEY), (SupportTotal, _TOTAL_KEY),
                               (SupportCutTotal, _CUT_KEY)):
        rows = [(*key, *measures)
                for key, measures in sorted(cells.get((model, key_columns), {}).items(),
                                            key=lambda item: tuple(map(str, item[0])))
                if measures[0] != 0 or any(m != ZERO for m in measures[1:])]
        if rows:
            upsert_rows(conn, _upsert(conn.dialect, model, key_columns), (*key_columns, *_MEASURES), rows)
    for table in sorted(days, key=lambda table: table.name):
        rows = [(*key, delta) for key, delta in sorted(days[table].items()) if delta]
        if not rows:
            continue
        upsert_rows(conn, _day_upsert(conn.dialect, table), _DAY_COLUMNS, rows)
        # a count by day is never below zero, so only a change taken from it can bring it
        # down to zero; a gap by day's rows above the areas sum changes of either sign
        taken = sorted({code for _, _, code, _, delta in rows if delta < 0 or table is not DayCount.__table__})
        if taken:
            conn.execute(_zero_rows_delete(table), {"codes": taken})


@functools.cache
def _zero_rows_delete(table):
    """Delete the rows of ``table`` (by day, above the areas) of some regions (``codes``)
    whose count is down to zero: built once (a confirmation takes a record out of the
    counts by day at every write)."""
    t = table.c
    return table.delete().where(t.count == 0, t.region_code.in_(bindparam("codes", expanding=True)))


def _add_days(rows: dict[tuple, int], table=None) -> None:
    """Add changes to the rows by day above the areas ((kind, level, region code, day) ->
    change) of ``table`` (``DayCount``'s when None; ``GapDay``'s) at the end of the
    transaction (``_add_last``)."""
    later = _additions(db.session).days.setdefault(DayCount.__table__ if table is None else table, {})
    for key, delta in rows.items():
        if delta:
            later[key] = later.get(key, 0) + delta


def upsert_rows(conn, stmt, columns: tuple, rows: list[tuple]) -> None:
    """Run ``stmt`` (a ``core.queries.upsert`` of ``columns``) for each of ``rows`` (tuples of
    the columns' values, in order). On SQLite the rows go to the driver as they are, each
    value converted by its column type's own conversion: SQLAlchemy would build and
    convert a dict of parameters a row (about a third of a write's summary work, under
    the write lock). Elsewhere (PostgreSQL's driver names its parameters), or where the
    compiled statement does not take its parameters in that order, as dicts."""
    compiled = _positional(conn.dialect, stmt, columns)
    if compiled is None:
        conn.execute(stmt, [dict(zip(columns, row)) for row in rows])
        return
    sql, processors = compiled
    if processors:  # only the columns that have a conversion (the amounts), in place
        converted = []
        for row in rows:
            row = list(row)
            for i, process in processors:
                row[i] = process(row[i])
            converted.append(tuple(row))
        rows = converted
    conn.exec_driver_sql(sql, rows)


def _positional(dialect, stmt, columns: tuple) -> tuple[str, tuple] | None:
    """SQLite: ``stmt`` as the driver runs it, with one parameter a column of ``columns``
    in order, and (position, conversion) of the columns whose type converts a value; None elsewhere
    or in another order. Built once a statement."""
    if dialect.name != "sqlite":
        return None
    if stmt not in _POSITIONAL:
        compiled = stmt.compile(dialect=dialect)
        processors = getattr(compiled, "_bind_processors", None)
        _POSITIONAL[stmt] = (None if processors is None or tuple(compiled.positiontup or ()) != columns
                             else (compiled.string, tuple((i, processors[name]) for i, name in enumerate(columns)
                                                          if processors.get(name) is not None)))
    return _POSITIONAL[stmt]


_POSITIONAL: dict = {}


def _upsert(dialect, model, key_columns):
    """INSERT ... ON CONFLICT DO UPDATE adding the measures (``core.queries.upsert``)."""
    conflict = tuple(c for c in key_columns if c != "level")  # level follows from region_code
    return upsert(dialect, model.__table__, (*key_columns, *_MEASURES), conflict, add=_MEASURES)


def _last_confirmed_select(village_filter=None):
    """Latest confirmed record date per village, overall and per category/kind."""
    model = _record_model()
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


# Statements the summary writer runs on every flush that touches a village or an area,
# built once a day with the villages or areas as a parameter: building and caching a
# statement costs more than running it on a handful of villages.
_STATEMENTS: dict[tuple, tuple] = {}


def _cached(key: tuple, build):
    statements = _STATEMENTS.get(key)
    if statements is None:
        if len(_STATEMENTS) > 16:
            _STATEMENTS.clear()
        statements = _STATEMENTS[key] = build()
    return statements


def _village_statements(today: date, by_code: bool) -> tuple:
    def build():
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

    return _cached(("villages", today, by_code), build)


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
        for day in (_as_date(next_start), _as_date(next_end) + timedelta(days=1) if next_end is not None else None):
            earlier(areas, prefix, day)
            earlier(cuts, prefix, day)
    leaves = support_window() + timedelta(days=1)  # a date leaves the window the day after its last day in it
    for prefix, oldest_overall, oldest_any in conn.execute(latest, params):
        earlier(areas, prefix, _as_date(oldest_overall) + leaves if oldest_overall is not None else None)
        earlier(cuts, prefix, _as_date(oldest_any) + leaves if oldest_any is not None else None)
    return areas, cuts


def _valid_until_statements(today: date, cutoff: date, by_prefix: bool) -> tuple:
    def build():
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

    return _cached(("valid_until", today, cutoff, by_prefix), build)


def _as_date(value) -> date | None:
    """SQLite returns min() of a date column as text."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


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


# -- the counts by day (DayCount) ----------------------------------------------------------

DAY_LEVELS = (("county", 6), ("city", 4), ("province", 2))  # DayCount's levels above the areas
_DAY_KEY = ("kind", "level", "region_code", "day")
_DAY_COLUMNS = (*_DAY_KEY, "count")


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
                    new[(kind, prefix + "000", _as_date(day))] = int(count)
        new.update(_day_cut_counts(conn, cut_sources, params))
        _replace_area_rows(conn, table, chunk, new)


def _replace_area_rows(conn, table, chunk: list[str], new: dict[tuple, int]) -> None:
    """Make the areas' (``chunk``) rows of a table by day (``DayCount``, ``GapDay``) the
    ``new`` ones ((kind, area, day) -> count) and add each one's change to the rows of
    its county, city and province; nothing is written when they are the same."""
    t = table.c
    old = {(kind, code, _as_date(day)): int(count) for kind, code, day, count in conn.execute(
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
    _add_days(change, table)


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
    ``_add_days``)."""
    rows: dict[tuple, int] = defaultdict(int)
    for (kind, area, day), delta in changes.items():
        rows[(kind, "area", area, day)] += delta
        for level, n in DAY_LEVELS:
            rows[(kind, level, area[:n] + "0" * (12 - n), day)] += delta
    _add_days(rows)


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
            day, area = _as_date(day), prefix + "000"
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
    table, columns = DayCount.__table__, list(_DAY_COLUMNS)
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
        statements.append(table.insert().from_select(list(_DAY_COLUMNS), select(
            t.kind, literal(level), code, t.day, func.sum(t.count)).where(t.level == "area")
            .group_by(t.kind, code, t.day).having(func.sum(t.count) != 0)))
    return tuple(statements)


def _day_upsert(dialect, table):
    return upsert(dialect, table, _DAY_COLUMNS, _DAY_KEY, add=("count",))


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
    lock_keys(conn, [(AREA_LOCKS, _area_key(area)) for area in areas | {area_of(code) for code in villages}])
    if villages:
        refresh_village_status(conn, villages, today)
    if areas:
        refresh_areas(conn, areas, today)
    raise_markers(conn, None)
    return len(areas)


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


def count_records(conn, condition) -> list[tuple]:
    """The records ``condition`` selects, counted once per township cell and day of
    submission in SQL (the first step of ``add_records``), as plain rows. Reads only the
    records: a bulk import runs it on the worker thread that has just copied the records
    in (``bulk.inserting_many``'s ``then``), while the interpreter links their audit
    events. The day is SQL's date() of ``submitted_at``, as the counts by day take it
    (``_day_sources``); the records of one import share one."""
    model = _record_model()
    township = func.substr(model.village_code, 1, 9)
    year = extract("year", model.record_date).cast(Integer)
    month = extract("month", model.record_date).cast(Integer)
    keys = (township, year, month, model.category, Organization.kind, Region.is_key, Region.is_poor,
            Region.is_relocation, model.status, func.date(model.submitted_at))
    stmt = (
        select(*keys, func.count(), func.coalesce(func.sum(model.amount), 0),
               func.coalesce(func.sum(model.amount_attracted), 0), func.coalesce(func.sum(model.amount_in_kind), 0))
        .join(Organization, Organization.id == model.organization_id)
        .join(Region, Region.code == model.village_code)
        .where(condition)
        .group_by(*keys)
    )
    return [tuple(row) for row in conn.execute(stmt)]


def add_records(session, condition, counted: list[tuple] | None = None) -> None:
    """Add the records ``condition`` selects to the summaries in one step: for records
    written in bulk through Core, which the per-flush listener does not see. The records
    are counted once per township cell in SQL (``count_records``; ``counted``: its rows,
    when the caller has already run it on the same records in this transaction), the
    cells are carried up the levels as the listener carries each record, and each summary
    gets the listener's batch of upserts. The figures are the listener's for the same
    records, added one by one. The villages and areas are recomputed with the rest of
    the transaction's, before it commits.

    The rollup cells are taken under the flags and kinds stored now, so the record
    changes and re-keyings the transaction's flushes left pending go in first."""
    model = _record_model()
    session.flush()
    for touched in pending_all(session, "summaries"):
        _settle_rollups(session, touched)
    conn = session.connection()
    if counted is None:
        counted = count_records(conn, condition)
    cells: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    totals: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    days: dict[tuple, int] = defaultdict(int)
    confirmed = False
    for prefix, y, m, category, kind, is_key, is_poor, is_relocation, status, day, *measures in counted:
        measures = [measures[0], *(Decimal(str(v)) for v in measures[1:])]
        confirmed = confirmed or status == "confirmed"
        if status == "submitted" and day is not None:  # the listener's change of the counts by day, per cell
            _day_change(days, prefix + "000", {"submitted_at": _as_date(day), "category": category}, kind,
                        (bool(is_key), bool(is_poor), bool(is_relocation)), measures[0])
        for level, n in LEVEL_CUTS:
            region_code = prefix[:n] + "0" * (12 - n)
            for month_key in (m, YEAR_TOTAL):
                for cell in (cells[(region_code, level, y, month_key, category, kind, bool(is_key), bool(is_poor),
                                    bool(is_relocation), status)],
                             totals[(region_code, level, y, month_key, category, status)]):
                    for i in range(4):
                        cell[i] += measures[i]
    _add_to_cells(session, conn, SupportRollup, _ROLLUP_KEY, cells)  # the listener's own upserts
    _add_to_cells(session, conn, SupportTotal, _TOTAL_KEY, totals)
    _add_to_cells(session, conn, SupportCutTotal, _CUT_KEY, _cut_totals(cells))
    if confirmed:  # as the listener: the villages' latest confirmed support and their areas
        villages = set(conn.execute(select(model.village_code).where(condition, model.status == "confirmed")
                                    .distinct()).scalars())
        touched = _touched(session)
        touched.last |= villages
        touched.places |= villages
        touched.areas |= {area_of(code) for code in villages}
    if days:  # records awaiting confirmation: added to their areas' counts by day, before commit
        changes = _touched(session).day_changes
        for key, delta in days.items():
            changes[key] = changes.get(key, 0) + delta
    if counted:  # every area whose cells moved: its change marker, before commit
        _touched(session).marks |= {prefix + "000" for prefix, *_ in counted}


@functools.cache
def _rebuild_rollup_statements(model) -> tuple:
    """The rollup's INSERT ... SELECT statements: the townships' months from the records
    (the one pass over them), then each level's months from the months of the level below,
    then every level's year from its months. Summing the cells below gives the figures of
    summing the records (a cell is a sum of records), at a fraction of the reading. Built
    once (a statement and its cache key cost more Python than the rebuild of a small
    registry, which the summaries' tests do after every change)."""
    table, r = SupportRollup.__table__, SupportRollup
    columns = [*_ROLLUP_KEY, *_MEASURES]
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
    columns = [*_CUT_KEY, *_MEASURES]
    statements = []
    for model, cut, value, where in (
            (SupportTotal, "category", SupportTotal.category, None),
            (SupportRollup, "org_kind", SupportRollup.org_kind, None),
            *((SupportRollup, "flag", literal(name), getattr(SupportRollup, "is_" + name).is_(True))
              for name in _CUT_FLAGS)):
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
    model = _record_model()
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
    model = _record_model()
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
