"""Keeping the support summaries current.

Every flush that adds, changes or deletes a ``SupportRecord`` updates ``SupportRollup``
and ``VillageSupportLast`` in the same transaction (an ``after_flush`` listener), so no
service can forget it and a rolled-back change rolls its summary back too. So does a
flush that changes what those rows are keyed on, a village's flags or an organization's
kind: the records of that village or organization move from their old cells to their
new ones (``rekey``). Bulk loads that bypass the ORM (the benchmark) call
``rebuild.rebuild_all``; so does ``flask dashboard rebuild``, the reference the tests hold the
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

The writer is in five modules, each about one thing: this one notes what each flush
changed and settles it before commit (the record changes added to the rollup cells,
re-keyed records moved, the villages and areas to recompute chosen); ``additions``
gathers what a transaction adds to the additive rows and writes it last;
``recompute`` recomputes chosen villages and areas from the rows (and, daily, those
that time has outdated); ``day_counts`` keeps the counts by day; ``rebuild`` rebuilds
every summary from scratch.
"""
from __future__ import annotations

import functools
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Integer, bindparam, event, extract, func, inspect, null, select
from sqlalchemy.orm import Session

from ..core.database import (AREA_LOCKS, PERSON_LOCKS, before_commit, listen_before_commit, lock_keys, pending,
                             pending_all)
from ..core.queries import as_date
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from .additions import CUT_FLAGS, CUT_KEY, ROLLUP_KEY, TOTAL_KEY, ZERO, add_to_cells, cut_totals, record_model
from .day_counts import add_day_changes, day_kind
from .models import (ANY, LEVEL_CUTS, YEAR_TOTAL, SupportCutTotal, SupportRollup, SupportTotal, VillageSupportLast,
                     area_of)
from .recompute import (area_key, raise_markers, refresh_areas, refresh_last_confirmed, refresh_person_training,
                        refresh_village_status)


_FIELDS = ("village_code", "record_date", "category", "organization_id", "status",
           "amount", "amount_attracted", "amount_in_kind", "submitted_at")


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
    model = record_model()
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
    model = record_model()
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
    lock_keys(conn, [(AREA_LOCKS, area_key(area)) for area in sorted(locked)]
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
    model = record_model()
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
    held = {(code, category, kind): as_date(day) for code, category, kind, day in conn.execute(
        _latest_statement(), {"codes": sorted({code for code, *_ in added})})}
    moved = set()
    for code, category, kind, day in added:
        for key in ((code, ANY, ANY), (code, category, ANY), (code, ANY, kind), (code, category, kind)):
            have = held.get(key)
            if have is None or have < day:
                moved.add(code)
                break
    return moved


@functools.cache
def _latest_statement():
    """The latest confirmed support of some villages (``codes``): every row of theirs."""
    last = VillageSupportLast
    return (select(last.village_code, last.category, last.org_kind, last.last_confirmed_on)
            .where(last.village_code.in_(bindparam("codes", expanding=True))))


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
    keys_of = _keys_statement()
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

    add_to_cells(session, conn, SupportRollup, ROLLUP_KEY, cells)
    add_to_cells(session, conn, SupportTotal, TOTAL_KEY, totals)
    add_to_cells(session, conn, SupportCutTotal, CUT_KEY, cut_totals(cells))
    added = [entry for entry in added if entry[0] not in touched_confirmed]
    return touched_confirmed, added, {key: delta for key, delta in days.items() if delta}


@functools.cache
def _keys_statement():
    """The flags of some villages (``codes``) and the kinds of some organizations
    (``ids``): the rows of one or the other, told apart by which of code and id they carry."""
    return (select(Region.code, null().label("org"), Region.is_key, Region.is_poor, Region.is_relocation,
                   null().label("kind"))
            .where(Region.code.in_(bindparam("codes", expanding=True)))
            .union_all(select(null(), Organization.id, null(), null(), null(), Organization.kind)
                       .where(Organization.id.in_(bindparam("ids", expanding=True)))))


def _day_change(days: dict, code: str, values: dict, org_kind: str | None, flags: tuple, sign: int) -> None:
    """Count a record awaiting confirmation in (+1) or out (-1) of its area's counts by
    day, as ``day_counts.refresh_days`` counts it: by the day it was submitted, overall and under each
    filter it is in (``_day_cut_counts``: its kind, its category, each flag of its village)."""
    submitted = values["submitted_at"]
    # the day as the recount's SQL date() takes it: a date stored in the column is its own day
    area, day = area_of(code), submitted.date() if isinstance(submitted, datetime) else submitted
    cuts = [("org_kind", org_kind)] if org_kind is not None else []
    if values["category"] is not None:
        cuts.append(("category", values["category"]))
    cuts += [("flag", name) for name, flag in zip(CUT_FLAGS, flags) if flag]
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
    add_to_cells(session, conn, SupportRollup, ROLLUP_KEY, cells)
    add_to_cells(session, conn, SupportCutTotal, CUT_KEY, cut_totals(cells))
    return kind_moved


@functools.cache
def _rekey_statements() -> tuple:
    """The records of some villages, and of some organizations, per village, organization
    and rollup cell, with the flags and kind they count under now."""
    model = record_model()
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


def count_records(conn, condition) -> list[tuple]:
    """The records ``condition`` selects, counted once per township cell and day of
    submission in SQL (the first step of ``add_records``), as plain rows. Reads only the
    records: a bulk import runs it on the worker thread that has just copied the records
    in (``bulk.inserting_many``'s ``then``), while the interpreter links their audit
    events. The day is SQL's date() of ``submitted_at``, as the counts by day take it
    (``day_counts._day_sources``); the records of one import share one."""
    model = record_model()
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
    model = record_model()
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
            _day_change(days, prefix + "000", {"submitted_at": as_date(day), "category": category}, kind,
                        (bool(is_key), bool(is_poor), bool(is_relocation)), measures[0])
        for level, n in LEVEL_CUTS:
            region_code = prefix[:n] + "0" * (12 - n)
            for month_key in (m, YEAR_TOTAL):
                for cell in (cells[(region_code, level, y, month_key, category, kind, bool(is_key), bool(is_poor),
                                    bool(is_relocation), status)],
                             totals[(region_code, level, y, month_key, category, status)]):
                    for i in range(4):
                        cell[i] += measures[i]
    add_to_cells(session, conn, SupportRollup, ROLLUP_KEY, cells)  # the listener's own upserts
    add_to_cells(session, conn, SupportTotal, TOTAL_KEY, totals)
    add_to_cells(session, conn, SupportCutTotal, CUT_KEY, cut_totals(cells))
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
