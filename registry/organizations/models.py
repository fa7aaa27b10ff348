from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.enums import INDIVIDUAL, INDIVIDUAL_WAYS, MASS_ORG_SUBTYPES, ORG_KINDS, ORG_LEVELS, PAIRED_SECTORS, PARTY_FEDERATION_SUBTYPES
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region


class Organization(Audited, db.Model):
    """帮扶主体: one table, a ``kind``."""

    __tablename__ = "organization"
    __audit_region__ = "region_code"
    __audit_organization__ = "id"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    # the summaries are keyed on the kind: a change keeps the kind it replaces (see Region's flags)
    kind: Mapped[str] = mapped_column(String(20), index=True, active_history=True)
    # mass_org: trade_union…; party_federation: democratic_party/commerce_federation;
    # paired_unit: the sector (locality, education, culture, health, science_tech)
    subtype: Mapped[str | None] = mapped_column(String(30))
    level: Mapped[str | None] = mapped_column(String(12))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    is_private: Mapped[bool] = mapped_column(Boolean, default=False)  # 民营
    is_xiangshang: Mapped[bool] = mapped_column(Boolean, default=False)  # 湘商回归
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    region: Mapped[Region] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (Index("ix_organization_kind_region", "kind", "region_code"),)

    @property
    def kind_label(self) -> str:
        return ORG_KINDS.get(self.kind, self.kind)

    @property
    def is_individual(self) -> bool:
        """个人帮扶: a citizen helping on their own; its one Person holds the private fields."""
        return self.kind == INDIVIDUAL

    @property
    def level_label(self) -> str:
        return ORG_LEVELS.get(self.level or "", "")

    @property
    def subtype_label(self) -> str:
        for table in (MASS_ORG_SUBTYPES, PARTY_FEDERATION_SUBTYPES, PAIRED_SECTORS, INDIVIDUAL_WAYS):
            if self.subtype in table:
                return table[self.subtype]
        return ""
