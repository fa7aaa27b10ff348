"""The installable offline app (issue 15): what a village's device keeps for use without a
connection, and the answers to what it sends once the connection is back.

The device keeps pages (the inbox, the records in it with their evidence thumbnails, the
days-in-the-village forms) and queues the decisions taken offline. Each queued decision
is sent with the record version it was decided on; here it meets the same rules as the
pages' forms (``records.services``, ``duty.services``): nothing is decided twice, and a
record that changed meanwhile is refused as a conflict (409), never overwritten.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for
from sqlalchemy import select

from ..core.navigation import opens
from ..core.queries import every, first
from ..core.rules import RuleViolation
from ..duty.models import DutyMonth
from ..duty.services import DutyData, active_village_postings, file_month
from ..extensions import db
from ..people.models import Posting
from ..records import queries as record_queries
from ..records import rules as record_rules
from ..records import services as record_services
from ..records.models import SupportRecord

# the inbox's records a device keeps (the inbox page shows the oldest first)
KEPT_RECORDS = 50

ACTIONS = {"confirm": "confirmed", "dispute": "disputed"}
VERSION_MISSING = "缺少记录版本：请刷新页面后重新操作"
ALREADY_FILED = ("{month}的驻村纪实已有人填报（可能是在您离线期间），您离线填写的内容没有保存。"
                 "请联网后打开该月纪实核对，如需更正请在原记录上修改。")


def kept_pages(user) -> dict[str, list[str]]:
    """The pages and thumbnails a device of ``user`` keeps for use offline, all within
    the user's scope: the home page, the inbox and its records with their photos'
    thumbnails, the active village postings and their days-in-the-village forms."""
    pages: list[str] = [url_for("main.home")]
    thumbs: list[str] = []
    if user.can("confirm_records"):
        pages.append(url_for("records.inbox"))
        for record in first(record_queries.inbox(user, with_evidence=True), KEPT_RECORDS):
            pages.append(url_for("records.detail", record_id=record.id))
            thumbs += [url_for("records.evidence_thumb", record_id=record.id, evidence_id=e.id)
                       for e in record.evidence if e.is_image]
    if user.can("file_duty"):
        if opens("duty.postings"):  # not a cadre's: their own postings are listed on their home
            pages.append(url_for("duty.postings"))
        for posting in every(active_village_postings(user)):
            pages += [url_for("duty.posting", posting_id=posting.id), url_for("duty.new", posting_id=posting.id)]
    return {"pages": pages, "thumbs": thumbs}


@dataclass
class Outcome:
    """What the device is told: ``status`` is the HTTP status (200 done or done before,
    409 a conflict, 422 bad input), ``message`` one Chinese sentence."""

    status: int
    message: str
    errors: dict[str, list[str]] = field(default_factory=dict)
    record: dict | None = None

    def body(self) -> dict:
        body = {"ok": self.status == 200, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        if self.record is not None:
            body["record"] = self.record
        return body


def _record_state(record: SupportRecord) -> dict:
    return {"id": record.id, "status": record.status, "status_label": record.status_label, "version": record.version,
            "url": url_for("records.detail", record_id=record.id)}


def _named(record: SupportRecord) -> str:
    village = record.village.name if record.village else record.village_code
    return f"编号 {record.reference}（{village}）{record.title}"


def _done_before(record: SupportRecord, user, action: str, version: int, reason: str) -> bool:
    """The very decision arrived once already (its answer was lost on the way back): the
    record is in the state it asked for, decided by this user, one version later."""
    return (record.status == ACTIONS[action] and record.decided_by_id == user.id and record.version == version + 1
            and (action == "confirm" or (record.dispute_reason or "") == reason.strip()))


def decide_record(record: SupportRecord, user, action: str, version, reason: str = "",
                  attested: bool = False) -> Outcome:
    """A confirmation or dispute sent from a device, on the version it was decided on."""
    if action not in ACTIONS:
        return Outcome(422, "操作应为确认（confirm）或提出异议（dispute）", {"action": ["操作应为 confirm 或 dispute"]})
    try:
        seen = int(str(version).strip())
    except (TypeError, ValueError):
        return Outcome(422, VERSION_MISSING, {"version": [VERSION_MISSING]})
    reason = str(reason or "")
    if _done_before(record, user, action, seen, reason):
        return Outcome(200, "此操作此前已送达，无需重复发送", record=_record_state(record))
    if action == "confirm" and not attested:
        message = record_rules.ATTEST_REQUIRED
        return Outcome(422, message, {"attest": [message]}, record=_record_state(record))
    try:
        if action == "confirm":
            record_services.confirm_record(record, user, expected_version=seen)
            message = f"已确认该帮扶记录：{_named(record)}"
        else:
            record_services.dispute_record(record, user, reason, expected_version=seen)
            message = f"已提出异议，记录已退回填报单位：{_named(record)}"
    except RuleViolation as violation:
        db.session.rollback()
        current = db.session.get(SupportRecord, record.id)
        conflict = violation.message == record_rules.STALE or record_rules.refusal(current, user, action) is not None
        if conflict:
            return Outcome(409, _conflict_message(current, violation.message), violation.errors,
                           record=_record_state(current))
        return Outcome(422, violation.message, violation.errors, record=_record_state(current))
    return Outcome(200, message, record=_record_state(record))


def _conflict_message(record: SupportRecord, why: str) -> str:
    if why == record_rules.STALE:
        return ("该记录在您离线期间已被修改（当前状态：" + record.status_label + "），"
                "您的操作未保存，以免覆盖新的内容。请打开该记录查看最新内容后重新确认或提出异议。")
    return f"{why}。您的操作未保存，请打开该记录查看最新情况。"


def file_duty(posting: Posting, user, data: DutyData) -> Outcome:
    """A month of days in the village filed on a device. A month someone filed meanwhile
    is a conflict (409): the one on the server stays as it is."""
    if data.month is not None:
        existing = db.session.scalar(
            select(DutyMonth).where(DutyMonth.posting_id == posting.id, DutyMonth.month == data.month))
        if existing is not None:
            if existing.filed_by_id == user.id and _same_month(existing, data):
                return Outcome(200, "此纪实此前已送达，无需重复发送")
            return Outcome(409, ALREADY_FILED.format(month=f"{data.month.year}年{data.month.month}月"))
    try:
        duty = file_month(posting, data, user)
    except RuleViolation as violation:
        db.session.rollback()
        return Outcome(422, violation.message, violation.errors)
    return Outcome(200, f"{duty.month.year}年{duty.month.month}月驻村纪实已填报，等待乡镇核实")


def _same_month(existing: DutyMonth, data: DutyData) -> bool:
    def number(value) -> int | None:
        try:
            return int(str(value).strip() or 0)
        except (TypeError, ValueError):
            return None

    return (existing.days_in_village == number(data.days_in_village)
            and existing.leave_days == number(data.leave_days) and existing.absences == number(data.absences)
            and (existing.summary or "") == (data.summary or "").strip())
