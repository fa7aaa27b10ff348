from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
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
from ..core.enums import RESULT_STATUSES
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region


class VillageResult(Audited, db.Model):
    """帮扶实效: a village's figures for one year. Filed by the village, verified by the
    township or county (or sent back with a reason); a verified result is locked."""

    __tablename__ = "village_result"
    __audit_region__ = "village_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    year: Mapped[int] = mapped_column(Integer)
    collective_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # 村集体经济经营性收入（元）
    per_capita_income: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # 脱贫人口人均纯收入（元）
    monitored_households: Mapped[int] = mapped_column(Integer)  # 监测对象户数
    risk_removed_households: Mapped[int] = mapped_column(Integer)  # 其中已消除风险户数
    industry_projects: Mapped[int] = mapped_column(Integer)  # 产业项目（个）
    jobs_created: Mapped[int] = mapped_column(Integer)  # 带动就业（人）
    practical_matters: Mapped[int] = mapped_column(Integer)  # 办实事（件）
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="filed")
    return_reason: Mapped[str | None] = mapped_column(Text)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    filed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    village: Mapped[Region] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("village_code", "year", name="uq_village_result_village_year"),
        Index("ix_village_result_status_village", "status", "village_code"),
    )

    @property
    def status_label(self) -> str:
        return RESULT_STATUSES.get(self.status, self.status)

    @property
    def locked(self) -> bool:
        return self.status == "verified"
