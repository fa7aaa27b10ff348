from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class AuditEvent(db.Model):
    """One change: who, when (UTC), what, before and after. Never updated or deleted (on
    PostgreSQL a trigger refuses both). Each event is the ``seq``-th of its ``chain``
    (``services.partition``), linked to the one before it there."""

    __tablename__ = "audit_event"

    # Assigned when the transaction links its events (the table's sequence on PostgreSQL),
    # in the order they were recorded; not gap-free: ``seq`` is, within its chain.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(4), server_default="")  # a city's code, or "" (province, system)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor: Mapped[str] = mapped_column(String(64))  # username, kept even if the user goes
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(String(300), default="")
    # scope of the event: the region and organization the changed object belongs to
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    organization_id: Mapped[int | None] = mapped_column(Integer, index=True)
    before: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    after: Mapped[str | None] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # the key the hash is an HMAC under (``anchor.keyring``); 0: plain SHA-256, the events
    # stored before the chain was keyed
    key_id: Mapped[int] = mapped_column(Integer, server_default="0")  # not null

    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),
                      # the trail's list by entity type, newest first (keyset paging on id)
                      Index("ix_audit_event_type_id", "entity_type", "id"),
                      Index("uq_audit_event_chain_seq", "chain", "seq", unique=True))
