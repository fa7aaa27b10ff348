"""A cadre's account: opened from the person's page (with a one-time activation code) and
activated by the cadre at ``/activate``; the cadre's home page is ``main.home``."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from ..accounts.auth import log_in
from ..accounts.services import MIN_PASSWORD_LENGTH
from ..core.access import public
from ..core.navigation import nav_entry
from ..core.permissions import require
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..extensions import db
from ..people.models import Person
from . import services
from .forms import AccountForm, ActivationForm

bp = Blueprint("cadres", __name__)


@bp.route("/people/<int:person_id>/account", methods=["GET", "POST"])
@require("open_cadre_accounts")
def account(person_id: int):
    """驻村干部账号: the person's name and masked phone, the account's state, and the
    button that opens it (or issues a new code). The code is shown on this answer only."""
    person = get_in_scope_or_404(Person, person_id)
    if not services.may_open_account(current_user, person):
        abort(403)
    form = AccountForm()
    user = services.account_of(person)
    issued = None
    if request.method == "GET" and user is None:
        form.username.data = services.suggested_username(person)
    if form.validate_on_submit():
        try:
            issued = services.issue_activation(person, form.username.data, actor=current_user)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            user = issued.user
    status = 422 if form.errors or form.form_errors else 200
    return render_template("cadres/account.html", person=person, user=user, form=form, issued=issued,
                           state=services.account_state(user), days=services.activation_days()), status


@bp.route("/activate", methods=["GET", "POST"])
@public
def activate():
    """The cadre activates their account: username or phone, the code, a password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = ActivationForm()
    if form.validate_on_submit():
        try:
            user = services.activate(form.identifier.data, form.code.data, form.password.data, form.confirm.data,
                                     request.remote_addr)
        except services.ActivationThrottled as refused:
            form.form_errors.append(refused.message)
            page = render_template("cadres/activate.html", form=form, min_length=MIN_PASSWORD_LENGTH)
            return page, 429, {"Retry-After": str(refused.retry_after)}
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            session.clear()
            log_in(user)
            flash(f"账号已激活，欢迎，{user.display_name}", "success")
            return redirect(url_for("main.home"))
    status = 422 if form.is_submitted() else 200
    return render_template("cadres/activate.html", form=form, min_length=MIN_PASSWORD_LENGTH), status


# -- a cadre's navigation: their own training record and grades ---------------------------------

nav_entry(53, "我的培训", "training.person", ("cadre",),
          url_fn=lambda user: url_for("training.person", person_id=user.person_id))
nav_entry(54, "我的考核", "assessment.person", ("cadre",),
          url_fn=lambda user: url_for("assessment.person", person_id=user.person_id))
