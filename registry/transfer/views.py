"""导入: upload a filled template, see every error by row, or the rows imported."""
from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..core import storage
from ..core.access import login_only
from ..core.scope import get_in_scope_or_404
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from .exporting import MIME
from .exports import EXPORTS
from .forms import ImportForm
from .importing import ImportReport, run_import
from .files import job_key, progress_of, report_key
from .jobs import INLINE_LIMIT_BYTES, enqueue_import, job_title, jobs_of, keep_days
from .models import TransferJob
from .reading import FileRefused, read_grid
from .kinds import get_kind
from .workbooks import error_workbook, template_workbook

bp = Blueprint("transfer", __name__, url_prefix="/import")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _kind_or_404(kind: str):
    spec = get_kind(kind)
    if spec is None or not spec.may(current_user):
        abort(404)
    return spec


def _download(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype=XLSX)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def _stored(key_of, *parts) -> bytes:
    """A stored file's bytes; a name that is none, or a file that is gone, is a 404."""
    try:
        return storage.store().read(key_of(*parts))
    except (ValueError, storage.Missing):
        abort(404)


@bp.route("/<kind>/template.xlsx")
@login_only
def template(kind: str):
    spec = _kind_or_404(kind)
    return _download(template_workbook(spec, current_user), f"{spec.title}导入模板.xlsx")


@bp.route("/<kind>", methods=["GET", "POST"])
@login_only
def upload(kind: str):
    spec = _kind_or_404(kind)
    form = ImportForm()
    if not spec.supports_update:
        del form.update
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("transfer/import.html", spec=spec, form=form, report=None), status
    upload = form.file.data
    data, filename = upload.read(), upload.filename or ""
    upload.close()
    update = spec.supports_update and form.update.data
    if len(data) > INLINE_LIMIT_BYTES:  # a large file: the job worker runs it, the page follows it
        try:
            read_grid(data, filename)  # but a file that cannot be read is refused now
        except FileRefused as refused:
            report = ImportReport(kind=spec.name, title=spec.title)
            report.add(0, "file", refused.message)
            return _show_report(spec, report, None, refused.status)
        job = enqueue_import(kind, data, filename, current_user, update=update)
        return redirect(url_for("transfer.job", job_id=job.id))
    report = run_import(spec, data, filename, current_user, update=update)
    if report.ok:
        flash(report.summary(), "success")
        return redirect(url_for("transfer.upload", kind=kind) if not spec.list_endpoint
                        else url_for(spec.list_endpoint, **spec.list_args(current_user)))
    token = None
    if report.grid is not None:
        token = secrets.token_urlsafe(24)
        storage.store().put(report_key(current_user.id, token), error_workbook(report))
    status = 413 if any(e.column == "file" and e.header == "413" for e in report.errors) else 422
    return _show_report(spec, report, token, status)


def _show_report(spec, report, token, status: int):
    fresh = ImportForm(formdata=None)
    if not spec.supports_update:
        del fresh.update
    return render_template("transfer/import.html", spec=spec, form=fresh, report=report, token=token), status


@bp.route("/errors/<token>.xlsx")
@login_only
def errors(token: str):
    """The uploaded sheet with its errors marked; only for the user who uploaded it."""
    if not _TOKEN.match(token):
        abort(404)
    return _download(_stored(report_key, current_user.id, token), f"导入错误标注-{local_today():%Y%m%d}.xlsx")


def _own_job_or_404(job_id: int) -> TransferJob:
    """A job and its files are its owner's alone: anybody else (an administrator too) gets 404."""
    job = get_in_scope_or_404(TransferJob, job_id)
    if job.user_id != current_user.id:
        abort(404)
    return job


@bp.route("/jobs")
@login_only
def jobs():
    """我的导入导出: the user's own large imports and exports, with their results and files."""
    page = db.paginate(jobs_of(current_user), per_page=30, error_out=False)
    return render_template("transfer/jobs.html", page=page, title_of=job_title, keep_days=keep_days(),
                           now=utcnow())


@bp.route("/jobs/<int:job_id>")
@login_only
def job(job_id: int):
    job = _own_job_or_404(job_id)
    done, total = progress_of(job)
    expires, expired = job.expires_at(keep_days()), _expired(job)
    if job.action == "export":
        return render_template("transfer/export_job.html", job=job, title=EXPORTS.get(job.kind, job.kind),
                               done=done, total=total or job.option_values.get("total", 0),
                               expires=expires, expired=expired)
    spec = get_kind(job.kind)
    return render_template("transfer/job.html", job=job, spec=spec, done=done, total=total,
                           expires=expires, expired=expired)


def _expired(job: TransferJob) -> bool:
    expires = job.expires_at(keep_days())
    return expires is not None and expires < utcnow()


@bp.route("/jobs/<int:job_id>/errors.xlsx")
@login_only
def job_errors(job_id: int):
    job = _own_job_or_404(job_id)
    if job.action != "import" or not job.output or _expired(job):
        abort(404)
    return _download(_stored(job_key, job.output), f"导入错误标注-{job.id}.xlsx")


@bp.route("/jobs/<int:job_id>/download")
@login_only
def job_download(job_id: int):
    """The file an export job wrote, streamed from the file store."""
    job = _own_job_or_404(job_id)
    if job.action != "export" or job.status != "done" or not job.output or _expired(job):
        abort(404)
    try:
        key = job_key(job.output)
    except ValueError:
        abort(404)
    response = storage.store().response(key, MIME.get(job.output.rsplit(".", 1)[-1], "application/octet-stream"))
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(job.filename)}"
    return response
