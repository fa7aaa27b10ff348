from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from ..core.access import login_only
from ..core.enums import ORG_KINDS, RECORD_CATEGORIES
from ..core.navigation import nav_entry
from ..core.parsing import int_arg, page_arg
from ..core.permissions import require
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today
from ..extensions import db
from ..regions.areas import AreaFilter, area_filter
from ..regions.models import Region
from ..transfer.exporting import audit_export, describe_filters, export_size, send_export
from ..transfer.exports import export_job
from ..transfer.writing import Column
from . import charts, coverage_cache, sections, summary
from .coverage import compute
from .definitions import FLAGS, Filters
from .actions import NOTES, gap_action
from ..chase.services import STATES as CHASE_STATES
from ..chase.services import may_chase
from .gaps import CHASEABLE, EXPORT_HEADERS, GAP_KINDS, SORTS, gap_count, gap_counts, gap_rows, gaps
from .openapi import API_LIMIT_MAX, openapi_document
from .tables import all_tables

bp = Blueprint("dashboard", __name__)
bp.record_once(lambda _state: summary.listen())  # the summaries follow every flush

METRICS = {
    "first_secretary": "有第一书记（%）",
    "backing_unit": "有后盾单位（%）",
    "enterprise": "有企业结对（%）",
    "support_12m": "近12个月有已确认帮扶（%）",
    "trained": "本年度已培训（%）",
}


def _region_or_404(code: str) -> Region:
    if not (len(code) == 12 and code.isdigit()):
        abort(404)
    region = get_in_scope_or_404(Region, code)
    if region.level == "village":
        abort(404)  # a village has its own page
    return region


def _filters() -> Filters:
    return Filters.from_args(request.args)


def _geojson() -> dict | None:
    path = current_app.config.get("GEOJSON_PATH")
    if not path:
        return None
    cache = current_app.extensions.setdefault("registry_geojson", {})
    if path not in cache:
        cache[path] = json.loads(Path(path).read_text(encoding="utf-8"))
    return cache[path]


@bp.route("/coverage/")
@require("read_region")
def index():
    code = "430000000000" if current_user.role == "admin" else current_user.region_code
    return coverage(code)


@bp.route("/coverage/<code>")
@require("read_region")
def coverage(code: str):
    region = _region_or_404(code)
    try:
        filters = _filters()
    except RuleViolation as violation:
        return render_template("errors/error.html", code=400, title="筛选条件有误", message=violation.message), 400
    cov = compute(region, filters)
    tables = all_tables(cov)
    figures = charts.figures(tables, region.name)
    metric = request.args.get("metric", "first_secretary")
    if metric not in METRICS:
        metric = "first_secretary"
    geojson = _geojson()
    if geojson is not None and cov.children:
        rows = tables["coverage"].rows[:-1]
        col = tables["coverage"].header.index(METRICS[metric])
        fig = charts.choropleth(geojson, [r[0] for r in rows], [r[col] for r in rows], METRICS[metric])
        figures["map"] = charts.to_json(fig)
    return render_template(
        "dashboard/coverage.html", region=region, cov=cov, tables=tables, figures=figures, filters=filters,
        categories=RECORD_CATEGORIES, org_kinds=ORG_KINDS, flags=FLAGS, years=range(local_today().year, 2020, -1),
        metrics=METRICS, metric=metric, has_map="map" in figures,
        sections=sections.for_coverage(region, current_user, request.args),
    )


@bp.route("/coverage/<code>/data/<name>.<fmt>")
@require("read_region")
def download(code: str, name: str, fmt: str):
    region = _region_or_404(code)
    if fmt not in ("csv", "xlsx"):
        abort(404)
    try:
        filters = _filters()
    except RuleViolation as violation:
        abort(Response(violation.message, status=400))
    tables = all_tables(compute(region, filters))
    table = tables.get(name)
    if table is None:
        abort(404)
    # as every other export: named in Chinese after the area and the chart, the page's
    # filters on the second sheet, amounts as numbers under a header in 元
    shown = describe_filters([("行政区", f"{region.name}（{region.code}）"), *filters.shown()])
    return send_export(fmt, f"{region.name}{table.title}", _table_columns(table), table.rows, filters=shown)


def _table_columns(table) -> list[Column]:
    """A chart table's columns for ``send_export``: its money columns as amounts (in 元,
    said in the header), whole-number columns as numbers, the rest (names, shares in %)
    as they are."""
    def kind(i: int) -> str:
        if i in table.money:
            return "amount"
        values = [row[i] for row in table.rows if row[i] is not None]
        return "int" if values and all(type(v) is int for v in values) else "text"

    return [Column(h if i not in table.money or "元" in h else f"{h}（元）", f"c{i}", kind(i), width=16 if i else 14)
            for i, h in enumerate(table.header)]


@bp.route("/gaps/")
@require("read_region")
def gaps_index():
    code = "430000000000" if current_user.role == "admin" else current_user.region_code
    return gaps_page(code)


def _gap_args(root: Region) -> tuple[str | None, str, AreaFilter]:
    """The worklist's filters: the kind of gap, the sort, the county / township under ``root``."""
    kind = request.args.get("kind") or None
    if kind and kind not in GAP_KINDS:
        abort(404)
    sort = request.args.get("sort", "")
    return kind, sort if sort.lstrip("-") in SORTS else "", area_filter(root, request.args)


def _chase_arg() -> str:
    """The worklist's chase-state filter (催办情况), or "" (a value not among the choices is ignored)."""
    chase = request.args.get("chase", "")
    return chase if chase in CHASE_STATES else ""


def _here() -> str:
    """This page's own address, for the actions' ``next``."""
    return request.full_path.rstrip("?")


@bp.route("/gaps/<code>")
@require("read_region")
def gaps_page(code: str):
    root = _region_or_404(code)
    kind, sort, area = _gap_args(root)
    chase = _chase_arg()
    page = page_arg(request.args)
    per_page = 50 if kind else 10
    lists = gaps(area.region, [kind] if kind else None, limit=per_page, offset=(page - 1) * per_page, sort=sort,
                 chase=chase)
    counts = gap_counts(area.region, chase=chase) if kind else {g.kind: g.count for g in lists}
    back = _here()
    for g in lists:
        for item in g.items:
            item["action"] = gap_action(g.kind, item, current_user.role, back)
    return render_template("dashboard/gaps.html", region=root, area=area, lists=lists, counts=counts, kinds=GAP_KINDS,
                           notes=NOTES,
                           kind=kind, page=page, per_page=per_page, sort=sort, sorts=SORTS,
                           chase=chase, chase_states=CHASE_STATES, chaseable=CHASEABLE,
                           may_chase=current_user.can("chase") and may_chase(current_user),
                           args={"kind": kind, "sort": sort or None, "chase": chase or None, **area.args})


GAP_COLUMNS = tuple(
    Column(header, key, kind, width) for header, (key, kind, width) in zip(EXPORT_HEADERS, (
        ("kind", "text", 24), ("subject", "text", 36), ("county", "text", 14), ("township", "text", 14),
        ("place_code", "text", 14), ("date", "date", 12), ("detail", "text", 48), ("chase", "text", 36)))
)


@bp.route("/gaps/<code>/export.<fmt>")
@export_job("gaps", "缺口清单")
@require("read_region")
def gaps_export(code: str, fmt: str):
    """The whole worklist (or one kind of it) with county and township; names: audited."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    root = _region_or_404(code)
    kind, sort, area = _gap_args(root)
    chase = _chase_arg()
    region = area.region
    kinds = [kind] if kind else None
    shown = describe_filters([("行政区", root.name), *area.shown, ("缺口类型", GAP_KINDS.get(kind or "", "")),
                              ("排序", (SORTS[sort.lstrip("-")] + ("（倒序）" if sort.startswith("-") else "")) if sort else ""),
                              ("催办情况", CHASE_STATES.get(chase, ""))])
    count = export_size(gap_count(region, kinds, chase=chase))
    title = f"{region.name}缺口清单"
    audit_export("Gap", title, count, fmt, shown)
    return send_export(fmt, title, GAP_COLUMNS, gap_rows(region, kinds, sort, chase=chase), filters=shown)


# -- JSON API --------------------------------------------------------------------------------

@bp.route("/api/v1/coverage/<code>")
@require("read_region")
def api_coverage(code: str):
    """The region's coverage, and what other features add (``sections.coverage_api_section``:
    the projects by status, with their own filter); every argument is checked first."""
    region = _region_or_404(code)
    cached = coverage_cache.store()
    if cached.size <= 0 or not sections.api_cacheable():
        filters = _filters()
        extras = sections.for_coverage_api(region, current_user, request.args)
        return jsonify({**compute(region, filters).to_dict(), **extras})
    # the marker first: whatever is computed after it is at least as new (coverage_cache)
    conn = db.session.connection()
    user = current_user._get_current_object()  # read several times: once through the proxy
    key, marker = coverage_cache.key_for(user, region, request.args), coverage_cache.marker(conn, region)
    entry = cached.get(key, marker)
    if entry is None:
        expires = coverage_cache.expiry(conn)  # before the figures: their cut-off is no earlier
        filters = _filters()
        extras = sections.for_coverage_api(region, current_user, request.args)
        body = jsonify({**compute(region, filters).to_dict(), **extras}).get_data()
        entry = coverage_cache.Entry(marker, expires, body, coverage_cache.etag_of(body))
        cached.put(key, entry)
    if request.if_none_match.contains(entry.etag):
        response = Response(status=304)
    else:
        response = Response(entry.body, mimetype="application/json")
    response.set_etag(entry.etag)
    return response


@bp.route("/api/v1/gaps/<code>")
@require("read_region")
def api_gaps(code: str):
    region = _region_or_404(code)
    limit = int_arg(request.args, "limit", "条数", default=100, minimum=0, maximum=API_LIMIT_MAX)
    offset = int_arg(request.args, "offset", "起始位置", default=0, minimum=0)
    kind = request.args.get("kind")
    if kind and kind not in GAP_KINDS:
        raise RuleViolation("缺口类型无效", "kind")
    lists = gaps(region, [kind] if kind else None, limit=limit, offset=offset)
    return jsonify({
        "region": {"code": region.code, "name": region.name, "level": region.level},
        "gaps": [{"kind": g.kind, "label": g.label, "count": g.count, "items": [_json_item(i) for i in g.items]}
                 for g in lists],
    })


def _json_item(item: dict) -> dict:
    out = {k: v.isoformat() if isinstance(v, date) else v for k, v in item.items() if k != "chase"}
    if "chase" in item:  # a line that is chased (催办): its state as a value and as text
        state = item["chase"]
        out["chase"], out["chase_text"] = (state.value, state.text) if state else ("none", "未催办")
    return out


@bp.route("/api/v1/openapi.json")
@login_only
def api_openapi():
    return jsonify(openapi_document(url_for("dashboard.api_coverage", code="430000000000", _external=True).split("/api/")[0]))


def _coverage_url(user):
    if user.role == "admin":
        return url_for("dashboard.coverage", code="430000000000")
    return url_for("dashboard.coverage", code=user.region_code)


def _gaps_url(user):
    if user.role == "admin":
        return url_for("dashboard.gaps_page", code="430000000000")
    return url_for("dashboard.gaps_page", code=user.region_code)


nav_entry(12, "覆盖情况", "dashboard.coverage", ("admin", "region", "viewer"), url_fn=_coverage_url)
nav_entry(13, "缺口清单", "dashboard.gaps_page", ("admin", "region", "viewer"), url_fn=_gaps_url)
