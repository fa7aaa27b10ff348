"""The backup archive: one uncompressed tar, written to ``NAME.partial`` and renamed once
complete, readable only by its owner.

Members: the database snapshot under ``database/``, the audit checkpoint file under
``checkpoint/``, every file of ``UPLOAD_FOLDER`` under ``uploads/``, then
``manifest.json`` (what the archive holds, with the size and SHA-256 of every other
member) and ``manifest.sig``. The signature is an HMAC of the manifest's bytes under a
key derived from the audit key (``registry/audit/anchor.py``): a changed byte in any
member changes its checksum, a changed checksum (or anything else in the manifest) breaks
the signature, and nobody without the key can make a new one. Restoring needs that key
anyway: the ID numbers and the audit chain are keyed with it.

Reading never trusts the tar's own names: a member must be a regular file named in the
manifest, under one of the known folders, without ``..`` or an absolute path.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from ..audit.anchor import UnknownKey, keyring

FORMAT = "registry-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CHECKPOINT = "checkpoint/audit-checkpoint.json"
DATABASE_DIR = "database"
UPLOADS_DIR = "uploads"
_FOLDERS = (DATABASE_DIR, "checkpoint", UPLOADS_DIR)
_MANIFEST_LIMIT = 64 * 1024 * 1024  # a manifest of a million files stays far below this
CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup that cannot be made, checked or restored; ``message`` says why (Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# -- signature -------------------------------------------------------------------------------

_PURPOSE = b"registry-backup-manifest"


def _manifest_key(key_id: int) -> bytes:
    """The manifest's key under audit key ``key_id``: the HMAC of a label of its own under
    that key's checkpoint key (what a checkpoint signs is JSON, never this label), so the
    manifest key never equals a key used for anything else."""
    prototype = keyring().checkpoint.get(key_id)
    if prototype is None:
        raise UnknownKey(key_id)
    mac = prototype.copy()
    mac.update(_PURPOSE)
    return mac.digest()


def sign(raw: bytes) -> bytes:
    key_id = keyring().current_id
    digest = hmac.new(_manifest_key(key_id), raw, hashlib.sha256).hexdigest()
    return json.dumps({"key_id": key_id, "hmac": digest}, sort_keys=True).encode()


def check_signature(raw: bytes, signature: bytes) -> None:
    try:
        data = json.loads(signature)
        key_id, expected = int(data["key_id"]), str(data["hmac"])
    except (ValueError, TypeError, KeyError):
        raise BackupError("备份清单的签名无法读取（manifest.sig 已损坏）") from None
    try:
        key = _manifest_key(key_id)
    except UnknownKey:
        raise BackupError(f"备份清单的签名密钥（审计密钥编号 {key_id}）不在本机的密钥环中："
                          "请配置备份时使用的 AUDIT_KEY / DATA_KEY（或 AUDIT_OLD_KEYS）") from None
    if not hmac.compare_digest(hmac.new(key, raw, hashlib.sha256).hexdigest(), expected):
        raise BackupError("备份清单的签名不符：备份文件被改动，或本机的审计密钥（AUDIT_KEY / DATA_KEY）与备份时不同")


# -- writing ---------------------------------------------------------------------------------


class _HashingReader:
    """Hands a file to ``tarfile`` and hashes exactly the bytes that went into the archive."""

    def __init__(self, fh):
        self.fh = fh
        self.hash = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.hash.update(data)
        return data


class _HashingWriter:
    """The archive's file, hashed as it is written (for the ``.sha256`` file beside it)."""

    def __init__(self, fh):
        self.fh = fh
        self.hash = hashlib.sha256()

    def write(self, data) -> int:
        self.hash.update(data)
        return self.fh.write(data)

    def tell(self) -> int:
        return self.fh.tell()


class ArchiveWriter:
    """Writes ``path`` as ``path.partial`` (never over an existing file) and renames it on
    ``finish``, with ``path.sha256`` beside it (``sha256sum -c`` checks a copy anywhere,
    without the key); ``abort`` removes the partial file."""

    def __init__(self, path: Path, created: datetime):
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        if path.exists():
            raise BackupError(f"备份文件 {path} 已存在")
        try:
            fd = os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise BackupError(f"{self.partial} 已存在：另一个备份正在写入，或上次备份中断（确认后删除该文件）") from None
        self._fh = os.fdopen(fd, "wb")
        self._out = _HashingWriter(self._fh)
        self._tar = tarfile.open(fileobj=self._out, mode="w", format=tarfile.PAX_FORMAT)
        self._mtime = int(created.timestamp())
        self.files: dict[str, dict] = {}

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = size, 0o600, self._mtime
        return info

    def add_file(self, name: str, source: Path) -> None:
        """Add ``source`` (read once, hashed on the way); a symbolic link is not followed."""
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            reader = _HashingReader(fh)
            self._tar.addfile(self._info(name, size), reader)
        self.files[name] = {"size": size, "sha256": reader.hash.hexdigest()}

    def add_bytes(self, name: str, data: bytes, *, listed: bool = True) -> None:
        self._tar.addfile(self._info(name, len(data)), io.BytesIO(data))
        if listed:
            self.files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    def finish(self, manifest: dict) -> Path:
        """Add the manifest (with the list of files) and its signature, then make the
        archive visible under its name."""
        raw = json.dumps({**manifest, "files": self.files}, ensure_ascii=False, indent=1, sort_keys=True).encode()
        self.add_bytes(MANIFEST, raw, listed=False)
        self.add_bytes(SIGNATURE, sign(raw), listed=False)
        self._tar.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self.partial, self.path)
        self.sha256 = self._out.hash.hexdigest()
        self.path.with_name(self.path.name + ".sha256").write_text(f"{self.sha256}  {self.path.name}\n")
        return self.path

    def abort(self) -> None:
        try:
            self._tar.close()
            self._fh.close()
        finally:
            self.partial.unlink(missing_ok=True)


# -- reading ---------------------------------------------------------------------------------


def safe_name(name: str) -> bool:
    """A member name this module would have written: relative, no ``..``, no empty or
    hidden trick, under one of the known folders."""
    if not name or "\\" in name or "\x00" in name or name.startswith("/"):
        return False
    parts = PurePosixPath(name).parts
    return (len(parts) >= 2 and parts[0] in _FOLDERS and all(p not in ("", ".", "..") for p in parts)
            and PurePosixPath(*parts).as_posix() == name)


@dataclass
class Manifest:
    data: dict

    @property
    def files(self) -> dict[str, dict]:
        return self.data["files"]

    @property
    def kind(self) -> str:
        return self.data["database"]["kind"]

    @property
    def database_file(self) -> str:
        return self.data["database"]["file"]

    @property
    def tables(self) -> dict[str, int]:
        return self.data["tables"]

    @property
    def revision(self) -> str | None:
        return self.data.get("alembic_revision")

    @property
    def created_at(self) -> str:
        return self.data["created_at"]

    @property
    def total_size(self) -> int:
        return sum(f["size"] for f in self.files.values())


def open_archive(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, mode="r:")
    except (tarfile.TarError, OSError) as error:
        raise BackupError(f"无法作为备份文件读取 {path}：{error}") from None


def _member_bytes(tar: tarfile.TarFile, name: str, what: str) -> bytes:
    try:
        member = tar.getmember(name)
    except KeyError:
        raise BackupError(f"不是本系统的备份文件，或已损坏：缺少 {what}（{name}）") from None
    except tarfile.TarError as error:
        raise BackupError(f"备份文件已损坏：{error}") from None
    if not member.isfile() or member.size > _MANIFEST_LIMIT:
        raise BackupError(f"备份文件已损坏：{name} 不是普通文件或过大")
    return tar.extractfile(member).read()


def read_manifest(tar: tarfile.TarFile) -> Manifest:
    """The manifest, once its signature holds and its shape is what this version writes."""
    raw = _member_bytes(tar, MANIFEST, "备份清单")
    check_signature(raw, _member_bytes(tar, SIGNATURE, "备份清单的签名"))
    try:
        data = json.loads(raw)
        ok = (data.get("format") == FORMAT and isinstance(data.get("files"), dict)
              and isinstance(data.get("tables"), dict) and data["database"]["kind"] in ("sqlite", "postgresql"))
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise BackupError("备份清单格式不符（不是本系统的备份文件）")
    if data.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"备份格式版本 {data.get('format_version')} 不受支持（本版本读取第 {FORMAT_VERSION} 版）")
    manifest = Manifest(data)
    unsafe = [name for name in manifest.files if not safe_name(name)]
    if unsafe or manifest.database_file not in manifest.files:
        raise BackupError(f"备份清单列出了不允许的文件名：{unsafe[:3] or manifest.database_file}")
    return manifest


@dataclass
class CheckResult:
    problems: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def check_members(tar: tarfile.TarFile, manifest: Manifest, staging: Path | None = None) -> CheckResult:
    """Read every member once, compare its size and SHA-256 with the manifest, and (with
    ``staging``) write it there under its name: what is later restored is exactly what
    was checked. Every member must be listed, and every listed file present."""
    result = CheckResult()
    seen: set[str] = set()
    try:
        for member in tar:
            name = member.name
            if name in (MANIFEST, SIGNATURE) and name not in seen:
                seen.add(name)
                continue
            expected = manifest.files.get(name)
            if expected is None or name in seen or not member.isfile():
                result.problems.append(f"{name}：不在备份清单中、重复或不是普通文件")
                continue
            seen.add(name)
            digest = _copy_member(tar, member, staging / name if staging is not None else None)
            if member.size != expected["size"] or digest != expected["sha256"]:
                result.problems.append(f"{name}：校验和不符（文件被改动或损坏）")
            result.checked += 1
    except (tarfile.TarError, OSError) as error:
        result.problems.append(f"备份文件已损坏或不完整：{error}")
        return result
    missing = sorted(set(manifest.files) - seen)
    result.problems.extend(f"{name}：备份清单列出但备份中缺少" for name in missing[:20])
    if len(missing) > 20:
        result.problems.append(f"另有 {len(missing) - 20} 个文件缺少")
    return result


def _copy_member(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path | None) -> str:
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    out = None
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        out = os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    try:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    finally:
        if out is not None:
            out.close()
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
