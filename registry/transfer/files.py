"""Where jobs keep their files (uploads, results) and their progress (``<id>.progress``:
done/total, written by the worker and read by the page)."""
from __future__ import annotations

from pathlib import Path

from flask import current_app

from .models import TransferJob


def jobs_dir() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"]) / "jobs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def progress_of(job: TransferJob) -> tuple[int, int]:
    try:
        done, total = (jobs_dir() / f"{job.id}.progress").read_text().split("/")
        return int(done), int(total)
    except (FileNotFoundError, ValueError):
        return 0, 0


def write_progress(job_id: int, done: int, total: int) -> None:
    path = jobs_dir() / f"{job_id}.progress"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{done}/{total}")
    tmp.replace(path)
