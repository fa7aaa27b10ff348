"""Recording and verifying the audit chains.

``record`` is called by every service that writes, inside the service's transaction,
so the change and its event commit or roll back together.

The trail is cut into chains, one per partition (``partition``: a city, or the province
and the system for events above any city): each event hashes the one before it in its
own chain (``chain``, ``seq``: its place there, gap-free). Writes in different cities
never queue for one chain's head. The events a transaction records are linked and
written once, just before it commits (a ``core.database.before_commit`` step, after the
summaries): its chains are locked then (on PostgreSQL, an advisory lock per chain in
sorted order; SQLite has one writer anyway), their heads read, the events hashed onto
them in the order they were recorded and inserted in one batch. The heads of every
chain are checkpointed together (``anchor``).
"""
from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from json.encoder import encode_basestring

from flask import has_request_context
from flask_login import current_user
from sqlalchemy import bindparam, func, insert, inspect, literal, select, text, tuple_

from ..core.bulk_load import staged_insert
from ..core.database import CHAIN_LOCKS, before_commit, lock_keys, pending
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
    """Column values of ``obj``; columns marked ``info={'sensitive': True}`` are hidden.

    The values as storing the event and reading it back give them (what ``canonical``
    writes, read back by ``json.loads``), in key order, so the stored form and the hashed
    form are identical: plain text, numbers, booleans and None as they are, dates and
    times in ISO form, decimals as text; any other value (a JSON column's) goes through
    ``canonical`` and back. Built directly: one encoding an event (by ``record``) instead
    of three."""
    out = {}
    for key, sensitive in _snapshot_columns(inspect(obj).mapper):
        value = getattr(obj, key)
        if sensitive:
            out[key] = None if value is None else "[受保护]"
        else:
            kind = value.__class__
            out[key] = (value if kind in _AS_IS else value.isoformat() if kind in _ISO else str(value)
                        if kind is Decimal else json.loads(canonical(value)))
    return out


_AS_IS = frozenset({str, int, float, bool, type(None)})  # exactly these types: a subclass (an enum) is not
_ISO = frozenset({date, datetime})


@functools.cache
def _snapshot_columns(mapper) -> tuple[tuple[str, bool], ...]:
    """(attribute key, sensitive) of the mapper's columns, by key (the order a stored
    snapshot reads back in)."""
    return tuple(sorted((attr.key, bool(attr.columns[0].info.get("sensitive"))) for attr in mapper.column_attrs))


_HASHED = ("prev_hash", "id", "actor_id", "actor", "action", "entity_type", "entity_id", "summary", "region_code",
           "organization_id", "before", "after")


ROOT_CHAIN = ""  # the province's and the system's events, and every event written before the partitions


def partition(region_code: str | None) -> str:
    """The chain an event about ``region_code`` goes into: its city (the code's first
    four digits), or the root chain for the province level and events without a region."""
    if region_code and len(region_code) >= 4 and region_code[2:4] != "00" and region_code[:4].isdigit():
        return region_code[:4]
    return ROOT_CHAIN


def compute_hash(event: AuditEvent) -> str:
    """The hash ``event`` must carry: an HMAC-SHA256 under its key (``anchor``)."""
    row = {key: getattr(event, key) for key in _HASHED}
    return chain_digest(event.key_id, _payload(row, event.at.isoformat(timespec="microseconds"), event.chain or ""))


def _payload(row: dict, at: str, chain: str = ROOT_CHAIN) -> str:
    """What an event's hash is computed over: its columns joined by ``|``, ``at`` already
    as text (a bulk insert formats its one timestamp once), then its chain's name unless
    it is the root chain (whose events, from before the partitions, keep their hashes):
    an event moved to another chain no longer verifies."""
    return _chained("|".join(
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
    ), chain)


def _chained(payload: str, chain: str) -> str:
    return payload if chain == ROOT_CHAIN else f"{payload}|{chain}"


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
    """Record an event for ``entity`` (a model instance): it is linked into its chain
    and written when the transaction commits (returned unsaved, without id or hash).

    ``after=True`` (the default) snapshots the entity as it is now.
    """
    db.session.flush()
    if after is True:
        after = snapshot(entity)
    user = _actor(actor)
    event = AuditEvent(
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
    )
    _queued(db.session).append(
        {"at": event.at, "actor_id": event.actor_id, "actor": event.actor},
        [(event.action, event.entity_type, event.entity_id, event.summary, event.region_code,
          event.organization_id, event.before, event.after)])
    return event


def record_many(events: list[dict], *, actor=None) -> int:
    """Record many events at once (a bulk import): one batch, linked and written with
    the transaction's other events when it commits.

    Each event is a dict with ``action``, ``entity_type``, ``entity_id``, ``summary`` and
    optionally ``region_code``, ``organization_id``, ``before``, ``after``; instead of
    ``after`` a bulk caller may give ``after_json``, the text ``canonical(after)`` makes
    (``FlatCanonical`` builds it cheaply for many rows alike). The chains are the same as
    if ``record`` had been called for each, in order: the same columns, the same hashes.
    (``open_chain`` does the same in steps, for a caller that prepares its events while
    the database is busy with something else.)"""
    if not events:
        return 0
    chain = open_chain(actor)
    chain.write(chain.link(events))
    return len(events)


@dataclass
class Queued:
    """The events a transaction recorded, in batches sharing a time and an actor (each
    with the rows it was linked to ahead of the commit, if it was: ``Chain.ahead``)."""

    batches: list[tuple[dict, list[tuple], Ahead | None]]

    def append(self, shared: dict, items: list[tuple], ahead: Ahead | None = None) -> None:
        self.batches.append((shared, items, ahead))


def _queued(session) -> Queued:
    anchor.listen()
    return pending(session, "audit", lambda: Queued([]))


@dataclass
class Chain:
    """A batch of events by one actor at one instant (``open_chain``): ``link`` turns
    event dicts into rows (Python only, no database), ``write`` queues what was linked
    for the commit, which hashes the rows onto their chains' heads."""

    at: datetime
    actor_id: int | None
    actor_name: str

    def link(self, events: list[dict]) -> list[tuple]:
        """The events (as ``record_many`` takes them) as rows in ``_ITEM`` order."""
        rows = []
        for item in events:
            before = canonical(item.get("before"))
            if "after_json" in item:
                after = item["after_json"]
            else:
                after = item.get("after")
                after = canonical(after) if after else None
            rows.append((item["action"], item["entity_type"], str(item["entity_id"]), item.get("summary", "")[:300],
                         item.get("region_code"), item.get("organization_id"), before, after))
        return rows

    @property
    def shared(self) -> dict:
        """The columns every event of the batch shares (but the key)."""
        return {"at": self.at, "actor_id": self.actor_id, "actor": self.actor_name}

    def write(self, rows: list[tuple] | Ahead) -> None:
        """Queue rows ``link`` made (or a bulk caller made itself, in ``ITEM`` order: the
        entity id as text, the summary at most 300 characters, ``before`` and ``after``
        as ``canonical`` writes them), in one batch; or an ``Ahead``'s rows, with the
        hashes it gave them."""
        ahead = rows if isinstance(rows, Ahead) else None
        if ahead is not None:
            rows = ahead.items
        if rows:
            _queued(db.session).append(self.shared, rows, ahead)

    def ahead(self, conn, region_codes) -> Ahead:
        """A batch whose events are hashed as they are added (``Ahead.add``), onto the
        heads their chains have now, so that the commit need not hash them: for a bulk
        caller that adds them while the database is busy copying other rows. Only on
        SQLite, whose transaction is the one writer until it commits (the heads read now
        are the heads then, unless the transaction itself records events first, which
        the commit sees: it hashes the batch again then). ``region_codes``: the events'
        regions (their chains' heads are read now, on ``conn``, which must be free).
        Elsewhere the events are only collected, for the commit to hash."""
        if conn.dialect.name != "sqlite":
            return Ahead(self.shared, None)
        chains = sorted({partition(code) for code in region_codes}) or [ROOT_CHAIN]
        heads, first = _heads(conn, chains)
        return Ahead(self.shared, _Linker({chain: heads.get(chain, (0, GENESIS)) for chain in chains},
                                          range(first, first + 2**62), keyring().current_id))


def open_chain(actor=None) -> Chain:
    """A batch of events by ``actor`` at this instant, for ``Chain.link``."""
    user = _actor(actor)
    return Chain(at=utcnow(), actor_id=getattr(user, "id", None),
                 actor_name=getattr(user, "username", None) or "system")


# a recorded event's own columns, as queued (``_ITEM``) and as inserted (``_EVENT_COLUMNS``;
# the time, the actor and the key are shared by a batch)
_ITEM = ("action", "entity_type", "entity_id", "summary", "region_code", "organization_id", "before", "after")
ITEM = _ITEM  # the order of a row ``Chain.write`` takes


_FEW = 64  # up to so many events a transaction inserts in one executemany; more go in per batch (bulk)

# What derives from the trail itself and must move with it (``closing.evidence``'s grades
# whose evidence moved): functions of (connection, batches) run in every commit that
# recorded events, on its batches ((shared, items, ahead): items in ``ITEM`` order)
# before they are linked, so before the chains are locked.
_WATCHERS: list = []


def watch_events(fn):
    """Register ``fn(conn, batches)`` (above); returns it."""
    if fn not in _WATCHERS:
        _WATCHERS.append(fn)
    return fn


@before_commit(20, "audit")
def link_and_write(session, queued: list[Queued]) -> None:
    """Link every event the transaction recorded into its chain and insert them: lock
    the chains (sorted), read their heads, hash each event onto its chain's head in the
    order recorded; then let the anchor check the heads it will checkpoint."""
    batches = [batch for part in queued for batch in part.batches if batch[1]]
    if not batches:
        return
    conn = session.connection()
    for watcher in _WATCHERS:
        watcher(conn, batches)
    chain_of = {code: partition(code) for code in {item[4] for _, items, _ in batches for item in items}}
    chains = sorted(set(chain_of.values()))
    lock_keys(conn, [(CHAIN_LOCKS, int(chain or 0)) for chain in chains])
    count = sum(len(items) for _, items, _ in batches)
    heads, ids = _heads_and_ids(conn, chains, count)
    before = dict(heads)
    key_id = keyring().current_id
    linked: list[tuple[dict, list[tuple]]] = []
    linker = _Linker(heads, ids, key_id)
    for shared, items, ahead in batches:
        if ahead is not None and ahead.fits(heads, ids[linker.done:linker.done + len(items)], key_id):
            rows = ahead.linker.rows
            heads.update(ahead.linker.heads)
            linker.done += len(items)
        else:
            rows = linker.link(shared, items)
        linked.append(({**shared, "key_id": key_id}, rows))
    if count <= _FEW:  # one statement for the transaction's few events
        conn.execute(_event_insert(), [{**shared, **dict(zip(_EVENT_COLUMNS, row))}
                                       for shared, rows in linked for row in rows])
    else:
        for shared, rows in linked:
            if len(rows) <= _FEW:  # a few beside a bulk batch (an import's own event): no staging
                conn.execute(_event_insert(), [{**shared, **dict(zip(_EVENT_COLUMNS, row))} for row in rows])
            else:
                _insert_events(conn, shared, rows)
    anchor.extend(session, before, {chain: heads[chain] for chain in chains})


@functools.cache
def _event_insert():
    """The events' INSERT, built once: every commit that recorded events runs it, and a
    statement built anew has its cache key computed anew."""
    return insert(AuditEvent.__table__)


def _heads_and_ids(conn, chains: list[str], count: int) -> tuple[dict[str, tuple[int, str]], Sequence[int]]:
    """Each chain's last (seq, hash) (a chain with no events yet is absent) and ids for
    ``count`` new events: from the table's sequence on PostgreSQL; on SQLite (one writer
    at a time) the next ones after the largest (a ``range``)."""
    heads, first = _heads(conn, chains)
    if first is not None:
        return heads, range(first, first + count)
    return heads, list(conn.execute(text("SELECT nextval('audit_event_id_seq') FROM generate_series(1, :n)"),
                                    {"n": count}).scalars())


def _heads(conn, chains: list[str]) -> tuple[dict[str, tuple[int, str]], int | None]:
    """Each chain's last (seq, hash) (a chain with no events yet is absent); on SQLite
    also the id after the largest, read with the first chain's head (None elsewhere)."""
    heads = {}
    head, head_and_largest = _statements()
    first = None
    if conn.dialect.name != "postgresql":
        row = conn.execute(head_and_largest, {"chain": chains[0]}).one()
        if row.seq is not None:
            heads[chains[0]] = (row.seq, row.hash)
        first = (row.largest or 0) + 1
    for chain in chains[first is not None:]:
        row = conn.execute(head, {"chain": chain}).first()
        if row is not None:
            heads[chain] = (row.seq, row.hash)
    return heads, first


class _Linker:
    """Hashes events onto their chains: ``heads`` (chain -> (seq, hash); advanced in
    place, a chain absent from it starts at the genesis), the ids ``ids`` in turn, under
    key ``key_id``. ``rows``: every event it linked, as inserted (``_EVENT_COLUMNS``)."""

    def __init__(self, heads: dict[str, tuple[int, str]], ids: Sequence[int], key_id: int) -> None:
        self.heads, self.ids, self.key_id = heads, ids, key_id
        self.done = 0  # events linked: the next one's id is ids[done]
        self.keyed = keyring().chain_hmac(key_id)
        self.chain_of: dict[str | None, str] = {}  # a bulk batch names the same few villages again and again
        self.rows: list[tuple] = []

    def link(self, shared: dict, items: list[tuple]) -> list[tuple]:
        """Hash ``items`` (in ``_ITEM`` order, with the time and actor of ``shared``);
        returns their rows."""
        heads, ids, keyed, chain_of = self.heads, self.ids, self.keyed, self.chain_of
        at = shared["at"]
        # what _payload joins between the id and the action is the same for every event of a batch
        middle = f"{at.isoformat(timespec='microseconds')}|{shared['actor_id'] or ''}|{shared['actor']}"
        rows = []
        n = self.done
        for action, entity_type, entity_id, summary, region_code, organization_id, before_json, after_json in items:
            chain = chain_of.get(region_code)
            if chain is None:
                chain = chain_of[region_code] = partition(region_code)
            seq, prev = heads.get(chain, (0, GENESIS))
            event_id = ids[n]
            n += 1
            # _payload written out: the same hash as compute_hash's (tests hold it)
            payload = _chained(f"{prev}|{event_id}|{middle}|{action}|{entity_type}|{entity_id}|{summary or ''}|"
                               f"{region_code or ''}|{organization_id or ''}|{before_json or ''}|{after_json or ''}",
                               chain)
            mac = keyed.copy()
            mac.update(payload.encode())
            digest = mac.hexdigest()
            rows.append((event_id, chain, seq + 1, action, entity_type, entity_id, summary, region_code,
                         organization_id, before_json, after_json, prev, digest))
            heads[chain] = (seq + 1, digest)
        self.done = n
        self.rows += rows
        return rows


class Ahead:
    """A batch of events hashed as they are added (``Chain.ahead``), on SQLite; elsewhere
    (``linker`` None) only collected. The commit takes the rows hashed ahead when, at the
    batch's turn, its chains' heads, the next id and the key are still those they were
    hashed with, and hashes the events again otherwise."""

    def __init__(self, shared: dict, linker: _Linker | None = None) -> None:
        self.shared, self.linker = shared, linker
        self.before = dict(linker.heads) if linker is not None else {}
        self.items: list[tuple] = []

    def add(self, items: list[tuple]) -> None:
        """Add events (rows in ``ITEM`` order) to the batch, hashed now if it hashes ahead."""
        self.items += items
        if self.linker is not None:
            self.linker.link(self.shared, items)

    def fits(self, heads: dict[str, tuple[int, str]], ids: Sequence[int], key_id: int) -> bool:
        """Whether the rows hashed ahead are those the commit would make, given the heads
        and the batch's ids (``ids``) there: the same heads of the chains it read (and no
        event on a chain it did not), ids and key."""
        linker = self.linker
        return (linker is not None and key_id == linker.key_id and len(linker.rows) == len(self.items)
                and ids == linker.ids[:len(self.items)] and set(linker.heads) == set(self.before)
                and all(heads.get(chain, (0, GENESIS)) == head for chain, head in self.before.items()))


@functools.cache
def _statements() -> tuple:
    """A chain's head; a chain's head with the largest event id (SQLite): read by every
    write, built once."""
    head = (select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.chain == bindparam("chain"))
            .order_by(AuditEvent.seq.desc()).limit(1))
    last = head.subquery()
    return head, select(select(func.max(AuditEvent.id)).scalar_subquery().label("largest"),
                        select(last.c.seq).scalar_subquery().label("seq"),
                        select(last.c.hash).scalar_subquery().label("hash"))


# an event's own columns (the time, the actor and the key are the same for a whole batch)
_EVENT_COLUMNS = ("id", "chain", "seq", "action", "entity_type", "entity_id", "summary", "region_code",
                  "organization_id", "before", "after", "prev_hash", "hash")


def _insert_events(conn, shared: dict, rows: list[tuple]) -> None:
    """Insert the events (tuples in ``_EVENT_COLUMNS`` order, each also given the
    ``shared`` columns: time, actor, key). On SQLite the tuples go straight to the
    driver (Core's per-row parameter handling would cost more than the insert) through
    ``staged_insert``, which binds the shared columns once; elsewhere Core batches them."""
    table = AuditEvent.__table__
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
    ``canonical({**fixed, **values})`` when ``values`` holds exactly the varying keys.

    ``quoted``: varying keys whose values ``canonical`` writes as their ``str()`` in
    quotes, with nothing to escape (a Decimal, a date; not a datetime, whose ``str()`` is
    not its ``isoformat()``): the template quotes them, so a caller filling ``template``
    itself passes the value as is."""

    def __init__(self, fixed: dict, varying, quoted=()) -> None:
        varying = set(varying)
        if varying & set(fixed):
            raise ValueError("a key is both fixed and varying")
        if not varying.issuperset(quoted):
            raise ValueError("a quoted key is not varying")
        parts = []
        self.order: list[str] = []
        self.quoted = frozenset(quoted)
        for key in sorted({*fixed, *varying}):
            if key in varying:
                parts.append(_ESCAPE(key).replace("%", "%%") + (':"%s"' if key in quoted else ":%s"))
                self.order.append(key)
            else:
                parts.append(f"{_ESCAPE(key)}:{_scalar(fixed[key])}".replace("%", "%%"))
        self.template = "{" + ",".join(parts) + "}"

    def make(self, values: dict) -> str:
        return self.template % tuple([values[key] if key in self.quoted else _scalar(values[key])
                                      for key in self.order])


@dataclass
class ChainReport:
    checked: int
    broken_id: int | None = None  # the first event that is wrong (None when one is missing)
    reason: str = ""  # what is wrong (empty: nothing)
    checkpoint: Checkpoint | None = None  # the latest checkpoint, as read
    note: str = ""  # a caveat that is not a break (no checkpoint yet)
    chain: str | None = None  # the chain of the first event wrong or missing
    seq: int | None = None  # and its place in that chain

    @property
    def ok(self) -> bool:
        return not self.reason


_VERIFIED = [getattr(AuditEvent, name) for name in (*_HASHED, "at", "key_id", "hash", "chain", "seq")]


def chain_label(chain: str) -> str:
    return "省级及系统链" if chain == ROOT_CHAIN else f"{chain} 分区链"


def verify_chain(batch: int = 5000, *, against_checkpoint: bool = True) -> ChainReport:
    """Walk every chain in order and compare each with the latest checkpoint; name the
    first event whose place, link, hash or key is wrong, or the first one missing."""
    checkpoint = read_checkpoint() if against_checkpoint else None
    trusted = checkpoint if checkpoint is not None and checkpoint.valid else None
    sealed = trusted.heads if trusted is not None else {}
    keys = keyring()
    checked = 0
    seen: set[str] = set()

    def broken(event_id: int | None, chain: str, seq: int, reason: str) -> ChainReport:
        return ChainReport(checked, event_id, reason, checkpoint, chain=chain, seq=seq)

    def cut(chain: str, last: int) -> ChainReport | None:
        """The chain ends at ``last``: fewer events than the checkpoint sealed is a cut tail."""
        want = sealed.get(chain)
        if want is None or last >= want[0]:
            return None
        return broken(None, chain, last + 1, f"{chain_label(chain)}只有 {last} 条事件，检查点记录了 {want[0]} 条"
                                             f"（末尾 {want[0] - last} 条被删除）")

    chain, expected, prev_hash, keyed = None, 1, GENESIS, False
    cursor = (ROOT_CHAIN, 0)
    while True:
        rows = db.session.execute(
            select(*_VERIFIED).where(tuple_(AuditEvent.chain, AuditEvent.seq) > tuple_(*map(literal, cursor)))
            .order_by(AuditEvent.chain, AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.chain != chain:
                if chain is not None and (report := cut(chain, expected - 1)):
                    return report
                chain, expected, prev_hash, keyed = row.chain, 1, GENESIS, False
                seen.add(chain)
            label = chain_label(chain)
            if row.seq != expected:  # named by the event after the gap
                return broken(row.id, chain, expected, f"{label}缺少第 {expected} 条事件（记录被删除）")
            if row.prev_hash != prev_hash:
                return broken(row.id, chain, row.seq, "与上一事件的链接不符")
            if row.key_id == LEGACY:
                if chain != ROOT_CHAIN or keyed:
                    return broken(row.id, chain, row.seq, "无密钥的旧式事件出现在有密钥的事件之后（链被改写）")
                if trusted is not None and row.seq > trusted.legacy_end:
                    return broken(row.id, chain, row.seq,
                                  f"无密钥的旧式事件超出了检查点封存的范围（第 {trusted.legacy_end} 条）（链被改写）")
            else:
                keyed = True
            try:
                digest = chain_digest(row.key_id, _payload(row._asdict(), row.at.isoformat(timespec="microseconds"),
                                                           chain), keys)
            except UnknownKey:
                return broken(row.id, chain, row.seq,
                              f"密钥编号 {row.key_id} 不在密钥环中，无法核验（旧密钥应保留在 AUDIT_OLD_KEYS 中）")
            if not hmac.compare_digest(digest, row.hash):
                return broken(row.id, chain, row.seq, "内容与哈希不符（记录被修改）")
            want = sealed.get(chain)
            if want is not None and row.seq == want[0] and row.hash != want[1]:
                return broken(row.id, chain, row.seq,
                              f"与检查点记录的{label}第 {want[0]} 条事件的哈希不符（此前的记录被改写）")
            prev_hash, expected, checked = row.hash, row.seq + 1, checked + 1
        cursor = (rows[-1].chain, rows[-1].seq)
    if chain is not None and (report := cut(chain, expected - 1)):
        return report
    for lost in sorted(set(sealed) - seen):
        if sealed[lost][0] == 0:
            continue
        if checked == 0:
            return broken(None, lost, 1, f"审计表为空，但检查点记录了 {trusted.count} 条事件（记录被全部删除）")
        return broken(None, lost, 1, f"{chain_label(lost)}的事件全部缺失，检查点记录了 {sealed[lost][0]} 条（记录被删除）")
    if checkpoint is not None and not checkpoint.valid:
        return ChainReport(checked, None, checkpoint.problem, checkpoint)
    note = "" if checkpoint is not None or not checked or not against_checkpoint else \
        "尚无检查点：无法判断末尾的记录是否被删除"
    return ChainReport(checked, None, "", checkpoint, note)


def chain_heads(session) -> dict[str, tuple[int, str]]:
    """Every chain's last (seq, hash)."""
    last = (select(AuditEvent.chain, func.max(AuditEvent.seq).label("seq")).group_by(AuditEvent.chain)
            .subquery())
    rows = session.execute(select(AuditEvent.chain, AuditEvent.seq, AuditEvent.hash)
                           .join(last, (AuditEvent.chain == last.c.chain) & (AuditEvent.seq == last.c.seq)))
    return {row.chain: (row.seq, row.hash) for row in rows}


def write_checkpoint_now(*, after_restore: bool = False, actor=None) -> ChainReport:
    """Verify the chains and, if they hold, sign their heads as the checkpoint (the
    frequent job, ``flask audit checkpoint``). ``after_restore``: the database was
    restored from a backup older than the checkpoint; the chains are checked on their
    own, the reset is recorded as an event, and the heads after it replace the checkpoint."""
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
    heads = chain_heads(db.session)
    if heads:
        legacy_end = old.legacy_end if old is not None and old.valid else anchor.legacy_end_of(db.session)
        anchor.write_checkpoint(heads, legacy_end, allow_lower=after_restore)
    db.session.rollback()
    return verify_chain()


# -- reading -------------------------------------------------------------------------------


def events_of(user, entity_type: str, entity_id: int | str) -> list[AuditEvent]:
    """The audit events about one object that ``user`` may read, oldest first."""
    stmt = scoped(select(AuditEvent), AuditEvent, user).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)
    )
    return list(db.session.scalars(stmt.order_by(AuditEvent.id)).all())
