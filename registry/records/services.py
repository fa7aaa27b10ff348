"""The decisions on a support record after it is filed: the filer submits or withdraws
it, the village confirms or disputes it. Each checks who may act (``rules.refusal``) and
the version the user saw, makes the move through ``rules.transition`` and commits.

The rest of the records' rules live beside this module: ``rules`` (states and moves),
``filers`` (who files, and for which villages), ``filing`` (what a record holds, creating,
editing, evidence) and ``queries`` (what the pages read).
"""
from __future__ import annotations

from sqlalchemy.orm.exc import StaleDataError

from ..core.rules import RuleViolation
from ..extensions import db
from .models import SupportRecord
from .rules import STALE, check_version, commit_or_stale, refuse_unless, transition

# Older import paths kept for the tests and scripts that reach them through
# ``registry.records.services``; new code imports from the module that holds the name.
from .filers import village_allowed
from .filing import create_record, start_correction, update_record
from .queries import PENDING_ORDER, RECORD_ORDER, inbox, overdue, record_list
from .rules import transition as _transition

__all__ = [
    "submit_record", "withdraw_record", "confirm_record", "dispute_record",
    # re-exported (see above)
    "create_record", "start_correction", "update_record", "village_allowed",
    "PENDING_ORDER", "RECORD_ORDER", "inbox", "overdue", "record_list", "_transition",
]


def _act(record: SupportRecord, user, action: str, new_status: str, expected_version, **kw) -> SupportRecord:
    refuse_unless(record, user, action)
    check_version(record, expected_version)
    try:
        transition(record, new_status, actor=user, **kw)
        if new_status == "confirmed" and record.supersedes_id:
            old = record.supersedes
            if old is not None and old.status == "confirmed":
                transition(old, "superseded", actor=user,
                           summary=f"被更正记录 #{record.id} 取代（村已确认更正）：{old.title}")
        commit_or_stale()
    except StaleDataError:
        db.session.rollback()
        raise RuleViolation({"": STALE}) from None
    return record


def submit_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """Send a draft (or a corrected disputed record) to the village for confirmation."""
    return _act(record, user, "submit", "submitted", expected_version)


def withdraw_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """The filer takes back a record before the village confirmed it."""
    return _act(record, user, "withdraw", "withdrawn", expected_version)


def confirm_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """The village confirms what the helper says it gave; a confirmed correction replaces
    the record it corrects, which becomes superseded (both are kept)."""
    return _act(record, user, "confirm", "confirmed", expected_version)


def dispute_record(record: SupportRecord, user, reason, expected_version=None) -> SupportRecord:
    """The village disagrees, and says why; the record goes back to the filer."""
    refuse_unless(record, user, "dispute")
    reason = str(reason or "").strip()
    if not reason:
        raise RuleViolation({"reason": "请填写异议理由"})
    if len(reason) > 1000:
        raise RuleViolation({"reason": "异议理由不能超过1000个字"})
    return _act(record, user, "dispute", "disputed", expected_version, reason=reason)
