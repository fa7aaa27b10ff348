"""Flask-Login wiring: the session cookie carries the key of a server-side login session
(sessions.py), looked up on every request; the API also accepts a bearer token
(tokens.py)."""
from __future__ import annotations

from flask import request, session
from flask_login import login_user

from .models import AnonymousUser, User
from .sessions import end_session_by_key, start_session, user_for_session
from .tokens import user_for_token


def init_login(app, login_manager) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "warning"
    login_manager.session_protection = "basic"
    login_manager.anonymous_user = AnonymousUser

    @login_manager.user_loader
    def load_user(key: str):
        return user_for_session(key)

    @login_manager.request_loader
    def load_from_token(req):
        if not request.path.startswith("/api/"):
            return None
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return user_for_token(header[len("Bearer "):].strip())


def log_in(user: User) -> None:
    """Start a new login session for ``user`` (who has proved who they are) and put its
    key in the session cookie: a new session identifier at every login."""
    user.session_key = start_session(user, address=request.remote_addr or "",
                                      user_agent=request.user_agent.string or "")
    login_user(user)


def end_current_session(reason: str = "logout") -> None:
    """End the login session this request runs under (logout). Commits."""
    end_session_by_key(session.get("_user_id"), reason)
