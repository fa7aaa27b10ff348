"""Large exports run as jobs, rebuilt in the worker from (name, user, request).

An export view is marked ``@export_job(name, title)`` (below its route, above its
permission check). Its rows are counted with ``count_rows``/``export_size``; above
``REGISTRY_EXPORT_JOB_ROWS`` that raises ``LargeExport`` and the decorator queues a
``TransferJob`` (action ``export``, kind = the export's name) holding the view's path and
query string, then sends the user to the job's page.

``flask jobs work`` runs the job by replaying the same view in a request context as the
job's owner: the same filters, the same scope, the same permission check and the same
audit record, at the time the file is written. There ``send_export`` hands its columns
and rows to a ``JobTarget``, which writes the file into the jobs folder with the same
``csv_chunks``/``write_xlsx`` as a download, reporting progress as it goes. Only the
job's owner sees the page and downloads the file (``views.job``).
"""
from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterable, Iterator, Sequence
from functools import wraps
from urllib.parse import urlencode

from flask import Response, abort, current_app, g, redirect, request, url_for
from flask_login import current_user, login_user
from sqlalchemy import update
from werkzeug.exceptions import HTTPException

from ..core import storage
from ..core.database import set_read_only_request
from ..core.timeutil import utcnow
from ..extensions import db
from .exporting import MIME, LargeExport, about_lines, export_filename
from .files import job_key, scratch_file, write_progress
from .models import TransferJob
from .writing import Column, csv_chunks, write_xlsx

log = logging.getLogger(__name__)

EXPORTS: dict[str, str] = {}  # name -> title, for the job page
PROGRESS_EVERY = 2000


def export_job(name: str, title: str):
    """Mark an export view: when it is large, queue it as the job ``name``."""
    EXPORTS[name] = title

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("export_job_target") is not None:  # the worker replaying the view
                return view(*args, **kwargs)
            g.export_guard = True
            try:
                return view(*args, **kwargs)
            except LargeExport as large:
                db.session.rollback()
                job = enqueue_export(name, large.count)
                return redirect(url_for("transfer.job", job_id=job.id))
            finally:
                g.pop("export_guard", None)

        wrapped._export_name = name
        return wrapped

    return decorator


def enqueue_export(name: str, total: int) -> TransferJob:
    """Queue the current request's export for the current user."""
    fmt = (request.view_args or {}).get("fmt", "")
    if fmt not in MIME:
        abort(404)
    query = urlencode(list(request.args.items(multi=True)))  # as parsed: the same args in the worker
    options = {"path": request.path, "query": query, "fmt": fmt, "total": total}
    job = TransferJob(user_id=current_user.id, action="export", kind=name, status="queued",
                      filename=export_filename(EXPORTS.get(name, name), fmt)[:200],
                      options=json.dumps(options, ensure_ascii=False))
    db.session.add(job)
    db.session.commit()
    return job


class JobTarget:
    """Where ``send_export`` puts an export's rows when the worker runs it."""

    def __init__(self, job_id: int, total: int):
        self.job_id = job_id
        self.total = total
        self.rows: int | None = None
        self.output: str | None = None
        self.filename: str | None = None

    def _counted(self, rows: Iterable[Sequence]) -> Iterator[Sequence]:
        done = 0
        for done, row in enumerate(rows, start=1):
            if done % PROGRESS_EVERY == 0:
                write_progress(self.job_id, done, max(self.total, done))
            yield row
        self.rows = done

    def write(self, fmt: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence], filters: str) -> Response:
        self.filename = export_filename(title, fmt)
        self.output = f"{self.job_id}-export.{fmt}"
        part = scratch_file(f".{fmt}.part")  # streamed to local disk, then put into the store whole
        try:
            if fmt == "csv":
                with open(part, "wb") as fh:
                    for chunk in csv_chunks(columns, self._counted(rows)):
                        fh.write(chunk)
            else:
                write_xlsx(str(part), columns, self._counted(rows), title=title, about=about_lines(filters))
            storage.store().put_file(job_key(self.output), part)
        finally:
            part.unlink(missing_ok=True)
        return Response(status=204)


def _finish(job_id: int, **values) -> None:
    db.session.execute(update(TransferJob).where(TransferJob.id == job_id).values(finished_at=utcnow(), **values))
    db.session.commit()


def _failed(job_id: int, message: str) -> None:
    db.session.rollback()
    _finish(job_id, status="failed", result=json.dumps({"summary": message, "ok": False, "errors": []},
                                                       ensure_ascii=False))


def run_export_job(job: TransferJob) -> None:
    """Write a claimed export job's file; whatever happens, the job ends done or failed."""
    from ..accounts.models import User

    job_id, kind = job.id, job.kind
    options = job.option_values
    target = JobTarget(job_id, int(options.get("total") or 0))
    app = current_app._get_current_object()
    try:
        user = db.session.get(User, job.user_id)
        if user is None or not user.active:
            raise PermissionError("账号已停用，导出未进行")
        with app.test_request_context(options.get("path", "/"), query_string=options.get("query", ""), method="GET"):
            view = app.view_functions.get(request.endpoint) if request.endpoint else None
            if view is None or getattr(view, "_export_name", None) != kind:
                raise PermissionError("导出类型已无效")
            login_user(user, force=True)
            g.export_job_target = target
            try:
                set_read_only_request(True)  # as the GET it replays: reads begin deferred
                view(**(request.view_args or {}))
            finally:
                g.pop("export_job_target", None)
                g.pop("_login_user", None)
                set_read_only_request(False)  # the worker's other jobs write: back to BEGIN IMMEDIATE
        db.session.commit()  # end the replay's read transaction before the job's row is written
        if target.rows is None:
            raise PermissionError("导出未生成文件")
        write_progress(job_id, target.rows, target.rows)
        _finish(job_id, status="done", output=target.output, filename=(target.filename or job.filename)[:200],
                result=json.dumps({"summary": f"导出完成：共 {target.rows} 行", "ok": True, "rows": target.rows},
                                  ensure_ascii=False))
    except HTTPException:  # 403/404: the permission or the scope no longer allows it
        _failed(job_id, "您已无权导出这些数据，或数据已不在您的管辖范围内，导出未进行")
    except PermissionError as exc:
        _failed(job_id, str(exc))
    except Exception:  # the job must end either way; the log has the traceback
        log.error("export job %s failed: %s", job_id, traceback.format_exc())
        _failed(job_id, "导出过程中发生系统错误，请稍后重试或联系管理员")

