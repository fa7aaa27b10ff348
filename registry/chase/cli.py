"""``flask chase escalate``: the daily run that moves chased items still untouched up a level."""
from __future__ import annotations

from datetime import date

import click


@click.group("chase", help="催办与督办升级。")
def chase_cli():
    pass


@chase_cli.command("escalate", help="Escalate chased items still untouched after the settings' periods "
                                    "(township -> county -> city). Idempotent: run it daily from cron.")
@click.option("--today", "as_of", default=None, metavar="YYYY-MM-DD",
              help="Compute as of this date instead of today in Hunan (a late catch-up, or a test). "
                   "The date is written into each escalation's audit event.")
def chase_escalate(as_of: str | None):
    from ..core.rules import RuleViolation
    from .services import escalate

    try:
        day = date.fromisoformat(as_of) if as_of else None
    except ValueError as error:
        raise click.BadParameter("日期格式应为 年-月-日，如 2026-12-01", param_hint="--today") from error
    try:
        written = escalate(day)
    except RuleViolation as violation:
        raise click.ClickException(violation.message) from violation
    by_level: dict[str, int] = {}
    for row in written:
        by_level[row.level_label] = by_level.get(row.level_label, 0) + 1
    detail = "，".join(f"升级至{label} {n} 项" for label, n in by_level.items())
    click.echo(f"督办升级：{detail or '没有到期的事项'}")
