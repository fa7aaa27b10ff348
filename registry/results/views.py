from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..chase import services as chasing
from ..audit.services import events_of
from ..core.access import login_only
from ..core.enums import RESULT_STATUSES
from ..core.forms import save_form
from ..core.formatting import date_cn
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.queries import count, every, first
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..duty.forms import ReturnForm, VersionForm
from ..extensions import db
from ..main.home import panel
from ..regions.sections import section
from ..transfer.exporting import count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from .forms import ResultForm
from .imports import ResultImport, export_row
from .models import VillageResult
from .services import (
    FIELDS,
    RESULT_ORDER,
    ResultData,
    can_verify,
    earliest_year,
    file_result,
    result_status_counts,
    results_by_year,
    results_for,
    results_to_verify,
    return_result,
    update_result,
    verify_result,
)

bp = Blueprint("results", __name__, url_prefix="/results")


def _list_filters() -> tuple[str, int | None]:
    status = request.args.get("status", "filed" if can_verify(current_user) else "")
    status = status if status in RESULT_STATUSES else ""
    year = int_arg(request.args, "year", "年度", minimum=YEAR_MIN, maximum=YEAR_MAX)  # blank: every year
    return status, year


@bp.route("/")
@login_only
def index():
    status, year = _list_filters()
    page = paginate(results_for(current_user, status=status, year=year), RESULT_ORDER, request.args)
    years = sorted({*_years(), *([year] if year else [])}, reverse=True)
    return render_template("results/index.html", page=page, status=status, year=year, years=years,
                           counts=result_status_counts(current_user),
                           chases=chasing.result_states(r.id for r in page.items),
                           verify=can_verify(current_user) and current_user.can("verify_results"),
                           file=current_user.can("file_results"))


@bp.route("/export.<fmt>")
@export_job("results", "帮扶实效")
@require("export")
def export(fmt: str):
    """帮扶实效 as a ledger, with the list's filters (status "" is every status)."""
    status, year = _list_filters()
    count_rows(results_for(current_user, status=status, year=year))  # a large export is a job
    # the import's columns (and the review's, read-only), so the ledger imports again
    rows = (export_row(r) for r in db.session.scalars(results_for(current_user, status=status, year=year)))
    shown = describe_filters([("状态", RESULT_STATUSES.get(status, "")), ("年度", str(year) if year else "")])
    return send_export(fmt, "帮扶实效", ResultImport.export_columns(), rows, filters=shown)


def _data(form: ResultForm) -> ResultData:
    return ResultData(**{name: getattr(form, name).data for name in ("year", *FIELDS, "note", "amount_confirmed")})


def _years() -> list[int]:
    return list(range(local_today().year, earliest_year() - 1, -1))


@bp.route("/new", methods=["GET", "POST"])
@require("file_results")
def new():
    form = ResultForm()
    form.set_years(_years())
    if not form.is_submitted():
        form.year.data = str(local_today().year - 1)
    if form.validate_on_submit():
        saved = save_form(form, lambda: file_result(current_user.village_code, _data(form), current_user),
                          success=lambda result: f"{result.year}年帮扶实效已提交，等待乡镇或县市区核验",
                          redirect_to=lambda result: url_for("results.detail", result_id=result.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("results/form.html", form=form, result=None), status


@bp.route("/<int:result_id>/edit", methods=["GET", "POST"])
@require("file_results")
def edit(result_id: int):
    result = get_in_scope_or_404(VillageResult, result_id)
    if result.locked:
        flash("已核验的帮扶实效已锁定，不能修改", "warning")
        return redirect(url_for("results.detail", result_id=result.id))
    form = ResultForm(obj=result)
    form.set_years([result.year])
    if not form.is_submitted():
        form.year.data = str(result.year)
        form.version.data = result.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: update_result(result, _data(form), current_user, version=form.version.data),
                          success="帮扶实效已重新提交，等待核验",
                          redirect_to=url_for("results.detail", result_id=result.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("results/form.html", form=form, result=result), status


@bp.route("/<int:result_id>")
@login_only
def detail(result_id: int):
    result = get_in_scope_or_404(VillageResult, result_id)
    history = events_of(current_user, "VillageResult", result.id)
    item = chasing.result_item(result)
    may_chase = current_user.can("chase") and chasing.may_chase(current_user) and item.is_open
    return render_template("results/detail.html", result=result, history=history, fields=FIELDS,
                           chase_state=chasing.state_of(item), chase_history=chasing.history(item, current_user),
                           chase_url=url_for("chase.result", result_id=result.id) if may_chase else None,
                           verify=can_verify(current_user) and current_user.can("verify_results"),
                           file=current_user.can("file_results"), form=VersionForm())


@bp.route("/<int:result_id>/verify", methods=["POST"])
@require("verify_results")
def verify(result_id: int):
    result = get_in_scope_or_404(VillageResult, result_id)
    if not can_verify(current_user):
        abort(403)
    form = VersionForm()
    if form.validate_on_submit():
        save_form(form, lambda: verify_result(result, current_user, version=form.version.data or None),
                  success=lambda _: f"已核验{result.village.name}{result.year}年帮扶实效", refused="danger")
    return redirect(url_for("results.detail", result_id=result.id))


@bp.route("/<int:result_id>/return", methods=["GET", "POST"])
@require("verify_results")
def send_back(result_id: int):
    result = get_in_scope_or_404(VillageResult, result_id)
    if not can_verify(current_user):
        abort(403)
    form = ReturnForm()
    if not form.is_submitted():
        form.version.data = result.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: return_result(result, form.reason.data, current_user,
                                                      version=form.version.data or None),
                          success="已退回，村修改后重新提交", redirect_to=url_for("results.detail", result_id=result.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("results/return.html", form=form, result=result, fields=FIELDS), status


# -- navigation, home panels, village section ---------------------------------------------------

nav_entry(54, "帮扶实效", "results.index", ("admin", "region", "viewer", "unit", "village"), group="work")


@panel
def _to_verify(user):
    if not (can_verify(user) and user.role == "region"):
        return None
    stmt = results_to_verify(user)
    rows = first(stmt, 5)
    return {
        "title": "待核验的帮扶实效", "count": count(stmt),
        "rows": [{"text": f"{r.village.name} · {r.year}年", "url": url_for("results.detail", result_id=r.id),
                  "note": f"提交于{date_cn(r.filed_at)}"} for r in rows],
        "link": url_for("results.index", status="filed"), "empty": "没有待核验的帮扶实效",
    }


@panel
def _village_results(user):
    if user.role != "village":
        return None
    last_year = local_today().year - 1
    results = first(results_by_year(user), 3)
    rows = []
    if last_year >= earliest_year() and not any(r.year == last_year for r in results):
        rows.append({"text": f"{last_year}年帮扶实效尚未填报", "url": url_for("results.new"), "note": "请填报"})
    rows += [
        {"text": f"{r.year}年 · {r.status_label}", "url": url_for("results.edit" if r.status == "returned" else "results.detail", result_id=r.id),
         "note": f"退回原因：{r.return_reason}" if r.status == "returned" else ""}
        for r in results
    ]
    return {"title": "本村帮扶实效", "count": None, "rows": rows, "link": url_for("results.index"), "empty": "暂无"}


@section
def _results_section(region, user):
    if region.level != "village":
        return None
    results = every(results_by_year(user, region.code))
    return "results/_village_section.html", {"results": results, "region": region,
                                             "file": user.role == "village" and user.village_code == region.code}
