"""A consistent snapshot of the database while the site runs, and restoring one into an
empty database of the same kind.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies the file in one
step under a read lock; in WAL mode writers go on meanwhile, and the copy is the database
as one transaction saw it.

PostgreSQL: ``pg_dump`` in custom format, restored by ``pg_restore`` in one transaction
(an error leaves the target database as it was). The row counts in the manifest come
from the snapshot ``pg_dump`` reads (``pg_export_snapshot``), so they count exactly the
rows the dump holds. ``pg_dump`` must be of the server's major version or newer.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
# pg_dump and pg_restore, by absolute path, never through a shell
import subprocess  # nosec B404
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import column, create_engine, func, inspect, select, table, text
from sqlalchemy.engine import Connection, URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from ..extensions import db
from .archive import DATABASE_DIR, BackupError


@dataclass
class Snapshot:
    path: Path  # the file that goes into the archive
    member: str  # its name there
    tables: dict[str, int]  # table -> rows, as in the snapshot
    revision: str | None  # alembic_version of the snapshot
    details: dict = field(default_factory=dict)  # kind, versions, format


def kind() -> str:
    return db.engine.dialect.name


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per table (every table in the database, the ones no model maps included)."""
    return {name: conn.scalar(select(func.count()).select_from(table(name)))
            for name in sorted(inspect(conn).get_table_names())}


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.scalar(select(table("alembic_version", column("version_num")).c.version_num))


def snapshot(workdir: Path) -> Snapshot:
    return _sqlite_snapshot(workdir) if kind() == "sqlite" else _postgres_snapshot(workdir)


def existing_tables() -> list[str]:
    """Tables (or other relations) already in the target database; empty: it may be restored into."""
    if kind() == "sqlite":
        path = _sqlite_path()
        if not path.exists() or path.stat().st_size == 0:
            return []
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
        finally:
            conn.close()
        return [name for (name,) in rows]
    try:
        conn = db.engine.connect()
    except OperationalError as error:
        raise BackupError(f"无法连接目标数据库：{error.orig}") from None
    with conn:
        return list(conn.scalars(text(
            "SELECT CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1")))


def check_restorable(details: dict) -> None:
    """Refuse before anything is read or written if this host cannot restore the dump."""
    if kind() == "postgresql":
        tool, version = _pg_tool("pg_restore")
        made_by = _major(details.get("pg_dump_version", "0"))
        if _major(version) < made_by:
            raise BackupError(f"pg_restore 版本 {version} 低于制作备份的 pg_dump（{details.get('pg_dump_version')}），"
                              "无法读取：请安装同一大版本或更新的 PostgreSQL 客户端")


def restore(path: Path) -> None:
    """Write the verified snapshot ``path`` into the (empty) database."""
    db.session.remove()
    if kind() == "sqlite":
        _sqlite_restore(path)
    else:
        _postgres_restore(path)
    db.session.remove()


# -- SQLite ------------------------------------------------------------------------------------


def _sqlite_path() -> Path:
    database = db.engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError("内存中的 SQLite 数据库无法备份或恢复")
    return Path(database)


def _sqlite_snapshot(workdir: Path) -> Snapshot:
    source_path = _sqlite_path()
    if not source_path.is_file():
        raise BackupError(f"数据库文件 {source_path} 不存在")
    target = workdir / "registry.sqlite3"
    source = sqlite3.connect(source_path, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # all pages in one step: one consistent state
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        version = sqlite3.sqlite_version
    finally:
        copy.close()
        source.close()
    engine = create_engine(URL.create("sqlite", database=str(target)), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tables, revision = table_counts(conn), _revision(conn)
    finally:
        engine.dispose()
    return Snapshot(target, f"{DATABASE_DIR}/registry.sqlite3", tables, revision,
                    {"kind": "sqlite", "file": f"{DATABASE_DIR}/registry.sqlite3", "sqlite_version": version})


def _sqlite_restore(path: Path) -> None:
    db.engine.dispose()
    target = _sqlite_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(path)
    destination = sqlite3.connect(target, timeout=30)
    try:
        found = destination.execute("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
        if found:  # written to since the check: still never over existing data
            raise BackupError("目标数据库在恢复过程中被写入了数据，已停止，未覆盖任何数据")
        source.backup(destination)
    finally:
        destination.close()
        source.close()
    db.engine.dispose()


# -- PostgreSQL --------------------------------------------------------------------------------


def _major(version: str) -> int:
    match = re.match(r"(\d+)", version)
    return int(match.group(1)) if match else 0


def _pg_tool(name: str) -> tuple[str, str]:
    """The client program's absolute path and version."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"找不到 {name}：请安装 PostgreSQL 客户端程序（Debian/Ubuntu：postgresql-client），"
                          "其大版本不低于数据库服务器")
    done = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    match = re.search(r"(\d+(?:\.\d+)*)", done.stdout)
    return path, match.group(1) if match else "0"


def _libpq() -> tuple[str, dict[str, str]]:
    """The application's database URL as a libpq connection string for the client
    programs, and their environment with the password in PGPASSWORD (never on the
    command line, where ``ps`` would show it)."""
    from psycopg.conninfo import make_conninfo

    url = db.engine.url
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database}
    params.update({key: value if isinstance(value, str) else value[-1] for key, value in url.query.items()})
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**{k: v for k, v in params.items() if v is not None}), env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    # no shell; the program by its absolute path (shutil.which), the arguments built here
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603  # nosec B603
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()[-2000:]
        raise BackupError(f"{what}失败（退出码 {done.returncode}）：{detail}")
    return done.stdout


def _postgres_snapshot(workdir: Path) -> Snapshot:
    tool, version = _pg_tool("pg_dump")
    target = workdir / "registry.pgdump"
    conninfo, env = _libpq()
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        exported = conn.scalar(text("SELECT pg_export_snapshot()"))
        server = conn.scalar(text("SHOW server_version"))
        if _major(version) < _major(server):
            raise BackupError(f"pg_dump 版本 {version} 低于数据库服务器 {server}：请安装同一大版本或更新的 PostgreSQL 客户端")
        tables, revision = table_counts(conn), _revision(conn)
        # the exporting transaction stays open until pg_dump has read its snapshot
        _run([tool, "--format=custom", f"--snapshot={exported}", "--no-password", f"--file={target}",
              f"--dbname={conninfo}"], env, "pg_dump ")
        conn.rollback()
    return Snapshot(target, f"{DATABASE_DIR}/registry.pgdump", tables, revision, {
        "kind": "postgresql", "file": f"{DATABASE_DIR}/registry.pgdump", "format": "pg_dump custom",
        "server_version": server, "pg_dump_version": version})


# A dump of a database whose ``public`` schema was dropped and created again creates it
# (one made from the template does not); an empty target database already has one.
_CREATE_PUBLIC = re.compile(r"^\d+; \d+ \d+ SCHEMA - public ")


def _postgres_restore(path: Path) -> None:
    tool, _version = _pg_tool("pg_restore")
    conninfo, env = _libpq()
    with db.engine.connect() as conn:
        has_public = conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = 'public'"))
    db.engine.dispose()
    options = []
    if has_public:
        listing = _run([tool, "--list", str(path)], env, "pg_restore --list ").splitlines()
        kept = [line for line in listing if not _CREATE_PUBLIC.match(line)]
        if len(kept) < len(listing):
            use_list = path.with_name(path.name + ".list")
            use_list.write_text("\n".join(kept) + "\n")
            options.append(f"--use-list={use_list}")
    # one transaction: an error (or a table that appeared meanwhile) leaves the database as it was
    _run([tool, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges", "--no-password",
          *options, f"--dbname={conninfo}", str(path)], env, "pg_restore ")
    db.engine.dispose()
