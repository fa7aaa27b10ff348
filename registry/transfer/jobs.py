"""Large imports run as jobs: the page queues the upload, ``flask jobs work`` runs it.
(Large exports too: ``exports.py`` queues and runs them; ``run_job`` hands them over.)

A job is claimed by one worker (an UPDATE that only succeeds while it is still queued),
runs the same ``run_import`` as the page, and records its report. Progress is a small
file beside the upload (``<id>.progress``: done/total), written by the worker and read
by the page, so the import's all-or-nothing transaction is never interleaved with
progress writes (``files.py``). The upload, the progress and the result are in the file
store (``core/storage.py``), so the worker may run on another host than the page.
"""
from __future__ import annotations

import json
import logging
import time
import traceback
from datetime import timedelta, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import Select, select, update

from ..core import storage
from ..core.scope import scoped
from ..core.timeutil import utcnow
from ..extensions import db
from .exports import EXPORTS, run_export_job
from .files import REPORTS, job_key, write_progress
from .importing import ImportReport, run_import
from .kinds import get_kind
from .models import TransferJob
from .workbooks import error_workbook

log = logging.getLogger(__name__)

# Uploads larger than this run as a job (about 5,000 rows of a typical sheet).
INLINE_LIMIT_BYTES = 512 * 1024
REPORT_ERRORS = 1000


def _input_key(job: TransferJob) -> str:
    suffix = Path(job.filename).suffix.lower() if Path(job.filename).suffix.lower() in (".xlsx", ".csv") else ".bin"
    return job_key(f"{job.id}-input{suffix}")


def enqueue_import(kind: str, data: bytes, filename: str, user, *, update: bool) -> TransferJob:
    job = TransferJob(user_id=user.id, action="import", kind=kind, filename=filename[:200],
                      options=json.dumps({"update": bool(update)}), status="queued")
    db.session.add(job)
    db.session.flush()
    storage.store().put(_input_key(job), data)
    db.session.commit()
    return job


def claim_next() -> TransferJob | None:
    """The oldest queued job, now marked running by this worker; None when there is none."""
    while True:
        job_id = db.session.scalar(select(TransferJob.id).where(TransferJob.status == "queued")
                                   .order_by(TransferJob.id).limit(1))
        if job_id is None:
            db.session.rollback()
            return None
        claimed = db.session.execute(update(TransferJob).where(TransferJob.id == job_id, TransferJob.status == "queued")
                                     .values(status="running", started_at=utcnow()))
        db.session.commit()
        if claimed.rowcount == 1:
            return db.session.get(TransferJob, job_id)


def report_json(report: ImportReport) -> str:
    return json.dumps({
        "summary": report.summary(), "ok": report.ok, "rows": report.rows, "created": report.created,
        "updated": report.updated, "ignored_headers": report.ignored_headers, "error_count": len(report.errors),
        "common": [vars(problem) for problem in report.common()],
        "errors": [{"row": e.row, "column": e.column, "header": e.header, "cell": e.cell, "message": e.message}
                   for e in report.errors[:REPORT_ERRORS]],
    }, ensure_ascii=False)


def run_job(job: TransferJob) -> None:
    """Run a claimed job to the end; whatever happens, it ends done or failed."""
    from ..accounts.models import User

    if job.action == "export":
        return run_export_job(job)
    job_id = job.id
    try:
        spec = get_kind(job.kind)
        user = db.session.get(User, job.user_id)
        if spec is None or user is None or not user.active or not spec.may(user):
            raise PermissionError("账号或导入类型已无效")
        data = storage.store().read(_input_key(job))
        report = run_import(spec, data, job.filename, user, update=job.option_values.get("update", False),
                            progress=lambda done, total: write_progress(job_id, done, total))
        output = None
        if not report.ok and report.grid is not None:
            output = f"{job_id}-errors.xlsx"
            storage.store().put(job_key(output), error_workbook(report))
        db.session.rollback()  # a failed import wrote nothing; make sure nothing is pending
        db.session.execute(update(TransferJob).where(TransferJob.id == job_id).values(
            status="done", result=report_json(report), output=output, finished_at=utcnow()))
        db.session.commit()
    except Exception as exc:  # the job must end either way; the log has the traceback
        db.session.rollback()
        log.error("job %s failed: %s", job_id, traceback.format_exc())
        message = str(exc) if isinstance(exc, PermissionError) else "导入过程中发生系统错误，未写入任何数据，请联系管理员"
        db.session.execute(update(TransferJob).where(TransferJob.id == job_id).values(
            status="failed", result=json.dumps({"summary": message, "ok": False, "errors": []}, ensure_ascii=False),
            finished_at=utcnow()))
        db.session.commit()
    finally:
        storage.store().delete(_input_key(job))


def jobs_of(user) -> Select:
    """The user's own import and export jobs, newest first (the 我的导入导出 page)."""
    return scoped(select(TransferJob), TransferJob, user).order_by(TransferJob.id.desc())


def job_title(job: TransferJob) -> str:
    """What the job imports or exports, in Chinese (导入帮扶记录, 导出培训台账 …)."""
    if job.action == "export":
        return "导出" + EXPORTS.get(job.kind, job.kind)
    spec = get_kind(job.kind)
    return "导入" + (spec.title if spec else job.kind)


def keep_days() -> int:
    return current_app.config["REGISTRY_JOB_KEEP_DAYS"]


def expire_files(now=None) -> int:
    """Delete the files of jobs that finished more than ``REGISTRY_JOB_KEEP_DAYS`` ago,
    and import error reports as old: exports of personal data should not pile up on the
    server. The job rows stay, so the 我的导入导出 page still says what ran, when, with
    which result, and that its file has expired. Evidence kept from refused record forms
    goes after a day (``records.pending``). Returns how many files were removed."""
    now = now or utcnow()
    cutoff = now - timedelta(days=keep_days())
    removed = 0
    finished = db.session.execute(select(TransferJob.id, TransferJob.output).where(
        TransferJob.status.in_(("done", "failed")), TransferJob.finished_at < cutoff)).all()
    store = storage.store()
    for job_id, output in finished:
        store.delete(job_key(f"{job_id}.progress"))
        if output and store.exists(job_key(output)):
            store.delete(job_key(output))
            removed += 1
    stamp = cutoff.replace(tzinfo=timezone.utc).timestamp()
    for entry in list(store.entries(REPORTS)):
        if entry.modified < stamp:
            store.delete(entry.key)
            removed += 1
    scratch = Path(current_app.instance_path) / "tmp"  # an export's local file, left by a worker that died
    if scratch.is_dir():
        for path in scratch.iterdir():
            if path.is_file() and path.stat().st_mtime < stamp:
                path.unlink(missing_ok=True)
    from ..records import pending  # evidence kept from refused record forms, a day at most

    removed += pending.expire(now.replace(tzinfo=timezone.utc).timestamp())
    db.session.rollback()
    return removed


EXPIRE_EVERY_SECONDS = 3600


def work(*, once: bool = False, poll: float = 1.0) -> int:
    """Run queued jobs; with ``once``, until none is left. Returns how many ran. Old
    job files are removed at the start and then hourly (``expire_files``)."""
    ran = 0
    expired_at = time.monotonic()
    expire_files()
    while True:
        job = claim_next()
        if job is not None:
            run_job(job)
            ran += 1
            continue
        if once:
            return ran
        if time.monotonic() - expired_at > EXPIRE_EVERY_SECONDS:
            expire_files()
            expired_at = time.monotonic()
        time.sleep(poll)
