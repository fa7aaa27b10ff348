"""帮扶记录 (帮扶台账) from a spreadsheet.

Who imports: whoever may file records, for the unit they may file for
(``filing.filer_organization``: a backing unit's account, its own unit's records). The
填报单位 column (also read as 帮扶主体) may be left out or blank; when it is filled it must
name that unit, so the unit's own ledger export comes back in unchanged. No account may
file on behalf of another unit today, so no import does either.

Every row passes ``filing.validate_record_data``, the rule the form uses (the village must
be one the unit may file for, amounts and dates through ``core.parsing``), with the
unit's villages fetched once for the file. The natural key is the record's 编号 within its
unit, so the 编号 is required here (the form numbers a blank one itself; a file without
编号 could not be imported twice safely).

Imported records start where a filed record starts on its way to the village: submitted,
awaiting the village's confirmation (the village must confirm what it signs, so a ledger of
confirmed records comes back awaiting confirmation). New records are written in one Core
insert, their audit events in one ``record_many`` and the dashboard summaries in one bulk
step (``summary.add_records``), which gives the figures the per-flush listener would.
Records already stored under the same 编号 are refused, or, when the user chose to update,
saved through ``filing.update_record`` (the form's edit: audited, only while the rules let
the filer edit, and sent to the village again).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date

from sqlalchemy import select

from ..audit.services import FlatCanonical, record_many
from ..core.enums import RECORD_CATEGORIES
from ..core.parsing import CONFIRM_FIELD, IMPORT_CONFIRM_HINT, AmountLimits, DateBounds, amount_limits, date_bounds, halfwidth
from ..core.rules import Collector, RuleViolation
from ..core.timeutil import utcnow
from ..dashboard import summary
from ..core.database import large_page_cache
from ..extensions import db
from ..organizations.imports import organization_label
from ..organizations.models import Organization
from ..transfer.bulk import insert_many
from ..transfer.importing import CONFIRM_COLUMN, UPDATE_HINT, Field, ImportKind, yes_no
from ..transfer.references import Lookup
from ..transfer.writing import Column
from . import filing
from .models import SupportRecord
from .rules import EDITABLE, refusal, status_label

COMPARED = ("village_code", "category", "title", "description", "amount", "amount_attracted", "amount_in_kind",
            "households", "persons", "jobs", "record_date")
_CODE = re.compile(r"[（(]\s*(\d{12})\s*[)）]\s*$|^(\d{12})$")


def _unit(user) -> Organization | None:
    org_id = getattr(user, "organization_id", None)
    return db.session.get(Organization, org_id) if getattr(user, "role", None) == "unit" and org_id else None


def _village_lookup(organization_id: int) -> Lookup:
    return Lookup({v.code: v.name for v in filing.filer_villages(organization_id)}, "村")


def _village_labels(user) -> list[str]:
    org = _unit(user)
    return _village_lookup(org.id).labels() if org else []


def _unit_labels(user) -> list[str]:
    org = _unit(user)
    return [organization_label(org)] if org else []


@dataclass
class Stored:
    """What a re-import needs to know of a record already stored under a row's 编号."""

    id: int
    status: str
    title: str
    amounts: dict  # field -> Decimal: a re-import that keeps them needs no new confirmation


@dataclass
class RecordRow:
    values: filing.RecordData
    stored: Stored | None = None
    existing: SupportRecord | None = None  # loaded only to be updated
    unchanged: bool = False  # an update that would change nothing


@dataclass
class Context:
    user: object
    organization: Organization
    villages: set[str]  # the codes the unit may file for (the filing rule, fetched once)
    lookup: Lookup
    unit: Lookup
    references: dict[str, Stored]  # the unit's stored records by 编号
    update: bool
    organization_id: int = 0  # ``organization.id``, read once (not through the ORM per row)
    dates: DateBounds | None = None  # the dates a record may have, read once for the file
    limits: AmountLimits | None = None  # the amounts' ceiling and confirmation threshold, read once
    # cells seen before: a ledger names the same few villages (and its unit) on every row
    seen: dict = dataclass_field(default_factory=dict)


class RecordImport(ImportKind):
    name = "records"
    title = "帮扶记录"
    entity = "SupportRecord"
    permission = "file_records"
    list_endpoint = "records.index"
    fields = (
        Field("编号", "reference", width=14, required=True, example="2026-0001",
              note="本单位记录的编号，单位内不能重复，最多30个字符；再次导入时按编号识别同一条记录"),
        Field("村", "village_code", width=28, required=True, choices=_village_labels, example="示例村（430102001201）",
              note="“名称（12位代码）”或12位代码，可从下拉列表中选择；须是本单位结对或选派干部的村"),
        Field("填报单位", "organization", width=28, aliases=("帮扶主体",), choices=_unit_labels,
              note="可空；填写时须为本单位（只能导入本单位的记录）"),
        Field("帮扶类别", "category", width=10, required=True, codes=RECORD_CATEGORIES, example="产业"),
        Field("标题", "title", width=30, required=True, example="捐建村级产业路", note="最多200字"),
        Field("内容说明", "description", width=40, note="最多5000字"),
        Field("直接投入资金（元）", "amount", "amount", 16, example=125000.5,
              note="单位：元，最多两位小数；可写“5万”（即50000元）；空白为0"),
        Field("引进资金（元）", "amount_attracted", "amount", 16, note="单位：元，同上"),
        Field("实物折价（元）", "amount_in_kind", "amount", 16, note="单位：元，同上"),
        Field("受益户数", "households", "int", 10, note="整数，空白为0"),
        Field("受益人数", "persons", "int", 10, note="整数，空白为0"),
        Field("带动就业人数", "jobs", "int", 12, note="整数，空白为0"),
        Field("帮扶日期", "record_date", "date", 12, required=True, example=date(2026, 1, 15),
              note="如 2026-01-15、2026/1/15 或 2026年1月15日；不能晚于今天"),
    )
    extra_fields = (CONFIRM_COLUMN,)
    # read-only: what happened to the record after it was filed
    derived = (
        Column("状态", "status", width=8),
        Column("提交日期", "submitted_on", "date", 12),
        Column("确认或异议日期", "decided_on", "date", 14),
        Column("异议理由", "dispute_reason", width=30),
        Column("更正的记录编号", "supersedes", width=14),
    )

    def context(self, user, *, update: bool) -> Context:
        organization_id = filing.filer_organization(user)
        org = db.session.get(Organization, organization_id)
        table = SupportRecord.__table__
        references = {reference: Stored(id_, status, title, dict(zip(filing.AMOUNTS, amounts)))
                      for reference, id_, status, title, *amounts in db.session.execute(
            select(table.c.reference, table.c.id, table.c.status, table.c.title,
                   *(table.c[name] for name in filing.AMOUNTS))
            .where(table.c.organization_id == organization_id))}
        unit = Lookup({org.id: org.name}, "填报单位", aliases={org.credit_code: org.id} if org.credit_code else None)
        return Context(user=user, organization=org, villages=filing.filer_village_codes(organization_id),
                       lookup=_village_lookup(organization_id), unit=unit, references=references, update=update,
                       organization_id=organization_id, dates=date_bounds(), limits=amount_limits())

    def check(self, values, ctx: Context) -> RecordRow:
        village = values["village_code"]
        found = ctx.seen.get(("village", village))
        if found is None:
            found = ctx.seen[("village", village)] = _village(village, ctx)
        code, message = found
        unit = values["organization"]
        own = True if unit is None else ctx.seen.get(("unit", unit))
        if own is None:
            own = ctx.seen[("unit", unit)] = _is_own(unit, ctx)
        errors = None
        if message or not own:
            errors = Collector()
            if message:
                errors.add("village_code", message)
            if not own:
                errors.add("organization", f"只能导入本单位（{ctx.organization.name}）的记录，“{unit}”不是本单位")
        # the row's cells are the form's fields (the rule reads those and no others); the
        # dict is this row's own, so the village's code replaces its cell in place
        values["village_code"] = code
        confirmed = yes_no(values.get(CONFIRM_FIELD))  # an extra column: absent unless the file has it
        if confirmed is None:
            errors = errors or Collector()
            errors.add(CONFIRM_FIELD, "应填“是”或“否”")
        values[CONFIRM_FIELD] = bool(confirmed)
        stored = ctx.references.get(halfwidth(values["reference"])) if values["reference"] is not None else None
        try:
            clean = filing.validate_record_data(ctx.organization_id, values, allowed_villages=ctx.villages,
                                                dates=ctx.dates, limits=ctx.limits, confirm_hint=IMPORT_CONFIRM_HINT,
                                                stored=stored.amounts if stored is not None and ctx.update else None)
        except RuleViolation as broken:
            if errors is None:
                raise
            for key, messages in broken.errors.items():  # every cell's error at once, the village's once
                if key not in errors.errors:
                    for text in messages:
                        errors.add(key, text)
        if errors is not None:
            errors.raise_if_any()
        if clean.reference is None:
            raise RuleViolation("请填写编号：导入按编号识别同一条记录，同一文件再次导入时不会重复", "reference")
        row = RecordRow(clean, stored=ctx.references.get(clean.reference))
        if row.stored is not None and ctx.update:
            row.existing = db.session.get(SupportRecord, row.stored.id)
            row.unchanged = all(getattr(row.existing, k) == getattr(clean, k) for k in COMPARED)
            why = None if row.unchanged else refusal(row.existing, ctx.user, "edit")
            if why:
                raise RuleViolation(f"编号“{clean.reference}”的记录{row.existing.status_label}，不能用导入修改：{why}",
                                    "reference")
        return row

    def key(self, clean: RecordRow) -> tuple:
        return (clean.values.reference,)

    def existing(self, clean: RecordRow, ctx: Context):
        return clean.existing or clean.stored

    def duplicate_message(self, clean: RecordRow) -> str:
        stored, label = clean.stored, status_label(clean.stored.status)
        said = f"本单位已有编号为“{clean.values.reference}”的记录（{label}：{stored.title}）"
        if stored.status in EDITABLE:
            return f"{said}；{UPDATE_HINT}"
        return f"{said}，该记录{label}，不能再修改；如是另一条记录，请换一个编号"

    def write(self, rows, ctx: Context, user) -> tuple[int, int]:
        with large_page_cache():
            created = _insert([clean.values for clean, existing in rows if existing is None], ctx, user)
        updated = 0
        for clean, record in rows:
            if record is None or clean.unchanged:
                continue
            # its large amounts were confirmed (or were the stored ones) when the row was checked
            data = {**vars(clean.values), "pairing_id": record.pairing_id, CONFIRM_FIELD: True}
            filing.update_record(record, user, data, record.version, submit=True, commit=False,
                                 allowed_villages=ctx.villages)
            updated += 1
        return created, updated


def _village(value, ctx: Context) -> tuple[str | None, str | None]:
    """The village code a cell names, or why there is none. A code the unit may not file
    for is handed on, so that the filing rule says why; a name must be one of the unit's
    villages."""
    if value is None:
        return None, None
    try:
        return ctx.lookup.resolve(value, "village_code"), None
    except RuleViolation as broken:
        match = _CODE.search(halfwidth(value))
        if match:
            return match.group(1) or match.group(2), None
        return None, broken.message


def _is_own(value, ctx: Context) -> bool:
    try:
        ctx.unit.resolve(value, "organization")
    except RuleViolation:
        return False
    return True


NEW_STATUS = "submitted"  # awaiting the village's confirmation, as a record the filer submits


# a new record's own values (the rest is the same for every record of one import)
_OWN = ("reference", "village_code", "category", "title", "description", "amount", "amount_attracted",
        "amount_in_kind", "households", "persons", "jobs", "record_date")


def _insert(rows: list[filing.RecordData], ctx: Context, user) -> int:
    """One insert for all new records, one batch of audit events, one summary update."""
    if not rows:
        return 0
    now = utcnow()
    org = ctx.organization
    fixed = {"organization_id": org.id, "pairing_id": None, "status": NEW_STATUS, "dispute_reason": None,
             "supersedes_id": None, "created_by_id": user.id, "submitted_at": now, "decided_at": None,
             "decided_by_id": None, "is_demo": False, "created_at": now, "updated_at": now, "version": 1}
    table = SupportRecord.__table__
    insert_many(table, _OWN, [(r.reference, r.village_code, r.category, r.title, r.description, r.amount,
                               r.amount_attracted, r.amount_in_kind, r.households, r.persons, r.jobs, r.record_date)
                              for r in rows], fixed)
    # without RETURNING (SQLite returns ids in order only one row per statement): the ids
    # are read back by 编号, which is unique within the unit
    written = (table.c.organization_id == org.id) & (table.c.created_at == now)
    ids = dict(db.session.execute(select(table.c.reference, table.c.id).where(written)).all())
    # each event's ``after`` is the record's columns, as ``canonical`` writes them (the
    # times, dates and amounts as text): the shared columns encoded once
    stamp = now.isoformat()
    after = FlatCanonical({**fixed, "created_at": stamp, "updated_at": stamp, "submitted_at": stamp},
                          (*_OWN, "id")).make
    events = []
    for r in rows:
        record_id = ids[r.reference]
        events.append({
            "action": "create", "entity_type": "SupportRecord", "entity_id": record_id,
            "summary": f"导入并提交村确认：{r.title}（批量导入）", "region_code": r.village_code, "organization_id": org.id,
            "after_json": after({
                "reference": r.reference, "village_code": r.village_code, "category": r.category, "title": r.title,
                "description": r.description, "amount": str(r.amount), "amount_attracted": str(r.amount_attracted),
                "amount_in_kind": str(r.amount_in_kind), "households": r.households, "persons": r.persons,
                "jobs": r.jobs, "record_date": r.record_date.isoformat(), "id": record_id}),
        })
    record_many(events, actor=user)
    summary.add_records(db.session, written)
    return len(rows)


KINDS = (RecordImport,)
