"""Loading divisions, importing villages, and the region tree figures."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from flask import abort
from sqlalchemy import case, func, select

from ..audit.services import record
from ..core.enums import PREFIX_LENGTH
from ..core.rules import RuleViolation
from ..core.scope import get_in_scope_or_404
from ..extensions import db
from .models import Region

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DIVISIONS_CSV = SEEDS / "hunan_divisions.csv"


def village_arg(args) -> Region | None:
    """``?village=``: the village a list is narrowed to (the village page's links to its
    postings and pairings, and their exports): None when absent; 404 when it is not the
    code of a village the user may see, as that village's own page would be."""
    code = (args.get("village") or "").strip()
    if not code:
        return None
    if not (len(code) == 12 and code.isdigit()):
        abort(404)
    village = get_in_scope_or_404(Region, code)
    if village.level != "village":
        abort(404)
    return village


def narrowing_filters(org_label: str, org, village: Region | None) -> list[tuple[str, str]]:
    """What a list is narrowed to outside its filter form (``?org=`` under ``org_label``,
    ``village_arg``'s village), as its export writes it among its filters."""
    pairs = [(org_label, org.name)] if org is not None else []
    return pairs + ([("村", f"{village.name}（{village.code}）")] if village is not None else [])


def narrowing_args(org, village: Region | None) -> dict[str, str]:
    """The query arguments that keep a list narrowed to an organization (``?org=``) or a
    village (``?village=``) when its filter form is sent again."""
    return {key: str(value) for key, value in (("org", org.id if org else None),
                                               ("village", village.code if village else None)) if value}


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


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, message)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_villages(source, filename: str | None = None, *, demo: bool = False) -> ImportResult:
    """All or nothing, updating villages already present (the reference-data loader).

    The row rules are ``VillageImport``'s, shared with the web import and ``flask import``.
    Does not commit."""
    from ..transfer.importing import run_import
    from .imports import VillageImport

    if isinstance(source, (str, Path)):
        data = Path(source).read_bytes()
        filename = filename or Path(source).name
    else:
        data = source.read()
        filename = filename or getattr(source, "name", "")
    spec = VillageImport()
    spec.demo = demo
    report = run_import(spec, data, filename or "", None, update=True, commit=False)
    return ImportResult(rows=report.rows, created=report.created, updated=report.updated,
                        errors=[(e.row, e.column, e.message) for e in report.errors])


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
