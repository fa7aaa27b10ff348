from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.timeutil import utcnow
from ..extensions import db

JOB_STATUSES = {"queued": "排队中", "running": "进行中", "done": "已完成", "failed": "未完成",
                "refused": "有错误，未导入"}  # an import checked to its end that wrote nothing


class TransferJob(db.Model):
    """A large import or export run by ``flask jobs work`` instead of a web worker.

    Its files (the upload, the result) live under ``jobs/`` in the file store
    (``core/storage.py``: ``UPLOAD_FOLDER`` or an S3 bucket); its progress while running
    is a small file beside them, so the worker never writes the database
    from outside the import's own transaction."""

    __tablename__ = "transfer_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))  # import | export
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    filename: Mapped[str] = mapped_column(String(200), default="")
    options: Mapped[str] = mapped_column(Text, default="{}")  # JSON: update flag, filters
    result: Mapped[str | None] = mapped_column(Text)  # JSON: the report
    output: Mapped[str | None] = mapped_column(String(200))  # file name under jobs/
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_transfer_job_status", "status", "id"),)

    @property
    def outcome(self) -> str:
        """``status``, but "refused" for an import that ran to its end and found errors
        (so wrote nothing): "done" beside 导入未完成 says the opposite."""
        if self.status == "done" and self.action == "import" and self.report.get("ok") is False:
            return "refused"
        return self.status

    @property
    def status_label(self) -> str:
        return JOB_STATUSES.get(self.outcome, self.status)

    def expires_at(self, keep_days: int) -> datetime | None:
        """When its file is removed (``jobs.expire_files``); None while it runs."""
        return self.finished_at + timedelta(days=keep_days) if self.finished_at else None

    @property
    def option_values(self) -> dict:
        return json.loads(self.options or "{}")

    @property
    def report(self) -> dict:
        return json.loads(self.result) if self.result else {}
