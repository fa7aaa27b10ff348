"""The 催办 pages: one per kind of item, each showing the item's chases and escalations
and the form. Load in scope (404) → permission (403) → validate → ``services.chase`` →
flash → back to the worklist that sent the user (``next``) or the item's page."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user

from ..core.enums import VILLAGE_ROLES
from ..core.forms import save_form
from ..extensions import db
from ..main.home import panel
from ..core.navigation import back_to, next_arg
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from ..duty.forms import month_value, parse_month
from ..people.models import Posting
from ..records.models import SupportRecord
from ..results.models import VillageResult
from . import services
from .forms import ChaseForm, DutyChaseForm
from .models import ESCALATION_LEVELS, LEVEL_LABELS

bp = Blueprint("chase", __name__, url_prefix="/chase")


def _page(item: services.Item, form, status: int = 200, **extra):
    return render_template("chase/form.html", item=item, form=form, state=services.state_of(item),
                           history=services.history(item, current_user), back=next_arg() or item.url,
                           level_label=LEVEL_LABELS.get(services.chase_level(current_user) or "", ""), **extra), status


def _chase(item: services.Item, form, **extra):
    if request.method == "GET":
        form.next.data = next_arg() or ""
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.chase(item, current_user, form.note.data),
                          success=f"已催办：{item.title}", redirect_to=lambda _: back_to(item.url))
        if saved:
            return saved
        return _page(item, form, 422, **extra)
    return _page(item, form, 422 if request.method == "POST" else 200, **extra)


@bp.route("/record/<int:record_id>", methods=["GET", "POST"])
@require("chase")
def record(record_id: int):
    """催办 a support record overdue for the village's confirmation."""
    return _chase(services.record_item(get_in_scope_or_404(SupportRecord, record_id)), ChaseForm())


@bp.route("/result/<int:result_id>", methods=["GET", "POST"])
@require("chase")
def result(result_id: int):
    """催办 a village result not yet verified (filed, or returned to the village)."""
    return _chase(services.result_item(get_in_scope_or_404(VillageResult, result_id)), ChaseForm())


@bp.route("/duty/<int:posting_id>", methods=["GET", "POST"])
@require("chase")
def duty(posting_id: int):
    """催办 a village posting's month with no 驻村纪实 filed (``month``: 2026-10)."""
    posting = get_in_scope_or_404(Posting, posting_id)
    missing = services.missing_months(posting)
    form = DutyChaseForm()
    form.set_months(missing)
    if request.method == "GET":
        form.month.data = request.args.get("month") or (month_value(missing[0]) if missing else "")
    return _chase(services.duty_item(posting, parse_month(form.month.data)), form, months=missing,
                  village_posting=posting.role in VILLAGE_ROLES)


# -- the county's and city's home panel ----------------------------------------------------------


@panel
def _escalated_here(user):
    """Records still overdue that escalated to the user's own level (county or city); none: no panel."""
    level = services.chase_level(user) if user.role == "region" else None
    if level not in ESCALATION_LEVELS:
        return None
    stmt = services.escalated_records(user, level)
    total = services.count(stmt)
    if not total:  # nothing escalated here: no panel
        return None
    rows = db.session.execute(stmt.limit(5)).all()
    return {
        "title": f"升级至{LEVEL_LABELS[level]}督办的逾期记录",
        "count": total,
        "rows": [{"text": f"{r.title}", "url": url_for("records.detail", record_id=r.record_id),
                  "note": f"{r.due_on.year}年{r.due_on.month}月{r.due_on.day}日升级"} for r in rows],
        "link": url_for("records.overdue", chase=level),
    }
