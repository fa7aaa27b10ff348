"""The bell, the list of one's notifications, the preferences (from 我的账号), and the
administrators' page of e-mail deliveries. A user sees and marks only their own
notifications: another's, whoever asks, is a 404."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..core.access import for_cadres, login_only
from ..core.forms import save_form
from ..core.navigation import local_path, nav_entry
from ..core.paging import paginate
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from . import delivery, services
from .forms import STATES, NotificationFilter, PreferencesForm, ReadForm
from .kinds import KINDS
from .models import EMAIL_STATUSES, FAILED, MODES, OutboundEmail

bp = Blueprint("notifications", __name__)


@bp.app_template_global()
def unread_notifications() -> int:
    """The bell's count (one indexed count a page)."""
    if not current_user.is_authenticated:
        return 0
    return services.unread_count(current_user)


def _filters() -> tuple[str, str]:
    kind = request.args.get("kind", "")
    state = request.args.get("state", "")
    return (kind if kind in KINDS else ""), (state if state in STATES else "")


@bp.route("/notifications/")
@login_only
@for_cadres
def index():
    kind, state = _filters()
    form = NotificationFilter(request.args)
    page = paginate(services.notifications_for(current_user, kind=kind, state=state), services.NOTIFICATION_ORDER,
                    request.args, per_page=30)
    return render_template("notifications/index.html", page=page, form=form, kind=kind, state=state,
                           unread=services.unread_count(current_user), kinds=KINDS)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_only
@for_cadres
def read(notification_id: int):
    note = services.own_or_404(current_user, notification_id)
    form = ReadForm()
    if not form.validate_on_submit():
        abort(400)
    services.mark_read(note)
    if form.go.data and note.link and local_path(note.link):
        return redirect(note.link)
    return redirect(local_path(request.args.get("next")) or url_for("notifications.index"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_only
@for_cadres
def read_all():
    form = ReadForm()
    if not form.validate_on_submit():
        abort(400)
    kind = form.kind.data if form.kind.data in KINDS else ""
    done = services.mark_all_read(current_user, kind)
    flash(f"已将 {done} 条通知标为已读" if done else "没有未读通知", "success")
    return redirect(url_for("notifications.index", kind=kind or None))


@bp.route("/account/notifications", methods=["GET", "POST"])
@login_only
@for_cadres
def preferences():
    email, modes = services.preferences(current_user)
    form = PreferencesForm(data={"email": email, **{f"mode_{k}": m for k, m in modes.items()}})
    if form.validate_on_submit():
        chosen = {kind: getattr(form, f"mode_{kind}").data for kind in KINDS}
        saved = save_form(form, lambda: services.save_preferences(current_user, form.email.data, chosen),
                          success="通知设置已保存", redirect_to=url_for("notifications.preferences"))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("notifications/preferences.html", form=form, modes=MODES,
                           email_enabled=services.email_enabled()), status


@bp.route("/admin/notifications/outbox")
@require("manage_reference")
def outbox():
    status = request.args.get("status", FAILED)
    status = status if status in EMAIL_STATUSES or status == "all" else FAILED
    page = paginate(delivery.outbox("" if status == "all" else status), delivery.OUTBOX_ORDER, request.args)
    working, said = delivery.settings_status()
    return render_template("notifications/outbox.html", page=page, status=status, statuses=EMAIL_STATUSES,
                           counts=delivery.outbox_counts(), smtp_ok=working, smtp_status=said,
                           max_attempts=current_app.config["REGISTRY_EMAIL_MAX_ATTEMPTS"])


@bp.route("/admin/notifications/outbox/<int:email_id>/retry", methods=["POST"])
@require("manage_reference")
def retry(email_id: int):
    email = get_in_scope_or_404(OutboundEmail, email_id)
    form = ReadForm()
    if form.validate_on_submit():
        save_form(form, lambda: delivery.retry_failed(email), success="已重新排队，下次发送时将再次尝试",
                  refused="danger")
    return redirect(url_for("notifications.outbox"))


nav_entry(97, "通知邮件", "notifications.outbox", ("admin",), group="system")
