"""Pages of 年度关账: the close page (what closing freezes, what is still pending), the
关账记录 list, and one close with its reopening requests and every step's audit event."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.services import events_of
from ..core.navigation import nav_entry
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.queries import every
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today, to_local
from ..extensions import db
from ..transfer.exporting import audit_export, describe_filters, send_export
from ..transfer.references import labelled
from ..transfer.writing import Column
from .forms import CloseForm, DecisionForm, ReopenForm
from .models import KINDS, ReopenRequest, YearClose
from .services import (
    acting_region,
    approve_reopen,
    close_year,
    closable_years,
    closes_for,
    covering_close,
    is_expired,
    may_close,
    may_decide,
    may_reclose,
    may_request,
    pending_items,
    reclose,
    reopening_text,
    reject_reopen,
    request_reopen,
    requests_by_close,
    requests_for,
)

bp = Blueprint("closing", __name__, url_prefix="/closing")

# what a close freezes, in the words of the close page (one list, shown before confirming)
FREEZES = [
    ("驻村纪实", "该年度各月的驻村纪实：不能新增、修改、核实或退回"),
    ("帮扶实效", "该年度各村的帮扶实效：不能新增、修改、核验或退回"),
    ("考核结果", "该年度干部和帮扶单位的考核等次：不能新评或改评"),
    ("表扬激励和约谈", "日期在该年度内的表扬激励和约谈：不能新增（已登记约谈的整改和销号不受影响）"),
    ("帮扶记录", "帮扶日期在该年度内的帮扶记录：不能新增、修改、提交、撤回、确认、提出异议或更正，也不能把记录改到该年度"),
    ("受赠资金", "到账日期在该年度内的公益慈善组织受赠资金：不能新增"),
    ("企业项目", "进展日期在该年度内的项目进展：不能新增，涉及的村也不能再确认或提出异议（涉及多个村的，任一村在关账范围内即冻结）；"
                 "签约日期在该年度内的项目：不能新登记，也不能修改计划投资、类型、湘商回归、签约日期和涉及的村（项目名称和简介仍可修改）"),
    ("关心关爱", "日期（体检日期、补助保险休假期间的开始日期）在该年度内的关心关爱记录：不能新增或作废"),
]


def _year_arg() -> int:
    """``?year=``: last year when blank; a year the page does not offer, its first one;
    400 if it is not a year."""
    year = int_arg(request.args, "year", "年度", default=local_today().year - 1, minimum=YEAR_MIN, maximum=YEAR_MAX)
    return year if year in closable_years() else closable_years()[0]


@bp.route("/")
@require("read_region")
def index():
    """关账记录: the closes the user may see, each with its reopenings."""
    closes = every(closes_for(current_user))
    requests = requests_by_close(current_user, closes)
    return render_template("closing/index.html", closes=closes, requests=requests, can_close=may_close(current_user),
                           reopening=reopening_text)


CLOSE_COLUMNS = (
    Column("年度", "year", "int", 8), Column("关账单位", "region", width=28), Column("关账人", "closed_by", width=16),
    Column("关账时间", "closed_at", "datetime", 18), Column("关账时待处理事项", "pending_note", width=40),
    Column("重新开放", "reopenings", width=60),
)


@bp.route("/export.<fmt>")
@require("read_region")
def export(fmt: str):
    """关账记录 as the list shows it, each close with its reopenings (a cell, one a line).
    A few rows a year (one a region that closed): not a job; the staff who closed are
    named, so it is audited as every export of personal data is."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    closes = every(closes_for(current_user))
    requests = requests_by_close(current_user, closes)
    shown = describe_filters([])
    audit_export("YearClose", "关账记录", len(closes), fmt, shown)
    rows = ([c.year, labelled(c.region.name, c.region_code),
             (c.closed_by.display_name or c.closed_by.username) if c.closed_by else "",
             to_local(c.closed_at).replace(tzinfo=None), c.pending_note or "无",
             "\n".join(reopening_text(r) for r in requests[c.id]) or "无"] for c in closes)
    return send_export(fmt, "关账记录", CLOSE_COLUMNS, rows, filters=shown)


@bp.route("/close", methods=["GET", "POST"])
@require("close_year")
def close():
    if not may_close(current_user):
        abort(403)
    region = acting_region(current_user)
    year = _year_arg() if request.method == "GET" else _form_year()
    form = CloseForm()
    if not form.is_submitted():
        form.year.data = year
    existing = covering_close(year, region.code)
    items = pending_items(region, year)
    if form.validate_on_submit():
        if items and form.pending_choice.data == "finish":
            flash(f"尚未关账：请先处理{region.name}{year}年度的待办事项，再来关账", "info")
            first = items[0]
            return redirect(url_for(first.endpoint, **first.args))
        try:
            done = close_year(current_user, year, form.pending_choice.data, form.confirm.data)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            flash(f"{region.name}{year}年度已关账", "success")
            return redirect(url_for("closing.detail", close_id=done.id))
    status = 422 if form.is_submitted() else 200
    return render_template("closing/close.html", form=form, region=region, year=year, years=closable_years(),
                           existing=existing, items=items, freezes=FREEZES), status


def _form_year() -> int:
    year = int_arg(request.form, "year", "年度", minimum=YEAR_MIN, maximum=YEAR_MAX)
    if year is None:
        abort(400)
    return year


@bp.route("/<int:close_id>")
@require("read_region")
def detail(close_id: int):
    close = get_in_scope_or_404(YearClose, close_id)
    return _detail(close)


def _detail(close: YearClose, form: ReopenForm | None = None, status: int = 200):
    requests = requests_for(current_user, close)
    history = events_of(current_user, "YearClose", close.id)
    for item in requests:
        history += events_of(current_user, "ReopenRequest", item.id)
    history.sort(key=lambda e: e.id)
    return render_template(
        "closing/detail.html", close=close, requests=requests, history=history, freezes=FREEZES, kinds=KINDS,
        form=form or ReopenForm(formdata=None), decision=DecisionForm(formdata=None),
        can_request=current_user.can("reopen_year") and may_request(current_user, close),
        may_decide=lambda r: current_user.can("reopen_year") and may_decide(current_user, r),
        may_reclose=lambda r: current_user.can("reopen_year") and may_reclose(current_user, r),
        expired=is_expired,
    ), status


@bp.route("/<int:close_id>/reopen", methods=["POST"])
@require("reopen_year")
def reopen(close_id: int):
    close = get_in_scope_or_404(YearClose, close_id)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            request_reopen(close, current_user, form.kinds.data, form.reason.data, form.deadline.data)
        except RuleViolation as violation:
            db.session.rollback()
            violation.apply_to_form(form)
        else:
            flash("已提交重新开放申请，等待关账单位或其上级审批", "success")
            return redirect(url_for("closing.detail", close_id=close.id))
    return _detail(close, form, 422)


def _decide(request_id: int, action, done: str):
    item = get_in_scope_or_404(ReopenRequest, request_id)
    form = DecisionForm()
    if not form.validate_on_submit():  # a note past its length (the page's own limits it)
        for message in form.note.errors:
            flash(f"{form.note.label.text}：{message}", "danger")
    else:
        try:
            action(item, form.note.data)
        except RuleViolation as violation:
            db.session.rollback()
            flash(violation.message, "danger")
        else:
            flash(done, "success")
    return redirect(url_for("closing.detail", close_id=item.year_close_id))


@bp.route("/reopen/<int:request_id>/approve", methods=["POST"])
@require("reopen_year")
def approve(request_id: int):
    return _decide(request_id, lambda item, note: approve_reopen(item, current_user, note), "已批准重新开放")


@bp.route("/reopen/<int:request_id>/reject", methods=["POST"])
@require("reopen_year")
def reject(request_id: int):
    return _decide(request_id, lambda item, note: reject_reopen(item, current_user, note), "已不批准该申请")


@bp.route("/reopen/<int:request_id>/reclose", methods=["POST"])
@require("reopen_year")
def close_again(request_id: int):
    return _decide(request_id, lambda item, note: reclose(item, current_user), "已重新关账")


nav_entry(85, "年度关账", "closing.index", ("admin", "region", "viewer"), group="system")
