"""The offline app's routes: the service worker and the manifest at the site's root (a
worker's scope is the folder it is served from, so ``/sw.js`` covers ``/records/...``),
the page shown offline where nothing is kept, the list of pages a device keeps, and the
two endpoints a device sends its queued decisions to (JSON, with the CSRF token in the
``X-CSRFToken`` header and the version the record had when it was decided on)."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from ..core.access import for_cadres, public
from ..core.assets import static_version
from ..core.enums import VILLAGE_ROLES
from ..core.permissions import require
from ..core.scope import get_in_scope_or_404
from ..duty.forms import DutyForm, parse_month
from ..duty.services import DutyData
from ..people.models import Posting
from ..records.models import SupportRecord
from . import services
from .forms import DecisionForm

bp = Blueprint("offline", __name__)

# What the worker keeps at install: the page shown offline and the assets every kept page
# uses (the kept pages themselves are stored as they are visited, and by static/js/offline.js).
SHELL_ASSETS = ("css/app.css", "css/print.css", "css/records.css", "css/offline.css", "js/app.js", "js/money.js", "js/offline.js",
                "js/records.js", "favicon.svg",
                "icons/icon-192.png", "icons/icon-512.png")
WORKER = "js/sw.js"


def _worker_source(static_folder: str) -> str:
    """The worker with its version: made of the versions of itself and of the assets it
    keeps (``core.assets.static_version``, the digests their URLs carry), so that a changed
    asset installs a new worker, which drops the old copies."""
    versions = "|".join(static_version(name) or "" for name in (WORKER, *SHELL_ASSETS))
    return _worker_text(static_folder).replace("__VERSION__", hashlib.sha256(versions.encode()).hexdigest()[:16])


@lru_cache(maxsize=4)
def _worker_text(static_folder: str) -> str:
    return (Path(static_folder) / WORKER).read_text(encoding="utf-8")


@bp.route("/sw.js")
@public
def service_worker():
    # the assets by their plain paths (v=None: no version in the URL), which the worker
    # matches a page's versioned requests by; its own VERSION already follows their contents
    shell = [url_for("offline.page"), url_for("offline.manifest"),
             *(url_for("static", filename=name, v=None) for name in SHELL_ASSETS)]
    source = _worker_source(current_app.static_folder).replace('"__SHELL__"', ", ".join(f'"{u}"' for u in shell))
    response = current_app.response_class(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"  # the browser asks for a new worker each time
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.route("/manifest.webmanifest")
@public
def manifest():
    icon = lambda name, size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"), "sizes": size, "type": "image/png", "purpose": purpose}
    body = {
        "name": "帮扶力量登记系统",
        "short_name": "帮扶登记",
        "description": "村确认帮扶记录、填报驻村纪实；无网络时也可操作，联网后自动发送。",
        "lang": "zh-CN",
        "start_url": url_for("main.home"),
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#b3261e",
        "icons": [icon("icon-192.png", "192x192"), icon("icon-512.png", "512x512"),
                  icon("icon-maskable-512.png", "512x512", "maskable")],
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    return response


@bp.route("/offline")
@public
def page():
    """Shown by the worker for a page that is not kept on the device, with no connection."""
    return render_template("offline/offline.html")


@bp.route("/offline/pages")
@require("offline_app")
@for_cadres
def pages():
    """What this user's device keeps for use offline, a fresh CSRF token for the queued
    decisions, and who the user is (a device that finds another user's data drops it)."""
    # the account's id, not ``get_id()`` (the login session's key, a secret the cookie carries):
    # the same user logging in again keeps the queue
    return jsonify(user=str(current_user.id), csrf_token=generate_csrf(), **services.kept_pages(current_user))


def _answer(outcome: services.Outcome):
    return jsonify(outcome.body()), outcome.status


def _form_errors(form) -> services.Outcome:
    errors = {name: list(messages) for name, messages in form.errors.items()}
    message = "；".join(m for messages in errors.values() for m in messages) or "提交的内容无法处理"
    return services.Outcome(422, message, errors)


@bp.route("/offline/records/<int:record_id>", methods=["POST"])
@require("confirm_records")
@for_cadres
def decide(record_id: int):
    """确认属实 (``attest`` ticked) or 提出异议 (with ``reason``), on ``version``."""
    record = get_in_scope_or_404(SupportRecord, record_id)
    form = DecisionForm()
    if not form.validate_on_submit():
        return _answer(_form_errors(form))
    return _answer(services.decide_record(record, current_user, (form.action.data or "").strip(), form.version.data,
                                          form.reason.data or "", attested=bool(form.attest.data)))


@bp.route("/offline/duty/<int:posting_id>", methods=["POST"])
@require("file_duty")
@for_cadres
def file_duty(posting_id: int):
    """One month of days in the village for a posting, as the form ``duty.new`` takes it."""
    posting = get_in_scope_or_404(Posting, posting_id)
    if posting.role not in VILLAGE_ROLES:
        abort(404)
    form = DutyForm()
    if not form.validate_on_submit():
        return _answer(_form_errors(form))
    month = parse_month(form.month.data)
    if month is None:
        return _answer(services.Outcome(422, "请选择月份（格式：年-月，如 2026-03）", {"month": ["请选择月份"]}))
    data = DutyData(month=month, days_in_village=form.days_in_village.data, leave_days=form.leave_days.data,
                    leave_approved_by=form.leave_approved_by.data, absences=form.absences.data,
                    summary=form.summary.data)
    return _answer(services.file_duty(posting, current_user, data))


@bp.app_context_processor
def _offline_app():
    """``offline_app``: the page links the manifest and loads static/js/offline.js."""
    return {"offline_app": bool(current_user and current_user.is_authenticated and current_user.can("offline_app"))}


@bp.after_app_request
def _clear_site_data(response):
    """Logging out leaves nothing personal on the device: the kept pages, the queue and the
    worker go (the page's script clears them too, before it posts the logout)."""
    if request.endpoint == "accounts.logout" and request.method == "POST" and not current_user.is_authenticated:
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
    return response
