"""Sending a list or ledger as a download: CSV streamed as rows arrive, xlsx written to a
temporary file in constant memory and streamed from it, both with Chinese file names.

A large export becomes a job (``transfer/exports.py``): inside a view marked
``@export_job``, ``count_rows`` (or ``export_size``) raises ``LargeExport`` above
``REGISTRY_EXPORT_JOB_ROWS`` rows, and in the job worker ``send_export`` writes the file
into the jobs folder instead of answering."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote, urlencode

from flask import Response, abort, current_app, g, make_response, render_template, request
from flask_login import current_user
from sqlalchemy import Select, func, select

from ..audit.services import record
from ..core.database import writing
from ..people.privacy import mask_everything, masked_requested, rule_text
from ..core.formatting import datetime_cn
from ..core.timeutil import local_today, utcnow
from ..extensions import db, streamed
from .writing import Column, TempExport, csv_chunks, write_xlsx

MIME = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def describe_filters(pairs: Iterable[tuple[str, str]]) -> str:
    """'村：甲村；状态：已确认' from (label, shown value) pairs, skipping empty ones."""
    shown = [f"{label}：{value}" for label, value in pairs if value not in (None, "", "全部")]
    return "；".join(shown) or "无（全部可见数据）"


def form_filters(form, *narrowed: tuple[str, str]) -> str:
    """What a filter form asks for, in words: each field's label and the shown choice,
    after what the list is narrowed to outside the form (``("村", "甲村（4331…）")``)."""
    pairs = list(narrowed)
    for f in form:
        if f.name == "csrf_token" or not f.data:
            continue
        shown = f.data
        if hasattr(f, "iter_choices"):
            shown = next((str(c[1]).strip("\u3000") for c in f.iter_choices() if c[2]), f.data)
        pairs.append((f.label.text, shown))
    return describe_filters(pairs)


class LargeExport(Exception):
    """Raised by ``count_rows``/``export_size`` inside an ``@export_job`` view when the export
    is too large to send from a web worker; the decorator queues it as a job instead."""

    def __init__(self, count: int):
        super().__init__(count)
        self.count = count


def export_size(count: int) -> int:
    """``count`` rows are about to be exported: above the job limit, in a web request to an
    ``@export_job`` view, that is a job (``LargeExport``); otherwise just the count."""
    if g.get("export_guard") and count > int(current_app.config["REGISTRY_EXPORT_JOB_ROWS"]):
        raise LargeExport(count)
    return count


def export_filename(title: str, fmt: str) -> str:
    return f"{title}-{local_today():%Y%m%d}.{fmt}"


def about_lines(filters: str) -> list[tuple[str, str]]:
    """What the xlsx's second sheet says besides the title and the row count."""
    return [("筛选条件", filters or "无（全部可见数据）"), ("导出时间", datetime_cn(utcnow()))]


def send_export(fmt: str, title: str, columns: Sequence[Column], rows: Iterable[Sequence], *,
                filters: str = "") -> Response:
    """The download response. ``rows`` is consumed lazily (CSV) or once into a file (xlsx).
    In the job worker, the file is written for the job instead (``exports.JobTarget``)."""
    if fmt not in MIME:
        abort(404)
    target = g.get("export_job_target")
    if target is not None:
        return target.write(fmt, title, columns, rows, filters)
    filename = export_filename(title, fmt)
    if fmt == "csv":
        response = Response(streamed(csv_chunks(columns, rows)), content_type=MIME[fmt])
    else:
        out = TempExport()
        try:
            write_xlsx(out.path, columns, rows, title=title, about=about_lines(filters))
        except BaseException:
            out.remove()
            raise
        response = Response(out.stream(), content_type=MIME[fmt], direct_passthrough=True)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def count_rows(stmt: Select) -> int:
    """The rows ``stmt`` selects. In an ``@export_job`` view this is also the size check:
    above the job limit it raises ``LargeExport`` (see ``export_size``)."""
    return export_size(db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0)


PURPOSE_ARG = "purpose"
PURPOSE_LENGTH = (2, 100)


def export_purpose(full_rows) -> tuple[int, str]:
    """Before an export that may carry full ID numbers or phones: ``(rows with full numbers,
    purpose)``. ``full_rows()`` counts the rows the privacy rule shows in full.

    ``?masked=1`` masks every number (no purpose needed). Otherwise, when some row would
    carry full numbers, the request must say what the export is for (``?purpose=``): without
    one the answer is the form asking for it (the filters kept), a blank or overlong one is
    refused (422) naming the field. A job replays its request, purpose included."""
    if (request.view_args or {}).get("fmt", "csv") not in MIME:
        abort(404)  # no form for a file that would not be sent
    if masked_requested():
        mask_everything()
        return 0, ""
    full = full_rows()
    if not full:
        return 0, ""
    raw = request.args.get(PURPOSE_ARG)
    purpose = " ".join((raw or "").split())
    low, high = PURPOSE_LENGTH
    if low <= len(purpose) <= high:
        return full, purpose
    if g.get("export_job_target") is not None:
        raise PermissionError("导出含完整身份证号或电话，须填写导出用途，导出未进行")
    error = None if raw is None else f"请填写导出用途（{low}至{high}字）"
    kept = [(k, v) for k, v in request.args.items(multi=True) if k not in (PURPOSE_ARG, "masked")]
    page = render_template("transfer/export_purpose.html", full=full, error=error, kept=kept, purpose=purpose,
                           rule=rule_text(), limits=PURPOSE_LENGTH,
                           masked_url=request.path + "?" + urlencode([*kept, ("masked", "1")]))
    abort(make_response(page, 200 if error is None else 422))


def audit_export(entity_type: str, title: str, count: int, fmt: str, filters: str, extra: str = "", *,
                 full: int | None = None, purpose: str = "") -> None:
    """Put an export of personal data on the record: who, what, which filters, how many rows;
    for numbers, how many rows carried them in full and the purpose given."""
    after = {"rows": count, "format": fmt, "filters": request.args.to_dict(), "filters_shown": filters}
    if full is not None:
        after |= {"full_identity_rows": full, "purpose": purpose}
        extra += f"，含完整号码 {full} 条，用途：{purpose}" if full else "，号码已遮蔽"
    with writing():
        record("export", entity_type, actor=current_user, after=after,
               summary=f"导出{title} {count} 条{extra}（筛选：{filters}）",
               region_code=current_user.region_code or current_user.village_code,
               organization_id=current_user.organization_id)
        db.session.commit()


def send_person_export(person, fmt: str, entity_type: str, title: str, columns: Sequence[Column],
                       rows: list) -> Response:
    """One person's own list as a sheet (their training, grades, care: what their page
    lists, for staff who see them and for the cadre, their own): the person written as
    the filter, and audited, as every export of personal data is."""
    if fmt not in MIME:
        abort(404)
    shown = describe_filters([("干部", person.name)])
    audit_export(entity_type, f"个人{title}", len(rows), fmt, shown)
    return send_export(fmt, f"{person.name}{title}", columns, rows, filters=shown)
