"""Chase-ups (催办) and escalations (督办升级) of items someone must act on.

An item is one of three things a township or a level above may chase:

- ``record``: a support record overdue for the village's confirmation (``record_id``);
- ``duty_month``: a village posting's month with no 驻村纪实 filed (``posting_id``, ``month``);
- ``result``: a village's yearly result not yet verified (``result_id``).

``item_key`` names the item in one string ("record:12", "duty_month:5:2026-10",
"result:3"), so that the chases and escalations of one item are found by one indexed
column and an item escalates to a level at most once (a unique constraint: the daily
``flask chase escalate`` may run any number of times). Both tables are append-only and
audited; the village and the organization that must act are copied onto each row so that
scope is an indexed condition (``registry/scopes.py``).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..core.audited import Audited
from ..core.timeutil import utcnow
from ..extensions import db

ITEM_KINDS = {"record": "逾期未确认的帮扶记录", "duty_month": "未填报的驻村纪实", "result": "未核验的帮扶实效"}
# the levels an item climbs, lowest first; a chase is made at its chaser's level
LEVELS = ("township", "county", "city", "province")
LEVEL_LABELS = {"township": "乡镇", "county": "县级", "city": "市级", "province": "省级"}
# where escalation stops: the county's and the city's worklists (township → county → city)
ESCALATION_LEVELS = ("county", "city")


def item_key(kind: str, ident: int, month: date | None = None) -> str:
    if kind == "duty_month":
        return f"duty_month:{ident}:{month:%Y-%m}"
    return f"{kind}:{ident}"


class _Item:
    """The columns naming the item, shared by both tables."""

    item_kind: Mapped[str] = mapped_column(String(12))
    item_key: Mapped[str] = mapped_column(String(40), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("support_record.id"), index=True)
    posting_id: Mapped[int | None] = mapped_column(ForeignKey("posting.id"), index=True)
    month: Mapped[date | None] = mapped_column(Date)
    result_id: Mapped[int | None] = mapped_column(ForeignKey("village_result.id"), index=True)
    # where the item is and who must act on it (a record's or a posting's unit; none for a result)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)


class ChaseUp(Audited, _Item, db.Model):
    """催办: who chased which item, when, at which level, with what note."""

    __tablename__ = "chase_up"
    __audit_region__ = "village_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(10))  # the chaser's level (LEVELS)
    note: Mapped[str] = mapped_column(Text)
    chased_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    chased_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    chased_by: Mapped[User] = relationship(lazy="joined")

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)

    @property
    def chaser_name(self) -> str:
        return self.chased_by.display_name or self.chased_by.username


class Escalation(Audited, _Item, db.Model):
    """督办升级: a chased item still untouched after the settings' period moved up to
    ``level``'s worklist. ``due_on`` is the day it fell due (the next period counts from
    it); ``escalated_at`` when ``flask chase escalate`` wrote it."""

    __tablename__ = "chase_escalation"
    __audit_region__ = "village_code"
    __audit_organization__ = "organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[str] = mapped_column(String(10))  # ESCALATION_LEVELS
    due_on: Mapped[date] = mapped_column(Date)
    escalated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("item_key", "level", name="uq_chase_escalation_item_level"),
        Index("ix_chase_escalation_level_village", "level", "village_code"),
    )

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.level, self.level)


__all__ = ["ChaseUp", "ESCALATION_LEVELS", "Escalation", "ITEM_KINDS", "LEVELS", "LEVEL_LABELS", "item_key"]
