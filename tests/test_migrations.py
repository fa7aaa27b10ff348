"""Migrations: one head; they upgrade an empty database and match the models."""
from __future__ import annotations

import os

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import create_engine, inspect

from registry import create_app
from registry.extensions import db
from tests.conftest import reset_postgres


def test_single_head(app):
    config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def _empty_url(tmp_path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        # a second database on the same server, so the session's database is untouched
        name = url.rsplit("/", 1)[1] + "_migrations"
        admin = create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        return url.rsplit("/", 1)[0] + "/" + name
    return f"sqlite:///{tmp_path / 'empty.sqlite3'}"


def test_upgrade_an_empty_database_and_match_the_models(tmp_path, app_config):
    url = _empty_url(tmp_path)
    fresh = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
    with fresh.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"region", "user_account", "audit_event", "organization", "person", "posting", "pairing"} <= tables
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        db.session.remove()
        db.engine.dispose()
    if url.startswith("postgresql"):
        reset_postgres(url)
