"""What the records pages and home panels read: the lists with their filters and sort
orders, a village's inbox, the overdue records and a record's history. Every query goes
through ``scoped``: a user sees only the records in their jurisdiction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, func, literal_column, or_, select
from sqlalchemy.orm import selectinload

from ..accounts.models import User
from ..audit.labels import actor_name
from ..audit.models import AuditEvent
from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES
from ..core.paging import Key, order_by
from ..core.parsing import to_id
from ..core.scope import scoped
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region
from .models import SupportRecord
from .rules import ACTION_LABELS

# The lists' sort orders, each ending in the id so that a page can continue after a row
# (core.paging); the pages page with the same keys the queries sort by.
RECORD_ORDER = (Key(SupportRecord.record_date, descending=True), Key(SupportRecord.id, descending=True))
PENDING_ORDER = (Key(SupportRecord.submitted_at), Key(SupportRecord.id))


@dataclass
class RecordFilters:
    status: str = ""
    category: str = ""
    village_code: str = ""
    organization_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args) -> RecordFilters:
        def _day(name):
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:
                return None

        return cls(
            status=args.get("status", "").strip() if args.get("status", "").strip() in RECORD_STATUSES else "",
            category=args.get("category", "").strip() if args.get("category", "").strip() in RECORD_CATEGORIES else "",
            village_code=args.get("village_code", "").strip()[:12],
            organization_id=to_id(args.get("organization_id", "")),  # this list ignores a filter it cannot use
            date_from=_day("date_from"),
            date_to=_day("date_to"),
            q=args.get("q", "").strip()[:50],
        )


def record_list(user, filters: RecordFilters | None = None) -> Select:
    """The records ``user`` may see, filtered, newest first."""
    f = filters or RecordFilters()
    stmt = scoped(select(SupportRecord), SupportRecord, user)
    if f.status:
        stmt = stmt.where(SupportRecord.status == f.status)
    if f.category:
        stmt = stmt.where(SupportRecord.category == f.category)
    if f.village_code:
        stmt = stmt.where(SupportRecord.village_code == f.village_code)
    if f.organization_id:
        stmt = stmt.where(SupportRecord.organization_id == f.organization_id)
    if f.date_from:
        stmt = stmt.where(SupportRecord.record_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(SupportRecord.record_date <= f.date_to)
    if f.q:
        # the title, or the 编号 (the filer's own reference, as imports and exports write it)
        stmt = stmt.where(or_(SupportRecord.title.contains(f.q, autoescape=True),
                              SupportRecord.reference.contains(f.q, autoescape=True)))
    return stmt.order_by(*order_by(RECORD_ORDER))


def inbox(user, *, with_evidence: bool = False) -> Select:
    """A village's records awaiting its confirmation, oldest first (``with_evidence``:
    their evidence rows loaded with them, for a page that shows every card's files)."""
    stmt = scoped(
        select(SupportRecord).where(SupportRecord.status == "submitted", SupportRecord.village_code == user.village_code),
        SupportRecord, user,
    ).order_by(*order_by(PENDING_ORDER))
    return stmt.options(selectinload(SupportRecord.evidence)) if with_evidence else stmt


def inbox_count(user) -> int:
    if getattr(user, "role", None) != "village" or not user.village_code:
        return 0
    return db.session.scalar(select(func.count()).select_from(inbox(user).order_by(None).subquery())) or 0


def overdue_cutoff(days: int | None = None) -> datetime:
    """When a record submitted before it becomes overdue: ``days`` (by default the setting
    REGISTRY_CONFIRMATION_OVERDUE_DAYS) before now. The one definition of "overdue"."""
    if days is None:
        days = current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
    return utcnow() - timedelta(days=int(days))


def overdue(user, region: Region | None = None, *, category: str = "", min_days: int | None = None) -> Select:
    """Records submitted more than the overdue days ago (or ``min_days``, if more) and
    neither confirmed nor disputed, within the user's jurisdiction (and ``region``, of
    ``category``), oldest first."""
    days = current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
    # a literal status, so SQLite counts within the partial index ix_support_record_pending
    stmt = select(SupportRecord).where(SupportRecord.status == literal_column("'submitted'"),
                                       SupportRecord.submitted_at < overdue_cutoff(max(int(days), min_days or 0)))
    if region is not None:
        stmt = stmt.where(region.within(SupportRecord.village_code))
    if category:
        stmt = stmt.where(SupportRecord.category == category)
    return scoped(stmt, SupportRecord, user).order_by(*order_by(PENDING_ORDER))


def superseded_by(record: SupportRecord) -> SupportRecord | None:
    """The confirmed correction that replaced ``record`` (if it is superseded)."""
    return db.session.scalar(
        select(SupportRecord).where(SupportRecord.supersedes_id == record.id, SupportRecord.status == "confirmed")
    )



def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def days_pending(record: SupportRecord) -> int:
    if record.submitted_at is None:
        return 0
    return (utcnow() - record.submitted_at).days


def own_records(user, status: str) -> Select:
    """A unit's records in one status, most recently changed first."""
    return scoped(select(SupportRecord).where(SupportRecord.status == status), SupportRecord, user).order_by(
        SupportRecord.updated_at.desc(), SupportRecord.id.desc()
    )


@dataclass
class HistoryEntry:
    at: object
    actor: str
    action: str
    summary: str


def history(record: SupportRecord, user) -> list[HistoryEntry]:
    """The record's audit events (who did what, when), oldest first."""
    rows = db.session.execute(
        scoped(
            select(AuditEvent, User.display_name)
            .outerjoin(User, User.id == AuditEvent.actor_id)
            .where(AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id == str(record.id)),
            AuditEvent, user,
        ).order_by(AuditEvent.id)
    ).all()
    out = []
    for event, display_name in rows:
        out.append(HistoryEntry(event.at, actor_name(event.actor, display_name), ACTION_LABELS.get(event.action, event.action), event.summary))
    return out
