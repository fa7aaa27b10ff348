"""The rules of support records, in one place: what a record may hold, who may do what
to it and when, and the queries the pages and home panels read.

Life of a record (``TRANSITIONS``)::

    draft      -> submitted (the filer submits)  | withdrawn
    submitted  -> confirmed (the village agrees) | disputed (the village disagrees, with a reason) | withdrawn
    disputed   -> submitted (the filer corrects and resubmits) | withdrawn
    confirmed  -> superseded (when a correction of it is confirmed); a confirmed record never changes
    withdrawn, superseded: final

Every change of status goes through ``_transition``: it checks the state machine, stamps
the times, writes the audit event, and is the one place a summary of records would be kept
current. Services validate everything before they touch the session and own the commit;
on a broken rule they raise ``RuleViolation`` with Chinese messages keyed by form field.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from flask import current_app
from sqlalchemy import Select, and_, func, literal_column, or_, select
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..audit.models import AuditEvent
from ..audit.services import record as audit, snapshot
from ..core.enums import RECORD_CATEGORIES, RECORD_STATUSES
from ..core.paging import Key, order_by
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import local_today, utcnow
from ..extensions import db
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region
from . import evidence as files
from .models import Evidence, SupportRecord

# -- the state machine ---------------------------------------------------------------------

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"confirmed", "disputed", "withdrawn"}),
    "disputed": frozenset({"submitted", "withdrawn"}),
    "confirmed": frozenset({"superseded"}),
    "withdrawn": frozenset(),
    "superseded": frozenset(),
}
EDITABLE = frozenset({"draft", "disputed"})
PENDING_CORRECTION = ("draft", "submitted", "disputed")

ACTION_LABELS = {
    "create": "创建草稿",
    "correct": "创建更正记录",
    "update": "修改",
    "submit": "提交村确认",
    "resubmit": "修改后重新提交",
    "confirm": "村确认",
    "dispute": "村提出异议",
    "withdraw": "撤回",
    "supersede": "被更正记录取代",
    "evidence_add": "上传佐证材料",
    "evidence_delete": "删除佐证材料",
}

STALE = "该记录已被他人修改，您的操作未保存。请刷新页面查看最新内容后重试。"
MAX_EVIDENCE_PER_RECORD = 20
_MAX_AMOUNT = Decimal("999999999999.99")
_MAX_COUNT = 10_000_000
_CENT = Decimal("0.01")


def _status_label(status: str) -> str:
    return RECORD_STATUSES.get(status, status)


def refusal(record: SupportRecord, user, action: str) -> str | None:
    """Why ``user`` may not do ``action`` to ``record`` now (None: they may).

    The pages use it to decide which buttons to show; the services use it to refuse.
    """
    status = record.status
    if action in ("edit", "submit", "withdraw", "correct", "evidence"):
        if getattr(user, "role", None) != "unit" or user.organization_id != record.organization_id:
            return "只有填报该记录的单位可以修改、提交、撤回或更正该记录"
    if action in ("confirm", "dispute"):
        if getattr(user, "role", None) != "village" or user.village_code != record.village_code:
            return "只有该村的账号可以确认该记录或提出异议"
    if action in ("edit", "evidence"):
        if status == "confirmed":
            return "已确认的记录不能修改；如需更正，请提交更正记录"
        if status not in EDITABLE:
            return f"{_status_label(status)}的记录不能修改"
    elif action == "submit":
        if status not in ("draft", "disputed"):
            return f"{_status_label(status)}的记录不能提交"
    elif action == "withdraw":
        if status == "confirmed":
            return "已确认的记录不能撤回；如需更正，请提交更正记录"
        if "withdrawn" not in TRANSITIONS[status]:
            return f"{_status_label(status)}的记录不能撤回"
    elif action in ("confirm", "dispute"):
        if status != "submitted":
            verb = "确认" if action == "confirm" else "提出异议"
            return f"只有待确认的记录可以{verb}（当前状态：{_status_label(status)}）"
    elif action == "correct":
        if status != "confirmed":
            return "只有已确认的记录需要以更正记录的方式修改"
        if pending_correction(record) is not None:
            return "该记录已有一条尚未确认的更正记录，请先处理那一条"
    return None


def allowed_actions(record: SupportRecord, user) -> set[str]:
    return {a for a in ("edit", "submit", "withdraw", "correct", "evidence", "confirm", "dispute")
            if refusal(record, user, a) is None}


def _refuse_unless(record: SupportRecord, user, action: str) -> None:
    message = refusal(record, user, action)
    if message:
        raise RuleViolation({"": message})


def _check_version(record: SupportRecord, expected_version) -> None:
    if expected_version in (None, ""):
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise RuleViolation({"": STALE}) from None
    if expected != record.version:
        raise RuleViolation({"": STALE})


def _transition(record: SupportRecord, new_status: str, *, actor, reason: str | None = None,
                summary: str | None = None) -> None:
    """The one way a record's status changes: checks the state machine, stamps times and
    who decided, writes the audit event (same transaction). Callers check who may act."""
    old = record.status
    if new_status not in TRANSITIONS.get(old, frozenset()):
        raise RuleViolation({"": f"{_status_label(old)}的记录不能改为{_status_label(new_status)}"})
    before = snapshot(record)
    now = utcnow()
    record.status = new_status
    if new_status == "submitted":
        record.submitted_at = now
        record.decided_at = None
        record.decided_by_id = None
        record.dispute_reason = None
        action = "resubmit" if old == "disputed" else "submit"
    elif new_status in ("confirmed", "disputed"):
        record.decided_at = now
        record.decided_by_id = getattr(actor, "id", None)
        record.dispute_reason = reason if new_status == "disputed" else None
        action = "confirm" if new_status == "confirmed" else "dispute"
    elif new_status == "withdrawn":
        action = "withdraw"
    else:  # superseded
        action = "supersede"
    default = f"{ACTION_LABELS[action]}：{record.title}"
    if new_status == "disputed":
        default += f"（理由：{reason}）"
    audit(action, record, before=before, summary=summary or default, actor=actor)


def _commit_or_stale() -> None:
    """Commit; a concurrent change found at flush time (version mismatch) is refused."""
    flush_or_refuse(STALE, commit=True)


# -- what a record may hold ------------------------------------------------------------------

FIELD_LABELS = {
    "village_code": "村",
    "pairing_id": "结对关系",
    "category": "帮扶类别",
    "title": "标题",
    "description": "内容说明",
    "amount": "直接投入资金",
    "amount_attracted": "引进资金",
    "amount_in_kind": "实物折价",
    "households": "受益户数",
    "persons": "受益人数",
    "jobs": "带动就业人数",
    "record_date": "帮扶日期",
}
_AMOUNT_FIELDS = ("amount", "amount_attracted", "amount_in_kind")
_COUNT_FIELDS = ("households", "persons", "jobs")


def clean_text(value) -> str:
    """Text as typed, trimmed (Chinese full-width punctuation is kept)."""
    return str(value).strip() if value is not None else ""


def halfwidth(value) -> str:
    """For numbers, dates and codes: full-width digits and signs become ASCII."""
    return unicodedata.normalize("NFKC", clean_text(value))


def parse_amount(value, field: str, errors: Collector, label: str | None = None, *, positive: bool = False) -> Decimal | None:
    """An amount in 元: blank is 0; ≥ 0 (or > 0), at most two decimals."""
    label = label or FIELD_LABELS.get(field, field)
    if isinstance(value, Decimal):
        amount = value
    else:
        raw = halfwidth(value).replace(",", "").replace(" ", "").removesuffix("元")
        if raw == "":
            if positive:
                errors.add(field, f"请填写{label}")
                return None
            return Decimal("0.00")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            errors.add(field, f"{label}应为数字（单位：元），如 12500.50")
            return None
    if not amount.is_finite():
        errors.add(field, f"{label}应为数字（单位：元）")
        return None
    if amount < 0:
        errors.add(field, f"{label}不能为负数")
        return None
    if positive and amount == 0:
        errors.add(field, f"{label}应大于零")
        return None
    if amount != amount.quantize(_CENT):
        errors.add(field, f"{label}最多保留两位小数（精确到分）")
        return None
    if amount > _MAX_AMOUNT:
        errors.add(field, f"{label}超出可登记的范围")
        return None
    return amount.quantize(_CENT)


def _parse_count(value, field: str, errors: Collector) -> int | None:
    label = FIELD_LABELS[field]
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raw = halfwidth(value).replace(",", "")
        if raw == "":
            return 0
        if not raw.lstrip("-").isdigit():
            errors.add(field, f"{label}应为整数")
            return None
        number = int(raw)
    if number < 0:
        errors.add(field, f"{label}不能为负数")
        return None
    if number > _MAX_COUNT:
        errors.add(field, f"{label}超出可登记的范围")
        return None
    return number


def parse_date(value, field: str, errors: Collector, label: str | None = None) -> date | None:
    """A date not in the future (Hunan's today) and not before the registry's first date."""
    label = label or FIELD_LABELS.get(field, field)
    if isinstance(value, date):
        day = value
    else:
        raw = halfwidth(value).replace("/", "-").replace(".", "-")
        if raw == "":
            errors.add(field, f"请填写{label}")
            return None
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            errors.add(field, f"{label}格式应为 年-月-日，如 2025-06-18")
            return None
    earliest = current_app.config["REGISTRY_RECORD_EARLIEST_DATE"]
    if day > local_today():
        errors.add(field, f"{label}不能晚于今天")
        return None
    if day < earliest:
        errors.add(field, f"{label}不能早于{earliest.year}年{earliest.month}月{earliest.day}日")
        return None
    return day


# -- where a unit may file -------------------------------------------------------------------

def _bound_regions(organization_id: int) -> list[tuple[str, str, str]]:
    """(code, level, source) of the regions the organization has a pairing with or a posting
    to that has started (active or past)."""
    today = local_today()
    pairings = select(Pairing.region_code).where(Pairing.organization_id == organization_id, Pairing.start_date <= today)
    postings = select(Posting.region_code).where(Posting.organization_id == organization_id, Posting.start_date <= today)
    rows = db.session.execute(
        select(Region.code, Region.level, Region.code.in_(pairings)).where(or_(Region.code.in_(pairings), Region.code.in_(postings)))
    ).all()
    return [(code, level, "pairing" if from_pairing else "posting") for code, level, from_pairing in rows]


def _village_condition(organization_id: int):
    """SQL condition on ``Region``: the villages the organization may file records for —
    villages it is paired with or posts people to, and the villages inside a county or
    township it is paired with (对口帮扶 of a county)."""
    bound = _bound_regions(organization_id)
    direct = [code for code, level, _ in bound if level == "village"]
    areas = [Region(code=code, level=level).range() for code, level, source in bound
             if level in ("county", "township") and source == "pairing"]
    conditions = [Region.code.in_(direct)] if direct else []
    conditions += [Region.code.between(lo, hi) for lo, hi in areas]
    if not conditions:
        return None
    return and_(Region.level == "village", or_(*conditions))


def filer_villages(organization_id: int) -> list[Region]:
    condition = _village_condition(organization_id)
    if condition is None:
        return []
    return list(db.session.scalars(select(Region).where(condition).order_by(Region.code)))


def village_allowed(organization_id: int, village_code: str) -> bool:
    condition = _village_condition(organization_id)
    if condition is None:
        return False
    return db.session.scalar(select(func.count()).select_from(Region).where(condition, Region.code == village_code)) > 0


def filer_pairings(organization_id: int) -> list[Pairing]:
    return list(db.session.scalars(
        select(Pairing).where(Pairing.organization_id == organization_id).order_by(Pairing.start_date.desc(), Pairing.id)
    ))


def _pairing_covers(pairing: Pairing, village_code: str) -> bool:
    region = pairing.region
    return region is not None and region.contains(village_code)


@dataclass
class RecordData:
    village_code: str
    pairing_id: int | None
    category: str
    title: str
    description: str
    amount: Decimal
    amount_attracted: Decimal
    amount_in_kind: Decimal
    households: int
    persons: int
    jobs: int
    record_date: date


def validate_record_data(organization_id: int, data: dict, *, village_code: str | None = None) -> RecordData:
    """Check a record's fields; ``village_code`` fixes the village (a correction keeps the
    corrected record's village). Returns the cleaned values or raises ``RuleViolation``."""
    errors = Collector()
    village = halfwidth(data.get("village_code"))
    if village_code is not None and village and village != village_code:
        errors.add("village_code", "更正记录的村须与被更正的记录一致")
    village = village_code or village
    if not village:
        errors.add("village_code", "请选择村")
    elif not village_allowed(organization_id, village):
        errors.add("village_code", "该村不在本单位的结对或选派范围内")

    pairing_id = None
    raw_pairing = halfwidth(data.get("pairing_id"))
    if raw_pairing:
        pairing = db.session.get(Pairing, int(raw_pairing)) if raw_pairing.isdigit() and len(raw_pairing) < 10 else None
        if pairing is None or pairing.organization_id != organization_id:
            errors.add("pairing_id", "所选结对关系不属于本单位")
        elif village and not _pairing_covers(pairing, village):
            errors.add("pairing_id", "所选结对关系不包含该村")
        else:
            pairing_id = pairing.id

    category = clean_text(data.get("category"))
    errors.check(category in RECORD_CATEGORIES, "category", "请选择有效的帮扶类别")
    title = clean_text(data.get("title"))
    if not title:
        errors.add("title", "请填写标题")
    elif len(title) > 200:
        errors.add("title", "标题不能超过200个字")
    description = str(data.get("description") or "").strip()
    errors.check(len(description) <= 5000, "description", "内容说明不能超过5000个字")

    amounts = {name: parse_amount(data.get(name), name, errors) for name in _AMOUNT_FIELDS}
    counts = {name: _parse_count(data.get(name), name, errors) for name in _COUNT_FIELDS}
    record_date = parse_date(data.get("record_date"), "record_date", errors)
    errors.raise_if_any()
    return RecordData(
        village_code=village, pairing_id=pairing_id, category=category, title=title, description=description,
        record_date=record_date, **amounts, **counts,
    )


def _apply(record: SupportRecord, values: RecordData) -> None:
    for name, value in vars(values).items():
        setattr(record, name, value)


def _organization_id(user) -> int:
    if getattr(user, "role", None) != "unit" or not user.organization_id:
        raise RuleViolation({"": "只有帮扶单位的账号可以填报帮扶记录"})
    return user.organization_id


# -- filing and editing ----------------------------------------------------------------------

def create_record(user, data: dict, uploads=(), *, submit: bool = False, supersedes: SupportRecord | None = None) -> SupportRecord:
    """A new record of the user's organization (a draft, or submitted at once). With
    ``supersedes``, a correction of that confirmed record (same village)."""
    organization_id = _organization_id(user)
    if supersedes is not None:
        _refuse_unless(supersedes, user, "correct")
    values = validate_record_data(
        organization_id, data, village_code=supersedes.village_code if supersedes is not None else None
    )
    checked = files.check_uploads(uploads)
    _check_evidence_count(0, len(checked))

    record = SupportRecord(
        organization_id=organization_id, status="draft", created_by_id=user.id,
        supersedes_id=supersedes.id if supersedes is not None else None,
    )
    _apply(record, values)
    stored: list[str] = []
    try:
        db.session.add(record)
        db.session.flush()
        if supersedes is not None:
            audit("correct", record, summary=f"更正记录 #{supersedes.id}：{record.title}", actor=user)
        else:
            audit("create", record, summary=f"创建草稿：{record.title}", actor=user)
        stored = _attach(record, checked, user)
        if submit:
            _transition(record, "submitted", actor=user)
        _commit_or_stale()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return record


def start_correction(original: SupportRecord, user, data: dict, uploads=(), *, submit: bool = False) -> SupportRecord:
    return create_record(user, data, uploads, submit=submit, supersedes=original)


def pending_correction(record: SupportRecord) -> SupportRecord | None:
    """The correction of ``record`` still on its way (draft, submitted or disputed)."""
    return db.session.scalar(
        select(SupportRecord).where(SupportRecord.supersedes_id == record.id, SupportRecord.status.in_(PENDING_CORRECTION))
    )


def superseded_by(record: SupportRecord) -> SupportRecord | None:
    """The confirmed correction that replaced ``record`` (if it is superseded)."""
    return db.session.scalar(
        select(SupportRecord).where(SupportRecord.supersedes_id == record.id, SupportRecord.status == "confirmed")
    )


def update_record(record: SupportRecord, user, data: dict, expected_version, uploads=(), *, submit: bool = False) -> SupportRecord:
    """Save the filer's changes to a draft or disputed record (and submit it if asked).
    A save from an older version than the stored one is refused (optimistic lock)."""
    _refuse_unless(record, user, "edit")
    _check_version(record, expected_version)
    values = validate_record_data(
        record.organization_id, data,
        village_code=record.supersedes.village_code if record.supersedes_id else None,
    )
    checked = files.check_uploads(uploads)
    _check_evidence_count(len(record.evidence), len(checked))
    before = snapshot(record)
    _apply(record, values)
    stored: list[str] = []
    try:
        if db.session.is_modified(record):
            audit("update", record, before=before, summary=f"修改：{record.title}", actor=user)
        stored = _attach(record, checked, user)
        if submit:
            _transition(record, "submitted", actor=user)
        _commit_or_stale()
    except StaleDataError:
        db.session.rollback()
        files.discard(stored)
        raise RuleViolation({"": STALE}) from None
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return record


# -- the transitions -------------------------------------------------------------------------

def _act(record: SupportRecord, user, action: str, new_status: str, expected_version, **kw) -> SupportRecord:
    _refuse_unless(record, user, action)
    _check_version(record, expected_version)
    try:
        _transition(record, new_status, actor=user, **kw)
        if new_status == "confirmed" and record.supersedes_id:
            old = record.supersedes
            if old is not None and old.status == "confirmed":
                _transition(old, "superseded", actor=user,
                            summary=f"被更正记录 #{record.id} 取代（村已确认更正）：{old.title}")
        _commit_or_stale()
    except StaleDataError:
        db.session.rollback()
        raise RuleViolation({"": STALE}) from None
    return record


def submit_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """Send a draft (or a corrected disputed record) to the village for confirmation."""
    return _act(record, user, "submit", "submitted", expected_version)


def withdraw_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """The filer takes back a record before the village confirmed it."""
    return _act(record, user, "withdraw", "withdrawn", expected_version)


def confirm_record(record: SupportRecord, user, expected_version=None) -> SupportRecord:
    """The village confirms what the helper says it gave; a confirmed correction replaces
    the record it corrects, which becomes superseded (both are kept)."""
    return _act(record, user, "confirm", "confirmed", expected_version)


def dispute_record(record: SupportRecord, user, reason, expected_version=None) -> SupportRecord:
    """The village disagrees, and says why; the record goes back to the filer."""
    _refuse_unless(record, user, "dispute")
    reason = str(reason or "").strip()
    if not reason:
        raise RuleViolation({"reason": "请填写异议理由"})
    if len(reason) > 1000:
        raise RuleViolation({"reason": "异议理由不能超过1000个字"})
    return _act(record, user, "dispute", "disputed", expected_version, reason=reason)


# -- evidence --------------------------------------------------------------------------------

def _check_evidence_count(existing: int, adding: int) -> None:
    if existing + adding > MAX_EVIDENCE_PER_RECORD:
        raise RuleViolation({"files": f"每条记录最多上传 {MAX_EVIDENCE_PER_RECORD} 个佐证文件"})


def _attach(record: SupportRecord, uploads: list[files.Upload], user) -> list[str]:
    """Store checked files and add their rows and audit events; returns the stored names
    (for clean-up if the transaction fails)."""
    stored: list[str] = []
    known = {e.sha256 for e in record.evidence} if record.id else set()
    try:
        for upload in uploads:
            if upload.sha256 in known:
                continue  # the same file twice adds nothing
            known.add(upload.sha256)
            name = files.store(upload)
            stored.append(name)
            item = Evidence(
                record_id=record.id, original_name=upload.original_name, stored_name=name,
                content_type=upload.content_type, size=upload.size, sha256=upload.sha256,
                uploaded_by_id=getattr(user, "id", None), uploaded_at=utcnow(),
            )
            db.session.add(item)
            db.session.flush()
            audit("evidence_add", record, after=_evidence_view(item),
                  summary=f"上传佐证材料：{upload.original_name}", actor=user)
    except Exception:
        files.discard(stored)
        raise
    return stored


def _evidence_view(item: Evidence) -> dict:
    return {"evidence_id": item.id, "original_name": item.original_name, "content_type": item.content_type,
            "size": item.size, "sha256": item.sha256}


def add_evidence(record: SupportRecord, user, uploads) -> int:
    """Attach photos or PDFs to a record the filer may still edit; returns how many."""
    _refuse_unless(record, user, "evidence")
    checked = files.check_uploads(uploads)
    if not checked:
        raise RuleViolation({"files": "请选择要上传的文件"})
    _check_evidence_count(len(record.evidence), len(checked))
    stored = _attach(record, checked, user)
    try:
        _commit_or_stale()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return len(stored)


def delete_evidence(record: SupportRecord, item: Evidence, user) -> None:
    _refuse_unless(record, user, "evidence")
    if item.record_id != record.id:
        raise RuleViolation({"": "该文件不属于这条记录"})
    name, view = item.stored_name, _evidence_view(item)
    audit("evidence_delete", record, before=view, after=False,
          summary=f"删除佐证材料：{item.original_name}", actor=user)
    db.session.delete(item)
    _commit_or_stale()
    files.discard([name])


# -- what the pages read ---------------------------------------------------------------------

# The lists' sort orders, each ending in the id so that a page can continue after a row
# (core.paging); the pages page with the same keys the queries sort by.
RECORD_ORDER = (Key(SupportRecord.record_date, descending=True), Key(SupportRecord.id, descending=True))
PENDING_ORDER = (Key(SupportRecord.submitted_at), Key(SupportRecord.id))


@dataclass
class RecordFilters:
    status: str = ""
    category: str = ""
    village_code: str = ""
    organization_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""

    @classmethod
    def from_args(cls, args) -> RecordFilters:
        def _day(name):
            try:
                return date.fromisoformat(args.get(name, "").strip())
            except ValueError:
                return None

        org = args.get("organization_id", "").strip()
        return cls(
            status=args.get("status", "").strip() if args.get("status", "").strip() in RECORD_STATUSES else "",
            category=args.get("category", "").strip() if args.get("category", "").strip() in RECORD_CATEGORIES else "",
            village_code=args.get("village_code", "").strip()[:12],
            organization_id=int(org) if org.isdigit() and len(org) < 10 else None,
            date_from=_day("date_from"),
            date_to=_day("date_to"),
            q=args.get("q", "").strip()[:50],
        )


def record_list(user, filters: RecordFilters | None = None) -> Select:
    """The records ``user`` may see, filtered, newest first."""
    f = filters or RecordFilters()
    stmt = scoped(select(SupportRecord), SupportRecord, user)
    if f.status:
        stmt = stmt.where(SupportRecord.status == f.status)
    if f.category:
        stmt = stmt.where(SupportRecord.category == f.category)
    if f.village_code:
        stmt = stmt.where(SupportRecord.village_code == f.village_code)
    if f.organization_id:
        stmt = stmt.where(SupportRecord.organization_id == f.organization_id)
    if f.date_from:
        stmt = stmt.where(SupportRecord.record_date >= f.date_from)
    if f.date_to:
        stmt = stmt.where(SupportRecord.record_date <= f.date_to)
    if f.q:
        stmt = stmt.where(SupportRecord.title.contains(f.q, autoescape=True))
    return stmt.order_by(*order_by(RECORD_ORDER))


def inbox(user) -> Select:
    """A village's records awaiting its confirmation, oldest first."""
    return scoped(
        select(SupportRecord).where(SupportRecord.status == "submitted", SupportRecord.village_code == user.village_code),
        SupportRecord, user,
    ).order_by(*order_by(PENDING_ORDER))


def inbox_count(user) -> int:
    if getattr(user, "role", None) != "village" or not user.village_code:
        return 0
    return db.session.scalar(select(func.count()).select_from(inbox(user).order_by(None).subquery())) or 0


def overdue_cutoff():
    return utcnow() - timedelta(days=int(current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]))


def overdue(user, region: Region | None = None) -> Select:
    """Records submitted more than the overdue days ago and neither confirmed nor
    disputed, within the user's jurisdiction (and ``region``), oldest first."""
    # a literal status, so SQLite counts within the partial index ix_support_record_pending
    stmt = select(SupportRecord).where(SupportRecord.status == literal_column("'submitted'"),
                                       SupportRecord.submitted_at < overdue_cutoff())
    if region is not None:
        stmt = stmt.where(SupportRecord.village_code.between(*region.range()))
    return scoped(stmt, SupportRecord, user).order_by(*order_by(PENDING_ORDER))


def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def days_pending(record: SupportRecord) -> int:
    if record.submitted_at is None:
        return 0
    return (utcnow() - record.submitted_at).days


def own_records(user, status: str) -> Select:
    """A unit's records in one status, most recently changed first."""
    return scoped(select(SupportRecord).where(SupportRecord.status == status), SupportRecord, user).order_by(
        SupportRecord.updated_at.desc(), SupportRecord.id.desc()
    )


@dataclass
class HistoryEntry:
    at: object
    actor: str
    action: str
    summary: str


def history(record: SupportRecord, user) -> list[HistoryEntry]:
    """The record's audit events (who did what, when), oldest first."""
    rows = db.session.execute(
        scoped(
            select(AuditEvent, User.display_name)
            .outerjoin(User, User.id == AuditEvent.actor_id)
            .where(AuditEvent.entity_type == "SupportRecord", AuditEvent.entity_id == str(record.id)),
            AuditEvent, user,
        ).order_by(AuditEvent.id)
    ).all()
    out = []
    for event, display_name in rows:
        who = event.actor if not display_name or display_name == event.actor else f"{display_name}（{event.actor}）"
        out.append(HistoryEntry(event.at, who, ACTION_LABELS.get(event.action, event.action), event.summary))
    return out
