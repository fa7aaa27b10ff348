"""容错纠错: the list, applying about a summons or a grade, a case and its decision."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask_login import current_user

from ..assessment.models import Assessment, Incentive
from ..audit.services import events_of
from ..core.access import for_cadres
from ..core.enums import TOLERANCE_STATUSES
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.permissions import require
from ..core.queries import count, first
from ..core.scope import get_in_scope_or_404
from ..extensions import db
from ..main.home import panel
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from .forms import ApplicationForm, DecisionForm
from .models import FaultToleranceCase
from .services import CASE_ORDER, Application, Decision, apply, can_decide, cases_for, cases_of_subject, live_case, may_apply, to_decide
from .subjects import SUBJECTS

bp = Blueprint("tolerance", __name__, url_prefix="/tolerance")


@bp.route("/")
@require("read_tolerance")
def index():
    status = request.args.get("status", "")
    status = status if status in TOLERANCE_STATUSES else ""
    page = paginate(cases_for(current_user, status=status), CASE_ORDER, request.args)
    return render_template("tolerance/index.html", page=page, status=status, statuses=TOLERANCE_STATUSES,
                           waiting=count(to_decide(current_user)) if current_user.can("decide_tolerance") else 0)


EXPORT_COLUMNS = (
    Column("申请日期", "applied", "date", 12), Column("对象", "subject", width=16), Column("事项类别", "kind", width=10),
    Column("事项", "title", width=40), Column("所在地", "place", width=16), Column("容错情形", "grounds", width=24),
    Column("申请人陈述", "facts", width=40), Column("决定机关", "decider", width=16), Column("状态", "status", width=8),
    Column("决定日期", "decided", "date", 12), Column("决定理由", "reason", width=30), Column("文号", "document", width=16),
    Column("纠错要求", "correction", width=30), Column("效果", "effect", width=40),
)


@bp.route("/export.<fmt>")
@export_job("tolerance", "容错纠错")
@require("read_tolerance")
def export(fmt: str):
    """The list as filtered: names only (no ID numbers or phones); audited as personal data."""
    if fmt not in ("xlsx", "csv") or current_user.role == "cadre":
        abort(404)
    status = request.args.get("status", "")
    status = status if status in TOLERANCE_STATUSES else ""
    stmt = cases_for(current_user, status=status)
    shown = describe_filters([("状态", TOLERANCE_STATUSES.get(status, ""))])
    audit_export("FaultToleranceCase", "容错纠错", count_rows(stmt), fmt, shown)
    rows = ([c.applied_at.date(), c.subject_name, c.subject_label, c.subject_title, c.region.name, c.grounds_label,
             c.facts, c.decider_region.name, c.status_label, c.decided_at.date() if c.decided_at else None,
             c.decision_reason, c.document_number, c.correction, c.effect]
            for c in db.session.scalars(stmt.execution_options(yield_per=1000)))
    return send_export(fmt, "容错纠错", EXPORT_COLUMNS, rows, filters=shown)


def application_page(kind: str, subject):
    """The application form about ``subject`` (found in scope by the route). Another
    feature's route serves it for its own kind (``inspections.apply_tolerance``)."""
    subject_kind = SUBJECTS[kind]
    info = subject_kind.info(subject)
    form = ApplicationForm()
    refusal = subject_kind.refusal(subject)
    if refusal is None and not may_apply(current_user, info, subject_kind, subject):
        refusal = subject_kind.applicants_text
    existing = live_case(kind, subject.id)
    if form.validate_on_submit():
        data = Application(grounds=form.grounds.data, facts=form.facts.data)
        saved = save_form(form, lambda: apply(kind, subject, data, current_user), success="已提交容错申请",
                          redirect_to=lambda case: url_for("tolerance.detail", tolerance_id=case.id))
        if saved:
            return saved
    status = 422 if form.is_submitted() else 200
    return render_template("tolerance/apply.html", form=form, info=info, label=subject_kind.label, refusal=refusal,
                           existing=existing, effect=subject_kind.effect(subject)), status


@bp.route("/new/summons/<int:incentive_id>", methods=["GET", "POST"])
@for_cadres  # about a summons of their own
@require("apply_tolerance")
def apply_summons(incentive_id: int):
    return application_page("summons", get_in_scope_or_404(Incentive, incentive_id))


@bp.route("/new/grade/<int:assessment_id>", methods=["GET", "POST"])
@for_cadres  # about a grade of their own
@require("apply_tolerance")
def apply_grade(assessment_id: int):
    return application_page("assessment", get_in_scope_or_404(Assessment, assessment_id))


def _page(case: FaultToleranceCase, form: DecisionForm | None = None, status: int = 200):
    form = form or DecisionForm(formdata=None)
    if not form.version.data:
        form.version.data = case.version
    subject_kind = SUBJECTS.get(case.subject_kind)
    subject = db.session.get(subject_kind.model, case.subject_id) if subject_kind else None
    return render_template(
        "tolerance/detail.html", case=case, form=form, history=events_of(current_user, "FaultToleranceCase", case.id),
        decide=case.status == "pending" and current_user.can("decide_tolerance") and can_decide(current_user, case),
        subject_url=subject_kind.info(subject).url if subject is not None else None,
        others=[c for c in cases_of_subject(current_user, case.subject_kind, case.subject_id) if c.id != case.id],
    ), status


@bp.route("/<int:tolerance_id>")
@for_cadres  # a case about themselves
@require("read_tolerance")
def detail(tolerance_id: int):
    return _page(get_in_scope_or_404(FaultToleranceCase, tolerance_id))


@bp.route("/<int:tolerance_id>/decide", methods=["POST"])
@require("decide_tolerance")
def decide(tolerance_id: int):
    from .services import decide as decide_case

    case = get_in_scope_or_404(FaultToleranceCase, tolerance_id)
    form = DecisionForm()
    if form.validate_on_submit():
        data = Decision(decision=form.decision.data, reason=form.reason.data, document_number=form.document_number.data,
                        correction=form.correction.data, version=form.version.data)
        saved = save_form(form, lambda: decide_case(case, data, current_user),
                          success=lambda c: f"已作出决定：{c.status_label}",
                          redirect_to=url_for("tolerance.detail", tolerance_id=case.id))
        if saved:
            return saved
    return _page(case, form, 422)


@bp.app_context_processor
def _helpers():
    """``tolerance_of(kind, id)``: the cases about a subject the reader may see, for the
    summons' and grades' pages (``templates/tolerance/_subject.html``)."""
    return {"tolerance_of": lambda kind, ident: cases_of_subject(current_user, kind, ident)}


# -- navigation and the home panel -------------------------------------------------------------------

nav_entry(58, "容错纠错", "tolerance.index", ("admin", "region", "viewer", "unit"), group="oversight")


@panel
def _tolerance_to_decide(user):
    if user.role != "region":
        return None
    stmt = to_decide(user)
    total = count(stmt)
    if not total:
        return None
    return {
        "title": "容错申请待决定", "count": total,
        "rows": [{"text": f"{c.subject_name} · {c.subject_label}", "note": c.subject_title,
                  "url": url_for("tolerance.detail", tolerance_id=c.id)} for c in first(stmt, 5)],
        "link": url_for("tolerance.index", status="pending"), "empty": "没有待决定的容错申请",
    }
