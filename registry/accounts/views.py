from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import select

from ..core.access import for_cadres, login_only, public
from ..core.forms import save_form
from ..core.navigation import local_path
from ..core.paging import Key, order_by, paginate
from ..core.parsing import to_id
from ..core.permissions import require
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import to_local
from ..extensions import db
from ..people.services import employer_by_text
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from . import sessions, tokens
from .auth import end_current_session, log_in
from .forms import EmptyForm, LoginForm, PasswordForm, ReasonForm, TokenForm, UserForm
from .models import User
from .services import (
    MIN_PASSWORD_LENGTH,
    LoginRefused,
    LoginThrottled,
    authenticate,
    change_password,
    create_user,
    disable_user,
    enable_user,
    end_sessions_by_admin,
    generate_password,
    set_password,
)

bp = Blueprint("accounts", __name__)
bp.add_app_template_filter(sessions.describe_agent, "agent")  # {{ s.user_agent | agent }}: 微信 8 · Android

# by user name (unique, so a key of its own; its unique index serves the order)
USER_ORDER = (Key(User.username),)


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data, request.remote_addr)
        except LoginThrottled as refused:
            form.form_errors.append(refused.message)
            page = render_template("accounts/login.html", form=form)
            return page, 429, {"Retry-After": str(refused.retry_after)}
        except LoginRefused as refused:
            form.form_errors.append(refused.message)
        else:
            session.clear()
            log_in(user)
            flash(f"欢迎，{user.display_name or user.username}", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@for_cadres
@login_only
def logout():
    if EmptyForm().validate_on_submit():
        end_current_session("logout")
        logout_user()
        session.clear()
        flash("您已退出登录", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@for_cadres
@login_only
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        def change():
            change_password(current_user, form.current_password.data, form.new_password.data, form.confirm_password.data)
            log_in(current_user._get_current_object())  # every session ended: this one starts anew

        saved = save_form(form, change, success="密码已修改，其他设备上的登录和全部 API 令牌已失效", redirect_to=url_for("main.home"))
        if saved:
            return saved
    return render_template("accounts/password.html", form=form, min_length=MIN_PASSWORD_LENGTH)


@bp.route("/account")
@for_cadres
@login_only
def account():
    """我的账号: who I am, my live login sessions (each can be ended) and my tokens."""
    me = current_user._get_current_object()
    return render_template("accounts/account.html", form=EmptyForm(), sessions=sessions.active_sessions(me),
                           current_key=sessions.key_digest(me.session_key or ""),
                           tokens=tokens.live_tokens(me) if me.can("api_token") else None)


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@for_cadres
@login_only
def end_session(session_id: int):
    me = current_user._get_current_object()
    row = sessions.own_session_or_404(me, session_id)
    if EmptyForm().validate_on_submit():
        current = row.key_digest == sessions.key_digest(me.session_key or "")
        sessions.end_session(row)
        if current:
            logout_user()
            session.clear()
            flash("当前会话已结束，请重新登录", "info")
            return redirect(url_for("accounts.login"))
        flash("该会话已结束，使用它的设备需要重新登录", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/token", methods=["GET", "POST"])
@require("api_token")
def token():
    me = current_user._get_current_object()
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        try:
            new_token = tokens.issue_token(me, form.name.data or "", form.expires_days.data)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            form = TokenForm(formdata=None)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("accounts/token.html", form=form, revoke_form=EmptyForm(), new_token=new_token,
                           tokens=tokens.token_list(me), reasons=tokens.REVOKED_REASONS), status


@bp.route("/account/token/<int:token_id>/revoke", methods=["POST"])
@require("api_token")
def revoke_token(token_id: int):
    me = current_user._get_current_object()
    row = tokens.own_token_or_404(me, token_id)
    if EmptyForm().validate_on_submit():
        name = row.name
        save_form(EmptyForm(), lambda: tokens.revoke_token(row, actor=me), success=f"令牌「{name}」已撤销",
                  refused="danger")
    return redirect(url_for("accounts.token"))


@bp.route("/admin/users")
@require("manage_accounts")
def users():
    page = paginate(select(User).order_by(*order_by(USER_ORDER)), USER_ORDER, request.args)
    return render_template("accounts/users.html", page=page)


USER_COLUMNS = (
    Column("用户名", "username", width=20), Column("姓名", "display_name", width=16), Column("角色", "role", width=14),
    Column("范围", "scope", width=32), Column("状态", "status", width=10),
    Column("最近登录", "last_login_at", "datetime", 18), Column("创建时间", "created_at", "datetime", 18),
)


@bp.route("/admin/users/export.<fmt>")
@export_job("users", "账号清单")
@require("manage_accounts")
def users_export(fmt: str):
    """Every account as the list shows it, for a review of who may see what; names are
    personal data, so the export is audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    stmt = select(User).order_by(*order_by(USER_ORDER))
    shown = describe_filters([])
    audit_export("User", "账号清单", count_rows(stmt), fmt, shown)

    def when(at):
        return to_local(at).replace(tzinfo=None) if at is not None else None

    rows = ([u.username, u.display_name, u.role_label, u.scope_label, u.status_label, when(u.last_login_at),
             when(u.created_at)] for u in db.session.scalars(stmt.execution_options(yield_per=1000)))
    return send_export(fmt, "账号清单", USER_COLUMNS, rows, filters=shown)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require("manage_accounts")
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        def create():
            user, password = create_user(
                form.username.data.strip(),
                form.role.data,
                region_code=form.region_code.data or None,
                organization_id=_unit_id(form.organization_id.data),
                village_code=form.village_code.data or None,
                display_name=form.display_name.data or "",
                oversight_body=form.oversight_body.data or None,
            )
            db.session.commit()
            return f"账号 {user.username} 已创建，初始密码只显示这一次：{password}"

        saved = save_form(form, create, success=lambda message: message, redirect_to=url_for("accounts.users"))
        if saved:
            return saved
    return render_template("accounts/user_form.html", form=form), 422 if form.is_submitted() else 200


def _unit_id(text: str | None) -> int | None:
    """The unit a 帮扶单位 account belongs to, as the administrator names it: its full name
    or 统一社会信用代码 (``people.services.employer_by_text``, which says what is wrong on the
    field), or its number as the organization's page address shows it."""
    text = (text or "").strip()
    if not text:
        return None
    if text.isdigit() and len(text) < 12:
        return to_id(text)
    return employer_by_text(current_user, text).id


def _account_or_404(user_id: int) -> User:
    """An account the current user may manage: looked up in scope first (accounts are
    the administrator's: anyone else gets 404), then the permission (403)."""
    user = get_in_scope_or_404(User, user_id)
    if not current_user.can("manage_accounts"):
        abort(403)
    return user


@bp.route("/admin/users/<int:user_id>")
@login_only
def user_detail(user_id: int):
    user = _account_or_404(user_id)
    return render_template("accounts/user_detail.html", user=user, form=EmptyForm(), reason_form=ReasonForm(),
                           sessions=sessions.active_sessions(user), tokens=tokens.token_list(user),
                           token_reasons=tokens.REVOKED_REASONS)


@bp.route("/admin/users/<int:user_id>/disable", methods=["POST"])
@login_only
def disable(user_id: int):
    user = _account_or_404(user_id)
    form = ReasonForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: disable_user(user, form.reason.data, actor=current_user),
                          success=f"账号 {user.username} 已停用，其登录会话和 API 令牌已全部失效",
                          redirect_to=url_for("accounts.user_detail", user_id=user.id))
        if saved:
            return saved
    return render_template("accounts/user_detail.html", user=user, form=EmptyForm(), reason_form=form,
                           sessions=sessions.active_sessions(user), tokens=tokens.token_list(user),
                           token_reasons=tokens.REVOKED_REASONS), 422


@bp.route("/admin/users/<int:user_id>/enable", methods=["POST"])
@login_only
def enable(user_id: int):
    user = _account_or_404(user_id)
    form = ReasonForm()
    if form.validate_on_submit():
        save_form(form, lambda: enable_user(user, form.reason.data, actor=current_user),
                  success=f"账号 {user.username} 已启用", refused="danger")
    else:
        flash("；".join(form.reason.errors) or "表单无效，请重试", "danger")
    return redirect(url_for("accounts.user_detail", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@login_only
def reset_password(user_id: int):
    """重置密码: a new random password, shown to the administrator once (as a new account's
    is) to hand to its owner; the account's sessions and API tokens end (``set_password``).
    The login page tells a user who forgot theirs to ask the administrator for this."""
    user = _account_or_404(user_id)
    if user.id == current_user.id:
        flash("不能在这里重置自己的密码，请在“我的账号”中修改", "danger")
    elif EmptyForm().validate_on_submit():
        password = generate_password()
        set_password(user, password, actor=current_user)
        flash(f"账号 {user.username} 的密码已重置，新密码只显示这一次：{password}"
              "（请告知本人，登录后尽快在“我的账号”中修改）；其登录会话和 API 令牌已全部失效", "success")
    return redirect(url_for("accounts.user_detail", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/end-sessions", methods=["POST"])
@login_only
def end_sessions(user_id: int):
    user = _account_or_404(user_id)
    if EmptyForm().validate_on_submit():
        ended = end_sessions_by_admin(user, actor=current_user)
        flash(f"已结束账号 {user.username} 的全部会话（{ended} 个）", "success")
    return redirect(url_for("accounts.user_detail", user_id=user.id))
