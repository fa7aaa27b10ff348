"""帮扶干部 and 选派: lists, search, export, details, register/edit a person, post a
person, end a posting. Full ID numbers and phones only through ``privacy``."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.services import record
from ..core.paging import paginate
from ..core.access import for_cadres, login_only
from ..core.database import writing
from ..core.forms import save_form
from ..core.enums import POSTING_ROLES, VILLAGE_ROLES
from ..core.navigation import back_to, nav_entry, next_arg
from ..core.parsing import int_arg
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404, in_scope
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.forms import read_filters
from ..organizations.services import chosen_place, managed_place_arg
from ..regions.models import Region
from ..regions.services import narrowing_args, narrowing_filters, village_arg
from ..transfer.exporting import audit_export, count_rows, export_purpose, form_filters, send_export
from ..transfer.exports import export_job
from . import cli, services, targets
from . import panels  # noqa: F401  (home panels and region-page sections)
from . import postings as posting_services  # the views `postings` and `end_posting` take the plain names
from .forms import EndPostingForm, PeopleFilter, PersonForm, PostingFilter, PostingForm
from .imports import PersonImport, export_row
from .posting_imports import PostingImport
from .posting_imports import export_row as posting_export_row
from .models import Person, Posting
from . import privacy
from ..cadres.services import may_open_account
from .privacy import may_see_full_identity, rule_text, shown_contact_phone, shown_id_number, shown_phone

bp = Blueprint("people", __name__, cli_group="people")
cli.register(bp.cli)

PER_PAGE = 30


@bp.app_template_global()
def shown_id(person) -> str:
    return shown_id_number(person)


bp.add_app_template_global(shown_phone, "shown_phone")
bp.add_app_template_global(shown_contact_phone, "shown_contact_phone")
bp.add_app_template_global(rule_text, "identity_rule")
bp.add_app_template_global(privacy.contact_rule_text, "contact_rule")

nav_entry(30, "帮扶干部", "people.index", ("admin", "region", "viewer", "unit"), group="force")
nav_entry(40, "选派", "people.postings", ("admin", "region", "viewer", "unit"), group="force")


def _org_arg() -> int | None:
    """``?org=``: the employer a list is narrowed to (400 if it is not an id)."""
    return int_arg(request.args, "org", "工作单位")


# -- people ------------------------------------------------------------------------------

def _people_filters():
    form = PeopleFilter(formdata=request.args)
    return read_filters(form)


def _people_query(form):
    return services.people_query(
        current_user, q=form.q.data or "", organization_id=_org_arg(), posted=form.posted.data or "",
        veteran=form.veteran.data or "",
    )


@bp.route("/people/")
@login_only
def index():
    form = _people_filters()
    # keyset pages: a province's 40,000 people are walked by name, never counted past
    # paging.COUNT_LIMIT nor skipped by OFFSET
    page = paginate(_people_query(form), services.PEOPLE_ORDER, request.args, per_page=PER_PAGE)
    active = services.active_labels(current_user, (p.id for p in page.items))
    privacy.prime(page.items)
    org = services.organization_in_scope(current_user, _org_arg())
    return render_template(
        "people/index.html", page=page, filters=form, active=active, org=org,
        id_search=services.may_search_by_id(current_user),
    )


@bp.route("/people/export.<fmt>")
@export_job("people", "帮扶干部")
@require("export")
def export_people(fmt: str):
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form = _people_filters()
    stmt = _people_query(form)
    full, purpose = export_purpose(lambda: privacy.count_full(stmt, Person.id))  # asks first, job or not
    count = count_rows(stmt)  # a large export is a job
    # An export of personal data is on the record, whether numbers were masked or not.
    with writing():
        record(
            "export", "Person",
            after={"rows": count, "full_identity_rows": full, "purpose": purpose, "format": fmt,
                   "filters": request.args.to_dict()},
            summary=f"导出帮扶干部名单 {count} 人（{f'含完整身份证号和电话 {full} 人，用途：{purpose}' if full else '身份证号和电话已遮蔽'}）",
            region_code=current_user.region_code or current_user.village_code,
            organization_id=current_user.organization_id,
        )
        db.session.commit()
    # the import template's columns (and the current posting), so an export imports again;
    # streamed in batches, each with one query for its people's current postings
    rows = _people_rows(stmt)
    return send_export(fmt, "帮扶干部", PersonImport.export_columns(), rows, filters=form_filters(form, *_narrowed("工作单位")))


def _people_rows(stmt, batch: int = 900):
    result = db.session.scalars(stmt.execution_options(yield_per=batch))
    for people in result.partitions():
        active = services.active_labels(current_user, (p.id for p in people))
        privacy.prime(people)
        for p in people:
            yield export_row(p, shown_id_number(p), shown_phone(p), active.get(p.id, ""))


@bp.route("/people/new", methods=["GET", "POST"])
@require("manage_people")
def new_person():
    form = PersonForm(current_user)
    if request.method == "GET":
        if current_user.role == "unit":
            form.set_employer(current_user.organization_id)
        elif (org_id := _org_arg()) is not None:
            form.set_employer(org_id)
    if form.validate_on_submit():
        saved = save_form(form, lambda: services.create_person(form.payload(), actor=current_user),
                          success=lambda person: f"已登记帮扶干部：{person.name}",
                          redirect_to=lambda person: url_for("people.detail", person_id=person.id))
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("people/form.html", form=form, person=None), status


@bp.route("/people/employers")
@require("manage_people")
def employer_lookup():
    """The person form's suggestions: employers the user may register people for whose
    name contains ``q`` or whose 统一社会信用代码 starts with it (at most 20)."""
    orgs, more = services.employer_lookup(current_user, request.args.get("q", ""))
    results = [
        {"id": o.id, "name": o.name, "credit_code": o.credit_code or "", "kind": o.kind, "kind_label": o.kind_label,
         "region": o.region.name}
        for o in orgs
    ]
    return jsonify(results=results, more=more)


@bp.route("/people/<int:person_id>")
@for_cadres
@login_only
def detail(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    postings = services.postings_of_person(current_user, person.id)
    return render_template(
        "people/detail.html", person=person, postings=postings,
        can_edit=current_user.can("manage_people") and services.can_edit_person(current_user, person),
        can_post=current_user.can("manage_postings") and not services.is_individual(person),  # never posted
        active=next((p for p in postings if p.is_active), None),
        can_open_account=current_user.can("open_cadre_accounts") and may_open_account(current_user, person),
    )


@bp.route("/people/<int:person_id>/edit", methods=["GET", "POST"])
@require("manage_people")
def edit_person(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    if not services.can_edit_person(current_user, person) or not may_see_full_identity(current_user, person):
        abort(403)
    if services.is_individual(person):  # edited with its helper row
        return redirect(url_for("individuals.edit", org_id=person.organization_id))
    form = PersonForm(current_user, obj=person, person=person)
    if request.method == "GET":
        form.version.data = person.version
        form.id_number.data = person.id_number
        form.phone.data = person.phone
        form.set_employer(person.organization_id)
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.update_person(person, form.payload(), version=form.version.data, actor=current_user),
            success="已保存", redirect_to=url_for("people.detail", person_id=person.id),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("people/form.html", form=form, person=person), status


# -- posting someone ---------------------------------------------------------------------

def _posting_choices(region: Region | None) -> dict:
    """What a worklist chose for the posting it asks for (``role``, ``start``), kept where
    valid for ``region`` and dropped otherwise, and where to return (``next``)."""
    role = request.args.get("role", "")
    if role not in POSTING_ROLES or (region is not None and (role in VILLAGE_ROLES) != (region.level == "village")):
        role = None
    try:
        start = date.fromisoformat(request.args.get("start", ""))
    except ValueError:
        start = None
    return {"role": role, "start": start.isoformat() if start else None, "next": next_arg()}


# The dispatch level a posting usually has, from the sending organization's level.
DISPATCH_OF_LEVEL = {"central": "central", "provincial": "provincial", "city": "city", "county": "county"}


@bp.route("/people/<int:person_id>/postings/new", methods=["GET", "POST"])
@require("manage_postings")
def new_posting(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    region = managed_place_arg(request.args, current_user)
    chosen_args = _posting_choices(region)
    form = PostingForm()
    if request.method == "GET":
        start = chosen_args["start"]
        form.start_date.data = date.fromisoformat(start) if start else local_today()
        form.dispatch_level.data = DISPATCH_OF_LEVEL.get(person.organization.level or "", "")
        if region is not None:
            form.region_code.data = region.code
            form.role.data = chosen_args["role"] or ("seconded_cadre" if region.level != "village" else "first_secretary")
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: posting_services.create_posting(person, form.payload(), actor=current_user),
            success=lambda posting: f"已选派：{posting.person.name}任{posting.region.name}{posting.role_label}",
            redirect_to=lambda posting: back_to(url_for("people.posting", posting_id=posting.id)),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    chosen = chosen_place(current_user, region, form.region_code.data)
    active = services.active_postings_of([person.id]).get(person.id)
    active_visible = active is not None and active.id in services.visible_postings(current_user, [active])
    return render_template(
        "people/posting_form.html", form=form, person=person, chosen=chosen, active=active, active_visible=active_visible,
        term_years=current_app.config["REGISTRY_PLANNED_TERM_YEARS"],
        cancel=back_to(url_for("people.detail", person_id=person.id)),
    ), status


LEVELS = {"village": ("village",), "township": ("township",), "county": ("county",)}


@bp.route("/people/<int:person_id>/postings/targets")
@require("manage_postings")
def posting_targets(person_id: int):
    """Choose where to post a person: places in the user's jurisdiction."""
    person = get_in_scope_or_404(Person, person_id)
    level = request.args.get("level", "village")
    if level not in LEVELS:
        abort(404)
    q = request.args.get("q", "").strip()[:50]
    gap = request.args.get("gap") == "1"
    stmt = targets.target_query(current_user, levels=LEVELS[level], q=q, without_first_secretary=gap and level == "village")
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    secretaries = targets.active_first_secretaries(r.code for r in page.items)
    return render_template(
        "people/targets.html", person=person, page=page, level=level, q=q, gap=gap, secretaries=secretaries,
    )


# -- postings ----------------------------------------------------------------------------

def _posting_filters():
    form = PostingFilter(current_user, formdata=request.args)
    return read_filters(form)


def _posting_query(form, village: Region | None = None):
    return posting_services.posting_query(
        current_user, q=form.q.data or "", role=form.role.data or "", status=form.status.data or "",
        region_code=form.region.data or "", organization_id=_org_arg(), village_code=village.code if village else "",
    )


def _narrowed(org_label: str, village: Region | None = None) -> list[tuple[str, str]]:
    """What a list is narrowed to outside its filter form, for its export's filters."""
    return narrowing_filters(org_label, services.organization_in_scope(current_user, _org_arg()), village)


@bp.route("/postings/")
@login_only
def postings():
    form = _posting_filters()
    village = village_arg(request.args)
    order = posting_services.posting_order(form.status.data or "")
    page = paginate(_posting_query(form, village), order, request.args, per_page=PER_PAGE)
    org = services.organization_in_scope(current_user, _org_arg())
    return render_template("people/postings.html", page=page, filters=form, org=org, village=village,
                           narrowing=narrowing_args(org, village))


@bp.route("/postings/export.<fmt>")
@export_job("postings", "选派")
@require("export")
def export_postings(fmt: str):
    """The postings the list shows, in the import's columns (so the file imports again);
    ID numbers as the privacy rule shows them, and the export on the record."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    form = _posting_filters()
    village = village_arg(request.args)
    stmt = _posting_query(form, village)
    shown = form_filters(form, *_narrowed("派出单位", village))
    full, purpose = export_purpose(lambda: privacy.count_full(stmt, Posting.person_id))
    audit_export("Posting", "选派", count_rows(stmt), fmt, shown, full=full, purpose=purpose)
    rows = (posting_export_row(p, shown_id_number(p.person))
            for p in privacy.primed(db.session.scalars(stmt.execution_options(yield_per=1000)), lambda p: p.person))
    title = f"{village.name}选派" if village else "选派"  # a village's file says whose it is
    return send_export(fmt, title, PostingImport.export_columns(), rows, filters=shown)


@bp.route("/postings/new")
@require("manage_postings")
def choose_person():
    """Start a posting from a place (the village page) or from scratch: pick the person."""
    region = managed_place_arg(request.args, current_user)
    form = _people_filters()
    page = db.paginate(_people_query(form), per_page=PER_PAGE, error_out=False)
    active = services.active_labels(current_user, (p.id for p in page.items))
    privacy.prime(page.items)
    return render_template("people/choose_person.html", page=page, filters=form, region=region, active=active,
                           chosen={k: v for k, v in _posting_choices(region).items() if v}, roles=POSTING_ROLES)


@bp.route("/postings/<int:posting_id>")
@for_cadres
@login_only
def posting(posting_id: int):
    item = get_in_scope_or_404(Posting, posting_id)
    person_visible = in_scope(Person, item.person_id)
    return render_template(
        "people/posting.html", posting=item, person_visible=person_visible,
        can_end=item.is_active and current_user.can("manage_postings") and posting_services.can_manage_posting(current_user, item),
    )


@bp.route("/postings/<int:posting_id>/end", methods=["GET", "POST"])
@require("manage_postings")
def end_posting(posting_id: int):
    item = get_in_scope_or_404(Posting, posting_id)
    if not posting_services.can_manage_posting(current_user, item):
        abort(403)
    if not item.is_active:
        flash("该选派已结束", "info")
        return redirect(url_for("people.posting", posting_id=item.id))
    form = EndPostingForm()
    if request.method == "GET":
        form.version.data = item.version
    if form.validate_on_submit():
        saved = save_form(
            form,
            lambda: posting_services.end_posting(
                item, end_date=form.end_date.data, end_reason=form.end_reason.data or None,
                end_note=form.end_note.data, version=form.version.data, actor=current_user,
            ),
            success=lambda _: f"已结束选派：{item.person.name}（{item.end_reason_label}）",
            redirect_to=url_for("people.posting", posting_id=item.id),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("people/end_posting.html", form=form, posting=item), status
