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
from sqlalchemy import event, func, select
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
    current_id: int
    chain: dict[int, bytes]  # key id -> HMAC key of the chain
    checkpoint: dict[int, bytes]  # key id -> HMAC key of the checkpoints

    def chain_key(self, key_id: int) -> bytes:
        try:
            return self.chain[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None


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
            chain={k: _derive(s, b"registry-audit-chain") for k, s in secrets.items()},
            checkpoint={k: _derive(s, b"registry-audit-checkpoint") for k, s in secrets.items()},
        )
        cache["marker"] = marker
    return cache["keys"]


def chain_digest(key_id: int, payload: str, keys: Keyring | None = None) -> str:
    """The hash of one event's payload under ``key_id`` (0: plain SHA-256)."""
    if key_id == LEGACY:
        return hashlib.sha256(payload.encode()).hexdigest()
    return hmac.digest((keys or keyring()).chain_key(key_id), payload.encode(), "sha256").hex()


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


def _signed_text(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _body(count: int, head: str, legacy_end: int, at: datetime, key_id: int) -> dict:
    return {"count": count, "hash": head, "legacy_end": legacy_end, "at": at.isoformat(timespec="seconds"),
            "key_id": key_id}


def read_checkpoint(path: Path | None = None) -> Checkpoint | None:
    """The latest checkpoint (None: none written yet); ``valid`` says whether its signature holds."""
    path = path or checkpoint_path()
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        body = {k: data[k] for k in ("count", "hash", "legacy_end", "at", "key_id")}
        checkpoint = Checkpoint(int(body["count"]), str(body["hash"]), int(body["legacy_end"]),
                                datetime.fromisoformat(body["at"]), int(body["key_id"]), valid=False)
        signature = str(data["signature"])
    except (ValueError, KeyError, TypeError):
        return Checkpoint(0, "", 0, datetime.min, 0, valid=False, problem="检查点文件无法读取")
    key = keyring().checkpoint.get(checkpoint.key_id)
    if key is None:
        return replace(checkpoint, problem=f"检查点的签名密钥（编号 {checkpoint.key_id}）不在密钥环中")
    expected = hmac.digest(key, _signed_text(body), "sha256").hex()
    if not hmac.compare_digest(expected, signature):
        return replace(checkpoint, problem="检查点签名不符（检查点文件被改动）")
    return replace(checkpoint, valid=True)


def write_checkpoint(count: int, head: str, legacy_end: int, *, allow_lower: bool = False) -> bool:
    """Sign and store the head ``count``/``head``, unless the stored checkpoint is already
    further along (another worker committed later events first) and ``allow_lower`` is
    not given. Written to a temporary file and renamed, under a lock, so a reader never
    sees half a file and two writers never undo each other."""
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = keyring()
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_checkpoint(path)
        if current is not None and current.valid and current.count >= count and not allow_lower:
            return False
        body = _body(count, head, legacy_end, utcnow(), keys.current_id)
        signature = hmac.digest(keys.checkpoint[keys.current_id], _signed_text(body), "sha256").hex()
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps({**body, "signature": signature}, ensure_ascii=False, indent=1) + "\n")
        os.replace(temporary, path)
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

    head = session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    if head is None:
        return
    try:
        checkpoint = read_checkpoint()
        if checkpoint is None:
            legacy_end = session.scalar(select(func.max(AuditEvent.id)).where(AuditEvent.key_id == LEGACY)) or 0
        elif not checkpoint.valid or checkpoint.count > head.id:
            raise _Inconsistent(checkpoint.problem or f"检查点记录 {checkpoint.count} 条，库中仅有 {head.id} 条")
        else:
            seen = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == checkpoint.count))
            if checkpoint.count and seen != checkpoint.hash:
                raise _Inconsistent(f"编号 {checkpoint.count} 的事件与检查点不符")
            legacy_end = checkpoint.legacy_end
    except _Inconsistent as problem:
        current_app.logger.error("audit checkpoint not moved: %s; run `flask audit verify`", problem)
        return
    session.info[_HEAD] = (head.id, head.hash, legacy_end)


class _Inconsistent(Exception):
    pass


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
