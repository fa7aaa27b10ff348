"""The columns of an evidence file kept in the file store (``core/storage.py``) by
``records/evidence.py``: support records' evidence, findings', project entries' and
scorecard lines'. Each feature's table adds the row it belongs to."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .timeutil import utcnow


class StoredFile:
    """A photo or PDF stored under a generated name outside the web root;
    ``original_name`` is only ever shown, never used as a path."""

    original_name: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
