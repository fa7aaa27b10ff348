"""个人帮扶: the list of individual helpers with filters and export, register, edit. A
helper's page is its organization page (``organizations.detail``), which shows the person
(``templates/individuals/_profile.html``): pairings, records, grades and commendations
work there as for any helper."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from ..core.access import login_only
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404, in_scope
from ..extensions import db
from ..organizations.forms import read_filters
from ..organizations.models import Organization
from ..people import privacy
from ..people.models import Person
from ..transfer.exporting import audit_export, count_rows, export_purpose, form_filters, send_export
from ..transfer.exports import export_job
from . import services
from .forms import IndividualFilter, IndividualForm
from .imports import IndividualImport, export_row

bp = Blueprint("individuals", __name__, url_prefix="/individuals")

PER_PAGE = 30

nav_entry(22, "个人帮扶", "individuals.index", ("admin", "region", "viewer"), group="force")


def _filters():
    return read_filters(IndividualFilter(current_user, formdata=request.args))


def _query(form):
    return services.individual_query(current_user, q=form.q.data or "", way=form.way.data or "",
                                     veteran=form.veteran.data or "", region_code=form.region.data or "")


@bp.route("/")
@login_only
def index():
    form = _filters()
    page = db.paginate(_query(form), per_page=PER_PAGE, error_out=False)
    privacy.prime(page.items)
    return render_template("individuals/index.html", page=page, filters=form,
                           id_search=privacy.may_ever_see_full(current_user))


@bp.route("/export.<fmt>")
@export_job("individuals", "个人帮扶")
@require("export")
def export(fmt: str):
    """The import template's columns, so an export can be imported again as it is; ID
    numbers and phones as the privacy rule shows them, the export on the record."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form = _filters()
    stmt = _query(form)
    full, purpose = export_purpose(lambda: privacy.count_full(stmt, Person.id))
    audit_export("Person", "个人帮扶者", count_rows(stmt), fmt, form_filters(form), full=full, purpose=purpose)
    rows = (export_row(p, privacy.shown_id_number(p), privacy.shown_phone(p))
            for p in privacy.primed(db.session.scalars(stmt.execution_options(yield_per=500)), lambda p: p))
    return send_export(fmt, "个人帮扶", IndividualImport.export_columns(), rows, filters=form_filters(form))


@bp.route("/new", methods=["GET", "POST"])
@require("manage_organizations")
def new():
    form = IndividualForm(current_user)
    if request.method == "GET" and current_user.role == "region":
        form.region_code.data = current_user.region_code
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.create_individual(form.payload(), actor=current_user),
                          success=lambda org: f"已登记个人帮扶者：{org.name}",
                          redirect_to=lambda org: url_for("organizations.detail", org_id=org.id))
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("individuals/form.html", form=form, org=None), status


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@require("edit_organization")
def edit(org_id: int):
    org = get_in_scope_or_404(Organization, org_id)
    if not org.is_individual:
        abort(404)
    person = services.person_of(org)
    if (person is None or not services.can_edit_individual(current_user, org)
            or not privacy.may_see_full_identity(current_user, person)):
        abort(403)
    form = IndividualForm(current_user, org=org)
    if request.method == "GET":
        form.version.data = services.version_of(org, person)
        for key in services.PERSON_FIELDS:
            getattr(form, key).data = getattr(person, key)
        form.way.data, form.address.data, form.note.data = org.subtype, org.address, org.note
        if "region_code" in form:
            form.region_code.data = org.region_code
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.update_individual(org, form.payload(), version=form.version.data, actor=current_user),
            success="已保存", redirect_to=url_for("organizations.detail", org_id=org.id),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("individuals/form.html", form=form, org=org), status


@bp.app_template_global()
def individual_person(org):
    """The person of an individual helper ``org`` if the user may see them, else None."""
    if not org.is_individual:
        return None
    person = services.person_of(org)
    return person if person is not None and in_scope(Person, person.id) else None
