"""Evidence files: what is accepted (checked from the content, never the name) and where
it is kept (``UPLOAD_FOLDER/records/``, under a generated name).

Accepted: JPEG, PNG and WebP photos and PDF documents. The type comes from the file's
magic bytes (``filetype``); a photo must also decode with Pillow, so an HTML page or a
program renamed ``.jpg`` is refused even if it starts with a forged header.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import shutil
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path

import filetype
from flask import current_app
from PIL import Image, ImageOps

from ..core.rules import RuleViolation

EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp|pdf)$")
# Large enough for any camera photo, small enough that a decompression bomb is refused.
MAX_IMAGE_PIXELS = 80_000_000


@dataclass
class Upload:
    original_name: str
    data: bytes
    content_type: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def max_bytes() -> int:
    return int(current_app.config["REGISTRY_MAX_UPLOAD_MB"]) * 1024 * 1024


def clean_name(name: str | None) -> str:
    """The user's file name, for display only: no directories, no control characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return (name or "未命名文件")[-255:]


def _is_image(data: bytes, content_type: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format != _PIL_FORMATS[content_type]:
                    return False
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    return False
                image.verify()  # structure (PNG checksums and the like)
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # and the pixels really decode (verify alone trusts a JPEG's body)
    except Exception:  # any failure to decode means "not a picture"
        return False
    return True


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-2048:]


def check_upload(storage, field: str = "files") -> Upload:
    """Read one uploaded file (a werkzeug ``FileStorage``) and check it; raise
    ``RuleViolation`` on ``field`` naming the file if it is refused."""
    name = clean_name(storage.filename)
    limit = max_bytes()
    data = storage.stream.read(limit + 1)
    if not data:
        raise RuleViolation({field: f"文件“{name}”是空文件"})
    if len(data) > limit:
        raise RuleViolation({field: f"文件“{name}”超过 {current_app.config['REGISTRY_MAX_UPLOAD_MB']} MB 的大小限制"})
    kind = filetype.guess(data)
    content_type = kind.mime if kind else None
    refused = f"文件“{name}”不是 JPEG、PNG、WebP 照片或 PDF 文件（按文件内容识别，与扩展名无关）"
    if content_type not in EXTENSIONS:
        raise RuleViolation({field: refused})
    if content_type == "application/pdf":
        if not _is_pdf(data):
            raise RuleViolation({field: f"文件“{name}”不是完整的 PDF 文件"})
    elif not _is_image(data, content_type):
        raise RuleViolation({field: f"文件“{name}”无法作为图片打开，可能已损坏或并非真正的图片"})
    return Upload(original_name=name, data=data, content_type=content_type)


def check_uploads(storages, field: str = "files") -> list[Upload]:
    """Check every non-empty file of a multi-file field; all messages are collected. An
    ``Upload`` is one checked already (a file kept from a refused save, ``pending``)."""
    uploads, errors = [], []
    for storage in storages or ():
        if isinstance(storage, Upload):
            uploads.append(storage)
            continue
        if storage is None or not getattr(storage, "filename", None):
            continue
        try:
            uploads.append(check_upload(storage, field))
        except RuleViolation as violation:
            errors.extend(violation.errors[field])
    if errors:
        raise RuleViolation({field: errors})
    return uploads


def _folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]) / "records"


def path_of(stored_name: str) -> Path:
    if not _STORED_NAME.match(stored_name or ""):
        raise ValueError("not a stored evidence name")
    return _folder() / stored_name[:2] / stored_name


def store(upload: Upload) -> str:
    """Write the file under a new random name; return that name."""
    stored_name = secrets.token_hex(16) + EXTENSIONS[upload.content_type]
    path = path_of(stored_name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd, "wb") as fh:
        fh.write(upload.data)
    return stored_name


def copy(stored_name: str) -> str:
    """Store a copy of a stored file under a new random name; return that name. A
    correction carries over the evidence of the record it corrects this way: each record
    owns its files, so removing one from the correction leaves the original's intact."""
    source = path_of(stored_name)
    new_name = secrets.token_hex(16) + source.suffix
    target = path_of(new_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return new_name


def discard(stored_names) -> None:
    """Remove stored files (after a failed transaction or a deletion), with their thumbnails."""
    for name in stored_names:
        for path in (_path_or_none(name), _thumbnail_path_or_none(name)):
            if path is not None:
                path.unlink(missing_ok=True)


def _path_or_none(stored_name: str) -> Path | None:
    try:
        return path_of(stored_name)
    except ValueError:
        return None


# -- thumbnails ------------------------------------------------------------------------------

THUMBNAIL_SIZE = 320  # px, the longer side: sharp on a phone's card, a few kB to load


def _thumbnail_path_or_none(stored_name: str) -> Path | None:
    if not _STORED_NAME.match(stored_name or ""):
        return None
    return _folder() / "thumbs" / stored_name[:2] / (stored_name.rsplit(".", 1)[0] + ".jpg")


def thumbnail(stored_name: str, content_type: str) -> Path | None:
    """A small JPEG of a stored photo (made once, then kept beside the photos); None for a
    PDF or a file that is missing. The inbox shows many on a phone, so it loads these, not
    the camera's full-size photos."""
    if not content_type.startswith("image/"):
        return None
    target = _thumbnail_path_or_none(stored_name)
    source = _path_or_none(stored_name)
    if target is None or source is None or not source.is_file():
        return None
    if target.is_file():
        return target
    try:
        with Image.open(source) as image:
            image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # a JPEG decodes at a fraction of its size
            small = ImageOps.exif_transpose(image)
            small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            small = small.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):  # damaged on disk since it was checked
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.stem}.{secrets.token_hex(4)}.part")
    try:
        small.save(partial, format="JPEG", quality=80)
        os.replace(partial, target)  # two requests at once: the last one wins, both whole
    finally:
        partial.unlink(missing_ok=True)
    return target
