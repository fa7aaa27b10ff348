"""The spreadsheet reader refuses every bad file with a message (never a traceback), and
the writer escapes formulas and keeps dates and amounts typed."""
from __future__ import annotations

import tracemalloc
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from registry.transfer.reading import FileRefused, read_grid
from registry.transfer.writing import Column, csv_chunks, escape, unescape, write_xlsx

CORPUS = Path(__file__).parent / "import_corpus"

REFUSED = {
    "empty.xlsx": (400, "空"),
    "empty.csv": (400, "空"),
    "blank_lines.csv": (400, "空"),
    "renamed_exe.xlsx": (400, "不是 Excel 工作簿"),
    "renamed_exe.csv": (400, "不是文本格式"),
    "renamed_html.xlsx": (400, "不是 Excel 工作簿"),
    "renamed_html.csv": (400, "网页"),
    "renamed_png.csv": (400, "不是文本格式"),
    "truncated.xlsx": (400, "损坏或不完整"),
    "plain_zip.xlsx": (400, "不是 Excel 工作簿"),
    "missing_sheet.xlsx": (400, "无法解析"),
    "bad_xml.xlsx": (400, "无法解析"),
    "not_xml.xlsx": (400, "无法解析"),
    "binary.csv": (400, "不是文本格式"),
    "old_excel.xls": (400, "另存为"),
    "long_field.csv": (400, "CSV 文件格式有误"),
    "too_many_columns.csv": (413, "列数超过上限"),
    "too_many_rows.csv": (413, "行数超过上限"),
    "zip_bomb.xlsx": (413, "解压后过大"),
    "shared_strings_bomb.xlsx": (413, "文字展开后过大"),
    "far_cell.xlsx": (413, "行数超过上限"),
    "far_column.xlsx": (413, "列数超过上限"),
    "billion_laughs.xlsx": (400, "DOCTYPE"),
    "external_entity.xlsx": (400, "DOCTYPE"),
    "entity_in_shared_strings.xlsx": (400, "DOCTYPE"),
}

READABLE = {
    "gb18030.csv": [["姓名", "身份证号"], ["张三", "430102199001011237"]],
    "utf8_bom.csv": [["姓名", "身份证号"], ["张三", "430102199001011237"]],
    "utf16_tabs.csv": [["姓名", "身份证号"], ["张三", "430102199001011237"]],
    "blank_rows_100000.xlsx": [["姓名"], ["张三"]],
    "formulas.xlsx": [["a", "b"], [2, None]],  # the cached value; never evaluated
    "far_styled_blank.xlsx": [["姓名"]],  # a styled cell without a value, far out: skipped
}


def test_the_corpus_is_complete():
    names = {p.name for p in CORPUS.iterdir() if p.suffix != ".py" and p.is_file()}
    assert set(REFUSED) | set(READABLE) | {"merged_header.xlsx", "header_on_line_3.xlsx"} <= names


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_bad_files_are_refused_with_a_message(name):
    status, words = REFUSED[name]
    data = (CORPUS / name).read_bytes()
    tracemalloc.start()
    try:
        with pytest.raises(FileRefused) as caught:
            read_grid(data, name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.status == status
    assert words in caught.value.message
    assert caught.value.errors == {"file": [caught.value.message]}
    # refused before anything is unpacked (the zip bomb would grow to gigabytes); the time
    # it takes is measured in bench/transfer_bench.py, not here
    assert peak < 64 * 2**20, f"{name}: {peak / 2**20:.0f} MiB"


@pytest.mark.parametrize("name", sorted(READABLE))
def test_awkward_files_are_read(name):
    assert read_grid((CORPUS / name).read_bytes(), name).rows == READABLE[name]


def test_a_long_text_named_by_one_cell_is_read():
    """A usual sheet with one long text (32,000 characters, Excel's most) is over the quick
    bound of the shared-strings check, which then adds up what the cells name: read."""
    import io

    import xlsxwriter

    buf = io.BytesIO()
    workbook = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = workbook.add_worksheet()
    for row in range(2000):
        sheet.write_row(row, 0, [f"项目{row}", "基准县农业农村局", f"说明{row % 50}"])
    sheet.write(1, 3, "长" * 32_000)
    workbook.close()
    grid = read_grid(buf.getvalue(), "long.xlsx")
    assert len(grid.rows) == 2000 and grid.rows[1][3] == "长" * 32_000 and grid.rows[1999][0] == "项目1999"


def test_merged_cells_are_reported_for_the_header_check():
    grid = read_grid((CORPUS / "merged_header.xlsx").read_bytes(), "merged_header.xlsx")
    assert grid.rows[0] == ["姓名", None, "身份证号"]
    assert grid.merged == ((0, 0, 0, 1),)


def test_a_title_above_the_header_is_kept_for_the_header_search():
    grid = read_grid((CORPUS / "header_on_line_3.xlsx").read_bytes(), "x.xlsx")
    assert grid.rows[0][0] == "某县帮扶干部花名册"
    assert grid.rows[2][:2] == ["姓名", "身份证号"]


def test_row_limit_is_a_parameter():
    data = "姓名\n张三\n李四\n王五\n".encode()
    assert len(read_grid(data, "a.csv", max_rows=3).rows) == 4
    with pytest.raises(FileRefused):
        read_grid(data, "a.csv", max_rows=2)


@pytest.mark.parametrize("text", ["=1+1", "+86", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_text_is_escaped_and_comes_back(text):
    assert escape(text) == "'" + text
    assert unescape(escape(text)) == text
    assert unescape("'plain") == "'plain"


COLUMNS = [Column("日期", "date", "date"), Column("金额（元）", "amount", "amount"), Column("说明", "note")]
ROWS = [(date(2026, 3, 5), Decimal("1234.50"), "=HYPERLINK(\"x\")"), (None, 0, "普通")]


def test_csv_has_a_bom_and_escapes_formulas():
    body = b"".join(csv_chunks(COLUMNS, iter(ROWS))).decode("utf-8")
    assert body.startswith("\ufeff日期,金额（元）,说明\r\n")
    assert "2026-03-05,1234.50,\"'=HYPERLINK(\"\"x\"\")\"" in body


def test_xlsx_is_typed_frozen_filterable_and_says_what_it_holds(tmp_path):
    path = tmp_path / "out.xlsx"
    count = write_xlsx(str(path), COLUMNS, iter(ROWS), title="帮扶台账", about=[("筛选条件", "村：某村")])
    assert count == 2
    wb = load_workbook(path)
    ws = wb["帮扶台账"]
    assert [c.value for c in ws[1]] == ["日期", "金额（元）", "说明"]
    assert ws["A2"].value == datetime(2026, 3, 5) and ws["A2"].number_format == "yyyy-mm-dd"
    assert ws["B2"].value == 1234.5
    assert ws["C2"].value == "'=HYPERLINK(\"x\")" and ws["C2"].data_type == "s"
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:C3"
    about = {r[0].value: r[1].value for r in wb["导出说明"].iter_rows()}
    assert about["筛选条件"] == "村：某村" and about["行数"] == "2"


def test_an_empty_export_still_has_its_header(tmp_path):
    path = tmp_path / "empty.xlsx"
    assert write_xlsx(str(path), COLUMNS, iter(()), title="空") == 0
    assert [c.value for c in load_workbook(path).active[1]] == ["日期", "金额（元）", "说明"]
    assert b"".join(csv_chunks(COLUMNS, iter(()))) == "\ufeff日期,金额（元）,说明\r\n".encode()


def test_xlsx_reads_back_the_same_in_openpyxl_and_calamine(tmp_path):
    from python_calamine import CalamineWorkbook

    columns = [*COLUMNS, Column("时间", "at", "datetime"), Column("人数", "n", "int")]
    texts = ["a&b<c>d\"e'", "控制\x01\x1f字符", "_x0041_ 字面", " 前后空格 ", "多\n行", "\ufffe", "=1+1", "\rx", "😀"]
    rows = [(date(2026, 3, 5), Decimal("1234.50"), text, datetime(2026, 3, 5, 14, 30), 7) for text in texts]
    rows.append((None, None, None, None, None))
    path = tmp_path / "out.xlsx"
    assert write_xlsx(str(path), columns, iter(rows), title="帮扶台账", about=[("筛选条件", "村：<某村> & 乙村")]) == 10
    # openpyxl shows Excel's _xHHHH_ escapes of control characters as they are stored
    shown = ["a&b<c>d\"e'", "控制_x0001__x001F_字符", "_x005F_x0041_ 字面", " 前后空格 ", "多\n行", "_xFFFE_",
             "'=1+1", "'_x000D_x", "😀"]
    sheet = load_workbook(path)["帮扶台账"]
    assert [c.value for c in sheet[1]] == ["日期", "金额（元）", "说明", "时间", "人数"]
    assert [c.value for c in sheet["C"][1:10]] == shown
    assert {(c.value, c.number_format) for c in sheet["B"][1:10]} == {(1234.5, "#,##0.00")}
    assert {(c.value, c.number_format) for c in sheet["D"][1:10]} == {(datetime(2026, 3, 5, 14, 30), "yyyy-mm-dd hh:mm")}
    assert {(c.value, c.number_format) for c in sheet["E"][1:10]} == {(7, "0")}
    calamine = CalamineWorkbook.from_path(str(path))
    cells = calamine.get_sheet_by_name("帮扶台账").to_python()
    assert cells[0] == ["日期", "金额（元）", "说明", "时间", "人数"]
    # calamine (the import's reader) undoes the _xHHHH_ escapes: the text comes back as it was
    assert [r[2] for r in cells[1:10]] == [*texts[:5], "_xFFFE_", "'=1+1", "'\rx", "😀"]
    assert cells[1][:2] == [date(2026, 3, 5), 1234.5] and cells[1][3:] == [datetime(2026, 3, 5, 14, 30), 7]
    assert len(cells) == 10  # the empty row writes no cells
    about = calamine.get_sheet_by_name("导出说明").to_python()
    assert about == [["内容", "帮扶台账"], ["筛选条件", "村：<某村> & 乙村"], ["行数", "10"]]
