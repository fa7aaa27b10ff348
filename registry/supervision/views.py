"""监督查询: funds and money records followed from contribution to village to confirmation."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from ..audit import labels
from ..core.enums import OVERSIGHT_BODIES, RECORD_STATUSES
from ..core.navigation import nav_entry
from ..core.paging import paginate
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import to_local
from ..extensions import db
from ..organizations.models import Organization
from ..records import ledger
from ..records.funds import funds_in_scope, totals
from ..records.models import SupportRecord
from ..records.queries import RECORD_ORDER
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from .services import fund_trail, money_records, record_trail, source_panels

bp = Blueprint("supervision", __name__, url_prefix="/supervision")


def _body() -> str:
    return OVERSIGHT_BODIES.get(getattr(current_user, "oversight_body", None) or "", "")


def _money_filters() -> tuple[str, str]:
    """The money records' filters the request gives (the list's and its export's): a
    status, and words of the title."""
    status = request.args.get("status", "")
    return (status if status in RECORD_STATUSES else ""), request.args.get("q", "").strip()[:50]


@bp.route("/")
@require("supervise")
def index():
    status, q = _money_filters()
    page = paginate(money_records(current_user, status=status, q=q), RECORD_ORDER, request.args)
    funds = db.session.scalars(funds_in_scope(current_user).limit(200)).all()
    return render_template("supervision/index.html", page=page, status=status, q=q, statuses=RECORD_STATUSES,
                           funds=[(f, totals(f)) for f in funds], panels=source_panels(current_user), body=_body())


MONEY_TITLE = "资金类帮扶记录"


@bp.route("/export.<fmt>")
@export_job("money_records", MONEY_TITLE)
@require("supervise")  # whoever supervises may export (``permissions``: supervise is within export)
def export(fmt: str):
    """The money records as the list filters them, in the ledger's columns (帮扶台账), so
    an inspector's sheet reads as the units' own ledgers do; streamed, and audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    status, q = _money_filters()
    stmt = money_records(current_user, status=status, q=q)
    shown = describe_filters([("状态", RECORD_STATUSES.get(status, "")), ("标题含", q)])
    audit_export("SupportRecord", MONEY_TITLE, count_rows(stmt), fmt, shown)
    return send_export(fmt, MONEY_TITLE, ledger.COLUMNS, ledger.ledger_rows(stmt), filters=shown)


@bp.route("/records/<int:record_id>")
@require("supervise")
def record(record_id: int):
    trail = record_trail(get_in_scope_or_404(SupportRecord, record_id), current_user)
    fund = trail.record.organization if trail.record.organization.kind == "charity" else None
    return render_template("supervision/record.html", trail=trail, fund=fund, body=_body())


def _fund_or_404(org_id: int) -> Organization:
    org = get_in_scope_or_404(Organization, org_id)
    if org.kind != "charity":
        abort(404)
    return org


@bp.route("/funds/<int:org_id>")
@require("supervise")
def fund(org_id: int):
    org = _fund_or_404(org_id)
    return render_template("supervision/fund.html", trail=fund_trail(org, current_user), totals=totals(org), body=_body())


TRAIL_COLUMNS = (
    Column("编号", "id", "int", 8), Column("时间", "at", "datetime", 17), Column("操作人", "actor", width=16),
    Column("操作", "action", width=12), Column("对象", "entity", width=36), Column("摘要", "summary", width=50),
    Column("变更", "changes", width=60),
)


def _trail_export(fmt: str, title: str, events, filters: str):
    """A trail as a sheet: audited like every export of personal data (the actors are
    named); it holds no ID number or phone (the events of people are not in a money trail)."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    audit_export("AuditEvent", title, len(events), fmt, filters)
    rows = ([e.event.id, to_local(e.at).replace(tzinfo=None), labels.actor_label(e.actor), e.action, e.entity, e.summary,
             labels.changes_text(e.event.entity_type, e.event.before, e.event.after)] for e in events)
    return send_export(fmt, title, TRAIL_COLUMNS, rows, filters=filters)


@bp.route("/records/<int:record_id>/trail.<fmt>")
@require("supervise")
def record_export(record_id: int, fmt: str):
    trail = record_trail(get_in_scope_or_404(SupportRecord, record_id), current_user)
    return _trail_export(fmt, "资金监督轨迹", trail.events,
                         describe_filters([("帮扶记录", f"{trail.record.reference} {trail.record.title}")]))


@bp.route("/funds/<int:org_id>/trail.<fmt>")
@require("supervise")
def fund_export(org_id: int, fmt: str):
    org = _fund_or_404(org_id)
    trail = fund_trail(org, current_user)
    return _trail_export(fmt, "资金监督轨迹", trail.events, describe_filters([("基金", org.name)]))


nav_entry(59, "资金监督", "supervision.index", ("admin", "region", "viewer"), group="oversight")
