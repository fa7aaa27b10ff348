"""关心关爱 from a spreadsheet: allowances, insurances, health checks and leave of frontline
cadres, each as the form on a cadre's page registers it.

A row names the cadre by 身份证号 (registered and visible to the importer, as the postings
import finds them: the number is matched by its blind index and never echoed in full) and
the posting by its start date, or, left blank, the importer's posting of that cadre whose
term holds the record's date. Each row passes ``services.check_care``, the form's rule (only
the dispatching office or one above it records; the kind's item; the period within the
posting; the amount the kind asks for), and is written by ``add_care`` (audited as the
form's). The natural key is the cadre, the kind, the item and the start date among the
records in force; a row already stored is refused (a wrong record is cancelled on its page).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from ..core.enums import CARE_ITEMS, CARE_KINDS
from ..core.formatting import date_cn
from ..core.identity import EXAMPLE_ID_NUMBER
from ..core.parsing import to_date
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..people.models import Person, Posting
from ..people.posting_imports import find_person
from ..transfer.importing import Field, ImportKind
from . import services
from .models import CareRecord

NOT_DISPATCHER = "您不是该干部任何一次选派的派出机关（或其上级），不能登记"
ALL_ITEMS = tuple(dict.fromkeys(item for items in CARE_ITEMS.values() for item in items))
TEXTS = ("provider_name", "reference", "note")
DATES = (("posting_start", "选派开始日期"), ("start_date", "开始日期"), ("end_date", "结束日期"))


@dataclass
class CareContext:
    user: object
    people: dict[str, int]  # blind index of the ID number -> id, people the user may see
    stored: set[tuple[int, str, str, date]]  # (person, kind, item, start) of records in force
    postings: dict[int, list[Posting]] = field(default_factory=dict)  # person -> postings the user records under


@dataclass
class CareRow:
    person: Person
    data: services.CareData
    natural: tuple


class CareImport(ImportKind):
    name = "care"
    title = "关心关爱"
    entity = "CareRecord"
    permission = "manage_care"
    list_endpoint = "care.index"
    supports_update = False

    def allowed(self, user) -> bool:
        """The offices that record care (a township dispatches nobody)."""
        from .services import may_record_any

        return may_record_any(user)
    fields = (
        Field("干部姓名", "name", width=10, aliases=("姓名",), example="张三",
              note="可空；填写时须与身份证号登记的姓名一致"),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="已登记的帮扶干部的18位身份证号；须是您能看到的干部"),
        Field("选派开始日期", "posting_start", "date", 12,
              note="可空：按开始日期自动找由您（或下级）派出、期间包含该日期的选派；有多次选派时可填写以指定"),
        Field("类别", "kind", width=8, required=True, codes=CARE_KINDS, example="保险"),
        Field("项目", "item", width=16, required=True, choices=lambda user: ALL_ITEMS, example="人身意外伤害保险",
              note="；".join(f"{CARE_KINDS[k]}：{'、'.join(items)}" for k, items in CARE_ITEMS.items())),
        Field("开始日期", "start_date", "date", 12, required=True, aliases=("体检日期",), example=date(2025, 1, 1),
              note="补助、保险、休假为期间的第一天；体检为体检日期（不晚于今天）；须在选派期间内"),
        Field("结束日期", "end_date", "date", 12, example=date(2025, 12, 31),
              note="补助、保险、休假必填，不早于开始日期；体检不填"),
        Field("金额（元）", "amount", "amount", 14, aliases=("金额",), example=500000,
              note="补助为补助金额（必填，大于0）；保险为保额、体检为体检费用（可空）；休假不填。单位：元，也可写“50万”"),
        Field("承保、体检或发放单位", "provider_name", width=20, aliases=("承保单位", "体检单位", "发放单位"),
              example="示例保险公司", note="最多100字"),
        Field("保单号或文号", "reference", width=16, aliases=("保单号", "文号"), note="最多100字"),
        Field("备注", "note", width=30, note="最多1000字"),
    )

    def context(self, user, *, update: bool) -> CareContext:
        people = dict(db.session.execute(scoped(select(Person.id_number_index, Person.id), Person, user)).all())
        stored = set(db.session.execute(scoped(select(
            CareRecord.person_id, CareRecord.kind, CareRecord.item, CareRecord.start_date), CareRecord, user)
            .where(CareRecord.status == "active")).tuples())
        return CareContext(user=user, people=people, stored=stored)

    def check(self, values, ctx: CareContext) -> CareRow:
        errors = Collector()
        person_id = None
        if values["id_number"] is None:
            errors.add("id_number", "请填写身份证号")
        else:
            try:
                person_id = find_person(values["id_number"], ctx.people)
            except RuleViolation as broken:
                errors.errors.update(broken.errors)
        days = {}
        for key, label in DATES:
            days[key] = to_date(values[key])
            if values[key] is not None and days[key] is None:
                errors.add(key, f"{label}格式应为 年-月-日，如 2025-01-01")
        item = None if values["item"] is None else unicodedata.normalize("NFKC", str(values["item"])).strip()
        return errors.then(lambda: self._checked(person_id, days, item, values, ctx),
                           needs=("id_number", "posting_start"))

    def _checked(self, person_id: int, days: dict, item, values, ctx: CareContext) -> CareRow:
        """The care rule on the row's values, for the person found by the ID number, under
        the posting the row names (or whose term holds its dates)."""
        person = db.session.get(Person, person_id)
        name = unicodedata.normalize("NFKC", str(values["name"] or "")).strip()
        if name and name != unicodedata.normalize("NFKC", person.name):
            raise RuleViolation(f"姓名与身份证号不符：该身份证号登记的干部是{person.name}", "name")
        posting = _posting(person, days, ctx)
        data = services.CareData(
            posting_id=posting.id, kind=values["kind"], item=item, start_date=days["start_date"],
            end_date=days["end_date"], amount=values["amount"],
            **{key: _text(values[key]) for key in TEXTS})
        try:
            clean = services.check_care(person, data, ctx.user)
        except RuleViolation as broken:  # the rule speaks of the posting as the form's field
            raise RuleViolation({"posting_start" if k == "posting_id" else k: v
                                 for k, v in broken.errors.items()}) from None
        return CareRow(person=person, data=data,
                       natural=(person.id, clean["kind"], clean["item"], clean["start_date"]))

    key_fields = ("id_number", "kind", "item", "start_date")

    def key(self, clean: CareRow) -> tuple:
        return clean.natural

    def existing(self, clean: CareRow, ctx: CareContext):
        return clean.natural if clean.natural in ctx.stored else None

    def duplicate_message(self, clean: CareRow) -> str:
        _, kind, item, start = clean.natural
        return (f"{clean.person.name}自{date_cn(start)}起的{CARE_KINDS[kind]}（{item}）已登记；"
                "如有错误请在该记录页面作废后重新登记")

    def write(self, rows, ctx: CareContext, user) -> tuple[int, int]:
        for clean, _ in rows:
            services.add_care(clean.person, clean.data, user, commit=False)
        return len(rows), 0


def _posting(person: Person, days: dict, ctx: CareContext) -> Posting:
    """The posting the row is recorded under: the one starting on 选派开始日期, else the
    importer's posting whose term holds the record's dates (else the first, whose rule then
    says where the dates should lie)."""
    if person.id not in ctx.postings:
        ctx.postings[person.id] = services.recordable_postings(ctx.user, person)
    postings = ctx.postings[person.id]
    if not postings:
        raise RuleViolation(NOT_DISPATCHER, "id_number")
    wanted = days["posting_start"]
    if wanted is not None:
        found = next((p for p in postings if p.start_date == wanted), None)
        if found is None:
            starts = "、".join(date_cn(p.start_date) for p in postings)
            raise RuleViolation(f"{person.name}由您（或下级）派出的选派开始于{starts}，没有{date_cn(wanted)}开始的选派",
                                "posting_start")
        return found
    start = days["start_date"]
    if start is not None:
        last = days["end_date"] or start
        for p in postings:
            if p.start_date <= last and start <= (p.end_date or date.max):
                return p
    return postings[0]


def _text(value) -> str | None:
    """A text cell as the rule reads it; a number (a policy number typed as one) as its digits."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


KINDS = (CareImport,)
