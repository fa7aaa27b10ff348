from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..core.access import login_only, public
from ..core.forms import save_form
from ..core.navigation import local_path
from ..core.permissions import require
from ..extensions import db, limiter
from .forms import EmptyForm, LoginForm, PasswordForm, UserForm
from .models import User
from .services import LoginRefused, authenticate, change_password, create_user, issue_api_token

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data)
        except LoginRefused as refused:
            form.form_errors.append(refused.message)
        else:
            session.clear()
            login_user(user)
            flash(f"欢迎，{user.display_name or user.username}", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_only
def logout():
    if EmptyForm().validate_on_submit():
        logout_user()
        session.clear()
        flash("您已退出登录", "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_only
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        def change():
            change_password(current_user, form.current_password.data, form.new_password.data, form.confirm_password.data)
            login_user(current_user._get_current_object())  # re-issue the session with the new version

        saved = save_form(form, change, success="密码已修改，其他设备上的登录已失效", redirect_to=url_for("main.home"))
        if saved:
            return saved
    return render_template("accounts/password.html", form=form)


@bp.route("/account/token", methods=["GET", "POST"])
@require("api_token")
def token():
    form = EmptyForm()
    new_token = None
    if form.validate_on_submit():
        new_token = issue_api_token(current_user)
    return render_template("accounts/token.html", form=form, new_token=new_token)


@bp.route("/admin/users")
@require("manage_accounts")
def users():
    page = db.paginate(select(User).order_by(User.username), per_page=50)
    return render_template("accounts/users.html", page=page)


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require("manage_accounts")
def new_user():
    form = UserForm()
    if form.validate_on_submit():
        org_id = form.organization_id.data
        try:
            org_id = int(org_id) if org_id else None
        except ValueError:
            form.organization_id.errors.append("帮扶单位编号应为数字")
        else:
            def create():
                user, password = create_user(
                    form.username.data.strip(),
                    form.role.data,
                    region_code=form.region_code.data or None,
                    organization_id=org_id,
                    village_code=form.village_code.data or None,
                    display_name=form.display_name.data or "",
                )
                db.session.commit()
                return f"账号 {user.username} 已创建，初始密码只显示这一次：{password}"

            saved = save_form(form, create, success=lambda message: message, redirect_to=url_for("accounts.users"))
            if saved:
                return saved
    return render_template("accounts/user_form.html", form=form)
