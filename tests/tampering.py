"""Changing the audit table behind the application's back, as an attacker with write
access to a copy of the database would. On PostgreSQL the table refuses UPDATE and
DELETE (a trigger); a superuser session (the tests' role) can switch triggers off with
``session_replication_role`` for one transaction, as the owner of a stolen copy could."""
from __future__ import annotations

from sqlalchemy import text


def tamper(db, *statements, params: dict | None = None) -> None:
    conn = db.session.connection()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    for statement in statements:
        conn.execute(text(statement) if isinstance(statement, str) else statement, params or {})
    if postgres:
        conn.exec_driver_sql("SET LOCAL session_replication_role = origin")
    db.session.commit()
