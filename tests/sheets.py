"""Spreadsheets for the import and export tests: build a file, upload it, read one back."""
from __future__ import annotations

import csv
import io

from openpyxl import Workbook, load_workbook


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_rows(body: bytes, fmt: str) -> list[list]:
    """The cells of an exported .csv (text) or .xlsx (values), row by row."""
    if fmt == "csv":
        return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return [[c.value for c in row] for row in load_workbook(io.BytesIO(body)).worksheets[0].iter_rows()]


def upload(session, kind: str, body: bytes, name: str, update: bool = False):
    """POST a file to ``/import/<kind>`` as the page's form does."""
    data = {"file": (io.BytesIO(body), name)}
    if update:
        data["update"] = "y"
    return session.post(f"/import/{kind}", data=data, content_type="multipart/form-data")


def csv_bytes(rows, encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)
