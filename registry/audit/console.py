"""The audit chain's verification as the console shows it (``flask audit verify|checkpoint``,
``flask backup restore``)."""
from __future__ import annotations

import sys

import click

from .services import ChainReport, chain_label


def report_chain(report: ChainReport) -> None:
    """Print the report; exit with status 1 if the chain is broken."""
    if not report.ok:
        where = f"第一个异常事件编号 {report.broken_id}（{report.reason}）；此前 {report.checked} 条完好" \
            if report.broken_id is not None else report.reason
        if report.chain is not None:
            where += f"；位置：{chain_label(report.chain)}第 {report.seq} 条"
        click.echo(f"审计链断裂：{where}", err=True)
        sys.exit(1)
    click.echo(f"审计链完整：共 {report.checked} 条事件")
    if report.checkpoint is not None:
        cp = report.checkpoint
        click.echo(f"最近检查点：{cp.count} 条，{len(cp.heads)} 条链，链头摘要 {cp.hash[:16]}…，"
                   f"{cp.at.isoformat(timespec='seconds')} UTC，密钥编号 {cp.key_id}")
    if report.note:
        click.echo(f"注意：{report.note}", err=True)
