from __future__ import annotations

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField

from ..core.forms import RegistryForm


class ImportForm(RegistryForm):
    file = FileField("选择文件（.xlsx 或 .csv）", validators=[FileRequired("请选择要导入的文件")],
                     render_kw={"accept": ".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv"})
    update = BooleanField("更新已有数据（系统中已登记的行，按文件内容更新，与系统一致的行保持原样；不勾选则作为重复报错）")
