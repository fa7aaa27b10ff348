"""Making, checking and restoring a backup (``flask backup create|verify|restore``).

Order when making one: the audit checkpoint is read first, then the database snapshot
is taken, then the uploaded files are copied. A checkpoint is written only after its
events were committed, so the snapshot always holds every event the checkpoint counts
(it may hold more, which verification accepts); a file is stored before the row that
names it is committed, so every file the snapshot names is already on disk (files
added later are harmless extras).

Restoring refuses, before anything is written, a database that is not empty, an archive
of the other database kind or of a schema this version does not know, a manifest whose
signature fails, any member whose checksum fails, and an uploaded file that would
replace a different one. The archive is read once into a staging folder beside
``UPLOAD_FOLDER`` (or in the instance folder, when the files are in an S3 bucket:
``core/storage.py``) while it is checked, so what is restored is what was checked.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from flask import current_app

from ..audit.anchor import checkpoint_path
from ..audit.services import ChainReport, verify_chain
from ..core import storage
from ..core.timeutil import utcnow
from . import databases
from .archive import (CHECKPOINT, FORMAT, FORMAT_VERSION, UPLOADS_DIR, ArchiveWriter, BackupError, CheckResult,
                      Manifest, check_members, open_archive, read_manifest, sha256_of)


def default_folder() -> Path:
    return Path(current_app.instance_path) / "backups"


def _upload_root() -> Path | None:
    """The upload folder, or None when the files are in a bucket (``core/storage.py``):
    then they are read from and restored into the bucket, object by object."""
    files = storage.store()
    return Path(files.root).resolve() if isinstance(files, storage.LocalStore) else None


def _app_version() -> str:
    try:
        return metadata.version("registry")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree not installed
        return "unknown"


def _read_checkpoint_file() -> bytes | None:
    """The checkpoint file's bytes as they are (under the writers' lock, so never half a slot)."""
    import fcntl

    try:
        with open(checkpoint_path(), "rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            return fh.read()
    except FileNotFoundError:
        return None


def _upload_files(root: Path):
    """(name in the archive, path) of every regular file under ``root``, in a stable
    order; symbolic links are not followed."""
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield f"{UPLOADS_DIR}/{path.relative_to(root).as_posix()}", path


@dataclass
class Created:
    path: Path
    manifest: dict
    sha256: str  # of the whole archive, also in ``<archive>.sha256``
    skipped: list[str] = field(default_factory=list)  # files that vanished while being read


def create_backup(folder: Path | None = None) -> Created:
    folder = (folder or default_folder()).resolve()
    uploads = _upload_root()
    if uploads is not None and (folder == uploads or uploads in folder.parents):
        raise BackupError("备份目录不能位于上传目录（UPLOAD_FOLDER）之内")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = utcnow()
    checkpoint = _read_checkpoint_file()  # before the snapshot: see the module's docstring
    with tempfile.TemporaryDirectory(dir=folder, prefix=".backup-") as work:
        snap = databases.snapshot(Path(work))
        writer = ArchiveWriter(folder / f"registry-backup-{created:%Y%m%dT%H%M%SZ}.tar", created)
        skipped: list[str] = []
        try:
            writer.add_file(snap.member, snap.path)
            snap.path.unlink()  # the space it took, before the files are copied
            if checkpoint is not None:
                writer.add_bytes(CHECKPOINT, checkpoint)
            if uploads is None:
                files = storage.store()
                for entry in files.entries(""):
                    try:
                        writer.add_bytes(f"{UPLOADS_DIR}/{entry.key}", files.read(entry.key))
                    except storage.Missing:  # expired or removed meanwhile
                        skipped.append(entry.key)
            elif uploads.is_dir():
                for name, path in _upload_files(uploads):
                    try:
                        writer.add_file(name, path)
                    except FileNotFoundError:  # a job's temporary file, removed meanwhile
                        skipped.append(name)
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION,
                "created_at": created.isoformat(timespec="seconds") + "Z",
                "app": {"name": "registry", "version": _app_version()},
                "alembic_revision": snap.revision,
                "database": snap.details,
                "tables": snap.tables,
                "audit": {"events": snap.tables.get("audit_event", 0), "checkpoint": CHECKPOINT if checkpoint else None},
                "uploads": UPLOADS_DIR,
            }
            path = writer.finish(manifest)
        except BaseException:
            writer.abort()
            raise
    return Created(path, {**manifest, "files": writer.files}, writer.sha256, skipped)


@dataclass
class Verified:
    manifest: Manifest
    result: CheckResult


def verify_backup(path: Path) -> Verified:
    """Check the signature and every checksum; write nothing. A manifest that cannot be
    trusted raises ``BackupError``; a member that fails is listed in ``result``."""
    with open_archive(path) as tar:
        manifest = read_manifest(tar)
        return Verified(manifest, check_members(tar, manifest))


@dataclass
class Restored:
    manifest: Manifest
    files_written: int = 0
    files_present: int = 0  # already in UPLOAD_FOLDER (or the bucket) with the same content
    checkpoint_note: str = ""
    count_problems: list[str] = field(default_factory=list)
    upgrade_needed: bool = False
    chain: ChainReport | None = None


def _refuse_unless_empty() -> None:
    found = databases.existing_tables()
    if found:
        shown = "、".join(found[:5]) + ("等" if len(found) > 5 else "")
        raise BackupError(f"目标数据库不是空库（已有 {len(found)} 张表或其他对象：{shown}）。"
                          "恢复只写入空数据库，不覆盖任何数据：请新建一个空数据库，将 DATABASE_URL 指向它后再试")


def _known_revision(revision: str | None) -> bool:
    """Whether this version's migrations know ``revision``; True also when it is behind the head."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    if revision is None:
        return True
    script = ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _head() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config()).get_current_head()


def restore_backup(path: Path) -> Restored:
    kind = databases.kind()
    _refuse_unless_empty()
    with open_archive(path) as tar:
        manifest = read_manifest(tar)
        if manifest.kind != kind:
            names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
            raise BackupError(f"备份来自 {names[manifest.kind]}，当前数据库是 {names.get(kind, kind)}：不支持跨数据库类型恢复")
        if not _known_revision(manifest.revision):
            raise BackupError(f"备份的数据库结构版本 {manifest.revision} 不为本程序所知（备份来自更新的版本）：请先升级程序")
        databases.check_restorable(manifest.data["database"])
        uploads = _upload_root()
        beside = uploads.parent if uploads is not None else Path(current_app.instance_path)
        beside.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=beside, prefix=".registry-restore-") as work:
            staging = Path(work)
            result = check_members(tar, manifest, staging)
            if not result.ok:
                shown = "；".join(result.problems[:5]) + (f"；另有 {len(result.problems) - 5} 处" if len(result.problems) > 5 else "")
                raise BackupError(f"备份校验失败，未写入任何数据：{shown}")
            restored = Restored(manifest)
            plan = _plan_uploads(manifest, staging, uploads, restored)
            _refuse_unless_empty()  # once more, right before writing
            placed = _place(plan) if uploads is not None else _put(plan)
            try:
                databases.restore(staging / manifest.database_file)
            except BaseException:
                for target in placed:
                    if uploads is not None:
                        target.unlink(missing_ok=True)
                    else:
                        storage.store().delete(target)
                raise
            restored.files_written = len(placed)
            restored.checkpoint_note = _restore_checkpoint(staging / CHECKPOINT if CHECKPOINT in manifest.files else None)
    restored.count_problems = _compare_counts(manifest.tables)
    restored.upgrade_needed = manifest.revision is not None and manifest.revision != _head()
    restored.chain = verify_chain()
    return restored


def _plan_uploads(manifest: Manifest, staging: Path, uploads: Path | None, restored: Restored) -> list[tuple]:
    """(staged file, target) of each uploaded file to write (the target a path, or a key
    of the bucket); refuses if any target exists with other content (no silent
    overwrite); one with the same content is left as it is."""
    plan, conflicts = [], []
    prefix = UPLOADS_DIR + "/"
    for name, expected in manifest.files.items():
        if not name.startswith(prefix):
            continue
        if uploads is None:
            key = storage.key(name[len(prefix):])
            try:
                same = hashlib.sha256(storage.store().read(key)).hexdigest() == expected["sha256"]
            except storage.Missing:
                plan.append((staging / name, key))
                continue
            if same:
                restored.files_present += 1
            else:
                conflicts.append(key)
            continue
        target = uploads / name[len(prefix):]
        if target.is_symlink() or target.exists():
            if target.is_file() and not target.is_symlink() and sha256_of(target) == expected["sha256"]:
                restored.files_present += 1
                continue
            conflicts.append(str(target))
            continue
        plan.append((staging / name, target))
    if conflicts:
        where, empty = ("上传目录", "UPLOAD_FOLDER") if uploads is not None else ("对象存储", "存储桶（STORAGE_S3_BUCKET）")
        raise BackupError(f"{where}中已有 {len(conflicts)} 个同名但内容不同的文件（如 {conflicts[0]}），"
                          f"恢复不覆盖文件，未写入任何数据：请指定一个空的 {empty}")
    return plan


def _put(plan: list[tuple[Path, str]]) -> list[str]:
    """Put the staged files into the bucket; on a failure the objects put so far are
    removed again. (An object that appeared meanwhile is replaced: a bucket has no
    create-only write; the database is empty, so nothing names it yet.)"""
    files, placed = storage.store(), []
    try:
        for staged, key in plan:
            files.put(key, staged.read_bytes())
            placed.append(key)
    except BaseException:
        for key in placed:
            files.delete(key)
        raise
    return placed


def _place(plan: list[tuple[Path, Path]]) -> list[Path]:
    """Move the staged files into place, never over an existing file; on a failure the
    files placed so far are removed again."""
    placed: list[Path] = []
    try:
        for staged, target in plan:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged, 0o640)
            try:
                os.link(staged, target)  # fails if the target exists
            except OSError as error:
                if isinstance(error, FileExistsError):
                    raise BackupError(f"文件 {target} 在恢复过程中出现，已停止，未覆盖") from None
                with open(staged, "rb") as src, os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640),
                                                          "wb") as out:
                    shutil.copyfileobj(src, out)
            placed.append(target)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        raise
    return placed


def _restore_checkpoint(staged: Path | None) -> str:
    """Put the archive's checkpoint where this host keeps it, unless a checkpoint is
    already there: that one is evidence of its own (a newer head, perhaps) and is kept."""
    target = checkpoint_path()
    if staged is None:
        return "备份中没有审计检查点文件（备份时尚未写过检查点）"
    if target.exists() and target.stat().st_size > 0:
        return (f"已保留本机现有的审计检查点文件 {target}，未用备份中的检查点覆盖；若核验报告尾部缺失且确认本次恢复无误，"
                "运行 flask audit checkpoint --after-restore")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(staged, "rb") as src, os.fdopen(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), "wb") as out:
        shutil.copyfileobj(src, out)
    return f"审计检查点已恢复到 {target}"


def _compare_counts(expected: dict[str, int]) -> list[str]:
    from ..extensions import db

    with db.engine.connect() as conn:
        found = databases.table_counts(conn)
    problems = [f"{name}：备份 {rows} 行，恢复后 {found.get(name)} 行" for name, rows in expected.items()
                if found.get(name) != rows]
    problems += [f"{name}：备份中没有这张表" for name in sorted(set(found) - set(expected))]
    return problems


def describe(manifest: dict | Manifest) -> list[str]:
    """A few lines for the console about what an archive holds."""
    data = manifest.data if isinstance(manifest, Manifest) else manifest
    kind = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[data["database"]["kind"]]
    files = data["files"]
    uploads = [f for name, f in files.items() if name.startswith(UPLOADS_DIR + "/")]
    rows = sum(data["tables"].values())
    return [
        f"创建时间：{data['created_at']}（UTC），程序版本 {data['app']['version']}，数据库结构版本 {data.get('alembic_revision')}",
        f"数据库：{kind}，{len(data['tables'])} 张表，共 {rows} 行（审计事件 {data['tables'].get('audit_event', 0)} 条）",
        f"上传文件：{len(uploads)} 个，{_size(sum(f['size'] for f in uploads))}",
        f"审计检查点：{'有' if data['audit'].get('checkpoint') else '无'}",
    ]


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.1f} KB"
