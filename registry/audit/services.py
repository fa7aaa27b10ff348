"""Recording and verifying the audit chain.

``record`` is called by every service that writes, inside the service's transaction,
so the change and its event commit or roll back together.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import insert, inspect, select

from ..core.database import lock_for_chain
from ..core.scope import scoped
from ..core.timeutil import utcnow
from ..extensions import db
from .models import AuditEvent

GENESIS = "0" * 64


def _default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


# one encoder for every event (json.dumps would build one per call)
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_default)


def canonical(data) -> str | None:
    if data is None:
        return None
    return _CANONICAL.encode(data)


def snapshot(obj) -> dict:
    """Column values of ``obj``; columns marked ``info={'sensitive': True}`` are hidden."""
    out = {}
    for attr in inspect(obj).mapper.column_attrs:
        column = attr.columns[0]
        if column.info.get("sensitive"):
            value = getattr(obj, attr.key)
            out[attr.key] = None if value is None else "[受保护]"
            continue
        out[attr.key] = getattr(obj, attr.key)
    # round-trip so the stored form and the hashed form are identical
    return json.loads(canonical(out))


_HASHED = ("prev_hash", "id", "actor_id", "actor", "action", "entity_type", "entity_id", "summary", "region_code",
           "organization_id", "before", "after")


def compute_hash(event: AuditEvent) -> str:
    return _chain_hash({key: getattr(event, key) for key in _HASHED}, event.at.isoformat(timespec="microseconds"))


def _chain_hash(row: dict, at: str) -> str:
    """The hash of an event given as a dict of its columns, ``at`` already as text (a
    bulk insert formats its one timestamp once)."""
    payload = "|".join(
        [
            row["prev_hash"],
            str(row["id"]),
            at,
            str(row["actor_id"] or ""),
            row["actor"],
            row["action"],
            row["entity_type"],
            row["entity_id"],
            row["summary"] or "",
            row["region_code"] or "",
            str(row["organization_id"] or ""),
            row["before"] or "",
            row["after"] or "",
        ]
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _actor(actor):
    if actor is not None:
        return actor
    if has_request_context() and current_user.is_authenticated:
        return current_user
    return None


def record(
    action: str,
    entity,
    *,
    before: dict | None = None,
    after: dict | None | bool = True,
    summary: str = "",
    region_code: str | None = None,
    organization_id: int | None = None,
    actor=None,
    actor_name: str | None = None,
) -> AuditEvent:
    """Append an event for ``entity`` (a model instance) to the chain.

    ``after=True`` (the default) snapshots the entity as it is now.
    """
    db.session.flush()
    if after is True:
        after = snapshot(entity)
    lock_for_chain()
    last = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    user = _actor(actor)
    event = AuditEvent(
        id=(last.id + 1) if last else 1,
        at=utcnow(),
        actor_id=getattr(user, "id", None),
        actor=actor_name or getattr(user, "username", None) or "system",
        action=action,
        entity_type=type(entity).__name__ if not isinstance(entity, str) else entity,
        entity_id=str(inspect(entity).identity[0]) if not isinstance(entity, str) else "",
        summary=summary[:300],
        region_code=region_code if region_code is not None else getattr(entity, "audit_region_code", None),
        organization_id=(
            organization_id if organization_id is not None else getattr(entity, "audit_organization_id", None)
        ),
        before=canonical(before),
        after=canonical(after) if after else None,
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = compute_hash(event)
    db.session.add(event)
    return event


def record_many(events: list[dict], *, actor=None) -> int:
    """Append many events at once (a bulk import): one chain lock, one insert.

    Each event is a dict with ``action``, ``entity_type``, ``entity_id``, ``summary`` and
    optionally ``region_code``, ``organization_id``, ``before``, ``after``. The chain is
    the same as if ``record`` had been called for each, in order."""
    if not events:
        return 0
    db.session.flush()
    lock_for_chain()
    last = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    user = _actor(actor)
    next_id, prev = ((last.id + 1), last.hash) if last else (1, GENESIS)
    at = utcnow()
    stamp = at.isoformat(timespec="microseconds")
    rows = []
    actor_id, actor_name = getattr(user, "id", None), getattr(user, "username", None) or "system"
    for offset, item in enumerate(events):
        row = {
            "id": next_id + offset, "at": at, "actor_id": actor_id, "actor": actor_name, "action": item["action"],
            "entity_type": item["entity_type"], "entity_id": str(item["entity_id"]),
            "summary": item.get("summary", "")[:300], "region_code": item.get("region_code"),
            "organization_id": item.get("organization_id"), "before": canonical(item.get("before")),
            "after": canonical(item.get("after")) if item.get("after") else None, "prev_hash": prev,
        }
        row["hash"] = prev = _chain_hash(row, stamp)  # the same hash as record()'s
        rows.append(row)
    db.session.execute(insert(AuditEvent.__table__), rows)  # Core: no ORM bookkeeping per row
    return len(rows)


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify_chain(batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; name the first event whose link or hash is wrong."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows = db.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            return ChainReport(checked)
        for event in rows:
            if event.id != expected_id:
                return ChainReport(checked, event.id, f"缺少编号为 {expected_id} 的事件（记录被删除）")
            if event.prev_hash != prev_hash:
                return ChainReport(checked, event.id, "与上一事件的链接不符")
            if compute_hash(event) != event.hash:
                return ChainReport(checked, event.id, "内容与哈希不符（记录被修改）")
            prev_hash, expected_id, checked = event.hash, event.id + 1, checked + 1
            last_id = event.id
        db.session.expunge_all()


# -- reading -------------------------------------------------------------------------------


def events_of(user, entity_type: str, entity_id: int | str) -> list[AuditEvent]:
    """The audit events about one object that ``user`` may read, oldest first."""
    stmt = scoped(select(AuditEvent), AuditEvent, user).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
    )
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)).all())
