"""Sending a list as xlsx or CSV (cells made safe by ``core.tabular``)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort

from ..core.tabular import to_csv, to_xlsx
from ..core.timeutil import local_today

MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def send_table(fmt: str, title: str, header: list[str], rows) -> Response:
    if fmt not in MIME:
        abort(404)
    body = to_xlsx(header, rows, title=title) if fmt == "xlsx" else to_csv(header, rows)
    filename = f"{title}-{local_today():%Y%m%d}.{fmt}"
    response = Response(body, mimetype=MIME[fmt])
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response
