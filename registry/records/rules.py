"""The life of a support record: its states, the moves between them, who may make which
move now, and the one function that makes a move.

Life of a record (``TRANSITIONS``)::

    draft      -> submitted (the filer submits)  | withdrawn
    submitted  -> confirmed (the village agrees) | disputed (the village disagrees, with a reason) | withdrawn
    disputed   -> submitted (the filer corrects and resubmits) | withdrawn
    confirmed  -> superseded (when a correction of it is confirmed); a confirmed record never changes
    withdrawn, superseded: final

``TRANSITIONS`` is the only list of allowed moves: ``refusal()`` reads it to decide
whether an action is open in the record's state, and ``transition()`` to refuse any
other change. Every change of status goes through ``transition`` (a new record submitted
as it is created, through ``submit_on_creation``, which shares its steps): it checks the
state machine, stamps the times, writes the audit event, and is the one place a summary
of records would be kept current.
"""
from __future__ import annotations

from sqlalchemy import select

from ..audit.services import record as audit, snapshot
from ..closing.rules import blocking_close
from ..core import review
from ..core.enums import RECORD_STATUSES
from ..core.rules import RuleViolation, flush_or_refuse
from ..core.timeutil import utcnow
from ..extensions import db
from ..notifications import Found, link_for, notify, recipients, recipients_for
from .models import SupportRecord

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"confirmed", "disputed", "withdrawn"}),
    "disputed": frozenset({"submitted", "withdrawn"}),
    "confirmed": frozenset({"superseded"}),
    "withdrawn": frozenset(),
    "superseded": frozenset(),
}

# The move of the state machine each action needs: an action is open exactly when the
# record's state allows that move. The filer may edit a record (and its evidence) while it
# can still be submitted: a draft, or a record the village disputed. A correction is
# filed for a record that a confirmed correction may still supersede.
ACTION_MOVES: dict[str, str] = {
    "edit": "submitted",
    "evidence": "submitted",
    "submit": "submitted",
    "withdraw": "withdrawn",
    "confirm": "confirmed",
    "dispute": "disputed",
    "correct": "superseded",
}
FILER_ACTIONS = frozenset({"edit", "submit", "withdraw", "correct", "evidence"})
VILLAGE_ACTIONS = frozenset({"confirm", "dispute"})

EDITABLE = frozenset(status for status, moves in TRANSITIONS.items() if ACTION_MOVES["edit"] in moves)
PENDING_CORRECTION = ("draft", "submitted", "disputed")

ACTION_LABELS = {
    "create": "创建草稿",
    "correct": "创建更正记录",
    "update": "修改",
    "submit": "提交村确认",
    "resubmit": "修改后重新提交",
    "confirm": "村确认",
    "dispute": "村提出异议",
    "withdraw": "撤回",
    "supersede": "被更正记录取代",
    "evidence_add": "上传佐证材料",
    "evidence_delete": "删除佐证材料",
}

STALE = "该记录已被他人修改，您的操作未保存。请刷新页面查看最新内容后重试。"
# 确认属实 is deliberate: the box saying the figures and evidence were checked must be ticked
ATTEST_REQUIRED = "请勾选“我已核对……”，确认您已核对以上内容后再点“确认属实”"


def status_label(status: str) -> str:
    return RECORD_STATUSES.get(status, status)


def move_open(status: str, action: str) -> bool:
    """Whether the state machine lets ``action`` happen to a record in ``status``."""
    return ACTION_MOVES[action] in TRANSITIONS.get(status, frozenset())


def _closed(status: str, action: str) -> str:
    """Why ``action`` is not open in ``status``, in the words of the pages."""
    label = status_label(status)
    if action in ("edit", "evidence"):
        if status == "confirmed":
            return "已确认的记录不能修改；如需更正，请提交更正记录"
        return f"{label}的记录不能修改"
    if action == "submit":
        return f"{label}的记录不能提交"
    if action == "withdraw":
        if status == "confirmed":
            return "已确认的记录不能撤回；如需更正，请提交更正记录"
        return f"{label}的记录不能撤回"
    if action in VILLAGE_ACTIONS:
        verb = "确认" if action == "confirm" else "提出异议"
        return f"只有待确认的记录可以{verb}（当前状态：{label}）"
    return "只有已确认的记录需要以更正记录的方式修改"  # correct


def refusal(record: SupportRecord, user, action: str, *, mind_close: bool = True) -> str | None:
    """Why ``user`` may not do ``action`` to ``record`` now (None: they may); with
    ``mind_close`` False, as if no close covered the record.

    The pages use it to decide which buttons to show; the services use it to refuse.
    """
    if action in FILER_ACTIONS:
        if getattr(user, "role", None) != "unit" or user.organization_id != record.organization_id:
            return "只有填报该记录的单位可以修改、提交、撤回或更正该记录"
    if action in VILLAGE_ACTIONS:
        if getattr(user, "role", None) != "village" or user.village_code != record.village_code:
            return "只有该村的账号可以确认该记录或提出异议"
    if action not in ACTION_MOVES:
        return None
    if not move_open(record.status, action):
        return _closed(record.status, action)
    if action == "correct" and pending_correction(record) is not None:
        return "该记录已有一条尚未确认的更正记录，请先处理那一条"
    return _frozen(record) if mind_close else None


def _frozen(record: SupportRecord) -> str | None:
    closed = blocking_close(record.record_date.year, record.village_code, "records")
    return closed.message("records") if closed is not None else None


def frozen_for(record: SupportRecord, user) -> str | None:
    """Why ``user`` can do nothing to ``record`` when a close is what keeps them from it
    (its year closed where its village lies), in the words of the pages; else None. The
    pages say it where the actions would be: a record left waiting in a closed year cannot
    be confirmed, a confirmed one not corrected."""
    if all(refusal(record, user, action, mind_close=False) for action in ACTION_MOVES):
        return None
    return _frozen(record)


def allowed_actions(record: SupportRecord, user) -> set[str]:
    return {a for a in ACTION_MOVES if refusal(record, user, a) is None}


def refuse_unless(record: SupportRecord, user, action: str) -> None:
    message = refusal(record, user, action)
    if message:
        raise RuleViolation({"": message})


def pending_correction(record: SupportRecord) -> SupportRecord | None:
    """The correction of ``record`` still on its way (draft, submitted or disputed)."""
    return db.session.scalar(
        select(SupportRecord).where(SupportRecord.supersedes_id == record.id, SupportRecord.status.in_(PENDING_CORRECTION))
    )


def check_version(record: SupportRecord, expected_version) -> None:
    review.check_version(record, expected_version, STALE)


def transition(record: SupportRecord, new_status: str, *, actor, reason: str | None = None,
               summary: str | None = None) -> None:
    """The one way a record's status changes: checks the state machine, stamps times and
    who decided, writes the audit event (same transaction). Callers check who may act."""
    _check_move(record.status, new_status)
    before = snapshot(record)
    action = _move(record, new_status, actor, reason)
    # who is told is read before the audit event's flush writes the record: a request whose
    # transaction takes the write lock at its first write (``lock_at_first_write``) reads it
    # before the lock
    with db.session.no_autoflush:
        _tell(record, new_status, actor, reason)
    audit(action, record, before=before, summary=summary or _summary(action, record, reason), actor=actor)


def submit_on_creation(record: SupportRecord, *, actor, insert, created) -> None:
    """A new record submitted by the save that creates it (the form's 提交 on a new
    record), written once: inserted as submitted, where creating a draft and then
    ``transition`` would insert it and update it at once, two flushes and two passes of the
    summaries while the transaction holds the write lock.

    ``insert()`` adds and flushes the record; ``created(draft)`` writes its creation's
    audit event with ``draft``, the record as the draft it is created as (its stored
    values but for the status and the submission time). The trail then reads as that of
    the two steps: the creation, then the move from that draft to the stored record."""
    draft_status = record.status
    _check_move(draft_status, "submitted")
    # who is told, read before the insert: its flush takes the write lock
    with db.session.no_autoflush:
        told = recipients_for("record_submitted", recipients.village_accounts(record.village_code), actor=actor)
    action = _move(record, "submitted", actor, None)
    insert()
    after = snapshot(record)
    draft = {**after, "status": draft_status, "submitted_at": None}
    created(draft)
    with db.session.no_autoflush:
        _tell(record, "submitted", actor, None, told=told)
    audit(action, record, before=draft, after=after, summary=_summary(action, record, None), actor=actor)


def _check_move(old: str, new_status: str) -> None:
    if new_status not in TRANSITIONS.get(old, frozenset()):
        raise RuleViolation({"": f"{status_label(old)}的记录不能改为{status_label(new_status)}"})


def _move(record: SupportRecord, new_status: str, actor, reason: str | None) -> str:
    """Set the record's status and stamp the move's times and who decided; the move's
    audit action."""
    old = record.status
    now = utcnow()
    record.status = new_status
    if new_status == "submitted":
        record.submitted_at = now
        record.decided_at = None
        record.decided_by_id = None
        record.dispute_reason = None
        return "resubmit" if old == "disputed" else "submit"
    if new_status in ("confirmed", "disputed"):
        record.decided_at = now
        record.decided_by_id = getattr(actor, "id", None)
        record.dispute_reason = reason if new_status == "disputed" else None
        return "confirm" if new_status == "confirmed" else "dispute"
    return "withdraw" if new_status == "withdrawn" else "supersede"


def _summary(action: str, record: SupportRecord, reason: str | None) -> str:
    said = f"{ACTION_LABELS[action]}：{record.title}"
    return f"{said}（理由：{reason}）" if action == "dispute" else said


def _tell(record: SupportRecord, new_status: str, actor, reason: str | None, *, told: Found | None = None) -> None:
    """Who must act next is told: the village of a record to confirm, the unit of the
    village's decision (same transaction as the move). ``told``: the village's accounts
    for a submission, read already (``recipients_for``)."""
    if new_status not in ("submitted", "confirmed", "disputed"):
        return
    if record.id is None:
        db.session.flush()
    link = link_for("records.detail", record_id=record.id)
    if new_status == "submitted":  # the names only where a message holds them (each may be a query)
        unit = record.organization.name if record.organization is not None else ""
        notify("record_submitted", told if told is not None else recipients.village_accounts(record.village_code),
               title=f"待确认的帮扶记录：{record.title}", body=f"{unit}提交了帮扶记录，请核对后确认或提出异议。",
               link=link, actor=actor)
        return
    village = record.village.name if record.village is not None else ""
    if new_status == "confirmed":
        notify("record_confirmed", recipients.unit_accounts(record.organization_id),
               title=f"{village}已确认帮扶记录：{record.title}", link=link, actor=actor)
    else:
        notify("record_disputed", recipients.unit_accounts(record.organization_id),
               title=f"{village}对帮扶记录提出异议：{record.title}",
               body=f"异议理由：{reason}。请更正后重新提交，或撤回该记录。", link=link, actor=actor)


def commit_or_stale() -> None:
    """Commit; a concurrent change found at flush time (version mismatch) is refused."""
    flush_or_refuse(STALE, commit=True)
