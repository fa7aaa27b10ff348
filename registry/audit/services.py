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
from json.encoder import encode_basestring

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
    optionally ``region_code``, ``organization_id``, ``before``, ``after``; instead of
    ``after`` a bulk caller may give ``after_json``, the text ``canonical(after)`` makes
    (``FlatCanonical`` builds it cheaply for many rows alike). The chain is the same as if
    ``record`` had been called for each, in order: the same columns, the same hashes."""
    if not events:
        return 0
    db.session.flush()
    lock_for_chain()
    last = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    user = _actor(actor)
    next_id, prev = ((last.id + 1), last.hash) if last else (1, GENESIS)
    at = utcnow()
    actor_id, actor_name = getattr(user, "id", None), getattr(user, "username", None) or "system"
    # what _chain_hash joins between the id and the action is the same for every event
    middle = f"{at.isoformat(timespec='microseconds')}|{actor_id or ''}|{actor_name}"
    sha256 = hashlib.sha256
    rows = []
    for event_id, item in enumerate(events, start=next_id):
        entity_id = str(item["entity_id"])
        summary = item.get("summary", "")[:300]
        region_code, organization_id = item.get("region_code"), item.get("organization_id")
        before = canonical(item.get("before"))
        if "after_json" in item:
            after = item["after_json"]
        else:
            after = item.get("after")
            after = canonical(after) if after else None
        action, entity_type = item["action"], item["entity_type"]
        # _chain_hash's payload, written out: the same hash as record()'s (tests hold it)
        payload = (f"{prev}|{event_id}|{middle}|{action}|{entity_type}|{entity_id}|{summary or ''}|"
                   f"{region_code or ''}|{organization_id or ''}|{before or ''}|{after or ''}")
        digest = sha256(payload.encode()).hexdigest()
        rows.append((event_id, actor_id, actor_name, action, entity_type, entity_id, summary, region_code,
                     organization_id, before, after, prev, digest))
        prev = digest
    _insert_events(at, rows)
    return len(rows)


_EVENT_COLUMNS = ("id", "actor_id", "actor", "action", "entity_type", "entity_id", "summary", "region_code",
                  "organization_id", "before", "after", "prev_hash", "hash")


def _insert_events(at: datetime, rows: list[tuple]) -> None:
    """Insert the events (tuples in ``_EVENT_COLUMNS`` order, all at ``at``) in one
    executemany. On SQLite the tuples go straight to the driver (Core's per-row parameter
    handling would cost more than the insert); elsewhere Core batches them."""
    table = AuditEvent.__table__
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [{"at": at, **dict(zip(_EVENT_COLUMNS, row))} for row in rows])
        return
    # the columns' own bind processors (none for these types on SQLite today, but a
    # type that gains one keeps working), and ``at`` as the driver would adapt it, once
    names = ("at", *_EVENT_COLUMNS)
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    stamp = processors[0](at) if processors[0] else at
    dbapi = conn.dialect.dbapi
    stamp = dbapi.adapt(stamp, dbapi.PrepareProtocol, stamp)
    sql = f"INSERT INTO {table.name} ({', '.join(conn.dialect.identifier_preparer.quote(n) for n in names)}) " \
          f"VALUES ({', '.join('?' * len(names))})"
    if any(processors[1:]):
        convert = [f or (lambda v: v) for f in processors[1:]]
        params = [(stamp, *[f(v) for f, v in zip(convert, row)]) for row in rows]
    else:
        params = [(stamp, *row) for row in rows]
    conn.exec_driver_sql(sql, params)


_ESCAPE = encode_basestring  # what _CANONICAL writes for a str (ensure_ascii=False)


def _scalar(value) -> str:
    """``canonical`` of one value inside a dict (the common types without a call into
    the encoder)."""
    cls = value.__class__
    if cls is str:
        return _ESCAPE(value)
    if value is None:
        return "null"
    if cls is int:
        return int.__repr__(value)
    if cls is bool:
        return "true" if value else "false"
    return _CANONICAL.encode(value)


class FlatCanonical:
    """``canonical`` of many flat dicts with the same keys (a bulk import's ``after``):
    the values every dict shares (``fixed``) are encoded once into a template, each dict's
    own values (``varying``, its other keys) one by one. ``make(values)`` equals
    ``canonical({**fixed, **values})`` when ``values`` holds exactly the varying keys."""

    def __init__(self, fixed: dict, varying) -> None:
        varying = set(varying)
        if varying & set(fixed):
            raise ValueError("a key is both fixed and varying")
        parts = []
        self.order: list[str] = []
        for key in sorted({*fixed, *varying}):
            if key in varying:
                parts.append(_ESCAPE(key).replace("%", "%%") + ":%s")
                self.order.append(key)
            else:
                parts.append(f"{_ESCAPE(key)}:{_scalar(fixed[key])}".replace("%", "%%"))
        self.template = "{" + ",".join(parts) + "}"

    def make(self, values: dict) -> str:
        return self.template % tuple([_scalar(values[key]) for key in self.order])


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
