"""Flask-Login wiring: sessions carry ``id:session_version``; the API also accepts a
per-user bearer token."""
from __future__ import annotations

from flask import request

from ..extensions import db
from .models import AnonymousUser, User


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    login_manager.anonymous_user = AnonymousUser

    @login_manager.user_loader
    def load_user(raw: str):
        try:
            user_id, version = (int(part) for part in raw.split(":"))
        except (ValueError, AttributeError):
            return None
        user = db.session.get(User, user_id)
        if user is None or user.session_version != version or not user.active:
            return None
        return user

    @login_manager.request_loader
    def load_from_token(req):
        if not request.path.startswith("/api/"):
            return None
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        from .services import user_for_token

        return user_for_token(header[len("Bearer "):].strip())
