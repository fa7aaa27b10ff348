"""Loading divisions, importing villages, and the region tree figures."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import case, func, select

from ..audit.services import record
from ..core.enums import PREFIX_LENGTH
from ..core.rules import RuleViolation
from ..core.tabular import read_rows
from ..extensions import db
from .models import Region

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DIVISIONS_CSV = SEEDS / "hunan_divisions.csv"


def load_divisions(path: Path = DIVISIONS_CSV) -> int:
    """Load province, cities, counties and townships; existing codes are kept."""
    existing = set(db.session.scalars(select(Region.code).where(Region.level != "village")))
    added = 0
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["code"] in existing:
                continue
            db.session.add(
                Region(
                    code=row["code"],
                    name=row["name"],
                    level=row["level"],
                    parent_code=row["parent_code"] or None,
                    kind=row["kind"],
                )
            )
            added += 1
    db.session.flush()
    if added:
        record("load_divisions", "Region", after={"added": added}, summary=f"载入行政区划 {added} 条")
    return added


# Accepted headers for a village import: English or the Chinese a county office uses.
VILLAGE_COLUMNS = {
    "code": ("code", "村代码", "代码", "区划代码"),
    "name": ("name", "村名称", "名称"),
    "township_code": ("township_code", "乡镇代码"),
    "is_poor": ("is_poor", "脱贫村"),
    "is_key": ("is_key", "重点帮扶村"),
    "is_relocation": ("is_relocation", "易地扶贫搬迁安置点"),
}
_TRUE = {"1", "是", "true", "yes", "y", "√", "TRUE", "True"}
_FALSE = {"", "0", "否", "false", "no", "n", "FALSE", "False"}


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def _pick(row: dict[str, str], key: str) -> str:
    for header in VILLAGE_COLUMNS[key]:
        if header in row:
            return (row[header] or "").strip()
    return ""


def import_villages(source, filename: str | None = None, *, demo: bool = False) -> ImportResult:
    """All or nothing: every row is checked; nothing is written unless all pass."""
    result = ImportResult()
    townships = {
        code: name for code, name in db.session.execute(select(Region.code, Region.name).where(Region.level == "township"))
    }
    existing = {r.code: r for r in db.session.scalars(select(Region).where(Region.level == "village"))}
    seen: set[str] = set()
    parsed = []
    for number, row in read_rows(source, filename):
        result.rows += 1
        code, name, township = _pick(row, "code"), _pick(row, "name"), _pick(row, "township_code")
        before = len(result.errors)
        if not (len(code) == 12 and code.isdigit()):
            result.errors.append((number, "code", "村代码应为12位数字"))
        elif code in seen:
            result.errors.append((number, "code", "村代码在文件中重复"))
        if not name:
            result.errors.append((number, "name", "村名称不能为空"))
        elif len(name) > 100:
            result.errors.append((number, "name", "村名称过长（最多100字）"))
        if township not in townships:
            result.errors.append((number, "township_code", "乡镇代码不存在"))
        elif len(code) == 12 and not code.startswith(township[:9]):
            result.errors.append((number, "code", f"村代码前9位应与所属乡镇代码一致（{township[:9]}）"))
        elif code[9:] == "000":
            result.errors.append((number, "code", "村代码后3位不能为000"))
        flags = {}
        for key in ("is_poor", "is_key", "is_relocation"):
            raw = _pick(row, key)
            if raw in _TRUE:
                flags[key] = True
            elif raw in _FALSE:
                flags[key] = False
            else:
                result.errors.append((number, key, "应填“是”或“否”"))
        seen.add(code)
        if len(result.errors) == before:
            parsed.append((code, name, township, flags))
    if result.rows == 0:
        result.errors.append((0, "file", "文件中没有数据行"))
    if result.errors:
        return result
    for code, name, township, flags in parsed:
        village = existing.get(code)
        if village is None:
            db.session.add(Region(code=code, name=name, level="village", parent_code=township, is_demo=demo, **flags))
            result.created += 1
        else:
            changed = village.name != name or any(getattr(village, k) != v for k, v in flags.items())
            village.name = name
            for key, value in flags.items():
                setattr(village, key, value)
            result.updated += int(changed)
    db.session.flush()
    record(
        "import_villages",
        "Region",
        after={"rows": result.rows, "created": result.created, "updated": result.updated},
        summary=f"导入村 {result.rows} 行：新增 {result.created}，更新 {result.updated}",
    )
    return result


def set_key_county(code: str, is_key: bool = True) -> Region:
    county = db.session.get(Region, code)
    if county is None or county.level != "county":
        raise RuleViolation("县市区代码不存在", "code")
    before = {"is_key": county.is_key}
    county.is_key = is_key
    record("update", county, before=before, after={"is_key": is_key}, summary=f"{county.name} 重点帮扶县：{'是' if is_key else '否'}",
           region_code=county.code)
    return county


@dataclass
class ChildRow:
    region: Region
    villages: int
    key_villages: int


def children_with_counts(region: Region) -> list[ChildRow]:
    """The region's children with their village and key-village counts (one grouped
    range scan over villages, one query for the children)."""
    child_level = region.child_level
    if child_level is None:
        return []
    children = db.session.scalars(
        select(Region).where(Region.parent_code == region.code).order_by(Region.code)
    ).all()
    n = PREFIX_LENGTH[child_level]
    prefix = func.substr(Region.code, 1, n)
    counts = {
        p: (total, key or 0)
        for p, total, key in db.session.execute(
            select(prefix, func.count(), func.sum(case((Region.is_key, 1), else_=0)))
            .where(Region.level == "village", region.within(Region.code))
            .group_by(prefix)
        )
    }
    return [ChildRow(c, *counts.get(c.code[:n], (0, 0))) for c in children]


def village_count(region: Region) -> tuple[int, int]:
    total, key = db.session.execute(
        select(func.count(), func.sum(case((Region.is_key, 1), else_=0))).where(
            Region.level == "village", region.within(Region.code)
        )
    ).one()
    return total, key or 0
