"""Login sessions kept on the server.

A login starts a ``LoginSession`` row and puts a new random key in the (signed) session
cookie; only the key's digest is stored. Every request looks the key up
(``user_for_session``, Flask-Login's user loader), so ending a session in the database
ends it at once on every worker and host: logout, a password change or reset, disabling
the account, an administrator's 结束全部会话, or the user ending one of their own sessions
on the account page. A session also ends when it has been idle for
``REGISTRY_SESSION_IDLE_MINUTES`` or is older than ``REGISTRY_SESSION_MAX_HOURS``.

``last_seen_at`` is written at most once every ``TOUCH_EVERY``, not on every request, so
the idle limit is kept to within that much.
"""
from __future__ import annotations

import functools
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from ..core.crypto import secret_digest
from ..core.database import writing
from ..core.timeutil import utcnow
from ..extensions import db
from .models import LoginSession, User

log = logging.getLogger(__name__)

TOUCH_EVERY = timedelta(minutes=1)
# ended or abandoned sessions are removed from the table after this long (at the user's next login)
KEEP_ENDED = timedelta(days=90)

ENDED_REASONS = {
    "logout": "退出登录",
    "ended": "本人结束",
    "password_change": "修改密码",
    "password_reset": "重置密码",
    "disabled": "账号停用",
    "ended_by_admin": "管理员结束",
    "idle": "长时间未操作",
    "expired": "超过最长登录时限",
}


key_digest = secret_digest  # what the login_session row keeps of the cookie's key


def _limits() -> tuple[timedelta, timedelta]:
    cfg = current_app.config
    return (timedelta(minutes=int(cfg["REGISTRY_SESSION_IDLE_MINUTES"])),
            timedelta(hours=int(cfg["REGISTRY_SESSION_MAX_HOURS"])))


def expiry_reason(row, now: datetime) -> str | None:
    """Why the login session ``row`` (its ``created_at`` and ``last_seen_at``) has run out
    by ``now`` ("expired", "idle"), or None while it is live."""
    idle, longest = _limits()
    if now - row.created_at >= longest:
        return "expired"
    if now - row.last_seen_at >= idle:
        return "idle"
    return None


def start_session(user: User, *, address: str = "", user_agent: str = "") -> str:
    """Open a login session for ``user``, who has just proved who they are; return the
    key the cookie is to carry (new at every login). Commits."""
    now = utcnow()
    db.session.execute(
        delete(LoginSession).where(
            LoginSession.user_id == user.id,
            or_(LoginSession.ended_at < now - KEEP_ENDED, LoginSession.last_seen_at < now - KEEP_ENDED),
        )
    )
    key = secrets.token_urlsafe(32)
    db.session.add(LoginSession(user_id=user.id, key_digest=key_digest(key), created_at=now, last_seen_at=now,
                                address=(address or "")[:45], user_agent=(user_agent or "")[:200]))
    db.session.commit()
    return key


def write_now(stmt) -> None:
    """Run a small UPDATE from inside any request (a GET's read transaction included)
    and commit it. A failure (the database busy) is logged and let pass: it only delays
    a ``last_seen_at`` or the marking of a session that is refused anyway."""
    try:
        with writing():
            db.session.execute(stmt)
            db.session.commit()
    except OperationalError:
        db.session.rollback()
        log.warning("could not update a login session", exc_info=True)


def user_for_session(key) -> User | None:
    """The user of the live session ``key``, or None (unknown, ended, run out, account
    disabled). Ends a session found run out; notes the visit at most once a minute."""
    if not key or not isinstance(key, str):
        return None
    row = db.session.execute(_session_and_user(), {"digest": key_digest(key)}).first()
    if row is None:
        return None
    user = row.User
    if row.ended_at is not None or not user.active:
        return None
    now = utcnow()
    reason = expiry_reason(row, now)
    if reason is not None:
        write_now(_end_where(LoginSession.id == row.id, reason, now))
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        write_now(update(LoginSession).where(LoginSession.id == row.id, LoginSession.ended_at.is_(None))
                   .values(last_seen_at=now))
    user.session_key = key
    return user


@functools.cache
def _session_and_user():
    """The live-session look-up every request makes: built once (building a statement
    and its cache key costs more than running it). The session's columns the check
    reads, not the row as an object: nothing of it is kept past the request."""
    return (select(LoginSession.id, LoginSession.created_at, LoginSession.last_seen_at, LoginSession.ended_at, User)
            .join(User, User.id == LoginSession.user_id)
            .where(LoginSession.key_digest == bindparam("digest")))


def _end_where(condition, reason: str, now: datetime | None = None):
    return (update(LoginSession).where(condition, LoginSession.ended_at.is_(None))
            .values(ended_at=now or utcnow(), ended_reason=reason))


def end_session_by_key(key, reason: str = "logout") -> None:
    """End the session ``key`` names (logout). Commits."""
    if key and isinstance(key, str):
        db.session.execute(_end_where(LoginSession.key_digest == key_digest(key), reason))
        db.session.commit()


def end_session(row: LoginSession, reason: str = "ended") -> None:
    """End one session (the user's 结束 on the account page). Commits."""
    db.session.execute(_end_where(LoginSession.id == row.id, reason))
    db.session.commit()


def end_all_sessions(user: User, reason: str) -> int:
    """End every session of ``user`` at once (password change, disable, 结束全部会话);
    return how many were open. The caller commits."""
    result = db.session.execute(_end_where(LoginSession.user_id == user.id, reason))
    return result.rowcount or 0


def active_sessions(user: User) -> list[LoginSession]:
    """The user's sessions that are live now, the most recently used first."""
    now = utcnow()
    idle, longest = _limits()
    return list(db.session.scalars(
        select(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None),
               LoginSession.created_at > now - longest, LoginSession.last_seen_at > now - idle)
        .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc())
    ))


def own_session_or_404(user: User, session_id: int) -> LoginSession:
    """One of ``user``'s own sessions; anyone else's (an administrator's included) is 404."""
    from flask import abort

    row = db.session.scalar(select(LoginSession).where(LoginSession.id == session_id,
                                                       LoginSession.user_id == user.id))
    if row is None:
        abort(404)
    return row
