"""驻村纪实 (days in the village) from a spreadsheet: one row a village posting and month.

Who may import is who may file (``file_duty``: the sending unit, the village), and only for
the village postings they may see. A row names its posting as a filer sees it: the
person's 身份证号 (in full, or masked as the registry shows it to a village), the village
and the posting's start date. Each row passes ``services.clean_month``, the month rule the
duty form uses (the month within the posting and not in the future, days that fit the
month, leave with who approved it, a summary). New months are filed together through
``file_months`` (``file_month`` for many: one flush, the same audit events); with "update",
an open month is corrected through ``update_month``, as the form's save is.

The natural key is the posting and the month. A month already checked (核实) is locked by
the review cycle: a row that would change it is an error; one that repeats it is ignored.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from ..core import crypto
from ..core.enums import DUTY_STATUSES, VILLAGE_ROLES
from ..core.formatting import date_cn, month_cn
from ..core.identity import EXAMPLE_ID_NUMBER, normalize_id_number
from ..core.parsing import halfwidth, to_date
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..people.models import Posting
from ..people.posting_imports import blanks
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, resolve
from ..transfer.references import Lookup, labelled
from ..transfer.writing import Column
from .forms import month_value
from .models import DutyMonth
from .services import REVIEW, DutyData, clean_month, file_months, month_end, update_month

_MONTH_TEXT = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")


def to_month(value) -> date | None:
    """The month ``value`` stands for (its first day): 2025-03, 2025/3, 2025年3月, 202503,
    or any date of the month, a date cell or serial among them (a spreadsheet turns
    "2025-03" typed in into 2025-03-01); None when it is none of these."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not (float(value).is_integer() and 190001 <= value <= 999912):
            day = to_date(value)  # a date serial
            return day.replace(day=1) if day else None
        value = str(int(value))  # 202503
    if isinstance(value, datetime | date):
        return to_date(value).replace(day=1)
    raw = halfwidth(value)
    match = _MONTH_TEXT.match(raw) or re.match(r"^(\d{4})(\d{2})$", raw)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        return date(year, month, 1) if 1 <= month <= 12 and year >= 1900 else None
    day = to_date(raw)
    return day.replace(day=1) if day else None


@dataclass
class DutyRow:
    posting: Posting
    data: DutyData
    values: dict  # as ``clean_month`` returns them
    existing: DutyMonth | None = None
    changes: bool = True  # the row changes ``existing``
    start_given: bool = True  # the row named its posting's start date (else its month found it)


@dataclass
class DutyContext:
    user: object
    update: bool
    villages: Lookup  # the villages of the user's village postings
    postings: dict[str, list[Posting]]  # village code -> village postings the user may see
    months: dict[tuple[int, date], DutyMonth]  # (posting id, month) -> the months filed, in scope


STORED = ("month_days", "available_days", "days_in_village", "leave_days", "leave_approved_by", "absences", "summary")


class DutyImport(ImportKind):
    name = "duty"
    title = "驻村纪实"
    entity = "DutyMonth"
    permission = "file_duty"
    list_endpoint = "duty.index"
    fields = (
        Field("姓名", "person", width=10, example="张三", note="可空；填写时须与身份证号的干部一致",
              aliases=("干部姓名",)),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="驻村干部的身份证号：完整18位，或系统导出的遮蔽形式（如 4301**********1237）"),
        Field("村", "village", width=28, required=True, aliases=("所驻村", "驻村", "派驻村", "驻村地点"),
              choices=lambda user: DutyImport.village_lookup(user).labels(), example="示例村（430102001201）",
              note="驻村的村：“名称（12位代码）”或12位代码；须是您能填报纪实的选派所在的村"),
        Field("选派开始日期", "posting_start", "date", 12, example=date(2024, 1, 1),
              note="该驻村选派的开始日期；可空：该干部在该村只有一次选派覆盖这个月时自动识别，"
                   "同一月份有多次选派时须填写"),
        Field("月份", "month", width=10, required=True, example="2025-03", note="如 2025-03 或 2025年3月；不能是未来月份",
              aliases=("年月", "考勤月份")),
        Field("在村天数", "days_in_village", "int", 10, required=True, example=22, aliases=("驻村天数", "实际驻村天数"),
              note="整数，不超过该月在岗天数；少于规定天数作为缺口提示，不是错误"),
        Field("请假天数", "leave_days", "int", 10, note="整数，空白为0；有请假时须填写批准人"),
        Field("请假批准人", "leave_approved_by", width=12, note="最多100字"),
        Field("无故缺勤天数", "absences", "int", 12, note="整数，空白为0；在村、请假、缺勤合计不超过在岗天数"),
        Field("工作纪实", "summary", width=40, required=True, example="走访脱贫户32户，协调产业项目资金",
              aliases=("工作内容", "主要工作", "民情日记"),
              note="民情日记摘要，最多1000字"),
    )
    derived = (
        Column("岗位", "role", width=12), Column("派出单位", "organization", width=26),
        Column("应在岗天数", "available_days", "int", 10), Column("状态", "status", width=8),
        Column("退回理由", "return_reason", width=30),
    )
    # the ledger's columns as they always stood, then what names the posting
    EXPORT_ORDER = ("person", "role", "village", "organization", "month", "available_days", "days_in_village",
                    "leave_days", "leave_approved_by", "absences", "summary", "status", "return_reason",
                    "id_number", "posting_start")

    @classmethod
    def export_columns(cls) -> list[Column]:
        columns = {c.key: c for c in super().export_columns()}
        return [columns[key] for key in cls.EXPORT_ORDER]

    @staticmethod
    def village_postings(user):
        stmt = scoped(select(Posting), Posting, user).where(Posting.role.in_(VILLAGE_ROLES))
        return db.session.scalars(stmt.order_by(Posting.region_code, Posting.start_date, Posting.id)).all()

    @staticmethod
    def village_lookup(user, postings=None) -> Lookup:
        postings = DutyImport.village_postings(user) if postings is None else postings
        return Lookup({p.region_code: p.region.name for p in postings}, "村")

    def context(self, user, *, update: bool) -> DutyContext:
        postings = self.village_postings(user)
        by_village: dict[str, list[Posting]] = defaultdict(list)
        for p in postings:
            by_village[p.region_code].append(p)
        filed = scoped(select(DutyMonth).options(lazyload("*")), DutyMonth, user)
        months = {(d.posting_id, d.month): d for d in db.session.scalars(filed)}
        return DutyContext(user=user, update=update, villages=self.village_lookup(user, postings), postings=by_village,
                           months=months)

    def stored_rows(self, values, ctx: DutyContext) -> list[list]:
        """The export's rows for the month the row names (its posting found as ``check``
        finds it), the ID number in full where the user may see it and masked: a returned
        month the file leaves as it was stays returned (a refiling is a change), a checked
        one is not refused."""
        from ..people.privacy import shown_id_number

        found = Collector()
        village = resolve(ctx.villages, values, "village", found)
        start, month = to_date(values["posting_start"]), to_month(values["month"])
        if found.errors or (start is None and values["posting_start"] is not None) or month is None \
                or values["id_number"] is None:
            return []
        try:
            posting = find_posting(ctx.postings[village], values["id_number"], start, values["person"], month)
        except RuleViolation:
            return []
        stored = ctx.months.get((posting.id, month))
        if stored is None:
            return []
        return [export_row(stored, shown_id_number(posting.person, ctx.user)),
                export_row(stored, posting.person.id_number_masked)]

    def check(self, values, ctx: DutyContext) -> DutyRow:
        errors = blanks(self, values)
        village = resolve(ctx.villages, values, "village", errors)
        start = to_date(values["posting_start"])
        if values["posting_start"] is not None and start is None:
            errors.add("posting_start", "选派开始日期格式应为 年-月-日，如 2024-01-01")
        month = to_month(values["month"])
        if values["month"] is not None and month is None:
            errors.add("month", "月份格式应为 年-月，如 2025-03")
        return errors.then(lambda: self._checked(village, start, month, values, ctx),
                           needs=("village", "id_number", "person", "posting_start"))

    def _checked(self, village: str, start, month, values, ctx: DutyContext) -> DutyRow:
        """The duty rule on the row's values, for the posting the village, ID number and
        start name: a new month, or the one filed already."""
        posting = find_posting(ctx.postings[village], values["id_number"], start, values["person"], month)
        data = DutyData(month=month, days_in_village=values["days_in_village"], leave_days=values["leave_days"],
                        leave_approved_by=_text(values["leave_approved_by"]), absences=values["absences"],
                        summary=_text(values["summary"]))
        existing = ctx.months.get((posting.id, month))
        clean = clean_month(posting, data, existing)
        row = DutyRow(posting=posting, data=data, values=clean, existing=existing, start_given=start is not None)
        if existing is not None:
            row.changes = any(clean[key] != getattr(existing, key) for key in STORED) or existing.status != "filed"
            if ctx.update and REVIEW.is_locked(existing):
                if any(clean[key] != getattr(existing, key) for key in STORED):
                    raise RuleViolation(f"{month_cn(month)}的纪实已核实，不能再修改", "")
                row.changes = False
        return row

    key_fields = ("id_number", "posting_start", "month")

    def key(self, clean: DutyRow) -> tuple:
        return (clean.posting.id, clean.values["month"])

    def key_columns(self, clean: DutyRow) -> tuple[str, ...]:
        return self.key_fields if clean.start_given else ("id_number", "month")

    def existing(self, clean: DutyRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: DutyRow) -> str:
        d = clean.existing
        return (f"{d.posting.person.name} {month_cn(d.month)}的纪实已填报（{DUTY_STATUSES.get(d.status, d.status)}）；"
                + UPDATE_HINT)

    def write(self, rows, ctx: DutyContext, user) -> tuple[int, int]:
        new = [(clean.posting, clean.values) for clean, existing in rows if existing is None]
        file_months(new, user, commit=False)  # one flush for them all: the summaries refresh once
        updated = 0
        for clean, existing in rows:
            if existing is not None and clean.changes:
                update_month(existing, clean.data, user, version=existing.version, commit=False)
                updated += 1
        return len(new), updated


def _text(value) -> str | None:
    return None if value is None else str(value)


def find_posting(postings: list[Posting], id_text, start: date | None, name, month: date | None = None) -> Posting:
    """The posting among ``postings`` (one village's, as the user sees them) of the person
    whose ID number ``id_text`` is — in full or masked as the registry shows it — that
    started on ``start``; with no ``start``, the one posting of that person there whose
    term covers ``month`` (an attendance sheet names the cadre, the village and the month,
    not when the posting began). RuleViolation on the column that does not match."""
    raw = unicodedata.normalize("NFKC", str(id_text)).strip().upper()
    if "*" in raw:
        people = [p for p in postings if (p.person.id_number_masked or "").upper() == raw]
    else:
        index = crypto.blind_index(normalize_id_number(raw))  # RuleViolation naming what is wrong
        people = [p for p in postings if p.person.id_number_index == index]
    if not people:
        raise RuleViolation("该村没有这个身份证号的干部的驻村选派（或不在您的范围内）", "id_number")
    if start is None:
        return _covering(people, month, name)
    found = [p for p in people if p.start_date == start]
    if not found:
        starts = "、".join(sorted({date_cn(p.start_date) for p in people}))
        raise RuleViolation(f"{people[0].person.name}在该村的驻村选派开始于{starts}，没有{date_cn(start)}开始的选派",
                            "posting_start")
    if len({p.person_id for p in found}) > 1:
        raise RuleViolation("遮蔽的身份证号对应不止一名干部，请填写完整的身份证号", "id_number")
    return _named(found[0], name)


def _covering(people: list[Posting], month: date | None, name) -> Posting:
    """The one posting among ``people`` (one person's, or a masked number's) whose term
    covers ``month``; RuleViolation asking for the start date where it is not one."""
    if len({p.person_id for p in people}) > 1:
        raise RuleViolation("遮蔽的身份证号对应不止一名干部，请填写完整的身份证号", "id_number")
    if month is None:  # the month's own error is said on its column
        raise RuleViolation("请填写选派开始日期", "posting_start")
    covering = [p for p in people if p.start_date <= month_end(month) and (p.end_date is None or p.end_date >= month)]
    starts = "、".join(sorted({date_cn(p.start_date) for p in people}))
    if not covering:
        raise RuleViolation(f"{people[0].person.name}在该村的驻村选派（开始于{starts}）都不包括{month_cn(month)}", "month")
    if len(covering) > 1:
        raise RuleViolation(f"{people[0].person.name}在{month_cn(month)}有不止一次驻村选派（开始于{starts}），"
                            "请填写选派开始日期", "posting_start")
    return _named(covering[0], name)


def _named(posting: Posting, name) -> Posting:
    """``posting``, if the row's 姓名 (when filled) is its person's."""
    shown = unicodedata.normalize("NFKC", str(name or "")).strip()
    if shown and shown != unicodedata.normalize("NFKC", posting.person.name):
        raise RuleViolation(f"姓名与身份证号不符：该身份证号的干部是{posting.person.name}", "person")
    return posting


def export_row(d: DutyMonth, id_number: str) -> list:
    """A month in ``DutyImport.export_columns()`` order."""
    p = d.posting
    return [p.person.name, p.role_label, labelled(p.region.name, d.region_code), p.organization.name,
            month_value(d.month), d.available_days, d.days_in_village, d.leave_days, d.leave_approved_by, d.absences,
            d.summary, DUTY_STATUSES.get(d.status, d.status), d.return_reason, id_number, p.start_date]


KINDS = (DutyImport,)
