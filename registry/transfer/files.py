"""Where jobs keep their files (uploads, results) and their progress (``jobs/<id>.progress``:
done/total, written by the worker and read by the page), and where import error sheets
wait for their download (``import-reports/``): all in the file store (``core/storage.py``),
so the page, the download and the worker may each run on a different host."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import current_app

from ..core import storage
from .models import TransferJob

JOBS = "jobs"
REPORTS = "import-reports"


def job_key(name: str) -> str:
    """The store key of a job's file (``jobs/<name>``); ValueError for a name that is none."""
    return storage.key(JOBS, name)


def report_key(user_id: int, token: str) -> str:
    return storage.key(REPORTS, f"{int(user_id)}-{token}.xlsx")


def scratch_file(suffix: str) -> Path:
    """A new empty local file in which a job writes what it then puts into the store
    (an export's rows stream to disk, not to memory)."""
    folder = Path(current_app.instance_path) / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=suffix, dir=folder)
    os.close(handle)
    return Path(name)


def progress_of(job: TransferJob) -> tuple[int, int]:
    try:
        done, total = storage.store().read(job_key(f"{job.id}.progress")).decode().split("/")
        return int(done), int(total)
    except (storage.Missing, ValueError):
        return 0, 0


def write_progress(job_id: int, done: int, total: int) -> None:
    storage.store().put(job_key(f"{job_id}.progress"), f"{done}/{total}".encode())
