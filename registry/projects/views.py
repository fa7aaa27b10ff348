"""Pages of enterprise projects: the list (filters, sums by status, export), a project with
its progress entries, the villages' confirmations and the whole audit trail, the forms of
the enterprise (or region staff) and the village's decision. Each view: load in scope →
call a service → flash → redirect."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..core.access import login_only
from ..core.formatting import money
from ..dashboard.sections import coverage_api_section, coverage_section
from ..organizations.sections import organization_section
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.permissions import require
from ..core.queries import count, every, first
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..extensions import db, talisman
from ..main.home import panel
from ..organizations.models import Organization
from ..records import evidence as files
from ..records.views import FILE_CSP
from ..regions.sections import section
from ..supervision.services import trail_source
from ..transfer.exporting import count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from . import queries, services
from .imports import ProjectImport, export_row
from .forms import DecisionForm, ProgressForm, ProjectForm
from .models import PROJECT_KINDS, PROJECT_STATUSES, Project, ProjectVillage
from .queries import XIANGSHANG, ProjectFilters

bp = Blueprint("projects", __name__, url_prefix="/projects")


def _project_or_404(project_id: int) -> Project:
    return get_in_scope_or_404(Project, project_id)


def _entry_or_404(project: Project, entry_id: int):
    entry = services.entry_of(project, entry_id)
    if entry is None:
        abort(404)
    return entry


def _may_manage(project: Project) -> bool:
    return current_user.can("manage_projects") and services.may_manage(current_user, project) and project.is_open


# -- lists ---------------------------------------------------------------------------------------

@bp.route("/")
@login_only
def index():
    filters = ProjectFilters.from_args(request.args)
    page = paginate(queries.project_list(current_user, filters), queries.PROJECT_ORDER, request.args)
    return render_template("projects/index.html", page=page, filters=filters, totals=queries.list_totals(current_user, filters),
                           statuses=PROJECT_STATUSES, kinds=PROJECT_KINDS, flags=XIANGSHANG,
                           may_new=services.may_register(current_user))


@bp.route("/export.<fmt>")
@export_job("projects", "企业项目")
@require("export")
def export(fmt: str):
    """The list as filtered, in the import's columns (and the read-only ones after them), so
    an export imports again. No personal data: the enterprise's contact and its people are
    not exported (people/privacy.py has nothing to mask here), so the export is not audited
    as a personal-data export."""
    filters = ProjectFilters.from_args(request.args)
    stmt = queries.project_list(current_user, filters)
    count_rows(stmt)  # a large export is a job
    rows = (export_row(p) for p in db.session.scalars(stmt))
    return send_export(fmt, "企业项目", ProjectImport.export_columns(), rows, filters=describe_filters(filters.described()))


# -- one project -----------------------------------------------------------------------------------

@bp.route("/<int:project_id>")
@login_only
def detail(project_id: int):
    project = _project_or_404(project_id)
    entries = list(reversed(project.progress))
    mine = current_user.village_code if current_user.role == "village" else None
    return render_template(
        "projects/detail.html", project=project, entries=entries, history=queries.project_history(project),
        may_manage=_may_manage(project), mine=mine, decide=current_user.can("confirm_projects"),
        decision_form=DecisionForm(formdata=None),
    )


def _data(form: ProjectForm) -> services.ProjectData:
    return services.ProjectData(
        name=form.name.data, kind=form.kind.data, planned_investment=form.planned_investment.data,
        signed_on=form.signed_on.data, description=form.description.data,
        villages=[*(form.picked_villages.data or []), *services.parse_village_codes(form.villages.data)],
        is_xiangshang=form.is_xiangshang.data, organization_id=form.organization_id.data,
        amount_confirmed=form.amount_confirmed.data is True)


@bp.route("/new", methods=["GET", "POST"])
@require("manage_projects")
def new():
    enterprises = services.enterprises_for(current_user)
    if current_user.role == "unit" and not enterprises:
        abort(403)  # only an enterprise's own account records its projects
    form = ProjectForm()
    form.set_enterprises(enterprises)
    form.set_villages(_suggested(None))
    if not form.is_submitted():
        form.signed_on.data = local_today().isoformat()
        if current_user.role == "unit":
            form.organization_id.data = str(current_user.organization_id)
            form.is_xiangshang.data = enterprises[0].is_xiangshang
        elif request.args.get("org"):
            form.organization_id.data = request.args.get("org")
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.create_project(current_user, _data(form)),
                          success=lambda p: f"已登记项目：{p.name}",
                          redirect_to=lambda p: url_for("projects.detail", project_id=p.id))
        if saved:
            return saved
    return _form_page(form, None)


def _suggested(project: Project | None) -> list:
    """The villages a unit's form offers to tick (its own); none for region staff."""
    org_id = project.organization_id if project else (current_user.organization_id if current_user.role == "unit" else None)
    return services.suggested_villages(current_user, org_id)


def _form_page(form: ProjectForm, project: Project | None):
    return render_template("projects/form.html", form=form, project=project), 422 if form.is_submitted() else 200


@bp.route("/<int:project_id>/edit", methods=["GET", "POST"])
@require("manage_projects")
def edit(project_id: int):
    project = _project_or_404(project_id)
    if not services.may_manage(current_user, project):
        abort(403)
    if not project.is_open:
        flash("已终止的项目不能修改", "warning")
        return _back(project)
    # the stored project fills the form shown, not a submitted one: a field missing from
    # a POST is missing (its error), not the project's own value (``villages`` would be
    # its ProjectVillage rows, shown as their repr)
    form = ProjectForm() if request.method == "POST" else ProjectForm(obj=project)
    form.set_enterprises([project.organization])
    form.set_villages(_suggested(project), None if form.is_submitted() else project.village_codes)
    if not form.is_submitted():
        form.organization_id.data = str(project.organization_id)
        form.signed_on.data = project.signed_on.isoformat()
        form.planned_investment.data = str(project.planned_investment)
        form.version.data = project.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.update_project(project, current_user, _data(form), form.version.data),
                          success="项目已修改", redirect_to=url_for("projects.detail", project_id=project.id))
        if saved:
            return saved
        project = db.session.get(Project, project_id)
    return _form_page(form, project)


@bp.route("/<int:project_id>/progress", methods=["GET", "POST"])
@require("manage_projects")
def progress(project_id: int):
    project = _project_or_404(project_id)
    if not services.may_manage(current_user, project):
        abort(403)
    if not project.is_open:
        flash("项目已终止，不能再填报进展", "warning")
        return _back(project)
    form = ProgressForm()
    form.set_project(project)
    if not form.is_submitted():
        form.entry_date.data = local_today().isoformat()
        form.version.data = project.version
    if form.validate_on_submit():
        data = services.ProgressData(
            entry_date=form.entry_date.data, status_to=form.status_to.data, actual_investment=form.actual_investment.data,
            local_jobs=form.local_jobs.data, note=form.note.data, end_reason=form.end_reason.data,
            villages=form.villages.data or [], amount_confirmed=form.amount_confirmed.data is True)
        saved = save_form(form, lambda: services.record_progress(project, current_user, data,
                                                                 request.files.getlist("files"), form.version.data),
                          success="进展已填报，等待涉及的村确认",
                          redirect_to=url_for("projects.detail", project_id=project_id))
        if saved:
            return saved
        project = db.session.get(Project, project_id)
    status = 422 if form.is_submitted() else 200
    return render_template("projects/progress.html", form=form, project=project), status


# -- the village's decision ----------------------------------------------------------------------

@bp.route("/<int:project_id>/progress/<int:entry_id>/confirm", methods=["POST"])
@require("confirm_projects")
def confirm(project_id: int, entry_id: int):
    project = _project_or_404(project_id)
    entry = _entry_or_404(project, entry_id)
    form = DecisionForm()
    if form.validate_on_submit():
        save_form(form, lambda: services.confirm_progress(entry, current_user, form.version.data),
                  success=f"已确认项目进展：{project.name}", refused="danger")
    return _back(project)


def _back(project: Project):
    return redirect(url_for("projects.detail", project_id=project.id))


@bp.route("/<int:project_id>/progress/<int:entry_id>/dispute", methods=["GET", "POST"])
@require("confirm_projects")
def dispute(project_id: int, entry_id: int):
    project = _project_or_404(project_id)
    entry = _entry_or_404(project, entry_id)
    form = DecisionForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.dispute_progress(entry, current_user, form.reason.data, form.version.data),
                          success="已提出异议，已告知企业和填报人", redirect_to=url_for("projects.detail", project_id=project.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("projects/dispute.html", form=form, project=project, entry=entry), status


# -- evidence: the support records' storage, served to whoever sees the project ---------------------

@bp.route("/<int:project_id>/progress/<int:entry_id>/evidence/<int:project_file_id>")
@talisman(content_security_policy=FILE_CSP)
@login_only
def evidence_file(project_id: int, entry_id: int, project_file_id: int):
    project = _project_or_404(project_id)
    item = services.evidence_in(project, entry_id, project_file_id)
    if item is None:
        abort(404)
    return files.serve_item(item)


# -- navigation, home panels, region and organization sections ----------------------------------------

nav_entry(57, "企业项目", "projects.index", ("admin", "region", "viewer", "unit", "village"), group="work")


@panel
def _village_pending(user):
    if user.role != "village":
        return None
    stmt = queries.pending_for_village(user)
    rows = first(stmt, 5)
    return {
        "title": "待本村确认的企业项目进展", "count": count(stmt),
        "rows": [{"text": f"{c.progress.project.name} · {c.progress.entry_date.year}年{c.progress.entry_date.month}月"
                          f"{c.progress.entry_date.day}日",
                  "url": url_for("projects.detail", project_id=c.project_id), "note": ""} for c in rows],
        "link": url_for("projects.index"), "empty": "没有待确认的项目进展",
    }


@panel
def _unit_disputed(user):
    if user.role != "unit":
        return None
    stmt = queries.disputed_for_unit(user)
    rows = first(stmt, 5)
    if not rows:
        return None  # a unit that is no enterprise, or has nothing disputed: no panel
    return {
        "title": "被村提出异议的项目进展", "count": count(stmt),
        "rows": [{"text": f"{c.progress.project.name} · {c.village.name}",
                  "url": url_for("projects.detail", project_id=c.project_id), "note": f"理由：{c.reason}"} for c in rows],
        "link": url_for("projects.index"), "empty": "没有异议",
    }


@section
def _region_projects(region, user):
    if user.role == "cadre":
        return None
    if region.level == "village":
        stmt = queries.project_list(user, ProjectFilters(area=region.code))
        return "projects/_village_section.html", {"projects": every(stmt.limit(50)), "region": region}
    return None


@coverage_section
def _coverage(region, user, args):
    """The coverage page's card: projects touching the region, by status; ``xiangshang``
    filters by the 湘商回归 flag."""
    flag = queries.xiangshang_arg(args)
    return "projects/_coverage.html", {"totals": queries.region_totals(region, flag), "flag": flag, "flags": XIANGSHANG,
                                       "region": region}


_API_MONEY = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "元，精确小数"}
_API_LINE = {
    "type": "object",
    "properties": {"count": {"type": "integer", "minimum": 0, "description": "项目数"},
                   "planned": {**_API_MONEY, "description": "计划投资（元）"},
                   "actual": {**_API_MONEY, "description": "已报实际投资（元）"},
                   "confirmed": {**_API_MONEY, "description": "各村均已确认的投资（元）"},
                   "jobs": {"type": "integer", "minimum": 0, "description": "带动本地就业（人）"}},
    "required": ["count", "planned", "actual", "confirmed", "jobs"],
}
_API_SCHEMA = {
    "type": "object",
    "description": "涉及本地区村的企业项目（万企兴万村 · 湘商回归），按状态汇总：每个项目计一次，金额为项目全部投资；所有年度",
    "properties": {
        "xiangshang": {"type": ["string", "null"], "enum": [*XIANGSHANG, None], "description": "生效的湘商回归筛选（null：全部项目）"},
        "xiangshang_label": {"type": "string"},
        "by_status": {"type": "array", "items": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": list(PROJECT_STATUSES)}, "label": {"type": "string"},
                           **_API_LINE["properties"]},
            "required": ["status", "label", *_API_LINE["required"]], "additionalProperties": False}},
        "total": {**_API_LINE, "additionalProperties": False},
    },
    "required": ["xiangshang", "xiangshang_label", "by_status", "total"],
    "additionalProperties": False,
}
_API_PARAMETERS = ({"name": "xiangshang", "in": "query", "schema": {"type": "string", "enum": ["", *XIANGSHANG]},
                    "description": "企业项目汇总（projects）的湘商回归筛选：1 只计湘商回归项目，0 只计其他项目，留空为全部"},)


def _api_line(line) -> dict:
    return {"count": line.count, "planned": format(line.planned, "f"), "actual": format(line.actual, "f"),
            "confirmed": format(line.confirmed, "f"), "jobs": line.jobs}


@coverage_api_section("projects", schema=_API_SCHEMA, parameters=_API_PARAMETERS,
                      watches=(Project, ProjectVillage))  # what queries.region_totals reads
def _coverage_api(region, user, args) -> dict:
    """The coverage API's ``projects``: the page card's sums (``queries.region_totals``), with
    the 湘商回归 filter applied; a bad value of it is refused (422, naming ``xiangshang``)."""
    flag = queries.xiangshang_arg(args, strict=True)
    totals = queries.region_totals(region, flag)
    return {"xiangshang": flag or None, "xiangshang_label": XIANGSHANG.get(flag, "全部项目"),
            "by_status": [{"status": line.status, "label": line.label, **_api_line(line)} for line in totals.lines],
            "total": _api_line(totals.total)}


@organization_section
def _organization(org: Organization, user):
    """The enterprise's page: its projects (those the user may see) by status."""
    if org.kind != "enterprise":
        return None
    return "projects/_organization.html", {"totals": queries.organization_totals(org.id, user), "org": org}


# -- under supervision (资金和项目监督): the projects in the reader's scope, each followed on
# its own page from signing through every entry to the villages' confirmations ----------------

@trail_source
def _supervised(user):
    stmt = queries.project_list(user, ProjectFilters())
    rows = [{"url": url_for("projects.detail", project_id=p.id, _anchor="history"),
             "text": f"{p.name}（{p.organization.name}）",
             "note": f"{p.status_label} · 计划投资{money(p.planned_investment)}"}
            for p in every(stmt.limit(10))]
    return {"title": "企业项目（万企兴万村 / 湘商回归）", "count": count(stmt), "rows": rows,
            "empty": "辖区内没有企业项目", "link": url_for("projects.index"), "link_text": "查看全部项目"}
