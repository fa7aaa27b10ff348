from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user
from sqlalchemy import select

from ..core.access import login_only
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404, scoped
from ..extensions import db
from ..transfer.exporting import count_rows, describe_filters, send_export
from ..transfer.exports import export_job
from . import sections
from .imports import VillageImport, export_row
from .models import Region
from .services import children_with_counts, village_count

bp = Blueprint("regions", __name__, url_prefix="/regions")


@bp.route("/<code>")
@login_only
def detail(code: str):
    if not (len(code) == 12 and code.isdigit()):
        abort(404)
    region = get_in_scope_or_404(Region, code)
    # Breadcrumbs: only the ancestors the user may see (a county user starts at the county),
    # in one query (a look-up per ancestor cost four more round trips on PostgreSQL)
    ancestors = db.session.scalars(scoped(select(Region).where(Region.code.in_(region.ancestor_codes())), Region,
                                          current_user).order_by(Region.code)).all()
    extra = sections.for_region(region, current_user)
    if region.level == "village":
        return render_template("regions/village.html", region=region, ancestors=ancestors, sections=extra)
    children = children_with_counts(region)
    total, key = village_count(region)
    return render_template(
        "regions/detail.html", region=region, ancestors=ancestors, children=children, total=total, key=key, sections=extra
    )


@bp.route("/<code>/villages.<fmt>")
@export_job("villages", "村名录")
@require("export")
def export_villages(code: str, fmt: str):
    """The villages under a region that the user may see, in the villages import's columns."""
    if not (len(code) == 12 and code.isdigit()) or fmt not in ("xlsx", "csv"):
        abort(404)
    region = get_in_scope_or_404(Region, code)
    stmt = scoped(select(Region).where(Region.level == "village", region.within(Region.code)), Region, current_user)
    count_rows(stmt)  # a large export (a city's villages) is a job
    rows = (export_row(v) for v in db.session.scalars(stmt.order_by(Region.code).execution_options(yield_per=2000)))
    return send_export(fmt, f"{region.name}村名录", VillageImport.export_columns(), rows,
                       filters=describe_filters([("地区", f"{region.name}（{region.code}）")]))
