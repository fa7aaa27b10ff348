from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from flask import Blueprint, jsonify, redirect, render_template, send_file, url_for
from flask_login import current_user
from sqlalchemy import text

from ..core.access import for_cadres, login_only, public
from ..extensions import db
from . import home as home_panels

bp = Blueprint("main", __name__)


@bp.route("/")
@for_cadres
@login_only
def home():
    if current_user.role == "cadre":  # 驻村干部: their own posting, days, training and grades
        from ..cadres.home import cadre_home

        return render_template("cadres/home.html", home=cadre_home(current_user))
    if current_user.role in ("region", "viewer"):
        region_url = url_for("regions.detail", code=current_user.region_code)
    elif current_user.role == "admin":
        region_url = url_for("regions.detail", code="430000000000")
    else:
        region_url = None
    return render_template("main/home.html", panels=home_panels.panels_for(current_user), region_url=region_url)


@bp.route("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    except Exception:  # the point of the endpoint is to report it, not to raise
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


@bp.route("/assets/plotly.min.js")
@public
def plotly_js():
    """Plotly's JS from the installed plotly package: served by us, never a CDN, and
    always the version the Python side was built against."""
    return send_file(_plotly_js_path(), mimetype="text/javascript", max_age=86400)


@cache
def _plotly_js_path() -> Path:
    """The file in the installed plotly package, found without importing plotly (about
    5 MB a worker: the figures are written as plain JSON, ``dashboard.charts``)."""
    spec = importlib.util.find_spec("plotly")
    return Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"


@bp.route("/favicon.ico")
@public
def favicon():
    return redirect(url_for("static", filename="favicon.svg"))
