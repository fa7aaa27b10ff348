"""Keyset ("seek") paging for lists that grow to province scale.

A list is a scoped, filtered ``Select`` with a sort order given as ``Key`` s that end in a
unique column (the id), so every row has one place. A page is the next ``per_page`` rows
after (or before) the row whose key values a link carries: ``?after=<cursor>`` or
``?before=<cursor>``. Nothing is skipped by OFFSET, so page 2,000 costs what page 2 costs,
and rows added or removed meanwhile never make a row show twice or go missing.

There is no COUNT over a large set: the count stops at ``COUNT_LIMIT`` + 1 rows, so a page
says "共 N 条" when N is at most ``COUNT_LIMIT`` and "超过 10,000 条" otherwise.

A cursor only narrows the statement it is given (which already holds the user's scope and
filters), so a crafted one can never reach a row outside them. One that cannot be read
(tampered, truncated, of the wrong types) is ignored: the list starts at its first page.

SQLite keeps no statistics of value ranges, so it takes every range condition (such as
the region range of the user's scope) to be selective and would rather sort the whole
range than walk an index in the list's order. When the set is large, the walk is what is
cheap: ``paginate`` then adds an always-true range on the first sort key (the bounds of
its type), which makes the ordered index the planner's choice. PostgreSQL, which keeps
histograms, plans this by itself and gets no such condition.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, Select, and_, case, func, or_, select, type_coerce

from ..extensions import db
from .database import is_sqlite

PER_PAGE = 50
COUNT_LIMIT = 10_000
_MAX_CURSOR = 1_000  # characters; a real cursor is far shorter
_INT_BOUND = 2**63 - 1
_TYPE_BOUNDS: dict[type, tuple[Any, Any]] = {
    date: (date.min, date.max),
    datetime: (datetime.min, datetime.max),
    int: (-_INT_BOUND, _INT_BOUND),
    # text: SQLite sorts every text value at or after '' and before any BLOB (the empty
    # one included), so this range holds every name; steering is for SQLite only
    str: ("", b""),
}


@dataclass(frozen=True)
class Key:
    """One column of a list's sort order. The last key of an order must be unique and
    no key may be NULL in the rows of the list.

    A key may also be an expression over a row's columns (a county's code prefix), typed,
    with ``value`` giving the same value from a loaded row for the cursor."""

    column: Any  # a mapped attribute, e.g. SupportRecord.record_date, or a typed expression
    descending: bool = False
    value: Callable[[Any], Any] | None = None  # the key's value in a row, for an expression
    condition: Any = None  # a ``flag`` key's condition (its rows of 1)

    def of(self, row):
        return self.value(row) if self.value is not None else getattr(row, self.name)

    @property
    def name(self) -> str:
        return self.column.key

    @property
    def python_type(self) -> type:
        return self.column.type.python_type

    def ordered(self, reverse: bool = False):
        return self.column.asc() if self.descending == reverse else self.column.desc()


def flag(condition, value: Callable[[Any], bool], descending: bool = False) -> Key:
    """A key on whether ``condition`` holds for a row (0 before 1 when ascending), such as
    an ended posting after the active ones; ``value`` tells it from a loaded row.
    ``condition`` must never be NULL (``end_date IS NOT NULL``, not ``end_date < x``).

    As the leading key of a list, a page's rows are found with the condition (or its
    negation) in the WHERE clause instead of a CASE to sort by (see ``_fetch``), so a
    partial index of either set in the order of the other keys can serve them."""
    return Key(type_coerce(case((condition, 1), else_=0), Integer), descending,
               value=lambda row: 1 if value(row) else 0, condition=condition)


def joined(column, path: Callable[[Any], Any], descending: bool = False) -> Key:
    """A key on a column of a joined table (the person's name of a posting), ``path``
    giving its value from a loaded row."""
    return Key(column, descending, value=path)


def order_by(keys: Sequence[Key]) -> list:
    """ORDER BY clauses of ``keys`` (for ``Select.order_by(*order_by(keys))``)."""
    return [key.ordered() for key in keys]


@dataclass
class Page:
    items: list
    total: int | None  # None: more than ``limit``
    limit: int
    next_cursor: str | None
    prev_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_prev(self) -> bool:
        return self.prev_cursor is not None

    @property
    def count_text(self) -> str:
        if self.total is None:
            return f"超过 {self.limit:,} 条"
        return f"共 {self.total:,} 条"


# -- cursors -------------------------------------------------------------------------------

def encode(keys: Sequence[Key], row) -> str:
    values = []
    for key in keys:
        value = key.of(row)
        values.append(value.isoformat() if isinstance(value, date | datetime) else value)
    raw = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _read_value(key: Key, value):
    kind = key.python_type
    if kind is datetime:  # stored naive (UTC)
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        return moment if moment is not None and moment.tzinfo is None else None
    if kind is date:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _INT_BOUND
        return value if ok else None
    if kind is str:  # PostgreSQL refuses NUL in text
        return value if isinstance(value, str) and "\x00" not in value else None
    return None


def decode(keys: Sequence[Key], cursor: str) -> list | None:
    """The key values a cursor carries, or None if it is not a cursor of ``keys``."""
    if not cursor or len(cursor) > _MAX_CURSOR:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw.decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    try:
        read = [_read_value(key, value) for key, value in zip(keys, values)]
    except (TypeError, ValueError):
        return None
    return None if any(value is None for value in read) else read


# -- queries -------------------------------------------------------------------------------

def _position(keys: Sequence[Key], values: list | None, reverse: bool, steer: bool):
    """Rows strictly after ``values`` in the order of ``keys`` (before them if ``reverse``);
    with ``steer``, also a range on the leading key bounded on both sides (the far side by
    the bounds of its type), for SQLite's planner (see the module's note).

    (a, b) after (x, y) is ``a >= x AND (a > x OR (a = x AND b > y))`` for ascending keys:
    the first part is a plain range on the leading key, which an index can seek to.
    """
    lead = keys[0]
    descending = lead.descending != reverse
    low, high = _TYPE_BOUNDS[lead.python_type] if steer else (None, None)
    if values is None:
        return lead.column.between(low, high)
    if steer:
        bound = lead.column.between(low, values[0]) if descending else lead.column.between(values[0], high)
    else:
        bound = lead.column <= values[0] if descending else lead.column >= values[0]

    def past(key, value):
        return key.column < value if key.descending != reverse else key.column > value

    condition = None
    for key, value in reversed(list(zip(keys, values))):
        step = past(key, value)
        condition = step if condition is None else or_(step, and_(key.column == value, condition))
    return and_(bound, condition)


def count_up_to(stmt: Select, limit: int, unique_column) -> int:
    """The number of rows of ``stmt``, reading at most ``limit + 1`` of them."""
    rows = stmt.order_by(None).with_only_columns(unique_column, maintain_column_froms=True).limit(limit + 1)
    return db.session.scalar(select(func.count()).select_from(rows.subquery())) or 0


def _lead_has_bounds(keys: Sequence[Key]) -> bool:
    return keys[0].python_type in _TYPE_BOUNDS


def _fetch(stmt: Select, keys: Sequence[Key], values: list | None, reverse: bool, n: int, large: bool) -> list:
    """``n`` rows of ``stmt`` from the cursor ``values`` on, in the order of ``keys``.

    The page's ids are found first, sorted by the keys alone, then only the page's rows
    are loaded (with what they load joined). A large set is read in order along the sort
    key's index until ``n`` rows match; where the index orders by the leading key only
    (a month's duty records by place and id), the rows of one leading value are sorted
    from the index without reading them, never joined before the sort. A small set is
    sorted likewise from the filter's index, which often holds every column it needs.
    """
    unique = keys[-1]
    ids = _flag_ids(stmt, keys, values, reverse, n, large) if _split(keys, values) else \
        _ids(stmt, keys, values, reverse, n, large)
    if not ids:
        return []
    # the page's rows by id (the filter again: a row changed meanwhile is left out, not shown)
    rows = {getattr(row, unique.name): row for row in db.session.scalars(stmt.order_by(None).where(unique.column.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def _ids(stmt: Select, keys: Sequence[Key], values: list | None, reverse: bool, n: int, large: bool) -> list:
    """The ids of ``n`` rows of ``stmt`` from the cursor ``values`` on, in the order of ``keys``."""
    steer = large and _lead_has_bounds(keys) and is_sqlite()
    seek = stmt.where(_position(keys, values, reverse, steer)) if values is not None or steer else stmt
    ordered = seek.order_by(None).order_by(*(key.ordered(reverse) for key in keys))
    return list(db.session.scalars(ordered.with_only_columns(keys[-1].column, maintain_column_froms=True).limit(n)))


def _split(keys: Sequence[Key], values: list | None) -> bool:
    """Whether the list leads with a ``flag`` key and the cursor (if any) holds 0 or 1 in it."""
    return keys[0].condition is not None and len(keys) > 1 and (values is None or values[0] in (0, 1))


def _flag_ids(stmt: Select, keys: Sequence[Key], values: list | None, reverse: bool, n: int, large: bool) -> list:
    """``_ids`` of a list led by a ``flag`` key: the rows of one value of the flag (the
    cursor's first), then of the other, each by the other keys, with the flag's condition
    in the WHERE clause. PostgreSQL then reads a page along a partial index of that set
    (the active postings by start, ...) instead of sorting a province's rows by a CASE."""
    lead, rest = keys[0], keys[1:]
    order = (0, 1) if lead.descending == reverse else (1, 0)
    if values is not None:
        order = order[order.index(values[0]):]
    ids: list = []
    for value in order:
        part = stmt.where(lead.condition if value else ~lead.condition)
        seek = values[1:] if values is not None and value == values[0] else None
        ids += _ids(part, rest, seek, reverse, n - len(ids), large)
        if len(ids) >= n:
            break
    return ids


def paginate(stmt: Select, keys: Sequence[Key], args: Mapping[str, str], *, per_page: int = PER_PAGE,
             count_limit: int | None = None, total: int | None = None) -> Page:
    """The page of ``stmt`` that ``args`` (the request's query string) asks for: the first
    page, or the page after the row of ``args["after"]`` / before that of ``args["before"]``.
    ``stmt`` must be sorted by ``keys`` (``order_by(keys)``); its own order is replaced.
    ``total``: how many rows ``stmt`` has, where the caller knows it already (it is then
    not counted again)."""
    count_limit = COUNT_LIMIT if count_limit is None else count_limit
    after = decode(keys, args.get("after", "")) if args.get("after") else None
    before = decode(keys, args.get("before", "")) if args.get("before") and after is None else None

    if total is None:
        total = count_up_to(stmt, count_limit, keys[-1].column)
    large = total > count_limit
    shown = None if large else total

    if before is not None:
        rows = _fetch(stmt, keys, before, True, per_page + 1, large)
        if len(rows) > per_page:  # there are rows before this page
            items = rows[:per_page][::-1]
            return Page(items, shown, count_limit, encode(keys, items[-1]), encode(keys, items[0]))
        # reached the start: show the first page as it always looks

    rows = _fetch(stmt, keys, after, False, per_page + 1, large)
    items = rows[:per_page]
    next_cursor = encode(keys, items[-1]) if len(rows) > per_page else None
    if after is None:
        prev_cursor = None
    else:  # rows before this page are those before its first row (or before the cursor)
        prev_cursor = encode(keys, items[0]) if items else args.get("after")
    return Page(items, shown, count_limit, next_cursor, prev_cursor)
