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


# what the CSV writer turns into the right text itself (a date's str() is its ISO form)
_CSV_AS_IS = frozenset({int, float, type(None), date})


def _csv_text(value):
    """A cell that is not a number, a date, None or text that is safe as it is."""
    if type(value) is str:
        return escape(value)
    convert = _CSV_TEXT.get(type(value))
    return value if convert is None else convert(value)


def csv_text(value) -> str:
    """A value as the CSV export writes it (text unescaped)."""
    if type(value) is str:
        return value
    convert = _CSV_TEXT.get(type(value))
    return str(value) if convert is None else convert(value)


def _csv_rows(columns: Sequence[Column], rows: Iterable[Sequence]) -> Iterator[list]:
    """The rows' cells as the CSV writer takes them. Text is escaped; whole numbers, dates
    and None go through as they are (the writer itself turns them into text, None into
    nothing); numbers in an amount column get two decimals, as a ``Decimal`` of the
    database's scale would (a driver may give them as floats); the rest by a lookup on
    the type. A million-row export passes twenty million cells here, so the common cases
    cost no function call."""
    amounts = [i for i, c in enumerate(columns) if c.kind == "amount"]
    as_is, first = _CSV_AS_IS, _FORMULA_FIRST
    for row in rows:
        out = [value if (kind := type(value)) in as_is or (kind is str and (not value or value[0] not in first))
               else _csv_text(value) for value in row]
        for i in amounts:
            value = out[i]
            if type(value) is float or type(value) is int:
                out[i] = "%.2f" % value
        yield out


def csv_chunks(columns: Sequence[Column], rows: Iterable[Sequence]) -> Iterator[bytes]:
    """The CSV file in pieces: the BOM and header first, then every ``CSV_CHUNK_ROWS`` rows."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield ("\ufeff" + buf.getvalue()).encode("utf-8")
    buf.seek(0)
    buf.truncate()
    batch = []
    for row in _csv_rows(columns, rows):
        batch.append(row)
        if len(batch) >= CSV_CHUNK_ROWS:
            writer.writerows(batch)
            batch.clear()
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    if batch:
        writer.writerows(batch)
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
