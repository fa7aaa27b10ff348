from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import TRAINING_KINDS, TRAINING_LEVELS, TRAINING_MODES
from ..core.timeutil import utcnow
from ..extensions import db
from ..people.models import Person
from ..regions.models import Region


class Training(Audited, db.Model):
    """业务培训: a course run by a jurisdiction (``region_code``) for the people it posts."""

    __tablename__ = "training"
    __audit_region__ = "region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))  # 培训主题
    organizer: Mapped[str] = mapped_column(String(200))  # 主办单位
    level: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(12))
    mode: Mapped[str] = mapped_column(String(8))  # onsite / online
    # the organizing jurisdiction: who manages the course and whose staff see it
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    location: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    region: Mapped[Region] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_training_kind_start", "kind", "start_date"),)

    @property
    def kind_label(self) -> str:
        return TRAINING_KINDS.get(self.kind, self.kind)

    @property
    def level_label(self) -> str:
        return TRAINING_LEVELS.get(self.level, self.level)

    @property
    def mode_label(self) -> str:
        return TRAINING_MODES.get(self.mode, self.mode)


class Attendance(Audited, db.Model):
    """Who attended a course: hours credited and whether they passed. A course counts
    towards the pre-posting and yearly checks only when ``passed``."""

    __tablename__ = "training_attendance"
    __audit_region__ = "training.region_code"
    __audit_organization__ = "person.organization_id"

    id: Mapped[int] = mapped_column(primary_key=True)
    training_id: Mapped[int] = mapped_column(ForeignKey("training.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    hours: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    passed: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    training: Mapped[Training] = relationship(lazy="joined")
    person: Mapped[Person] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("training_id", "person_id", name="uq_training_attendance_training_person"),)
