"""The one rule of closing: a figure of year Y in a closed jurisdiction does not change.

``ensure_year_open(year, region_code, kind)`` is called by the single service function
(or shared check) that writes each kind of figure, so the form, the import, the API and the
CLI are refused alike. A close of a region covers everything under it (a province's close
covers its cities and counties); the year stays open for ``kind`` under a region only where
an approved reopening of that kind covers it and its deadline has not passed.

What a close freezes, kind by kind (each kind's service decides the year of its figures):
support records by their date, duty months by their month, village results and grades by
their year, incentives and fund entries by their date; enterprise projects (``projects``)
by the date of a progress entry (its figures, and the villages' confirmations of it) and by
the signing date (the project's own figures: planned investment, kind, villages); an entry
touching several villages is frozen when any of them is covered; care records (``care``)
by their date or the start of their period, at the place copied on the record.

Not frozen, on purpose: the rectification of inspection findings (a finding of 2026 is
rectified, and closed, in 2027: that is the point of rectification) and scorecards (a
scorecard is frozen by its own publish cycle, not by the year close); nor the rectification
and 销号 of an interview (约谈) already recorded.

The closes of a year are read once per transaction (an import checks thousands of rows)
and forgotten when the transaction ends, so a close committed meanwhile counts at once.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from ..accounts.models import User
from ..core.enums import PREFIX_LENGTH
from ..core.formatting import datetime_cn
from ..core.queries import column_rows
from ..core.rules import RuleViolation
from ..core.timeutil import local_today
from ..extensions import db
from ..regions.models import Region
from .models import KINDS, ReopenRequest, YearClose

_CACHE = "registry.closing.closes"


@dataclass(frozen=True)
class Window:
    """An approved reopening: ``kinds`` under ``prefix`` are open up to ``deadline``."""

    prefix: str
    kinds: frozenset[str]
    deadline: date

    def opens(self, code: str, kind: str, today: date) -> bool:
        return kind in self.kinds and code.startswith(self.prefix) and today <= self.deadline


@dataclass(frozen=True)
class Closed:
    """A close of a year, as the rule needs it (plain values: it outlives no transaction)."""

    id: int
    year: int
    region_code: str
    region_name: str
    prefix: str
    closed_by: str
    closed_at: datetime
    windows: tuple[Window, ...]

    def covers(self, code: str) -> bool:
        return code.startswith(self.prefix)

    def open_for(self, code: str, kind: str, today: date) -> bool:
        return any(w.opens(code, kind, today) for w in self.windows)

    def message(self, kind: str) -> str:
        """What a refused change reads, whatever the change was (a new entry, an edit, a
        village's confirmation), and where to turn: a reopening is asked for by the place
        closed (or one under it) and approved above it."""
        return (f"{self.year}年度已由{self.region_name}关账（{self.closed_by}，{datetime_cn(self.closed_at)}），"
                f"{KINDS.get(kind, '')}不能再新增或修改；{REOPEN_HINT}")


# where a user refused by a close turns (a unit or a village cannot ask for a reopening)
REOPEN_HINT = "确需补录或更正的，请联系当地乡镇或县市区申请重新开放"


def _prefix(code: str, level: str) -> str:
    return code[: PREFIX_LENGTH[level]]


def _load(year: int) -> tuple[Closed, ...]:
    # columns, not the entities: read on every write, mostly finding nothing, and the
    # entities' joined relationships cost more than the query
    rows = column_rows(_closes_statement(), {"year": year}).all()
    if not rows:
        return ()
    windows: dict[int, list[Window]] = {}
    for request, level in db.session.execute(
        select(ReopenRequest, Region.level).join(Region, Region.code == ReopenRequest.region_code).where(
            ReopenRequest.year_close_id.in_([row[0] for row in rows]), ReopenRequest.state == "approved")
    ):
        windows.setdefault(request.year_close_id, []).append(
            Window(_prefix(request.region_code, level), frozenset(request.kind_list), request.deadline))
    out = []
    for close_id, region_code, closed_at, level, name, display_name, username in rows:
        who = (display_name or username) if username is not None else "系统"
        out.append(Closed(close_id, year, region_code, name, _prefix(region_code, level), who,
                          closed_at, tuple(windows.get(close_id, ()))))
    # the highest level first: its close is the one a message names
    return tuple(sorted(out, key=lambda c: len(c.prefix)))


@functools.cache
def _closes_statement():
    """A year's closes, as ``_load`` reads them on every write: built once."""
    return (select(YearClose.id, YearClose.region_code, YearClose.closed_at, Region.level, Region.name,
                   User.display_name, User.username)
            .join(Region, Region.code == YearClose.region_code)
            .outerjoin(User, User.id == YearClose.closed_by_id)
            .where(YearClose.year == bindparam("year"), YearClose.state == "closed"))


def closes_of(year: int) -> tuple[Closed, ...]:
    """Every close of ``year`` (highest level first), read once per transaction."""
    cache = db.session.info.setdefault(_CACHE, {})
    if year not in cache:
        cache[year] = _load(year)
    return cache[year]


@event.listens_for(Session, "after_transaction_end")
def _forget(session, transaction) -> None:
    session.info.pop(_CACHE, None)


class YearCloses(dict):
    """``closes_of`` by year, remembered by a caller that checks many rows in one
    transaction (an import): a year's closes are looked up once, not once per row."""

    def __missing__(self, year: int) -> tuple[Closed, ...]:
        found = self[year] = closes_of(year)
        return found


def blocking_close(year: int, region_code: str, kind: str, today: date | None = None, *,
                   closes: YearCloses | None = None) -> Closed | None:
    """The close that keeps ``kind`` of ``year`` at ``region_code`` frozen, if any."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of closed data: {kind}")
    closes = closes_of(year) if closes is None else closes[year]
    if not closes:  # most years: nothing closed, and no need to ask the clock (an import asks per row)
        return None
    today = today or local_today()
    for closed in closes:
        if closed.covers(region_code) and not closed.open_for(region_code, kind, today):
            return closed
    return None


def year_open(year: int, region_code: str, kind: str) -> bool:
    return blocking_close(year, region_code, kind) is None


def ensure_year_open(year: int | None, region_code: str | None, kind: str, field: str = "", *,
                     closes: YearCloses | None = None) -> None:
    """Refuse (``RuleViolation``) a change to ``kind`` of ``year`` at ``region_code`` when
    a close covers it; a missing year or place (caught by the caller's own checks) passes.
    ``closes``: a ``YearCloses`` kept by a caller checking many changes."""
    if year is None or not region_code:
        return
    closed = blocking_close(year, region_code, kind, closes=closes)
    if closed is not None:
        raise RuleViolation(closed.message(kind), field)


def ensure_year_open_for_any(year: int | None, region_codes, kind: str, field: str = "", *,
                             closes: YearCloses | None = None) -> None:
    """``ensure_year_open`` for one change that touches several places (a project's progress
    entry and its villages): refused when a close covers any of them; with more than one
    place the message names the covered one and says so."""
    codes = list(dict.fromkeys(c for c in region_codes if c))
    if year is None or not codes:
        return
    for code in codes:
        closed = blocking_close(year, code, kind, closes=closes)
        if closed is None:
            continue
        message = closed.message(kind)
        if len(codes) > 1:
            region = db.session.get(Region, code)
            name = f"{region.name}（{code}）" if region is not None else code
            message += f"（涉及{len(codes)}个村，其中{name}在关账范围内；涉及的村有一个在关账范围内即不能新增或修改）"
        raise RuleViolation(message, field)


def ensure_years_open(years, region_code: str | None, kind: str, field: str = "") -> None:
    """``ensure_year_open`` for each distinct year (an edit that may move a figure from one
    year to another touches both)."""
    for year in sorted({y for y in years if y is not None}):
        ensure_year_open(year, region_code, kind, field)
