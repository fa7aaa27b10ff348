"""Command-line interface: one group per area. Every command calls the same services
as the web pages."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from sqlalchemy import func, select

from .extensions import db


def register(app: Flask) -> None:
    from .backup.cli import backup_cli
    from .chase.cli import chase_cli
    from .notifications.cli import notify_cli
    from .transfer.cli import import_command, jobs_cli

    for command in (regions_cli, users_cli, audit_cli, demo_cli, setup_command, dashboard_cli, closing_cli,
                    import_command, jobs_cli, backup_cli, notify_cli, chase_cli):
        app.cli.add_command(_explaining_missing_schema(command))


def _explaining_missing_schema(command: click.Command) -> click.Command:
    """``command`` (a group: with its subcommands), saying in one line what to run when
    the database has no tables yet, or not this version's (a new ``DATABASE_URL``, an
    upgrade not yet migrated), instead of SQLAlchemy's traceback."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    invoke = command.invoke

    def guarded(ctx):
        try:
            return invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            said = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            # SQLite: no such table / no such column; PostgreSQL: relation / column ... does not exist
            if not ("no such table" in said or "no such column" in said
                    or said.startswith(("relation ", "column ")) and "does not exist" in said):
                raise
            raise click.ClickException(f"数据库尚未建立或不是本版本的结构（{said}）："
                                       "请先运行 flask db upgrade（新数据库再运行 flask setup）") from None

    command.invoke = guarded
    return command


# -- regions -----------------------------------------------------------------------------

@click.group("regions", help="行政区划：载入、导入村、标记重点帮扶县。")
def regions_cli():
    pass


@regions_cli.command("load", help="Load province, cities, counties and townships from seeds/.")
def regions_load():
    from .regions.services import load_divisions

    added = load_divisions()
    db.session.commit()
    click.echo(f"已载入行政区划 {added} 条")


@regions_cli.command("import-villages", help="Import villages from CSV or xlsx (all or nothing).")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def regions_import_villages(path: Path):
    from .regions.services import import_villages

    result = import_villages(path, path.name)
    if not result.ok:
        db.session.rollback()
        for row, column, message in result.errors:
            click.echo(f"第{row}行 [{column}]：{message}", err=True)
        click.echo(f"导入失败：{len(result.errors)} 处错误，未写入任何数据", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"导入成功：{result.rows} 行，新增 {result.created}，更新 {result.updated}")


@regions_cli.command("set-key-county", help="Mark a county as 重点帮扶县 (or unmark with --no).")
@click.argument("code")
@click.option("--no", "unset", is_flag=True)
def regions_set_key_county(code: str, unset: bool):
    from .core.rules import RuleViolation
    from .regions.services import set_key_county

    try:
        county = set_key_county(code, not unset)
    except RuleViolation as violation:
        db.session.rollback()
        raise click.ClickException(violation.message) from None
    db.session.commit()
    click.echo(f"{county.name}：重点帮扶县={'否' if unset else '是'}")


# -- users -------------------------------------------------------------------------------

@click.group("users", help="账号管理。")
def users_cli():
    pass


@users_cli.command("create", help="Create a user. The password is generated and printed once, "
                   "or read from standard input with --password-stdin.")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "region", "unit", "village", "viewer"]), required=True)
@click.option("--region", "region_code", help="12-digit region code (region, viewer)")
@click.option("--org", "organization_id", type=int, help="organization id (unit)")
@click.option("--village", "village_code", help="12-digit village code (village)")
@click.option("--name", "display_name", default="")
@click.option("--body", "oversight_body", default=None,
              help="a viewer's body: discipline, finance, audit, agriculture, development")
@click.option("--password-stdin", is_flag=True)
def users_create(username, role, region_code, organization_id, village_code, display_name, oversight_body,
                 password_stdin):
    from .accounts.services import create_user
    from .core.rules import RuleViolation

    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user, password = create_user(
            username, role, region_code=region_code, organization_id=organization_id,
            village_code=village_code, display_name=display_name, password=password,
            oversight_body=oversight_body,
        )
    except RuleViolation as violation:
        db.session.rollback()
        raise click.ClickException(violation.message) from None
    db.session.commit()
    click.echo(f"已创建账号 {user.username}（{user.role_label}）")
    if not password_stdin:
        click.echo(f"初始密码（只显示这一次）：{password}")


@users_cli.command("set-password", help="Reset a user's password (read from standard input) and unlock it.")
@click.argument("username")
def users_set_password(username):
    from .accounts.models import User
    from .accounts.services import set_password
    from .core.rules import RuleViolation

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException("账号不存在")
    try:
        set_password(user, sys.stdin.readline().rstrip("\n"))
    except RuleViolation as violation:
        db.session.rollback()
        raise click.ClickException(violation.message) from None
    click.echo("密码已重置")


def _user_named(username: str):
    from .accounts.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException("账号不存在")
    return user


@users_cli.command("unlock", help="Let a user try to log in again at once, from every address "
                   "(forgets the login throttle's counts for the account).")
@click.argument("username")
def users_unlock(username):
    from .accounts.services import unlock

    user = _user_named(username)
    unlock(user)
    click.echo(f"已解除账号 {user.username} 的登录限制")


@users_cli.command("disable", help="Disable an account: it can no longer log in, and its sessions and API tokens "
                   "end at once.")
@click.argument("username")
@click.option("--reason", required=True, help="why (kept with the account and in the audit trail)")
def users_disable(username, reason):
    from .accounts.services import disable_user
    from .core.rules import RuleViolation

    try:
        disable_user(_user_named(username), reason)
    except RuleViolation as violation:
        db.session.rollback()
        raise click.ClickException(violation.message) from None
    click.echo(f"账号 {username} 已停用，其登录会话和 API 令牌已全部失效")


@users_cli.command("enable", help="Enable a disabled account again (its old sessions and tokens stay ended).")
@click.argument("username")
@click.option("--reason", default="", help="why (optional)")
def users_enable(username, reason):
    from .accounts.services import enable_user
    from .core.rules import RuleViolation

    try:
        enable_user(_user_named(username), reason)
    except RuleViolation as violation:
        db.session.rollback()
        raise click.ClickException(violation.message) from None
    click.echo(f"账号 {username} 已启用")


# -- audit -------------------------------------------------------------------------------

@click.group("audit", help="审计日志。")
def audit_cli():
    pass


@audit_cli.command("verify", help="Verify the keyed hash chain against the latest checkpoint; name the first broken link.")
def audit_verify():
    from .audit.services import verify_chain

    _report_chain(verify_chain())


@audit_cli.command("checkpoint", help="Verify the chain, then sign its head into the checkpoint file (a frequent job).")
@click.option("--after-restore", is_flag=True,
              help="The database was restored from an older backup: accept its (intact) head as the new checkpoint.")
def audit_checkpoint(after_restore: bool):
    from .audit.services import write_checkpoint_now

    _report_chain(write_checkpoint_now(after_restore=after_restore))


def _report_chain(report) -> None:
    from .audit.console import report_chain

    report_chain(report)


# -- demo and first-run set-up ------------------------------------------------------------

@click.group("demo", help="示例数据。")
def demo_cli():
    pass


@demo_cli.command("generate", help="Generate demo data (marked 示例) for every feature.")
@click.option("--seed", default=2026, show_default=True)
@click.option("--scale", default=1.0, show_default=True, help="villages per township factor")
def demo_generate(seed: int, scale: float):
    from . import demo

    demo.generate(seed=seed, scale=scale, echo=click.echo)
    click.echo("示例数据已生成")


@click.command("setup", help="First run: load regions, demo data and demo accounts if the database is empty.")
@click.option("--demo/--no-demo", default=True, show_default=True)
@click.option("--scale", default=1.0, show_default=True, help="demo villages per township factor")
def setup_command(demo: bool, scale: float):
    from . import demo as demo_pkg
    from .accounts.models import User
    from .demo.accounts import create_demo_accounts
    from .regions.models import Region
    from .regions.services import load_divisions

    if db.session.scalar(select(func.count()).select_from(Region)):
        click.echo("数据库已有数据，保留现有数据，不再初始化")
        _refresh_summaries()
        return
    added = load_divisions()
    db.session.commit()
    click.echo(f"已载入行政区划 {added} 条")
    if not demo:
        return
    demo_pkg.generate(scale=scale, echo=click.echo)
    if not db.session.scalar(select(func.count()).select_from(User)):
        path = Path(current_app.instance_path) / "demo-accounts.txt"
        create_demo_accounts(path)
        click.echo(f"示例账号及随机密码已写入 {path}")


# -- dashboard ----------------------------------------------------------------------------

@click.group("dashboard", help="覆盖统计。")
def dashboard_cli():
    pass


@dashboard_cli.command("rebuild", help="Recompute the coverage summaries from the rows (after a bulk load).")
def dashboard_rebuild():
    from .core.bulk_load import vacuum_analyze
    from .dashboard.rebuild import SUMMARY_TABLES, rebuild_all

    rebuild_all()
    db.session.commit()
    vacuum_analyze(SUMMARY_TABLES)  # PostgreSQL: millions of rows rewritten
    click.echo("覆盖统计已重建")


@click.group("closing", help="年度关账。")
def closing_cli():
    pass


@closing_cli.command("reflag", help="Write the grades whose evidence moved after grading (依据已变化) again from the "
                                    "audit trail, for one year or all (after a bulk load that wrote no events).")
@click.option("--year", type=int, default=None)
def closing_reflag(year: int | None):
    from .closing.evidence import reflag

    flagged = reflag(year)
    db.session.commit()
    click.echo(f"依据已变化的考核：{flagged} 条待查看")


@dashboard_cli.command("refresh", help="Recompute the area summaries that time has outdated (run daily, e.g. at 00:05).")
def dashboard_refresh():
    _refresh_summaries()


def _refresh_summaries() -> None:
    from .core.bulk_load import refresh_planner_statistics
    from .dashboard.recompute import refresh_stale

    count = refresh_stale()
    db.session.commit()
    click.echo(f"覆盖统计：已更新 {count} 个乡镇（街道）的汇总")
    refresh_planner_statistics()
    db.session.commit()
    click.echo("已更新查询统计信息（ANALYZE）")
