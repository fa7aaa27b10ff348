"""Last demo step: demo steps load in bulk (bypassing the flush listener), so the
coverage summaries are rebuilt from the rows once everything is there."""
from __future__ import annotations

from ..demo import DemoContext, step
from .summary import rebuild_all


@step(99, "重建覆盖统计")
def summaries(ctx: DemoContext) -> None:
    rebuild_all()
