"""A filed → checked / returned review cycle, described once.

Duty months (驻村纪实: the township checks, 核实) and village results (帮扶实效: the
township or county verifies, 核验) live the same short life::

    filed    -> checked (locked for good) | returned (with a reason)
    returned -> filed (the filer corrects and files again)
    filed    -> filed (the filer corrects before the check)

A ``ReviewCycle`` holds what differs between them (the status and column names of the
check, the words of messages and audit summaries, who may decide) and does the moves:
``file``, ``open_for_edit`` + ``refile`` for the filer, ``decide`` for the reviewer. Every move
checks the version the user saw, writes its audit event in the same transaction and
commits; on a broken rule it raises ``RuleViolation`` and nothing is written.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..audit.services import record as audit, snapshot
from ..extensions import db
from .rules import RuleViolation, flush_or_refuse
from .timeutil import utcnow

FILED, RETURNED = "filed", "returned"
REASON_MAX = 500


def check_version(obj, expected, stale: str) -> None:
    """Optimistic lock: a version the user saw (None or blank: none given) must be the
    stored one, or the change is refused with ``stale``."""
    if expected in (None, ""):
        return
    try:
        seen = int(expected)
    except (TypeError, ValueError):
        raise RuleViolation({"": stale}) from None
    if seen != obj.version:
        raise RuleViolation({"": stale})


@dataclass(frozen=True)
class ReviewCycle:
    checked: str  # the status of a checked item: "checked" (duty) or "verified" (results)
    action: str  # the audit action of the check: "check" or "verify"
    verb: str  # 核实 / 核验
    noun: str  # what the messages call an item: 纪实 / 帮扶实效
    title: str  # what the audit summaries call it: 驻村纪实 / 帮扶实效
    stale: str  # the message when the item changed since the user saw it
    locked: str  # the message when the filer tries to change a checked item
    refiled: str  # the summary prefix when a returned item is filed again
    describe: Callable[[object], str]  # one line naming the item, for audit summaries
    stamp_return: bool = True  # a return also records who sent it back (checked_by_id/at)
    may_decide: Callable[[object], bool] | None = None  # who may check or return, if the cycle says
    not_allowed: str = ""  # the message when ``may_decide`` refuses
    frozen: Callable[[object], None] | None = None  # raises when the item's year is closed (年度关账)
    # called with (item, reason, reviewer) after a return, before the commit: tells the filer
    on_return: Callable[[object, str, object], None] | None = None

    @property
    def moves(self) -> dict[str, frozenset[str]]:
        """The only list of allowed moves: status -> the statuses it may become."""
        return {FILED: frozenset({FILED, self.checked, RETURNED}), RETURNED: frozenset({FILED}),
                self.checked: frozenset()}

    def may_move(self, obj, new_status: str) -> bool:
        return new_status in self.moves.get(obj.status, frozenset())

    def is_locked(self, obj) -> bool:
        """Checked: nothing may change it any more."""
        return not self.may_move(obj, FILED)

    def check_version(self, obj, version) -> None:
        check_version(obj, version, self.stale)

    # -- the filer ---------------------------------------------------------------------------

    def file(self, obj, user, *, commit: bool = True):
        """Add a new item, waiting for the check (``commit=False``: the caller commits)."""
        obj.status = FILED
        obj.filed_by_id, obj.filed_at = getattr(user, "id", None), utcnow()
        db.session.add(obj)
        db.session.flush()
        audit("create", obj, summary=f"填报{self.title}：" + self.describe(obj))
        if commit:
            db.session.commit()
        return obj

    def open_for_edit(self, obj, version) -> None:
        """Refuse a change to a checked item, or to one changed since the user saw it.
        Called before the new values are checked."""
        if self.is_locked(obj):
            raise RuleViolation(self.locked, "")
        if self.frozen is not None:
            self.frozen(obj)
        self.check_version(obj, version)

    def refile(self, obj, values: dict, user, *, commit: bool = True):
        """Save the filer's corrected values; the item is (again) waiting for the check."""
        before = snapshot(obj)
        refiled = obj.status == RETURNED
        for key, value in values.items():
            setattr(obj, key, value)
        obj.status, obj.return_reason = FILED, None
        obj.filed_by_id, obj.filed_at = getattr(user, "id", None), utcnow()
        flush_or_refuse(self.stale)
        audit("refile" if refiled else "update", obj, before=before,
              summary=(self.refiled if refiled else f"修改{self.title}：") + self.describe(obj))
        if commit:
            db.session.commit()
        return obj

    # -- the reviewer ------------------------------------------------------------------------

    def decide(self, obj, accept: bool, reason: str | None, user, version=None):
        """Check (``accept``) a filed item, or return it to the filer with ``reason``."""
        if self.may_decide is not None and not self.may_decide(user):
            raise RuleViolation(self.not_allowed, "")
        if self.frozen is not None:
            self.frozen(obj)
        move = self.verb if accept else "退回"
        if not self.may_move(obj, self.checked if accept else RETURNED):
            raise RuleViolation(f"只有待{self.verb}的{self.noun}可以{move}（当前：{obj.status_label}）", "")
        if not accept:
            reason = (reason or "").strip()
            if not reason:
                raise RuleViolation("退回时须填写退回原因", "reason")
            if len(reason) > REASON_MAX:
                raise RuleViolation(f"退回原因最多{REASON_MAX}字", "reason")
        self.check_version(obj, version)
        before = snapshot(obj)
        if accept:
            obj.status = self.checked
        else:
            obj.status, obj.return_reason = RETURNED, reason
        if accept or self.stamp_return:
            setattr(obj, f"{self.checked}_by_id", getattr(user, "id", None))
            setattr(obj, f"{self.checked}_at", utcnow())
        flush_or_refuse(self.stale)
        if accept:
            audit(self.action, obj, before=before, summary=f"{self.verb}{self.title}：{self.describe(obj)}")
        else:
            audit("return", obj, before=before, summary=f"退回{self.title}：{self.describe(obj)}；原因：{reason}")
            if self.on_return is not None:
                self.on_return(obj, reason, user)
        db.session.commit()
        return obj

    def file_many(self, objs: list, user, *, commit: bool = True) -> list:
        """``file`` for many new items at once (an import): one flush, and one batch of
        audit events, the same events ``file`` writes one by one."""
        from ..audit.services import record_many, snapshot

        filed_at = utcnow()
        for obj in objs:
            obj.status = FILED
            obj.filed_by_id, obj.filed_at = getattr(user, "id", None), filed_at
        db.session.add_all(objs)
        db.session.flush()
        record_many([{"action": "create", "entity_type": type(obj).__name__, "entity_id": obj.id,
                      "summary": f"填报{self.title}：" + self.describe(obj), "region_code": obj.audit_region_code,
                      "organization_id": obj.audit_organization_id, "after": snapshot(obj)} for obj in objs], actor=user)
        if commit:
            db.session.commit()
        return objs
