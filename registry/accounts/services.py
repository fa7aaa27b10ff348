"""Account rules: creation with scope, authentication (throttled, never locked out by
others), password change, disabling and enabling (login sessions are in sessions.py, API
tokens in tokens.py). Every write records an audit event in the same transaction."""
from __future__ import annotations

import math
import re
import secrets
import string
from functools import cache
from pathlib import Path

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..audit.services import record
from ..core.enums import OVERSIGHT_BODIES, ROLES
from ..core.parsing import to_id
from ..core.rules import Collector, RuleViolation
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..regions.models import Region
from . import throttle
from .models import User
from .sessions import end_all_sessions
from .tokens import owner_scope, revoke_all_tokens

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
# Throwaway hashes (one per method) so that an unknown username costs as much time as a
# wrong password.
_DUMMY_HASHES: dict[str, str] = {}


def hash_password(password: str) -> str:
    """Hash with the configured method (``REGISTRY_PASSWORD_HASH_METHOD``, scrypt in production)."""
    return generate_password_hash(password, method=current_app.config["REGISTRY_PASSWORD_HASH_METHOD"])


def _dummy_hash() -> str:
    method = current_app.config["REGISTRY_PASSWORD_HASH_METHOD"]
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _DUMMY_HASHES[method]


MIN_PASSWORD_LENGTH = 12
# Django's list of the 20,000 most common passwords (Royce Williams's, lower-cased,
# django/contrib/auth/common-passwords.txt.gz of Django 5.2.19), unpacked unchanged.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt")
# what people put around a common word to pass a rule: digits, signs, spaces
_DECORATION = string.digits + string.punctuation + string.whitespace


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").split("\n")) - {""}


def is_common_password(password: str) -> bool:
    """In the list, ignoring case, or a listed word with digits and signs around it
    (``Sunshine2024!!``)."""
    lowered = password.lower().strip()
    common = _common_passwords()
    return lowered in common or lowered.strip(_DECORATION) in common


def password_problems(password: str) -> list[str]:
    """The password policy, for every way a password is set (form, CLI, admin reset)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"密码至少{MIN_PASSWORD_LENGTH}位")
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append("密码须同时包含字母和数字")
    if is_common_password(password):
        problems.append("密码过于常见（或只是在常见密码前后加了数字、符号），容易被猜中，请换一个")
    return problems


def generate_password() -> str:
    """A random password that passes the policy (letters and digits, 16 characters)."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"  # no look-alikes
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if not password_problems(candidate):
            return candidate


def check_username(errors: Collector, username: str | None) -> None:
    """The username rule of every account: its form, and not taken."""
    errors.check(bool(_USERNAME.match(username or "")), "username", "用户名须为3至64位字母、数字或 _ . -")
    if username and db.session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        errors.add("username", "用户名已存在")


def create_user(
    username: str,
    role: str,
    *,
    region_code: str | None = None,
    organization_id: int | None = None,
    village_code: str | None = None,
    display_name: str = "",
    password: str | None = None,
    actor=None,
    oversight_body: str | None = None,
) -> tuple[User, str]:
    """Create a user with the scope its role needs; returns (user, password). A viewer may
    name the body it belongs to (``OVERSIGHT_BODIES``)."""
    errors = Collector()
    oversight_body = oversight_body or None
    if oversight_body is not None:
        errors.check(role == "viewer", "oversight_body", "只有监督查询账号填写监督单位")
        errors.check(oversight_body in OVERSIGHT_BODIES, "oversight_body", "请选择有效的监督单位")
    check_username(errors, username)
    errors.check(role in ROLES, "role", "角色无效")
    # a cadre's account is bound to a person and starts with an activation code
    errors.check(role != "cadre", "role", "驻村干部账号须在干部信息页开通（发放一次性激活码）")
    if role in ("region", "viewer"):
        region = db.session.get(Region, region_code or "")
        errors.check(
            region is not None and region.level != "village", "region_code", "请选择有效的行政区（省、市州、县市区或乡镇）"
        )
    elif role == "unit":
        organization_id = to_id(organization_id)  # an id the database can hold, or None
        errors.check(
            organization_id is not None and db.session.get(Organization, organization_id) is not None,
            "organization_id",
            "请选择有效的帮扶单位",
        )
    elif role == "village":
        village = db.session.get(Region, village_code or "")
        errors.check(village is not None and village.level == "village", "village_code", "请选择有效的村")
    if password is not None:
        for problem in password_problems(password):
            errors.add("password", problem)
    errors.raise_if_any()

    password = password or generate_password()
    user = User(
        username=username,
        role=role,
        display_name=display_name or username,
        oversight_body=oversight_body,
        password_hash=hash_password(password),
        region_code=region_code if role in ("region", "viewer") else None,
        organization_id=organization_id if role == "unit" else None,
        village_code=village_code if role == "village" else None,
        failed_logins=0,
        active=True,
    )
    db.session.add(user)
    db.session.flush()
    record("create", user, after=_public_view(user), summary=f"创建账号 {username}（{ROLES[role]}）", actor=actor,
           region_code=user.region_code or user.village_code, organization_id=user.organization_id)
    return user, password


def _public_view(user: User) -> dict:
    return {
        "username": user.username,
        "role": user.role,
        "region_code": user.region_code,
        "organization_id": user.organization_id,
        "village_code": user.village_code,
        "active": user.active,
    }


class LoginRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class LoginThrottled(LoginRefused):
    """Too many failures: the view answers 429 with ``Retry-After: retry_after``."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


_THROTTLED = {
    "pair": "登录失败次数过多，请{wait}后再试。如忘记密码，请联系管理员重置。",
    "account": "该账号近期登录失败次数过多，请{wait}后再试。如忘记密码，请联系管理员重置。",
    "address": "您所在网络地址的登录失败次数过多，请{wait}后再试。",
}


def _wait_text(seconds: int) -> str:
    return f"{seconds}秒" if seconds < 60 else f"{math.ceil(seconds / 60)}分钟"


def authenticate(username: str, password: str, address: str | None = None) -> User:
    """Check the credentials of an attempt from ``address`` (the client's IP address).

    Throttled per account and address with doubling delays (``throttle``), never a lock
    that a stranger's wrong passwords could set off. Commits: a failed attempt must be
    counted even though the login is refused.
    """
    name = (username or "").strip()
    try:
        attempt = throttle.begin(name, address)
    except throttle.Throttled as refused:
        message = _THROTTLED[refused.reason].format(wait=_wait_text(refused.retry_after))
        raise LoginThrottled(message, refused.retry_after) from None
    user = db.session.scalar(select(User).where(User.username == name))
    if user is None:
        check_password_hash(_dummy_hash(), password or "")
        raise LoginRefused("用户名或密码错误")
    if not check_password_hash(user.password_hash, password or ""):
        record("login_failed", user, after={"address": address}, summary="登录失败", actor=user)
        db.session.commit()
        raise LoginRefused("用户名或密码错误")
    if not user.active:
        raise LoginRefused("账号已停用，请联系管理员")
    attempt.succeeded()
    now = utcnow()
    user.last_login_at = now
    record("login", user, after={"last_login_at": now}, summary="登录", actor=user)
    db.session.commit()
    return user


def unlock(user: User, actor=None) -> None:
    """An administrator lets an account try again at once from every address."""
    throttle.forget_account(user.username)
    user.locked_until = None
    user.failed_logins = 0
    record("unlock", user, after={"username": user.username}, summary="解除登录限制", actor=actor)
    db.session.commit()


def change_password(user: User, current: str, new: str, confirm: str) -> None:
    errors = Collector()
    errors.check(check_password_hash(user.password_hash, current or ""), "current_password", "当前密码不正确")
    for problem in password_problems(new or ""):
        errors.add("new_password", problem)
    errors.check(new == confirm, "confirm_password", "两次输入的新密码不一致")
    errors.check(new != current, "new_password", "新密码不能与当前密码相同")
    errors.raise_if_any()
    user.password_hash = hash_password(new)
    record("password_change", user, after=_end_access(user, "password_change"), summary="修改密码", actor=user)
    db.session.commit()


def set_password(user: User, new: str, actor=None) -> None:
    """Administrator's reset (CLI or admin): no current password needed."""
    problems = password_problems(new)
    if problems:
        raise RuleViolation({"password": problems})
    user.password_hash = hash_password(new)
    user.locked_until = None
    user.failed_logins = 0
    throttle.forget_account(user.username)
    record("password_reset", user, after=_end_access(user, "password_reset"), summary="重置密码", actor=actor)
    db.session.commit()


def _end_access(user: User, reason: str) -> dict:
    """End every login session and API token of ``user`` (password change or reset,
    disable); what ended, for the audit event."""
    return {"sessions_ended": end_all_sessions(user, reason), "tokens_revoked": revoke_all_tokens(user, reason)}


def end_sessions_by_admin(user: User, actor=None) -> int:
    """An administrator's 结束全部会话: every login session of ``user`` ends. Commits."""
    ended = end_all_sessions(user, "ended_by_admin")
    record("end_sessions", user, after={"sessions_ended": ended}, summary=f"结束账号 {user.username} 的全部会话",
           actor=actor, **owner_scope(user))
    db.session.commit()
    return ended


def _reason(reason: str | None, *, required: bool) -> str:
    reason = (reason or "").strip()
    errors = Collector()
    errors.check(bool(reason) or not required, "reason", "请填写原因")
    errors.check(len(reason) <= 200, "reason", "原因不能超过200个字")
    errors.raise_if_any()
    return reason


def disable_user(user: User, reason: str, actor=None) -> None:
    """停用: the account can no longer log in; its sessions and tokens end at once. Commits."""
    reason = _reason(reason, required=True)
    if not user.active:
        raise RuleViolation("该账号已停用")
    if actor is not None and getattr(actor, "id", None) == user.id:
        raise RuleViolation("不能停用自己的账号")
    user.active = False
    user.disabled_at = utcnow()
    user.disabled_reason = reason
    ended = _end_access(user, "disabled")
    record("disable", user, after={"active": False, "reason": reason, **ended},
           summary=f"停用账号 {user.username}：{reason}", actor=actor, **owner_scope(user))
    db.session.commit()


def enable_user(user: User, reason: str = "", actor=None) -> None:
    """启用 a disabled account again (its old sessions and tokens stay ended). Commits."""
    reason = _reason(reason, required=False)
    if user.active:
        raise RuleViolation("该账号未停用")
    user.active = True
    user.disabled_at = None
    user.disabled_reason = None
    record("enable", user, after={"active": True, "reason": reason},
           summary=f"启用账号 {user.username}" + (f"：{reason}" if reason else ""), actor=actor, **owner_scope(user))
    db.session.commit()
