"""督查问题 from a spreadsheet: findings of inspections already in a plan, each as the form
on the inspection's page registers it.

A row names the inspection by its plan's year and the inspected party (a region, "名称（代码）"
or its 12-digit code; a provincial department, its name or credit code) and, when two plans
inspect that party in the year (the province's and a city's), the inspecting region. The
user must keep that inspection (``services.may_keep``: the inspecting jurisdiction or one
above it, never the inspected party). A visit may be named by its date. Each row passes
``services.check_finding``, the form's rule (the item, the description, a deadline not
before today), and is written by ``add_finding`` (audited and told to the inspected party as
the form's). The natural key is the inspection, the item and the description; a row already
stored is refused (a finding changes by its rectification and closing, not by a file).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..core.formatting import date_cn
from ..core.parsing import to_date
from ..core.rules import Collector
from ..core.scope import scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..transfer.importing import Field, ImportKind, resolve
from ..transfer.references import Lookup, labelled
from . import services
from .models import FINDING_ITEMS, Finding, Inspection, target_key

# the rule's field names, as the file's columns
_COLUMN = {"visit_id": "visit", "files": ""}


def _kept(user) -> list[Inspection]:
    """The inspections in scope whose findings ``user`` records (``services.may_keep``)."""
    found = db.session.scalars(scoped(select(Inspection), Inspection, user)
                               .order_by(Inspection.year.desc(), Inspection.id)).all()
    return [i for i in found if services.may_keep(user, i)]


def _target_label(inspection: Inspection) -> str:
    if inspection.target_kind == "organization":
        org = inspection.target_organization
        return labelled(org.name, org.credit_code) if org.credit_code else org.name
    return labelled(inspection.target_name, inspection.target_region_code)


def _targets(inspections: list[Inspection]) -> Lookup:
    """Whom the inspections inspect: a region by code or name, a department by credit code or name."""
    items, aliases = {}, {}
    for i in inspections:
        key = target_key(i.target_kind, i.target_organization_id if i.target_kind == "organization"
                         else i.target_region_code)
        items[key] = i.target_name
        if i.target_kind == "organization":
            if i.target_organization.credit_code:
                aliases[i.target_organization.credit_code] = key
        else:
            aliases[i.target_region_code] = key
    return Lookup(items, "督查对象", aliases=aliases)


def _inspectors(inspections: list[Inspection]) -> Lookup:
    return Lookup({i.inspector_region_code: i.inspector_region.name for i in inspections}, "组织督查单位")


def _unique(values) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass
class FindingContext:
    user: object
    inspections: dict[tuple[int, str], list[Inspection]]  # (year, target key) -> inspections
    targets: Lookup
    inspectors: Lookup
    stored: set[tuple[int, str, str]]  # (inspection id, item, description) of findings already stored


@dataclass
class FindingRow:
    inspection: Inspection
    data: services.FindingData
    description: str

    @property
    def natural(self) -> tuple:
        return (self.inspection.id, self.data.item, self.description)


class FindingImport(ImportKind):
    name = "findings"
    title = "督查问题"
    entity = "Finding"
    permission = "inspect"
    list_endpoint = "inspections.findings"
    supports_update = False

    def allowed(self, user) -> bool:
        """The offices that plan inspections (the findings are of their plans' visits)."""
        return services.may_plan(user)
    fields = (
        Field("督查年度", "year", "int", 10, required=True, aliases=("年度",),
              choices=lambda user: _unique(str(i.year) for i in _kept(user)), example=local_today().year,
              note="督查计划的年度，如 2025；该年度的督查计划中须已列入被督查对象"),
        Field("被督查对象", "target", width=30, required=True, aliases=("督查对象",),
              choices=lambda user: _unique(_target_label(i) for i in _kept(user)), example="吉首市（433101000000）",
              note="地区填“名称（12位代码）”、代码或名称；省直部门填名称或统一社会信用代码；须是您（或下级）督查计划中的对象"),
        Field("组织督查单位", "inspector", width=20, aliases=("督查单位",),
              choices=lambda user: _unique(labelled(i.inspector_region.name, i.inspector_region_code)
                                           for i in _kept(user)),
              note="可空；同一年度省、市州都督查了该对象时必填（“名称（代码）”或代码）"),
        Field("督查事项", "item", width=12, required=True, codes=FINDING_ITEMS, example="资金使用"),
        Field("问题描述", "description", width=40, required=True, example="衔接资金项目进度滞后",
              note="最多2000字；同一督查对象同一事项下相同描述的问题只登记一次"),
        Field("整改期限", "deadline", "date", 12, required=True, example=date(local_today().year + 1, 6, 30),
              note="如 2026-06-30；不早于今天，不晚于三年之后"),
        Field("走访日期", "visit", "date", 12, aliases=("所属走访",),
              note="可空；填写时须是该督查已登记的一次走访的日期"),
    )

    def context(self, user, *, update: bool) -> FindingContext:
        kept = _kept(user)
        by_target: dict[tuple[int, str], list[Inspection]] = {}
        for i in kept:
            by_target.setdefault((i.year, i.target_key), []).append(i)
        ids = [i.id for i in kept]
        stored = set()
        if ids:
            stored = set(db.session.execute(select(Finding.inspection_id, Finding.item, Finding.description)
                                            .where(Finding.inspection_id.in_(ids))).tuples())
        return FindingContext(user=user, inspections=by_target, targets=_targets(kept), inspectors=_inspectors(kept),
                              stored=stored)

    def check(self, values, ctx: FindingContext) -> FindingRow:
        errors = Collector()
        year = _year(values["year"], errors)
        if values["target"] is None:
            errors.add("target", "请填写被督查对象")
        target = resolve(ctx.targets, values, "target", errors)
        inspector = resolve(ctx.inspectors, values, "inspector", errors)
        deadline = _date(values, "deadline", "整改期限", errors)
        visited_on = _date(values, "visit", "走访日期", errors)
        inspection = None
        if year is not None and target is not None:
            found = [i for i in ctx.inspections.get((year, target), [])
                     if inspector is None or i.inspector_region_code == inspector]
            if not found:
                errors.add("target", f"{year}年度您（或下级）的督查计划中没有该督查对象，请先在督查计划中列入")
            elif len(found) > 1:
                errors.add("inspector", f"{year}年度有{len(found)}个单位督查了该对象，请填写组织督查单位")
            else:
                inspection = found[0]
        visit_id = None
        if inspection is not None and visited_on is not None:
            visit = next((v for v in inspection.visits if v.visited_on == visited_on), None)
            if visit is None:
                errors.add("visit", f"该督查没有{date_cn(visited_on)}的走访记录，请先登记走访或留空")
            else:
                visit_id = visit.id
        description = values["description"]
        data = services.FindingData(item=values["item"], description=None if description is None else str(description),
                                    deadline=deadline, visit_id=visit_id)

        def checked() -> FindingRow:
            clean = services.check_finding(inspection, ctx.user, data)
            return FindingRow(inspection=inspection, data=data, description=clean["description"])

        # the rule is about one inspection: the year, target and inspector must name it
        return errors.then(checked, needs=("year", "target", "inspector"), columns=_COLUMN)

    key_fields = ("year", "target", "item", "description")

    def key(self, clean: FindingRow) -> tuple:
        return clean.natural

    def existing(self, clean: FindingRow, ctx: FindingContext):
        return clean.natural if clean.natural in ctx.stored else None

    def duplicate_message(self, clean: FindingRow) -> str:
        return "该督查对象同一事项下相同描述的问题已登记；问题登记后在问题页面登记整改、销号"

    def write(self, rows, ctx: FindingContext, user) -> tuple[int, int]:
        for clean, _ in rows:
            services.add_finding(clean.inspection, user, clean.data, commit=False)
        return len(rows), 0


def _year(value, errors: Collector) -> int | None:
    if value is None:
        errors.add("year", "请填写督查年度")
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().removesuffix("年")
    if text.endswith(".0"):  # a number cell
        text = text[:-2]
    if not (text.isascii() and text.isdigit() and len(text) == 4):
        errors.add("year", "督查年度应为4位年份，如 2025")
        return None
    return int(text)


def _date(values: dict, key: str, label: str, errors: Collector) -> date | None:
    """A date cell (a date, a serial number, or text such as 2026-06-30 or ２０２６年６月３０日)."""
    if values[key] is None:
        return None
    day = to_date(values[key])
    if day is None:
        errors.add(key, f"{label}格式应为 年-月-日，如 2026-06-30")
    return day


KINDS = (FindingImport,)
