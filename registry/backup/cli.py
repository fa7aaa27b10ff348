"""``flask backup create|verify|restore`` (docs/backup.md)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .archive import BackupError


@click.group("backup", help="备份与恢复：数据库、上传的佐证材料和审计检查点，打包为一个带校验和的文件。")
def backup_cli():
    pass


@backup_cli.command("create", help="Write a backup archive (database snapshot, the files of UPLOAD_FOLDER or "
                    "the S3 bucket, audit checkpoint, signed manifest) while the site runs. "
                    "Default folder: instance/backups.")
@click.option("--to", "folder", type=click.Path(file_okay=False, path_type=Path), help="folder for the archive")
def backup_create(folder: Path | None):
    from .services import create_backup, describe

    try:
        created = create_backup(folder)
    except BackupError as error:
        raise click.ClickException(f"备份失败：{error.message}") from None
    click.echo(f"备份已写入 {created.path}（{created.path.stat().st_size / 1024 / 1024:.1f} MB）")
    for line in describe(created.manifest):
        click.echo(line)
    click.echo(f"SHA-256：{created.sha256}（另写入 {created.path.name}.sha256，可在任何主机上用 sha256sum -c 核对副本）")
    for name in created.skipped:
        click.echo(f"注意：{name} 在备份过程中被删除，未包含", err=True)
    click.echo("请将备份文件复制到另一台主机或离线介质保存（见 docs/backup.md）")


@backup_cli.command("verify", help="Check an archive's signature and every checksum; writes nothing.")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_verify(archive: Path):
    from .services import describe, verify_backup

    try:
        verified = verify_backup(archive)
    except BackupError as error:
        click.echo(f"备份不可用：{error.message}", err=True)
        sys.exit(1)
    for line in describe(verified.manifest):
        click.echo(line)
    if not verified.result.ok:
        for problem in verified.result.problems:
            click.echo(f"校验失败：{problem}", err=True)
        click.echo(f"备份不可用：{len(verified.result.problems)} 处校验失败", err=True)
        sys.exit(1)
    click.echo(f"备份完整：签名有效，{verified.result.checked} 个文件的校验和全部相符")


@backup_cli.command("restore", help="Restore an archive into an EMPTY database (and UPLOAD_FOLDER or the S3 "
                    "bucket): every checksum is verified before anything is written; the audit chain is "
                    "verified afterwards.")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def backup_restore(archive: Path):
    from ..audit.console import report_chain
    from .services import describe, restore_backup

    try:
        restored = restore_backup(archive)
    except BackupError as error:
        raise click.ClickException(f"恢复被拒绝：{error.message}") from None
    for line in describe(restored.manifest):
        click.echo(line)
    click.echo(f"数据库已恢复；上传文件写入 {restored.files_written} 个"
               + (f"，{restored.files_present} 个已存在且内容相同" if restored.files_present else ""))
    click.echo(restored.checkpoint_note)
    if restored.upgrade_needed:
        click.echo("备份的数据库结构早于本程序：请运行 flask db upgrade")
    for problem in restored.count_problems:
        click.echo(f"行数不符：{problem}", err=True)
    if restored.count_problems:
        click.echo("恢复后的行数与备份清单不符，请检查", err=True)
    report_chain(restored.chain)  # exits 1 if the chain is broken
    if restored.count_problems:
        sys.exit(1)
