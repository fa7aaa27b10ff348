"""Evidence files waiting for their record: chosen on a record form whose save was refused
(a missing title, a bad amount), kept so that the user does not pick them again.

A browser forgets the files of a file input when the page comes back with the form's
errors. So each file the form sends is checked (``evidence.check_upload``: the same rule as
any evidence) and, if accepted, kept at once under ``pending/<user>/<session>/`` in the
file store (``core/storage.py``, so any host finds it), named by a random token; the form shows it again ("已上传：现场照片.jpg（可移除）") and sends
its token back. The save that succeeds attaches the files as evidence (stored anew, audited
as any upload) and removes them from here; one the user removes is deleted at once.

Only the session that sent a file can use its token: the folder is the user's and the
login session's (a digest of the session's key), and a token that names nothing there is
ignored. Files left behind (a form abandoned) are deleted after ``KEEP`` by ``expire``, which
the job worker runs hourly and ``flask jobs clean`` runs on demand.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from ..core import storage
from . import evidence as files

KEEP = timedelta(days=1)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Pending:
    token: str
    original_name: str
    content_type: str
    size: int


ROOT = "pending"


def _folder(user) -> str:
    """The user's folder for this login session (a session without a key, e.g. an API
    token's request, shares one per user)."""
    key = getattr(user, "session_key", None) or ""
    session = hashlib.sha256(f"pending-evidence:{key}".encode()).hexdigest()[:32]
    return f"{ROOT}/{int(user.id)}/{session}"


def _keys(user, token: str) -> tuple[str, str] | None:
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    folder = _folder(user)
    return f"{folder}/{token}.bin", f"{folder}/{token}.json"


def keep(user, uploads: list[files.Upload]) -> list[Pending]:
    """Keep checked uploads for ``user``'s session; their tokens go back in the form."""
    store = storage.store()
    kept = []
    for upload in uploads:
        token = secrets.token_hex(16)
        data, meta = _keys(user, token)
        store.put(data, upload.data)
        item = Pending(token, upload.original_name, upload.content_type, upload.size)
        store.put(meta, json.dumps({"original_name": item.original_name, "content_type": item.content_type})
                  .encode("utf-8"))
        kept.append(item)
    return kept


def load(user, tokens) -> list[tuple[Pending, files.Upload]]:
    """The kept files of these tokens (in order, each once); tokens that name nothing in
    the user's session folder (expired, removed, someone else's) are left out."""
    store = storage.store()
    found, seen = [], set()
    for token in tokens:
        keys = _keys(user, token)
        if keys is None or token in seen:
            continue
        seen.add(token)
        data_key, meta_key = keys
        try:
            meta = json.loads(store.read(meta_key).decode("utf-8"))
            data = store.read(data_key)
        except (storage.Missing, ValueError):
            continue
        content_type = meta.get("content_type")
        if content_type not in files.EXTENSIONS:
            continue
        upload = files.Upload(original_name=files.clean_name(meta.get("original_name")), data=data,
                              content_type=content_type)
        found.append((Pending(token, upload.original_name, content_type, upload.size), upload))
    return found


def discard(user, tokens) -> None:
    store = storage.store()
    for token in tokens:
        keys = _keys(user, token)
        if keys is not None:
            for key in keys:
                store.delete(key)


def expire(now: float | None = None) -> int:
    """Delete kept files older than ``KEEP`` (and, in a folder, the folders left empty);
    returns how many files were removed."""
    store = storage.store()
    cutoff = (now if now is not None else time.time()) - KEEP.total_seconds()
    removed = 0
    for entry in list(store.entries(ROOT)):
        if entry.modified < cutoff:
            store.delete(entry.key)
            removed += entry.key.endswith(".bin")
    return removed
