"""结对关系 from a spreadsheet: each row passes ``services.create_pairing`` (and so
``check_pairing``, the rule the form uses). A pairing that already covers the same
organization, place and kind is refused by that rule, so a re-import adds nothing."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..core.enums import PAIRED_SECTORS, PAIRING_KINDS
from ..core.parsing import to_date
from ..core.rules import Collector
from ..extensions import db
from ..organizations.imports import organization_label, organization_lookup
from ..organizations.models import Organization
from ..organizations.services import in_jurisdiction
from ..regions.imports import place_lookup
from ..regions.models import Region
from ..transfer.importing import Field, ImportKind, resolve
from ..transfer.references import labelled
from ..transfer.writing import Column
from .models import Pairing
from .services import check_pairing, create_pairing


@dataclass
class PairingRow:
    organization_id: int
    values: dict


class PairingImport(ImportKind):
    name = "pairings"
    title = "结对关系"
    entity = "Pairing"
    permission = "manage_pairings"
    list_endpoint = "pairings.index"
    supports_update = False
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
        Field("结束日期", "end_date", "date", 12, note="不填表示长期"),
        Field("备注", "note", width=30, note="最多2000字"),
    )

    derived = (Column("状态", "status", width=8),)

    def context(self, user, *, update: bool):
        return {"user": user, "organizations": organization_lookup(user),
                "places": place_lookup(user, ("county", "village"))}

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
            check_pairing(organization=db.session.get(Organization, org_id) if org_id is not None else None,
                          region=db.session.get(Region, region_code) if region_code else None,
                          kind=data["kind"], sector=data["sector"],
                          start_date=data["start_date"], end_date=data["end_date"])
            return PairingRow(organization_id=org_id, values=data)

        # the rule's organization_id is the file's 帮扶主体 column
        return errors.then(checked, columns={"organization_id": "organization"})

    def key(self, clean: PairingRow) -> tuple:
        return (clean.organization_id, clean.values["region_code"], clean.values["kind"], clean.values["start_date"])

    def write(self, rows, ctx, user) -> tuple[int, int]:
        for clean, _ in rows:
            create_pairing(db.session.get(Organization, clean.organization_id), clean.values, actor=user, commit=False)
        return len(rows), 0


def export_row(p: Pairing) -> list:
    return [organization_label(p.organization), labelled(p.region.name, p.region_code), p.kind_label,
            p.sector_label or None, p.start_date, p.end_date, p.note, "有效" if p.is_active else "已结束"]


KINDS = (PairingImport,)
