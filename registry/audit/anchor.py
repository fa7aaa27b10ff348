"""What anchors the audit chain outside the database: its keys and its checkpoints.

The chain is keyed: each event's hash is an HMAC-SHA256 under the key whose id the event
carries (``key_id``), so nobody without the key can recompute a hash after changing an
event. Events stored before the chain was keyed carry key id 0 (plain SHA-256); they are
accepted only as the chain's beginning, up to the point the first checkpoint sealed.

A checkpoint is the chain's head (number of events, last hash) signed with the current
key and written to a file outside the database after every commit that wrote events (and
by ``flask audit checkpoint``). Verification compares the chain with it: fewer events than
the checkpoint saw means the tail was cut off, none at all that the table was emptied, a
different hash at the checkpoint's position that the events up to it were rewritten.

Keys come from the configuration: ``AUDIT_KEY`` (default: ``DATA_KEY``) under
``AUDIT_KEY_ID`` (default 1) signs what is written now; ``AUDIT_OLD_KEYS``
("1:secret,2:secret") keeps retired keys so the events written under them still verify.
The HMAC keys are derived from those secrets with HKDF, one per purpose.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import event, func, or_, select
from sqlalchemy.orm import Session

from ..core.timeutil import utcnow

LEGACY = 0  # key id of events hashed with plain SHA-256, before the chain was keyed
CHECKPOINT_FILE = "audit-checkpoint.json"
_PENDING = "audit_checkpoint_pending"  # session.info: this transaction wrote events
_HEAD = "audit_checkpoint_head"  # session.info: the head to checkpoint once committed


class UnknownKey(LookupError):
    """A key id the keyring does not hold."""


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode())


@dataclass(frozen=True)
class Keyring:
    """Per key id, an HMAC-SHA256 already keyed (``hmac.new`` once): hashing one event is
    then ``copy``, ``update``, ``hexdigest``, which costs less than ``hmac.digest`` with
    its key set up anew for every event of a bulk import."""

    current_id: int
    chain: dict[int, hmac.HMAC]  # key id -> the chain's keyed HMAC
    checkpoint: dict[int, hmac.HMAC]  # key id -> the checkpoints' keyed HMAC

    def chain_hmac(self, key_id: int) -> hmac.HMAC:
        try:
            return self.chain[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None


def _sign(prototype: hmac.HMAC, data: bytes) -> str:
    mac = prototype.copy()
    mac.update(data)
    return mac.hexdigest()


def _parse_old_keys(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key_id, sep, secret = part.partition(":")
        if not sep or not key_id.strip().isdigit() or not secret:
            raise RuntimeError("AUDIT_OLD_KEYS: each entry is KEY_ID:SECRET, separated by commas")
        out[int(key_id)] = secret
    return out


def keyring() -> Keyring:
    """The keys of the current configuration (cached while the configuration stays)."""
    config = current_app.config
    secret = config.get("AUDIT_KEY") or config["DATA_KEY"]
    current_id = int(config.get("AUDIT_KEY_ID") or 1)
    old = config.get("AUDIT_OLD_KEYS") or ""
    cache = current_app.extensions.setdefault("registry_audit", {})
    marker = (secret, current_id, old)
    if cache.get("marker") != marker:
        if current_id < 1:
            raise RuntimeError("AUDIT_KEY_ID must be 1 or more (0 marks the unkeyed events of old)")
        secrets = {**_parse_old_keys(old), current_id: secret}
        secrets.pop(LEGACY, None)
        cache["keys"] = Keyring(
            current_id=current_id,
            chain={k: hmac.new(_derive(s, b"registry-audit-chain"), digestmod=hashlib.sha256)
                   for k, s in secrets.items()},
            checkpoint={k: hmac.new(_derive(s, b"registry-audit-checkpoint"), digestmod=hashlib.sha256)
                        for k, s in secrets.items()},
        )
        cache["marker"] = marker
    return cache["keys"]


def chain_digest(key_id: int, payload: str, keys: Keyring | None = None) -> str:
    """The hash of one event's payload under ``key_id`` (0: plain SHA-256)."""
    if key_id == LEGACY:
        return hashlib.sha256(payload.encode()).hexdigest()
    return _sign((keys or keyring()).chain_hmac(key_id), payload.encode())


# -- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    count: int  # events 1..count existed when it was written (ids are gap-free)
    hash: str  # the hash of event ``count``
    legacy_end: int  # the last event hashed without a key; none may come after it
    at: datetime
    key_id: int
    valid: bool  # the signature holds under the keyring
    problem: str = ""


def checkpoint_path() -> Path:
    return Path(current_app.config.get("AUDIT_CHECKPOINT_PATH") or Path(current_app.instance_path) / CHECKPOINT_FILE)


# The file holds two slots of SLOT bytes, each one line of JSON padded with spaces; a write
# overwrites in place the slot that does not hold the latest checkpoint, so a crash in the
# middle of a write tears at most the older one (and in place costs no rename, which on
# ext4 waits for the data to reach the disk). The reader takes the valid slot with the
# most events.
SLOT = 512


def _signed_text(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _body(count: int, head: str, legacy_end: int, at: datetime, key_id: int) -> dict:
    return {"count": count, "hash": head, "legacy_end": legacy_end, "at": at.isoformat(timespec="seconds"),
            "key_id": key_id}


_UNREADABLE = "检查点文件无法读取"


def _parse(raw: bytes, keys: Keyring) -> Checkpoint | None:
    """One slot; None when it is empty or torn (not JSON)."""
    try:
        data = json.loads(raw.decode().strip() or "null")
    except ValueError:
        return None
    if data is None:
        return None
    try:
        body = {k: data[k] for k in ("count", "hash", "legacy_end", "at", "key_id")}
        checkpoint = Checkpoint(int(body["count"]), str(body["hash"]), int(body["legacy_end"]),
                                datetime.fromisoformat(body["at"]), int(body["key_id"]), valid=False)
        signature = str(data["signature"])
    except (KeyError, TypeError, ValueError, AttributeError):
        return Checkpoint(0, "", 0, datetime.min, 0, valid=False, problem=_UNREADABLE)
    prototype = keys.checkpoint.get(checkpoint.key_id)
    if prototype is None:
        return replace(checkpoint, problem=f"检查点的签名密钥（编号 {checkpoint.key_id}）不在密钥环中")
    if not hmac.compare_digest(_sign(prototype, _signed_text(body)), signature):
        return replace(checkpoint, problem="检查点签名不符（检查点文件被改动）")
    return replace(checkpoint, valid=True)


def _slots(raw: bytes, keys: Keyring) -> list[Checkpoint | None]:
    return [_parse(raw[i * SLOT:(i + 1) * SLOT], keys) for i in range(2)]


def _latest(slots: list[Checkpoint | None]) -> tuple[int, Checkpoint | None]:
    """The slot to trust and its checkpoint: a slot whose signature fails is reported
    (somebody edited it); a torn one is passed over while the other holds."""
    bad = [c for c in slots if c is not None and not c.valid]
    if bad:
        return slots.index(bad[0]), bad[0]
    good = [(c.count, i) for i, c in enumerate(slots) if c is not None]
    if not good:
        return -1, None
    _, index = max(good)
    return index, slots[index]


def read_checkpoint(path: Path | None = None) -> Checkpoint | None:
    """The latest checkpoint (None: none written yet); ``valid`` says whether its signature holds."""
    path = path or checkpoint_path()
    try:
        with open(path, "rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            raw = fh.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        return Checkpoint(0, "", 0, datetime.min, 0, valid=False, problem=f"{_UNREADABLE}（{error.strerror}）")
    _, checkpoint = _latest(_slots(raw, keyring()))
    if checkpoint is None and raw.strip():
        return Checkpoint(0, "", 0, datetime.min, 0, valid=False, problem=_UNREADABLE)
    return checkpoint


def write_checkpoint(count: int, head: str, legacy_end: int, *, allow_lower: bool = False) -> bool:
    """Sign and store the head ``count``/``head``, unless the stored checkpoint is already
    further along (another worker committed later events first) and ``allow_lower`` is
    not given; ``allow_lower`` writes both slots. Under an exclusive lock, so two writers
    never undo each other and a reader never sees half a slot."""
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = keyring()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        index, current = _latest(_slots(fh.read(), keys))
        if current is not None and current.valid and current.count >= count and not allow_lower:
            return False
        body = _body(count, head, legacy_end, utcnow(), keys.current_id)
        line = json.dumps({**body, "signature": _sign(keys.checkpoint[keys.current_id], _signed_text(body))},
                          sort_keys=True, separators=(",", ":")).encode()
        slot = line.ljust(SLOT - 1) + b"\n"
        targets = (0, 1) if allow_lower or current is None or not current.valid else (1 - index,)
        for target in targets:
            fh.seek(target * SLOT)
            fh.write(slot)
        fh.flush()
    return True


# -- a checkpoint after every commit that wrote events ---------------------------------------


def mark_written(session: Session) -> None:
    """Called by ``record``/``record_many``: checkpoint the head once this transaction commits."""
    session.info[_PENDING] = True


def _before_commit(session: Session) -> None:
    """Still inside the transaction (and the chain lock): read the head, and make sure it
    extends the head the last checkpoint saw. If it does not (events were cut off or
    rewritten behind the application's back) the checkpoint is left as it is, so
    verification keeps reporting the break rather than vouching for the new tail."""
    if not session.info.pop(_PENDING, False):
        return
    from .models import AuditEvent

    checkpoint = read_checkpoint()
    if checkpoint is not None and not checkpoint.valid:
        return _not_moved(checkpoint.problem)
    # the head and, in the same round trip, the event the checkpoint ends on
    last = select(func.max(AuditEvent.id)).scalar_subquery()
    wanted = AuditEvent.id == last if checkpoint is None else or_(AuditEvent.id == last,
                                                                    AuditEvent.id == checkpoint.count)
    rows = dict(session.execute(select(AuditEvent.id, AuditEvent.hash).where(wanted)).all())
    if not rows:
        return None
    head = max(rows)
    if checkpoint is None:
        legacy_end = legacy_end_of(session)
    elif checkpoint.count > head:
        return _not_moved(f"检查点记录 {checkpoint.count} 条，库中仅有 {head} 条")
    elif checkpoint.count and rows.get(checkpoint.count) != checkpoint.hash:
        return _not_moved(f"编号 {checkpoint.count} 的事件与检查点不符")
    else:
        legacy_end = checkpoint.legacy_end
    session.info[_HEAD] = (head, rows[head], legacy_end)
    return None


def legacy_end_of(session) -> int:
    """The last event stored before the chain was keyed (0: none); asked only while no
    checkpoint exists (it scans: there is no index on key_id)."""
    from .models import AuditEvent

    return session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.key_id == LEGACY)) or 0


def _not_moved(problem: str) -> None:
    current_app.logger.error("audit checkpoint not moved: %s; run `flask audit verify`", problem)


def _after_commit(session: Session) -> None:
    head = session.info.pop(_HEAD, None)
    if head is None:
        return
    try:
        write_checkpoint(*head)
    except OSError:  # the data is committed; verification will show the checkpoint lagging
        current_app.logger.exception("audit checkpoint could not be written")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_HEAD, None)


def listen() -> None:
    """Checkpoint after every commit that wrote events (idempotent)."""
    for name, handler in (("before_commit", _before_commit), ("after_commit", _after_commit),
                          ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, handler):
            event.listen(Session, name, handler)
