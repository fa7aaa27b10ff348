"""Writes the corpus of bad (and awkward) files the import must survive.

Run ``python tests/import_corpus/make_corpus.py`` to rebuild; the files are committed so
that a test run does not depend on this script. Each file's name says what it is; the
expectations live in ``tests/test_import_corpus.py``.
"""
from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).parent
RNG = random.Random(20261204)  # the same bytes on every rebuild
PEOPLE_HEADER = ["姓名", "身份证号", "手机号", "工作单位", "职务"]


def valid_xlsx(rows=None, header=PEOPLE_HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "导入"
    ws.append(header)
    for row in rows or [["张三", "430102199001011237", "13800000000", "湖南省农业农村厅", "科员"]]:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def rezip(base: bytes, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = (),
          compress=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", compress, compresslevel=9) as dst:
        for item in src.infolist():
            if item.filename in drop:
                continue
            data = (replace or {}).get(item.filename, src.read(item.filename))
            dst.writestr(item.filename, data)
        for name, data in (replace or {}).items():
            if name not in src.namelist():
                dst.writestr(name, data)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet_xml(body: bytes, prolog: bytes = b"") -> bytes:
    return (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + prolog +
            b"<worksheet " + NS + b"><sheetData>" + body + b"</sheetData></worksheet>")


def build() -> dict[str, bytes]:
    base = valid_xlsx()
    files: dict[str, bytes] = {}
    files["empty.xlsx"] = b""
    files["empty.csv"] = b""
    files["blank_lines.csv"] = b"\r\n \r\n\t\r\n"
    files["renamed_exe.xlsx"] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + RNG.randbytes(2000)
    files["renamed_exe.csv"] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + RNG.randbytes(2000)
    files["renamed_html.xlsx"] = b"<!DOCTYPE html><html><body><table><tr><td>\xe5\xa7\x93\xe5\x90\x8d</td></tr></table></body></html>"
    files["renamed_html.csv"] = b"<html><head><title>x</title></head><body>hi</body></html>"
    files["renamed_png.csv"] = b"\x89PNG\r\n\x1a\n" + RNG.randbytes(500)
    files["truncated.xlsx"] = base[: len(base) // 2]
    files["plain_zip.xlsx"] = rezip(base, drop=("xl/workbook.xml", "[Content_Types].xml"))
    files["missing_sheet.xlsx"] = rezip(base, drop=(SHEET,))
    files["bad_xml.xlsx"] = rezip(base, {SHEET: b"<?xml version='1.0'?><worksheet><sheetData><row><c"})
    files["not_xml.xlsx"] = rezip(base, {"xl/workbook.xml": RNG.randbytes(300)})
    files["binary.csv"] = bytes(range(256)) * 8
    files["old_excel.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + RNG.randbytes(1000)
    files["long_field.csv"] = "姓名,身份证号\n".encode() + b'"' + b"x" * 200_000 + b'",1\n'
    files["too_many_columns.csv"] = (",".join(f"列{i}" for i in range(300)) + "\n").encode()
    # 1 GiB of zeros inside a cell: about 1 MB compressed
    bomb = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for item in src.infolist():
            if item.filename != SHEET:
                dst.writestr(item.filename, src.read(item.filename))
        with dst.open(SHEET, "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0"?><worksheet ' + NS + b'><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
            chunk = b"0" * (1024 * 1024)
            for _ in range(1024):
                fh.write(chunk)
            fh.write(b"</t></is></c></row></sheetData></worksheet>")
    files["zip_bomb.xlsx"] = bomb.getvalue()
    # one shared string of 100 KB named by 15,000 cells: 22 KB of file, 1.5 GB for a reader
    # that gives every cell its own copy (small enough that such a reader survives it)
    cells = b"".join(b'<row r="%d">' % r + b'<c t="s"><v>0</v></c>' * 100 + b"</row>" for r in range(1, 151))
    files["shared_strings_bomb.xlsx"] = rezip(base, {
        "xl/sharedStrings.xml": b'<?xml version="1.0"?><sst ' + NS + b' count="1" uniqueCount="1"><si><t>'
                                + b"x" * 100_000 + b"</t></si></sst>",
        SHEET: sheet_xml(cells)})
    # one value far out: the reader lays out every cell up to it (6.4 GB at GR1048576;
    # at XFD1048576 it asks for 550 GB and the process aborts); a styled cell without a
    # value there is skipped, and the file is read
    first = b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xa7\x93\xe5\x90\x8d</t></is></c></row>'
    files["far_cell.xlsx"] = rezip(base, {SHEET: sheet_xml(
        first + b'<row r="1048576"><c r="GR1048576" t="inlineStr"><is><t>x</t></is></c></row>')})
    files["far_column.xlsx"] = rezip(base, {SHEET: sheet_xml(
        first + b'<row r="2"><c r = "XFD2" t="inlineStr"><is><t>x</t></is></c></row>')})
    files["far_styled_blank.xlsx"] = rezip(base, {SHEET: sheet_xml(
        first + b'<row r="1048576"><c r="XFD1048576" s="1"/></row>')})
    laughs = b'<!DOCTYPE lolz [<!ENTITY lol "lol">' + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    ) + b"]>"
    files["billion_laughs.xlsx"] = rezip(base, {SHEET: sheet_xml(
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>', laughs)})
    files["external_entity.xlsx"] = rezip(base, {SHEET: sheet_xml(
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>',
        b'<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')})
    files["entity_in_shared_strings.xlsx"] = rezip(base, {"xl/sharedStrings.xml":
        b'<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY a "aaaa">]><sst ' + NS + b'><si><t>&a;</t></si></sst>'})
    # awkward but readable
    blank = valid_xlsx()
    body = b"".join(b'<row r="%d" s="1" customFormat="1"/>' % r for r in range(3, 100_003))
    files["blank_rows_100000.xlsx"] = rezip(blank, {SHEET: sheet_xml(
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>\xe5\xa7\x93\xe5\x90\x8d</t></is></c></row>'
        b'<row r="2"><c r="A2" t="inlineStr"><is><t>\xe5\xbc\xa0\xe4\xb8\x89</t></is></c></row>' + body)})
    files["formulas.xlsx"] = rezip(base, {SHEET: sheet_xml(
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c><c r="B1" t="inlineStr"><is><t>b</t></is></c></row>'
        b'<row r="2"><c r="A2"><f>1+1</f><v>2</v></c><c r="B2"><f>WEBSERVICE("http://example.com")</f></c></row>')})
    wb = Workbook()
    ws = wb.active
    ws.append(["姓名", None, "身份证号"])
    ws.merge_cells("A1:B1")
    ws.append(["张三", "x", "430102199001011237"])
    buf = io.BytesIO()
    wb.save(buf)
    files["merged_header.xlsx"] = buf.getvalue()
    wb = Workbook()
    ws = wb.active
    ws.append(["某县帮扶干部花名册"])
    ws.append([None])
    ws.append(PEOPLE_HEADER)
    ws.append(["张三", "430102199001011237", "13800000000", "湖南省农业农村厅", "科员"])
    buf = io.BytesIO()
    wb.save(buf)
    files["header_on_line_3.xlsx"] = buf.getvalue()
    files["gb18030.csv"] = "姓名,身份证号\n张三,430102199001011237\n".encode("gb18030")
    files["utf8_bom.csv"] = "\ufeff姓名,身份证号\n张三,430102199001011237\n".encode()
    files["utf16_tabs.csv"] = "姓名\t身份证号\n张三\t430102199001011237\n".encode("utf-16")
    files["too_many_rows.csv"] = ("姓名\n" + "张三\n" * 100_050).encode()
    files.update(row_level())
    return files


def _csv(rows: list[list]) -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


# Rows that are well-formed files but wrong by the rules. The file name's first word is the
# kind it is imported as (tests/test_import_corpus.py); the world it meets has a unit
# 测试单位 in county 433101 with a person registered under ID_TAKEN and village 433101005001.
ID_OK = "430101198503150018"
ID_TAKEN = "430101198503150026"
CREDIT_BAD = "91430100MA4L16PJ4X"


def row_level() -> dict[str, bytes]:
    people = ["姓名", "身份证号", "工作单位"]
    pairing = ["帮扶主体", "结对地", "结对类型", "开始日期", "结束日期"]
    return {
        "people_duplicate_in_file.csv": _csv([people, ["甲", ID_OK, "测试单位"], ["乙", ID_OK, "测试单位"]]),
        "people_duplicate_in_database.csv": _csv([people, ["丙", ID_TAKEN, "测试单位"]]),
        "people_bad_id_numbers.csv": _csv([people, ["丁", "430101198503150019", "测试单位"],
                                           ["戊", "43010119850315", "测试单位"], ["己", "X30101198503150018", "测试单位"]]),
        "people_unknown_employer.csv": _csv([people, ["庚", ID_OK, "不存在的单位"]]),
        "people_formula_and_spaces.xlsx": valid_xlsx([["=1+1", "４３０１０１１９８５０３１５００１８ ", "测试单位", "科员", "x"]],
                                                     header=["姓名", "身份证号", "工作单位", "职务", "未知列"]),
        "organizations_bad_credit_code.csv": _csv([["单位名称", "主体类型", "所在行政区", "统一社会信用代码"],
                                                   ["坏码公司", "企业", "433101000000", CREDIT_BAD],
                                                   ["短码公司", "企业", "433101000000", "9143"]]),
        "organizations_outside_scope.csv": _csv([["单位名称", "主体类型", "所在行政区"],
                                                 ["外县单位", "后盾单位", "430102000000"]]),
        "pairings_unknown_village.csv": _csv([pairing, ["测试单位", "433101005999", "驻村帮扶", "2024-01-01", ""]]),
        "pairings_village_outside_scope.csv": _csv([pairing, ["测试单位", "430102001001", "驻村帮扶", "2024-01-01", ""]]),
        "pairings_dates_out_of_range.csv": _csv([pairing, ["测试单位", "433101005001", "驻村帮扶", "2024-13-01", ""],
                                                 ["测试单位", "433101005001", "驻村帮扶", "2024-05-01", "2024-01-01"],
                                                 ["测试单位", "433101005001", "驻村帮扶", "1e308", ""]]),
        "villages_duplicate_codes.csv": _csv([["村代码", "村名称", "乡镇代码"], ["433101005901", "甲村", "433101005000"],
                                              ["433101005901", "乙村", "433101005000"]]),
        "villages_header_missing.csv": _csv([["名字", "代码"], ["甲村", "433101005902"]]),
    }


if __name__ == "__main__":
    for name, data in build().items():
        (HERE / name).write_bytes(data)
        print(f"{name:34} {len(data):>10,} bytes")
