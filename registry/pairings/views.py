"""结对关系: list, export, detail, pair an organization with a place, end a pairing."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..core.access import login_only
from ..core.forms import save_form
from ..core.enums import PAIRING_KINDS
from ..core.navigation import back_to, nav_entry, next_arg
from ..core.paging import paginate
from ..core.parsing import int_arg
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.forms import read_filters
from ..organizations.models import Organization
from ..organizations.services import chosen_place, managed_place_arg, organization_query
from ..people.targets import target_query
from ..regions.models import Region
from ..people.services import organization_in_scope
from ..regions.services import narrowing_args, narrowing_filters, village_arg
from ..transfer.exporting import audit_export, count_rows, form_filters, send_export
from ..transfer.exports import export_job
from . import services
from .forms import EndPairingForm, OrganizationPick, PairingFilter, PairingForm
from .imports import PairingImport, export_row
from .models import Pairing

bp = Blueprint("pairings", __name__)

PER_PAGE = 30

nav_entry(50, "结对", "pairings.index", ("admin", "region", "viewer", "unit"), group="force")


def _filters():
    form = PairingFilter(current_user, formdata=request.args)
    return read_filters(form)


def _org_arg() -> int | None:
    """``?org=``: the organization the list is narrowed to (400 if it is not an id)."""
    return int_arg(request.args, "org", "帮扶主体")


def _query(form, village: Region | None = None):
    return services.pairing_query(
        current_user, q=form.q.data or "", kind=form.kind.data or "", status=form.status.data or "",
        region_code=form.region.data or "", organization_id=_org_arg(), village_code=village.code if village else "",
    )


@bp.route("/pairings/")
@login_only
def index():
    form = _filters()
    village = village_arg(request.args)
    page = paginate(_query(form, village), services.PAIRING_ORDER, request.args, per_page=PER_PAGE)
    org = organization_in_scope(current_user, _org_arg())
    return render_template("pairings/index.html", page=page, filters=form, org=org, village=village,
                           narrowing=narrowing_args(org, village))


@bp.route("/pairings/export.<fmt>")
@export_job("pairings", "结对关系")
@require("export")
def export(fmt: str):
    """The import template's columns (and the status), so an export imports again as it is."""
    form = _filters()
    village = village_arg(request.args)
    stmt = _query(form, village)
    count = count_rows(stmt)  # a large export is a job
    org = organization_in_scope(current_user, _org_arg())
    shown = form_filters(form, *narrowing_filters("帮扶主体", org, village))
    title = f"{village.name}结对关系" if village else "结对关系"  # a village's file says whose it is
    # the helpers include individuals (个人帮扶), whose names are personal data: every export
    # is on the record with its filters and rows, as the ledger's is
    audit_export("Pairing", title, count, fmt, shown)
    rows = (export_row(p) for p in db.session.scalars(stmt))
    return send_export(fmt, title, PairingImport.export_columns(), rows, filters=shown)


def _pairing_choices() -> dict:
    """What a worklist chose for the pairing it asks for (``pairing_kind``, dropped when not
    a kind) and where to return (``next``)."""
    kind = request.args.get("pairing_kind", "")
    return {"pairing_kind": kind if kind in PAIRING_KINDS else None, "next": next_arg()}


@bp.route("/pairings/new")
@require("manage_pairings")
def choose_organization():
    """Start a pairing from a place (village or county page, a gap of the worklist) or from scratch."""
    region = managed_place_arg(request.args, current_user)
    form = OrganizationPick(formdata=request.args)
    read_filters(form)
    stmt = organization_query(current_user, q=form.q.data or "", kind=form.kind.data or "")
    page = db.paginate(stmt, per_page=PER_PAGE, error_out=False)
    return render_template("pairings/choose_organization.html", page=page, filters=form, region=region,
                           chosen={k: v for k, v in _pairing_choices().items() if v}, kinds=PAIRING_KINDS)


@bp.route("/organizations/<int:org_id>/pairings/new", methods=["GET", "POST"])
@require("manage_pairings")
def new(org_id: int):
    org = get_in_scope_or_404(Organization, org_id)
    region = managed_place_arg(request.args, current_user)
    form = PairingForm()
    if request.method == "GET":
        if region is not None:
            form.region_code.data = region.code
        form.kind.data = _pairing_choices()["pairing_kind"] or {
            "enterprise": "enterprise_village", "paired_unit": "paired", "army_unit": "fixed_point"}.get(
            org.kind, "resident" if region is None or region.level == "village" else "fixed_point"
        )
        if org.kind == "paired_unit" and form.kind.data == "paired":
            form.sector.data = org.subtype
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.create_pairing(org, form.payload(), actor=current_user),
            success=lambda pairing: f"已建立结对：{pairing.organization.name}—{pairing.region.name}（{pairing.kind_label}）",
            redirect_to=lambda pairing: back_to(url_for("pairings.detail", pairing_id=pairing.id)),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    chosen = chosen_place(current_user, region, form.region_code.data)
    return render_template("pairings/form.html", form=form, org=org, chosen=chosen,
                           cancel=back_to(url_for("organizations.detail", org_id=org.id))), status


@bp.route("/organizations/<int:org_id>/pairings/targets")
@require("manage_pairings")
def targets(org_id: int):
    org = get_in_scope_or_404(Organization, org_id)
    level = request.args.get("level", "village")
    if level not in ("village", "county"):
        abort(404)
    q = request.args.get("q", "").strip()[:50]
    page = db.paginate(target_query(current_user, levels=(level,), q=q), per_page=PER_PAGE, error_out=False)
    return render_template("pairings/targets.html", org=org, page=page, level=level, q=q)


@bp.route("/pairings/<int:pairing_id>")
@login_only
def detail(pairing_id: int):
    pairing = get_in_scope_or_404(Pairing, pairing_id)
    return render_template(
        "pairings/detail.html", pairing=pairing,
        can_end=(pairing.end_date is None or pairing.end_date >= local_today()) and current_user.can("manage_pairings")
        and services.can_manage_pairing(current_user, pairing),
    )


@bp.route("/pairings/<int:pairing_id>/end", methods=["GET", "POST"])
@require("manage_pairings")
def end(pairing_id: int):
    pairing = get_in_scope_or_404(Pairing, pairing_id)
    if not services.can_manage_pairing(current_user, pairing):
        abort(403)
    if pairing.end_date is not None and pairing.end_date < local_today():
        flash("该结对已结束", "info")
        return redirect(url_for("pairings.detail", pairing_id=pairing.id))
    form = EndPairingForm()
    if request.method == "GET":
        form.version.data = pairing.version
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.end_pairing(pairing, end_date=form.end_date.data, note=form.note.data,
                                               version=form.version.data, actor=current_user),
            success="已结束结对", redirect_to=url_for("pairings.detail", pairing_id=pairing.id),
        )
        if saved:
            return saved
    status = 422 if request.method == "POST" else 200
    return render_template("pairings/end.html", form=form, pairing=pairing), status
