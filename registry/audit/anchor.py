"""What anchors the audit chain outside the database: its keys and its checkpoints.

The chain is keyed: each event's hash is an HMAC-SHA256 under the key whose id the event
carries (``key_id``), so nobody without the key can recompute a hash after changing an
event. Events stored before the chain was keyed carry key id 0 (plain SHA-256); they are
accepted only as the chain's beginning, up to the point the first checkpoint sealed.

The trail is cut into chains, one per partition (``services.partition``: a city, or the
root chain of the province and the system). A checkpoint is the heads of every chain
(per chain: its number of events and its last hash), anchored together under one
signature with the current key and written to a file outside the database after every
commit that wrote events (each commit moves the heads of the chains it wrote; the
others stay) and by ``flask audit checkpoint``. Verification compares each chain with
it: fewer events than the checkpoint saw means the tail was cut off, none at all that the
chain or the table was emptied, a different hash at the checkpoint's position that the
events up to it were rewritten.

Keys come from the configuration: ``AUDIT_KEY`` (default: ``DATA_KEY``) under
``AUDIT_KEY_ID`` (default 1) signs what is written now; ``AUDIT_OLD_KEYS``
("1:secret,2:secret") keeps retired keys so the events written under them still verify.
The HMAC keys are derived from those secrets with HKDF, one per purpose.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import hmac
import json
import os
import threading
from dataclasses import dataclass, field, replace
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
    count: int  # events in all chains when it was written
    legacy_end: int  # the last event of the root chain hashed without a key; none may come after it
    at: datetime
    key_id: int
    valid: bool  # the signature holds under the keyring
    problem: str = ""
    heads: dict = field(default_factory=dict)  # chain -> (seq, hash) of its last event

    @property
    def hash(self) -> str:
        """One digest of every chain's head: what the checkpoint anchors, in short."""
        return hashlib.sha256(_heads_text(self.heads).encode()).hexdigest() if self.heads else ""


def _heads_text(heads: dict) -> str:
    return json.dumps({chain: list(head) for chain, head in heads.items()}, sort_keys=True, separators=(",", ":"))


def checkpoint_path() -> Path:
    return _checkpoint_path(current_app.config.get("AUDIT_CHECKPOINT_PATH") or None, current_app.instance_path)


@functools.lru_cache(maxsize=16)
def _checkpoint_path(configured, instance_path: str) -> Path:
    """The path of a configuration, made once (every commit that records events asks
    twice, and building a ``Path`` costs more than reading the file's two slots)."""
    return Path(configured or Path(instance_path) / CHECKPOINT_FILE)


# The file holds two slots of SLOT bytes, each one line of JSON padded with spaces; a write
# overwrites in place the slot that does not hold the latest checkpoint, so a crash in the
# middle of a write tears at most the older one (and in place costs no rename, which on
# ext4 waits for the data to reach the disk). The reader takes the valid slot with the
# most events. (Files written before the chains were partitioned have 512-byte slots
# holding one head; they are read as the root chain's, and rewritten whole at the next
# write.)
SLOT = 8192
OLD_SLOT = 512


def _signed_text(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _body(heads: dict, legacy_end: int, at: datetime, key_id: int) -> dict:
    return {"count": sum(seq for seq, _ in heads.values()), "heads": {c: list(h) for c, h in heads.items()},
            "legacy_end": legacy_end, "at": at.isoformat(timespec="seconds"), "key_id": key_id}


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
        if "heads" in data:
            body = {k: data[k] for k in ("count", "heads", "legacy_end", "at", "key_id")}
            heads = {str(c): (int(h[0]), str(h[1])) for c, h in body["heads"].items()}
        else:  # one chain, before the partitions: the root chain's head
            body = {k: data[k] for k in ("count", "hash", "legacy_end", "at", "key_id")}
            heads = {"": (int(body["count"]), str(body["hash"]))} if int(body["count"]) else {}
        checkpoint = Checkpoint(int(body["count"]), int(body["legacy_end"]), datetime.fromisoformat(body["at"]),
                                int(body["key_id"]), valid=False, heads=heads)
        signature = str(data["signature"])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return Checkpoint(0, 0, datetime.min, 0, valid=False, problem=_UNREADABLE)
    prototype = keys.checkpoint.get(checkpoint.key_id)
    if prototype is None:
        return replace(checkpoint, problem=f"检查点的签名密钥（编号 {checkpoint.key_id}）不在密钥环中")
    if not hmac.compare_digest(_sign(prototype, _signed_text(body)), signature):
        return replace(checkpoint, problem="检查点签名不符（检查点文件被改动）")
    return replace(checkpoint, valid=True)


def _slot_size(raw: bytes) -> int:
    return OLD_SLOT if len(raw) == 2 * OLD_SLOT else SLOT


def _slots(raw: bytes, keys: Keyring) -> list[Checkpoint | None]:
    size = _slot_size(raw)
    return [_parsed(raw[i * size:(i + 1) * size], keys) for i in range(2)]


# A slot's checkpoint is a function of its bytes and the keyring alone: the slots a worker
# read or wrote last are parsed and their signatures checked once, not on every commit
# (each commit reads the file twice). Any other bytes are parsed anew.
_PARSED: dict[tuple[int, bytes], tuple[Keyring, Checkpoint | None]] = {}
_PARSED_MAX = 8
_PARSED_LOCK = threading.Lock()


def _parsed(raw: bytes, keys: Keyring) -> Checkpoint | None:
    key = (id(keys), raw)
    hit = _PARSED.get(key)
    if hit is not None and hit[0] is keys:
        return hit[1]
    checkpoint = _parse(raw, keys)
    with _PARSED_LOCK:
        while len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[key] = (keys, checkpoint)
    return checkpoint


def _remember(slot: bytes, keys: Keyring, body: dict) -> None:
    """Put the checkpoint of a slot this process writes (signed by it, from ``body``)
    where ``_parsed`` finds it: the next commit's read finds the slot parsed, as
    ``_parse`` would give it, instead of decoding it and checking its signature again."""
    checkpoint = Checkpoint(int(body["count"]), int(body["legacy_end"]), datetime.fromisoformat(body["at"]),
                            int(body["key_id"]), valid=True,
                            heads={str(c): (int(h[0]), str(h[1])) for c, h in body["heads"].items()})
    with _PARSED_LOCK:
        while len(_PARSED) >= _PARSED_MAX:
            _PARSED.pop(next(iter(_PARSED)))
        _PARSED[(id(keys), slot)] = (keys, checkpoint)


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
        return Checkpoint(0, 0, datetime.min, 0, valid=False, problem=f"{_UNREADABLE}（{error.strerror}）")
    _, checkpoint = _latest(_slots(raw, keyring()))
    if checkpoint is None and raw.strip():
        return Checkpoint(0, 0, datetime.min, 0, valid=False, problem=_UNREADABLE)
    return checkpoint


def write_checkpoint(heads: dict[str, tuple[int, str]], legacy_end: int, *, allow_lower: bool = False) -> bool:
    """Sign and store the chains' ``heads`` (chain -> (seq, hash)) merged into the stored
    checkpoint: a chain's head moves only forward (another worker may have committed
    later events first), and the chains not given keep theirs. ``allow_lower`` replaces
    the checkpoint with ``heads`` and writes both slots. Under an exclusive lock, so two
    writers never undo each other and a reader never sees half a slot."""
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = keyring()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        raw = fh.read()
        index, current = _latest(_slots(raw, keys))
        merged = dict(heads)
        if current is not None and current.valid and not allow_lower:
            merged = dict(current.heads)
            for chain, head in heads.items():
                if chain not in merged or head[0] > merged[chain][0]:
                    merged[chain] = head
            if merged == current.heads:
                return False
        body = _body(merged, legacy_end, utcnow(), keys.current_id)
        line = json.dumps({**body, "signature": _sign(keys.checkpoint[keys.current_id], _signed_text(body))},
                          sort_keys=True, separators=(",", ":")).encode()
        if len(line) >= SLOT:
            raise OSError(f"the audit checkpoint has outgrown its slot ({len(line)} bytes)")
        slot = line.ljust(SLOT - 1) + b"\n"
        _remember(slot, keys, body)
        whole = allow_lower or current is None or not current.valid or _slot_size(raw) != SLOT
        if whole:
            fh.seek(0)
            fh.write(slot + slot)
            fh.truncate()
        else:
            fh.seek((1 - index) * SLOT)
            fh.write(slot)
        fh.flush()
    return True


# -- a checkpoint after every commit that wrote events ---------------------------------------


def extend(session: Session, before: dict[str, tuple[int, str]], heads: dict[str, tuple[int, str]]) -> None:
    """Called when a transaction has linked its events (``services.link_and_write``),
    still inside it and holding its chains' locks, with the heads of the chains it wrote
    before (``before``) and after (``heads``): checkpoint these heads once it commits,
    if they extend the heads the last checkpoint saw. If one does not (events were cut
    off or rewritten behind the application's back) the checkpoint is left as it is, so
    verification keeps reporting the break rather than vouching for the new tail."""
    from .models import AuditEvent

    checkpoint = read_checkpoint()
    if checkpoint is not None and not checkpoint.valid:
        return _not_moved(checkpoint.problem)
    sealed = checkpoint.heads if checkpoint is not None else {}
    for chain, (seq, _) in heads.items():
        want = sealed.get(chain)
        if want is None:
            continue
        if want[0] > seq:
            return _not_moved(f"检查点记录{chain or '省级'}链 {want[0]} 条，库中仅有 {seq} 条")
        known = before.get(chain)
        if known is not None and known[0] == want[0]:
            found = known[1]
        else:
            found = session.execute(select(AuditEvent.hash).where(AuditEvent.chain == chain,
                                                                  AuditEvent.seq == want[0])).scalar()
        if found != want[1]:
            return _not_moved(f"{chain or '省级'}链第 {want[0]} 条事件与检查点不符")
    legacy_end = legacy_end_of(session) if checkpoint is None else checkpoint.legacy_end
    session.info[_HEAD] = ({**session.info.get(_HEAD, ({}, 0))[0], **heads}, legacy_end)
    return None


def legacy_end_of(session) -> int:
    """The last event of the root chain stored before the chain was keyed (0: none);
    asked only while no checkpoint exists (it scans: there is no index on key_id)."""
    from .models import AuditEvent

    return session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.key_id == LEGACY,
                                                                 AuditEvent.chain == "")) or 0


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
    session.info.pop(_HEAD, None)


def listen() -> None:
    """Link the events before every commit and checkpoint after it (idempotent; called
    for every event recorded, so once it has run it only reads a flag)."""
    global _listening
    if _listening:
        return
    from ..core.database import listen_before_commit

    listen_before_commit()
    for name, handler in (("after_commit", _after_commit), ("after_rollback", _after_rollback)):
        if not event.contains(Session, name, handler):
            event.listen(Session, name, handler)
    _listening = True


_listening = False
