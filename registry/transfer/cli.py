"""``flask import KIND FILE``: the web import's service from the command line."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from ..extensions import db
from .importing import run_import
from .kinds import kinds
from .reading import FileRefused


# the errors a refused import prints, the first ones by row (the web page lists 1,000): the
# shared mistakes are said once under them, and --errors saves the file with every one marked
CONSOLE_ERRORS = 50


def _user(username: str | None):
    if not username:
        return None  # the administrator at the console: no scope limit
    from ..accounts.models import User

    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException("账号不存在或已停用")
    return user


@click.command("import", help="Import a spreadsheet (.xlsx or .csv) of KIND, all or nothing. "
               "KIND: villages, organizations, people, postings, pairings, records, findings, care, ...")
@click.argument("kind")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "username", help="import as this account (its scope and permissions apply)")
@click.option("--update", is_flag=True, help="update rows already present instead of refusing them")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="if rows are refused, save the file with every bad cell marked here (.xlsx), "
                   "as the web page's 下载标注了错误的文件 does")
def import_command(kind: str, path: Path, username: str | None, update: bool, errors_path: Path | None):
    spec = kinds().get(kind)
    if spec is None:
        raise click.ClickException(f"未知的导入类型“{kind}”；可选：{'、'.join(sorted(kinds()))}")
    user = _user(username)
    if user is None and spec.needs_actor:
        raise click.ClickException(f"导入{spec.title}须用 --as 指定以哪个账号的名义导入（其管辖范围和权限适用）")
    if not spec.may(user):
        raise click.ClickException(f"账号 {user.username} 没有导入{spec.title}的权限")
    size = path.stat().st_size
    limit = 64 * 1024 * 1024
    if size > limit:
        raise click.ClickException(FileRefused("文件过大（超过 64 MB），请拆分后导入", 413).message)
    with click.progressbar(length=100, label=f"导入{spec.title}", file=sys.stderr) as bar:
        done = [0]

        def progress(current: int, total: int) -> None:
            pct = int(current * 100 / total) if total else 100
            bar.update(pct - done[0])
            done[0] = pct

        report = run_import(spec, path.read_bytes(), path.name, user, update=update, progress=progress)
    for e in report.errors[:CONSOLE_ERRORS]:
        where = f"第{e.row}行" if e.row else "文件"
        column = f" [{e.header or e.column}]" if e.column and e.column != "file" else ""
        click.echo(f"{where}{column}：{e.message}", err=True)
    if len(report.errors) > CONSOLE_ERRORS:
        more = len(report.errors) - CONSOLE_ERRORS
        where = "全部错误见标注文件" if errors_path is not None else "加 --errors 文件名.xlsx 可保存标注了全部错误的文件"
        click.echo(f"……另有 {more} 处错误未列出（共 {len(report.errors)} 处），{where}", err=True)
    if report.ignored_headers and not report.ok:  # a successful import's summary names them
        click.echo(f"未识别的列（已忽略）：{'、'.join(report.ignored_headers)}", err=True)
    if not report.ok:
        for problem in report.common():  # under the list, where a terminal leaves the eye
            click.echo(f"多行相同的问题：[{problem.header or '整行'}] {problem.message}（{problem.rows} 行：{problem.where}）",
                       err=True)
        if any("更新已有数据" in e.message for e in report.errors):
            click.echo("（命令行的“更新已有数据”：加 --update）", err=True)
        if errors_path is not None and report.grid is not None:
            from .workbooks import error_workbook

            errors_path.write_bytes(error_workbook(report))
            click.echo(f"标注了错误的文件已保存：{errors_path}（出错的单元格标红并附批注，每行最后一列写明原因）", err=True)
        click.echo(report.summary(again="导入"), err=True)
        sys.exit(1)
    click.echo(report.summary())


@click.group("jobs", help="大批量导入导出任务。")
def jobs_cli():
    pass


@jobs_cli.command("work", help="Run queued import/export jobs (keep running; started by `make run`).")
@click.option("--once", is_flag=True, help="run the queued jobs, then exit")
@click.option("--poll", default=1.0, show_default=True, help="seconds between looks at the queue")
def jobs_work(once: bool, poll: float):
    from .jobs import work

    ran = work(once=once, poll=poll)
    click.echo(f"已运行 {ran} 个任务")


@jobs_cli.command("clean", help="Remove the files of jobs finished more than REGISTRY_JOB_KEEP_DAYS ago, and evidence kept "
                                 "from refused record forms for over a day (the worker does it hourly).")
def jobs_clean():
    from .jobs import expire_files, keep_days

    removed = expire_files()
    click.echo(f"已删除 {removed} 个过期文件：超过 {keep_days()} 天的导入导出文件（任务记录保留）、超过1天未使用的待保存佐证材料")
