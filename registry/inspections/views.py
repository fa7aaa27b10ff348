"""Inspections (督查): plans, inspections with their visits and findings, the findings' list,
export and rectification. Each view: load in scope (404) → the role and the rules' "may" (403)
→ the service → flash → redirect."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..assessment.forms import FollowUpForm
from ..audit.services import events_of
from ..core.forms import save_form, select_choices
from ..core.formatting import date_cn
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.queries import count, first
from ..core.scope import get_in_scope_or_404, scoped
from ..core.timeutil import local_today, to_local
from ..extensions import db, talisman
from ..main.home import panel
from ..records import evidence as files
from ..records.forms import EvidenceForm
from ..regions.sections import section
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from . import services, tolerance
from .imports import FindingImport  # tolerance: registers the finding as a subject of 容错纠错
from .forms import FindingForm, PlanForm, TargetForm, VisitForm
from .models import FINDING_ITEMS, Finding, FindingEvidence, Inspection, InspectionPlan

bp = Blueprint("inspections", __name__, url_prefix="/inspections")


def _year_arg() -> int | None:
    """``year`` of the query string: None (all years) when blank; 400 if it is not a year."""
    return int_arg(request.args, "year", "年度", default=None, minimum=YEAR_MIN, maximum=YEAR_MAX)


# -- plans ----------------------------------------------------------------------------------------


@bp.route("/")
@require("read_inspections")
def index():
    year = _year_arg()
    plans = list(db.session.scalars(services.plans_for(current_user, year)))
    page = paginate(services.inspections_for(current_user, year), services.INSPECTION_ORDER, request.args)
    return render_template("inspections/index.html", plans=plans, page=page, year=year,
                           years=services.plan_years(), counts=services.finding_counts([i.id for i in page.items]),
                           may_plan=current_user.can("inspect") and services.may_plan(current_user),
                           overdue=count(services.overdue_findings(current_user)))


INSPECTION_COLUMNS = (
    Column("编号", "id", "int", 8), Column("年度", "year", "int", 8), Column("督查计划", "plan", width=24),
    Column("督查层级", "level", width=8), Column("督查单位", "inspector", width=16),
    Column("被督查对象", "target", width=24), Column("对象类别", "kind", width=8), Column("督查重点", "focus", width=30),
    Column("走访次数", "visits", "int", 8), Column("走访日期", "visit_dates", width=24),
    Column("问题数", "findings", "int", 8), Column("待整改", "open", "int", 8), Column("整改中", "rectifying", "int", 8),
    Column("已销号", "closed", "int", 8), Column("逾期未销号", "overdue", "int", 10), Column("督查结果", "result", width=16),
)


@bp.route("/export.<fmt>")
@export_job("inspections", "督查")
@require("read_inspections")
def export(fmt: str):
    """The inspections of the list as filtered (the year), with their visits and findings by
    state; a plan's title only where the plan itself is in scope (as on the inspection's page)."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    year = _year_arg()
    stmt = services.inspections_for(current_user, year)
    shown = describe_filters([("年度", f"{year}年" if year else "")])
    audit_export("Inspection", "督查", count_rows(stmt), fmt, shown)
    plans = set(db.session.scalars(scoped(select(InspectionPlan.id), InspectionPlan, current_user)))
    rows = ([i.id, i.year, i.plan.title if i.plan_id in plans else "", services.INSPECTING_LEVELS.get(i.inspector_region.level, i.inspector_region.level_label),
             i.inspector_region.name, i.target_name, i.target_kind_label, i.focus, len(line.visit_dates),
             "、".join(map(date_cn, line.visit_dates)), line.findings,
             *(line.counts.get(k, 0) for k in ("open", "rectifying", "closed", "overdue")), line.result]
            for line in services.inspection_lines(stmt) for i in (line.inspection,))
    return send_export(fmt, "督查", INSPECTION_COLUMNS, rows, filters=shown)


@bp.route("/plans/new", methods=["GET", "POST"])
@require("inspect")
def new_plan():
    region = services.planning_region(current_user)
    if region is None:
        abort(403)
    form = PlanForm()
    form.year.choices = select_choices((str(y), f"{y}年") for y in services.plan_years())
    if not form.is_submitted():
        form.year.data = str(local_today().year)
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.create_plan(current_user, form.year.data, form.title.data,
                                                             form.note.data),
                          success=lambda plan: f"已制定{plan.year}年度督查计划",
                          redirect_to=lambda plan: url_for("inspections.plan", plan_id=plan.id))
        if saved:
            return saved
    return render_template("inspections/plan_form.html", form=form, region=region), \
        422 if form.is_submitted() else 200


def _plan_page(plan: InspectionPlan, form: TargetForm | None = None, status: int = 200):
    keep = current_user.can("inspect") and services.may_keep(current_user, plan)
    form = form or TargetForm(formdata=None)
    if keep:
        form.target.choices = select_choices([("", "请选择"), *services.target_choices(plan)])
    return render_template("inspections/plan.html", plan=plan, form=form, keep=keep,
                           counts=services.finding_counts([i.id for i in plan.inspections]),
                           history=events_of(current_user, "InspectionPlan", plan.id)), status


@bp.route("/plans/<int:plan_id>")
@require("read_inspections")
def plan(plan_id: int):
    return _plan_page(get_in_scope_or_404(InspectionPlan, plan_id))


@bp.route("/plans/<int:plan_id>/targets", methods=["POST"])
@require("inspect")
def add_target(plan_id: int):
    plan = get_in_scope_or_404(InspectionPlan, plan_id)
    if not services.may_keep(current_user, plan):
        abort(403)
    form = TargetForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.add_inspection(plan, current_user, form.target.data, form.focus.data),
                          success=lambda i: f"已将{i.target_name}列入督查计划",
                          redirect_to=lambda i: url_for("inspections.plan", plan_id=plan.id))
        if saved:
            return saved
    return _plan_page(plan, form, 422)


# -- one inspection: visits and findings -------------------------------------------------------------


def _inspection_page(inspection: Inspection, *, visit_form=None, finding_form=None, status: int = 200):
    keep = current_user.can("inspect") and services.may_keep(current_user, inspection)
    visit_form = visit_form or VisitForm(formdata=None)
    finding_form = finding_form or FindingForm(formdata=None)
    finding_form.visit_id.choices = select_choices(
        [("", "（不指定）"), *((str(v.id), f"{date_cn(v.visited_on)} {v.team[:20]}") for v in inspection.visits)])
    findings = list(db.session.scalars(services.findings_for(
        current_user, services.FindingFilters(inspection_id=inspection.id))))
    return render_template("inspections/inspection.html", inspection=inspection, findings=findings, keep=keep,
                           visit_form=visit_form, finding_form=finding_form,
                           plan_visible=_plan_visible(inspection),
                           history=events_of(current_user, "Inspection", inspection.id)), status


def _plan_visible(inspection: Inspection) -> bool:
    from ..core.scope import in_scope

    return in_scope(InspectionPlan, inspection.plan_id, current_user)


@bp.route("/<int:inspection_id>")
@require("read_inspections")
def inspection(inspection_id: int):
    return _inspection_page(get_in_scope_or_404(Inspection, inspection_id))


def _kept_inspection(inspection_id: int) -> Inspection:
    inspection = get_in_scope_or_404(Inspection, inspection_id)
    if not services.may_keep(current_user, inspection):
        abort(403)
    return inspection


@bp.route("/<int:inspection_id>/visits", methods=["POST"])
@require("inspect")
def add_visit(inspection_id: int):
    inspection = _kept_inspection(inspection_id)
    form = VisitForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.add_visit(inspection, current_user, form.visited_on.data,
                                                           form.team.data, form.summary.data),
                          success="已登记督查走访", redirect_to=url_for("inspections.inspection", inspection_id=inspection.id))
        if saved:
            return saved
    return _inspection_page(inspection, visit_form=form, status=422)


@bp.route("/<int:inspection_id>/findings", methods=["POST"])
@require("inspect")
def add_finding(inspection_id: int):
    inspection = _kept_inspection(inspection_id)
    form = FindingForm()
    form.visit_id.choices = []
    if form.validate_on_submit():
        data = services.FindingData(item=form.item.data, description=form.description.data,
                                    deadline=form.deadline.data, visit_id=form.visit_id.data,
                                    uploads=request.files.getlist("files"))
        saved = save_form(form, lambda: services.add_finding(inspection, current_user, data),
                          success=lambda f: f"已登记督查问题，整改期限{date_cn(f.deadline)}",
                          redirect_to=lambda f: url_for("inspections.finding", finding_id=f.id))
        if saved:
            return saved
    return _inspection_page(inspection, finding_form=form, status=422)


# -- findings ------------------------------------------------------------------------------------------


@bp.route("/findings/")
@require("read_inspections")
def findings():
    filters = services.FindingFilters.from_args(request.args)
    page = paginate(services.findings_for(current_user, filters), services.FINDING_ORDER, request.args)
    return render_template("inspections/findings.html", page=page, filters=filters, states=services.STATES,
                           items=FINDING_ITEMS, years=services.plan_years(),
                           may_import=FindingImport().may(current_user))


FINDING_COLUMNS = (
    Column("编号", "id", "int", 8), Column("年度", "year", "int", 8), Column("督查单位", "inspector", width=16),
    Column("被督查对象", "target", width=24), Column("督查事项", "item", width=12), Column("问题描述", "description", width=40),
    Column("整改期限", "deadline", "date", 12), Column("整改状态", "status", width=10), Column("是否逾期", "overdue", width=8),
    Column("整改情况", "rectify_note", width=30), Column("登记整改时间", "rectify_at", "datetime", 17),
    Column("销号说明", "close_note", width=30), Column("销号时间", "closed_at", "datetime", 17),
)


def _local(moment):
    return to_local(moment).replace(tzinfo=None) if moment is not None else None


@bp.route("/findings/export.<fmt>")
@export_job("findings", "督查问题")
@require("read_inspections")
def findings_export(fmt: str):
    """督查问题 as a ledger, with the list's filters."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    filters = services.FindingFilters.from_args(request.args)
    stmt = services.findings_for(current_user, filters)
    shown = describe_filters(filters.shown())
    audit_export("Finding", "督查问题", count_rows(stmt), fmt, shown)
    rows = ([f.id, f.year, f.inspector_region.name, f.target_name, f.item_label, f.description, f.deadline,
             f.status_label, "是" if f.is_overdue else "否", f.rectify_note, _local(f.rectify_at), f.close_note,
             _local(f.closed_at)] for f in db.session.scalars(stmt))
    return send_export(fmt, "督查问题", FINDING_COLUMNS, rows, filters=shown)


def _finding_page(finding: Finding, form: FollowUpForm | None = None, evidence_form=None, status: int = 200):
    form = form or FollowUpForm(formdata=None)
    if not form.version.data:
        form.version.data = finding.version
    return render_template(
        "inspections/finding.html", f=finding, form=form, evidence_form=evidence_form or EvidenceForm(formdata=None),
        report=current_user.can("rectify_findings") and services.is_inspected_party(current_user, finding),
        close=current_user.can("inspect") and services.may_close(current_user, finding),
        stage=services.evidence_stage(current_user, finding) if current_user.can("finding_evidence") else None,
        history=events_of(current_user, "Finding", finding.id),
        may_apply_tolerance=current_user.can("apply_tolerance") and services.is_inspected_party(current_user, finding),
    ), status


@bp.route("/findings/<int:finding_id>")
@require("read_inspections")
def finding(finding_id: int):
    return _finding_page(get_in_scope_or_404(Finding, finding_id))


@bp.route("/findings/<int:finding_id>/tolerance", methods=["GET", "POST"])
@require("apply_tolerance")
def apply_tolerance(finding_id: int):
    """容错纠错 about a finding: the fault-tolerance feature's form and rules
    (``inspections.tolerance``: only the inspected party applies)."""
    from ..tolerance.views import application_page

    return application_page(tolerance.KIND, get_in_scope_or_404(Finding, finding_id))


@bp.route("/findings/<int:finding_id>/rectify", methods=["POST"])
@require("rectify_findings")
def rectify(finding_id: int):
    return _follow_up(finding_id, services.is_inspected_party, services.rectify, "已登记整改情况，问题进入“整改中”")


@bp.route("/findings/<int:finding_id>/close", methods=["POST"])
@require("inspect")
def close(finding_id: int):
    return _follow_up(finding_id, services.may_close, services.close, "督查问题已销号")


def _follow_up(finding_id: int, allowed, action, done: str):
    """A finding's next step: in scope, allowed, then the service; a refusal shows the page
    again with the note kept."""
    finding = get_in_scope_or_404(Finding, finding_id)
    if not allowed(current_user, finding):
        abort(403)
    form = FollowUpForm()
    back = url_for("inspections.finding", finding_id=finding.id)
    if form.validate_on_submit():
        saved = save_form(form, lambda: action(finding, form.note.data, current_user, version=form.version.data),
                          success=done, redirect_to=back)
        return saved or _finding_page(finding, form, status=422)
    return redirect(back)


@bp.route("/findings/<int:finding_id>/evidence", methods=["POST"])
@require("finding_evidence")
def upload(finding_id: int):
    finding = get_in_scope_or_404(Finding, finding_id)
    if not (services.may_keep(current_user, finding) or services.is_inspected_party(current_user, finding)):
        abort(403)
    form = EvidenceForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.add_evidence(finding, current_user, request.files.getlist("files")),
                          success=lambda n: f"已上传 {n} 个佐证文件" if n else "这些文件已上传过",
                          redirect_to=url_for("inspections.finding", finding_id=finding.id))
        if saved:
            return saved
    return _finding_page(finding, evidence_form=form, status=422)


# A file is shown on its own: nothing in it may run or load anything (as a record's evidence).
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@bp.route("/findings/<int:finding_id>/evidence/<int:file_id>")
@talisman(content_security_policy=FILE_CSP)
@require("read_inspections")
def evidence_file(finding_id: int, file_id: int):
    finding = get_in_scope_or_404(Finding, finding_id)
    item = get_in_scope_or_404(FindingEvidence, file_id)
    if item.finding_id != finding.id:
        abort(404)
    return files.serve_item(item)


# -- navigation and the home worklist -------------------------------------------------------------------

nav_entry(57, "督查", "inspections.index", ("admin", "region", "viewer", "unit"), group="oversight")


@section
def _region_findings(region, user):
    """A city's or county's page: this year's findings of its inspections, by state."""
    if region.level not in ("city", "county") or not user.can("read_inspections"):
        return None
    year = local_today().year
    counts = services.region_summary(user, region.code, year)
    if not any(counts.values()):
        return None
    return "inspections/_region_section.html", {"region": region, "year": year, "counts": counts}


@panel
def _overdue_findings(user):
    """Findings in scope past their deadline and not closed (the inspected party's and the
    inspecting side's worklist); no panel when there are none."""
    if user.role not in ("region", "viewer", "unit"):
        return None
    stmt = services.overdue_findings(user)
    total = count(stmt)
    if not total:
        return None
    return {
        "title": "督查问题逾期未销号",
        "count": total,
        "rows": [{"text": f"{f.target_name} · {f.item_label} · {f.status_label}",
                  "url": url_for("inspections.finding", finding_id=f.id),
                  "note": f"整改期限{f.deadline.year}年{f.deadline.month}月{f.deadline.day}日，已逾期{f.days_overdue}天"}
                 for f in first(stmt, 5)],
        "link": url_for("inspections.findings", state="overdue"),
        "link_text": "查看全部逾期问题",
    }
