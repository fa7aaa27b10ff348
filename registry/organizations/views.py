"""帮扶主体: list with search and filters, export, detail, register, edit."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit import labels
from ..core.access import login_only
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.permissions import require
from ..core.queries import count
from ..core.scope import get_in_scope_or_404
from ..extensions import db
from ..people.privacy import count_full_contacts, prime, shown_contact_phone
from ..people.postings import posting_query
from ..people.services import people_query
from ..transfer.exporting import audit_export, count_rows, export_purpose, form_filters, send_export
from ..transfer.exports import export_job
from . import services
from .forms import OrganizationFilter, OrganizationForm, read_filters
from .imports import OrganizationImport, export_row
from .models import Organization

from .sections import for_organization

bp = Blueprint("organizations", __name__, url_prefix="/organizations")

PER_PAGE = 30
LIMIT = 200  # rows per section of the detail page; the lists have the rest


def _unit_home(user):
    return url_for("organizations.detail", org_id=user.organization_id) if user.organization_id else None


nav_entry(20, "帮扶主体", "organizations.index", ("admin", "region", "viewer"), group="force")
nav_entry(20, "本单位", "organizations.detail", ("unit",), url_fn=_unit_home)


def _filters():
    form = OrganizationFilter(current_user, formdata=request.args)
    return read_filters(form)


def _query(form):
    return services.organization_query(
        current_user, q=form.q.data or "", kind=form.kind.data or "", level=form.level.data or "",
        region_code=form.region.data or "", individuals=False,
    )


@bp.route("/")
@login_only
def index():
    form = _filters()
    page = paginate(_query(form), services.ORGANIZATION_ORDER, request.args, per_page=PER_PAGE)
    return render_template("organizations/index.html", page=page, filters=form)


@bp.route("/export.<fmt>")
@export_job("organizations", "帮扶主体")
@require("export")
def export(fmt: str):
    """The import template's columns, so an export can be imported again as it is."""
    form = _filters()
    full, purpose = export_purpose(lambda: count_full_contacts(_query(form)))  # contact phones are personal data
    count = count_rows(_query(form))  # a large export is a job
    if full:
        audit_export("Organization", "帮扶主体", count, fmt, form_filters(form), full=full, purpose=purpose)
    rows = (export_row(o, shown_contact_phone(o)) for o in db.session.scalars(_query(form)))
    return send_export(fmt, "帮扶主体", OrganizationImport.fields, rows, filters=form_filters(form))


@bp.route("/new", methods=["GET", "POST"])
@require("manage_organizations")
def new():
    form = OrganizationForm(current_user)
    if request.method == "GET" and current_user.role == "region":
        form.region_code.data = current_user.region_code
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.create_organization(form.payload(), actor=current_user),
                          success=lambda org: f"已登记帮扶主体：{org.name}",
                          redirect_to=lambda org: url_for("organizations.detail", org_id=org.id))
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("organizations/form.html", form=form, org=None), status


@bp.route("/<int:org_id>")
@login_only
def detail(org_id: int):
    org = get_in_scope_or_404(Organization, org_id)
    from ..pairings.services import pairing_query, pairings_of_organization

    people = db.session.scalars(people_query(current_user, organization_id=org.id).limit(LIMIT)).all()
    prime(people)  # the privacy rule for the listed people in one query
    postings = db.session.scalars(posting_query(current_user, organization_id=org.id).limit(LIMIT)).all()
    pairings = pairings_of_organization(current_user, org.id, limit=LIMIT)
    # the sections list the first LIMIT rows (the active ones first); their counts are of all
    totals = {
        "people": len(people) if len(people) < LIMIT else count(people_query(current_user, organization_id=org.id)),
        "postings": (sum(p.is_active for p in postings) if len(postings) < LIMIT
                     else count(posting_query(current_user, organization_id=org.id, status="active"))),
        "pairings": (sum(p.is_active for p in pairings) if len(pairings) < LIMIT
                     else count(pairing_query(current_user, organization_id=org.id, status="active"))),
    }
    return render_template(
        "organizations/detail.html", org=org, people=people, postings=postings, pairings=pairings, totals=totals,
        can_edit=services.can_edit(current_user, org) and current_user.can("edit_organization"),
        sections=for_organization(org, current_user),
    )


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@require("edit_organization")
def edit(org_id: int):
    org = get_in_scope_or_404(Organization, org_id)
    if not services.can_edit(current_user, org):
        abort(403)
    if org.is_individual:  # edited with its person (ID number, phone)
        return redirect(url_for("individuals.edit", org_id=org.id))
    form = OrganizationForm(current_user, obj=org, org=org)
    if request.method == "GET":
        form.version.data = org.version
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.update_organization(org, form.payload(), version=form.version.data, actor=current_user),
            success="已保存", redirect_to=url_for("organizations.detail", org_id=org.id),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("organizations/form.html", form=form, org=org), status


@bp.app_template_global()
def action_label(action: str) -> str:
    """The audit trail's verb for ``action`` (one list, ``audit/labels.py``)."""
    return labels.action_label(action)


@bp.app_template_global()
def audit_history(obj, limit: int = 20):
    """The object's audit events the user may read (None: not for this role)."""
    if not current_user.can("read_audit"):
        return None
    return services.history(current_user, obj, limit)
