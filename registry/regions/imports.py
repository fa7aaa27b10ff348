"""Villages from a spreadsheet: the rules of a village row, used by the web import, the
``flask import villages`` command and ``flask regions import-villages``."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core.parsing import check_text
from ..core.rules import Collector
from ..extensions import db
from ..core.scope import scoped
from ..transfer.importing import Field, ImportKind, read_flags
from ..transfer.references import Lookup
from ..transfer.writing import Column
from .models import Region

YES_NO = ("是", "否")
@dataclass
class VillageRow:
    code: str
    name: str
    township_code: str
    is_poor: bool
    is_key: bool
    is_relocation: bool


@dataclass
class VillageContext:
    townships: set[str]
    existing: dict[str, Region]
    demo: bool = False


class VillageImport(ImportKind):
    name = "villages"
    title = "村"
    entity = "Region"
    permission = "manage_reference"
    needs_actor = False
    list_endpoint = "regions.detail"

    def list_args(self, user) -> dict:
        return {"code": getattr(user, "region_code", None) or "430000000000"}
    fields = (
        Field("村代码", "code", width=16, required=True, aliases=("代码", "区划代码"),
              note="12位统计用区划代码，前9位为所属乡镇代码，后3位不为000", example="430102001201"),
        Field("村名称", "name", width=16, required=True, aliases=("名称",), note="最多100字", example="示例村"),
        Field("乡镇代码", "township_code", width=16, required=True, note="所属乡镇的12位代码（须已在系统中）",
              example="430102001000"),
        Field("脱贫村", "is_poor", width=10, choices=lambda user: YES_NO, note="填“是”或“否”，空白为否", example="否"),
        Field("重点帮扶村", "is_key", width=12, choices=lambda user: YES_NO, note="填“是”或“否”，空白为否", example="否"),
        Field("易地扶贫搬迁安置点", "is_relocation", width=18, choices=lambda user: YES_NO,
              note="填“是”或“否”，空白为否", example="否"),
    )

    derived = (Column("所属乡镇", "township", width=16),)

    demo = False  # set on an instance to mark imported villages as demo data

    def context(self, user, *, update: bool) -> VillageContext:
        townships = set(db.session.scalars(select(Region.code).where(Region.level == "township")))
        existing = {r.code: r for r in db.session.scalars(select(Region).where(Region.level == "village"))}
        return VillageContext(townships=townships, existing=existing, demo=self.demo)

    def check(self, values, ctx: VillageContext) -> VillageRow:
        errors = Collector()
        code = str(values["code"] or "").strip()
        name = str(values["name"] or "").strip()
        township = str(values["township_code"] or "").strip()
        errors.check(len(code) == 12 and code.isdigit(), "code", "村代码应为12位数字")
        if not name:
            errors.add("name", "村名称不能为空")
        elif len(name) > 100:
            errors.add("name", "村名称过长（最多100字）")
        else:
            check_text(name, "name", "村名称", errors)
        if township not in ctx.townships:
            errors.add("township_code", "乡镇代码不存在")
        elif len(code) == 12 and not code.startswith(township[:9]):
            errors.add("code", f"村代码前9位应与所属乡镇代码一致（{township[:9]}）")
        elif code[9:] == "000":
            errors.add("code", "村代码后3位不能为000")
        flags = read_flags(values, ("is_poor", "is_key", "is_relocation"), errors)
        errors.raise_if_any()
        return VillageRow(code=code, name=name, township_code=township, **flags)

    key_fields = ("code",)

    def key(self, clean: VillageRow) -> tuple:
        return (clean.code,)

    def existing(self, clean: VillageRow, ctx: VillageContext):
        return ctx.existing.get(clean.code)

    def write(self, rows, ctx: VillageContext, user) -> tuple[int, int]:
        created = updated = 0
        for clean, village in rows:
            flags = {"is_poor": clean.is_poor, "is_key": clean.is_key, "is_relocation": clean.is_relocation}
            if village is None:
                db.session.add(Region(code=clean.code, name=clean.name, level="village",
                                      parent_code=clean.township_code, is_demo=ctx.demo, **flags))
                created += 1
                continue
            if village.name == clean.name and all(getattr(village, k) == v for k, v in flags.items()):
                continue  # unchanged: not touched, so its area's summaries are not recomputed
            village.name = clean.name
            for key, value in flags.items():
                setattr(village, key, value)
            updated += 1
        db.session.flush()
        return created, updated


def export_row(village: Region) -> list:
    """A village in ``VillageImport.export_columns()`` order."""
    return [village.code, village.name, village.parent_code, village.is_poor, village.is_key, village.is_relocation,
            village.parent.name if village.parent is not None else None]


def place_lookup(user, levels: tuple[str, ...]) -> Lookup:
    """Regions of ``levels`` in ``user``'s scope, by 名称（代码）, code, or a unique name."""
    rows = db.session.execute(scoped(select(Region.code, Region.name).where(Region.level.in_(levels)), Region, user)
                              .order_by(Region.code)).all()
    return Lookup({r.code: r.name for r in rows}, "行政区" if "village" not in levels else "村或行政区")


KINDS = (VillageImport,)
