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
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import OperationalError

from ..core.crypto import secret_digest
from ..core.database import writing
from ..core.timeutil import utcnow
from ..extensions import db
from .models import USER_AGENT_LENGTH, LoginSession, User

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


# What a login session's browser string is called on the account pages: the app or browser
# and the system, as a user knows them (微信 · Android, 360浏览器 · Windows), so that a login
# from a device they do not own stands out. The apps a village or a county office signs in
# from come first: their strings also hold the Chrome or Safari they are built on. The
# libraries tried do not do this job: ua-parser (1.0.2) names none of WeChat, WeCom,
# DingTalk or 360; matomo's device-detector (6.5.1) names them all but takes 0.06-4 s a
# string; ua-parser-py (1.0.37, unmaintained) takes WeCom for WeChat and misses DingTalk.
_APPS = (
    ("wxwork/", "企业微信"), ("MicroMessenger/", "微信"), ("DingTalk/", "钉钉"), ("Lark/", "飞书"),
    ("QIHU 360", "360浏览器"), ("360SE", "360浏览器"), ("360EE", "360浏览器"), ("QQBrowser/", "QQ浏览器"),
    (" QQ/", "QQ"), ("UCBrowser/", "UC浏览器"), ("Quark/", "夸克浏览器"), ("HuaweiBrowser/", "华为浏览器"),
    ("MiuiBrowser/", "小米浏览器"), ("HeyTapBrowser/", "OPPO浏览器"), ("VivoBrowser/", "vivo浏览器"),
    ("SogouMobileBrowser/", "搜狗浏览器"), ("MetaSr", "搜狗浏览器"), ("Edg/", "Edge"), ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"), ("Edge/", "Edge"), ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("OPR/", "Opera"),
    ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Trident/", "Internet Explorer"), ("MSIE ", "Internet Explorer"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("HarmonyOS", "鸿蒙"), ("OpenHarmony", "鸿蒙"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
    ("Windows", "Windows"), ("Macintosh", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"),
)
_VERSION = re.compile(r"\d+")
# where a browser's own version is not the number after its token (Safari's token holds
# WebKit's, Internet Explorer 11's Trident's)
_OWN_VERSION = {"Safari": re.compile(r"Version/(\d+)"), "Internet Explorer": re.compile(r"(?:rv:|MSIE )(\d+)")}


def describe_agent(agent: str) -> str:
    """``agent`` (a request's User-Agent) as 微信 8 · Android, Chrome 120 · Windows; the
    first word of a string no rule knows (a script's ``python-requests/2.31``), or ""."""
    agent = (agent or "").strip()
    if not agent:
        return ""
    app = next(((marker, name) for marker, name in _APPS if marker in agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in agent), "")
    if app is None:
        return agent.split()[0][:40]
    marker, name = app
    if name in _OWN_VERSION:
        found = _OWN_VERSION[name].search(agent)
        major = found.group(1) if found else ""
    else:
        found = _VERSION.match(agent, agent.index(marker) + len(marker)) if marker.endswith("/") else None
        major = found.group() if found else ""
    return " · ".join(part for part in (f"{name} {major}".strip(), system) if part)


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
                                address=(address or "")[:45], user_agent=(user_agent or "")[:USER_AGENT_LENGTH]))
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
