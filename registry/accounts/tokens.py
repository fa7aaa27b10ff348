"""API tokens: a user may hold several, each named, with an optional expiry.

``/api/`` accepts ``Authorization: Bearer <token>`` (auth.py); the token acts with its
owner's role and scope. Only a token's SHA-256 digest is stored; the token itself is
shown once, when it is made. A token ends when its owner revokes it, when it expires,
and with every other token of the user at a password change or reset and when the
account is disabled. ``last_used_at`` is written at most once a minute.
"""
from __future__ import annotations

import secrets
import unicodedata
from datetime import timedelta
from functools import cache

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import lazyload

from ..core.crypto import secret_digest
from ..audit.services import record
from ..core.rules import Collector, RuleViolation
from ..core.timeutil import utcnow
from ..extensions import db
from .models import ApiToken, User
from .sessions import TOUCH_EVERY, write_now

MAX_LIVE_TOKENS = 10
MAX_EXPIRY_DAYS = 366
# what the token page offers (days; None: no expiry)
EXPIRY_CHOICES = (None, 30, 90, 180, 365)

REVOKED_REASONS = {
    "revoked": "已撤销",
    "password_change": "修改密码时失效",
    "password_reset": "重置密码时失效",
    "disabled": "账号停用时失效",
}


token_digest = secret_digest  # what the api_token row keeps of the token


def owner_scope(user: User) -> dict:
    """Where the audit events about ``user``'s account belong (as ``create_user``'s)."""
    return {"region_code": user.region_code or user.village_code, "organization_id": user.organization_id}


def live_tokens(user: User) -> list[ApiToken]:
    now = utcnow()
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                               (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now))
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def token_list(user: User, limit: int = 50) -> list[ApiToken]:
    """The user's tokens, live and ended, the newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()).limit(limit)
    ))


def _days(value) -> int | None:
    """``expires_days`` as given by the form or a caller: blank for no expiry, else a
    whole number of days (anything else is 0, refused by the range check)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def issue_token(user: User, name: str = "", expires_days: int | str | None = None, actor=None) -> str:
    """A new token for ``user`` (returned, to be shown once), valid for ``expires_days``
    days or until revoked. Commits."""
    name = (name or "").strip()
    expires_days = _days(expires_days)
    live = live_tokens(user)
    errors = Collector()
    errors.check(len(name) <= 100, "name", "名称不能超过100个字")
    errors.check(not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), "name", "名称含有不可见的控制字符")
    errors.check(not name or all(token.name != name for token in live), "name", "已有同名的有效令牌，请换一个名称")
    errors.check(len(live) < MAX_LIVE_TOKENS, "", f"有效令牌最多{MAX_LIVE_TOKENS}个，请先撤销不再使用的令牌")
    if expires_days is not None:
        errors.check(1 <= expires_days <= MAX_EXPIRY_DAYS, "expires_days", f"有效期须为1至{MAX_EXPIRY_DAYS}天，请从列表中选择")
    errors.raise_if_any()
    if not name:
        issued = db.session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user.id))
        name = f"令牌{issued + 1}"
    now = utcnow()
    token = "rg_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, digest=token_digest(token), created_at=now,
                   expires_at=now + timedelta(days=expires_days) if expires_days else None)
    db.session.add(row)
    record("api_token", row, after={"name": name, "expires_at": row.expires_at}, summary=f"生成API令牌「{name}」",
           actor=actor or user, **owner_scope(user))
    db.session.commit()
    return token


def revoke_token(row: ApiToken, actor=None) -> None:
    """Revoke one token (its owner's 撤销). Commits."""
    if row.revoked_at is not None:
        raise RuleViolation("该令牌已撤销")
    owner = db.session.get(User, row.user_id)
    row.revoked_at = utcnow()
    row.revoked_reason = "revoked"
    record("api_token_revoke", row, after={"name": row.name, "revoked_at": row.revoked_at},
           summary=f"撤销API令牌「{row.name}」", actor=actor, **owner_scope(owner))
    db.session.commit()


def revoke_all_tokens(user: User, reason: str) -> int:
    """End every token of ``user`` (password change, disable); return how many were not
    revoked yet. The caller commits."""
    result = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    return result.rowcount or 0


def own_token_or_404(user: User, token_id: int) -> ApiToken:
    """One of ``user``'s own tokens; anyone else's is 404."""
    from flask import abort

    row = db.session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if row is None:
        abort(404)
    return row


@cache
def _owner_stmt():
    """The token's state and its owner, in one statement built once (every API request
    runs it): the user's village and organization, which the pages' navigation shows and
    an API answer rarely reads, are loaded if asked; the region, which every scope reads,
    at once."""
    return (select(ApiToken.id, ApiToken.revoked_at, ApiToken.expires_at, ApiToken.last_used_at, User)
            .join(User, User.id == ApiToken.user_id)
            .options(lazyload(User.village), lazyload(User.organization))
            .where(ApiToken.digest == bindparam("digest")))


def user_for_token(token) -> User | None:
    """The owner of the live token ``token``, or None (unknown, revoked, expired, account
    disabled or locked). Notes the use at most once a minute."""
    if not token or not isinstance(token, str):
        return None
    found = db.session.execute(_owner_stmt(), {"digest": token_digest(token)}).first()
    now = utcnow()
    if found is None:
        return None
    token_id, revoked_at, expires_at, last_used_at, user = found
    if revoked_at is not None or (expires_at is not None and expires_at <= now):  # ApiToken.is_live
        return None
    if not user.active or user.is_locked(now):
        return None
    if last_used_at is None or now - last_used_at >= TOUCH_EVERY:
        write_now(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    return user
