"""帮扶主体 from a spreadsheet. Each row passes ``services.clean_organization``, the rule
the registration form uses, and is saved by ``create_organizations`` (all new ones in one
flush) or (when the user chose to update) ``update_organization``, audited as a form save.
The organizations a file names, and the holders of its credit codes, are read a batch at
a time before the rows are checked (``prefetch``)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select

from ..core.enums import MASS_ORG_SUBTYPES, ORG_LEVELS, PAIRED_SECTORS, PARTY_FEDERATION_SUBTYPES
from ..core.identity import mask_phone, normalize_credit_code
from ..core.queries import in_batches
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, read_flags, resolve, save_updates
from ..transfer.references import Lookup, labelled
from .forms import UNIT_KINDS, home_region_choices
from .models import Organization
from .services import clean_organization, create_organizations, credit_code_holders, update_organization

YES_NO = ("是", "否")
# 主体类型 as lists of units and enterprises write it (not 民营企业: that is 企业 and 民营企业
# 是, which a kind alone would lose)
KIND_SYNONYMS = {
    **dict.fromkeys(("国有企业", "国企", "公司"), "enterprise"),
    **dict.fromkeys(("部队", "驻湘部队单位"), "army_unit"),
    **dict.fromkeys(("慈善组织", "基金会", "公益组织"), "charity"),
    **dict.fromkeys(("群团", "群团单位"), "mass_org"),
    "后盾": "backing_unit",
    "对口帮扶": "paired_unit",
}
_LABELLED_CODE = re.compile(r"(\d{12})\D*$")  # 湖南省（430000000000）, or the code alone
SUBTYPES = {**MASS_ORG_SUBTYPES, **PARTY_FEDERATION_SUBTYPES, **PAIRED_SECTORS}


def organization_lookup(user) -> Lookup:
    """The organizations ``user`` may see, by 名称（信用代码）, credit code, or a unique name."""
    rows = db.session.execute(scoped(select(Organization.id, Organization.name, Organization.credit_code),
                                     Organization, user).order_by(Organization.name, Organization.id)).all()
    return Lookup({r.id: r.name for r in rows}, "帮扶主体", aliases={r.credit_code: r.id for r in rows if r.credit_code})


def organization_label(org: Organization) -> str:
    return labelled(org.name, org.credit_code) if org.credit_code else org.name


def _regions(user) -> Lookup:
    return Lookup({code: label.strip("\u3000") for code, label in home_region_choices(user)}, "行政区")


@dataclass
class OrganizationRow:
    values: dict
    existing: Organization | None


class OrganizationImport(ImportKind):
    name = "organizations"
    title = "帮扶主体"
    entity = "Organization"
    permission = "manage_organizations"
    list_endpoint = "organizations.index"
    fields = (
        Field("单位名称", "name", width=28, required=True, note="最多200字", example="湖南省示例厅",
              aliases=("企业名称", "单位", "名称")),
        Field("主体类型", "kind", width=16, required=True, codes=UNIT_KINDS, synonyms=KIND_SYNONYMS, example="后盾单位",
              aliases=("单位类型", "主体类别"), note="从下拉列表选择"),
        Field("类别/领域", "subtype", width=14, codes=SUBTYPES,
              note="群团组织填工会/共青团/妇联等；民主党派/工商联填其一；对口帮扶单位填对口领域；其他类型留空"),
        Field("单位层级", "level", width=10, codes=ORG_LEVELS, example="省直", note="可空"),
        Field("所在行政区", "region_code", width=26, required=True, aliases=("所在地", "所在地区", "行政区划"),
              choices=lambda user: _regions(user).labels(), example="湖南省（430000000000）",
              note="从下拉列表选择，或填12位行政区代码；须在您的管辖范围内"),
        Field("统一社会信用代码", "credit_code", width=22, note="18位；企业、公益慈善组织必填；同一代码只能登记一次"),
        Field("民营企业", "is_private", width=10, choices=lambda user: YES_NO, note="仅企业可填“是”；空白为否",
              aliases=("是否民营企业",)),
        Field("湘商回归企业", "is_xiangshang", width=12, choices=lambda user: YES_NO, note="仅企业可填“是”；空白为否",
              aliases=("是否湘商回归企业", "湘商回归")),
        Field("联系人", "contact_name", width=10, note="最多50字"),
        Field("联系电话", "contact_phone", width=16, note="手机或固定电话", aliases=("电话", "联系方式")),
        Field("地址", "address", width=30, note="最多200字", aliases=("通讯地址", "单位地址")),
        Field("备注", "note", width=30, note="最多2000字"),
    )

    def context(self, user, *, update: bool):
        return {"user": user, "regions": _regions(user)}

    prefetch_fields = ("name", "credit_code")

    def prefetch(self, rows, ctx) -> None:
        """The organizations the file names, read a batch at a time: by credit code (with
        the holder of every code, for the rule that a code is registered once) and by
        name (each row's own region is matched when the row is checked)."""
        codes, names = set(), set()
        for row in rows:
            if row.get("credit_code"):
                try:
                    codes.add(normalize_credit_code(str(row["credit_code"])))
                except RuleViolation:
                    pass  # the row's check says why
            if row.get("name"):
                names.add(str(row["name"]).strip())
        ctx["holders"] = credit_code_holders(codes)
        by_name: dict[tuple[str, str], Organization] = {}
        for batch in in_batches(names):
            for org in db.session.scalars(select(Organization).where(Organization.name.in_(batch)).order_by(Organization.id)):
                by_name.setdefault((org.name, org.region_code), org)
        ctx["names"], ctx["by_name"] = names, by_name

    def stored_rows(self, values, ctx) -> list[list]:
        """The export's rows for the organization the row names by credit code, or by
        name and 所在行政区, among those the user may see: its contact phone in full (where
        the user may see it) or masked."""
        from ..people.privacy import may_see_full_phone_of

        if "visible" not in ctx:
            rows = db.session.execute(scoped(select(Organization.id, Organization.name, Organization.region_code,
                                                    Organization.credit_code), Organization, ctx["user"])).all()
            ctx["visible"] = {**{("name", r.name, r.region_code): r.id for r in rows},
                              **{("credit", r.credit_code): r.id for r in rows if r.credit_code}}
        code = _LABELLED_CODE.search(str(values.get("region_code") or ""))
        try:
            key = (("credit", normalize_credit_code(str(values["credit_code"]))) if values.get("credit_code") else
                   ("name", str(values.get("name") or "").strip(), code and code.group(1)))
        except RuleViolation:
            return []
        found = ctx["visible"].get(key)
        if found is None:
            return []
        org = db.session.get(Organization, found)
        masked = mask_phone(org.contact_phone) if org.contact_phone else None
        shown = org.contact_phone if may_see_full_phone_of(ctx["user"], org) else masked
        return [export_row(org, shown), export_row(org, masked)]

    def check(self, values, ctx) -> OrganizationRow:
        errors = Collector()
        data = dict(values)
        data["region_code"] = resolve(ctx["regions"], values, "region_code", errors)
        data.update(read_flags(values, ("is_private", "is_xiangshang"), errors))
        for key in ("name", "credit_code", "contact_name", "contact_phone", "address", "note"):
            if data[key] is not None:
                data[key] = str(data[key])
        return errors.then(lambda: self._checked(data, ctx))

    def _checked(self, data: dict, ctx) -> OrganizationRow:
        existing = self._find(data, ctx)
        if existing is not None and existing.contact_phone and data["contact_phone"] == mask_phone(existing.contact_phone):
            data["contact_phone"] = existing.contact_phone  # the export's masked number: kept as stored
        return OrganizationRow(values=clean_organization(data, actor=ctx["user"], org=existing,
                                                         holders=ctx.get("holders")), existing=existing)

    def _find(self, data, ctx) -> Organization | None:
        """The organization stored under the row's key: its credit code, or its name and
        所在行政区 (from what ``prefetch`` read; looked up where it read nothing)."""
        if data.get("credit_code"):
            try:
                code = normalize_credit_code(data["credit_code"])
            except RuleViolation:
                return None
            holders = ctx.get("holders")
            if holders is not None and code in holders:
                return db.session.get(Organization, holders[code]) if holders[code] is not None else None
            return db.session.scalar(select(Organization).where(Organization.credit_code == code))
        name = (data["name"] or "").strip()
        if name in ctx.get("names", ()):
            return ctx["by_name"].get((name, data["region_code"]))
        return db.session.scalar(select(Organization).where(
            Organization.name == name, Organization.region_code == data["region_code"]))

    def key(self, clean: OrganizationRow) -> tuple:
        if clean.values.get("credit_code"):
            return ("credit", clean.values["credit_code"])
        return ("name", clean.values["name"], clean.values["region_code"])

    def key_columns(self, clean: OrganizationRow) -> tuple[str, ...]:
        return ("credit_code",) if clean.values.get("credit_code") else ("name", "region_code")

    def existing(self, clean: OrganizationRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: OrganizationRow) -> str:
        return f"帮扶主体“{clean.existing.name}”已登记；{UPDATE_HINT}"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        holders = ctx.get("holders")
        created = create_organizations([clean.values for clean, existing in rows if existing is None],
                                       actor=user, commit=False, holders=holders)
        return len(created), save_updates(rows, lambda clean, org: update_organization(
            org, clean.values, version=org.version, actor=user, commit=False, holders=holders))


def export_row(org: Organization, contact_phone: str) -> list:
    """An organization as a row of the import template (what the export writes)."""
    return [org.name, org.kind_label, org.subtype_label, org.level_label, labelled(org.region.name, org.region_code),
            org.credit_code, "是" if org.is_private else "否", "是" if org.is_xiangshang else "否", org.contact_name,
            contact_phone or None, org.address, org.note]


KINDS = (OrganizationImport,)
