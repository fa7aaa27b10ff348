"""实绩考核: a scheme (方案) with its indicators (指标), and a scorecard (考核结果) per
assessed region with one line per indicator and the evidence files of entered lines.

A computed line keeps the figures it was scored from (numerator, denominator, value, when):
the score is frozen with them and never recomputed behind the user's back; only a new
scoring while the scorecard is still being scored replaces them (audited)."""
from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.audited import Audited
from ..core.stored import StoredFile
from ..core.timeutil import utcnow
from ..extensions import db
from ..regions.models import Region
from .rules import shown

SCHEME_STATES = {"draft": "草稿（可修改指标）", "active": "已启用（可评分）"}
TARGET_LEVELS = {"county": "县市区", "city": "市州"}
SOURCES = {"computed": "系统计算", "entered": "人工录入"}
RULES = {
    "linear": "线性计分：零分线至满分线之间按比例得分",
    "steps": "分档计分：达到某一档即得该档比例的分值",
    "direct": "直接打分：评分人直接给出得分（0至权重）",
}
BETTER = {"higher": "数值越高越好", "lower": "数值越低越好"}
CARD_STATES = {
    "scoring": "评分中",
    "returned": "已退回（重新评分）",
    "submitted": "待审核",
    "approved": "已审核（待发布）",
    "published": "已发布",
}
EDITABLE = ("scoring", "returned")


class Scheme(Audited, db.Model):
    """考核方案: one year's assessment of the cities or the counties under the assessing
    region (the province). Indicators change only while it is a draft; it is enabled for
    scoring once their weights sum to 100."""

    __tablename__ = "scorecard_scheme"
    __audit_region__ = "region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)  # the assessing region
    year: Mapped[int] = mapped_column(Integer)
    target_level: Mapped[str] = mapped_column(String(10))  # county / city
    name: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default="draft")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    activated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    region: Mapped[Region] = relationship(lazy="joined")
    indicators: Mapped[list[Indicator]] = relationship(back_populates="scheme", order_by="Indicator.position",
                                                       lazy="selectin")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("region_code", "year", "target_level", name="uq_scorecard_scheme_year_level"),)

    @property
    def state_label(self) -> str:
        return SCHEME_STATES.get(self.state, self.state)

    @property
    def target_label(self) -> str:
        return TARGET_LEVELS.get(self.target_level, self.target_level)

    @property
    def total_weight(self) -> Decimal:
        return sum((i.weight for i in self.indicators), Decimal("0"))


class Indicator(Audited, db.Model):
    """考核指标: a weight (points out of 100), where its value comes from (a provider of the
    registry's own figures, or entered by a scorer with evidence) and how a value scores."""

    __tablename__ = "scorecard_indicator"
    __audit_region__ = "scheme.region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scorecard_scheme.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    source: Mapped[str] = mapped_column(String(10))  # computed / entered
    provider: Mapped[str | None] = mapped_column(String(40))  # computed: a key of providers.PROVIDERS
    rule: Mapped[str] = mapped_column(String(10))  # linear / steps / direct
    better: Mapped[str] = mapped_column(String(6), default="higher")
    floor: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # linear: the value scoring 0
    target: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # linear: the value scoring the full weight
    steps: Mapped[str | None] = mapped_column(Text)  # steps: JSON [[bound, percent of the weight], ...]
    unit: Mapped[str] = mapped_column(String(20), default="")
    # entered: the one province user who enters it (none: any staff of the assessing region)
    scorer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)

    scheme: Mapped[Scheme] = relationship(back_populates="indicators")
    scorer = relationship("User", foreign_keys=[scorer_id], lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)

    @property
    def step_list(self) -> list[tuple[Decimal, Decimal]]:
        return [(Decimal(str(b)), Decimal(str(p))) for b, p in json.loads(self.steps or "[]")]

    @property
    def rule_text(self) -> str:
        """The scoring rule in words, as the scheme page and the printed report say it."""
        unit = self.unit or ""
        if self.rule == "direct":
            return f"评分人直接打分（0—{shown(self.weight)}分）"
        if self.rule == "linear":
            return (f"{shown(self.floor)}{unit}及{'以下' if self.better == 'higher' else '以上'}得0分，"
                    f"{shown(self.target)}{unit}及{'以上' if self.better == 'higher' else '以下'}得满分，其间按比例计分")
        sign = "≥" if self.better == "higher" else "≤"
        parts = [f"{sign}{shown(b)}{unit}得{shown(p)}%" for b, p in self.step_list]
        return "；".join(parts) + "；其余得0分"


class Scorecard(Audited, db.Model):
    """考核结果: one assessed region's scorecard under a scheme. 评分中 → 待审核 → 已审核 →
    已发布, or 待审核 → 已退回 → (rescored) → 待审核. Only a published scorecard is seen by the
    assessed region."""

    __tablename__ = "scorecard"
    # the assessing region's work: its audit events are the assessor's (an unpublished score
    # must not show in the assessed region's audit log)
    __audit_region__ = "scheme.region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scorecard_scheme.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)  # the assessed region
    state: Mapped[str] = mapped_column(String(10), default="scoring")
    total: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))  # the sum of the lines, when submitted
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)

    scheme: Mapped[Scheme] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    lines: Mapped[list[ScoreLine]] = relationship(back_populates="scorecard", lazy="selectin")
    submitted_by = relationship("User", foreign_keys=[submitted_by_id], lazy="select")
    reviewed_by = relationship("User", foreign_keys=[reviewed_by_id], lazy="select")
    published_by = relationship("User", foreign_keys=[published_by_id], lazy="select")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("scheme_id", "region_code", name="uq_scorecard_scheme_region"),)

    @property
    def state_label(self) -> str:
        return CARD_STATES.get(self.state, self.state)

    @property
    def editable(self) -> bool:
        return self.state in EDITABLE

    def line_for(self, indicator_id: int) -> ScoreLine | None:
        return next((line for line in self.lines if line.indicator_id == indicator_id), None)

    @property
    def running_total(self) -> Decimal:
        return sum((line.score for line in self.lines), Decimal("0"))


class ScoreLine(Audited, db.Model):
    """One indicator's score on a scorecard, with what it was scored from: for a computed
    indicator the figures at the time of scoring (frozen), for an entered one the value,
    the scorer's note and evidence files."""

    __tablename__ = "scorecard_line"
    __audit_region__ = "scorecard.scheme.region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecard.id"), index=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("scorecard_indicator.id"), index=True)
    value: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))  # None: nothing to measure
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    numerator: Mapped[int | None] = mapped_column(Integer)
    denominator: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[str | None] = mapped_column(Text)  # what was counted, in words
    as_of: Mapped[datetime] = mapped_column(DateTime, default=utcnow)  # when the figures were taken
    note: Mapped[str | None] = mapped_column(Text)
    scored_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    scorecard: Mapped[Scorecard] = relationship(back_populates="lines")
    indicator: Mapped[Indicator] = relationship(lazy="joined")
    scored_by = relationship("User", foreign_keys=[scored_by_id], lazy="joined")
    files: Mapped[list[ScoreFile]] = relationship(back_populates="line", lazy="selectin", order_by="ScoreFile.id")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (UniqueConstraint("scorecard_id", "indicator_id", name="uq_scorecard_line_indicator"),)


class ScoreFile(StoredFile, Audited, db.Model):
    """An evidence file of an entered line: a photo or PDF kept by the records' evidence
    storage (``records/evidence.py``: checked by content, stored under a generated name
    outside the web root); ``original_name`` is only ever shown."""

    __tablename__ = "scorecard_file"
    __audit_region__ = "line.scorecard.scheme.region_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("scorecard_line.id"), index=True)

    line: Mapped[ScoreLine] = relationship(back_populates="files")

