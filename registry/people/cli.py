"""``flask people …``: posting work from the command line, through the same services
(and so the same ``postings.check_posting``) as the pages."""
from __future__ import annotations

import sys
import click
from sqlalchemy import select

from ..core.enums import END_REASONS
from ..core.rules import RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..regions.models import Region
from . import postings as posting_services
from .models import Posting


def _actor(username: str):
    from ..accounts.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException("账号不存在或已停用")
    if user.role not in ("admin", "region"):
        raise click.ClickException("只有系统管理员或行政区工作人员可以办理选派")
    return user


def register(group: click.Group) -> None:
    @group.command("end-round", help="End every active posting of a round (e.g. 2024届) in one go, all or nothing.")
    @click.argument("round_name")
    @click.option("--date", "end_date", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="end date, YYYY-MM-DD")
    @click.option("--reason", type=click.Choice(list(END_REASONS)), default="term_completed", show_default=True)
    @click.option("--note", default="", help="note (the grounds, for a recall)")
    @click.option("--region", "region_code", default="", help="only postings under this 12-digit region code")
    @click.option("--as", "username", required=True, help="the account the change is recorded under")
    @click.option("--dry-run", is_flag=True, help="check only, write nothing")
    def end_round(round_name, end_date, reason, note, region_code, username, dry_run):
        actor = _actor(username)
        stmt = select(Posting).where(Posting.round == round_name, Posting.is_active).order_by(Posting.id)
        stmt = scoped(stmt, Posting, actor)
        if region_code:
            region = db.session.get(Region, region_code)
            if region is None:
                raise click.ClickException("行政区代码不存在")
            stmt = stmt.where(region.within(Posting.region_code))
        postings = db.session.scalars(stmt).all()
        if not postings:  # a round named wrong is said so, not reported as "0 ended"
            rounds = scoped(select(Posting.round).where(Posting.is_active, Posting.round.is_not(None))
                            .distinct().order_by(Posting.round), Posting, actor)
            if region_code:
                rounds = rounds.where(region.within(Posting.region_code))
            known = [r for r in db.session.scalars(rounds) if r]
            raise click.ClickException(
                f"没有届次为“{round_name}”的在岗选派（在 {username} 的范围内）；"
                + (f"在岗选派的届次有：{'、'.join(known)}" if known else "范围内没有在岗选派"))
        errors = []
        for posting in postings:
            try:
                posting_services.end_posting(posting, end_date=end_date.date(), end_reason=reason, end_note=note,
                                     version=posting.version, actor=actor, commit=False)
            except RuleViolation as violation:
                errors.append((posting, violation.message))
        if errors or dry_run:
            db.session.rollback()
            for posting, message in errors:
                click.echo(f"选派 {posting.id}（{posting.person.name}，{posting.region.name}）：{message}", err=True)
            if errors:
                click.echo(f"未结束任何选派：{len(errors)} 条不符合规则", err=True)
                sys.exit(1)
            click.echo(f"检查通过：可结束 {len(postings)} 条选派（未写入）")
            return
        db.session.commit()
        click.echo(f"已结束 {round_name} 选派 {len(postings)} 条（{END_REASONS[reason]}）")
