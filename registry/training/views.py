from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..core.access import for_cadres, login_only
from ..core.forms import save_form
from ..core.formatting import date_cn
from ..core.navigation import back_to, nav_entry, next_arg
from ..core import paging
from ..core.paging import paginate
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.enums import TRAINING_KINDS
from ..core.scope import get_in_scope_or_404, scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..people import privacy
from ..people.models import Person, Posting
from ..people.privacy import shown_id_number
from ..people.services import postings_of_person
from ..transfer.exporting import (
    audit_export, count_rows, describe_filters, export_purpose, send_export, send_person_export)
from ..transfer.exports import export_job
from ..transfer.writing import Column
from . import checks
from .forms import AttendanceAddForm, AttendanceForm, EmptyForm, TrainingForm
from .imports import AttendanceImport, export_row
from .models import Attendance, Training
from .services import (
    COURSE_ORDER,
    GAP_ORDER,
    CourseFilters,
    TrainingData,
    add_attendances,
    attendance_candidates,
    attendance_counts,
    can_manage,
    closing_courses_for,
    course_attendances,
    courses_for,
    create_training,
    has_started,
    person_attendances,
    remove_attendance,
    training_gap_counts,
    training_gaps,
    update_attendance,
    update_training,
)

bp = Blueprint("training", __name__, url_prefix="/training")


def _year_arg() -> int | None:
    """``?year=``: blank is every year; 400 if it is not a year."""
    return int_arg(request.args, "year", "年度", minimum=YEAR_MIN, maximum=YEAR_MAX)


@bp.route("/")
@login_only
def index():
    year, kind, q = _year_arg(), request.args.get("kind", ""), request.args.get("q", "").strip()
    page = paginate(courses_for(current_user, CourseFilters(year, kind, q)), COURSE_ORDER, request.args, per_page=30)
    counts = attendance_counts(current_user, [t.id for t in page.items])
    return render_template("training/index.html", page=page, counts=counts, year=year, kind=kind, q=q,
                           may_create=current_user.can("manage_trainings"))


@bp.route("/export.<fmt>")
@export_job("training", "培训台账")
@require("export")
def export(fmt: str):
    """培训台账: who attended the courses the list shows (its filters), one row each; audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    year, kind, q = _year_arg(), request.args.get("kind", ""), request.args.get("q", "").strip()
    courses = courses_for(current_user, CourseFilters(year, kind, q)).with_only_columns(Training.id).order_by(None)
    stmt = scoped(select(Attendance).where(Attendance.training_id.in_(courses)), Attendance, current_user)
    stmt = stmt.order_by(Attendance.training_id, Attendance.id)
    shown = describe_filters([("年度", str(year) if year else ""), ("类型", TRAINING_KINDS.get(kind, "")), ("主题含", q)])
    full, purpose = export_purpose(lambda: privacy.count_full(stmt, Attendance.person_id))
    audit_export("Attendance", "培训台账", count_rows(stmt), fmt, shown, full=full, purpose=purpose)
    # the import's columns, so the ledger imports again; ID numbers as the privacy rule shows them
    rows = (export_row(a, shown_id_number(a.person)) for a in privacy.primed(db.session.scalars(stmt), lambda a: a.person))
    return send_export(fmt, "培训台账", AttendanceImport.export_columns(), rows, filters=shown)


def _data(form: TrainingForm) -> TrainingData:
    return TrainingData(
        title=form.title.data, organizer=form.organizer.data, level=form.level.data, kind=form.kind.data,
        mode=form.mode.data, region_code=form.region_code.data, start_date=form.start_date.data,
        end_date=form.end_date.data, hours=form.hours.data, location=form.location.data, note=form.note.data,
    )


def _person_arg() -> int | None:
    """The person a worklist chose for a course's attendance form (``?person=``)."""
    return int_arg(request.values, "person", "人员")


def _with_person(training_id: int) -> str:
    """A course's page; with the worklist's person and ``next``, at its attendance form."""
    person_id = _person_arg()
    if person_id is None:
        return url_for("training.detail", training_id=training_id)
    return url_for("training.detail", training_id=training_id, person=person_id, next=next_arg(), _anchor="add")


@bp.route("/new", methods=["GET", "POST"])
@require("manage_trainings")
def new():
    form = TrainingForm(current_user)
    if not form.is_submitted() and request.args.get("kind") in TRAINING_KINDS:
        form.kind.data = request.args["kind"]
    if form.validate_on_submit():
        saved = save_form(form, lambda: create_training(_data(form), current_user),
                          success=lambda training: ("培训已登记，请继续登记参训人员" if has_started(training) else
                                                    f"培训已登记；{date_cn(training.start_date)}培训开始后可登记参训人员"),
                          redirect_to=lambda training: _with_person(training.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("training/form.html", form=form, training=None), status


@bp.route("/<int:training_id>/edit", methods=["GET", "POST"])
@require("manage_trainings")
def edit(training_id: int):
    training = get_in_scope_or_404(Training, training_id)
    if not can_manage(current_user, training):
        abort(403)
    form = TrainingForm(current_user, obj=training, current_region=training.region_code)
    if not form.is_submitted():
        form.version.data = training.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: update_training(training, _data(form), current_user, version=form.version.data),
                          success="培训信息已保存", redirect_to=url_for("training.detail", training_id=training.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("training/form.html", form=form, training=training), status


def _detail(training: Training, add_form: AttendanceAddForm | None = None, status: int = 200):
    attendances = course_attendances(current_user, training.id)
    manage = can_manage(current_user, training) and current_user.can("manage_trainings")
    q = request.values.get("q", "").strip()
    person_id = None if q else _person_arg()  # a worklist's person: the form opens with them ticked
    if add_form is None:
        add_form = AttendanceAddForm(formdata=None, hours=training.hours)
        add_form.person_ids.data = [person_id] if person_id else []
    candidates = attendance_candidates(current_user, training, q, person_id) if manage else []
    add_form.person_ids.choices = [(p.id, p.name) for p, _ in candidates]
    return render_template(
        "training/detail.html", training=training, attendances=attendances, manage=manage, q=q, person_id=person_id,
        candidates=candidates, add_form=add_form, empty=EmptyForm(), started=has_started(training),
    ), status


@bp.route("/<int:training_id>")
@for_cadres
@login_only
def detail(training_id: int):
    training = get_in_scope_or_404(Training, training_id)
    return _detail(training)


@bp.route("/<int:training_id>/attendance", methods=["POST"])
@require("manage_trainings")
def add_attendance(training_id: int):
    training = get_in_scope_or_404(Training, training_id)
    if not can_manage(current_user, training):
        abort(403)
    form = AttendanceAddForm()
    if form.validate_on_submit():
        saved = save_form(
            form,
            lambda: add_attendances(training, form.person_ids.data or [], form.hours.data, form.passed.data,
                                    current_user, note=form.note.data),
            success=lambda made: f"已登记参训人员 {len(made)} 名",
            redirect_to=back_to(url_for("training.detail", training_id=training.id)),
        )
        if saved:
            return saved
    return _detail(training, form, 422)


@bp.route("/attendance/<int:attendance_id>/edit", methods=["GET", "POST"])
@require("manage_trainings")
def edit_attendance(attendance_id: int):
    attendance = get_in_scope_or_404(Attendance, attendance_id)
    if not can_manage(current_user, attendance.training):
        abort(403)
    form = AttendanceForm(obj=attendance)
    if not form.is_submitted():
        form.version.data = attendance.version
    if form.validate_on_submit():
        saved = save_form(
            form,
            lambda: update_attendance(attendance, form.hours.data, form.passed.data, current_user,
                                      note=form.note.data, version=form.version.data),
            success="参训记录已保存", redirect_to=back_to(url_for("training.detail", training_id=attendance.training_id)),
        )
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("training/attendance_form.html", form=form, attendance=attendance,
                           cancel=back_to(url_for("training.detail", training_id=attendance.training_id))), status


@bp.route("/attendance/<int:attendance_id>/delete", methods=["POST"])
@require("manage_trainings")
def delete_attendance(attendance_id: int):
    attendance = get_in_scope_or_404(Attendance, attendance_id)
    if not can_manage(current_user, attendance.training):
        abort(403)
    training_id = attendance.training_id
    if EmptyForm().validate_on_submit():
        remove_attendance(attendance, current_user)
        flash("参训记录已删除", "success")
    return redirect(url_for("training.detail", training_id=training_id))


@bp.route("/person/<int:person_id>")
@for_cadres
@login_only
def person(person_id: int):
    """A person's training history and, for each of their postings, the two checks."""
    person = get_in_scope_or_404(Person, person_id)
    attendances = person_attendances(current_user, person.id)
    postings = postings_of_person(current_user, person.id)
    today = local_today()
    results = checks.posting_training_checks(postings, today=today)
    years = sorted({a.training.start_date.year for a in attendances if a.passed} | {today.year}, reverse=True)
    by_year = {y: sum(1 for a in attendances if a.passed and a.training.start_date.year == y) for y in years}
    hours_by_year = {y: sum(a.hours for a in attendances if a.passed and a.training.start_date.year == y) for y in years}
    return render_template(
        "training/person.html", person=person, attendances=attendances, postings=postings, checks=results,
        by_year=by_year, hours_by_year=hours_by_year, required=checks.yearly_required(),
        window=checks.window_days(),
    )


PERSON_COLUMNS = (
    Column("培训主题", "title", width=32), Column("类型", "kind", width=12), Column("层级", "level", width=8),
    Column("开始日期", "start_date", "date", 12), Column("结束日期", "end_date", "date", 12),
    Column("方式", "mode", width=8), Column("认定学时", "hours", "amount", 10), Column("考核", "passed", width=8),
)


@bp.route("/person/<int:person_id>/export.<fmt>")
@for_cadres
@login_only
def person_export(person_id: int, fmt: str):
    """A person's training record as the page lists it (a cadre's own too): for a year's
    summing up or an assessment; a person's data, so audited."""
    person = get_in_scope_or_404(Person, person_id)
    rows = [[a.training.title, a.training.kind_label, a.training.level_label, a.training.start_date,
             a.training.end_date, a.training.mode_label, a.hours, "合格" if a.passed else "不合格"]
            for a in person_attendances(current_user, person.id)]
    return send_person_export(person, fmt, "Attendance", "培训记录", PERSON_COLUMNS, rows)


@bp.route("/arrange/<int:posting_id>")
@require("manage_trainings")
def arrange(posting_id: int):
    """登记岗前培训 / 年度培训 for one posting (from the gaps worklist): the courses at which
    a passed attendance would close its gap, each opening its attendance form with the
    person chosen; or a new course."""
    posting = get_in_scope_or_404(Posting, posting_id)
    which = "yearly" if request.args.get("which") == "yearly" else "pre_posting"
    today = local_today()
    return render_template(
        "training/arrange.html", posting=posting, which=which, today=today,
        courses=closing_courses_for(current_user, posting, which, today),
        check=checks.posting_training_check(posting, today=today), back=next_arg(),
    )


@bp.route("/gaps")
@login_only
def gaps():
    """Active postings in scope whose person lacks pre-posting or this year's training."""
    today = local_today()
    which = "yearly" if request.args.get("which") == "yearly" else "pre_posting"
    # the tabs' counts, as far as the pager counts: the list's own count is its tab's
    counts = training_gap_counts(current_user, today, paging.COUNT_LIMIT)
    page = paginate(training_gaps(current_user, which, today), GAP_ORDER, request.args, total=counts[which])
    results = checks.posting_training_checks(page.items, today=today)
    return render_template("training/gaps.html", page=page, which=which, checks=results, counts=counts, year=today.year,
                           count_limit=paging.COUNT_LIMIT)


nav_entry(50, "业务培训", "training.index", ("admin", "region", "viewer", "unit"), group="work")
