"""Last demo step: demo steps load in bulk (bypassing the flush listener), so the
coverage summaries are rebuilt from the rows once everything is there."""
from __future__ import annotations

from ..core.bulk_load import analyze_bulk_load
from ..demo import DemoContext, step
from .rebuild import rebuild_all


@step(99, "重建覆盖统计")
def summaries(ctx: DemoContext) -> None:
    analyze_bulk_load()  # the rebuild reads every table the steps loaded
    rebuild_all()
    analyze_bulk_load()  # and the pages read the summaries it wrote
