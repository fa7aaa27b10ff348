"""Writing a list or ledger out as .csv or .xlsx, streamed, whatever its length.

- CSV is UTF-8 with a BOM (Excel in China opens it correctly) and is produced in chunks
  as the rows come from the database, so a million rows never sit in memory.
- xlsx is written by ``sheetxml`` straight into the zip file as the rows come (peak memory
  does not grow with the row count), with the header row frozen and filterable, dates as
  dates, amounts as numbers, and a second sheet recording what was exported: the filters,
  the time and the row count.
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

from ..core.tabular import safe_cell
from . import sheetxml

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
    return sheetxml.write_workbook(
        path, _sheet_name(title), [c.header for c in columns], [c.kind for c in columns], [c.width for c in columns],
        rows, about_name="导出说明", about=lambda count: [("内容", title), *about, ("行数", str(count))],
        escape=escape, progress=progress)


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
