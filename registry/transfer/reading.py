"""Reading an uploaded spreadsheet safely: .xlsx or .csv in, a grid of cell values out.

Everything that can go wrong with a file is checked before it is parsed, and every refusal
is a ``FileRefused`` with a message in Chinese (the web answers 400 or 413, the CLI prints
it); no file makes this module raise anything else.

- Size: the upload limit (``MAX_CONTENT_LENGTH``, 413) and, for .xlsx, the sum of the
  uncompressed sizes the zip declares, the number of parts and each part's compression
  ratio, all read from the zip's directory before anything is inflated. A zip bomb is
  refused in milliseconds. The declared sizes cannot lie: :mod:`zipfile` stops at the
  declared size and checks the CRC.
- Content: an .xlsx must be a zip holding a workbook; a .csv must be text (no NUL bytes,
  not an executable, not HTML). The extension alone decides nothing.
- XML: any part whose prolog declares a DOCTYPE is refused, so there is no entity to
  expand (billion laughs) and none to fetch (external entities).
- Formulas are never evaluated: the reader returns the value Excel cached when it saved.
- Rows and columns: at most ``max_rows`` and ``MAX_COLUMNS``, checked on the cells'
  references before the reader lays the sheet out (``_check_extent``), and on the
  sheet's dimensions before its cells are turned into Python objects.
- Shared strings: the text the cells name adds up to at most ``MAX_SHARED_TEXT``,
  checked before the reader copies it into every cell (a long string named by many
  cells is the zip bomb's cousin: a few kilobytes of file, gigabytes in memory).

The reader is python-calamine (Rust; about 12 times faster than openpyxl at parsing on
this machine and it never evaluates formulas).
"""
from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time

import filetype

from ..core.rules import RuleViolation

MAX_UNCOMPRESSED = 256 * 1024 * 1024  # all parts of one .xlsx, inflated
MAX_PARTS = 2000
MAX_RATIO = 200  # a real sheet compresses 5-20 times; a bomb a thousand times
MAX_COLUMNS = 200
MAX_SHARED_TEXT = 128 * 1024 * 1024  # bytes of shared strings the cells naming them may add up to
PROLOG_BYTES = 64 * 1024
XLSX_REQUIRED = ("[Content_Types].xml", "xl/workbook.xml")


class FileRefused(RuleViolation):
    """The file as a whole cannot be read; ``status`` is the HTTP answer (400 or 413)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message, "file")
        self.status = status


@dataclass
class Grid:
    """The first sheet of a file: ``rows[i]`` is line ``i + 1`` as the user sees it.

    Cells are str, int, float, bool, date, datetime or None. ``merged`` lists merged
    ranges as (first row, first column, last row, last column), 0-based, for reports.
    """

    rows: list[list]
    kind: str  # "xlsx" or "csv"
    sheet_name: str = ""
    merged: tuple[tuple[int, int, int, int], ...] = ()


def read_grid(data: bytes, filename: str = "", *, max_rows: int = 100_000) -> Grid:
    """Read ``data`` (the uploaded bytes) as a grid, refusing anything unsafe or unreadable."""
    if not data or not data.strip():
        raise FileRefused("文件是空的，请选择填好的 Excel（.xlsx）或 CSV 文件")
    name = (filename or "").lower()
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _read_xlsx(data, max_rows)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise FileRefused("这是旧版 Excel（.xls）或加密的工作簿，请在 Excel 中“另存为” .xlsx 后再导入")
    if name.endswith(".xlsx"):
        raise FileRefused("文件扩展名是 .xlsx，但内容不是 Excel 工作簿（可能已损坏或被改了扩展名）")
    return _read_csv(data, max_rows)


# -- xlsx -----------------------------------------------------------------------------------

def _read_xlsx(data: bytes, max_rows: int) -> Grid:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        parts = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise FileRefused("Excel 文件已损坏或不完整，无法读取，请重新保存后再导入") from None
    names = {p.filename for p in parts}
    if not all(required in names for required in XLSX_REQUIRED):
        raise FileRefused("压缩文件不是 Excel 工作簿（缺少工作簿内容），请上传 .xlsx 或 CSV 文件")
    if len(parts) > MAX_PARTS:
        raise FileRefused("Excel 文件结构异常（部件过多），已拒绝读取", 413)
    if sum(p.file_size for p in parts) > MAX_UNCOMPRESSED:
        raise FileRefused("Excel 文件解压后过大，已拒绝读取；请拆分成多个文件后导入", 413)
    for part in parts:
        if part.file_size > 1024 * 1024 and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise FileRefused("Excel 文件压缩比异常（疑似压缩炸弹），已拒绝读取", 413)
    for part in parts:
        if part.filename.endswith((".xml", ".rels", ".vml")):
            _check_prolog(archive, part)
    _check_shared_text(archive, parts)
    _check_extent(archive, parts, max_rows)
    archive.close()
    try:
        from python_calamine import CalamineWorkbook  # with an upload, not with the app

        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not workbook.sheet_names:
            raise FileRefused("Excel 文件中没有工作表")
        sheet = workbook.get_sheet_by_index(0)
        if sheet.total_height > max_rows + 50 and _nonblank_height(sheet) > max_rows + 1:
            raise FileRefused(f"工作表行数超过上限（最多 {max_rows} 行），请拆分成多个文件后导入", 413)
        if sheet.total_width > MAX_COLUMNS:
            raise FileRefused(f"工作表列数超过上限（最多 {MAX_COLUMNS} 列）", 413)
        rows = sheet.to_python(skip_empty_area=False)
        merged = tuple(
            (start[0], start[1], end[0], end[1]) for start, end in (sheet.merged_cell_ranges or [])
        )
    except FileRefused:
        raise
    except Exception:  # calamine's XmlError, ZipError, CalamineError, PasswordError...
        raise FileRefused("Excel 文件内容无法解析（可能已损坏、加密或不是标准的 .xlsx），请重新保存后再导入") from None
    # text, numbers, blanks, dates and times, most cells, without a call each: as _cell would have it
    rows = _trim([[(v if v.strip() else None) if (kind := v.__class__) is str
                   else (int(v) if v.is_integer() and -1e15 < v < 1e15 else v) if kind is float
                   else v if kind is date
                   else (v.date() if v.time() == _MIDNIGHT else v) if kind is datetime
                   else None if v is None
                   else _cell(v) for v in row] for row in rows])
    if len(rows) > max_rows + 1:
        raise FileRefused(f"工作表行数超过上限（最多 {max_rows} 行），请拆分成多个文件后导入", 413)
    return Grid(rows=rows, kind="xlsx", sheet_name=sheet.name, merged=merged)


_ROOT = re.compile(rb"<[A-Za-z_]")
_PREFIX = rb"(?:[A-Za-z_][\w.-]*:)?"  # a namespace prefix, if the writer used one
_STRING_START = re.compile(rb"<" + _PREFIX + rb"si\b")
_STRING_END = re.compile(rb"</" + _PREFIX + rb"si\s*>")
_STRING_CELL = re.compile(rb"<" + _PREFIX + rb"c\b[^>]*?\bt\s*=\s*[\"']s[\"'][^>]*>\s*<" + _PREFIX + rb"v>\s*(\d+)")
_SMALLEST_CELL = 20  # bytes of the shortest cell that names a shared string: <c t="s"><v>0</v></c>


def _check_shared_text(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo]) -> None:
    """Refuse a workbook whose cells would expand its shared strings past MAX_SHARED_TEXT.

    A cell of text names an entry of the shared strings, and the reader gives every cell
    its own copy: one long string named by a hundred thousand cells is gigabytes in memory
    from a file of a few kilobytes, which the zip's sizes do not show. Each entry's size
    (an upper bound: its markup counts too) is read from the shared strings; if the
    longest, times the most cells the sheets' sizes allow, stays under the limit (every
    usual file), that is all; otherwise the cells that name an entry are read and the
    sizes of what they name added up."""
    table = next((p for p in parts if p.filename.lower() == "xl/sharedstrings.xml"), None)
    if table is None or table.file_size == 0:
        return
    sheets = [p for p in parts if p.filename.startswith("xl/worksheets/") and p.filename.endswith(".xml")]
    try:
        text = archive.read(table)
        cells = sum(p.file_size // _SMALLEST_CELL for p in sheets)
        # the usual file, quickly: its longest entry (between two ends, unprefixed), times
        # the most cells (a prefixed file has no such end: the whole table is the bound)
        start = text.find(b"<si")
        if max(map(len, text[max(start, 0):].split(b"</si>"))) * cells <= MAX_SHARED_TEXT:
            return
        ends = [m.end() for m in _STRING_END.finditer(text)]
        if not ends:
            return
        first = _STRING_START.search(text)
        sizes = [ends[0] - (first.start() if first else 0), *(b - a for a, b in zip(ends, ends[1:]))]
        del text
        if max(sizes) * cells <= MAX_SHARED_TEXT:
            return
        total = 0
        for sheet in sheets:
            for match in _STRING_CELL.finditer(archive.read(sheet)):
                index = int(match.group(1))
                total += sizes[index] if index < len(sizes) else 0
                if total > MAX_SHARED_TEXT:
                    raise FileRefused("Excel 文件中的文字展开后过大（大量单元格引用了很长的文字），已拒绝读取；"
                                      "请检查文件或拆分成多个文件后导入", 413)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise FileRefused("Excel 文件已损坏或不完整，无法读取，请重新保存后再导入") from None


# A reference far out, in the sheet written as every writer writes it (``r="A1"``): a
# cell's column past the second letter G (GS = 201) or of three letters, or a row (a
# cell's, or a row's own number) of six digits or more. Each such one (none in a usual
# sheet) is then checked against the exact limits.
_FAR = re.compile(rb'r="((?:[A-Za-z]{3}|[H-Zh-z][A-Za-z]|[Gg][S-Zs-z])\d+|[A-Za-z]{0,2}\d{6,})"')
_ELEMENT_END = re.compile(rb"[^>]*>")
# written otherwise: an "=" not followed by a double quote, spaces before one, a character
# reference (each checked quickly: a literal first)
_ODD = (re.compile(rb'=[^"]'), re.compile(rb"r\s+="), re.compile(rb"&#"))
_AROUND_EQUALS = re.compile(rb"\s*=\s*")
_CHARACTER_REFERENCE = re.compile(rb"&#(x[0-9A-Fa-f]{1,6}|[0-9]{1,7});")


def _character(match: re.Match) -> bytes:
    code = match.group(1)
    number = int(code[1:], 16) if code[:1] == b"x" else int(code)
    return chr(number).encode("utf-8", "replace") if number < 0x110000 else b"?"


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + letter - 64
    return number


def _check_extent(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo], max_rows: int) -> None:
    """Refuse a sheet with a value past row ``max_rows`` (and the blank rows allowed below
    it) or past column ``MAX_COLUMNS``, before the reader lays the sheet out: it holds
    every cell from the first to the farthest, so one value at XFD1048576 is 550 GB (the
    process aborts), and one at GR1048576 was 6.4 GB and 24 s before the row limit
    refused it. Only the references past the limits are looked at (~0.1 s for 40,000
    rows); a cell or row without a value (``<c r="…" s="1"/>``), which the reader skips,
    is allowed. A sheet that spaces or quotes its attributes otherwise is rewritten as
    usual first (slower, and rare)."""
    for part in parts:
        if not (part.filename.startswith("xl/worksheets/") and part.filename.endswith(".xml")):
            continue
        try:
            sheet = archive.read(part)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
            raise FileRefused("Excel 文件已损坏或不完整，无法读取，请重新保存后再导入") from None
        if any(odd.search(sheet) for odd in _ODD):
            sheet = _CHARACTER_REFERENCE.sub(_character, _AROUND_EQUALS.sub(b"=", sheet).replace(b"'", b'"'))
        for match in _FAR.finditer(sheet):
            end = _ELEMENT_END.match(sheet, match.end())
            if end is None or end.group().endswith(b"/>"):
                continue  # nothing in it
            ref = match.group(1)
            digits = len(ref.rstrip(b"0123456789"))
            if digits == 0:  # a row's own number: does the row hold a value?
                close = sheet.find(b"row>", end.end())
                inside = sheet[end.end():close if close >= 0 else len(sheet)]
                if b"v>" not in inside and b"is>" not in inside:
                    continue
            elif _column_number(ref[:digits]) > MAX_COLUMNS:
                raise FileRefused(f"工作表列数超过上限（最多 {MAX_COLUMNS} 列）", 413)
            if int(ref[digits:]) > max_rows + 51:
                raise FileRefused(f"工作表行数超过上限（最多 {max_rows} 行），请拆分成多个文件后导入", 413)


def _check_prolog(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """Refuse a DOCTYPE (the only place entities can be declared) before the root element."""
    try:
        with archive.open(part) as fh:
            head = fh.read(PROLOG_BYTES)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        raise FileRefused("Excel 文件已损坏或不完整，无法读取，请重新保存后再导入") from None
    upper = head.upper()
    root = _ROOT.search(head)
    prolog = upper[: root.start()] if root else upper
    if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
        raise FileRefused("Excel 文件包含不允许的 XML 声明（DOCTYPE/实体），已拒绝读取")
    if root is None and len(head) >= PROLOG_BYTES:
        raise FileRefused("Excel 文件结构异常，已拒绝读取")


def _nonblank_height(sheet) -> int:
    """Rows up to the last one holding a value (blank formatted rows do not count)."""
    last = 0
    for number, row in enumerate(sheet.iter_rows(), start=1):
        if any(v not in ("", None) for v in row):
            last = number
    return last


_MIDNIGHT = time(0)


def _cell(value):
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, datetime) and value.time() == time(0):
        return value.date()
    if value == "":
        return None
    return value


# -- csv ------------------------------------------------------------------------------------

_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<\?xml|<svg|<script)", re.IGNORECASE)


def _read_csv(data: bytes, max_rows: int) -> Grid:
    text = _decode(data)
    sample = text[:4096]
    first = sample.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    rows: list[list] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(row) > MAX_COLUMNS:
                raise FileRefused(f"表格列数超过上限（最多 {MAX_COLUMNS} 列）", 413)
            rows.append([value if value.strip() else None for value in row])
            if len(rows) > max_rows + 1 and any(v is not None for v in row):
                raise FileRefused(f"表格行数超过上限（最多 {max_rows} 行），请拆分成多个文件后导入", 413)
    except csv.Error:
        raise FileRefused("CSV 文件格式有误（引号不配对或含有非法字符），请在 Excel 中重新保存后再导入") from None
    rows = _trim(rows)
    if len(rows) > max_rows + 1:
        raise FileRefused(f"表格行数超过上限（最多 {max_rows} 行），请拆分成多个文件后导入", 413)
    return Grid(rows=rows, kind="csv")


def _decode(data: bytes) -> str:
    head = data[:PROLOG_BYTES]
    if head.startswith(codecs.BOM_UTF8):
        return _strict(data[len(codecs.BOM_UTF8):], "utf-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16")  # Excel's "Unicode text" (tab separated)
    if b"\x00" in head or filetype.guess(head) is not None:
        raise FileRefused("文件不是文本格式的 CSV，也不是 Excel 工作簿，请上传 .xlsx 或 CSV 文件")
    if _HTML.match(head):
        raise FileRefused("文件是网页或 XML，不是 CSV，请上传 .xlsx 或 CSV 文件")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # GB18030 (a superset of GBK) is what Chinese Excel writes when it saves as CSV.
    return _strict(data, "gb18030")


def _strict(data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        raise FileRefused("CSV 文件的编码无法识别，请保存为 UTF-8 或 GB18030（Excel 默认）编码后再导入") from None
    if "\x00" in text:
        raise FileRefused("文件不是文本格式的 CSV，请上传 .xlsx 或 CSV 文件")
    return text


def _trim(rows: list[list]) -> list[list]:
    """Drop blank rows at the end and blank columns at the right."""
    while rows and all(v is None or (isinstance(v, str) and not v.strip()) for v in rows[-1]):
        rows.pop()
    width, full = 0, max(map(len, rows), default=0)
    for row in rows:
        for i in range(len(row) - 1, width - 1, -1):  # columns left of ``width`` are kept anyway
            v = row[i]
            if not (v is None or (isinstance(v, str) and not v.strip())):
                width = i + 1
                break
        if width == full:  # no row is wider
            break
    return [row if len(row) == width else row[:width] + [None] * (width - len(row)) for row in rows]


def is_blank(row: list) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in row)


def as_date(value) -> date | None:
    """A cell that is already a date (an Excel date cell), else None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None
