"""Notifications (通知), the e-mail outbox, each user's choices, and the marks that keep the
daily scan from telling anyone twice."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.timeutil import utcnow
from ..extensions import db

# how a user wants one kind of notification (NotificationPreference.mode)
MODES = {"app": "仅站内", "email": "站内和邮件", "digest": "站内和每日汇总邮件"}
DEFAULT_MODE = "app"

# Notification.email_state: whether (and how) it goes out by e-mail
EMAIL_NONE, EMAIL_QUEUED, EMAIL_DIGEST, EMAIL_DIGESTED = "none", "queued", "digest", "digested"

# OutboundEmail.status
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
EMAIL_STATUSES = {QUEUED: "待发送", SENDING: "发送中", SENT: "已发送", FAILED: "发送失败"}


class Notification(db.Model):
    """One thing one user is told. The bell counts the unread ones (``read_at`` empty)
    through the index on (user_id, read_at)."""

    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(500))  # a path on this site: the item it is about
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    email_state: Mapped[str] = mapped_column(String(10), default=EMAIL_NONE)

    __table_args__ = (
        Index("ix_notification_user_read", "user_id", "read_at"),
        Index("ix_notification_user_created", "user_id", "created_at"),
        Index("ix_notification_email_state", "email_state", "user_id"),
    )

    @property
    def kind_label(self) -> str:
        from .kinds import KINDS

        return KINDS.get(self.kind, self.kind)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(db.Model):
    """A user's choice for one kind; a kind without a row is ``DEFAULT_MODE``."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), default=DEFAULT_MODE)


class NotificationProfile(db.Model):
    """Where a user's notification e-mails go, and the day their last digest went out."""

    __tablename__ = "notification_profile"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254))
    digest_on: Mapped[date | None] = mapped_column(Date)


class OutboundEmail(db.Model):
    """An e-mail waiting for ``flask notify deliver``: requests only insert these rows.
    A failed attempt is tried again after an exponentially growing pause; after the last
    attempt it stays ``failed`` for the administrator to see (and send again)."""

    __tablename__ = "email_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_email_outbox_status_next", "status", "next_attempt_at"),
                      # the administrators' outbox list, newest first, of all or of one status
                      Index("ix_email_outbox_created", "created_at", "id"),
                      Index("ix_email_outbox_status_created", "status", "created_at", "id"))

    @property
    def status_label(self) -> str:
        return EMAIL_STATUSES.get(self.status, self.status)


class NotificationTrigger(db.Model):
    """An item the daily scan has told about for a reason (``posting_ending`` of posting
    7 ending on 2027-03-01): the same pair never notifies again."""

    __tablename__ = "notification_trigger"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(30))
    item_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("reason", "item_key", name="uq_notification_trigger_reason_item"),)
