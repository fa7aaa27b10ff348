"""The pieces ``create_app`` calls: extensions, blueprints, error handlers, hooks, CLI."""
from __future__ import annotations

from flask import Flask, abort, jsonify, request, session
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .extensions import csrf, db, login_manager, migrate, talisman

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    # Plotly injects its own <style> elements at run time; scripts stay strict.
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:", "blob:"],
    "font-src": "'self'",
    "connect-src": "'self'",
    # the offline app's service worker (/sw.js) and manifest, from the site itself
    "worker-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

ERROR_TITLES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限",
    404: "页面不存在",
    405: "请求方式不允许",
    413: "文件过大",
    429: "请求过于频繁",
    500: "系统内部错误",
}
ERROR_MESSAGES = {
    400: "提交的内容无法处理，请返回重试。",
    401: "需要登录或有效的 API 令牌。",
    403: "您的账号没有执行此操作的权限。",
    404: "您访问的内容不存在，或不在您的权限范围内。",
    405: "不支持此请求方式。",
    413: "上传的文件超过了大小限制。",
    429: "操作过于频繁，请稍后再试。",
    500: "系统出现错误，已记录。请稍后再试，或联系系统管理员。",
}

# Messages waiting for the next page are kept in the session cookie; a client that posts
# without opening the page it is sent to (a script, a form sent from several tabs) would
# grow the cookie by one message a write, past the 4 KB a browser keeps, and every request
# would parse and sign it again. The latest few are what a page can usefully show.
KEEP_FLASHES = 5


def register_extensions(app: Flask) -> None:
    from . import models  # noqa: F401  (every table known to the mappers and Alembic)
    from . import scopes  # noqa: F401  (every model's scope rule, before any request or command)
    from .core.database import configure_engine
    from .core.parsing import page_arg

    if app.config.get("TEMPLATE_CACHE_FOLDER"):
        from jinja2 import FileSystemBytecodeCache

        app.jinja_env.bytecode_cache = FileSystemBytecodeCache(app.config["TEMPLATE_CACHE_FOLDER"])
    db.init_app(app)
    db.read_page = page_arg  # every paged list reads ?page= through the one bounded helper
    with app.app_context():
        for engine in db.engines.values():
            configure_engine(engine)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    talisman.init_app(
        app,
        force_https=False,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="same-origin",
        strict_transport_security=app.config["SESSION_COOKIE_SECURE"],
    )

    from .accounts import auth

    auth.init_login(app, login_manager)


def register_blueprints(app: Flask) -> None:
    from .core.parsing import IdConverter
    from .features import modules

    # before any route is added: every <int:...> is an id, bounded (a larger one is a 404)
    app.url_map.converters["int"] = IdConverter

    for views in modules("views"):
        app.register_blueprint(views.bp)

    from .core import formatting, navigation

    formatting.init_app(app)
    navigation.init_app(app)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def register_errorhandlers(app: Flask) -> None:
    def render_error(code: int, message: str | None = None):
        """The error page, or the API's JSON error. The page is rendered without the context
        processors (render_template would load the account for ``current_user``) and says how
        to cache itself, so ``_no_store`` does not load the account either: an error page
        reads nothing from the database. A 404 or a refused form costs no query for it (about
        5 ms of CPU a page before, over a third of what the form fuzzers spend), and the 500
        page still shows when the database is what failed."""
        message = message or ERROR_MESSAGES.get(code, "")
        if _wants_json():
            return jsonify(error=ERROR_TITLES.get(code, "错误"), message=message), code
        page = app.jinja_env.get_template("errors/error.html").render(
            code=code, title=ERROR_TITLES.get(code, "错误"), message=message)
        return page, code, {"Cache-Control": "no-store"}

    @app.errorhandler(HTTPException)
    def handle_http(error: HTTPException):
        if error.code in (301, 302, 303, 307, 308):
            return error
        code = error.code or 500
        return render_error(code if code in ERROR_TITLES else 400)

    @app.errorhandler(CSRFError)
    def handle_csrf(error: CSRFError):
        return render_error(400, "表单已过期或缺少安全校验（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        db.session.rollback()
        app.logger.exception("Unhandled error")
        return render_error(500)

    from .core.rules import RuleViolation

    @app.errorhandler(RuleViolation)
    def handle_rule(error: RuleViolation):
        db.session.rollback()
        if _wants_json():
            title = getattr(error, "title", "数据不符合规则")
            return jsonify(error=title, errors=error.errors, message=error.message), error.status_code
        return render_error(400, error.message)


def register_hooks(app: Flask) -> None:
    from .core import assets
    from .core.access import cadre_may_open
    from .core.database import read_before_writing, set_read_only_request
    from .core.parsing import refuse_nul

    @app.before_request
    def _before():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        set_read_only_request(request.method in ("GET", "HEAD", "OPTIONS"), view)
        if "\x00" in request.path:
            abort(404)  # no object is named with NUL, and PostgreSQL would refuse it in a look-up
        refuse_nul(request.args)
        if request.method == "POST":
            refuse_nul(request.form)
        if view is None:
            redirect = request.routing_exception
            if isinstance(redirect, RequestRedirect) and _wants_json():
                # the router's redirect (a doubled or an encoded slash: /api/v1/coverage/%2F0),
                # which Flask sends past the error handlers, in JSON as every API answer
                answer = jsonify(error="地址已规范化", message="请改用 Location 所给的地址。")
                answer.status_code, answer.headers["Location"] = redirect.code, redirect.new_url
                return answer
            return None  # 404/405 handled by routing
        if request.endpoint == "static" or getattr(view, "_public", False):
            return None
        if not read_before_writing(lambda: current_user.is_authenticated):
            if request.path.startswith("/api/"):
                abort(401)
            return login_manager.unauthorized()
        if current_user.role == "cadre" and not cadre_may_open(view):
            abort(404)  # a cadre sees their own part only (core.access.for_cadres)
        return None

    assets.init_app(app)  # static files with their version in the URL, kept by browsers

    @app.after_request
    def _bounded_flashes(response):
        flashes = session.get("_flashes")
        if flashes is not None and len(flashes) > KEEP_FLASHES:
            session["_flashes"] = flashes[-KEEP_FLASHES:]
        return response

    @app.after_request
    def _no_store(response):
        # is_anonymous, not is_authenticated: it reads nothing (is_authenticated reloads the
        # account after a write request's commit, queueing for the write lock again)
        # A response that says how to cache itself (static files, the chart library) is
        # left alone, and its request never loads the user (a file request reads nothing
        # else from the database).
        if "Cache-Control" not in response.headers and not current_user.is_anonymous:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.teardown_request
    def _end_transaction(exc):
        # Never leave a (possibly IMMEDIATE) transaction open across requests.
        if exc is not None:
            db.session.rollback()


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
