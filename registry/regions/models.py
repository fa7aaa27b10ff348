from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, String, bindparam, literal
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.enums import CHILD_LEVEL, PREFIX_LENGTH, REGION_LEVELS
from ..extensions import db


def code_range(code: str, level: str) -> tuple[str, str]:
    """Lowest and highest 12-digit code under ``code`` (an indexed range scan)."""
    n = PREFIX_LENGTH[level]
    prefix = code[:n]
    return prefix + "0" * (12 - n), prefix + "9" * (12 - n)


class Region(db.Model):
    """行政区划. The code's prefix is the jurisdiction: everything under R is a range."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    kind: Mapped[str | None] = mapped_column(String(20))
    # village flags; the summaries are keyed on them, so a change keeps the value it
    # replaces (active_history) for the summary writer to move the village's figures
    is_poor: Mapped[bool] = mapped_column(Boolean, default=False, active_history=True)  # 脱贫村
    is_key: Mapped[bool] = mapped_column(Boolean, default=False, active_history=True)  # 重点帮扶村 / 重点帮扶县
    is_relocation: Mapped[bool] = mapped_column(Boolean, default=False, active_history=True)  # 易地扶贫搬迁安置点
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)

    parent: Mapped[Region | None] = relationship(remote_side=[code], lazy="joined", innerjoin=False, join_depth=1)

    __table_args__ = (Index("ix_region_level_code", "level", "code"),)

    @property
    def level_label(self) -> str:
        return REGION_LEVELS[self.level]

    @property
    def prefix(self) -> str:
        return self.code[: PREFIX_LENGTH[self.level]]

    @property
    def child_level(self) -> str | None:
        return CHILD_LEVEL.get(self.level)

    def range(self) -> tuple[str, str]:
        return code_range(self.code, self.level)

    def within(self, column):
        """SQL: ``column`` (a region code) lies in this region; an indexed range scan.

        The bounds are written into the statement, not sent as parameters: how many rows a
        region holds (a province's all, a village's a few) decides the plan, and PostgreSQL
        plans a statement it has prepared (psycopg prepares what a connection runs five
        times) once for any parameters, guessing a range selects few rows; for a province
        that plan read a whole index where the right one stops after a page's rows (the
        home page's first overdue records: 100-250 ms instead of under 1 ms). With the
        bounds in its text, each region's statement gets a plan of its own."""
        lo, hi = self.range()
        return column.between(literal(lo, String, literal_execute=True), literal(hi, String, literal_execute=True))

    @staticmethod
    def within_bounds(column):
        """``within`` for a statement built once and run for any region: the bounds are the
        parameters ``lo`` and ``hi`` (``range()``), written into its text all the same when
        it runs (``literal_execute``), so each region still gets a plan of its own."""
        return column.between(bindparam("lo", type_=String, literal_execute=True),
                              bindparam("hi", type_=String, literal_execute=True))

    def contains(self, code: str) -> bool:
        return code.startswith(self.prefix)

    def ancestor_codes(self) -> list[str]:
        """Codes of the ancestors, province first (derived from the code itself)."""
        out = []
        for level in ("province", "city", "county", "township"):
            n = PREFIX_LENGTH[level]
            if n >= PREFIX_LENGTH[self.level]:
                break
            out.append(self.code[:n] + "0" * (12 - n))
        return out

    @property
    def flags_label(self) -> str:
        flags = []
        if self.is_poor:
            flags.append("脱贫村")
        if self.is_key:
            flags.append("重点帮扶县" if self.level == "county" else "重点帮扶村")
        if self.is_relocation:
            flags.append("易地扶贫搬迁安置点")
        return "、".join(flags)

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
