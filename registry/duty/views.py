from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..chase import services as chasing
from ..core.access import for_cadres, login_only
from ..core.enums import DUTY_STATUSES, VILLAGE_ROLES
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core import paging
from ..core.paging import paginate
from ..core.parsing import BadArgument
from ..core.permissions import require
from ..core.queries import count, first
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..extensions import db
from ..main.home import panel
from ..people import privacy
from ..people.models import Posting
from ..people.privacy import shown_id_number
from ..regions.sections import section
from ..transfer.exporting import audit_export, count_rows, describe_filters, export_purpose, send_export
from ..transfer.exports import export_job
from .forms import DutyForm, ReturnForm, VersionForm, month_value, parse_month
from .imports import DutyImport, export_row
from .models import DutyMonth
from .services import (
    DUTY_MONTH_ORDER,
    VILLAGE_POSTING_ORDER,
    DutyData,
    active_village_postings,
    check_month,
    duty_months_for,
    duty_status_counts,
    file_month,
    filter_months,
    latest_months,
    min_days,
    months_to_check,
    months_to_check_count,
    posting_month_rows,
    postings_to_file,
    previous_month,
    recent_months,
    return_month,
    returned_months,
    short_month_count,
    update_month,
    village_postings_at,
)

bp = Blueprint("duty", __name__, url_prefix="/duty")


def _list_filters():
    status = request.args.get("status", "filed" if current_user.can("check_duty") else "")
    status = status if status in DUTY_STATUSES else ""
    raw = request.args.get("month", "").strip()
    month = parse_month(raw)
    if raw and month is None:
        raise BadArgument("月份（month）格式应为 年-月，如 2025-03", "month")
    return status, request.args.get("short") == "1", month


@bp.route("/")
@for_cadres
@login_only
def index():
    """Filed months in scope: the township's worklist (待核实) and the flagged months."""
    status, short, month = _list_filters()
    stmt = duty_months_for(current_user, status=status, short=short, month=month)
    page = paginate(stmt, DUTY_MONTH_ORDER, request.args)
    return render_template(
        "duty/index.html", page=page, status=status, short=short, month=month_value(month) if month else "",
        month_groups=filter_months(month), month_value=month_value,
        # the tabs' counts stop where the pager's does (a province's months are never all read)
        counts=duty_status_counts(current_user, paging.COUNT_LIMIT, known=(
            {status: paging.COUNT_LIMIT + 1 if page.total is None else page.total}
            if status in DUTY_STATUSES and not short and month is None else None)),
        short_count=short_month_count(current_user, paging.COUNT_LIMIT), count_limit=paging.COUNT_LIMIT,
        minimum=min_days(), check=current_user.can("check_duty"),
        empty=VersionForm(),
    )


@bp.route("/export.<fmt>")
@export_job("duty", "驻村纪实")
@for_cadres  # a cadre: their own months, as their list shows them
@require("export_duty")
def export(fmt: str):
    """驻村纪实 as a ledger, with the list's filters, in the import's columns (so the file
    imports again); ID numbers as the privacy rule shows them; personal data, so audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    status, short, month = _list_filters()
    stmt = duty_months_for(current_user, status=status, short=short, month=month)
    shown = describe_filters([("状态", DUTY_STATUSES.get(status, "")), ("只看不足天数的月份", "是" if short else ""),
                              ("月份", month_value(month) if month else "")])
    full, purpose = export_purpose(lambda: privacy.count_full(
        stmt, select(Posting.person_id).where(Posting.id == DutyMonth.posting_id).scalar_subquery()))
    audit_export("DutyMonth", "驻村纪实", count_rows(stmt), fmt, shown, full=full, purpose=purpose)
    rows = (export_row(d, shown_id_number(d.posting.person))
            for d in privacy.primed(db.session.scalars(stmt.execution_options(yield_per=1000)), lambda d: d.posting.person))
    return send_export(fmt, "驻村纪实", DutyImport.export_columns(), rows, filters=shown)


@bp.route("/postings")
@login_only
def postings():
    """Active village postings in scope with their last three months."""
    last = previous_month()
    missing = request.args.get("missing") == "1"
    stmt = active_village_postings(current_user, unfiled=last if missing else None)
    page = paginate(stmt, VILLAGE_POSTING_ORDER, request.args)
    months = recent_months(3)
    records = latest_months([p.id for p in page.items], 3)
    return render_template(
        "duty/postings.html", page=page, months=months, records=records, last=last,
        missing=missing, file=current_user.can("file_duty"),
        chases=chasing.duty_states_of(p.id for p in page.items),
        chase=current_user.can("chase") and chasing.may_chase(current_user),
    )


@bp.route("/posting/<int:posting_id>")
@for_cadres
@login_only
def posting(posting_id: int):
    posting = get_in_scope_or_404(Posting, posting_id)
    if posting.role not in VILLAGE_ROLES:
        abort(404)
    rows = posting_month_rows(posting)
    filed = [r.duty for r in rows if r.duty]
    return render_template(
        "duty/posting.html", posting=posting, rows=rows, minimum=min_days(),
        chases=chasing.duty_states(posting.id),
        chase=current_user.can("chase") and chasing.may_chase(current_user),
        file=current_user.can("file_duty"), check=current_user.can("check_duty"), empty=VersionForm(),
        totals={"days": sum(d.days_in_village for d in filed), "absences": sum(d.absences for d in filed),
                "short": sum(1 for d in filed if d.is_short), "missing": sum(1 for r in rows if r.missing)},
    )


def _data(form: DutyForm) -> DutyData:
    return DutyData(
        month=parse_month(form.month.data), days_in_village=form.days_in_village.data, leave_days=form.leave_days.data,
        leave_approved_by=form.leave_approved_by.data, absences=form.absences.data, summary=form.summary.data,
    )


@bp.route("/posting/<int:posting_id>/new", methods=["GET", "POST"])
@for_cadres
@require("file_duty")
def new(posting_id: int):
    posting = get_in_scope_or_404(Posting, posting_id)
    if posting.role not in VILLAGE_ROLES:
        abort(404)
    form = DutyForm()
    rows = posting_month_rows(posting)
    open_months = [r.month for r in rows if r.duty is None]
    form.set_months(open_months)
    if not form.is_submitted():
        overdue = [r.month for r in rows if r.missing]  # newest first
        default = overdue[0] if overdue else (open_months[0] if open_months else None)
        form.month.data = request.args.get("month") or (month_value(default) if default else None)
    if form.validate_on_submit():
        saved = save_form(form, lambda: file_month(posting, _data(form), current_user),
                          success=lambda duty: f"{duty.month.year}年{duty.month.month}月驻村纪实已填报，等待乡镇核实",
                          redirect_to=url_for("duty.posting", posting_id=posting.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("duty/form.html", form=form, posting=posting, duty=None, minimum=min_days()), status


@bp.route("/<int:duty_id>/edit", methods=["GET", "POST"])
@for_cadres
@require("file_duty")
def edit(duty_id: int):
    duty = get_in_scope_or_404(DutyMonth, duty_id)
    if duty.status == "checked":
        flash("该月纪实已核实，不能再修改", "warning")
        return redirect(url_for("duty.posting", posting_id=duty.posting_id))
    form = DutyForm(obj=duty)
    form.set_months([duty.month])
    if not form.is_submitted():
        form.month.data = month_value(duty.month)
        form.version.data = duty.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: update_month(duty, _data(form), current_user, version=form.version.data),
                          success="驻村纪实已保存，等待乡镇核实", redirect_to=url_for("duty.posting", posting_id=duty.posting_id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("duty/form.html", form=form, posting=duty.posting, duty=duty, minimum=min_days()), status


def _back(duty: DutyMonth):
    target = request.form.get("next") or ""
    if target == "list":
        return redirect(url_for("duty.index"))
    return redirect(url_for("duty.posting", posting_id=duty.posting_id))


@bp.route("/<int:duty_id>/check", methods=["POST"])
@require("check_duty")
def check(duty_id: int):
    duty = get_in_scope_or_404(DutyMonth, duty_id)
    form = VersionForm()
    if form.validate_on_submit():
        save_form(form, lambda: check_month(duty, current_user, version=form.version.data or None),
                  success=lambda _: f"已核实 {duty.posting.person.name} {duty.month.year}年{duty.month.month}月的驻村纪实",
                  refused="danger")
    return _back(duty)


@bp.route("/<int:duty_id>/return", methods=["GET", "POST"])
@require("check_duty")
def send_back(duty_id: int):
    duty = get_in_scope_or_404(DutyMonth, duty_id)
    form = ReturnForm()
    if not form.is_submitted():
        form.version.data = duty.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: return_month(duty, form.reason.data, current_user,
                                                     version=form.version.data or None),
                          success="已退回，填报单位或村修改后重新提交",
                          redirect_to=url_for("duty.posting", posting_id=duty.posting_id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("duty/return.html", form=form, duty=duty, minimum=min_days()), status


# -- navigation, home panels, village page section ----------------------------------------------

nav_entry(52, "驻村纪实", "duty.index", ("admin", "region", "viewer", "unit", "village", "cadre"), group="work")


@panel
def _to_check(user):
    if not user.can("check_duty"):
        return None
    stmt = months_to_check(user)
    rows = first(stmt, 5)
    # counted as far as the list's tab counts (a province's months are never all read)
    waiting = months_to_check_count(user, paging.COUNT_LIMIT)
    return {
        "title": "待核实的驻村纪实",
        "count": f"{paging.COUNT_LIMIT:,}+" if waiting > paging.COUNT_LIMIT else waiting,
        "rows": [
            {"text": f"{d.posting.person.name} · {d.month.year}年{d.month.month}月 · 在村{d.days_in_village}天",
             "url": url_for("duty.posting", posting_id=d.posting_id),
             "note": f"{d.posting.region.name}{'，不足' + str(d.required_days) + '天' if d.is_short else ''}"}
            for d in rows
        ],
        "link": url_for("duty.index", status="filed"),
        "empty": "没有待核实的纪实",
    }


@panel
def _to_file(user):
    """Units and villages: active village postings whose last month is not filed yet."""
    if user.role not in ("unit", "village"):
        return None
    last = previous_month()
    stmt = postings_to_file(user, last)
    total = count(stmt)
    returned = first(returned_months(user), 5)
    rows = [
        {"text": f"{d.posting.person.name} · {d.month.year}年{d.month.month}月（已退回）",
         "url": url_for("duty.edit", duty_id=d.id), "note": d.return_reason}
        for d in returned
    ]
    rows += [
        {"text": f"{p.person.name} · {last.year}年{last.month}月未填报", "url": url_for("duty.new", posting_id=p.id, month=month_value(last)),
         "note": f"{p.role_label} · {p.region.name}"}
        for p in first(stmt, 5)
    ]
    if not rows:
        return None
    return {"title": "驻村纪实待填报", "count": total + len(returned), "rows": rows,
            "link": url_for("duty.postings", missing=1), "empty": "已全部填报"}


@section
def _village_duty(region, user):
    if region.level != "village":
        return None
    postings = village_postings_at(user, region.code)
    if not postings:
        return None
    months = recent_months(3)
    return "duty/_village_section.html", {
        "postings": postings, "months": months, "records": latest_months([p.id for p in postings], 3), "today": local_today(),
    }
