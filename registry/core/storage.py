"""Where the registry keeps its files: evidence photos and PDFs (and their thumbnails),
evidence kept from a refused record form, import uploads, job results and progress, and
import error sheets. One small interface, two backends:

- ``LocalStore`` (default): a folder, ``UPLOAD_FOLDER`` (``instance/uploads``), outside
  the web root. Right for one host; several hosts would each see only their own files.
- ``S3Store``: a bucket of S3-compatible object storage (MinIO, or a cloud bucket)
  through boto3, chosen by ``STORAGE_S3_BUCKET``. Every host reads and writes the same
  objects, so a file uploaded through one host is served by any other, and a job queued
  on one host runs on a worker elsewhere.

Keys are relative paths of ``/``-separated parts made of letters, digits, ``.``, ``_``
and ``-`` (never ``..``): the callers build them from generated names and ids, never
from what a user typed, and ``key()`` refuses anything else.

Files are served through the app (``Store.response``), never by a presigned redirect: every
request passes the same scope check as the page that links the file, a logout or a
disabled account stops access at once (a presigned URL stays valid for its lifetime
with whoever holds it), the answer keeps its ``Cache-Control: private, no-store`` and
its CSP, and the object store needs no address the browsers can reach. Evidence is at
most ``REGISTRY_MAX_UPLOAD_MB``, so streaming it costs a worker little.
"""
from __future__ import annotations

import functools
import os
import re
import secrets
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol
from urllib.parse import quote

from flask import Response, abort, current_app

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
CHUNK = 256 * 1024


class Missing(FileNotFoundError):
    """No object under that key."""


def key(*parts: str) -> str:
    """A store key from its parts; ValueError if a part could name something else."""
    joined = "/".join(str(p) for p in parts)
    pieces = joined.split("/")
    if not pieces or any(not _PART.match(p) or p in (".", "..") for p in pieces):
        raise ValueError(f"not a storage key: {joined!r}")
    return joined


@dataclass(frozen=True)
class Entry:
    key: str
    size: int
    modified: float  # seconds since the epoch


class Store(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def put_file(self, key: str, path: Path) -> None: ...
    def read(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def entries(self, prefix: str) -> Iterator[Entry]: ...
    def response(self, key: str, mimetype: str, **send_args) -> Response: ...


class LocalStore:
    """A folder; writes land whole (a temporary name, then a rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / key(name)

    def put(self, name: str, data: bytes) -> None:
        target = self.path(name)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        for attempt in range(3):  # a folder emptied by ``delete`` may go between mkdir and open
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
                break
            except FileNotFoundError:
                if attempt == 2:
                    raise
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    def put_file(self, name: str, path: Path) -> None:
        """Move a finished local file into the store (an export written to disk)."""
        target = self.path(name)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        for attempt in range(3):  # as in ``put``
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(path), partial)
                break
            except FileNotFoundError:
                if attempt == 2 or not Path(path).exists():
                    raise
        os.replace(partial, target)

    def read(self, name: str) -> bytes:
        try:
            return self.path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise Missing(name) from None

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        path = self.path(name)
        path.unlink(missing_ok=True)
        # folders left empty go too (a kept form's session folder, a user's)
        for folder in path.parents:
            if folder == self.root or self.root not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break

    def entries(self, prefix: str) -> Iterator[Entry]:
        """Every file under ``prefix`` (``""``: every file), in key order."""
        base = self.root / key(prefix.rstrip("/")) if prefix else self.root
        if not base.is_dir():
            return
        for path in sorted(base.rglob("*")):
            if path.is_file() and not path.name.endswith(".part"):
                stat = path.stat()
                yield Entry(path.relative_to(self.root).as_posix(), stat.st_size, stat.st_mtime)

    def response(self, name: str, mimetype: str, **send_args) -> Response:
        path = self.path(name)
        try:
            fh = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            abort(404)
        return answer(_Stream(fh), os.fstat(fh.fileno()).st_size, mimetype, **send_args)


@functools.lru_cache(maxsize=8)
def _client(endpoint_url, region, access_key, secret_key):
    """One boto3 client per settings in a process (thread-safe; making one costs ~0.3 s)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=region,
        aws_access_key_id=access_key, aws_secret_access_key=secret_key,
        # path-style addressing works with MinIO and every cloud; bounded retries
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"},
                      connect_timeout=5, read_timeout=30),
    )


class S3Store:
    """A bucket (under an optional prefix) of S3-compatible storage, through boto3."""

    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key: str | None = None, secret_key: str | None = None,
                 client=None):
        self.bucket = bucket
        self.prefix = key(prefix.strip("/")) + "/" if prefix.strip("/") else ""
        self.client = client or _client(endpoint_url or None, region or None, access_key or None, secret_key or None)

    def _key(self, name: str) -> str:
        return self.prefix + key(name)

    def _missing(self, error) -> bool:
        code = str(error.response.get("Error", {}).get("Code", ""))
        return code in ("NoSuchKey", "404", "NotFound")

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    def put_file(self, name: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(name))  # multipart for a large export
        Path(path).unlink(missing_ok=True)

    def _get(self, name: str):
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as error:
            if self._missing(error):
                raise Missing(name) from None
            raise

    def read(self, name: str) -> bytes:
        return self._get(name)["Body"].read()

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as error:
            if self._missing(error):
                return False
            raise
        return True

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))  # no error when absent

    def entries(self, prefix: str) -> Iterator[Entry]:
        start = self.prefix + (key(prefix.rstrip("/")) + "/" if prefix else "")
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:
            for item in page.get("Contents", ()):
                yield Entry(item["Key"][len(self.prefix):], int(item["Size"]), item["LastModified"].timestamp())

    def response(self, name: str, mimetype: str, **send_args) -> Response:
        try:
            found = self._get(name)
        except Missing:
            abort(404)
        return answer(_Stream(found["Body"]), int(found["ContentLength"]), mimetype, **send_args)


class _Stream:
    """A file's or an object's body as a response's chunks; closed by the server when the
    answer ends, sent or not (a HEAD request, a client gone)."""

    def __init__(self, body):
        self.body = body

    def __iter__(self) -> Iterator[bytes]:
        try:
            while block := self.body.read(CHUNK):
                yield block
        finally:  # read to the end (or stopped): done with it
            self.body.close()

    def close(self) -> None:
        self.body.close()


def answer(chunks, size: int, mimetype: str, *, as_attachment: bool = False,
           download_name: str | None = None, max_age: int | None = None) -> Response:
    """A streamed file answer, with the headers ``send_file`` would give it."""
    response = Response(chunks, mimetype=mimetype, direct_passthrough=True)
    response.content_length = size
    if download_name is not None:
        try:
            download_name.encode("ascii")
            names = {"filename": download_name}
        except UnicodeEncodeError:
            simple = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode("ascii")
            names = {"filename": simple, "filename*": "UTF-8''" + quote(download_name, safe="!#$&+-.^_`|~")}
        response.headers.set("Content-Disposition", "attachment" if as_attachment else "inline", **names)
    elif as_attachment:
        response.headers["Content-Disposition"] = "attachment"
    if max_age is not None:
        response.cache_control.max_age = max_age
    return response


def from_config(config) -> Store:
    bucket = config.get("STORAGE_S3_BUCKET")
    if bucket:
        return S3Store(bucket, prefix=config.get("STORAGE_S3_PREFIX") or "",
                       endpoint_url=config.get("STORAGE_S3_ENDPOINT_URL"), region=config.get("STORAGE_S3_REGION"),
                       access_key=config.get("STORAGE_S3_ACCESS_KEY_ID"),
                       secret_key=config.get("STORAGE_S3_SECRET_ACCESS_KEY"))
    return LocalStore(config["UPLOAD_FOLDER"])


_SETTINGS = ("UPLOAD_FOLDER", "STORAGE_S3_BUCKET", "STORAGE_S3_PREFIX", "STORAGE_S3_ENDPOINT_URL",
             "STORAGE_S3_REGION", "STORAGE_S3_ACCESS_KEY_ID", "STORAGE_S3_SECRET_ACCESS_KEY")


def store() -> Store:
    """The application's store (made once per application, and again if its settings
    change, as a test's ``UPLOAD_FOLDER`` does)."""
    app = current_app._get_current_object()
    settings = tuple(app.config.get(name) for name in _SETTINGS)
    found = app.extensions.get("registry_store")
    if found is None or found[0] != settings:
        found = app.extensions["registry_store"] = (settings, from_config(app.config))
    return found[1]
