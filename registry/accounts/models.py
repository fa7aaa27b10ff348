from __future__ import annotations

from datetime import datetime

from flask_login import AnonymousUserMixin, UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.enums import ROLES
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region


class User(UserMixin, db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(10))
    # scope: a region (region, viewer), an organization (unit), a village (village) or
    # one registered person (cadre: 驻村干部, cadres/services.py)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    village_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    # a viewer (监督查询): the body it belongs to (core.enums.OVERSIGHT_BODIES: 纪检监察, 财政, 审计…)
    oversight_body: Mapped[str | None] = mapped_column(String(20))
    # a cadre's account starts with a one-time activation code (only its digest is kept)
    # instead of a password; activating sets the password and clears the code
    activation_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    activation_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # set by the administrator's 停用 (services.disable_user), cleared by 启用
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)

    region: Mapped[Region | None] = relationship(foreign_keys=[region_code], lazy="joined")
    village: Mapped[Region | None] = relationship(foreign_keys=[village_code], lazy="joined")
    organization = relationship("Organization", foreign_keys=[organization_id], lazy="joined")
    person = relationship("Person", foreign_keys=[person_id])  # loaded when asked: cadres only

    # The key of the login session this request runs under (sessions.py), not stored:
    # Flask-Login keeps what get_id() returns in the session cookie.
    session_key = None

    def get_id(self) -> str | None:
        return self.session_key

    @property
    def is_active(self) -> bool:  # flask-login
        return self.active

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    @property
    def scope_label(self) -> str:
        if self.role == "admin":
            return "全省（系统管理）"
        if self.role in ("region", "viewer") and self.region:
            return self.region.name
        if self.role == "unit" and self.organization:
            return self.organization.name
        if self.role == "village" and self.village:
            return self.village.name
        if self.role == "cadre" and self.person:
            return self.person.name
        return ""

    def is_locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    @property
    def status_label(self) -> str:
        """正常, 已停用 or 已锁定 (too many wrong passwords, for now): the account list's and its export's."""
        if not self.active:
            return "已停用"
        return "已锁定" if self.is_locked() else "正常"

    # Role checks used by views and templates. Scope is separate (core.scope).
    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_region_staff(self) -> bool:
        return self.role == "region"

    @property
    def can_read_region_data(self) -> bool:
        return self.role in ("admin", "region", "viewer")

    @property
    def is_cadre(self) -> bool:
        return self.role == "cadre"

    def can(self, permission: str) -> bool:
        from ..core.permissions import role_can

        return role_can(self.role, permission)


class AnonymousUser(AnonymousUserMixin):
    role = None
    is_admin = False
    is_region_staff = False
    can_read_region_data = False
    is_cadre = False

    def can(self, permission: str) -> bool:
        return False


USER_AGENT_LENGTH = 500


class LoginSession(db.Model):
    """One login, kept on the server (sessions.py). The cookie carries a random key; only
    its digest is stored. A session ends at logout, password change, account disable,
    an administrator's 结束全部会话, or by being idle or old (the limits are settings)."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # updated at most once a minute (sessions.TOUCH_EVERY), not on every request
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(45), default="")
    # the request's User-Agent (WeChat's and DingTalk's run to 300 characters, their app
    # named at the end); shown as sessions.describe_agent names it
    user_agent: Mapped[str] = mapped_column(String(USER_AGENT_LENGTH), default="")


class ApiToken(db.Model):
    """A named bearer token for /api/ (tokens.py); only its SHA-256 digest is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # updated at most once a minute, as a session's last_seen_at
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(20))

    def is_live(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
from .throttle import LoginThrottle  # noqa: E402,F401  (login throttling's table, for Alembic and the mappers)
