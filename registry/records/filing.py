"""Filing support records: what a record may hold, creating and editing records and their
evidence files (who may file where: ``filers``).

Services validate everything before they touch the session and own the commit; on a
broken rule they raise ``RuleViolation`` with Chinese messages keyed by form field.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from ..audit.services import record as audit, snapshot
from ..core.enums import RECORD_CATEGORIES
from ..core.formatting import date_cn
from ..core.parsing import (
    CONFIRM_FIELD,
    FORM_CONFIRM_HINT,
    AmountLimits,
    DateBounds,
    check_amounts,
    check_text,
    clean_text,
    halfwidth,
    parse_amount,
    parse_count,
    parse_date,
)
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..closing.rules import YearCloses, blocking_close
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..regions.models import Region
from . import evidence as files
from .filers import filer_for, pairing_covers, village_allowed
from .models import REFERENCE_LENGTH, Evidence, SupportRecord, office_name
from .rules import STALE, check_version, commit_or_stale, refuse_unless, submit_on_creation, transition

MAX_EVIDENCE_PER_RECORD = 20

# -- what a record may hold ------------------------------------------------------------------

FIELD_LABELS = {
    "reference": "编号",
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


def clean_reference(value, errors: Collector) -> str | None:
    """A 编号 as typed (full-width characters made ASCII, spaces trimmed); None when blank
    (the registry then assigns one)."""
    reference = halfwidth(value)
    if not reference:
        return None
    if len(reference) > REFERENCE_LENGTH:
        errors.add("reference", f"编号不能超过{REFERENCE_LENGTH}个字符")
    elif not reference.isprintable():  # every character printable (one call, not one per character)
        errors.add("reference", "编号不能含有换行、制表符等控制字符")
    return reference


REFERENCE_TAKEN = "编号“{reference}”已被本单位的另一条记录使用，请换一个编号，或留空由系统自动编号"


def _check_reference_free(organization_id: int, reference: str | None, record_id: int | None = None) -> None:
    if reference is None:
        return
    stmt = select(SupportRecord.id).where(SupportRecord.organization_id == organization_id,
                                          SupportRecord.reference == reference)
    if record_id is not None:
        stmt = stmt.where(SupportRecord.id != record_id)
    if db.session.scalar(stmt.limit(1)) is not None:
        raise RuleViolation(REFERENCE_TAKEN.format(reference=reference), "reference")


@dataclass
class RecordData:
    reference: str | None
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


OUTSIDE_UNIT = "该村不在本单位的结对或选派范围内"
OUTSIDE_ACTING = "该村不在该单位的结对或选派范围内，或不在您的管辖范围内"
AMOUNTS = ("amount", "amount_attracted", "amount_in_kind")


def stored_amounts(record: SupportRecord | None) -> dict[str, Decimal] | None:
    """A stored record's amounts: an edit that keeps them needs no new confirmation."""
    return None if record is None else {name: getattr(record, name) for name in AMOUNTS}


def pairing_period_refusal(pairing: Pairing, day: date) -> str:
    """Why a record of ``day`` may not be linked to ``pairing``: the help it records was
    given before the pairing began or after it ended."""
    said = (f"所选结对关系自{date_cn(pairing.start_date)}起，帮扶日期{date_cn(day)}在此之前" if day < pairing.start_date
            else f"所选结对关系已于{date_cn(pairing.end_date)}结束，帮扶日期{date_cn(day)}在此之后")
    return f"{said}：请改选当时有效的结对关系，或选“不关联”"


def validate_record_data(organization_id: int, data: dict, *, village_code: str | None = None,
                         allowed_villages: set[str] | None = None, dates: DateBounds | None = None,
                         within: Region | None = None, stored: dict[str, Decimal] | None = None,
                         confirm_hint: str = FORM_CONFIRM_HINT, limits: AmountLimits | None = None,
                         closes: YearCloses | None = None) -> RecordData:
    """Check a record's fields; ``village_code`` fixes the village (a correction keeps the
    corrected record's village). ``allowed_villages`` is ``filer_village_codes``, ``dates``
    is ``parsing.date_bounds()`` and ``limits`` ``parsing.amount_limits()``, each fetched
    once by a caller checking many records, and ``closes`` a ``closing.rules.YearCloses``
    it keeps. ``within``: the region of staff filing on the
    unit's behalf (``Filer.within``; the village must lie inside it too). A large amount
    needs ``data["amount_confirmed"]`` (True) unless it is the ``stored`` one
    (``stored_amounts`` of the record edited or corrected). Returns the cleaned values or
    raises ``RuleViolation``."""
    errors = Collector()
    get = data.get
    reference = clean_reference(get("reference"), errors)
    village = get("village_code")
    village = village if village.__class__ is str and village.isascii() and village.isalnum() else halfwidth(village)
    if village_code is not None and village and village != village_code:
        errors.add("village_code", "更正记录的村须与被更正的记录一致")
    village = village_code or village
    if not village:
        errors.add("village_code", "请选择村")
    elif not (village in allowed_villages if allowed_villages is not None
              else village_allowed(organization_id, village, within)):
        errors.add("village_code", OUTSIDE_UNIT if within is None else OUTSIDE_ACTING)

    pairing = pairing_id = None
    raw_pairing = get("pairing_id")
    raw_pairing = halfwidth(raw_pairing) if raw_pairing is not None else ""
    if raw_pairing:
        pairing = db.session.get(Pairing, int(raw_pairing)) if raw_pairing.isdigit() and len(raw_pairing) < 10 else None
        if pairing is None or pairing.organization_id != organization_id:
            errors.add("pairing_id", "所选结对关系不属于本单位" if within is None else "所选结对关系不属于该单位")
        elif village and not pairing_covers(pairing, village):
            errors.add("pairing_id", "所选结对关系不包含该村")
        else:
            pairing_id = pairing.id

    category = clean_text(get("category"))
    if category not in RECORD_CATEGORIES:
        errors.add("category", "请选择有效的帮扶类别")
    title = clean_text(get("title"))
    if not title:
        errors.add("title", "请填写标题")
    elif len(title) > 200:
        errors.add("title", "标题不能超过200个字")
    else:
        check_text(title, "title", "标题", errors)
    description = str(get("description") or "").strip()
    if len(description) > 5000:
        errors.add("description", "内容说明不能超过5000个字")
    else:
        check_text(description, "description", "内容说明", errors, multiline=True)

    labels = FIELD_LABELS
    amount = parse_amount(get("amount"), "amount", labels["amount"], errors)
    amount_attracted = parse_amount(get("amount_attracted"), "amount_attracted", labels["amount_attracted"], errors)
    amount_in_kind = parse_amount(get("amount_in_kind"), "amount_in_kind", labels["amount_in_kind"], errors)
    households = parse_count(get("households"), "households", labels["households"], errors)
    persons = parse_count(get("persons"), "persons", labels["persons"], errors)
    jobs = parse_count(get("jobs"), "jobs", labels["jobs"], errors)
    check_amounts({"amount": (labels["amount"], amount), "amount_attracted": (labels["amount_attracted"], amount_attracted),
                   "amount_in_kind": (labels["amount_in_kind"], amount_in_kind)},
                  errors, confirmed=get(CONFIRM_FIELD) is True, stored=stored, hint=confirm_hint, limits=limits)
    record_date = parse_date(get("record_date"), "record_date", labels["record_date"], errors, bounds=dates)
    if record_date is not None and village:
        if pairing_id is not None and not pairing.active_on(record_date):
            errors.add("pairing_id", pairing_period_refusal(pairing, record_date))
        # with the other messages, so that one save shows every reason (a year closed where
        # the village lies is no field's mistake the user can fix here)
        closed = blocking_close(record_date.year, village, "records", closes=closes)
        if closed is not None:
            errors.add("record_date", closed.message("records"))
    errors.raise_if_any()
    # positional, in the fields' order (a class called with keywords costs four times as
    # much: an import builds one per row)
    return RecordData(reference, village, pairing_id, category, title, description, amount, amount_attracted,
                      amount_in_kind, households, persons, jobs, record_date)


def _apply(record: SupportRecord, values: RecordData) -> None:
    for name, value in vars(values).items():
        if name == "reference" and value is None:
            continue  # blank: a new record is numbered by the registry, a stored one keeps its 编号
        setattr(record, name, value)


# -- filing and editing ----------------------------------------------------------------------

def create_record(user, data: dict, uploads=(), *, submit: bool = False, supersedes: SupportRecord | None = None,
                  organization_id=None) -> SupportRecord:
    """A new record of the user's organization (a draft, or submitted at once). With
    ``supersedes``, a correction of that confirmed record (same village).

    Region staff file on behalf of a unit (``organization_id``, see ``filer_for``): the
    record is the unit's, remembers the staff member's region (代为填报), and goes to the
    village at once (a draft would be nobody's to finish: region staff see submitted
    records only, and the unit did not write it)."""
    filer = filer_for(user, organization_id)
    organization_id = filer.organization_id
    if supersedes is not None:
        refuse_unless(supersedes, user, "correct")
    values = validate_record_data(
        organization_id, data, village_code=supersedes.village_code if supersedes is not None else None,
        within=filer.within, stored=stored_amounts(supersedes),
    )
    _check_reference_free(organization_id, values.reference)
    checked = files.check_uploads(uploads)
    carried = list(supersedes.evidence) if supersedes is not None else []
    _check_evidence_count(len(carried), len(checked))

    record = SupportRecord(
        organization_id=organization_id, status="draft", created_by_id=user.id,
        supersedes_id=supersedes.id if supersedes is not None else None,
        on_behalf_region_code=filer.within.code if filer.on_behalf else None,
    )
    _apply(record, values)
    submit = submit or filer.on_behalf

    def insert() -> None:
        db.session.add(record)
        # a 编号 taken meanwhile by a concurrent save of the unit is refused, not a crash
        taken = (REFERENCE_TAKEN.format(reference=values.reference) if values.reference
                 else "另一条记录同时保存，占用了自动分配的编号；请重新保存")
        flush_or_refuse(STALE, duplicate=("reference", taken))

    def created(after=True) -> None:
        if supersedes is not None:
            audit("correct", record, after=after, summary=f"更正记录 #{supersedes.id}：{record.title}", actor=user)
        elif filer.on_behalf:
            audit("create", record, after=after,
                  summary=on_behalf_summary(filer.within, record.organization_id, record.title), actor=user)
        else:
            audit("create", record, after=after, summary=f"创建草稿：{record.title}", actor=user)

    if submit and not carried and not checked:
        # filed and submitted in one save, with no files: written once, as submitted (the
        # files' events would come between the creation's and the submission's)
        return _save(record, lambda: submit_on_creation(record, actor=user, insert=insert, created=created),
                     checked, user, submit=False)

    def write_event() -> None:
        insert()
        created()

    carry = (lambda: _carry_over(record, supersedes, carried, user)) if carried else None
    return _save(record, write_event, checked, user, submit=submit, carry=carry)


def on_behalf_summary(region: Region, organization_id: int, title: str, how: str = "填报") -> str:
    """The audit summary of a record filed on a unit's behalf: who filed it for whom."""
    org = db.session.get(Organization, organization_id)
    return f"{office_name(region)}代{org.name if org else organization_id}{how}：{title}"


def start_correction(original: SupportRecord, user, data: dict, uploads=(), *, submit: bool = False) -> SupportRecord:
    return create_record(user, data, uploads, submit=submit, supersedes=original)


def update_record(record: SupportRecord, user, data: dict, expected_version, uploads=(), *, submit: bool = False,
                  commit: bool = True, allowed_villages: set[str] | None = None) -> SupportRecord:
    """Save the filer's changes to a draft or disputed record (and submit it if asked).
    A save from an older version than the stored one is refused (optimistic lock).
    ``commit=False`` leaves the commit to the caller (an import that saves many)."""
    refuse_unless(record, user, "edit")
    check_version(record, expected_version)
    values = validate_record_data(
        record.organization_id, data,
        village_code=record.supersedes.village_code if record.supersedes_id else None,
        allowed_villages=allowed_villages, stored=stored_amounts(record),
    )
    _check_reference_free(record.organization_id, values.reference, record.id)
    checked = files.check_uploads(uploads)
    _check_evidence_count(len(record.evidence), len(checked))
    before = snapshot(record)
    _apply(record, values)

    def write_event() -> None:
        if db.session.is_modified(record):
            audit("update", record, before=before, summary=f"修改：{record.title}", actor=user)

    return _save(record, write_event, checked, user, submit=submit, commit=commit)


def _save(record: SupportRecord, write_event, uploads: list[files.Upload], user, *, submit: bool,
          commit: bool = True, carry=None) -> SupportRecord:
    """Write the record's audit event, carry over a corrected record's evidence (``carry``),
    store its new files, submit it if asked and commit (or only flush, when the caller
    commits), all in one transaction; on any failure roll back and remove the stored files."""
    stored: list[str] = []
    try:
        write_event()
        if carry is not None:
            stored = carry()
        stored += _attach(record, uploads, user)
        if submit:
            transition(record, "submitted", actor=user)
        if commit:
            commit_or_stale()
        else:
            db.session.flush()
    except StaleDataError:
        db.session.rollback()
        files.discard(stored)
        raise RuleViolation({"": STALE}) from None
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return record


# -- evidence --------------------------------------------------------------------------------

def _check_evidence_count(existing: int, adding: int) -> None:
    if existing + adding > MAX_EVIDENCE_PER_RECORD:
        raise RuleViolation({"files": f"每条记录最多上传 {MAX_EVIDENCE_PER_RECORD} 个佐证文件"})


def _attach(record: SupportRecord, uploads: list[files.Upload], user) -> list[str]:
    """Store checked files and add their rows and audit events; returns the stored names
    (for clean-up if the transaction fails)."""
    stored: list[str] = []
    known = {e.sha256 for e in record.evidence} if record.id and uploads else set()  # no files: nothing to load
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


def _carry_over(record: SupportRecord, original: SupportRecord, items: list[Evidence], user) -> list[str]:
    """A correction starts with the evidence of the record it corrects: each file copied
    under a new name, as the correction's own row (same name, type, checksum, uploader and
    upload time), each copy an audit event naming the original (a row whose file is missing
    is not carried over; the pages list it as 未沿用). The unit then removes what
    no longer applies, as any evidence (``delete_evidence``, audited). Returns the stored
    names (for clean-up if the transaction fails)."""
    stored: list[str] = []
    try:
        for source in items:
            try:
                name = files.copy(source.stored_name)
            except (FileNotFoundError, ValueError):
                continue  # its file is gone: not carried over, and the village is shown so
            stored.append(name)
            item = Evidence(
                record=record, original_name=source.original_name, stored_name=name,
                content_type=source.content_type, size=source.size, sha256=source.sha256,
                uploaded_by_id=source.uploaded_by_id, uploaded_at=source.uploaded_at,
            )
            db.session.add(item)
            db.session.flush()
            audit("evidence_add", record, after={**_evidence_view(item), "carried_from": source.id},
                  summary=f"沿用原记录 {original.reference} 的佐证材料：{source.original_name}", actor=user)
    except Exception:
        files.discard(stored)
        raise
    return stored


def _evidence_view(item: Evidence) -> dict:
    return {"evidence_id": item.id, "original_name": item.original_name, "content_type": item.content_type,
            "size": item.size, "sha256": item.sha256}


def add_evidence(record: SupportRecord, user, uploads) -> int:
    """Attach photos or PDFs to a record the filer may still edit; returns how many."""
    refuse_unless(record, user, "evidence")
    checked = files.check_uploads(uploads)
    if not checked:
        raise RuleViolation({"files": "请选择要上传的文件"})
    _check_evidence_count(len(record.evidence), len(checked))
    stored = _attach(record, checked, user)
    try:
        commit_or_stale()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return len(stored)


def delete_evidence(record: SupportRecord, item: Evidence, user) -> None:
    refuse_unless(record, user, "evidence")
    if item.record_id != record.id:
        raise RuleViolation({"": "该文件不属于这条记录"})
    name, view = item.stored_name, _evidence_view(item)
    audit("evidence_delete", record, before=view, after=False,
          summary=f"删除佐证材料：{item.original_name}", actor=user)
    db.session.delete(item)
    commit_or_stale()
    files.discard([name])
