"""Reading uploaded tables (CSV or xlsx) as dict rows, and writing safe exports.

Exports never start a cell with = + - @ (or tab/CR) unescaped: spreadsheet programs
would run it as a formula.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from openpyxl import Workbook, load_workbook

from .rules import RuleViolation

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def read_rows(path_or_file, filename: str | None = None) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number as the user sees it, {header: value}) from CSV or xlsx."""
    name = (filename or str(getattr(path_or_file, "name", path_or_file))).lower()
    if name.endswith(".xlsx"):
        wb = load_workbook(path_or_file, read_only=True, data_only=True)
        ws = wb.active
        rows = ws.iter_rows(values_only=True)
        try:
            header = [str(h).strip() if h is not None else "" for h in next(rows)]
        except StopIteration:
            return
        for number, values in enumerate(rows, start=2):
            if values is None or all(v is None or str(v).strip() == "" for v in values):
                continue
            yield number, {h: ("" if v is None else _cell_text(v)) for h, v in zip(header, values)}
        wb.close()
        return
    if name.endswith(".csv"):
        if isinstance(path_or_file, (str, Path)):
            raw = Path(path_or_file).read_bytes()
        else:
            raw = path_or_file.read()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")  # Excel in China saves CSV as GBK
        reader = csv.DictReader(io.StringIO(text))
        for number, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values()):
                continue
            yield number, {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        return
    raise RuleViolation("文件格式应为 CSV 或 xlsx", "file")


def _cell_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def safe_cell(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def to_csv(header: list[str], rows: Iterable[Iterable]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def to_xlsx(header: list[str], rows: Iterable[Iterable], title: str = "数据") -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
