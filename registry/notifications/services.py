"""Writing notifications (``notify``), reading them (each user their own only), marking
them read, and each user's choices (``save_preferences``)."""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from flask import abort, current_app, has_request_context, url_for
from sqlalchemy import Select, bindparam, func, select, update

from ..accounts.models import User
from ..core.paging import Key, order_by
from ..core.parsing import to_id
from ..core.queries import column_rows
from ..core.rules import RuleViolation
from ..core.timeutil import utcnow
from ..extensions import db
from .kinds import KINDS
from .recipients import Accounts
from .models import (
    DEFAULT_MODE,
    EMAIL_DIGEST,
    EMAIL_NONE,
    EMAIL_QUEUED,
    MODES,
    Notification,
    NotificationPreference,
    NotificationProfile,
    OutboundEmail,
)

TITLE_MAX = 200
EMAIL_MAX = 254
# one address, plainly: local part, @, a domain with a dot; no spaces, commas or angle brackets
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


def email_enabled() -> bool:
    """Whether this deployment sends e-mail at all (an SMTP host is set)."""
    return bool(str(current_app.config.get("REGISTRY_SMTP_HOST") or "").strip())


def link_for(endpoint: str, **values) -> str:
    """The path of a page, inside a request or outside one (the CLI's scan)."""
    if has_request_context():
        return url_for(endpoint, **values)
    with current_app.test_request_context():
        return url_for(endpoint, **values)


def absolute(link: str | None) -> str:
    """A link as an e-mail shows it: with the site's address when it is set."""
    if not link:
        return ""
    base = str(current_app.config.get("REGISTRY_SITE_URL") or "").rstrip("/")
    return base + link


def _user_id(user) -> int | None:
    return user if isinstance(user, int) else getattr(user, "id", None)


def _recipients(among, kind: str) -> list[tuple[int, str, str | None]]:
    """(id, mode for ``kind``, e-mail address) of the active accounts ``among`` (a
    condition on ``User.id``) picks: one query."""
    rows = column_rows(
        select(User.id, NotificationPreference.mode, NotificationProfile.email)
        .outerjoin(NotificationPreference, (NotificationPreference.user_id == User.id) & (NotificationPreference.kind == kind))
        .outerjoin(NotificationProfile, NotificationProfile.user_id == User.id)
        .where(among, User.active.is_(True)).order_by(User.id))
    return [(uid, mode or DEFAULT_MODE, email or None) for uid, mode, email in rows]


@functools.cache
def _accounts_statement(column: str):
    """``_recipients`` of ``recipients.Accounts`` (role, ``User.<column>`` value, less the
    account ``skip``), built once per column: every record submitted or decided tells
    some, and building the statement and its cache key cost more than running it."""
    return (select(User.id, NotificationPreference.mode, NotificationProfile.email)
            .outerjoin(NotificationPreference, (NotificationPreference.user_id == User.id)
                       & (NotificationPreference.kind == bindparam("kind")))
            .outerjoin(NotificationProfile, NotificationProfile.user_id == User.id)
            .where(User.role == bindparam("role"), getattr(User, column) == bindparam("value"),
                   User.id != bindparam("skip"), User.active.is_(True))
            .order_by(User.id))


def email_text(title: str, body: str, link: str | None) -> str:
    lines = [title, ""]
    if body:
        lines += [body, ""]
    if link:
        lines += [f"查看：{absolute(link)}", ""]
    lines += ["——", "帮扶力量登记系统（本邮件由系统自动发送，请勿回复）",
              "如需改为仅站内通知或每日汇总，请登录系统，在“我的账号 → 通知设置”中修改。"]
    return "\n".join(lines)


def queue_email(user_id: int | None, address: str, subject: str, body: str) -> OutboundEmail:
    email = OutboundEmail(user_id=user_id, to_address=address, subject=subject[:TITLE_MAX], body=body,
                          status="queued", attempts=0, next_attempt_at=utcnow())
    db.session.add(email)
    return email


class Found(tuple):
    """Recipients of one kind of notification already read (``recipients_for``): (user
    id, how they want to be told of it, their address) each, for ``notify`` to write to
    without reading them again."""


def recipients_for(kind: str, users: Iterable | Select | Accounts, *, actor=None) -> Found:
    """Who of ``users`` is told of ``kind`` (not ``actor``), with their settings: the read
    ``notify`` makes, for a caller that reads before it writes (a write that takes the
    write lock at its first statement reads them before it)."""
    if isinstance(users, Found):
        return users
    skip = _user_id(actor)
    if isinstance(users, Accounts):  # one role's accounts (``recipients.village_accounts``): a statement built once
        rows = column_rows(_accounts_statement(users.column), {
            "kind": kind, "role": users.role, "value": users.value, "skip": -1 if skip is None else skip})
        return Found((uid, mode or DEFAULT_MODE, email or None) for uid, mode, email in rows)
    if isinstance(users, Select):  # a query of accounts: read with their settings
        return Found(_recipients(User.id.in_(users) if skip is None else (User.id.in_(users) & (User.id != skip)), kind))
    ids = list(dict.fromkeys(uid for uid in (_user_id(u) for u in users) if uid is not None and uid != skip))
    return Found(_recipients(User.id.in_(ids), kind) if ids else ())


def notify(kind: str, users: Iterable | Select | Accounts | Found, *, title: str, body: str = "",
           link: str | None = None, actor=None) -> list[Notification]:
    """Tell ``users`` of something (see the package's docstring). Adds rows to the caller's
    transaction; the caller commits. Returns the notifications written. ``users`` may be
    ``recipients_for``'s answer, read earlier."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    found = recipients_for(kind, users, actor=actor)
    emailing = email_enabled()
    title = title[:TITLE_MAX]
    made = []
    now = utcnow()
    for uid, mode, address in found:
        state = EMAIL_NONE
        if emailing and address and mode == "email":
            queue_email(uid, address, f"【帮扶力量登记系统】{title}", email_text(title, body, link))
            state = EMAIL_QUEUED
        elif emailing and address and mode == "digest":
            state = EMAIL_DIGEST
        note = Notification(user_id=uid, kind=kind, title=title, body=body or "", link=link, created_at=now,
                            email_state=state)
        db.session.add(note)
        made.append(note)
    return made


# -- reading: a user's own, and nobody else's ---------------------------------------------------


def own(user) -> Select:
    return select(Notification).where(Notification.user_id == user.id)


# newest first (ix_notification_user_created)
NOTIFICATION_ORDER = (Key(Notification.created_at, descending=True), Key(Notification.id, descending=True))


def notifications_for(user, *, kind: str = "", state: str = "") -> Select:
    """The user's notifications, newest first, by kind and read state (``unread``/``read``)."""
    stmt = own(user)
    if kind in KINDS:
        stmt = stmt.where(Notification.kind == kind)
    if state == "unread":
        stmt = stmt.where(Notification.read_at.is_(None))
    elif state == "read":
        stmt = stmt.where(Notification.read_at.is_not(None))
    return stmt.order_by(*order_by(NOTIFICATION_ORDER))


def unread_count(user) -> int:
    """The bell's number: one count on the (user_id, read_at) index."""
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def own_or_404(user, notification_id) -> Notification:
    """The user's own notification; another's (an administrator asking too) is a 404."""
    ident = to_id(notification_id)
    found = None if ident is None else db.session.scalar(own(user).where(Notification.id == ident))
    if found is None:
        abort(404)
    return found


def mark_read(note: Notification) -> None:
    if note.read_at is None:
        note.read_at = utcnow()
    db.session.commit()


def mark_all_read(user, kind: str = "") -> int:
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if kind in KINDS:
        stmt = stmt.where(Notification.kind == kind)
    done = db.session.execute(stmt.values(read_at=utcnow())).rowcount
    db.session.commit()
    return done or 0


# -- preferences ------------------------------------------------------------------------------


def preferences(user) -> tuple[str, dict[str, str]]:
    """The user's e-mail address ("" if none) and mode for every kind."""
    profile = db.session.get(NotificationProfile, user.id)
    stored = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.mode).where(
        NotificationPreference.user_id == user.id)).all())
    return (profile.email or "") if profile else "", {kind: stored.get(kind, DEFAULT_MODE) for kind in KINDS}


def clean_email(value) -> str | None:
    text = str(value or "").strip()
    if not text:
        return None
    if len(text) > EMAIL_MAX or not EMAIL_RE.match(text):
        raise RuleViolation("请填写正确的电子邮箱地址，如 name@example.gov.cn", "email")
    return text


def save_preferences(user, email, modes: dict[str, str]) -> None:
    """Save the address and the mode of each kind; a kind left out keeps its mode. Any
    e-mail mode needs an address. Nothing is written when anything is wrong."""
    address = clean_email(email)
    current = preferences(user)[1]
    chosen = dict(current)
    for kind, mode in modes.items():
        if kind not in KINDS:
            raise RuleViolation(f"未知的通知类别：{kind}", "")
        if mode not in MODES:
            raise RuleViolation(f"“{KINDS[kind]}”的接收方式只能是：{'、'.join(MODES.values())}", f"mode_{kind}")
        chosen[kind] = mode
    if address is None and any(mode != "app" for mode in chosen.values()):
        raise RuleViolation("选择邮件或每日汇总时，请填写接收通知的电子邮箱", "email")
    profile = db.session.get(NotificationProfile, user.id)
    if profile is None:
        profile = NotificationProfile(user_id=user.id)
        db.session.add(profile)
    profile.email = address
    rows = {p.kind: p for p in db.session.scalars(select(NotificationPreference).where(
        NotificationPreference.user_id == user.id))}
    for kind, mode in chosen.items():
        if kind in rows:
            rows[kind].mode = mode
        elif mode != DEFAULT_MODE:
            db.session.add(NotificationPreference(user_id=user.id, kind=kind, mode=mode))
    db.session.commit()
