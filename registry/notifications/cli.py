"""``flask notify``: deliver the outbox (one pass, or ``--loop``), and the daily scan."""
from __future__ import annotations

import click


@click.group("notify", help="通知：发送通知邮件、每日扫描到期事项。")
def notify_cli():
    pass


@notify_cli.command("deliver", help="Send the queued notification e-mails and the due daily digests "
                                    "(one pass; --loop keeps running, as `make run` does).")
@click.option("--loop", is_flag=True, help="keep running, a pass every --poll seconds, and once a day the "
                                            "scan and the escalation (`flask notify scan`, `flask chase escalate`)")
@click.option("--poll", default=30.0, show_default=True, help="seconds between passes with --loop")
def deliver_command(loop: bool, poll: float):
    from .delivery import deliver, summary

    result = deliver(loop=loop, poll=poll, echo=click.echo if loop else None, daily=_daily if loop else None)
    click.echo(summary(result))


def _daily() -> None:
    """What cron runs once a day in production, done by the ``--loop`` worker of ``make run``:
    the scan of things due, then the escalation of chased items left untouched."""
    from ..chase.services import escalate
    from .scan import scan

    scan()
    escalate()


@notify_cli.command("scan", help="Notify overdue records, postings ending soon and missing pre-posting "
                                 "training, once per item (run daily, e.g. from cron).")
def scan_command():
    from .scan import scan

    result = scan()
    click.echo(f"逾期未确认的帮扶记录 {result.counts['record_overdue']} 条，即将期满的选派 {result.counts['posting_ending']} 个，"
               f"岗前培训逾期未完成 {result.counts['training_missing']} 人，"
               f"逾期未销号的督查问题 {result.counts['finding_overdue']} 个，已发出通知")
