"""Backup and restore (``flask backup``): a round trip on the suite's database kind
(SQLite, or PostgreSQL with TEST_DATABASE_URL) that compares every table row by row and
every uploaded file byte by byte and verifies the audit chain afterwards; a changed byte
anywhere in the archive refused before anything is written; never over existing data."""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import MetaData, create_engine, inspect, select
from sqlalchemy.pool import NullPool
from werkzeug.datastructures import FileStorage

from registry import create_app
from registry.audit.services import verify_chain
from registry.backup.archive import MANIFEST, safe_name
from registry.backup.services import create_backup
from registry.extensions import db as _db
from registry.records import services as records
from tests.conftest import postgres_database, reset_postgres
from tests.factories_records import pdf_bytes, png_bytes, record_data


@dataclass
class Source:
    archive: Path
    rows: dict[str, list[tuple]]  # every table of the database backed up, row by row
    files: dict[str, bytes]  # every file of its upload folder


@pytest.fixture(scope="module")
def source(_app, tmp_path_factory) -> Source:
    """Records with evidence (photos, PDFs), confirmed and disputed ones, their audit
    events and a job's file beside the evidence; a backup of it all, and what it was
    made of (built once per worker: the tests restore it, they never change it)."""
    from registry.accounts.services import create_user
    from tests.conftest import PASSWORD, _clean
    from tests.factories_records import _build_world

    def make_user(role, username=None, **scope):
        user, _ = create_user(username, role, password=PASSWORD, **scope)
        _db.session.commit()
        return user

    tmp = tmp_path_factory.mktemp("backup-source")
    _clean(_app)
    with _app.app_context():
        kept_folder, _app.config["UPLOAD_FOLDER"] = _app.config["UPLOAD_FOLDER"], str(tmp / "uploads")
        try:
            world = _build_world(make_user)
            for n in range(3):
                record = records.create_record(
                    world.unit, record_data(world.village.code, title=f"捐建产业路 {n}"),
                    [FileStorage(io.BytesIO(png_bytes(color=(n * 40, 90, 200))), filename=f"现场{n}.png"),
                     FileStorage(io.BytesIO(pdf_bytes() + bytes([n])), filename=f"验收单{n}.pdf")], submit=True)
                if n == 1:
                    records.confirm_record(record, world.village_user)
                elif n == 2:
                    records.dispute_record(record, world.village_user, "金额与实际不符")
            _db.session.commit()
            (tmp / "uploads" / "jobs").mkdir(parents=True)
            (tmp / "uploads" / "jobs" / "7.progress").write_text("3/10")
            created = create_backup(tmp / "backups")
            url = _db.engine.url.render_as_string(hide_password=False)
            return Source(created.path, _rows(url, _tables(url)), _files(tmp / "uploads"))
        finally:
            _app.config["UPLOAD_FOLDER"] = kept_folder
            _db.session.remove()


@pytest.fixture()
def target(app_config, tmp_path):
    """A second application on an empty database of the same kind, with its own upload
    folder and checkpoint file."""
    url = app_config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        url = postgres_database(url, "restore")
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
    restored = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url,
                           "UPLOAD_FOLDER": str(tmp_path / "restored" / "uploads"),
                           "AUDIT_CHECKPOINT_PATH": str(tmp_path / "restored" / "audit-checkpoint.json")})
    yield restored
    with restored.app_context():
        _db.engine.dispose()


def _invoke(application, *args):
    """``flask backup ...`` on ``application`` (the CLI runs in the application context
    already pushed, which is the source's in these tests)."""
    with application.app_context():
        return application.test_cli_runner().invoke(args=["backup", *args])


def _rows(url: str, tables: list[str]) -> dict[str, list[tuple]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        metadata = MetaData()
        metadata.reflect(engine, only=tables)
        with engine.connect() as conn:
            out = {}
            for name in tables:
                table = metadata.tables[name]
                order = list(table.primary_key.columns) or list(table.columns)
                out[name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
            return out
    finally:
        engine.dispose()


def _tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _files(root: Path) -> dict[str, bytes]:
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _url(application) -> str:
    with application.app_context():
        return _db.engine.url.render_as_string(hide_password=False)


def test_round_trip_restores_every_row_and_file_and_the_chain_verifies(source, target):
    result = _invoke(target, "restore", str(source.archive))
    assert result.exit_code == 0, result.output
    assert "数据库已恢复" in result.output and "审计链完整" in result.output

    target_url = _url(target)
    assert _tables(target_url) == sorted(source.rows)
    restored = _rows(target_url, sorted(source.rows))
    for name, rows in source.rows.items():
        assert restored[name] == rows, name
    assert len(source.rows["evidence"]) == 6 and len(source.rows["audit_event"]) > 20

    assert len([n for n in source.files if n.startswith("records/")]) == 6 and "jobs/7.progress" in source.files
    assert _files(Path(target.config["UPLOAD_FOLDER"])) == source.files

    with target.app_context():
        report = verify_chain()
        assert report.ok and report.checked == len(source.rows["audit_event"])
        assert report.checkpoint is not None and report.checkpoint.valid
    # the archive's own checksum beside it, for copies checked where the key is not
    sidecar = source.archive.with_name(source.archive.name + ".sha256").read_text()
    assert sidecar == f"{hashlib.sha256(source.archive.read_bytes()).hexdigest()}  {source.archive.name}\n"
    # nothing left behind in the staging area beside the upload folder
    assert sorted(p.name for p in Path(target.config["UPLOAD_FOLDER"]).parent.iterdir()) == [
        "audit-checkpoint.json", "uploads"]


def _flip_byte(archive: Path, member_name: str, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        member = tar.getmember(member_name)
        offset = member.offset_data + member.size // 2
    shutil.copy(archive, into)
    with open(into, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0x01]))
    return into


def _assert_nothing_written(target) -> None:
    assert _tables(_url(target)) == []
    folder = Path(target.config["UPLOAD_FOLDER"])
    assert _files(folder) == {}
    assert not Path(target.config["AUDIT_CHECKPOINT_PATH"]).exists()
    assert not folder.parent.exists() or [p.name for p in folder.parent.iterdir()] == []


@pytest.mark.parametrize("member", ["evidence", "database", MANIFEST])
def test_a_changed_byte_is_refused_before_anything_is_written(app, source, target, tmp_path, member):
    with tarfile.open(source.archive) as tar:
        names = tar.getnames()
    name = {"evidence": next(n for n in names if n.startswith("uploads/records/")),
            "database": next(n for n in names if n.startswith("database/"))}.get(member, member)
    tampered = _flip_byte(source.archive, name, tmp_path / "tampered.tar")

    result = _invoke(target, "restore", str(tampered))
    assert result.exit_code != 0
    if member == MANIFEST:
        assert "签名不符" in result.output
    else:
        assert "备份校验失败，未写入任何数据" in result.output and f"{name}：校验和不符" in result.output
    _assert_nothing_written(target)

    verified = _invoke(app, "verify", str(tampered))
    assert verified.exit_code == 1 and ("签名不符" in verified.output or name in verified.output)
    assert _invoke(app, "verify", str(source.archive)).exit_code == 0


def test_restore_refuses_a_database_that_is_not_empty(app, source, runner):
    before = _rows(_url(app), ["region", "audit_event"])
    result = runner.invoke(args=["backup", "restore", str(source.archive)])
    assert result.exit_code == 1
    assert "目标数据库不是空库" in result.output and "不覆盖任何数据" in result.output
    assert _rows(_url(app), ["region", "audit_event"]) == before


def test_restore_never_replaces_a_different_file_in_the_upload_folder(source, target):
    with tarfile.open(source.archive) as tar:
        name = next(n for n in tar.getnames() if n.startswith("uploads/records/"))
    existing = Path(target.config["UPLOAD_FOLDER"]) / name.removeprefix("uploads/")
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"another file")

    result = _invoke(target, "restore", str(source.archive))
    assert result.exit_code == 1 and "同名但内容不同" in result.output
    assert existing.read_bytes() == b"another file"
    assert _tables(_url(target)) == []
    assert _files(Path(target.config["UPLOAD_FOLDER"])) == {name.removeprefix("uploads/"): b"another file"}


def test_an_archive_made_while_the_backup_folder_is_inside_uploads_is_refused(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    result = _invoke(app, "create", "--to", str(tmp_path / "uploads" / "backups"))
    assert result.exit_code == 1 and "不能位于上传目录" in result.output
    assert not (tmp_path / "uploads" / "backups").exists() or not os.listdir(tmp_path / "uploads" / "backups")


@pytest.mark.parametrize("change, message", [
    ({"kind": "other"}, "不支持跨数据库类型恢复"),
    ({"alembic_revision": "0123456789ab"}, "不为本程序所知"),
])
def test_an_archive_of_the_other_kind_or_an_unknown_schema_is_refused(target, tmp_path, change, message):
    """Signed with the right key, so only the rule itself refuses it."""
    from registry.backup.archive import FORMAT, FORMAT_VERSION, ArchiveWriter
    from registry.core.timeutil import utcnow

    with target.app_context():
        kind = _db.engine.dialect.name
        manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "created_at": "2026-11-28T02:00:00Z",
                    "app": {"name": "registry", "version": "0.1.0"}, "alembic_revision": None,
                    "database": {"kind": kind, "file": "database/registry.db"}, "tables": {},
                    "audit": {"checkpoint": None}, "uploads": "uploads"}
        if change.get("kind"):
            manifest["database"]["kind"] = "sqlite" if kind == "postgresql" else "postgresql"
        manifest["alembic_revision"] = change.get("alembic_revision")
        writer = ArchiveWriter(tmp_path / "forged.tar", utcnow())
        writer.add_bytes("database/registry.db", b"rows")
        writer.add_bytes("uploads/records/ab/x.pdf", b"%PDF-")
        archive = writer.finish(manifest)

    result = _invoke(target, "restore", str(archive))
    assert result.exit_code == 1 and message in result.output
    _assert_nothing_written(target)


@pytest.mark.parametrize("name, ok", [
    ("uploads/records/ab/ab12.pdf", True), ("database/registry.sqlite3", True),
    ("checkpoint/audit-checkpoint.json", True), ("uploads/../../etc/passwd", False), ("/etc/passwd", False),
    ("uploads//x", False), ("uploads/./x", False), ("other/x", False), ("uploads", False), ("uploads\\..\\x", False),
])
def test_only_names_this_module_writes_are_read(name, ok):
    assert safe_name(name) is ok


def test_a_bucket_is_restored_into_and_backed_up_from(source, target, s3_server, tmp_path):
    """With the files in an S3 bucket (``STORAGE_S3_BUCKET``): a folder's archive restores
    into an empty bucket (the way from one host to several), never over a different
    object, and a backup holds every object of the bucket."""
    import boto3

    from tests.conftest import s3_settings

    bucket = s3_settings(s3_server)
    name = bucket["STORAGE_S3_BUCKET"]
    target.config.update(bucket)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="test-key",
                          aws_secret_access_key="test-secret")

    def objects() -> dict[str, bytes]:
        listed = client.list_objects_v2(Bucket=name).get("Contents", [])
        return {o["Key"]: client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listed}

    key = next(k for k in source.files if k.startswith("records/"))
    client.put_object(Bucket=name, Key=key, Body=b"another file")
    result = _invoke(target, "restore", str(source.archive))
    assert result.exit_code == 1 and "同名但内容不同" in result.output and "存储桶" in result.output
    assert objects() == {key: b"another file"} and _tables(_url(target)) == []

    client.delete_object(Bucket=name, Key=key)
    result = _invoke(target, "restore", str(source.archive))
    assert result.exit_code == 0, result.output
    assert objects() == source.files and not Path(target.config["UPLOAD_FOLDER"]).exists()

    result = _invoke(target, "create", "--to", str(tmp_path / "again"))
    assert result.exit_code == 0, result.output
    with tarfile.open(next((tmp_path / "again").glob("*.tar"))) as tar:
        backed_up = {m.name.removeprefix("uploads/"): tar.extractfile(m).read() for m in tar.getmembers()
                     if m.name.startswith("uploads/")}
    assert backed_up == source.files
