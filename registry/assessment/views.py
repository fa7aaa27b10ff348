from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.services import events_of
from ..closing.evidence import evidence_changes
from ..config import SETTING_DEFAULTS
from ..core.access import for_cadres, login_only
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.parsing import YEAR_MAX, YEAR_MIN, int_arg
from ..core.permissions import require
from ..core.queries import count, first
from ..core.scope import get_in_scope_or_404
from ..core.enums import INCENTIVE_KINDS, SUBJECT_KINDS
from ..core.timeutil import local_today, to_local
from ..dashboard.ungraded import FIRST_SECRETARY
from ..extensions import db
from ..main.home import panel
from ..organizations.models import Organization
from ..people.models import Person, Posting
from ..people.services import postings_of_person
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export, send_person_export
from ..transfer.exports import export_job
from ..transfer.references import labelled
from ..transfer.writing import Column
from . import settings as settings_info
from .evidence import grade_cap, organization_evidence, person_evidence
from .forms import FollowUpForm, GradeForm, IncentiveForm
from .models import Assessment, Incentive
from .services import (
    ASSESSMENT_ORDER,
    FOLLOW_UP_FILTERS,
    INCENTIVE_ORDER,
    UNGRADED_ORGANIZATION_ORDER,
    UNGRADED_POSTING_ORDER,
    GradeData,
    IncentiveData,
    allowed_levels,
    assess_organization,
    assess_posting,
    assessment_of,
    assessments_for,
    can_act_on_organization,
    can_assess_posting,
    can_close,
    can_regrade,
    can_report,
    close_summons,
    earliest_year,
    grade_counts,
    incentives_for,
    issue_to_organization,
    issue_to_person,
    org_grades,
    pending_summons,
    person_assessments,
    person_grades,
    person_incentives,
    start_rectification,
    subjects_named,
    ungraded_organizations,
    ungraded_postings,
    ungraded_total,
    user_region,
)

bp = Blueprint("assessment", __name__)


def default_year() -> int:
    """Assessments are made at the end of the year or early in the next one."""
    today = local_today()
    return today.year if today.month >= 10 else today.year - 1


def _year_arg() -> int:
    """``year`` (query or form): the default year when blank or one the page does not
    offer; 400 if it is not a year."""
    year = int_arg(request.values, "year", "年度", default=default_year(), minimum=YEAR_MIN, maximum=YEAR_MAX)
    return year if earliest_year() <= year <= local_today().year else default_year()


def _years() -> list[int]:
    return list(range(local_today().year, earliest_year() - 1, -1))


# -- assessments ----------------------------------------------------------------------------------


@bp.route("/assessment/")
@login_only
def index():
    year = _year_arg()
    kind = request.args.get("kind", "")
    grade = request.args.get("grade", "")
    page = paginate(assessments_for(current_user, year=year, kind=kind, grade=grade), ASSESSMENT_ORDER, request.args)
    return render_template(
        "assessment/index.html", page=page, year=year, years=_years(), kind=kind, grade=grade,
        counts=grade_counts(current_user, year), changes=evidence_changes(page.items),
        grades=person_grades() + org_grades(), assess=current_user.can("assess"),
    )


ASSESSMENT_COLUMNS = (
    Column("年度", "year", "int", 8), Column("对象", "subject_kind", width=8), Column("姓名或单位", "subject", width=24),
    Column("所属单位", "organization", width=26), Column("所在地", "region", width=24), Column("等次", "grade", width=10),
    Column("无故缺勤天数", "absences", "int", 12), Column("评语", "comment", width=40),
    Column("文号", "document_number", width=20), Column("考核单位", "assessor_region", width=16),
    Column("考核时间", "assessed_at", "datetime", 17),
)


@bp.route("/assessment/export.<fmt>")
@export_job("assessments", "考核结果")
@require("export")
def export(fmt: str):
    """考核结果 as a ledger, with the list's year, subject and grade; names: audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    year, kind, grade = _year_arg(), request.args.get("kind", ""), request.args.get("grade", "")
    stmt = assessments_for(current_user, year=year, kind=kind, grade=grade)
    shown = describe_filters([("年度", str(year)), ("对象", SUBJECT_KINDS.get(kind, "")), ("等次", grade)])
    audit_export("Assessment", "考核结果", count_rows(stmt), fmt, shown)
    rows = [_assessment_row(a) for a in db.session.scalars(stmt)]
    return send_export(fmt, f"{year}年度考核结果", ASSESSMENT_COLUMNS, rows, filters=shown)


def _assessment_row(a) -> list:
    """A grade as a row of ``ASSESSMENT_COLUMNS`` (the list's export and a person's)."""
    return [a.year, a.subject_label, a.subject_name, a.organization.name, labelled(a.region.name, a.region_code),
            a.grade, a.absences, a.comment, a.document_number, a.assessor_region.name, _local(a.assessed_at)]


def _local(moment):
    return to_local(moment).replace(tzinfo=None) if moment else None


@bp.route("/assessment/todo")
@require("assess")
def todo():
    """Postings (people) and organizations in the jurisdiction without a grade for the year."""
    year = _year_arg()
    which = request.args.get("which", "person")
    if which == "organization":
        stmt, order = ungraded_organizations(current_user, year), UNGRADED_ORGANIZATION_ORDER
    else:
        which = "person"
        stmt, order = ungraded_postings(current_user, year), UNGRADED_POSTING_ORDER
    page = paginate(stmt, order, request.args, total=ungraded_total(current_user, year) if which == "person" else None)
    return render_template("assessment/todo.html", page=page, which=which, year=year, years=_years())


def _grade_data(form: GradeForm, year: int) -> GradeData:
    return GradeData(year=year, grade=form.grade.data or None, comment=form.comment.data,
                     document_number=form.document_number.data, change_reason=form.change_reason.data,
                     version=form.version.data)


@bp.route("/assessment/posting/<int:posting_id>", methods=["GET", "POST"])
@require("assess")
def posting(posting_id: int):
    """The assessment form for a posting's person, with the year's evidence beside it."""
    posting = get_in_scope_or_404(Posting, posting_id)
    if not can_assess_posting(current_user, posting):
        abort(403)
    year = _year_arg()
    existing = assessment_of("person", posting.id, year)
    evidence = person_evidence(posting, year)
    form = GradeForm(obj=existing if existing and request.method == "GET" else None)
    allowed = [g for g in person_grades() if evidence.cap.allows(g)]
    form.set_grades(person_grades(), allowed)
    if not form.is_submitted():
        form.year.data = year
        if existing:
            form.version.data = existing.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: assess_posting(posting, _grade_data(form, year), current_user),
                          success=lambda assessment: f"已保存 {posting.person.name} {year}年度考核：{assessment.grade}",
                          redirect_to=lambda assessment: url_for("assessment.detail", assessment_id=assessment.id))
        if saved:
            return saved
    previous = person_assessments(current_user, posting.person_id, except_year=year)
    incentives = person_incentives(current_user, posting.person_id)
    status = 422 if form.is_submitted() else 200
    return render_template(
        "assessment/posting_form.html", posting=posting, year=year, years=_years(), form=form, existing=existing,
        foreign=existing is not None and not can_regrade(current_user, existing),
        ev=evidence, previous=previous, incentives=incentives, allowed=allowed, grades=person_grades(),
        cap=current_app.config["REGISTRY_ABSENCE_GRADE_CAP"], minimum=current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"],
    ), status


@bp.route("/assessment/organization/<int:organization_id>", methods=["GET", "POST"])
@require("assess")
def organization(organization_id: int):
    organization = get_in_scope_or_404(Organization, organization_id)
    if not can_act_on_organization(current_user, organization):
        abort(403)
    year = _year_arg()
    existing = assessment_of("organization", organization.id, year)
    region = user_region(current_user)
    evidence = organization_evidence(organization, year, region)
    form = GradeForm(obj=existing if existing and request.method == "GET" else None)
    form.set_grades(org_grades())
    if not form.is_submitted():
        form.year.data = year
        if existing:
            form.version.data = existing.version
    if form.validate_on_submit():
        saved = save_form(form, lambda: assess_organization(organization, _grade_data(form, year), current_user),
                          success=lambda assessment: f"已保存 {organization.name} {year}年度考核：{assessment.grade}",
                          redirect_to=lambda assessment: url_for("assessment.detail", assessment_id=assessment.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template(
        "assessment/organization_form.html", organization=organization, year=year, years=_years(), form=form,
        existing=existing, ev=evidence, foreign=existing is not None and not can_regrade(current_user, existing),
        minimum=current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"],
    ), status


@bp.route("/assessment/<int:assessment_id>")
@for_cadres
@login_only
def detail(assessment_id: int):
    assessment = get_in_scope_or_404(Assessment, assessment_id)
    regrade = current_user.can("assess") and can_regrade(current_user, assessment)
    if assessment.subject_kind == "person":
        regrade_url = url_for("assessment.posting", posting_id=assessment.posting_id, year=assessment.year)
    else:
        regrade_url = url_for("assessment.organization", organization_id=assessment.organization_id, year=assessment.year)
    cap = None
    if assessment.subject_kind == "person" and assessment.posting_id is not None:
        cap = grade_cap(assessment.posting_id, assessment.person_id, assessment.year, assessment.absences)
    return render_template("assessment/detail.html", a=assessment, history=events_of(current_user, "Assessment", assessment.id),
                           changed=evidence_changes([assessment]).get(assessment.id),
                           regrade=regrade, regrade_url=regrade_url, cap=cap)


@bp.route("/assessment/person/<int:person_id>")
@for_cadres
@login_only
def person(person_id: int):
    """A person's assessments, commendations and summons (as far as the user may see)."""
    person = get_in_scope_or_404(Person, person_id)
    assessments = person_assessments(current_user, person.id)
    incentives = person_incentives(current_user, person.id)
    postings = postings_of_person(current_user, person.id)
    return render_template("assessment/person.html", person=person, assessments=assessments, incentives=incentives,
                           changes=evidence_changes(assessments),
                           postings=postings, assess=current_user.can("assess"), incentive=current_user.can("incentive"))


# -- incentives -------------------------------------------------------------------------------------


@bp.route("/incentives/")
@login_only
def incentives():
    kind = request.args.get("kind", "")
    follow_up = request.args.get("follow_up", "")
    page = paginate(incentives_for(current_user, kind=kind, follow_up=follow_up), INCENTIVE_ORDER, request.args)
    return render_template("assessment/incentives.html", page=page, kind=kind, follow_up=follow_up,
                           pending=count(pending_summons(current_user)),
                           issue=current_user.can("incentive"))


INCENTIVE_COLUMNS = (
    Column("类型", "kind", width=10), Column("对象", "subject_kind", width=8), Column("姓名或单位", "subject", width=24),
    Column("所属单位", "organization", width=26), Column("日期", "issued_on", "date", 12), Column("级别", "level", width=10),
    Column("事由", "reason", width=40), Column("文号", "document_number", width=20),
    Column("整改状态", "follow_up", width=10), Column("整改情况", "rectify_note", width=30),
    Column("销号说明", "close_note", width=30), Column("销号时间", "closed_at", "datetime", 17),
)


@bp.route("/incentives/export.<fmt>")
@export_job("incentives", "表扬激励与约谈")
@require("export")
def incentives_export(fmt: str):
    """表扬激励与约谈 as a ledger, with the list's filters; names: audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    kind, follow_up = request.args.get("kind", ""), request.args.get("follow_up", "")
    stmt = incentives_for(current_user, kind=kind, follow_up=follow_up)
    shown = describe_filters([("类型", INCENTIVE_KINDS.get(kind, "")), ("整改状态", FOLLOW_UP_FILTERS.get(follow_up, ""))])
    audit_export("Incentive", "表扬激励与约谈", count_rows(stmt), fmt, shown)
    rows = [_incentive_row(i) for i in db.session.scalars(stmt)]
    return send_export(fmt, "表扬激励与约谈", INCENTIVE_COLUMNS, rows, filters=shown)


def _incentive_row(i) -> list:
    """A commendation or summons as a row of ``INCENTIVE_COLUMNS`` (the list's export and a person's)."""
    return [i.kind_label, SUBJECT_KINDS.get(i.subject_kind, i.subject_kind), i.subject_name, i.organization.name,
            i.issued_on, i.level_label, i.reason, i.document_number, i.follow_up_label or None, i.rectify_note,
            i.close_note, _local(i.closed_at)]


PERSON_EXPORTS = {"grades": ("年度考核", "Assessment"), "incentives": ("表扬激励与约谈", "Incentive")}


@bp.route("/assessment/person/<int:person_id>/<part>.<fmt>")
@for_cadres
@login_only
def person_export(person_id: int, part: str, fmt: str):
    """A person's grades, or commendations and summons, as their page lists them (the
    cadre's own too), in the lists' columns; names: audited."""
    person = get_in_scope_or_404(Person, person_id)
    if part not in PERSON_EXPORTS:
        abort(404)
    title, entity = PERSON_EXPORTS[part]
    if part == "grades":
        columns, rows = ASSESSMENT_COLUMNS, [_assessment_row(a) for a in person_assessments(current_user, person.id)]
    else:
        columns, rows = INCENTIVE_COLUMNS, [_incentive_row(i) for i in person_incentives(current_user, person.id)]
    return send_person_export(person, fmt, entity, title, columns, rows)


@bp.route("/incentives/new")
@require("incentive")
def choose_subject():
    """Find the person or organization to commend or summon (within the jurisdiction)."""
    q = request.args.get("q", "").strip()
    people, organizations = subjects_named(current_user, q)
    return render_template("assessment/choose_subject.html", q=q, people=people, organizations=organizations)


def _incentive_form(subject_name: str, action):
    form = IncentiveForm()
    levels = allowed_levels(current_user)
    form.level.choices = list(levels.items())
    if not form.is_submitted():
        form.kind.data = request.args.get("kind", "commendation")
        form.issued_on.data = local_today()
        form.level.data = next(iter(levels), None)
    if form.validate_on_submit():
        data = IncentiveData(kind=form.kind.data, issued_on=form.issued_on.data, level=form.level.data,
                             reason=form.reason.data, document_number=form.document_number.data)
        saved = save_form(form, lambda: action(data),
                          success=lambda incentive: f"已登记{incentive.kind_label}：{incentive.subject_name}",
                          redirect_to=lambda incentive: url_for("assessment.incentive", incentive_id=incentive.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("assessment/incentive_form.html", form=form, subject_name=subject_name), status


@bp.route("/incentives/new/person/<int:person_id>", methods=["GET", "POST"])
@require("incentive")
def new_for_person(person_id: int):
    person = get_in_scope_or_404(Person, person_id)
    return _incentive_form(f"{person.name}（{person.organization.name}）", lambda data: issue_to_person(person, data, current_user))


@bp.route("/incentives/new/organization/<int:organization_id>", methods=["GET", "POST"])
@require("incentive")
def new_for_organization(organization_id: int):
    organization = get_in_scope_or_404(Organization, organization_id)
    if not can_act_on_organization(current_user, organization):
        abort(403)
    return _incentive_form(organization.name, lambda data: issue_to_organization(organization, data, current_user))


def _incentive_page(incentive: Incentive, form: FollowUpForm | None = None, status: int = 200):
    form = form or FollowUpForm(formdata=None)
    if not form.version.data:
        form.version.data = incentive.version
    return render_template(
        "assessment/incentive.html", i=incentive, history=events_of(current_user, "Incentive", incentive.id), form=form,
        report=current_user.can("report_rectification") and can_report(current_user, incentive),
        close=current_user.can("incentive") and can_close(current_user, incentive),
    ), status


@bp.route("/incentives/<int:incentive_id>")
@login_only
@for_cadres  # a commendation or summons about themselves
def incentive(incentive_id: int):
    return _incentive_page(get_in_scope_or_404(Incentive, incentive_id))


@bp.route("/incentives/<int:incentive_id>/rectify", methods=["POST"])
@require("report_rectification")
def rectify(incentive_id: int):
    return _follow_up(incentive_id, can_report, start_rectification, "已登记整改情况，约谈进入“整改中”")


@bp.route("/incentives/<int:incentive_id>/close", methods=["POST"])
@require("incentive")
def close(incentive_id: int):
    return _follow_up(incentive_id, can_close, close_summons, "约谈已销号")


def _follow_up(incentive_id: int, allowed, action, done: str):
    """A summons' next step (report rectification, close): in scope, allowed, then the
    service; a refusal shows the page again with the note kept."""
    incentive = get_in_scope_or_404(Incentive, incentive_id)
    if not allowed(current_user, incentive):
        abort(403)
    form = FollowUpForm()
    back = url_for("assessment.incentive", incentive_id=incentive.id)
    if form.validate_on_submit():
        saved = save_form(form, lambda: action(incentive, form.note.data, current_user, version=form.version.data),
                          success=done, redirect_to=back)
        return saved or _incentive_page(incentive, form, 422)
    return redirect(back)


# -- settings ---------------------------------------------------------------------------------------


@bp.route("/admin/settings")
@require("manage_reference")
def settings():
    from ..notifications.delivery import outbox_counts, settings_status

    rows = [settings_info.describe(name, default, current_app.config.get(name)) for name, default in SETTING_DEFAULTS.items()]
    return render_template("assessment/settings.html", rows=rows, smtp_status=settings_status()[1],
                           failed_emails=outbox_counts().get("failed", 0))


# -- navigation and home panels ----------------------------------------------------------------------

nav_entry(56, "考核奖惩", "assessment.index", ("admin", "region", "viewer", "unit"), group="oversight")
nav_entry(94, "系统设置", "assessment.settings", ("admin",), group="system")


@panel
def _open_summons(user):
    if user.role not in ("region", "unit", "viewer"):
        return None
    stmt = pending_summons(user)
    total = count(stmt)
    if not total and user.role == "unit":
        return None
    rows = first(stmt, 5)
    return {
        "title": "约谈整改未销号" if user.role != "unit" else "约谈整改",
        "count": total,
        "rows": [{"text": f"{i.subject_name} · {i.follow_up_label}", "url": url_for("assessment.incentive", incentive_id=i.id),
                  "note": f"{i.issued_on.year}年{i.issued_on.month}月{i.issued_on.day}日 {i.level_label}约谈"} for i in rows],
        "link": url_for("assessment.incentives", follow_up="pending"),
        "empty": "没有未销号的约谈",
    }


@panel
def _to_assess(user):
    if user.role != "region":
        return None
    year = default_year()
    total = ungraded_total(user, year, FIRST_SECRETARY)
    if not total:
        return None
    return {"title": f"{year}年度第一书记待考核", "count": total, "rows": [],
            "link": url_for("assessment.todo", year=year), "link_text": "查看待考核名单", "empty": f"共 {total} 人尚未评定"}

