"""Sending the outbox through the deployment's SMTP server (``flask notify deliver``).

Requests never send: they insert ``OutboundEmail`` rows. A delivery pass first gathers the
daily digests that are due, then claims the rows whose time has come, sends each, and
records the outcome: sent; or, on failure, another attempt after
``REGISTRY_EMAIL_RETRY_SECONDS`` × 2^(attempts-1) seconds, until ``REGISTRY_EMAIL_MAX_ATTEMPTS``
makes it ``failed`` (the administrators' page 通知邮件发送情况 shows those, and may send them again).

A row is claimed by a conditional update (status and the time it was due), so two workers
never send the same e-mail; a worker that dies while sending leaves the row ``sending``
with a lease of ``LEASE_SECONDS``, after which another worker takes it up again.
"""
from __future__ import annotations

import smtplib
import ssl
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from flask import current_app
from sqlalchemy import Select, func, or_, select, update

from ..core.paging import Key, order_by
from ..core.timeutil import LOCAL_TZ, utcnow
from ..extensions import db
from .kinds import KINDS
from .models import (
    EMAIL_DIGEST,
    EMAIL_DIGESTED,
    FAILED,
    QUEUED,
    SENDING,
    SENT,
    Notification,
    NotificationProfile,
    OutboundEmail,
)
from .services import absolute, queue_email

TLS_MODES = {"starttls": "STARTTLS", "ssl": "SSL/TLS", "none": "不加密"}
LEASE_SECONDS = 600
BATCH = 50
ERROR_MAX = 1000


class SmtpSettingsError(Exception):
    """The SMTP settings cannot work (the message says which, in Chinese)."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    tls: str
    user: str
    password: str
    sender: str
    timeout: int


def smtp_settings(config=None) -> SmtpSettings | None:
    """The SMTP settings, or None when no host is set (nothing is sent)."""
    cfg = config if config is not None else current_app.config
    host = str(cfg.get("REGISTRY_SMTP_HOST") or "").strip()
    if not host:
        return None
    tls = str(cfg.get("REGISTRY_SMTP_TLS") or "").strip().lower()
    if tls not in TLS_MODES:
        raise SmtpSettingsError(f"REGISTRY_SMTP_TLS 只能是 starttls、ssl 或 none（现为“{tls}”）")
    try:
        port = int(cfg.get("REGISTRY_SMTP_PORT"))
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise SmtpSettingsError("REGISTRY_SMTP_PORT 须为 1—65535 的端口号")
    user = str(cfg.get("REGISTRY_SMTP_USER") or "").strip()
    sender = str(cfg.get("REGISTRY_SMTP_SENDER") or "").strip() or user
    if "@" not in parseaddr(sender)[1]:
        raise SmtpSettingsError("请设置 REGISTRY_SMTP_SENDER（发件人邮箱地址）")
    return SmtpSettings(host=host, port=port, tls=tls, user=user, password=str(cfg.get("REGISTRY_SMTP_PASSWORD") or ""),
                        sender=sender, timeout=int(cfg.get("REGISTRY_SMTP_TIMEOUT_SECONDS") or 30))


def settings_status() -> tuple[bool, str]:
    """For the settings page: (sending works, what to say)."""
    try:
        settings = smtp_settings()
    except SmtpSettingsError as error:
        return False, f"设置有误，不发送邮件：{error}"
    if settings is None:
        return False, "未设置 SMTP 服务器（REGISTRY_SMTP_HOST），不发送任何邮件，通知只在站内显示。"
    login = f"，以 {settings.user} 登录" if settings.user else "，不登录"
    secret = "（已设置密码）" if settings.password else ""
    return True, (f"通过 {settings.host}:{settings.port}（{TLS_MODES[settings.tls]}）发送{login}{secret}，"
                  f"发件人 {settings.sender}。")


def build_message(settings: SmtpSettings, email: OutboundEmail) -> EmailMessage:
    message = EmailMessage()
    name, address = parseaddr(settings.sender)
    message["From"] = str(Address(display_name=name or "帮扶力量登记系统", addr_spec=address))
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or None)
    message.set_content(email.body)
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message; any failure raises (smtplib's or the socket's error)."""
    context = ssl.create_default_context()
    if settings.tls == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.tls == "starttls":
            client.starttls(context=context)
        if settings.user:
            client.login(settings.user, settings.password)
        client.send_message(message)


def backoff(attempts: int) -> timedelta:
    """The pause before the next attempt, after ``attempts`` failed ones: base × 2^(n-1)."""
    base = int(current_app.config.get("REGISTRY_EMAIL_RETRY_SECONDS") or 60)
    return timedelta(seconds=base * 2 ** max(attempts - 1, 0))


def _claim(now: datetime) -> list[OutboundEmail]:
    """The due rows, each taken by a conditional update so no other worker sends it too."""
    due = db.session.execute(select(OutboundEmail.id, OutboundEmail.next_attempt_at).where(
        OutboundEmail.status.in_((QUEUED, SENDING)), OutboundEmail.next_attempt_at <= now,
    ).order_by(OutboundEmail.next_attempt_at, OutboundEmail.id).limit(BATCH)).all()
    claimed = []
    lease = now + timedelta(seconds=LEASE_SECONDS)
    for ident, due_at in due:
        taken = db.session.execute(update(OutboundEmail).where(
            OutboundEmail.id == ident, OutboundEmail.status.in_((QUEUED, SENDING)),
            OutboundEmail.next_attempt_at == due_at).values(status=SENDING, next_attempt_at=lease)).rowcount
        db.session.commit()
        if taken:
            claimed.append(ident)
    return [db.session.get(OutboundEmail, ident) for ident in claimed]


def _record(email: OutboundEmail, error: Exception | None, now: datetime) -> None:
    email.attempts += 1
    if error is None:
        email.status, email.sent_at, email.last_error = SENT, now, None
    else:
        email.last_error = f"{type(error).__name__}: {error}"[:ERROR_MAX]
        limit = int(current_app.config.get("REGISTRY_EMAIL_MAX_ATTEMPTS") or 1)
        if email.attempts >= limit:
            email.status = FAILED
        else:
            email.status, email.next_attempt_at = QUEUED, now + backoff(email.attempts)
    db.session.commit()


@dataclass
class PassResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    digests: int = 0
    skipped: str = ""  # why nothing was sent (no host, bad settings)


def deliver_once(now: datetime | None = None) -> PassResult:
    """One pass: queue the due digests, then send what is due."""
    result = PassResult()
    try:
        settings = smtp_settings()
    except SmtpSettingsError as error:
        result.skipped = f"SMTP 设置有误，未发送：{error}"
        return result
    if settings is None:
        result.skipped = "未设置 SMTP 服务器（REGISTRY_SMTP_HOST），未发送任何邮件"
        return result
    now = now or utcnow()
    result.digests = queue_digests(now)
    for email in _claim(now):
        try:
            send(settings, build_message(settings, email))
            error = None
        except Exception as failure:  # noqa: BLE001 — any failure is recorded and retried
            error = failure
        _record(email, error, utcnow() if now is None else now)
        if error is None:
            result.sent += 1
        elif email.status == FAILED:
            result.failed += 1
        else:
            result.retried += 1
    return result


def deliver(*, loop: bool = False, poll: float = 30.0, echo=None, daily=None) -> PassResult:
    """``deliver_once``, or with ``loop`` every ``poll`` seconds until stopped; ``daily``
    (with ``loop``) is called at the first pass of each day in Hunan (the daily scan and
    escalation, so that ``make run`` needs no cron)."""
    from ..core.timeutil import local_today

    total = PassResult()
    last_day = None
    while True:
        try:
            if loop and daily is not None and local_today() != last_day:
                daily()
                last_day = local_today()
            result = deliver_once()
        except Exception:  # noqa: BLE001 — the loop outlives a database hiccup; one pass raises
            if not loop:
                raise
            db.session.rollback()
            current_app.logger.exception("notification delivery pass failed; trying again in %s s", poll)
            result = PassResult()
        db.session.remove()
        for name in ("sent", "retried", "failed", "digests"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        total.skipped = result.skipped
        if echo is not None and (result.sent or result.retried or result.failed or result.digests):
            echo(summary(result))
        if not loop:
            return total
        time.sleep(poll)


def summary(result: PassResult) -> str:
    text = f"已发送 {result.sent} 封，待重试 {result.retried} 封，发送失败 {result.failed} 封，生成每日汇总 {result.digests} 封"
    return f"{result.skipped}；{text}" if result.skipped else text


# -- the daily digest ----------------------------------------------------------------------------


def queue_digests(now: datetime) -> int:
    """Once a local day, after ``REGISTRY_DIGEST_HOUR``: for each user with notifications
    waiting for the digest, one e-mail gathering them by kind. The day is claimed per user
    by a conditional update, so two workers never send two digests."""
    local = now.replace(tzinfo=timezone.utc).astimezone(LOCAL_TZ)
    if local.hour < int(current_app.config.get("REGISTRY_DIGEST_HOUR") or 0):
        return 0
    today = local.date()
    waiting = list(db.session.scalars(select(Notification.user_id).where(
        Notification.email_state == EMAIL_DIGEST).distinct()))
    made = 0
    for user_id in waiting:
        profile = db.session.get(NotificationProfile, user_id)
        if profile is None or not profile.email:
            continue
        claimed = db.session.execute(update(NotificationProfile).where(
            NotificationProfile.user_id == user_id,
            or_(NotificationProfile.digest_on.is_(None), NotificationProfile.digest_on < today),
        ).values(digest_on=today)).rowcount
        if not claimed:
            db.session.rollback()
            continue
        items = list(db.session.scalars(select(Notification).where(
            Notification.user_id == user_id, Notification.email_state == EMAIL_DIGEST,
        ).order_by(Notification.kind, Notification.created_at, Notification.id)))
        if not items:
            db.session.rollback()
            continue
        queue_email(user_id, profile.email, f"【帮扶力量登记系统】每日通知汇总（{today.month}月{today.day}日，{len(items)} 条）",
                    digest_text(items, today))
        for item in items:
            item.email_state = EMAIL_DIGESTED
        db.session.commit()
        made += 1
    return made


def digest_text(items: list[Notification], today) -> str:
    groups: dict[str, list[Notification]] = defaultdict(list)
    for item in items:
        groups[item.kind].append(item)
    lines = [f"{today.year}年{today.month}月{today.day}日 通知汇总，共 {len(items)} 条：", ""]
    for kind in [k for k in KINDS if k in groups] + [k for k in groups if k not in KINDS]:
        lines.append(f"【{KINDS.get(kind, kind)}】{len(groups[kind])} 条")
        for item in groups[kind]:
            lines.append(f"- {item.title}" + (f"  {absolute(item.link)}" if item.link else ""))
            if item.body:
                lines.append(f"  {item.body}")
        lines.append("")
    lines += ["——", "帮扶力量登记系统（本邮件由系统自动发送，请勿回复）",
              "如需改为逐条邮件或仅站内通知，请登录系统，在“我的账号 → 通知设置”中修改。"]
    return "\n".join(lines)


# -- what the administrator sees and does ---------------------------------------------------------


# newest first (ix_email_outbox_created, by status ix_email_outbox_status_created)
OUTBOX_ORDER = (Key(OutboundEmail.created_at, descending=True), Key(OutboundEmail.id, descending=True))


def outbox(status: str = "") -> Select:
    stmt = select(OutboundEmail)
    if status:
        stmt = stmt.where(OutboundEmail.status == status)
    return stmt.order_by(*order_by(OUTBOX_ORDER))


def outbox_counts() -> dict[str, int]:
    rows = db.session.execute(select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)).all()
    return {status: count for status, count in rows}


def retry_failed(email: OutboundEmail) -> None:
    """Send a failed e-mail again: its attempts start over."""
    from ..core.rules import RuleViolation

    if email.status != FAILED:
        raise RuleViolation("只有发送失败的邮件可以重新发送", "")
    email.status, email.attempts, email.next_attempt_at = QUEUED, 0, utcnow()
    db.session.commit()


__all__ = ["deliver", "deliver_once", "queue_digests", "smtp_settings", "settings_status", "retry_failed", "outbox",
           "outbox_counts", "backoff"]
