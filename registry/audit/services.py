"""Recording and verifying the audit chain.

``record`` is called by every service that writes, inside the service's transaction,
so the change and its event commit or roll back together.
"""
from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import insert, inspect, select

from ..core.database import lock_for_chain, staged_insert
from ..core.scope import scoped
from ..core.timeutil import utcnow
from ..extensions import db
from . import anchor
from .anchor import LEGACY, Checkpoint, UnknownKey, chain_digest, keyring, read_checkpoint
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
    """The hash ``event`` must carry: an HMAC-SHA256 under its key (``anchor``)."""
    row = {key: getattr(event, key) for key in _HASHED}
    return chain_digest(event.key_id, _payload(row, event.at.isoformat(timespec="microseconds")))


def _payload(row: dict, at: str) -> str:
    """What an event's hash is computed over: its columns joined by ``|``, ``at`` already
    as text (a bulk insert formats its one timestamp once)."""
    return "|".join(
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
        key_id=keyring().current_id,
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
    anchor.mark_written(db.session)
    return event


def record_many(events: list[dict], *, actor=None) -> int:
    """Append many events at once (a bulk import): one chain lock, one insert.

    Each event is a dict with ``action``, ``entity_type``, ``entity_id``, ``summary`` and
    optionally ``region_code``, ``organization_id``, ``before``, ``after``; instead of
    ``after`` a bulk caller may give ``after_json``, the text ``canonical(after)`` makes
    (``FlatCanonical`` builds it cheaply for many rows alike). The chain is the same as if
    ``record`` had been called for each, in order: the same columns, the same hashes.
    (``open_chain`` does the same in steps, for a caller that links its events while
    the database is busy with something else.)"""
    if not events:
        return 0
    chain = open_chain(actor)
    chain.write(chain.link(events))
    return len(events)


@dataclass
class Chain:
    """The head of the audit chain, read once for a batch of events (``open_chain``):
    ``link`` hashes events onto it in order (Python only, no database), ``write``
    inserts what was linked. Nothing else may append to the chain in between: the
    transaction holds the writers' lock (``lock_for_chain``; SQLite's write lock)."""

    next_id: int
    prev: str
    at: datetime
    actor_id: int | None
    actor_name: str
    key_id: int
    keyed: object  # the key's HMAC, copied for each event (anchor.Keyring)

    def link(self, events: list[dict]) -> list[tuple]:
        """The events (as ``record_many`` takes them) as rows in ``_EVENT_COLUMNS`` order,
        each hashed onto the one before, from the head on; the head moves past them."""
        # what _payload joins between the id and the action is the same for every event
        middle = f"{self.at.isoformat(timespec='microseconds')}|{self.actor_id or ''}|{self.actor_name}"
        keyed, prev = self.keyed, self.prev
        rows = []
        for event_id, item in enumerate(events, start=self.next_id):
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
            # _payload written out: the same hash as record()'s (tests hold it)
            payload = (f"{prev}|{event_id}|{middle}|{action}|{entity_type}|{entity_id}|{summary or ''}|"
                       f"{region_code or ''}|{organization_id or ''}|{before or ''}|{after or ''}")
            mac = keyed.copy()
            mac.update(payload.encode())
            digest = mac.hexdigest()
            rows.append((event_id, action, entity_type, entity_id, summary, region_code, organization_id, before,
                         after, prev, digest))
            prev = digest
        self.next_id += len(rows)
        self.prev = prev
        return rows

    def write(self, rows: list[tuple]) -> None:
        """Insert rows ``link`` made, in one batch."""
        if not rows:
            return
        _insert_events({"at": self.at, "actor_id": self.actor_id, "actor": self.actor_name, "key_id": self.key_id},
                       rows)
        anchor.mark_written(db.session)


def open_chain(actor=None) -> Chain:
    """Lock the chain for this transaction and read its head, for ``Chain.link``."""
    keys = keyring()
    key_id = keys.current_id
    db.session.flush()
    lock_for_chain()
    last = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    user = _actor(actor)
    return Chain(next_id=last.id + 1 if last else 1, prev=last.hash if last else GENESIS, at=utcnow(),
                 actor_id=getattr(user, "id", None), actor_name=getattr(user, "username", None) or "system",
                 key_id=key_id, keyed=keys.chain_hmac(key_id))


# an event's own columns (the time, the actor and the key are the same for a whole batch)
_EVENT_COLUMNS = ("id", "action", "entity_type", "entity_id", "summary", "region_code", "organization_id", "before",
                  "after", "prev_hash", "hash")


def _insert_events(shared: dict, rows: list[tuple]) -> None:
    """Insert the events (tuples in ``_EVENT_COLUMNS`` order, each also given the
    ``shared`` columns: time, actor, key). On SQLite the tuples go straight to the
    driver (Core's per-row parameter handling would cost more than the insert) through
    ``staged_insert``, which binds the shared columns once; elsewhere Core batches them."""
    table = AuditEvent.__table__
    conn = db.session.connection()
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [{**shared, **dict(zip(_EVENT_COLUMNS, row))} for row in rows])
        return
    # the columns' own bind processors (none for these types on SQLite today, but a
    # type that gains one keeps working)
    convert = [(i, f) for i, name in enumerate(_EVENT_COLUMNS) if (f := table.c[name].type.bind_processor(conn.dialect))]
    if convert:
        rows = [tuple(row) for row in rows]
        for k, row in enumerate(rows):
            row = list(row)
            for i, f in convert:
                row[i] = f(row[i])
            rows[k] = tuple(row)
    staged_insert(conn, table, _EVENT_COLUMNS, rows, shared)


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
    broken_id: int | None = None  # the first event that is wrong or missing
    reason: str = ""  # what is wrong (empty: nothing)
    checkpoint: Checkpoint | None = None  # the latest checkpoint, as read
    note: str = ""  # a caveat that is not a break (no checkpoint yet)

    @property
    def ok(self) -> bool:
        return not self.reason


_VERIFIED = [getattr(AuditEvent, name) for name in (*_HASHED, "at", "key_id", "hash")]


def verify_chain(batch: int = 5000, *, against_checkpoint: bool = True) -> ChainReport:
    """Walk the chain in id order and compare it with the latest checkpoint; name the
    first event whose link, hash or key is wrong, or the first one missing."""
    checkpoint = read_checkpoint() if against_checkpoint else None
    trusted = checkpoint if checkpoint is not None and checkpoint.valid else None
    keys = keyring()
    prev_hash, expected_id, checked, keyed = GENESIS, 1, 0, False

    def broken(event_id: int, reason: str) -> ChainReport:
        return ChainReport(checked, event_id, reason, checkpoint)

    while True:
        rows = db.session.execute(
            select(*_VERIFIED).where(AuditEvent.id >= expected_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.id != expected_id:
                return broken(row.id, f"缺少编号为 {expected_id} 的事件（记录被删除）")
            if row.prev_hash != prev_hash:
                return broken(row.id, "与上一事件的链接不符")
            if row.key_id == LEGACY:
                if keyed:
                    return broken(row.id, "无密钥的旧式事件出现在有密钥的事件之后（链被改写）")
                if trusted is not None and row.id > trusted.legacy_end:
                    return broken(row.id, f"无密钥的旧式事件超出了检查点封存的范围（第 {trusted.legacy_end} 条）（链被改写）")
            else:
                keyed = True
            try:
                digest = chain_digest(row.key_id, _payload(row._asdict(), row.at.isoformat(timespec="microseconds")),
                                      keys)
            except UnknownKey:
                return broken(row.id, f"密钥编号 {row.key_id} 不在密钥环中，无法核验（旧密钥应保留在 AUDIT_OLD_KEYS 中）")
            if not hmac.compare_digest(digest, row.hash):
                return broken(row.id, "内容与哈希不符（记录被修改）")
            if trusted is not None and row.id == trusted.count and row.hash != trusted.hash:
                return broken(row.id, f"与检查点记录的第 {trusted.count} 条事件的哈希不符（此前的记录被改写）")
            prev_hash, expected_id, checked = row.hash, row.id + 1, checked + 1
    if trusted is not None and checked < trusted.count:
        if checked == 0:
            return broken(1, f"审计表为空，但检查点记录了 {trusted.count} 条事件（记录被全部删除）")
        return broken(checked + 1, f"库中只有 {checked} 条事件，检查点记录了 {trusted.count} 条"
                                   f"（末尾 {trusted.count - checked} 条被删除）")
    if checkpoint is not None and not checkpoint.valid:
        return ChainReport(checked, None, checkpoint.problem, checkpoint)
    note = "" if checkpoint is not None or not checked or not against_checkpoint else \
        "尚无检查点：无法判断末尾的记录是否被删除"
    return ChainReport(checked, None, "", checkpoint, note)


def write_checkpoint_now(*, after_restore: bool = False, actor=None) -> ChainReport:
    """Verify the chain and, if it holds, sign its head as the checkpoint (the frequent
    job, ``flask audit checkpoint``). ``after_restore``: the database was restored from a
    backup older than the checkpoint; the chain is checked on its own, the reset is
    recorded as an event, and the head after it replaces the checkpoint."""
    report = verify_chain(against_checkpoint=not after_restore)
    if not report.ok:
        return report
    old = read_checkpoint()
    if after_restore and old is not None:
        record("checkpoint_reset", "AuditEvent", actor=actor, summary=(
            f"恢复备份后重置审计检查点：原检查点 {old.count} 条（{old.at.isoformat(timespec='seconds')}），"
            f"现有 {report.checked} 条"),
            before={"count": old.count, "hash": old.hash, "at": old.at, "key_id": old.key_id},
            after={"count": report.checked + 1})
        db.session.commit()
    head = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    if head is not None:
        legacy_end = old.legacy_end if old is not None and old.valid else anchor.legacy_end_of(db.session)
        anchor.write_checkpoint(head.id, head.hash, legacy_end, allow_lower=after_restore)
    db.session.rollback()
    return verify_chain()


# -- reading -------------------------------------------------------------------------------


def events_of(user, entity_type: str, entity_id: int | str) -> list[AuditEvent]:
    """The audit events about one object that ``user`` may read, oldest first."""
    stmt = scoped(select(AuditEvent), AuditEvent, user).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
    )
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)).all())
