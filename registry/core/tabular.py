"""Small in-memory exports (chart data, short lists). Uploads are read by
``transfer.reading`` and large lists streamed by ``transfer.exporting``.

Exports never start a cell with = + - @ (or tab/CR) unescaped: spreadsheet programs
would run it as a formula.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(header: list[str], rows: Iterable[Iterable]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 correctly


def column_letter(number: int) -> str:
    """A spreadsheet column's letters from its number (1: A, 27: AA), as openpyxl's
    ``get_column_letter`` (which would load openpyxl with the app)."""
    if number < 1:
        raise ValueError(f"column {number}")
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def to_xlsx(header: list[str], rows: Iterable[Iterable], title: str = "数据") -> bytes:
    from openpyxl import Workbook  # with the export, not with the app (about 9 MB)

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for row in rows:
        ws.append([safe_cell(v) for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
