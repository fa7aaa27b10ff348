"""Evidence files waiting for their record: chosen on a record form whose save was refused
(a missing title, a bad amount), kept so that the user does not pick them again.

A browser forgets the files of a file input when the page comes back with the form's
errors. So each file the form sends is checked (``evidence.check_upload``: the same rule as
any evidence) and, if accepted, kept at once under ``UPLOAD_FOLDER/pending/<user>/<session>/``,
named by a random token; the form shows it again ("已上传：现场照片.jpg（可移除）") and sends
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
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from flask import current_app

from . import evidence as files

KEEP = timedelta(days=1)
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Pending:
    token: str
    original_name: str
    content_type: str
    size: int


def _root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "pending"


def _folder(user) -> Path:
    """The user's folder for this login session (a session without a key, e.g. an API
    token's request, shares one per user)."""
    key = getattr(user, "session_key", None) or ""
    session = hashlib.sha256(f"pending-evidence:{key}".encode()).hexdigest()[:32]
    return _root() / str(int(user.id)) / session


def _paths(user, token: str) -> tuple[Path, Path] | None:
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    folder = _folder(user)
    return folder / f"{token}.bin", folder / f"{token}.json"


def keep(user, uploads: list[files.Upload]) -> list[Pending]:
    """Keep checked uploads for ``user``'s session; their tokens go back in the form."""
    folder = _folder(user)
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for upload in uploads:
        token = secrets.token_hex(16)
        data, meta = folder / f"{token}.bin", folder / f"{token}.json"
        fd = os.open(data, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
        item = Pending(token, upload.original_name, upload.content_type, upload.size)
        meta.write_text(json.dumps({"original_name": item.original_name, "content_type": item.content_type}),
                        encoding="utf-8")
        kept.append(item)
    return kept


def load(user, tokens) -> list[tuple[Pending, files.Upload]]:
    """The kept files of these tokens (in order, each once); tokens that name nothing in
    the user's session folder (expired, removed, someone else's) are left out."""
    found, seen = [], set()
    for token in tokens:
        paths = _paths(user, token)
        if paths is None or token in seen:
            continue
        seen.add(token)
        data_path, meta_path = paths
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            data = data_path.read_bytes()
        except (OSError, ValueError):
            continue
        content_type = meta.get("content_type")
        if content_type not in files.EXTENSIONS:
            continue
        upload = files.Upload(original_name=files.clean_name(meta.get("original_name")), data=data,
                              content_type=content_type)
        found.append((Pending(token, upload.original_name, content_type, upload.size), upload))
    return found


def discard(user, tokens) -> None:
    for token in tokens:
        paths = _paths(user, token)
        if paths is not None:
            for path in paths:
                path.unlink(missing_ok=True)


def expire(now: float | None = None) -> int:
    """Delete kept files older than ``KEEP`` and the folders left empty; returns how many
    files were removed."""
    root = _root()
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - KEEP.total_seconds()
    removed = 0
    for path in root.glob("*/*/*"):
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += path.suffix == ".bin"
    for folder in sorted(root.glob("*/*"), reverse=True) + sorted(root.glob("*")):
        if folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return removed
