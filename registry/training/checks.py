"""The training rules of DESIGN.md section 5, in one place.

- Pre-posting training (岗前培训): a passed attendance at a course of kind ``pre_posting``
  whose start date lies within ``REGISTRY_PRE_POSTING_TRAINING_DAYS`` (90) days of the
  posting's start, *before or after* it. Cadres are usually trained shortly before they
  leave for the village, and provinces also run the course in the first weeks of a new
  round, so both count. A course taken only after the window is "late": still a gap.
- Yearly training: at least ``REGISTRY_YEARLY_TRAININGS`` (1) passed attendances at
  courses (any kind) starting in the calendar year.

Missing training is a gap to show, never an error that blocks a save.

Three ways to ask, all agreeing with each other:
- one posting: ``pre_posting_check(posting)``, ``yearly_check(posting.person_id, year)``,
  ``posting_training_check(posting)``;
- many postings at once (two queries, whatever their number):
  ``posting_training_checks(postings)`` -> {posting_id: PostingTrainingCheck};
- in SQL, for counts and worklists over a whole region: ``pre_posting_trained_clause()``,
  ``yearly_trained_clause(year)``, ``missing_pre_posting(stmt)``, ``missing_yearly(stmt, year)``
  (conditions correlated to ``Posting``).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Date, Integer, Select, and_, exists, extract, literal, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..core.formatting import date_cn
from ..core.timeutil import local_today
from ..extensions import db
from ..people.models import Posting
from .models import Attendance, Training

PRE_POSTING = "pre_posting"
_CHUNK = 900  # ids per IN list (well under SQLite's variable limit)


def window_days() -> int:
    return int(current_app.config["REGISTRY_PRE_POSTING_TRAINING_DAYS"])


def yearly_required() -> int:
    return int(current_app.config["REGISTRY_YEARLY_TRAININGS"])


def pre_posting_window(start: date, days: int | None = None) -> tuple[date, date]:
    days = window_days() if days is None else days
    return start - timedelta(days=days), start + timedelta(days=days)


# -- results -------------------------------------------------------------------------------

PRE_POSTING_LABELS = {
    "done": "已按时参加岗前培训",
    "due": "岗前培训待完成",
    "late": "岗前培训未按时完成",
    "missing": "未参加岗前培训",
}


@dataclass(frozen=True)
class PrePostingCheck:
    status: str  # done / due (window still open) / late (only after the window) / missing
    window: tuple[date, date]
    training_date: date | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done"

    @property
    def gap(self) -> bool:
        return self.status in ("late", "missing")

    @property
    def label(self) -> str:
        return PRE_POSTING_LABELS[self.status]

    @property
    def detail(self) -> str:
        lo, hi = self.window
        if self.status == "done":
            return f"{date_cn(self.training_date)}参加"
        if self.status == "late":
            return f"{date_cn(self.training_date)}才参加，应在{date_cn(lo)}至{date_cn(hi)}之间"
        if self.status == "due":
            return f"应在{date_cn(hi)}前完成"
        return f"应在{date_cn(lo)}至{date_cn(hi)}之间参加"


@dataclass(frozen=True)
class YearlyCheck:
    year: int
    count: int
    required: int
    in_progress: bool  # the year is not over yet

    @property
    def ok(self) -> bool:
        return self.count >= self.required

    @property
    def gap(self) -> bool:
        return not self.ok

    @property
    def label(self) -> str:
        if self.ok:
            return f"{self.year}年已参加培训{self.count}次"
        if self.in_progress:
            return f"{self.year}年尚未完成培训（{self.count}/{self.required}次）"
        return f"{self.year}年未完成培训（{self.count}/{self.required}次）"


@dataclass(frozen=True)
class PostingTrainingCheck:
    posting_id: int
    pre_posting: PrePostingCheck
    yearly: YearlyCheck

    @property
    def gap(self) -> bool:
        return self.pre_posting.gap or self.yearly.gap


# -- pure rules over a person's passed trainings -----------------------------------------------
# ``trainings`` is a list of (course start date, course kind) of the person's passed attendances.


def evaluate_pre_posting(start: date, trainings: Iterable[tuple[date, str]], today: date | None = None,
                         days: int | None = None) -> PrePostingCheck:
    today = today or local_today()
    lo, hi = pre_posting_window(start, days)
    dates = sorted(d for d, kind in trainings if kind == PRE_POSTING)
    in_window = [d for d in dates if lo <= d <= hi]
    if in_window:
        return PrePostingCheck("done", (lo, hi), in_window[0])
    after = [d for d in dates if d > hi]
    if after:
        return PrePostingCheck("late", (lo, hi), after[0])
    if today <= hi:
        return PrePostingCheck("due", (lo, hi))
    return PrePostingCheck("missing", (lo, hi))


def evaluate_yearly(year: int, trainings: Iterable[tuple[date, str]], today: date | None = None,
                    required: int | None = None) -> YearlyCheck:
    today = today or local_today()
    required = yearly_required() if required is None else required
    count = sum(1 for d, _ in trainings if d.year == year)
    return YearlyCheck(year, count, required, in_progress=year >= today.year)


# -- loading -------------------------------------------------------------------------------------


def trainings_by_person(person_ids: Iterable[int]) -> dict[int, list[tuple[date, str]]]:
    """{person id: [(course start, kind), ...]} of passed attendances; one query per 900 people."""
    ids = sorted(set(person_ids))
    out: dict[int, list[tuple[date, str]]] = defaultdict(list)
    for i in range(0, len(ids), _CHUNK):
        chunk = ids[i : i + _CHUNK]
        rows = db.session.execute(
            select(Attendance.person_id, Training.start_date, Training.kind)
            .join(Training, Training.id == Attendance.training_id)
            .where(Attendance.person_id.in_(chunk), Attendance.passed.is_(True))
        )
        for person_id, start, kind in rows:
            out[person_id].append((start, kind))
    return out


def pre_posting_check(posting: Posting, today: date | None = None) -> PrePostingCheck:
    trainings = trainings_by_person([posting.person_id]).get(posting.person_id, [])
    return evaluate_pre_posting(posting.start_date, trainings, today)


def yearly_check(person_id: int, year: int | None = None, today: date | None = None) -> YearlyCheck:
    today = today or local_today()
    trainings = trainings_by_person([person_id]).get(person_id, [])
    return evaluate_yearly(year or today.year, trainings, today)


def posting_training_check(posting: Posting, year: int | None = None, today: date | None = None) -> PostingTrainingCheck:
    return posting_training_checks([posting], year, today)[posting.id]


def posting_training_checks(postings: Iterable[Posting], year: int | None = None,
                            today: date | None = None) -> dict[int, PostingTrainingCheck]:
    """Both checks for many postings with one query per 900 people (no query per posting).

    ``postings`` may be Posting objects or rows with ``id``, ``person_id`` and ``start_date``.
    """
    postings = list(postings)
    today = today or local_today()
    year = year or today.year
    days, required = window_days(), yearly_required()
    trainings = trainings_by_person(p.person_id for p in postings)
    return {
        p.id: PostingTrainingCheck(
            p.id,
            evaluate_pre_posting(p.start_date, trainings.get(p.person_id, []), today, days),
            evaluate_yearly(year, trainings.get(p.person_id, []), today, required),
        )
        for p in postings
    }


# -- SQL: for counts and worklists over a region -------------------------------------------------


class days_between(FunctionElement):
    """``days_between(a, b)``: whole days from date ``b`` to date ``a`` (a - b)."""

    type = Integer()
    name = "days_between"
    inherit_cache = True


@compiles(days_between)
def _days_between_default(element, compiler, **kw):  # PostgreSQL: date - date is an integer
    a, b = list(element.clauses)
    return f"({compiler.process(a, **kw)} - {compiler.process(b, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    a, b = list(element.clauses)
    return f"CAST(julianday({compiler.process(a, **kw)}) - julianday({compiler.process(b, **kw)}) AS INTEGER)"


def pre_posting_trained_clause(days: int | None = None):
    """Condition on ``Posting``: its person passed a pre-posting course within the window."""
    days = window_days() if days is None else days
    return exists(
        select(Attendance.id)
        .join(Training, Training.id == Attendance.training_id)
        .where(
            Attendance.person_id == Posting.person_id,
            Attendance.passed.is_(True),
            Training.kind == PRE_POSTING,
            days_between(Training.start_date, Posting.start_date).between(-days, days),
        )
    )


def yearly_trained_clause(year: int, required: int | None = None):
    """Condition on ``Posting``: its person passed at least ``required`` courses in ``year``.

    Read from the passed courses per person and year (``PersonTrainingYear``, kept by the
    summary writer with every attendance and course, as the coverage page's trained share
    reads them): one row per posting, where counting each posting's attendances joined to
    their courses was a subquery per posting (a province's worklist ran it 10,000 times,
    about a second on PostgreSQL)."""
    from ..dashboard.models import PersonTrainingYear as t

    required = yearly_required() if required is None else required
    if required <= 0:
        return true()
    return exists(select(t.person_id).where(t.person_id == Posting.person_id, t.year == year,
                                            t.passed_courses >= required))


def missing_pre_posting(stmt: Select, today: date | None = None, days: int | None = None, *,
                        closed_before=None) -> Select:
    """Limit a select over ``Posting`` to postings whose window has closed without a
    pre-posting course in it (the gap; "late" ones are included). ``closed_before``: the
    first start whose window is still open on ``today`` (``pre_posting_closed_before``),
    given as a bound parameter where the statement is kept for other days."""
    days = window_days() if days is None else days
    if closed_before is None:
        closed_before = pre_posting_closed_before(today or local_today(), days)
    return stmt.where(Posting.start_date < closed_before, ~pre_posting_trained_clause(days))


def pre_posting_closed_before(today: date, days: int | None = None) -> date:
    """Postings started before this day have had their pre-posting window close by ``today``."""
    return today - timedelta(days=window_days() if days is None else days)


def missing_yearly(stmt: Select, year: int | None = None) -> Select:
    """Limit a select over ``Posting`` to postings whose person lacks this year's training."""
    year = local_today().year if year is None else year  # or a bound parameter (no truth value)
    return stmt.where(~yearly_trained_clause(year))


def closing_courses(start: date, which: str, today: date | None = None) -> Select:
    """The courses a passed attendance at which would close a posting's gap ``which``: for
    ``pre_posting``, the pre-posting courses within the window of the posting's ``start``;
    for ``yearly``, any course of this year. Only courses that have begun (attendance is
    recorded once a course has begun)."""
    today = today or local_today()
    if which == "pre_posting":
        lo, hi = pre_posting_window(start)
        return select(Training).where(Training.kind == PRE_POSTING, Training.start_date.between(lo, min(hi, today)))
    return select(Training).where(Training.start_date.between(date(today.year, 1, 1), today))


def active_in_year(year: int):
    """Condition on ``Posting``: the posting was active at some time in ``year``. The
    year's first and last days are written into the statement: planned for any dates,
    PostgreSQL counted a province's ungraded postings twice as slowly (bench/plan_traps.py),
    and a statement per year is a handful."""
    return and_(Posting.start_date <= literal(date(year, 12, 31), Date, literal_execute=True),
                Posting.is_active | (Posting.end_date >= literal(date(year, 1, 1), Date, literal_execute=True)))


def active_in_years(year):
    """``active_in_year`` for a column of years (``year``: a SQL expression), compared by
    year, the same rule: begun by the year's last day (begun in or before the year), and
    not ended or ended on or after its first day (ended in or after the year). For the
    summaries, which count every year of every posting in one statement
    (``dashboard.cuts.year_figures``); a page asking about one year uses ``active_in_year``,
    whose dates the index on them can read."""
    return and_(extract("year", Posting.start_date) <= year,
                Posting.is_active | (extract("year", Posting.end_date) >= year))
