"""Evidence files: what is accepted (checked from the content, never the name) and where
it is kept (``records/`` in the file store, ``core/storage.py``: ``UPLOAD_FOLDER`` or an S3
bucket; under a generated name).

Accepted: JPEG, PNG and WebP photos and PDF documents. The type comes from the file's
magic bytes (``filetype``); a photo must also decode with Pillow, so an HTML page or a
program renamed ``.jpg`` is refused even if it starts with a forged header.
"""
from __future__ import annotations

import hashlib
import io
import re
import secrets
import unicodedata
import warnings
from dataclasses import dataclass

import filetype
from flask import abort, current_app
from PIL import Image, ImageOps
from werkzeug.exceptions import NotFound

from ..core.storage import Missing, store as file_store
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


def key_of(stored_name: str) -> str:
    """The evidence file's key in the store (``records/ab/ab….jpg``)."""
    if not _STORED_NAME.match(stored_name or ""):
        raise ValueError("not a stored evidence name")
    return f"records/{stored_name[:2]}/{stored_name}"


def store(upload: Upload) -> str:
    """Write the file under a new random name; return that name."""
    stored_name = secrets.token_hex(16) + EXTENSIONS[upload.content_type]
    file_store().put(key_of(stored_name), upload.data)
    return stored_name


def copy(stored_name: str) -> str:
    """Store a copy of a stored file under a new random name; return that name. A
    correction carries over the evidence of the record it corrects this way: each record
    owns its files, so removing one from the correction leaves the original's intact."""
    files = file_store()
    data = files.read(key_of(stored_name))
    new_name = secrets.token_hex(16) + "." + stored_name.rsplit(".", 1)[1]
    files.put(key_of(new_name), data)
    return new_name


def discard(stored_names) -> None:
    """Remove stored files (after a failed transaction or a deletion), with their thumbnails."""
    files = file_store()
    for name in stored_names:
        for found in (_key_or_none(name), _thumbnail_key_or_none(name)):
            if found is not None:
                files.delete(found)


def _key_or_none(stored_name: str) -> str | None:
    try:
        return key_of(stored_name)
    except ValueError:
        return None


def serve(stored_name: str, content_type: str, **send_args):
    """The stored file as an answer (a 404 when it is missing)."""
    found = _key_or_none(stored_name)
    if found is None:
        abort(404)
    return file_store().response(found, content_type, **send_args)


def private(response):
    """A file served as itself (never sniffed) and never kept: nothing left on a shared computer."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def serve_item(item):
    """An evidence row's file (of a record, a finding or a scorecard line): an image shown,
    anything else downloaded under its own name; private, never sniffed (a 404 when missing)."""
    return private(serve(item.stored_name, item.content_type, as_attachment=not item.is_image,
                         download_name=item.original_name, max_age=0))


# -- thumbnails ------------------------------------------------------------------------------

THUMBNAIL_SIZE = 320  # px, the longer side: sharp on a phone's card, a few kB to load


def _thumbnail_key_or_none(stored_name: str) -> str | None:
    if not _STORED_NAME.match(stored_name or ""):
        return None
    return f"records/thumbs/{stored_name[:2]}/{stored_name.rsplit('.', 1)[0]}.jpg"


def thumbnail(stored_name: str, content_type: str) -> str | None:
    """The store key of a small JPEG of a stored photo (made once, then kept beside the
    photos); None for a PDF or a file that is missing. The inbox shows many on a phone, so
    it loads these, not the camera's full-size photos."""
    if not content_type.startswith("image/"):
        return None
    target = _thumbnail_key_or_none(stored_name)
    source = _key_or_none(stored_name)
    if target is None or source is None:
        return None
    files = file_store()
    if files.exists(target):
        return target
    try:
        data = files.read(source)
    except Missing:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE))  # a JPEG decodes at a fraction of its size
            small = ImageOps.exif_transpose(image)
            small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            small = small.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):  # damaged in the store since it was checked
        return None
    out = io.BytesIO()
    small.save(out, format="JPEG", quality=80)
    files.put(target, out.getvalue())  # two requests at once: the last one wins, both whole
    return target


def serve_thumbnail(stored_name: str, content_type: str, **send_args):
    """The photo's thumbnail as an answer, made on the first request (a 404 for a PDF or
    a photo that is missing). One round trip to the store once it exists."""
    target = _thumbnail_key_or_none(stored_name)
    if target is None or not content_type.startswith("image/"):
        abort(404)
    try:
        return file_store().response(target, "image/jpeg", **send_args)
    except NotFound:
        if thumbnail(stored_name, content_type) is None:
            abort(404)
    return file_store().response(target, "image/jpeg", **send_args)
