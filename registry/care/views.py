"""关心关爱 (care for frontline cadres): the list, a cadre's page, the form of the
dispatching office, cancelling, the export."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from ..audit.services import events_of
from ..core.access import for_cadres
from ..core.enums import CARE_ITEMS, CARE_KINDS
from ..core.forms import save_form
from ..core.navigation import back_to, nav_entry
from ..core.paging import paginate
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..extensions import db
from ..people.models import Person
from ..people.services import postings_of_person
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export, send_person_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from .forms import CancelForm, CareFilter, CareForm
from .imports import CareImport
from .models import CareRecord
from .services import (
    CareData,
    add_care,
    cancel_care,
    CARE_ORDER,
    care_for,
    care_status,
    may_record,
    period_text,
    person_care,
    recordable_postings,
)

bp = Blueprint("care", __name__, url_prefix="/care")


def _filters():
    form = CareFilter(request.args)
    year = int_arg(request.args, "year", "年度", default=None, minimum=YEAR_MIN, maximum=YEAR_MAX)
    status = form.status.data if form.status.data in ("active", "cancelled", "all") else "active"
    kind = form.kind.data if form.kind.data in CARE_KINDS else ""
    return form, kind, year, status


@bp.route("/")
@require("read_care")
def index():
    form, kind, year, status = _filters()
    stmt = care_for(current_user, kind=kind, year=year, status=status)
    page = paginate(stmt, CARE_ORDER, request.args)
    return render_template("care/index.html", page=page, form=form, year=year, period_text=period_text,
                           may_import=CareImport().may(current_user),
                           years=list(range(local_today().year, YEAR_MIN - 1, -1))[:6])


EXPORT_COLUMNS = (
    Column("姓名", "name", width=10), Column("派出单位", "organization", width=24), Column("派驻地", "place", width=20),
    Column("选派类型", "role", width=10), Column("派出层级", "dispatch", width=8), Column("类别", "kind", width=8),
    Column("项目", "item", width=16), Column("开始日期", "start", "date", 12), Column("结束日期", "end", "date", 12),
    Column("金额（元）", "amount", "amount", 14), Column("承保、体检或发放单位", "provider", width=20),
    Column("保单号或文号", "reference", width=16), Column("状态", "status", width=8), Column("登记机关", "office", width=16),
)


@bp.route("/export.<fmt>")
@export_job("care", "关心关爱")
@require("read_care")
def export(fmt: str):
    """The list as filtered; names only (no ID numbers or phones), and the export is audited
    as personal data."""
    if fmt not in ("xlsx", "csv") or current_user.role == "cadre":
        abort(404)
    form, kind, year, status = _filters()
    stmt = care_for(current_user, kind=kind, year=year, status=status)
    shown = describe_filters([("类别", CARE_KINDS.get(kind, "")), ("年度", str(year or "")),
                              ("状态", {"active": "有效", "cancelled": "已作废", "all": "全部"}[status])])
    audit_export("CareRecord", "关心关爱", count_rows(stmt), fmt, shown)
    rows = (_row(c) for c in db.session.scalars(stmt.execution_options(yield_per=1000)))
    return send_export(fmt, "关心关爱", EXPORT_COLUMNS, rows, filters=shown)


def _row(c: CareRecord) -> list:
    """A care record as a row of ``EXPORT_COLUMNS`` (the list's export and a person's)."""
    return [c.person.name, c.organization.name, c.region.name, c.posting.role_label, c.posting.dispatch_level_label,
            c.kind_label, c.item, c.start_date, c.end_date, c.amount, c.provider_name, c.reference, c.status_label,
            c.provider_region.name]


@bp.route("/person/<int:person_id>")
@for_cadres  # a cadre: their own
@require("read_care")
def person(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    records = person_care(current_user, person.id)
    return render_template("care/person.html", person=person, records=records, status=care_status(records, person.id),
                           postings=postings_of_person(current_user, person.id), period_text=period_text,
                           may_add=current_user.can("manage_care") and bool(recordable_postings(current_user, person)),
                           kinds=CARE_KINDS)


@bp.route("/person/<int:person_id>/export.<fmt>")
@for_cadres  # a cadre: their own
@require("read_care")
def person_export(person_id: int, fmt: str):
    """A person's care records as their page lists them, in the list's columns; audited."""
    person = get_in_scope_or_404(Person, person_id)
    rows = [_row(c) for c in person_care(current_user, person.id)]
    return send_person_export(person, fmt, "CareRecord", "关心关爱记录", EXPORT_COLUMNS, rows)


@bp.route("/person/<int:person_id>/new", methods=["GET", "POST"])
@require("manage_care")
def new(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    postings = recordable_postings(current_user, person)
    form = CareForm()
    kind = form.kind.data if form.is_submitted() else request.args.get("kind", "insurance")
    form.set_choices(postings, kind)
    if not form.is_submitted():
        form.kind.data = kind if kind in CARE_ITEMS else "insurance"
    if postings and form.validate_on_submit():
        data = CareData(posting_id=form.posting_id.data, kind=form.kind.data, item=form.item.data,
                        start_date=form.value("start_date"), end_date=form.value("end_date"), amount=form.value("amount"),
                        provider_name=form.value("provider_name"), reference=form.value("reference"), note=form.note.data)
        saved = save_form(form, lambda: add_care(person, data, current_user),
                          success=lambda care: f"已登记{care.kind_label}：{person.name} {care.item}",
                          redirect_to=lambda care: back_to(url_for("care.person", person_id=person.id)))
        if saved:
            return saved
        form.form_errors.extend(form.kind.errors)  # a hidden field shows no errors of its own
    elif form.is_submitted() and not postings:
        form.form_errors.append("您不是该干部任何一次选派的派出机关（或其上级），不能登记")
    status = 422 if form.is_submitted() else 200
    return render_template("care/form.html", form=form, person=person, postings=postings, kinds=CARE_KINDS), status


def _detail(care: CareRecord, form: CancelForm | None = None, status: int = 200):
    form = form or CancelForm(formdata=None)
    if not form.version.data:
        form.version.data = care.version
    return render_template("care/detail.html", c=care, form=form, period_text=period_text,
                           may_cancel=current_user.can("manage_care") and care.is_active and may_record(current_user, care.posting),
                           history=events_of(current_user, "CareRecord", care.id)), status


@bp.route("/<int:care_id>")
@for_cadres
@require("read_care")
def detail(care_id: int):
    return _detail(get_in_scope_or_404(CareRecord, care_id))


@bp.route("/<int:care_id>/cancel", methods=["POST"])
@require("manage_care")
def cancel(care_id: int):
    care = get_in_scope_or_404(CareRecord, care_id)
    form = CancelForm()
    if form.validate_on_submit():
        saved = save_form(form, lambda: cancel_care(care, form.reason.data, current_user, version=form.version.data),
                          success="已作废该记录", redirect_to=url_for("care.detail", care_id=care.id))
        if saved:
            return saved
    return _detail(care, form, 422)


def _home_url(user):
    if user.role == "cadre":
        return url_for("care.person", person_id=user.person_id) if user.person_id else None
    return url_for("care.index")


nav_entry(57, "关心关爱", "care.index", ("admin", "region", "viewer", "unit", "cadre"), url_fn=_home_url, group="oversight")


