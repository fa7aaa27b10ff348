from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from ..core.paging import Key, paginate
from ..core.permissions import require
from ..core.timeutil import to_local
from ..transfer.exporting import audit_export, count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from ..core.scope import scoped
from ..extensions import db
from . import anchor, labels
from .models import AuditEvent
from .services import chain_label, verify_chain

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.record_once(lambda _state: anchor.listen())  # a signed checkpoint after every commit that wrote events

bp.add_app_template_filter(labels.actor_label, "actor")  # {{ e.actor | actor }}: 系统 for the registry's own jobs

# newest first: the primary key walked backwards (by entity type: ix_audit_event_type_id)
AUDIT_ORDER = (Key(AuditEvent.id, descending=True),)


def _events():
    stmt = scoped(select(AuditEvent), AuditEvent)
    entity = request.args.get("entity_type", "").strip()
    if entity:
        stmt = stmt.where(AuditEvent.entity_type == entity)
    return stmt, entity


@bp.route("/")
@require("read_audit")
def index():
    stmt, entity = _events()
    page = paginate(stmt, AUDIT_ORDER, request.args)
    return render_template("audit/index.html", page=page, entity=entity, action_label=labels.action_label,
                           entity_label=labels.entity_label, entities=labels.ENTITY_LABELS, changes=labels.changes)


@bp.route("/integrity")
@require("verify_audit")
def integrity():
    """The whole chain verified now against the latest signed checkpoint."""
    keys = anchor.keyring()
    return render_template("audit/integrity.html", report=verify_chain(), keys=keys,
                           path=anchor.checkpoint_path(), chain_label=chain_label)


EXPORT_COLUMNS = (
    Column("编号", "id", "int", 8), Column("时间", "at", "datetime", 17), Column("操作人", "actor", width=12),
    Column("操作", "action", width=12), Column("对象类型", "entity_type", width=14),
    Column("对象编号", "entity_id", width=10), Column("摘要", "summary", width=50),
    Column("变更内容", "changes", width=60), Column("行政区代码", "region_code", width=14), Column("单位编号", "organization_id", "int", 10),
    Column("变更前", "before", width=40), Column("变更后", "after", width=40),
    Column("上一哈希", "prev_hash", width=20), Column("哈希", "hash", width=20),
)


@bp.route("/export.<fmt>")
@export_job("audit", "审计日志")
@require("read_audit")
def export(fmt: str):
    """The trail as inspectors ask for it, oldest first, streamed."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    stmt, entity = _events()
    filters = describe_filters([("对象类型", labels.entity_label(entity) if entity else "")])
    audit_export("AuditEvent", "审计日志", count_rows(stmt), fmt, filters)
    verb, noun = labels.action_label, labels.entity_label
    # 变更内容: the changes as the page shows them (Chinese names, labels, Beijing time);
    # 变更前 / 变更后: the stored values (phones masked), which the hashes are computed over
    rows = ([e.id, to_local(e.at).replace(tzinfo=None), labels.actor_label(e.actor), verb(e.action),
             noun(e.entity_type), e.entity_id, e.summary, labels.changes_text(e.entity_type, e.before, e.after),
             e.region_code, e.organization_id, labels.masked_json(e.before), labels.masked_json(e.after),
             e.prev_hash, e.hash]
            for e in db.session.scalars(stmt.order_by(AuditEvent.id).execution_options(yield_per=2000)))
    return send_export(fmt, "审计日志", EXPORT_COLUMNS, rows, filters=filters)
