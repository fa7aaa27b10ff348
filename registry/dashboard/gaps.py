"""The gaps worklist of a jurisdiction (DESIGN.md section 4): what policy asks for and is
missing, each line linking to the place to act. What counts (a first secretary, a backing
unit, recent support, overdue) is the coverage page's own definition (``definitions``).

Every line names its county and township (from the place's code), and a list can be
sorted by them (``sort``: county, township, or either with a leading "-" for descending).
``gap_rows`` streams the same lines for the export.

Lines that can be chased (催办: the overdue records) carry their chase state, shown in
the list and the export, and ``chase`` (a state of ``chase.services.STATES``) narrows
the worklist to such lines in that state."""
from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, url_for
from sqlalchemy import Date, bindparam, func, literal, literal_column, not_, or_, select
from sqlalchemy.orm import aliased

from ..chase.services import STATES as CHASE_STATES
from ..chase.services import record_state_clause, record_states
from ..core.enums import PREFIX_LENGTH
from ..core.formatting import date_cn, month_cn
from ..core.timeutil import local_today, to_local
from ..extensions import db
from ..people.models import Person, Posting
from ..regions.areas import Areas
from ..regions.models import Region
from . import gap_days
from .coverage import overdue_total
from .definitions import (
    later_postings,
    overdue_cutoff,
    status_priority,
    status_small_team,
    status_without_backing_unit,
    status_without_first_secretary,
    status_without_support,
    support_cutoff,
)
from .models import PersonTrainingYear, VillageStatus

# The postings that may succeed a line's posting (``later_postings``): one alias for every
# statement. A new alias of Posting was made for each statement built, and the first use
# of an alias adapts the mapper's columns to it, most of what building the line cost.
_SUCCESSOR = aliased(Posting)

GAP_KINDS = {
    "no_first_secretary": "重点帮扶村或脱贫村没有在岗第一书记",
    "no_backing_unit": "重点帮扶村或脱贫村没有后盾单位",
    "small_team": "工作队不足规定人数",
    "no_support": "近12个月没有已确认的帮扶",
    "no_pre_posting_training": "未按时参加岗前培训",
    "no_yearly_training": "本年度未参加培训",
    "low_days": "驻村天数不足",
    "overdue": "帮扶记录逾期未确认",
    "ending_no_successor": "90天内到期且无接替人选",
    "no_accident_insurance": "驻村干部没有在保的人身意外伤害保险",
    "no_health_check": "驻村干部本年度未体检",
}


SORTS = {"county": "县（市、区）", "township": "乡镇（街道）"}
CHASEABLE = ("overdue",)  # the kinds whose lines are chased (chase.services)


@dataclass
class GapList:
    kind: str
    label: str
    count: int
    items: list[dict] = field(default_factory=list)


def _within(region: Region, place, indexed: bool = True):
    """``region.within(place)``; not ``indexed``: the place's range kept from any index
    (``|| ''``), for a province, whose range holds nearly every row: SQLite otherwise
    starts from the province's places (the range passes to the joined ``region.code``) and
    looks each one up (26,084 look-ups), where a status index reads the rows at once."""
    return region.within(place if indexed else place + "")


def _village_gaps(region: Region, condition):
    """(the priority villages of ``region`` meeting ``condition`` on ``VillageStatus``,
    named and in code order; a statement counting them over ``VillageStatus`` alone)."""
    vs = VillageStatus
    where = (region.within(vs.code), status_priority(), condition)
    named = (select(vs.code, Region.name, vs.team_size.label("size")).join(Region, Region.code == vs.code)
             .where(*where).order_by(vs.code))
    return named, select(func.count()).select_from(vs).where(*where)


def _village_item(code: str, name: str, detail: str = "") -> dict:
    return {"subject": name, "code": code, "detail": detail, "url": url_for("regions.detail", code=code)}


_LIMIT, _OFFSET = bindparam("gap_limit"), bindparam("gap_offset")
_DERIVED: dict[tuple, tuple] = {}


def _derived(base, what: str, make):
    """``make(base)``, made once for a statement ``base`` that ``_BUILT`` keeps (the counts
    and pages of a kind, their limits bound: a new statement object would need its cache
    key made again, most of what running a small one costs)."""
    key = (id(base), what)
    kept = _DERIVED.get(key)
    if kept is None or kept[0] is not base:  # an id reused by another statement: made anew
        kept = _DERIVED[key] = (base, make(base))
        if len(_DERIVED) > 8 * _BUILT_KEPT:
            _DERIVED.pop(list(_DERIVED)[0], None)
    return kept[1]


def _count(stmt, params: dict, core=None) -> int:
    """Lines of a kind: counted on ``core`` (the same rows without the joins that only
    name them) when the kind has one, or taken from it when it carries the count (the
    gaps by day); a ``core`` that is a function gives the count."""
    if callable(core):
        return core()
    if core is not None and core[3] is not None:
        return core[3]
    stmt = core[0] if core is not None else stmt
    counting = _derived(stmt, "count", lambda s: select(func.count()).select_from(s.order_by(None).subquery()))
    return db.session.scalar(counting, params) or 0


def _page(stmt, core=None):
    """The shown lines of ``stmt`` (run with ``gap_limit`` and ``gap_offset``). With a
    ``core`` (the kind's rows over the posting table alone, in the same order; the postings
    named: person and place, in that order too; the rows again, steered to be read in that
    order), the page's ids are chosen over the postings alone and only those rows are
    named, instead of naming every line and then sorting them all."""
    if core is None or callable(core):
        return _derived(stmt, "page", lambda s: s.limit(_LIMIT).offset(_OFFSET))
    _rows, named, ordered, _counted = core
    return _derived(ordered, "page", lambda o: named.where(
        Posting.id.in_(select(o.limit(_LIMIT).offset(_OFFSET).subquery().c.id))))


def _posting_item(r, detail: str, when: date | None = None) -> dict:
    """A line about a posting ``r`` (a row with its id, person, place and role); what it
    carries besides the text is what the line's action needs (``actions``)."""
    return {"subject": f"{r.person}（{r.place}）", "detail": detail, "url": url_for("people.posting", posting_id=r.id),
            "date": when, "posting_id": r.id, "person_id": r.person_id, "role": r.role, "code": r.place_code,
            "planned_end": getattr(r, "planned_end", None)}


def _sorted(stmt, place: str, sort: str):
    """``stmt`` ordered by the county or township of its ``place`` column first."""
    key = sort.lstrip("-")
    if key not in SORTS:
        return stmt
    prefix = func.substr(stmt.selected_columns[place], 1, PREFIX_LENGTH[key])
    return stmt.order_by(None).order_by(prefix.desc() if sort.startswith("-") else prefix, *stmt._order_by_clauses)


def _counted_page(stmt, params: dict, limit: int, offset: int, core=None) -> tuple[int, list]:
    """(lines of a kind, the shown ones). A kind with a ``core`` is counted over it and
    its page read along the index of active postings by start (``_page``), which stops at
    the page's last line. The page of any other kind carries the count of every line (a
    window over the same rows): the lines are found once instead of once to count them
    and again to pick the page; only a page past the end counts apart."""
    paged = {**params, "gap_limit": limit, "gap_offset": offset}
    if not limit or core is not None:
        count = _count(stmt, params, core)
        # no list query for a kind with no line on this page (most kinds are empty once handled)
        return count, (db.session.execute(_page(stmt, core), paged).all()
                       if limit and count > offset else [])
    windowed = _derived(stmt, "window", lambda s: s.add_columns(func.count().over().label("gap_total"))
                        .limit(_LIMIT).offset(_OFFSET))
    rows = db.session.execute(windowed, paged).all()
    if rows:
        return rows[0].gap_total, rows
    return (_count(stmt, params) if offset else 0), []


def gaps(region: Region, kinds: list[str] | None = None, limit: int = 20, offset: int = 0,
         today: date | None = None, sort: str = "", chase: str = "") -> list[GapList]:
    pages = []
    sources, params = _sources(region, kinds, today, sort, chase)
    for kind, stmt, to_item, place, core in sources:
        count, rows = _counted_page(stmt, params, limit, offset, core)
        pages.append((kind, count, rows, to_item, place))
    # the county and township names of every shown line, in one query (no look-up per line)
    areas = Areas().preload(getattr(r, place) for _k, _n, rows, _t, place in pages for r in rows)
    out = []
    for kind, count, rows, to_item, place in pages:
        items = [areas.add(to_item(r), getattr(r, place)) for r in rows]
        if kind in CHASEABLE:
            states = record_states(i["record_id"] for i in items)
            for i in items:
                i["chase"] = states.get(i["record_id"])
        out.append(GapList(kind, GAP_KINDS[kind], count, items))
    return out


EXPORT_HEADERS = ("缺口类型", "对象", "县（市、区）", "乡镇（街道）", "区划代码", "相关日期", "说明", "催办情况")


def gap_counts(region: Region, kinds: list[str] | None = None, today: date | None = None,
               chase: str = "") -> dict[str, int]:
    """{kind: number of lines} of the worklist (of ``kinds``), in the order of ``GAP_KINDS``."""
    sources, params = _sources(region, kinds, today, "", chase, counting=True)
    return {kind: _count(stmt, params, core) for kind, stmt, _to_item, _place, core in sources}


def gap_count(region: Region, kinds: list[str] | None = None, today: date | None = None, chase: str = "") -> int:
    return sum(gap_counts(region, kinds, today, chase).values())


def gap_rows(region: Region, kinds: list[str] | None = None, sort: str = "", today: date | None = None,
             chase: str = "") -> Iterator[list]:
    """Every line of the worklist (of ``kinds``), kind by kind, as the export's rows; a line
    that can be chased ends with its chase state ("未催办", "已催办 2 次，最近：…；已升级至县级").

    The statements are made here, while ``region`` is loaded; the rows are read as they are
    iterated. A CSV download streams them after the view has returned, when the view's
    session is gone (its app context torn down; ``stream_with_context`` brings a new one),
    and ``region`` can no longer be read: the download broke off at its first row."""
    sources, params = _sources(region, kinds, today, sort, chase)
    return _gap_rows(sources, params)


def _gap_rows(sources: list[tuple], params: dict) -> Iterator[list]:
    areas = Areas()
    for kind, stmt, to_item, place, _core in sources:
        states = record_states() if kind in CHASEABLE else {}
        for r in db.session.execute(stmt, params, execution_options={"yield_per": 2000}):
            code = getattr(r, place)
            item = areas.add(to_item(r), code)
            state = states.get(item["record_id"]) if kind in CHASEABLE else None
            yield [GAP_KINDS[kind], item["subject"], item["county"], item["township"], code, item.get("date"),
                   item["detail"], (state.text if state else "未催办") if kind in CHASEABLE else ""]


# The values of the day the worklist's statements depend on, bound when they run
# (``_day_params``): the statements are built once per region, kinds, order and settings
# (``_built``) and kept for every later day. Building the eleven kinds' statements, and
# SQLAlchemy's cache keys of new statement objects, cost more than running most of them:
# about half of a day's counts in ``test_gap_days``, whose oracle asks for 1,369 days.
# Untyped: each takes the type of the column it is compared with.
_DAY = bindparam("gap_day")  # today
_YEAR = bindparam("gap_year")  # today's year
_YEAR_BOUNDS = (bindparam("gap_year_first"), bindparam("gap_year_last"))
_SUPPORT_SINCE = bindparam("gap_support_since")  # the support window's first day
_TRAINING_CLOSED_BEFORE = bindparam("gap_training_closed_before")  # pre-posting windows closed
_MONTHS_SINCE = bindparam("gap_months_since")  # the first duty month looked at
_SOON = bindparam("gap_soon")  # the last day of "ending soon"
# The same two days written into the statement's text when it runs: the postings ending
# soon are a tenth of a province's active ones, and PostgreSQL, which plans a statement
# psycopg has prepared once for any parameters, took a range of planned ends between two
# parameters for a handful of rows and sorted all 3,000 of them for a page of 10
# (11 ms; 0.2 ms with the days in its text, read in the page's order and stopping at 10).
_DAY_WRITTEN = bindparam("gap_day", literal_execute=True)
_SOON_WRITTEN = bindparam("gap_soon", literal_execute=True)
_OVERDUE_BEFORE = bindparam("gap_overdue_before")  # submitted before it: overdue
_BUILT: dict[tuple, list[tuple]] = {}
_BUILT_KEPT = 256  # regions x kinds x orders kept; the oldest goes first


def _day_params(today: date) -> dict:
    cfg = current_app.config
    from ..training.checks import pre_posting_closed_before

    return {"gap_day": today, "gap_year": today.year, "gap_year_first": date(today.year, 1, 1),
            "gap_year_last": date(today.year, 12, 31), "gap_support_since": support_cutoff(today),
            "gap_training_closed_before": pre_posting_closed_before(today),
            "gap_months_since": date(today.year - 1, today.month, 1),
            "gap_soon": today + timedelta(days=cfg["REGISTRY_ENDING_SOON_DAYS"]),
            "gap_overdue_before": overdue_cutoff()}


# the settings a statement holds as a constant (the others are in ``_day_params``)
_STATEMENT_SETTINGS = ("REGISTRY_MIN_TEAM_SIZE", "REGISTRY_MIN_DAYS_IN_VILLAGE", "REGISTRY_PRE_POSTING_TRAINING_DAYS",
                       "REGISTRY_YEARLY_TRAININGS")


def _sources(region: Region, kinds: list[str] | None, today: date | None, sort: str, chase: str = "",
             counting: bool = False) -> tuple[list[tuple], dict]:
    """((kind, statement, row -> item, name of the place-code column, core) of each
    wanted kind, the parameters to run them with). With ``chase``, a chase state: only
    the kinds that are chased, in that state. ``core``, for the kinds about active
    postings: (the same lines over the posting table alone: their ``id``, start and
    place, in the statement's order; the active postings named; the first again for a
    page; their count where the gaps by day hold it), which counts them and picks a
    page's ids without joining the person and the place of every line (``_count``,
    ``_page``); for the village kinds, a function counting them.

    Only the wanted kinds' statements are built, once (``_built``); ``counting`` (the
    counts alone are wanted): a kind about active postings has no statement, only its
    core (the lines over the postings alone) or, where the gaps by day hold it, only
    its count."""
    today = today or local_today()
    cfg = current_app.config
    params = _day_params(today)
    wanted = kinds or list(GAP_KINDS)
    if chase in CHASE_STATES:
        wanted = [k for k in wanted if k in CHASEABLE]
    # the lines about active postings of a province, city or county: counted from the
    # gaps by day (``gap_days``: a few rows instead of every active posting) while they hold
    by_day = (gap_days.counts(region, today) if any(k in gap_days.SETTINGS for k in wanted)
              else None) or {}
    key = (region.code, region.level, tuple(wanted), sort, chase if chase in CHASE_STATES else "", counting,
           tuple(cfg[name] for name in _STATEMENT_SETTINGS))
    built = _BUILT.get(key)
    if built is None:
        built = _build(region, wanted, sort, chase, counting)
        _BUILT[key] = built
        if len(_BUILT) > _BUILT_KEPT:
            _BUILT.pop(list(_BUILT)[0], None)  # list(): one step, even beside other threads
    items = _items(today, cfg)
    out = []
    for kind, stmt, place, core in built:
        if kind in POSTING_KINDS:
            rows, named, ordered = core
            core = (rows, named, ordered, by_day.get(kind))
        elif core is not None:  # a statement counting the kind's lines
            core = functools.partial(_scalar, core, params)
        elif kind == "overdue" and chase not in CHASE_STATES and region.level in ("province", "city", "county"):
            core = functools.partial(overdue_total, region)  # from the counts by day (DayCount)
        out.append((kind, stmt, items[kind], place, core))
    return out, params


def _scalar(stmt, params: dict) -> int:
    return db.session.scalar(stmt, params) or 0


# the kinds about active postings (their lines are postings: ``_build``'s ``add_active``)
POSTING_KINDS = ("no_pre_posting_training", "no_yearly_training", "no_accident_insurance", "no_health_check",
                 "ending_no_successor")


def _items(today: date, cfg) -> dict:
    """{kind: row -> the line shown}: the words of a line, on ``today``."""
    minimum, min_days = cfg["REGISTRY_MIN_TEAM_SIZE"], cfg["REGISTRY_MIN_DAYS_IN_VILLAGE"]

    def village(detail):
        return lambda r: _village_item(r.code, r.name, detail(r))

    return {
        "no_first_secretary": village(lambda r: "请选派第一书记"),
        "no_backing_unit": village(lambda r: "请明确后盾单位或驻村帮扶结对"),
        "small_team": village(lambda r: f"工作队{r.size}人，少于{minimum}人"),
        "no_support": village(lambda r: "近12个月没有村确认的帮扶记录"),
        "no_pre_posting_training":
            lambda r: _posting_item(r, f"{date_cn(r.start_date)}到岗，未按时参加岗前培训", r.start_date),
        "no_yearly_training": lambda r: _posting_item(r, f"{today.year}年尚未参加培训"),
        "low_days": lambda r: _posting_item(
            r, f"{month_cn(r.month)}在村{r.days_in_village}天（乡镇已核实），低于规定天数（每月{min_days}天，按在岗天数折算）",
            r.month),
        "overdue": lambda r: {
            "subject": f"{r.title}（{r.place}）", "detail": f"{date_cn(r.submitted_at)}提交，村尚未确认",
            "url": url_for("records.detail", record_id=r.id), "date": to_local(r.submitted_at).date(),
            "record_id": r.id, "code": r.place_code},
        "no_accident_insurance":
            lambda r: _posting_item(r, f"今天（{date_cn(today)}）没有在保的人身意外伤害保险，请派出机关办理"),
        "no_health_check": lambda r: _posting_item(r, f"{today.year}年尚未安排体检"),
        "ending_no_successor":
            lambda r: _posting_item(r, f"计划于{date_cn(r.planned_end)}期满，尚无接替人选", r.planned_end),
    }


def _build(region: Region, wanted: list[str], sort: str, chase: str, counting: bool) -> list[tuple]:
    """(kind, statement, place-code column, core) of each wanted kind, the day's values as
    parameters (``_day_params``): ``core`` is a statement counting a village kind's lines,
    (rows, named, ordered) for a kind about active postings (``counting``: rows only, no
    statement), or None."""
    cfg = current_app.config
    out = []

    def add(kind, stmt, place="code", core=None):
        if core is not None and kind in POSTING_KINDS:
            rows = _sorted(core, place, sort)
            # in the default order (by start), a range over every start steers SQLite's
            # planner to ix_posting_active_start, read in that order (no sort of every line)
            # (its bounds written into the text: as parameters, PostgreSQL's plan for any
            # parameters took the range for a narrow one)
            ordered = rows if sort else rows.where(Posting.start_date.between(
                literal(date.min, Date, literal_execute=True), literal(date.max, Date, literal_execute=True)))
            core = (rows, _sorted(postings("named"), place, sort), ordered)
        out.append((kind, _sorted(stmt, place, sort) if stmt is not None else None, place, core))

    def add_active(kind, build, build_core=None):
        """A kind about active postings: ``build(lines)`` is its statement over ``lines``,
        the active postings named (and ``build_core``'s, or else ``build``'s, over them
        alone: its ``core``), called only when the kind is wanted; to count it
        (``counting``) only the core is built."""
        if kind not in wanted:
            return
        alone = (build_core or build)(postings("alone"))
        if counting:  # the count alone: from the gaps by day, else over the postings alone
            out.append((kind, None, "place_code", (alone, None, None)))
            return
        add(kind, build(postings("named")), "place_code", alone)

    # the village lines: over the villages' summary (one row per village, kept exact on
    # every flush), counted without naming them (``_village_gaps``)
    for kind, condition in (
        ("no_first_secretary", status_without_first_secretary),
        ("no_backing_unit", lambda: status_without_backing_unit(_DAY)),
        ("small_team", lambda: status_small_team(cfg["REGISTRY_MIN_TEAM_SIZE"])),
        ("no_support", lambda: status_without_support(since=_SUPPORT_SINCE)),
    ):
        if kind in wanted:
            named, count = _village_gaps(region, condition())
            add(kind, named, core=count)

    lines: dict[str, object] = {}

    def postings(which: str):
        """The active postings of the region "named" (their person and place joined), or
        "alone" (over the posting table): built once, and only for a kind about them that
        is wanted."""
        if which not in lines:
            if which == "named":
                lines[which] = (
                    select(Posting.id, Person.name.label("person"), Region.name.label("place"), Posting.start_date,
                           Posting.planned_end, Posting.region_code.label("place_code"), Posting.person_id, Posting.role)
                    .join(Person, Person.id == Posting.person_id)
                    .join(Region, Region.code == Posting.region_code)
                    .where(Posting.is_active, region.within(Posting.region_code))
                    .order_by(Posting.start_date, Posting.id))
            else:
                lines[which] = (select(Posting.id, Posting.start_date, Posting.region_code.label("place_code"))
                                .where(Posting.is_active, region.within(Posting.region_code))
                                .order_by(Posting.start_date, Posting.id))
        return lines[which]

    try:
        from ..training.checks import missing_pre_posting, missing_yearly, yearly_required
    except ImportError:
        missing_pre_posting = missing_yearly = None
    if missing_pre_posting is not None:
        add_active("no_pre_posting_training",
                   lambda lines: missing_pre_posting(lines, closed_before=_TRAINING_CLOSED_BEFORE))

        add_active("no_yearly_training", lambda lines: missing_yearly(lines, _YEAR),
                   # counted (and a page's ids picked) through the passed courses per person and
                   # year (PersonTrainingYear, kept exact on every flush): one look-up per posting
                   # instead of joining its person's attendances to their courses
                   lambda core: core.where(~select(PersonTrainingYear.person_id).where(
                       PersonTrainingYear.person_id == Posting.person_id, PersonTrainingYear.year == _YEAR,
                       PersonTrainingYear.passed_courses >= yearly_required()).exists()))

    try:
        from ..duty.models import DutyMonth
    except ImportError:
        DutyMonth = None
    if DutyMonth is not None and "low_days" in wanted:
        # a province's months are read along ix_duty_month_status_list (the status, then the
        # months since: a range bounded on both sides steers SQLite to it, where it would
        # otherwise scan every posting), not village by village (``_within``); full scale,
        # no month checked yet: 7-8 ms -> 0.002 ms
        province = region.level == "province"
        months = DutyMonth.month.between(_MONTHS_SINCE, date.max) if province else DutyMonth.month >= _MONTHS_SINCE
        add("low_days",
            select(DutyMonth.posting_id.label("id"), DutyMonth.month, DutyMonth.days_in_village,
                   Person.name.label("person"), Region.name.label("place"), DutyMonth.region_code.label("place_code"),
                   Posting.person_id, Posting.role)
            .join(Posting, Posting.id == DutyMonth.posting_id)
            .join(Person, Person.id == Posting.person_id)
            .join(Region, Region.code == DutyMonth.region_code)
            # a duty month carries its posting's village: no join needed to narrow by region.
            # Only months the township has verified (已核实): until then the days are the
            # filer's claim, flagged on the township's 待核实 list (duty.index), not a gap.
            .where(_within(region, DutyMonth.region_code, not province), months, DutyMonth.short_clause(),
                   DutyMonth.status == literal_column("'checked'"))
            .order_by(DutyMonth.month.desc(), Posting.id),
            "place_code")

    try:
        from ..records.models import SupportRecord
    except ImportError:
        SupportRecord = None
    if SupportRecord is not None and "overdue" in wanted:
        s = SupportRecord
        # a province holds nearly every pending record: its page (in the default order, not
        # narrowed by chase state) is read along ix_support_record_status_submitted by
        # submission and stops at its last line, instead of sorting all its overdue records
        # (full scale: 12 ms -> 0.04 ms); below a province the range is the selective part
        # (a city of 237 overdue records would read 2.6 ms along the submissions, not ~1 ms).
        along = region.level == "province" and not sort and not chase
        add("overdue",
            select(s.id, s.title, s.submitted_at, Region.name.label("place"), s.village_code.label("place_code"))
            .join(Region, Region.code == s.village_code)
            # a literal status, so the partial index ix_support_record_pending serves it
            .where(s.status == literal_column("'submitted'"), s.submitted_at < _OVERDUE_BEFORE,
                   _within(region, s.village_code, not along),
                   *([record_state_clause(s.id, chase)] if chase in CHASE_STATES else []))
            .order_by(s.submitted_at),
            "place_code")

    try:
        from ..care.services import uninsured, unchecked
    except ImportError:
        uninsured = unchecked = None
    if uninsured is not None:
        add_active("no_accident_insurance", lambda lines: uninsured(lines, _DAY))
        add_active("no_health_check", lambda lines: unchecked(lines, year_bounds=_YEAR_BOUNDS))

    def ending(stmt):
        successor = _SUCCESSOR
        return stmt.where(Posting.planned_end.between(_DAY_WRITTEN, _SOON_WRITTEN)).where(
            not_(later_postings(successor).where(or_(successor.is_active, successor.end_date > _DAY_WRITTEN)).exists())
        )

    add_active("ending_no_successor", ending)
    return out


__all__ = ["CHASEABLE", "EXPORT_HEADERS", "GAP_KINDS", "SORTS", "GapList", "gap_count", "gap_counts", "gap_rows", "gaps"]
