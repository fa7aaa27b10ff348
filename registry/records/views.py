"""Pages of support records: the unit files and follows its records, the village confirms
or disputes them, township and county staff watch the overdue ones; evidence files and
the pages of charitable funds. Each view: load in scope → call a service → flash → redirect."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import lazyload

from ..chase import services as chasing
from ..core.access import login_only
from ..core.database import last_write, lock_at_first_write, only_reading_from_here
from ..core.forms import save_form
from ..core.navigation import nav_entry
from ..core.enums import RECORD_CATEGORIES
from ..core.formatting import date_cn
from ..core.paging import order_by, paginate
from ..core.permissions import require
from ..core.queries import first
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404, in_scope
from ..core.timeutil import local_today
from ..dashboard.coverage import overdue_count
from ..extensions import db, talisman
from ..main.home import panel
from ..organizations.models import Organization
from ..regions.areas import AreaFilter, Areas, area_filter
from ..regions.models import Region
from ..regions.sections import section
from ..transfer.exporting import audit_export, count_rows, describe_filters, export_size, send_export
from ..transfer.exports import export_job
from . import evidence as files
from . import changes, filers, filing, funds, ledger, pending, queries, rules, services
from . import overdue as overdue_list
from .forms import ActionForm, ConfirmForm, ContributionForm, DisputeForm, EvidenceForm, RecordForm
from .models import Evidence, SupportRecord, office_name

bp = Blueprint("records", __name__, url_prefix="/records")


def current_app_setting(name: str):
    return current_app.config[name]


def _render_form(form, status=200, **ctx):
    return render_template("records/form.html", form=form, **ctx), status


def _form_uploads() -> tuple[list, list, list[pending.Pending]]:
    """The evidence a record form sends: the files kept from a refused save (``pending``,
    less those ticked ``pending_remove``, deleted now) and the files chosen now. Each file
    chosen now is checked, and kept at once if accepted, so that a refusal does not lose
    it; a refused one goes to the service as it came, which names it in its message.
    Returns the checked uploads, the refused files and the kept files (shown again if the
    save is refused)."""
    removed = request.form.getlist("pending_remove")
    pending.discard(current_user, removed)
    tokens = [token for token in request.form.getlist("pending") if token not in removed]
    fresh, refused = [], []
    for storage in request.files.getlist("files"):
        if storage is None or not storage.filename:
            continue
        try:
            fresh.append(files.check_upload(storage))
        except RuleViolation:
            storage.stream.seek(0)
            refused.append(storage)
    # no more kept than a record may hold: the rest go to the service, which refuses the count
    room = max(0, filing.MAX_EVIDENCE_PER_RECORD - len(tokens))
    tokens += [item.token for item in pending.keep(current_user, fresh[:room])]
    kept = pending.load(current_user, tokens)
    return [upload for _, upload in kept] + fresh[room:], refused, [item for item, _ in kept]


def _save_record(form, save, **kw):
    """``save_form`` for a record form with evidence: ``save(uploads)`` calls the service;
    on success the kept files (now the record's evidence) are removed from the pending
    area. Returns the redirect (None when refused) and the kept files, which the refused
    form shows again."""
    uploads, refused, kept = _form_uploads()
    saved = save_form(form, lambda: save(uploads + refused), last_write=True, **kw)
    if saved is not None:
        pending.discard(current_user, [item.token for item in kept])
        return saved, kept
    # the service stops at the record's own errors before it looks at files: name a
    # refused file now, since it is neither kept nor saved
    for storage in refused:
        storage.stream.seek(0)
        try:
            files.check_upload(storage)
        except RuleViolation as violation:
            form.files.errors = [*(e for e in form.files.errors if e not in violation.errors["files"]),
                                 *violation.errors["files"]]
    return None, kept


def _detail_context(record: SupportRecord, **extra) -> dict:
    user = current_user
    correction = rules.pending_correction(record)
    replaced_by = queries.superseded_by(record) if record.status == "superseded" else None
    supersedes = record.supersedes if record.supersedes_id else None
    return {
        "record": record,
        "actions": rules.allowed_actions(record, user),
        "frozen": rules.frozen_for(record, user),  # the actions a close has taken away, and why
        "history": queries.history(record, user),
        "correction": correction if correction is not None and in_scope(SupportRecord, correction.id) else None,
        "replaced_by": replaced_by,
        "supersedes": supersedes if supersedes is not None and in_scope(SupportRecord, supersedes.id) else None,
        "dispute_form": extra.pop("dispute_form", None) or DisputeForm(formdata=None, version=record.version),
        "evidence_form": extra.pop("evidence_form", None) or EvidenceForm(formdata=None),
        "overdue_days": current_app_setting("REGISTRY_CONFIRMATION_OVERDUE_DAYS"),
        "days_pending": queries.days_pending(record),
        "review": changes.review(record, user),
        **_chase_context(record, user),
        **extra,
    }


def _chase_context(record: SupportRecord, user) -> dict:
    """The record's 催办 card: its chases and escalations, and the chase link for those who may."""
    item = chasing.record_item(record)
    may = user.can("chase") and chasing.may_chase(user) and item.is_open
    return {"chase_state": chasing.state_of(item), "chase_history": chasing.history(item, user),
            "chase_url": url_for("chase.record", record_id=record.id) if may else None}


def _refused(record: SupportRecord, violation: RuleViolation, **extra):
    """Re-show the record with the refusal (nothing was changed)."""
    db.session.rollback()
    record = db.session.get(SupportRecord, record.id)
    return render_template("records/detail.html", errors=[violation.message], **_detail_context(record, **extra)), 422


# -- lists -------------------------------------------------------------------------------------

@bp.route("/")
@login_only
def index():
    filters = queries.RecordFilters.from_args(request.args)
    page = paginate(queries.record_list(current_user, filters), queries.RECORD_ORDER, request.args)
    villages = filers.filer_villages(current_user.organization_id) if current_user.role == "unit" else []
    return render_template("records/index.html", page=page, filters=filters, villages=villages)


@bp.route("/inbox")
@require("confirm_records")
def inbox():
    page = paginate(queries.inbox(current_user, with_evidence=True), queries.PENDING_ORDER, request.args)
    return render_template("records/inbox.html", page=page, days_pending=queries.days_pending,
                           reviews=changes.reviews(page.items, current_user),
                           frozen={r.id: message for r in page.items if (message := rules.frozen_for(r, current_user))})


def _overdue_area() -> AreaFilter:
    """The overdue list's region (``?region=``, in scope, else the user's own) narrowed by
    the county / township chosen under it."""
    code = request.args.get("region", "")
    if code:
        root = get_in_scope_or_404(Region, code)
    else:
        own = {"admin": "430000000000", "village": current_user.village_code}.get(current_user.role,
                                                                                  current_user.region_code)
        root = get_in_scope_or_404(Region, own or "")
    return area_filter(root, request.args)


@bp.route("/overdue")
@require("read_overdue")
def overdue():
    area = _overdue_area()
    filters = overdue_list.OverdueFilters.from_args(request.args)
    keys = overdue_list.sort_keys(filters.sort)
    if filters.chase:
        by_category, by_age = overdue_list.counts(current_user, area.region, filters)
        listed = None
    else:  # one pass gives the counts by category and age, the list's and the chase tab's total
        by_category, by_age, listed = overdue_list.tallies(current_user, area.region, filters)
    page = paginate(filters.query(current_user, area.region), keys, request.args, total=listed)
    code = request.args.get("region") or None
    return render_template("records/overdue.html", page=page, area=area, filters=filters, by_category=by_category,
                           by_chase=overdue_list.chase_counts(current_user, area.region, filters, total=listed),
                           chase_states=chasing.STATES, chased=chasing.record_states(r.id for r in page.items),
                           may_chase=current_user.can("chase") and chasing.may_chase(current_user),
                           by_age=by_age, ages=overdue_list.AGES, sorts=overdue_list.SORTS, categories=RECORD_CATEGORIES,
                           areas=Areas().preload(r.village_code for r in page.items), days_pending=queries.days_pending,
                           days=current_app_setting("REGISTRY_CONFIRMATION_OVERDUE_DAYS"),
                           args={"region": code, **area.args, **filters.args})


@bp.route("/export.<fmt>")
@export_job("records", "帮扶台账")
@require("export")
def export(fmt: str):
    """帮扶台账: every record the list shows with its filters, streamed."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    filters = queries.RecordFilters.from_args(request.args)
    stmt = queries.record_list(current_user, filters)
    shown = describe_filters(ledger_filters(filters))
    audit_export("SupportRecord", "帮扶台账", count_rows(stmt), fmt, shown)
    return send_export(fmt, "帮扶台账", ledger.COLUMNS, ledger.ledger_rows(stmt), filters=shown)


@bp.route("/overdue/export.<fmt>")
@export_job("overdue", "逾期未确认的帮扶记录")
@require("read_overdue")
def overdue_export(fmt: str):
    """The overdue list as it is filtered and sorted, with county and township; audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    area = _overdue_area()
    filters = overdue_list.OverdueFilters.from_args(request.args)
    stmt = filters.query(current_user, area.region).order_by(None).order_by(*order_by(overdue_list.sort_keys(filters.sort)))
    shown = describe_filters([("行政区", area.root.name), *area.shown, *filters.shown()])
    title = "逾期未确认的帮扶记录"
    audit_export("SupportRecord", title, count_rows(stmt), fmt, shown)
    return send_export(fmt, title, overdue_list.COLUMNS, overdue_list.rows(stmt), filters=shown)


def ledger_filters(f) -> list[tuple[str, str]]:
    from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES

    village = db.session.get(Region, f.village_code) if f.village_code else None
    org = db.session.get(Organization, f.organization_id) if f.organization_id else None
    return [("状态", RECORD_STATUSES.get(f.status, "")), ("帮扶类别", RECORD_CATEGORIES.get(f.category, "")),
            ("村", village.name if village else f.village_code), ("填报单位", org.name if org else ""),
            ("帮扶日期自", f.date_from.isoformat() if f.date_from else ""),
            ("帮扶日期至", f.date_to.isoformat() if f.date_to else ""), ("标题或编号含", f.q)]


# -- one record --------------------------------------------------------------------------------

@bp.route("/<int:record_id>")
@login_only
def detail(record_id: int):
    record = get_in_scope_or_404(SupportRecord, record_id)
    return render_template("records/detail.html", errors=[], **_detail_context(record))


def _acting_or_404(raw: str) -> Organization | None:
    """The unit region staff chose to file for (``?organization=``): one they may see and act
    for (``filers.may_act_for``), else 404; None when none is chosen yet."""
    if not raw:
        return None
    org = get_in_scope_or_404(Organization, raw)
    if not filers.may_act_for(current_user, org.id):
        abort(404)
    return org


@bp.route("/new", methods=["GET", "POST"])
@require("new_records")
@lock_at_first_write
def new():
    """A unit files its own record; region staff first choose the unit they file for (代为填报)."""
    acting, within = None, None
    if filers.files_on_behalf(current_user):
        acting, within = _acting_or_404(request.args.get("organization", "").strip()), current_user.region
        if acting is None:
            return render_template("records/choose_unit.html", organizations=filers.acting_organizations(current_user),
                                   office=office_name(within))
    form = RecordForm(acting.id if acting else current_user.organization_id, within=within)
    ctx = {"title": "代为填报帮扶记录" if acting else "填报帮扶记录", "acting": acting,
           "office": office_name(within) if within else None}
    if request.method == "GET":
        form.village_code.data = request.args.get("village", "")
        form.choose_only_pairing()
        form.record_date.data = local_today().isoformat()
    if form.validate_on_submit():
        saved, kept = _save_record(
            form, lambda uploads: filing.create_record(current_user, form.data, uploads,
                                                         submit=request.form.get("action") == "submit",
                                                         organization_id=acting.id if acting else None),
            success=lambda record: (f"已代{acting.name}填报并提交，等待村确认" if acting
                                    else "已提交，等待村确认" if record.status == "submitted" else "草稿已保存"),
            redirect_to=lambda record: url_for("records.detail", record_id=record.id),
        )
        return saved or _render_form(form, 422, kept=kept, **ctx)
    return _render_form(form, **ctx)


@bp.route("/<int:record_id>/edit", methods=["GET", "POST"])
@require("file_records")
@lock_at_first_write
def edit(record_id: int):
    record = get_in_scope_or_404(SupportRecord, record_id)
    fixed = record.supersedes.village if record.supersedes_id else None
    form = RecordForm(record.organization_id, fixed_village=fixed)
    if request.method == "GET":
        refusal = rules.refusal(record, current_user, "edit")
        if refusal:
            flash(refusal, "danger")
            return redirect(url_for("records.detail", record_id=record.id))
        form.fill_from(record)
        form.version.data = record.version
    if form.validate_on_submit():
        saved, kept = _save_record(
            form, lambda uploads: filing.update_record(record, current_user, form.data, form.version.data, uploads,
                                                         submit=request.form.get("action") == "submit"),
            success="已修改并提交，等待村确认" if request.form.get("action") == "submit" else "修改已保存",
            redirect_to=url_for("records.detail", record_id=record_id),
        )
        return saved or _render_form(form, 422, title="修改帮扶记录", record=record, kept=kept)
    return _render_form(form, title="修改帮扶记录", record=record)


@bp.route("/<int:record_id>/correct", methods=["GET", "POST"])
@require("file_records")
@lock_at_first_write
def correct(record_id: int):
    original = get_in_scope_or_404(SupportRecord, record_id)
    refusal = rules.refusal(original, current_user, "correct")
    if refusal:
        if request.method == "GET":
            flash(refusal, "danger")
            return redirect(url_for("records.detail", record_id=original.id))
    form = RecordForm(original.organization_id, fixed_village=original.village)
    if request.method == "GET":
        form.fill_from(original)
        form.reference.data = ""  # the 编号 stays the original's; the correction gets its own
        form.record_date.data = original.record_date.isoformat()
    if form.validate_on_submit():
        saved, kept = _save_record(
            form, lambda uploads: filing.start_correction(original, current_user, form.data, uploads,
                                                            submit=request.form.get("action") == "submit"),
            success="更正记录已创建；村确认后将取代原记录",
            redirect_to=lambda record: url_for("records.detail", record_id=record.id),
        )
        return saved or _render_form(form, 422, title="更正已确认的记录", original=original, kept=kept)
    return _render_form(form, title="更正已确认的记录", original=original)


def named(record: SupportRecord) -> str:
    """A record as a message names it: its 编号, village and title."""
    village = record.village.name if record.village else record.village_code
    return f"编号 {record.reference}（{village}）{record.title}"


_PLAIN_RECORD = (lazyload(SupportRecord.organization), lazyload(SupportRecord.village))


def _transition_view(record_id: int, service, done, form: ActionForm | None = None, **kwargs):
    """``done``: the flash, or a function of the record that makes it. The views that call
    it are ``lock_at_first_write``: what the service reads before it writes (the record,
    who may act, the year's closes) is read before the write lock, and the record's update
    is refused as stale if it changed meanwhile.

    The record's unit and village are not joined into its look-up: the moves read them
    only by name (the notice, the message), and the one who acts has theirs loaded with
    the account (a unit its organization, a village account its village), so the session
    hands them over without a query; building the joined rows cost more than the look-up
    itself."""
    record = get_in_scope_or_404(SupportRecord, record_id, options=_PLAIN_RECORD)
    if form is None:  # confirm passes the form it read (a second reading costs a form)
        form = ActionForm()
    try:
        with last_write():
            service(record, current_user, expected_version=form.version.data, **kwargs)
    except RuleViolation as violation:
        return _refused(record, violation)
    only_reading_from_here()  # the service committed; the message and the redirect only read
    flash(done(record) if callable(done) else done, "success")
    if form.next.data == "inbox":
        return redirect(url_for("records.inbox"))
    return redirect(url_for("records.detail", record_id=record_id))


@bp.route("/<int:record_id>/submit", methods=["POST"])
@require("file_records")
@lock_at_first_write
def submit(record_id: int):
    return _transition_view(record_id, services.submit_record, "已提交，等待村确认")


@bp.route("/<int:record_id>/withdraw", methods=["POST"])
@require("file_records")
@lock_at_first_write
def withdraw(record_id: int):
    return _transition_view(record_id, services.withdraw_record, "记录已撤回")


@bp.route("/<int:record_id>/confirm", methods=["POST"])
@require("confirm_records")
@lock_at_first_write
def confirm(record_id: int):
    """确认属实 takes two deliberate steps, with no script: the buttons of the inbox and
    the record page post ``step=review``, which only shows the record once more (every
    figure, what changed, the evidence) with a box to tick and the final button
    (``step=final``). A post without a step confirms at once (the version check still
    applies): no page of the registry sends one."""
    form = ConfirmForm()
    step = form.step.data or ""
    if step in ("review", "final"):
        record = get_in_scope_or_404(SupportRecord, record_id)
        refusal = rules.refusal(record, current_user, "confirm")
        if refusal:
            return _refused(record, RuleViolation({"": refusal}))
        if step == "review" or not form.attest.data:
            errors = [] if step == "review" else [rules.ATTEST_REQUIRED]
            stale = bool(form.version.data) and str(form.version.data) != str(record.version)
            return render_template("records/confirm.html", record=record, errors=errors, stale=stale,
                                   review=changes.review(record, current_user),
                                   next=form.next.data if form.next.data == "inbox" else ""), (422 if errors else 200)
    return _transition_view(record_id, services.confirm_record, lambda r: f"已确认该帮扶记录：{named(r)}", form=form)


@bp.route("/<int:record_id>/dispute", methods=["GET", "POST"])
@require("confirm_records")
@lock_at_first_write
def dispute(record_id: int):
    record = get_in_scope_or_404(SupportRecord, record_id)
    form = DisputeForm()
    if request.method == "GET":
        form.version.data = record.version
    if form.validate_on_submit():
        saved = save_form(
            form, lambda: services.dispute_record(record, current_user, form.reason.data,
                                                  expected_version=form.version.data),
            success=lambda r: f"已提出异议，记录已退回填报单位：{named(r)}", redirect_to=url_for("records.inbox"),
            last_write=True,
        )
        if saved:
            return saved
        record = db.session.get(SupportRecord, record_id)
        return render_template("records/dispute.html", record=record, form=form,
                               review=changes.review(record, current_user)), 422
    return render_template("records/dispute.html", record=record, form=form, review=changes.review(record, current_user))


# -- evidence ----------------------------------------------------------------------------------

@bp.route("/<int:record_id>/evidence", methods=["POST"])
@require("file_records")
def upload(record_id: int):
    record = get_in_scope_or_404(SupportRecord, record_id)
    form = EvidenceForm()
    try:
        added = filing.add_evidence(record, current_user, request.files.getlist("files"))
    except RuleViolation as violation:
        db.session.rollback()
        violation.apply_to_form(form)
        return _refused(record, violation, evidence_form=form)
    flash(f"已上传 {added} 个佐证文件" if added else "这些文件已上传过", "success")
    return redirect(url_for("records.detail", record_id=record_id))


# A file is shown on its own: nothing in it may run or load anything.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _evidence_or_404(record_id: int, evidence_id: int) -> Evidence:
    """A file of a record the user may see; a file of another record is a 404 too."""
    record = get_in_scope_or_404(SupportRecord, record_id)
    item = get_in_scope_or_404(Evidence, evidence_id)
    if item.record_id != record.id:
        abort(404)
    return item


@bp.route("/<int:record_id>/evidence/<int:evidence_id>")
@talisman(content_security_policy=FILE_CSP)
@login_only
def evidence_file(record_id: int, evidence_id: int):
    item = _evidence_or_404(record_id, evidence_id)
    return files.serve_item(item)


@bp.route("/<int:record_id>/evidence/<int:evidence_id>/thumb")
@talisman(content_security_policy=FILE_CSP)
@login_only
def evidence_thumb(record_id: int, evidence_id: int):
    """A photo's thumbnail (a small JPEG), for the same users as the photo; none for a PDF."""
    item = _evidence_or_404(record_id, evidence_id)
    return files.private(files.serve_thumbnail(item.stored_name, item.content_type, max_age=0))


@bp.route("/<int:record_id>/evidence/<int:evidence_id>/delete", methods=["POST"])
@require("file_records")
def evidence_delete(record_id: int, evidence_id: int):
    record = get_in_scope_or_404(SupportRecord, record_id)
    item = get_in_scope_or_404(Evidence, evidence_id)
    try:
        filing.delete_evidence(record, item, current_user)
    except RuleViolation as violation:
        return _refused(record, violation)
    flash("佐证文件已删除", "success")
    return redirect(url_for("records.detail", record_id=record_id))


# -- charitable funds --------------------------------------------------------------------------

def _fund_or_404(org_id: int) -> Organization:
    org = get_in_scope_or_404(Organization, org_id)
    if not funds.is_fund(org):
        abort(404)
    return org


@bp.route("/funds")
@require("read_funds")
def fund_list():
    if current_user.role == "unit":
        if funds.is_fund(current_user.organization):
            return redirect(url_for("records.fund", org_id=current_user.organization_id))
        abort(404)
    page = paginate(funds.funds_in_scope(current_user), funds.FUND_ORDER, request.args)
    return render_template("records/funds.html", page=page, totals={org.id: funds.totals(org) for org in page.items})


@bp.route("/funds/<int:org_id>")
@require("read_funds")
def fund(org_id: int):
    org = _fund_or_404(org_id)
    page = paginate(funds.contributions(org, current_user), funds.CONTRIBUTION_ORDER, request.args)
    recent = db.session.scalars(
        queries.record_list(current_user, queries.RecordFilters(organization_id=org.id, status="confirmed")).limit(10)
    ).all()
    return render_template("records/fund.html", org=org, totals=funds.totals(org), page=page, recent=recent,
                           may_add=funds.may_record_contribution(current_user, org))


@bp.route("/funds/export.<fmt>")
@export_job("funds", "公益慈善资金")
@require("read_funds")
def fund_list_export(fmt: str):
    """The fund list with each fund's figures (no personal data: not audited)."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    stmt = funds.funds_in_scope(current_user)
    count_rows(stmt)  # a large export is a job
    return send_export(fmt, "公益慈善资金", funds.FUND_COLUMNS, funds.fund_rows(stmt), filters=describe_filters([]))


@bp.route("/funds/<int:org_id>/export.<fmt>")
@export_job("fund_ledger", "资金台账")
@require("read_funds")
def fund_export(org_id: int, fmt: str):
    """资金台账 of one fund: money received and paid out by date; donors may be people: audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    org = _fund_or_404(org_id)
    money_in, money_out = funds.ledger_statements(org, current_user)
    shown = describe_filters([("公益慈善组织", org.name), ("支出", "村已确认的帮扶记录（直接投入资金或实物）")])
    count = export_size(count_rows(money_in) + count_rows(money_out))
    title = f"{org.name}资金台账"
    audit_export("FundContribution", title, count, fmt, shown)
    return send_export(fmt, title, funds.LEDGER_COLUMNS, funds.ledger_rows(money_in, money_out), filters=shown)


@bp.route("/funds/<int:org_id>/contributions/new", methods=["GET", "POST"])
@require("manage_fund")
def contribution_new(org_id: int):
    org = _fund_or_404(org_id)
    if not funds.may_record_contribution(current_user, org):
        abort(403)
    form = ContributionForm()
    if request.method == "GET":
        form.received_on.data = local_today().isoformat()
    if form.validate_on_submit():
        saved = save_form(form, lambda: funds.add_contribution(org, current_user, form.data),
                          success="受赠资金已登记", redirect_to=url_for("records.fund", org_id=org.id))
        return saved or (render_template("records/contribution_form.html", form=form, org=org), 422)
    return render_template("records/contribution_form.html", form=form, org=org)


# -- navigation, home panels, region sections --------------------------------------------------

def _fund_url(user):
    if user.role == "unit":
        org = user.organization
        return url_for("records.fund", org_id=org.id) if funds.is_fund(org) else None
    return url_for("records.fund_list")


nav_entry(30, "帮扶记录", "records.index", ("admin", "region", "viewer", "unit", "village"))
nav_entry(31, "待确认", "records.inbox", ("village",), badge=lambda user: queries.inbox_count(user) or None)
nav_entry(32, "逾期未确认", "records.overdue", ("admin", "region", "viewer", "village"), group="work")
nav_entry(33, "慈善资金", "records.fund_list", ("admin", "region", "viewer", "unit"), url_fn=_fund_url, group="work")

PANEL_ROWS = 5


def _rows(records, note=None) -> list[dict]:
    return [
        {
            "text": f"{r.village.name if r.village else r.village_code} · {r.title}",
            "url": url_for("records.detail", record_id=r.id),
            "note": note(r) if note else f"{r.category_label} · {date_cn(r.record_date)}",
        }
        for r in records
    ]


def _panel(title: str, stmt, link: str, empty: str, note=None, count: int | None = None, rows=None) -> dict:
    return {
        "title": title,
        "count": queries.count(stmt) if count is None else count,
        "rows": _rows(first(stmt, PANEL_ROWS) if rows is None else rows, note),
        "link": link,
        "empty": empty,
    }


@panel
def _unit_drafts(user):
    if user.role != "unit":
        return None
    result = _panel("草稿", queries.own_records(user, "draft"), url_for("records.index", status="draft"), "没有草稿")
    result["link_text"] = "查看全部草稿"
    return result


@panel
def _unit_pending(user):
    if user.role != "unit":
        return None
    return _panel("等待村确认", queries.own_records(user, "submitted"), url_for("records.index", status="submitted"),
                  "没有等待确认的记录", note=lambda r: f"已等待 {queries.days_pending(r)} 天")


@panel
def _unit_disputed(user):
    if user.role != "unit":
        return None
    return _panel("村有异议的记录", queries.own_records(user, "disputed"),
                  url_for("records.index", status="disputed"), "没有被提出异议的记录",
                  note=lambda r: f"异议理由：{r.dispute_reason or '（未填写）'}")


@panel
def _village_inbox(user):
    if user.role != "village":
        return None
    return _panel("待本村确认的帮扶记录", queries.inbox(user), url_for("records.inbox"), "没有待确认的记录",
                  note=lambda r: f"{r.organization.name} · 提交于 {date_cn(r.submitted_at)}")


@panel
def _region_overdue(user):
    if user.role not in ("region", "viewer"):
        return None
    days = current_app_setting("REGISTRY_CONFIRMATION_OVERDUE_DAYS")
    stmt, count = queries.overdue(user), overdue_count(user)
    # the longest waiting, read as the overdue list reads its first page (core.paging):
    # along the index by submission time, where a province's 26,000 were otherwise sorted
    # (17 ms on SQLite)
    oldest = paginate(stmt, queries.PENDING_ORDER, {}, per_page=PANEL_ROWS, total=count).items
    return _panel(f"超过 {days} 天未确认的记录", stmt, url_for("records.overdue"), "没有逾期未确认的记录",
                  note=lambda r: f"{r.organization.name} · 已等待 {queries.days_pending(r)} 天", count=count,
                  rows=oldest)


@section
def _region_records(region, user):
    if region.level != "village":
        if user.role not in ("admin", "region", "viewer"):
            return None
        return "records/_region_section.html", {"region": region, "overdue": overdue_count(user, region),
                                                "days": current_app_setting("REGISTRY_CONFIRMATION_OVERDUE_DAYS")}
    stmt = queries.record_list(user, queries.RecordFilters(village_code=region.code))
    recent = db.session.scalars(stmt.limit(10)).all()
    confirmed_rows = stmt.where(SupportRecord.status == "confirmed").order_by(None).subquery()
    confirmed = db.session.execute(
        select(func.count(), func.coalesce(func.sum(confirmed_rows.c.amount), 0),
               func.coalesce(func.sum(confirmed_rows.c.amount_in_kind), 0))
    ).one()
    return "records/_village_section.html", {
        "region": region, "recent": recent, "total": queries.count(stmt),
        "confirmed_count": confirmed[0], "confirmed_amount": confirmed[1], "confirmed_in_kind": confirmed[2],
    }
