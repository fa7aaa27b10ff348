"""The two workbooks an import hands back: the empty template and the marked-up errors.

- The template has the Chinese headers the import expects, one example row, a drop-down
  (data validation) for every column with a fixed list of values (an enumeration, or the
  user's own villages or organisations), number and date formats set, and a second sheet
  that explains each column and its rule.
- The error workbook is the uploaded sheet as it was read, with every bad cell filled red
  and a comment giving the reason, and a last column 错误说明 for each bad row.
"""
from __future__ import annotations

import io
from collections import defaultdict
from datetime import date, datetime

from .importing import ImportKind, ImportReport
from ..core.tabular import column_letter
from .writing import escape

LIST_SHEET = "选项"
MAX_VALIDATION_ROWS = 5000


def template_workbook(spec: ImportKind, user) -> bytes:
    import xlsxwriter  # with the workbook, not with the app

    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False})
    sheet = wb.add_worksheet(spec.title[:31])
    guide = wb.add_worksheet("填写说明")
    lists = None
    head = wb.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    head_required = wb.add_format({"bold": True, "bg_color": "#FDE9D9", "border": 1})
    example = wb.add_format({"italic": True, "font_color": "#7F7F7F"})
    example_date = wb.add_format({"italic": True, "font_color": "#7F7F7F", "num_format": "yyyy-mm-dd"})
    formats = {
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "amount": wb.add_format({"num_format": "#,##0.00"}),
        "int": wb.add_format({"num_format": "0"}),
        "text": wb.add_format({"num_format": "@"}),  # ID numbers and codes stay text
    }
    list_column = 0
    fields = spec.fields_for(user)
    for col, f in enumerate(fields):
        sheet.set_column(col, col, max(f.width, len(f.header) * 2 + 2), formats.get(f.kind, formats["text"]))
        sheet.write_string(0, col, f.header, head_required if f.required else head)
        if f.example is not None:
            _write_example(sheet, 1, col, f.example, example_date if f.kind == "date" else example)
        options = list(f.choices(user)) if f.choices is not None else []
        if options:
            if sum(len(o) + 1 for o in options) <= 250:
                sheet.data_validation(1, col, MAX_VALIDATION_ROWS, col, {
                    "validate": "list", "source": options,
                    "error_title": f.header, "error_message": "请从下拉列表中选择"})
            else:  # long lists live on a hidden sheet (Excel limits inline lists to 255 characters)
                if lists is None:
                    lists = wb.add_worksheet(LIST_SHEET)
                    lists.hide()
                for r, option in enumerate(options):
                    lists.write_string(r, list_column, option)
                letter = column_letter(list_column + 1)
                sheet.data_validation(1, col, MAX_VALIDATION_ROWS, col, {
                    "validate": "list", "source": f"='{LIST_SHEET}'!${letter}$1:${letter}${len(options)}",
                    "error_title": f.header, "error_message": "请从下拉列表中选择"})
                list_column += 1
        elif f.kind == "date":
            # any date (Excel's first): the check is that a date was typed, not text; how
            # early a date may be is each kind's rule (a cadre's birth date is before 2000)
            sheet.data_validation(1, col, MAX_VALIDATION_ROWS, col, {
                "validate": "date", "criteria": ">=", "value": datetime(1900, 1, 1),
                "ignore_blank": True, "error_title": f.header, "error_message": "请填写日期，如 2026-03-05",
                "error_type": "warning"})
    sheet.freeze_panes(1, 0)
    guide.set_column(0, 0, 22)
    guide.set_column(1, 1, 12)
    guide.set_column(2, 2, 14)
    guide.set_column(3, 3, 70)
    for c, text in enumerate(("列名", "是否必填", "英文列名", "填写规则")):
        guide.write_string(0, c, text, head)
    for r, f in enumerate(fields, start=1):
        guide.write_string(r, 0, f.header)
        guide.write_string(r, 1, "必填" if f.required else "选填")
        guide.write_string(r, 2, f.key)
        guide.write_string(r, 3, field_rule(f))
    tail = len(fields) + 2
    guide.write_string(tail, 0, "说明", head)
    guide.write_string(tail, 3, "第2行是示例，导入前请删除或改成真实数据。表头可以在前几行标题之下；"
                                "英文列名也可以作为表头。整个文件全部检查通过才会写入，有错误时不写入任何数据。")
    wb.close()
    return buf.getvalue()


def field_rule(f) -> str:
    """The explanation sheet's 填写规则 of a column: its note, and for an enumeration the
    values it takes (the drop-down's), so that a column is explained where no note is; a
    money column says it may be headed in 万元 (``importing._counted_in_wan``)."""
    if f.kind == "amount" and f.header.endswith("（元）"):
        wan = f"表头也可写成“{f.header[:-3]}（万元）”，整列按万元读"
        return f"{f.note}；{wan}" if f.note else wan
    if not f.codes:
        return f.note or ""
    values = "可选：" + "、".join(f.codes.values())
    if f.synonyms:  # a word for each of the first few values, as files write them
        words: dict[str, str] = {}
        for word, code in f.synonyms.items():
            words.setdefault(code, word)
        values += "；也可写" + "、".join(list(words.values())[:4]) + "等"
    return f"{f.note}；{values}" if f.note else values


def _write_example(sheet, row, col, value, fmt) -> None:
    if isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), fmt)
    elif isinstance(value, (int, float)):
        sheet.write_number(row, col, value, fmt)
    else:
        sheet.write_string(row, col, str(value), fmt)


def error_workbook(report: ImportReport) -> bytes:
    """The sheet as uploaded, bad cells red with a comment, and a 错误说明 column."""
    import xlsxwriter

    grid = report.grid
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                   "strings_to_numbers": False, "strings_to_urls": False})
    sheet = wb.add_worksheet("错误标注")
    bad = wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})
    head = wb.add_format({"bold": True, "bg_color": "#E8EEF7"})
    date_fmt = wb.add_format({"num_format": "yyyy-mm-dd"})
    by_cell: dict[tuple[int, int], list[str]] = defaultdict(list)
    by_row: dict[int, list[str]] = defaultdict(list)
    general: list[str] = []
    for e in report.errors:
        col = report.columns.get(e.column)
        if e.row and col is not None:
            by_cell[(e.row - 1, col)].append(e.message)
            by_row[e.row - 1].append(f"{e.header or e.column}：{e.message}")
        elif e.row:
            by_row[e.row - 1].append(e.message)
        else:
            general.append(e.message)
    rows = grid.rows if grid is not None else []
    width = max((len(r) for r in rows), default=0)
    for r, cells in enumerate(rows):
        for c, value in enumerate(cells):
            fmt = bad if (r, c) in by_cell else (head if r == report.header_row - 1 else None)
            if value is None:
                if fmt is bad:
                    sheet.write_blank(r, c, None, bad)
            elif isinstance(value, datetime | date):
                d = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
                sheet.write_datetime(r, c, d, bad if fmt is bad else date_fmt)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value, fmt)
            elif isinstance(value, int | float):
                sheet.write_number(r, c, value, fmt)
            else:
                sheet.write_string(r, c, escape(str(value)), fmt)
            if (r, c) in by_cell:
                sheet.write_comment(r, c, "\n".join(by_cell[(r, c)]), {"x_scale": 2, "y_scale": 1.5})
    for (r, c), messages in by_cell.items():
        if r >= len(rows) or c >= len(rows[r]):  # a bad cell beyond the row's last value
            sheet.write_blank(r, c, None, bad)
            sheet.write_comment(r, c, "\n".join(messages))
    if report.header_row:
        sheet.write_string(report.header_row - 1, width, "错误说明", head)
    for r, messages in by_row.items():
        sheet.write_string(r, width, "；".join(messages), bad)
    sheet.set_column(width, width, 60)
    if general:
        notes = wb.add_worksheet("文件问题")
        notes.set_column(0, 0, 100)
        for r, message in enumerate(general):
            notes.write_string(r, 0, message)
    wb.close()
    return buf.getvalue()
