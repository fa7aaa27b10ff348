"""What a village is shown changed before it decides on a record.

A record keeps no versions of its own; its history is the audit trail. Two earlier states
matter to the village:

- a correction (``supersedes_id``) against the record it corrects — a confirmed record,
  which never changes, so its row is its values;
- a record the village disputed and the unit then changed and resubmitted, against the
  values the village disputed — the ``after`` snapshot of the latest ``dispute`` event,
  which also holds the village's reason.

Evidence changes are read the same way: a correction's files against the corrected
record's (by checksum, since a correction starts with copies of them), and the
``evidence_add`` / ``evidence_delete`` events after the dispute.

``reviews(records, user)`` reads this for a page of records in a few queries (the inbox
shows many at once); every query is scoped to the user.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..audit.models import AuditEvent
from ..core.enums import RECORD_CATEGORIES
from ..core.formatting import date_cn
from ..core.scope import scoped
from ..extensions import db
from .models import SupportRecord

# the fields a village compares, in the order the pages show them
COMPARED = ("category", "record_date", "amount", "amount_attracted", "amount_in_kind", "households", "persons",
            "jobs", "title", "description")
_AMOUNTS = frozenset({"amount", "amount_attracted", "amount_in_kind"})
_COUNTS = frozenset({"households", "persons", "jobs"})
_EVENTS = ("dispute", "evidence_add", "evidence_delete")


@dataclass
class Earlier:
    """An earlier state of the record: what it said then, and what differs now."""

    label: str  # 原记录 2026-0001 / 2026年11月20日村提出异议时
    values: dict
    changed: list[str]
    evidence_dropped: list[str] = field(default_factory=list)  # names of files no longer attached
    evidence_added: list[str] = field(default_factory=list)


@dataclass
class Dispute:
    reason: str
    at: datetime
    actor: str
    of_original: str | None = None  # the 编号 of the corrected record, when the dispute was of that one


@dataclass
class Review:
    earlier: list[Earlier] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)

    @property
    def changed(self) -> set[str]:
        return {name for e in self.earlier for name in e.changed}

    def was(self, name: str) -> list[tuple[str, object]]:
        """(label, earlier value) of ``name`` in each earlier state where it differs."""
        return [(e.label, e.values.get(name)) for e in self.earlier if name in e.changed]

    @property
    def any_change(self) -> bool:
        return any(e.changed or e.evidence_dropped or e.evidence_added for e in self.earlier)


def _value(name: str, raw):
    """A snapshot's JSON value as the column's Python type."""
    if raw is None:
        return None
    try:
        if name in _AMOUNTS:
            return Decimal(str(raw))
        if name in _COUNTS:
            return int(raw)
        if name == "category":  # shown, never computed with
            return RECORD_CATEGORIES.get(raw, raw)
        if name == "record_date":
            return raw if isinstance(raw, date) else date.fromisoformat(str(raw))
    except (InvalidOperation, ValueError, TypeError):
        return raw
    return raw


def _differs(name: str, old, new) -> bool:
    if name in _AMOUNTS or name in _COUNTS:
        return (old or 0) != (new or 0)
    if name == "description":
        return (old or "").strip() != (new or "").strip()
    return old != new


def _compare(label: str, values: dict, record: SupportRecord) -> Earlier:
    known = {name: _value(name, values[name]) for name in COMPARED if name in values}
    now = {name: getattr(record, name) for name in COMPARED}
    now["category"] = record.category_label
    changed = [name for name in COMPARED if name in known and _differs(name, known[name], now[name])]
    return Earlier(label=label, values=known, changed=changed)


def _load(raw: str | None) -> dict:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _who(event: AuditEvent, names: dict[int, str]) -> str:
    name = names.get(event.actor_id or 0)
    return name if name and name != event.actor else event.actor


def reviews(records: list[SupportRecord], user) -> dict[int, Review]:
    """The review of each record (by id): its earlier states and the village's disputes."""
    if not records:
        return {}
    original_ids = {r.supersedes_id for r in records if r.supersedes_id}
    originals = {
        o.id: o for o in db.session.scalars(
            scoped(select(SupportRecord).where(SupportRecord.id.in_(original_ids)), SupportRecord, user)
            .options(selectinload(SupportRecord.evidence))
        )
    } if original_ids else {}
    entity_ids = [str(i) for i in {r.id for r in records} | set(originals)]
    events = db.session.scalars(
        scoped(select(AuditEvent).where(AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id.in_(entity_ids),
                                        AuditEvent.action.in_(_EVENTS)), AuditEvent, user)
        .order_by(AuditEvent.id)
    ).all()
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = dict(db.session.execute(select(User.id, User.display_name).where(User.id.in_(actor_ids))).all()) if actor_ids else {}
    by_record: dict[str, list[AuditEvent]] = {}
    for event in events:
        by_record.setdefault(event.entity_id, []).append(event)

    out = {}
    for record in records:
        review = Review()
        original = originals.get(record.supersedes_id) if record.supersedes_id else None
        if original is not None:
            for event in by_record.get(str(original.id), ()):
                if event.action == "dispute":
                    review.disputes.append(_dispute(event, names, of_original=original.reference))
            earlier = _compare(f"原记录 {original.reference}", {n: getattr(original, n) for n in COMPARED}, record)
            ours = {e.sha256 for e in record.evidence}
            theirs = {e.sha256 for e in original.evidence}
            earlier.evidence_dropped = [e.original_name for e in original.evidence if e.sha256 not in ours]
            earlier.evidence_added = [e.original_name for e in record.evidence if e.sha256 not in theirs]
            review.earlier.append(earlier)
        own = by_record.get(str(record.id), ())
        last_dispute = None
        for event in own:
            if event.action == "dispute":
                review.disputes.append(_dispute(event, names))
                last_dispute = event
        if last_dispute is not None and record.status != "disputed":  # changed and resubmitted since
            earlier = _compare(f"{date_cn(last_dispute.at)}村提出异议时", _load(last_dispute.after), record)
            earlier.evidence_added, earlier.evidence_dropped = _evidence_since(own, last_dispute.id)
            review.earlier.append(earlier)
        out[record.id] = review
    return out


def review(record: SupportRecord, user) -> Review:
    return reviews([record], user)[record.id]


def _dispute(event: AuditEvent, names: dict[int, str], of_original: str | None = None) -> Dispute:
    reason = _load(event.after).get("dispute_reason") or ""
    if not reason and "（理由：" in (event.summary or ""):  # an event written without a snapshot
        reason = event.summary.split("（理由：", 1)[1].rstrip("）")
    return Dispute(reason=reason, at=event.at, actor=_who(event, names), of_original=of_original)


def _evidence_since(events, after_id: int) -> tuple[list[str], list[str]]:
    """(added, removed) file names by the evidence events after ``after_id``; a file added
    and removed again in between is neither."""
    added: dict[str, str] = {}
    removed: dict[str, str] = {}
    for event in events:
        if event.id <= after_id or event.action not in ("evidence_add", "evidence_delete"):
            continue
        view = _load(event.after if event.action == "evidence_add" else event.before)
        key, name = view.get("sha256") or str(view.get("evidence_id")), view.get("original_name") or ""
        if event.action == "evidence_add":
            if removed.pop(key, None) is None:
                added[key] = name
        elif added.pop(key, None) is None:
            removed[key] = name
    return list(added.values()), list(removed.values())
