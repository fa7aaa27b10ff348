"""帮扶记录 (帮扶台账) from a spreadsheet.

Who imports, and for which unit, is ``filers.filer_for``'s rule, read once for the file:

- a backing unit's account imports its own unit's records. The 填报单位 column (also read as
  帮扶主体 or 帮扶单位) may be left out or blank; when it is filled it must name that unit, so
  the unit's own ledger export comes back in unchanged;
- region staff import on behalf of units (代为填报): the column is required (their template
  heads it 帮扶单位) and each row must name a unit they may act for
  (``filers.acting_organizations``, by name or 统一社会信用代码), and a village that unit may
  file for inside their region (``filers.filer_village_codes(..., within=region)``). Each
  unit's villages and stored 编号 are fetched once, when a row first names it.

Every row passes ``filing.validate_record_data``, the rule the form uses (the village must
be one the unit may file for, amounts and dates through ``core.parsing``). The natural key
is the record's 编号 within its unit, so the 编号 is required here (the form numbers a blank
one itself; a file without 编号 could not be imported twice safely).

Imported records start where a filed record starts on its way to the village: submitted,
awaiting the village's confirmation (the village must confirm what it signs, so a ledger of
confirmed records comes back awaiting confirmation). New records are written in one Core
insert, their audit events in one batch (``audit.services.open_chain``, made and
hashed while the database copies the records in) and the dashboard summaries in one bulk
step (``summary.add_records``), which gives the figures the per-flush listener would.
Records already stored under the same 编号 are refused, or, when the user chose to update,
saved through ``filing.update_record`` (the form's edit: audited, only while the rules let
the filer edit, and sent to the village again).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import date

from json.encoder import encode_basestring

from sqlalchemy import func, select

from ..audit.services import ITEM, FlatCanonical, open_chain
from ..closing.rules import YearCloses
from ..core.enums import RECORD_CATEGORIES, RECORD_CATEGORY_SYNONYMS
from ..core.parsing import CONFIRM_FIELD, IMPORT_CONFIRM_HINT, AmountLimits, DateBounds, amount_limits, date_bounds, halfwidth
from ..core.queries import in_batches
from ..core.rules import Collector, RuleViolation
from ..core.timeutil import utcnow
from ..dashboard import summary
from ..core.bulk_load import large_page_cache
from ..extensions import db
from ..notifications import link_for, notify, recipients
from ..organizations.models import Organization
from ..regions.models import Region
from ..transfer.bulk import insert_many, inserting_many
from ..transfer.importing import CONFIRM_COLUMN, UPDATE_HINT, Field, ImportKind, yes_no
from ..transfer.references import Lookup, labelled
from ..transfer.writing import Column
from . import filers, filing
from .models import SupportRecord, office_name
from .rules import EDITABLE, refusal, status_label

COMPARED = ("village_code", "category", "title", "description", "amount", "amount_attracted", "amount_in_kind",
            "households", "persons", "jobs", "record_date")
_CODE = re.compile(r"[（(]\s*(\d{12})\s*[)）]\s*$|^(\d{12})$")


def _region(user) -> Region | None:
    """The region of staff filing on a unit's behalf; None for a unit's own account."""
    return user.region if filers.files_on_behalf(user) else None


def _organization_lookup(user) -> Lookup:
    """The organizations ``user`` may file for, by name or 统一社会信用代码 (or the id
    where a nameless twin has no code)."""
    orgs = filers.acting_organizations(user)
    return Lookup({org.id: org.name for org in orgs}, "帮扶单位",
                  aliases={org.credit_code: org.id for org in orgs if org.credit_code})


def _organization_labels(user) -> list[str]:
    """The drop-down of the column: "名称（统一社会信用代码）", the bare name when it has
    none and no other organization offered bears it."""
    orgs = filers.acting_organizations(user)
    names: dict[str, int] = {}
    for org in orgs:
        names[org.name] = names.get(org.name, 0) + 1
    return [labelled(org.name, org.credit_code) if org.credit_code
            else (org.name if names[org.name] == 1 else labelled(org.name, org.id)) for org in orgs]


def _village_labels(user) -> list[str]:
    """The villages the user may file for: a unit's own; for region staff those of every
    unit they may act for, inside their region."""
    if _region(user) is not None:
        villages = filers.acting_village_names(user)
    else:
        orgs = filers.acting_organizations(user)
        villages = filers.filer_village_names(orgs[0].id) if orgs else {}
    return [labelled(name, code) for code, name in villages.items()]


@dataclass
class Stored:
    """What a re-import needs to know of a record already stored under a row's 编号."""

    id: int
    status: str
    title: str
    amounts: dict  # field -> Decimal: a re-import that keeps them needs no new confirmation
    # an update's: every field an import may change (``COMPARED``), so that a row that
    # changes none is known without loading its record
    values: dict | None = None


@dataclass
class Unit:
    """One unit a file's rows are filed for, with what its rows are checked against,
    fetched once for the file."""

    id: int
    name: str
    villages: set[str]  # the codes the unit may file for (the filing rule; within the staff's region)
    lookup: Lookup  # the same villages by name
    references: dict[str, Stored]  # the unit's stored records by 编号
    own: bool = False  # the importing account's own unit


@dataclass
class RecordRow:
    values: filing.RecordData
    unit: Unit
    stored: Stored | None = None
    existing: SupportRecord | None = None  # loaded only to be updated
    unchanged: bool = False  # an update that would change nothing


@dataclass
class Context:
    user: object
    update: bool
    organizations: Lookup  # the units the user may file for (a unit: itself)
    own: Unit | None  # a unit's account: its own unit (the rows' unit when the column is blank)
    within: Region | None  # region staff: their region (None: a unit's own records)
    dates: DateBounds | None = None  # the dates a record may have, read once for the file
    limits: AmountLimits | None = None  # the amounts' ceiling and confirmation threshold, read once
    closes: YearCloses = dataclass_field(default_factory=YearCloses)  # the years' closes, read once each
    units: dict[int, Unit] = dataclass_field(default_factory=dict)
    # cells seen before: a ledger names the same few villages (and units) on every row
    seen: dict = dataclass_field(default_factory=dict)

    def unit(self, organization_id: int) -> Unit:
        found = self.units.get(organization_id)
        if found is None:
            found = self.units[organization_id] = _load_unit(organization_id, self.within, update=self.update)
        return found


def _load_unit(organization_id: int, within: Region | None, *, update: bool = False) -> Unit:
    return _load_units([organization_id], within, update=update)[organization_id]


def _load_units(organization_ids, within: Region | None, *, update: bool = False) -> dict[int, Unit]:
    """The units of ``organization_ids`` with their villages and stored records, read a
    few statements for them all (region staff's file names many units)."""
    names = {id_: name for batch in in_batches(organization_ids) for id_, name in db.session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(batch)))}
    villages = filers.filer_village_names_of(list(names), within)
    table = SupportRecord.__table__
    # the title is read for every file (a duplicate's message names it)
    compared = [name for name in COMPARED if name not in filing.AMOUNTS and name != "title"] if update else []
    references: dict[int, dict[str, Stored]] = {id_: {} for id_ in names}
    for batch in in_batches(names):
        for organization_id, reference, id_, status, title, *rest in db.session.execute(
                select(table.c.organization_id, table.c.reference, table.c.id, table.c.status, table.c.title,
                       *(table.c[name] for name in (*filing.AMOUNTS, *compared)))
                .where(table.c.organization_id.in_(batch))):
            amounts = dict(zip(filing.AMOUNTS, rest))
            references[organization_id][reference] = Stored(
                id_, status, title, amounts,
                {**amounts, "title": title, **dict(zip(compared, rest[len(amounts):]))} if update else None)
    return {id_: Unit(id=id_, name=name, villages=set(villages[id_]), lookup=Lookup(villages[id_], "村"),
                      references=references[id_]) for id_, name in names.items()}


ORGANIZATION_NOTE = "可空；填写时须为本单位（只能导入本单位的记录）"
ON_BEHALF_NOTE = ("必填：代哪个帮扶单位填报，写单位名称或统一社会信用代码，可从下拉列表中选择；"
                  "须是在您管辖范围内的村有结对关系或选派干部的单位")


class RecordImport(ImportKind):
    name = "records"
    title = "帮扶记录"
    entity = "SupportRecord"
    permission = "new_records"  # a unit its own records, region staff on a unit's behalf
    list_endpoint = "records.index"
    fields = (
        Field("编号", "reference", width=14, required=True, example="2026-0001",
              note="本单位记录的编号，单位内不能重复，最多30个字符；再次导入时按编号识别同一条记录",
              missing="台账没有编号时，请加一列“编号”并逐行编上（如 2026-0001、2026-0002）；"
                      "导入按编号识别同一条记录，同一文件再次导入时不会重复登记"),
        Field("村", "village_code", width=28, required=True, choices=_village_labels, example="示例村（430102001201）",
              aliases=("帮扶村", "受帮扶村", "村（社区）", "所在村"),
              note="“名称（12位代码）”或12位代码，可从下拉列表中选择；须是本单位结对或选派干部的村"
                   "（代为填报：该单位结对或选派干部、且在您管辖范围内的村）"),
        Field("填报单位", "organization", width=28, aliases=("帮扶主体", "帮扶单位"), choices=_organization_labels,
              note=ORGANIZATION_NOTE),
        Field("帮扶类别", "category", width=10, required=True, codes=RECORD_CATEGORIES, example="产业",
              synonyms=RECORD_CATEGORY_SYNONYMS, aliases=("类别", "帮扶类型")),
        Field("标题", "title", width=30, required=True, example="捐建村级产业路", note="最多200字",
              aliases=("项目名称", "帮扶项目", "事项")),
        Field("内容说明", "description", width=40, note="最多5000字", aliases=("具体内容", "帮扶内容", "内容")),
        Field("直接投入资金（元）", "amount", "amount", 16, example=125000.5, aliases=("投入资金", "帮扶资金", "捐赠资金"),
              note="单位：元，最多两位小数；可写“5万”（即50000元）；空白为0"),
        Field("引进资金（元）", "amount_attracted", "amount", 16, note="单位：元，同上"),
        Field("实物折价（元）", "amount_in_kind", "amount", 16, note="单位：元，同上"),
        Field("受益户数", "households", "int", 10, note="整数，空白为0", aliases=("受益户", "惠及户数")),
        Field("受益人数", "persons", "int", 10, note="整数，空白为0", aliases=("受益人口", "惠及人数")),
        Field("带动就业人数", "jobs", "int", 12, note="整数，空白为0", aliases=("带动就业",)),
        Field("帮扶日期", "record_date", "date", 12, required=True, example=date(2026, 1, 15),
              aliases=("日期", "帮扶时间", "时间"),
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

    def fields_for(self, user):
        """Region staff's template and import: the unit column is required, headed 帮扶单位."""
        if _region(user) is None:
            return self.fields
        return tuple(replace(f, header="帮扶单位", required=True, note=ON_BEHALF_NOTE) if f.key == "organization" else f
                     for f in self.fields)

    def context(self, user, *, update: bool) -> Context:
        within = _region(user)
        ctx = Context(user=user, update=update, organizations=_organization_lookup(user), own=None, within=within,
                      dates=date_bounds(), limits=amount_limits())
        if within is None:  # a unit's own records (``filer_for`` refuses whoever may not file at all)
            ctx.own = ctx.unit(filers.filer_for(user).organization_id)
            ctx.own.own = True
        return ctx

    prefetch_fields = ("organization",)

    def prefetch(self, rows, ctx: Context) -> None:
        """Region staff's file: the units its rows name, with their villages and stored
        records, read together rather than one unit at a time (a county's file names
        dozens of units, a province's hundreds)."""
        if ctx.within is None:
            return  # a unit's own records: its unit is read already
        named = set()
        for row in rows:
            if row.get("organization") is not None:
                try:
                    named.add(ctx.organizations.resolve(row["organization"], "organization"))
                except RuleViolation:
                    pass  # the row's check says why
        ctx.units.update(_load_units(named - set(ctx.units), ctx.within, update=ctx.update))

    def check(self, values, ctx: Context) -> RecordRow:
        errors = None
        unit, why = _unit(values["organization"], ctx)
        village = values["village_code"]
        if unit is not None:
            found = ctx.seen.get(("village", unit.id, village))
            if found is None:
                found = ctx.seen[("village", unit.id, village)] = _village(village, unit)
            code, message = found
        else:  # no unit: its villages are unknown, the row's other cells are still checked
            code, message = (None, None)
        if message or why:
            errors = Collector()
            if why:
                errors.add("organization", why)
            if message:
                errors.add("village_code", message)
        # the row's cells are the form's fields (the rule reads those and no others); the
        # dict is this row's own, so the village's code replaces its cell in place
        values["village_code"] = code
        confirmed = yes_no(values.get(CONFIRM_FIELD))  # an extra column: absent unless the file has it
        if confirmed is None:
            errors = errors or Collector()
            errors.add(CONFIRM_FIELD, "应填“是”或“否”")
        values[CONFIRM_FIELD] = bool(confirmed)
        # the record already stored under the row's 编号 (a unit with none stored: no look-up)
        stored = (unit.references.get(halfwidth(values["reference"]))
                  if unit is not None and unit.references and values["reference"] is not None else None)
        try:
            clean = filing.validate_record_data(unit.id if unit else 0, values,
                                                allowed_villages=unit.villages if unit else frozenset(),
                                                dates=ctx.dates, within=ctx.within, limits=ctx.limits,
                                                confirm_hint=IMPORT_CONFIRM_HINT,
                                                stored=stored.amounts if stored is not None and ctx.update else None,
                                                closes=ctx.closes)
        except RuleViolation as broken:
            if errors is None:
                raise
            for key, messages in broken.errors.items():  # every cell's error at once, the village's once
                if key not in errors.errors and not (unit is None and key == "village_code"):
                    for text in messages:
                        errors.add(key, text)
        if errors is not None:
            errors.raise_if_any()
        if clean.reference is None:
            raise RuleViolation("请填写编号：导入按编号识别同一条记录，同一文件再次导入时不会重复", "reference")
        row = RecordRow(clean, unit, stored)  # clean.reference is the 编号 ``stored`` was found by
        if row.stored is not None and ctx.update:
            row.unchanged = all(row.stored.values[k] == getattr(clean, k) for k in COMPARED)
            if row.unchanged:
                return row  # nothing to write: its record is not loaded
            row.existing = db.session.get(SupportRecord, row.stored.id)
            why = refusal(row.existing, ctx.user, "edit")
            if why:
                raise RuleViolation(f"编号“{clean.reference}”的记录{row.existing.status_label}，不能用导入修改：{why}",
                                    "reference")
        return row

    key_fields = ("reference",)

    def key(self, clean: RecordRow) -> tuple:
        return (clean.unit.id, clean.values.reference)

    def key_columns(self, clean: RecordRow) -> tuple[str, ...]:
        """编号 alone in a unit's own file (every row is the unit's); in a file of region
        staff, who file for several units, 编号 and the unit: two units may use one 编号."""
        return self.key_fields if clean.unit.own else ("reference", "organization")

    def existing(self, clean: RecordRow, ctx: Context):
        return clean.existing or clean.stored

    def duplicate_message(self, clean: RecordRow) -> str:
        stored, label = clean.stored, status_label(clean.stored.status)
        owner = "本单位" if clean.unit.own else clean.unit.name
        said = f"{owner}已有编号为“{clean.values.reference}”的记录（{label}：{stored.title}）"
        if stored.status in EDITABLE:
            return f"{said}；{UPDATE_HINT}"
        return f"{said}，该记录{label}，不能再修改；如是另一条记录，请换一个编号"

    def write(self, rows, ctx: Context, user) -> tuple[int, int]:
        with large_page_cache():
            created = _insert([clean for clean, existing in rows if existing is None], ctx, user)
        updated = 0
        for clean, record in rows:
            if record is None or clean.unchanged:
                continue
            # its large amounts were confirmed (or were the stored ones) when the row was checked
            data = {**vars(clean.values), "pairing_id": record.pairing_id, CONFIRM_FIELD: True}
            filing.update_record(record, user, data, record.version, submit=True, commit=False,
                                 allowed_villages=clean.unit.villages)
            updated += 1
        return created, updated


def _unit(value, ctx: Context) -> tuple[Unit | None, str | None]:
    """The unit a row is filed for, or why there is none: a unit's own rows may leave the
    column blank but not name another unit; region staff must name one they may act for."""
    if value is None:
        if ctx.own is not None:
            return ctx.own, None
        return None, "请填写帮扶单位：代为填报须写明是哪个单位的记录"
    found = ctx.seen.get(("unit", value))
    if found is None:
        try:
            found = (ctx.unit(ctx.organizations.resolve(value, "organization")), None)
        except RuleViolation as broken:
            if ctx.own is not None:
                found = (None, f"只能导入本单位（{ctx.own.name}）的记录，“{value}”不是本单位")
            else:
                found = (None, broken.message + "；只能代在您管辖范围内的村有结对关系或选派干部的单位填报")
        ctx.seen[("unit", value)] = found
    return found


def _village(value, unit: Unit) -> tuple[str | None, str | None]:
    """The village code a cell names, or why there is none. A code the unit may not file
    for is handed on, so that the filing rule says why; a name must be one of the unit's
    villages."""
    if value is None:
        return None, None
    try:
        return unit.lookup.resolve(value, "village_code"), None
    except RuleViolation as broken:
        match = _CODE.search(halfwidth(value))
        if match:
            return match.group(1) or match.group(2), None
        return None, broken.message


NEW_STATUS = "submitted"  # awaiting the village's confirmation, as a record the filer submits


# a new record's own values (the rest is the same for every record of one import)
_OWN = ("reference", "village_code", "category", "title", "description", "amount", "amount_attracted",
        "amount_in_kind", "households", "persons", "jobs", "record_date")


# the keys of an event's ``after`` that differ by record, in the order ``FlatCanonical``
# writes them (sorted), so that a row's values are encoded straight into its template
_AFTER_ORDER = tuple(sorted((*_OWN, "id")))


def _insert(rows: list[RecordRow], ctx: Context, user) -> int:
    """One insert per unit for all new records (a unit's own import: one), one batch of
    audit events, one summary update. On SQLite the events are made and hashed onto their
    chains (``Chain.ahead``) while the database copies the records into the table and its
    indexes (``bulk.inserting_many``), and the commit only inserts them."""
    if not rows:
        return 0
    now = utcnow()
    within = ctx.within
    on_behalf = within.code if within is not None else None
    by_unit: dict[int, list[filing.RecordData]] = {}
    units: dict[int, Unit] = {}
    for row in rows:
        by_unit.setdefault(row.unit.id, []).append(row.values)
        units[row.unit.id] = row.unit
    table = SupportRecord.__table__
    conn = db.session.connection()
    # SQLite has one writer at a time (this transaction began IMMEDIATE; a deferred one
    # whose snapshot is stale fails at its first write): the new ids are the table's next
    # ones, given in the insert, and need not be read back
    numbered = conn.dialect.name == "sqlite"
    first = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar() + 1 if numbered else None
    next_id = first
    stamp = now.isoformat()
    chain = open_chain(user)
    # the events, hashed onto their chains while the records are copied in (SQLite)
    events = chain.ahead(conn, {r.values.village_code for r in rows})
    counted = None  # the summaries' count of the new records (SQLite: on the copying thread)
    last_unit = next(reversed(by_unit))
    for unit_id, values in by_unit.items():
        fixed = {"organization_id": unit_id, "pairing_id": None, "status": NEW_STATUS, "dispute_reason": None,
                 "supersedes_id": None, "created_by_id": user.id, "on_behalf_region_code": on_behalf,
                 "submitted_at": now, "decided_at": None, "decided_by_id": None, "is_demo": False,
                 "created_at": now, "updated_at": now, "version": 1}
        saying = ("导入并提交村确认：" if within is None
                  else f"{office_name(within)}代{units[unit_id].name}导入并提交村确认：")
        if numbered:
            ids = range(next_id, next_id + len(values))
            next_id += len(values)
            # the records are copied in, and (after the last unit's) counted for the
            # summaries, while their events are made and linked
            count = None
            if unit_id == last_unit:
                every = table.c.id.between(first, next_id - 1)

                def count(conn):
                    return summary.count_records(conn, every)
            rows_in = [(i, r.reference, r.village_code, r.category, r.title, r.description, r.amount,
                        r.amount_attracted, r.amount_in_kind, r.households, r.persons, r.jobs, r.record_date)
                       for i, r in zip(ids, values)]
            with inserting_many(table, ("id", *_OWN), rows_in, fixed, then=count) as done:
                events.add(_events(values, ids, unit_id, fixed, stamp, saying))
            if count is not None:
                counted = done[0]
        else:
            insert_many(table, _OWN, [(r.reference, r.village_code, r.category, r.title, r.description, r.amount,
                                       r.amount_attracted, r.amount_in_kind, r.households, r.persons, r.jobs,
                                       r.record_date) for r in values], fixed)
            # the ids read back by 编号, which is unique within the unit
            written = (table.c.organization_id == unit_id) & (table.c.created_at == now)
            by_reference = dict(db.session.execute(select(table.c.reference, table.c.id).where(written)).all())
            ids = [by_reference[r.reference] for r in values]
            events.add(_events(values, ids, unit_id, fixed, stamp, saying))
    chain.write(events)
    written = (table.c.id.between(first, next_id - 1) if numbered
               else table.c.organization_id.in_(list(by_unit)) & (table.c.created_at == now))
    summary.add_records(db.session, written, counted)
    _tell_villages(rows, user)
    return len(rows)


def _tell_villages(rows: list[RecordRow], user) -> None:
    """Each village is told once of the records an import submitted to it for confirmation
    (a record filed by the form tells it once a record): how many, and from which units."""
    count: dict[str, int] = {}
    units: dict[str, dict[str, None]] = {}
    for row in rows:
        code = row.values.village_code
        count[code] = count.get(code, 0) + 1
        units.setdefault(code, {})[row.unit.name] = None
    told = recipients.village_users_of(count)
    if not told:
        return
    link = link_for("records.inbox")
    for code, ids in told.items():
        names = "、".join(units[code])
        notify("record_submitted", ids, title=f"待确认的帮扶记录 {count[code]} 条（{names}导入）",
               body=f"{names}导入并提交了 {count[code]} 条帮扶记录，请逐条核对后确认或提出异议。", link=link, actor=user)


def _events(values: list[filing.RecordData], ids, unit_id: int, fixed: dict, stamp: str, saying: str) -> list[tuple]:
    """The audit events of a unit's new records (Python only: no database), as the rows
    ``Chain.write`` takes (``audit.services.ITEM``). Each event's ``after`` is the
    record's columns, as ``canonical`` writes them (the times, dates and amounts as
    text): the shared columns encoded once, each row's own straight into the template in
    ``_AFTER_ORDER``; the amounts and the date are quoted by the template (their text
    needs no escaping) and the few villages and categories a file names encoded once."""
    encode = encode_basestring  # a text value as ``canonical`` writes it
    template = FlatCanonical({**fixed, "created_at": stamp, "updated_at": stamp, "submitted_at": stamp},
                             _AFTER_ORDER, quoted=_QUOTED).template
    codes = {text: encode(text) for text in {*(r.village_code for r in values), *(r.category for r in values)}}
    return [(
        "create", "SupportRecord", str(record_id), f"{saying}{r.title}（批量导入）"[:300], r.village_code, unit_id, None,
        template % (r.amount, r.amount_attracted, r.amount_in_kind, codes[r.category], encode(r.description),
                    r.households, record_id, r.jobs, r.persons, r.record_date, encode(r.reference), encode(r.title),
                    codes[r.village_code]),
    ) for r, record_id in zip(values, ids)]


# a new record's values that ``canonical`` writes as their text in quotes (Decimal, date)
_QUOTED = ("amount", "amount_attracted", "amount_in_kind", "record_date")
if ITEM != ("action", "entity_type", "entity_id", "summary", "region_code", "organization_id", "before", "after"):
    raise ImportError("_events makes its rows in another order than audit.services.ITEM")


KINDS = (RecordImport,)
