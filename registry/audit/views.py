from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from ..core.permissions import require
from ..core.scope import scoped
from ..extensions import db
from .models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/audit")


@bp.route("/")
@require("read_audit")
def index():
    stmt = scoped(select(AuditEvent), AuditEvent)
    entity = request.args.get("entity_type", "").strip()
    if entity:
        stmt = stmt.where(AuditEvent.entity_type == entity)
    page = db.paginate(stmt.order_by(AuditEvent.id.desc()), per_page=50, error_out=False)
    return render_template("audit/index.html", page=page, entity=entity)
