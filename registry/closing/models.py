"""年度关账 and 重新开放: who closed which year for which jurisdiction, and the requests
to reopen named kinds of its data for a while."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..accounts.models import User
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region

# The kinds of data a close freezes (and a reopening names), in the order the pages list them.
KINDS: dict[str, str] = {
    "duty": "驻村纪实",
    "results": "帮扶实效",
    "assessment": "考核结果",
    "incentives": "表扬激励和约谈",
    "records": "帮扶记录",
    "funds": "受赠资金",
    "projects": "企业项目",
    "care": "关心关爱",
}

CLOSE_STATES = {"closed": "已关账"}
REOPEN_STATES = {
    "requested": "待审批",
    "approved": "已批准（开放中）",
    "rejected": "未批准",
    "reclosed": "已重新关账",
}
# what to do with items still pending when the year is closed
PENDING_CHOICES = {
    "freeze": "照原样冻结：待处理的事项保持现状，不能再确认、核实或修改",
}


class YearClose(db.Model):
    """One jurisdiction's year, closed: nothing of year ``year`` under ``region_code``
    changes any more unless a reopening approved for that kind of data is open."""

    __tablename__ = "year_close"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    state: Mapped[str] = mapped_column(String(12), default="closed")
    pending_choice: Mapped[str] = mapped_column(String(12), default="freeze")
    # what was still pending when the year was closed, as the close page listed it
    pending_note: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    region: Mapped[Region] = relationship(lazy="joined")
    closed_by: Mapped[User | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("year", "region_code", name="uq_year_close_year_region"),
        Index("ix_year_close_region_year", "region_code", "year"),
    )

    @property
    def state_label(self) -> str:
        return CLOSE_STATES.get(self.state, self.state)


class ReopenRequest(db.Model):
    """A request to reopen named kinds of a closed year's data, for the requester's
    jurisdiction, until a deadline: requested below (or at) the closing level, approved
    at (or above) it by someone else, then closed again."""

    __tablename__ = "reopen_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    year_close_id: Mapped[int] = mapped_column(ForeignKey("year_close.id"), index=True)
    # the part of the closed jurisdiction that is reopened: the requester's region
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    kinds: Mapped[str] = mapped_column(String(100))  # comma-separated keys of ``KINDS``
    reason: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date] = mapped_column(Date)  # open up to and including this day
    state: Mapped[str] = mapped_column(String(12), default="requested")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decision_note: Mapped[str | None] = mapped_column(Text)
    reclosed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reclosed_at: Mapped[datetime | None] = mapped_column(DateTime)

    year_close: Mapped[YearClose] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    requested_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[decided_by_id])
    reclosed_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[reclosed_by_id])

    @property
    def kind_list(self) -> list[str]:
        return [k for k in self.kinds.split(",") if k]

    @property
    def kinds_label(self) -> str:
        return "、".join(KINDS.get(k, k) for k in self.kind_list)

    @property
    def state_label(self) -> str:
        return REOPEN_STATES.get(self.state, self.state)


class EvidenceMoved(db.Model):
    """A person grade whose evidence moved after it was given: one of the grades the
    close page and 依据已变化 look at (``closing.evidence``). Written in the commit of
    the audited change that moved it (a duty month of the year filed or its absences
    changed, the year's village results filed, a record of the unit to the village
    dated in the year decided), and removed when the grade is given again; what changed,
    if anything still has, ``evidence_changes`` says from the audit trail. Derived, like
    the summaries: ``flask closing reflag`` writes it again from the trail."""

    __tablename__ = "evidence_moved"

    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessment.id"), primary_key=True)
    # what moved, by its model: DutyMonth, VillageResult or SupportRecord (a row for each)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)  # the grade's, as its region: the close page's lookup
    region_code: Mapped[str] = mapped_column(String(12))
    moved_at: Mapped[datetime] = mapped_column(DateTime)  # the first move seen since the grade

    __table_args__ = (Index("ix_evidence_moved_year_region", "year", "region_code"),)
