"""Sending a list as xlsx or CSV from a plain header: the shared streamed export
(``transfer.exporting.send_export``), every column text, so such a list streams, escapes
its cells and becomes a job when large like every other export."""
from __future__ import annotations

from flask import Response

from ..transfer.exporting import send_export
from ..transfer.writing import Column


def send_table(fmt: str, title: str, header: list[str], rows, *, filters: str = "") -> Response:
    columns = [Column(name, name) for name in header]
    return send_export(fmt, title, columns, rows, filters=filters)
