"""结对关系 from a spreadsheet: each row passes ``services.check_pairing``, the rule the
form uses, and the new ones are saved by ``create_pairings`` (one flush; the rule again,
under the lock). A pairing that already covers the same organization, place and kind is
refused by that rule, so a re-import adds nothing; a row whose period overlaps an earlier
row's of the same organization, place and kind is refused by row too. The organizations,
places and pairings the file names are read a batch at a time (``prefetch``).

In an update a row naming a stored pairing (its unit, place, kind and start date) may
end it: an end date where there was none, or an earlier one than planned, checked and
written as the pairing page's 结束结对 (``services.check_ending`` and ``end_pairing``,
audited the same); text added to its 备注 then becomes the ending's note. A stored
pairing's other cells cannot change (the page has no edit either: a pairing is ended and
another registered), and rows the export wrote, left alone, are skipped."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..core.enums import PAIRED_SECTORS, PAIRING_KINDS
from ..core.parsing import to_date
from ..core.queries import in_batches
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..organizations.imports import organization_label, organization_lookup
from ..organizations.models import Organization
from ..organizations.services import in_jurisdiction
from ..regions.imports import place_lookup
from ..regions.models import Region
from ..transfer.importing import Field, ImportKind, choose, resolve
from ..transfer.references import labelled
from ..transfer.writing import Column
from .models import Pairing
from .services import check_ending, check_pairing, create_pairings, end_pairing, same_pairings


@dataclass
class PairingRow:
    organization_id: int
    values: dict
    existing: Pairing | None = None  # in an update: the stored pairing the row names
    end_note: str | None = None  # text the row added to the stored 备注, as the ending's note


class PairingImport(ImportKind):
    name = "pairings"
    title = "结对关系"
    entity = "Pairing"
    permission = "manage_pairings"
    list_endpoint = "pairings.index"
    fields = (
        Field("帮扶主体", "organization", width=30, required=True,
              choices=lambda user: organization_lookup(user).labels(), example="湖南省示例厅",
              note="单位名称，或“名称（统一社会信用代码）”；须是您能看到的已登记帮扶主体"),
        Field("结对地", "region_code", width=30, required=True,
              choices=lambda user: place_lookup(user, ("county", "village")).labels(),
              example="示例村（430102001201）", note="村（社区）或县市区：“名称（12位代码）”或12位代码；须在您的管辖范围内"),
        Field("结对类型", "kind", width=16, required=True, codes=PAIRING_KINDS, example="驻村帮扶"),
        Field("帮扶领域", "sector", width=12, codes=PAIRED_SECTORS, note="对口帮扶必填，其他类型留空"),
        Field("开始日期", "start_date", "date", 12, required=True, example=date(2026, 1, 1),
              note="如 2026-01-01、2026/1/1 或 2026年1月1日"),
        Field("结束日期", "end_date", "date", 12,
              note="不填表示长期；勾选“更新已有数据”导入时，给已登记的结对填上结束日期即结束该结对（不能晚于今天）"),
        Field("备注", "note", width=30,
              note="最多2000字；结束已登记的结对时，在原备注后补充的文字作为结束说明，原备注不能删改"),
    )

    derived = (Column("状态", "status", width=8),)

    def context(self, user, *, update: bool):
        return {"user": user, "update": update, "organizations": organization_lookup(user),
                "places": place_lookup(user, ("county", "village"))}

    prefetch_fields = ("organization", "region_code")

    def prefetch(self, rows, ctx) -> None:
        """The organizations and places the file names, and the pairings they hold (with
        which of them the user may see), read a batch at a time, instead of a few
        look-ups a row."""
        org_ids, codes = set(), set()
        for row in rows:
            for key, lookup, found in (("organization", ctx["organizations"], org_ids),
                                       ("region_code", ctx["places"], codes)):
                try:
                    value = lookup.resolve(row.get(key), key) if row.get(key) is not None else None
                except RuleViolation:
                    continue  # the row's check says why
                if value is not None:
                    found.add(value)
        ctx["orgs"] = _by_key(Organization, Organization.id, org_ids)
        ctx["regions"] = _by_key(Region, Region.code, codes)
        ctx["same"] = same_pairings(ctx["orgs"], ctx["regions"])
        ids = [p.id for pairings in ctx["same"].values() for p in pairings]
        ctx["visible"] = {id_ for batch in in_batches(ids) for id_ in db.session.scalars(
            scoped(select(Pairing.id), Pairing, ctx["user"]).where(Pairing.id.in_(batch)))}

    def stored_rows(self, values, ctx) -> list[list]:
        """The export's row of the stored pairing the row names (unit, place, kind and
        start date), if the user may see it."""
        try:
            org_id = ctx["organizations"].resolve(values.get("organization"), "organization")
            region_code = ctx["places"].resolve(values.get("region_code"), "region_code")
            kind = choose(values.get("kind"), PAIRING_KINDS, "kind")  # as the row's check reads the cell
        except RuleViolation:
            return []
        found = _stored(ctx, org_id, region_code, kind, to_date(values.get("start_date")))
        return [export_row(found)] if found is not None else []

    def check(self, values, ctx) -> PairingRow:
        errors = Collector()
        org_id = resolve(ctx["organizations"], values, "organization", errors)
        region_code = resolve(ctx["places"], values, "region_code", errors)
        dates = {}
        for key, label in (("start_date", "开始日期"), ("end_date", "结束日期")):
            dates[key] = to_date(values[key])
            if values[key] is not None and dates[key] is None:
                errors.add(key, f"{label}格式应为 年-月-日，如 2026-01-01")
        if region_code and not in_jurisdiction(ctx["user"], region_code):
            errors.add("region_code", "结对地不在您的管辖范围内")
        data = {"region_code": region_code, "kind": values["kind"], "sector": values["sector"],
                "start_date": dates["start_date"], "end_date": dates["end_date"],
                "note": str(values["note"]) if values["note"] is not None else None}

        def checked() -> PairingRow:
            stored = _stored(ctx, org_id, region_code, data["kind"], data["start_date"]) if ctx["update"] else None
            if stored is not None:
                return _ending(stored, org_id, data, ctx["user"])
            same = _same(ctx, org_id, region_code, data["kind"])
            check_pairing(organization=_get(ctx, "orgs", Organization, org_id), region=_get(ctx, "regions", Region, region_code),
                          kind=data["kind"], sector=data["sector"],
                          start_date=data["start_date"], end_date=data["end_date"], same=same)
            if same is not None:  # the rows below are compared with this one too
                same.append(Pairing(organization_id=org_id, region_code=region_code, **{
                    key: data[key] for key in ("kind", "start_date", "end_date")}))
            return PairingRow(organization_id=org_id, values=data)

        # the rule's organization_id is the file's 帮扶主体 column
        return errors.then(checked, columns={"organization_id": "organization"})

    key_fields = ("organization", "region_code", "kind", "start_date")

    def key(self, clean: PairingRow) -> tuple:
        return (clean.organization_id, clean.values["region_code"], clean.values["kind"], clean.values["start_date"])

    def existing(self, clean: PairingRow, ctx):
        return clean.existing

    def write(self, rows, ctx, user) -> tuple[int, int]:
        created = len(create_pairings([(_get(ctx, "orgs", Organization, clean.organization_id), clean.values)
                                       for clean, stored in rows if stored is None], actor=user, commit=False))
        ended = 0
        for clean, stored in rows:
            if stored is None:
                continue
            if clean.values["end_date"] != stored.end_date:
                end_pairing(stored, end_date=clean.values["end_date"], note=clean.end_note, version=stored.version,
                            actor=user, commit=False)
                ended += 1
        return created, ended


def _by_key(model, column, keys) -> dict:
    """The rows of ``model`` whose ``column`` is one of ``keys``, by it (held here, so the
    session's map keeps them for ``_get``)."""
    return {getattr(row, column.key): row for batch in in_batches(keys)
            for row in db.session.scalars(select(model).where(column.in_(batch)))}


def _get(ctx, name: str, model, key):
    """The organization or place ``prefetch`` read (looked up if it read none)."""
    if key is None or key == "":
        return None
    found = ctx.get(name, {}).get(key)
    return found if found is not None else db.session.get(model, key)


def _same(ctx, org_id, region_code, kind) -> list[Pairing] | None:
    """The pairings ``check_pairing`` compares a row's with, from what ``prefetch`` read
    (None: it read nothing of this organization and place, the rule looks them up)."""
    if "same" not in ctx or org_id not in ctx["orgs"] or region_code not in ctx["regions"]:
        return None
    return ctx["same"].setdefault((org_id, region_code, kind), [])


def _stored(ctx, org_id, region_code, kind, start_date) -> Pairing | None:
    """The stored pairing of ``org_id`` at ``region_code`` of ``kind`` from ``start_date``
    (the import's natural key), if the importing user may see it."""
    if not (org_id and region_code and kind and start_date):
        return None
    same = _same(ctx, org_id, region_code, kind)
    if same is not None:
        return next((p for p in same if p.id is not None and p.start_date == start_date and p.id in ctx["visible"]), None)
    return db.session.scalar(scoped(select(Pairing), Pairing, ctx["user"]).where(
        Pairing.organization_id == org_id, Pairing.region_code == region_code, Pairing.kind == kind,
        Pairing.start_date == start_date))


def _ending(stored: Pairing, org_id: int, data: dict, user) -> PairingRow:
    """A row of an update naming ``stored``: it may end the pairing (the page's rule),
    nothing else; text added to the stored 备注 is the ending's note."""
    row = PairingRow(organization_id=org_id, values=data, existing=stored)
    ending = data["end_date"] != stored.end_date
    errors = Collector()
    if (data["sector"] or None) != (stored.sector or None):
        errors.add("sector", "已登记的结对关系不能修改帮扶领域；如需调整，请结束该结对后另行登记")
    note, kept = data["note"] or "", stored.note or ""
    if note.strip() != kept.strip():
        added = note[len(kept):].strip() if note.startswith(kept) else note.strip()
        if not ending:
            errors.add("note", "已登记的结对关系的备注不能修改；结束结对时可在备注后补充结束说明")
        elif not added:
            errors.add("note", "结束结对时备注只能在原备注后补充说明，不能删改原备注")
        else:
            row.end_note = added
    errors.raise_if_any()
    if ending:
        check_ending(stored, data["end_date"], user)
    return row


def export_row(p: Pairing) -> list:
    return [organization_label(p.organization), labelled(p.region.name, p.region_code), p.kind_label,
            p.sector_label or None, p.start_date, p.end_date, p.note, "有效" if p.is_active else "已结束"]


KINDS = (PairingImport,)
