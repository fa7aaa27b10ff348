"""A rectification (整改) cycle, described once: 待整改 → 整改中 → 已销号.

A summons (约谈, ``assessment``) and an inspection finding (督查问题, ``inspections``) live the
same short life::

    open (待整改) -> rectifying (整改中): the one who must act says what is done (整改措施)
    rectifying    -> closed (已销号): the one who may close accepts it, with a note (销号说明)
    closed: final

A ``RectificationCycle`` holds what differs between them (what the messages call the item,
which column holds the state, who reports and who closes, whom to tell) and does the two
moves. The item carries ``rectify_note``/``rectify_at`` and ``close_note``/``closed_at``/
``closed_by_id`` (and ``rectified_by_id`` if it has the column). Every move checks the
version the user saw, writes its audit event in the same transaction (action ``rectify`` or
``close``) and commits; on a broken rule it raises ``RuleViolation`` and nothing is written.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement

from ..audit.services import record as audit, snapshot
from ..extensions import db
from .enums import FOLLOW_UP_STATUSES
from .review import check_version
from .rules import RuleViolation, flush_or_refuse
from .timeutil import utcnow

OPEN, RECTIFYING, CLOSED = "open", "rectifying", "closed"
PENDING = (OPEN, RECTIFYING)  # not yet closed (未销号)
NOTE_MAX = 2000


def pending_clause(status_column) -> ColumnElement[bool]:
    """SQL: the item is not yet closed (待整改 or 整改中)."""
    return status_column.in_(PENDING)


def overdue_clause(status_column, deadline_column, today: date) -> ColumnElement[bool]:
    """SQL: the item is not closed and its deadline has passed (the deadline day itself is
    still in time)."""
    return pending_clause(status_column) & (deadline_column < today)


@dataclass(frozen=True)
class RectificationCycle:
    noun: str  # what the messages call an item: 约谈 / 督查问题
    status: str  # the attribute holding the state: "follow_up" (a summons) / "status" (a finding)
    may_report: Callable[[object, object], bool]  # (user, item): may register the rectification
    may_close: Callable[[object, object], bool]  # (user, item): may close (销号)
    report_refused: str  # the message when ``may_report`` refuses
    close_refused: str  # the message when ``may_close`` refuses
    describe: Callable[[object], str]  # names the item in audit summaries and notifications
    stale: str  # the message when the item changed since the user saw it
    # items of the model that have no cycle (a commendation): the messages for each move
    applies: Callable[[object], bool] | None = None
    not_applicable: tuple[str, str] = ("", "")
    # called with (item, title, body, user) after each move, before the commit
    tell: Callable[[object, str, str, object], None] | None = None

    def state(self, obj) -> str | None:
        return getattr(obj, self.status)

    def label(self, obj) -> str:
        return FOLLOW_UP_STATUSES.get(self.state(obj) or "", "")

    def is_pending(self, obj) -> bool:
        return (self.applies is None or self.applies(obj)) and self.state(obj) in PENDING

    @staticmethod
    def _note(note: str | None, empty: str, too_long: str) -> str:
        note = (note or "").strip()
        if not note:
            raise RuleViolation(empty, "note")
        if len(note) > NOTE_MAX:
            raise RuleViolation(too_long, "note")
        return note

    def _tell(self, obj, title: str, body: str, user) -> None:
        if self.tell is not None:
            self.tell(obj, title, body, user)

    def rectify(self, obj, note: str | None, user, version=None):
        """待整改 → 整改中, with what is being done (整改措施)."""
        if self.applies is not None and not self.applies(obj):
            raise RuleViolation(self.not_applicable[0], "")
        if not self.may_report(user, obj):
            raise RuleViolation(self.report_refused, "")
        if self.state(obj) != OPEN:
            raise RuleViolation(f"只有待整改的{self.noun}可以登记整改（当前：{self.label(obj)}）", "")
        note = self._note(note, "请填写整改措施", f"整改措施最多{NOTE_MAX}字")
        check_version(obj, version, self.stale)
        before = snapshot(obj)
        setattr(obj, self.status, RECTIFYING)
        obj.rectify_note, obj.rectify_at = note, utcnow()
        if hasattr(obj, "rectified_by_id"):
            obj.rectified_by_id = getattr(user, "id", None)
        flush_or_refuse(self.stale)
        audit("rectify", obj, before=before, summary=f"{self.noun}整改中：{self.describe(obj)}，{note[:80]}")
        self._tell(obj, f"{self.noun}已登记整改：{self.describe(obj)}", f"整改措施：{note[:300]}", user)
        db.session.commit()
        return obj

    def close(self, obj, note: str | None, user, version=None):
        """整改中 → 已销号, with the closing note (销号说明)."""
        if self.applies is not None and not self.applies(obj):
            raise RuleViolation(self.not_applicable[1], "")
        if not self.may_close(user, obj):
            raise RuleViolation(self.close_refused, "")
        if self.state(obj) != RECTIFYING:
            raise RuleViolation(
                "请先登记整改情况，再销号" if self.state(obj) == OPEN else f"该{self.noun}{self.label(obj)}", "note"
            )
        note = self._note(note, "销号须填写整改结果说明", f"销号说明最多{NOTE_MAX}字")
        check_version(obj, version, self.stale)
        before = snapshot(obj)
        setattr(obj, self.status, CLOSED)
        obj.close_note = note
        obj.closed_at, obj.closed_by_id = utcnow(), getattr(user, "id", None)
        flush_or_refuse(self.stale)
        audit("close", obj, before=before, summary=f"{self.noun}销号：{self.describe(obj)}，{note[:80]}")
        self._tell(obj, f"{self.noun}已销号：{self.describe(obj)}", f"销号说明：{note[:300]}", user)
        db.session.commit()
        return obj
