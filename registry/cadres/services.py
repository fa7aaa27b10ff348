"""A cadre's account (User.role ``cadre``), bound to one registered person.

Who opens it: the staff of a region whose jurisdiction holds the person's employer or one
of the person's postings, the unit that employs the person, or an administrator
(``may_open_account``). Opening issues a one-time activation code instead of a
password: the code is shown once to whoever opened the account and only its digest is
stored (``core.crypto.secret_digest``, as a login session's key or an API token); it
expires after ``REGISTRY_CADRE_ACTIVATION_DAYS`` days. Until the account is activated a
new code may be issued, which replaces the old one.

The cadre activates at a public page (``/activate``) with the username or the phone on
record and the code, and chooses a password under the same policy as every other
(``accounts.services.password_problems``). Attempts are throttled as logins are
(``accounts.throttle``), under keys of their own. A code works once.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..accounts import throttle
from ..accounts.models import User
from ..accounts.services import LoginThrottled, check_username, generate_password, hash_password, password_problems
from ..audit.services import record
from ..core.crypto import secret_digest
from ..core.rules import Collector, RuleViolation
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.services import in_jurisdiction
from ..people.models import Person, Posting

# 32 symbols without look-alikes (no 0/O, 1/I): 16 of them are 80 random bits,
# shown in groups of four so that it can be read out and typed on a phone
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 16
THROTTLE_PREFIX = "activate:"  # the activation's counts, apart from the logins'

_THROTTLED = {
    "pair": "激活尝试失败次数过多，请{wait}后再试。",
    "account": "该账号近期激活失败次数过多，请{wait}后再试。",
    "address": "您所在网络地址的失败次数过多，请{wait}后再试。",
}
REFUSED = "账号（或手机号）与激活码不匹配，请核对后重试"
EXPIRED = "激活码已过期，请联系为您开通账号的单位重新发放"


def activation_days() -> int:
    return int(current_app.config["REGISTRY_CADRE_ACTIVATION_DAYS"])


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def show_code(code: str) -> str:
    """``ABCDEFGHJKMNPQRS`` as ``ABCD-EFGH-JKMN-PQRS``."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalize_code(typed: str | None) -> str:
    """What the cadre typed, as it was issued: upper case, without spaces or dashes."""
    return re.sub(r"[\s\-－—_]", "", (typed or "")).upper()


# -- who may open an account for whom ----------------------------------------------------

def may_open_account(user, person: Person) -> bool:
    """The region staff or unit that manages ``person`` (and administrators). Never for an
    individual helper (个人): it is never posted, and signs in with its own helper account."""
    if person.organization is not None and person.organization.is_individual:
        return False
    role = getattr(user, "role", None)
    if role == "admin":
        return True
    if role == "unit":
        return user.organization_id is not None and person.organization_id == user.organization_id
    if role != "region":
        return False
    if in_jurisdiction(user, person.organization.region_code if person.organization else None):
        return True
    places = db.session.scalars(select(Posting.region_code).where(Posting.person_id == person.id))
    return any(in_jurisdiction(user, code) for code in places)


def account_of(person: Person) -> User | None:
    return db.session.scalar(select(User).where(User.person_id == person.id))


def suggested_username(person: Person) -> str:
    return f"cadre{person.id}"


@dataclass
class Issued:
    user: User
    code: str  # shown once

    @property
    def shown(self) -> str:
        return show_code(self.code)


def issue_activation(person: Person, username: str | None, *, actor) -> Issued:
    """Open ``person``'s account (with ``username``), or issue a new code for an account
    not yet activated. Returns the account and the code, to be shown once. Commits."""
    if not may_open_account(actor, person):
        raise RuleViolation("只有管理该干部的行政区工作人员或所在单位可以开通账号")
    posted = db.session.scalar(select(func.count()).select_from(Posting).where(Posting.person_id == person.id))
    if not posted:
        raise RuleViolation("该干部尚无选派记录：驻村干部账号只为第一书记、驻村工作队员和挂职干部开通")
    user = account_of(person)
    if user is not None and user.activated_at is not None:
        raise RuleViolation(f"该干部的账号 {user.username} 已激活；如忘记密码，请联系系统管理员重置")
    if user is not None and not user.active:
        raise RuleViolation(f"该干部的账号 {user.username} 已停用，请联系系统管理员")
    code = new_code()
    now = utcnow()
    expires = now + timedelta(days=activation_days())
    if user is None:
        username = (username or "").strip()
        errors = Collector()
        check_username(errors, username)
        errors.raise_if_any()
        user = User(username=username, role="cadre", display_name=person.name,
                    password_hash=hash_password(generate_password()),  # never told anyone: unusable
                    person_id=person.id, failed_logins=0, active=True)
        db.session.add(user)
        action, summary = "create", f"开通驻村干部账号 {username}（{person.name}），发放激活码"
    else:
        action, summary = "activation_code", f"重新发放驻村干部账号 {user.username}（{person.name}）的激活码"
    user.activation_digest = secret_digest(code)
    user.activation_expires_at = expires
    db.session.flush()
    record(action, user, after={"username": user.username, "role": "cadre", "person_id": person.id,
                                "activation_expires_at": expires},
           summary=summary, actor=actor, **_audit_place(person))
    db.session.commit()
    return Issued(user, code)


def _audit_place(person: Person) -> dict:
    """Where the events about a cadre's account belong: the person's employer and the
    place of their latest posting (so both the unit and the region see them)."""
    latest = db.session.scalar(select(Posting.region_code).where(Posting.person_id == person.id)
                               .order_by(Posting.start_date.desc(), Posting.id.desc()).limit(1))
    return {"region_code": latest, "organization_id": person.organization_id}


# -- activation ------------------------------------------------------------------------------

def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def _names(user: User, identifier: str) -> bool:
    """Whether ``identifier`` is the account's username or the person's phone on record."""
    if identifier.lower() == user.username.lower():
        return True
    person = user.person
    typed = _digits(identifier)
    return person is not None and len(typed) >= 7 and typed == _digits(person.phone)


def _wait_text(seconds: int) -> str:
    return f"{seconds}秒" if seconds < 60 else f"{-(-seconds // 60)}分钟"


class ActivationThrottled(LoginThrottled):
    """Too many failed activations: the page answers 429 with ``Retry-After``."""


def activate(identifier: str | None, code: str | None, password: str | None, confirm: str | None,
             address: str | None = None) -> User:
    """The cadre's first step: the username (or phone) and the code, and a password.

    The password is checked first (a typo there costs no attempt); then the attempt is
    counted (``throttle``) and the code looked up by its digest. A wrong code, a name
    that is not the code's account, an expired code: refused, and counted. Commits."""
    identifier = (identifier or "").strip()
    errors = Collector()
    errors.check(bool(identifier), "identifier", "请输入用户名或手机号")
    errors.check(bool(normalize_code(code)), "code", "请输入激活码")
    for problem in password_problems(password or ""):
        errors.add("password", problem)
    errors.check((password or "") == (confirm or ""), "confirm", "两次输入的密码不一致")
    errors.raise_if_any()
    try:
        attempt = throttle.begin(THROTTLE_PREFIX + identifier, address)
    except throttle.Throttled as refused:
        message = _THROTTLED[refused.reason].format(wait=_wait_text(refused.retry_after))
        raise ActivationThrottled(message, refused.retry_after) from None
    now = utcnow()
    user = db.session.scalar(select(User).where(User.activation_digest == secret_digest(normalize_code(code))))
    if user is None or user.role != "cadre" or not _names(user, identifier):
        raise RuleViolation(REFUSED, "code")
    if user.activation_expires_at is None or user.activation_expires_at <= now:
        raise RuleViolation(EXPIRED, "code")
    if not user.active:
        raise RuleViolation("账号已停用，请联系系统管理员", "code")
    user.password_hash = hash_password(password)
    user.activation_digest = None
    user.activation_expires_at = None
    user.activated_at = now
    record("activate", user, after={"username": user.username, "activated_at": now},
           summary=f"驻村干部 {user.display_name} 激活账号 {user.username}", actor=user, **_audit_place(user.person))
    db.session.commit()
    attempt.succeeded()
    return user


def account_state(user: User | None) -> str:
    """What the person's page says of the account."""
    if user is None:
        return "未开通"
    if not user.active:
        return "已停用"
    if user.activated_at is not None:
        return "已激活"
    if user.activation_expires_at is not None and user.activation_expires_at <= utcnow():
        return "激活码已过期"
    return "待激活"

