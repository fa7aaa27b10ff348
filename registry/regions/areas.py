"""The county and township of a place, read from its code's prefixes, and the county /
township filter of a worklist (the gaps, the overdue records): the choices under the
list's region and the region a choice narrows the list to."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flask import abort
from sqlalchemy import select

from ..core.enums import PREFIX_LENGTH
from ..extensions import db
from .models import Region


def above(code: str, level: str) -> str:
    """The code of the county or township (``level``) a place lies in; "" if the place
    lies above that level."""
    levels = list(PREFIX_LENGTH)
    start, n = PREFIX_LENGTH[levels[levels.index(level) - 1]], PREFIX_LENGTH[level]
    if not code or len(code) != 12 or set(code[start:n]) == {"0"}:  # no digits of that level
        return ""
    return code[:n] + "0" * (12 - n)


class Areas:
    """County and township names of places, each name looked up once (``preload`` reads
    those of many places in one query)."""

    def __init__(self):
        self.names: dict[str, str] = {}

    def preload(self, codes: Iterable[str]) -> Areas:
        wanted = {above(c, level) for c in codes for level in ("county", "township")} - {""} - set(self.names)
        if wanted:
            found = dict(db.session.execute(select(Region.code, Region.name).where(Region.code.in_(sorted(wanted)))).all())
            self.names.update({code: found.get(code, "") for code in wanted})
        return self

    def _name(self, code: str) -> str:
        if code and code not in self.names:
            self.names[code] = db.session.scalar(select(Region.name).where(Region.code == code)) or ""
        return self.names.get(code, "")

    def of(self, code: str) -> tuple[str, str]:
        """(county name, township name) of the place ``code``."""
        return self._name(above(code, "county")), self._name(above(code, "township"))

    def add(self, item: dict, code: str) -> dict:
        item["county"], item["township"] = self.of(code)
        return item


@dataclass
class AreaFilter:
    """A list's region narrowed to a county and/or township chosen under it."""

    root: Region
    county: Region | None = None
    township: Region | None = None
    counties: list[Region] = field(default_factory=list)
    townships: list[Region] = field(default_factory=list)

    @property
    def region(self) -> Region:
        return self.township or self.county or self.root

    @property
    def args(self) -> dict:
        """The query arguments that make this filter (for links and exports)."""
        return {"county": self.county.code if self.county else None,
                "township": self.township.code if self.township else None}

    @property
    def shown(self) -> list[tuple[str, str]]:
        return [("县（市、区）", self.county.name if self.county else ""),
                ("乡镇（街道）", self.township.name if self.township else "")]


def _chosen(args: Mapping[str, str], name: str, level: str, within: Region) -> Region | None:
    code = (args.get(name) or "").strip()
    if not code:
        return None
    region = db.session.get(Region, code) if len(code) == 12 and code.isdigit() else None
    if region is None or region.level != level or not within.contains(region.code):
        abort(404)  # not a place of the list: as if it did not exist
    return region


def _under(region: Region, level: str) -> list[Region]:
    lo, hi = region.range()
    return list(db.session.scalars(
        select(Region).where(Region.level == level, Region.code.between(lo, hi)).order_by(Region.code)))


def area_filter(root: Region, args: Mapping[str, str]) -> AreaFilter:
    """The ``county`` and ``township`` arguments of a list under ``root`` (already in the
    user's scope). A code that is not a county or township under ``root`` is a 404. The
    choices: the counties under ``root``, the townships of the county chosen (or of
    ``root`` itself when it is a county)."""
    levels = list(PREFIX_LENGTH)
    depth = levels.index(root.level)
    county = _chosen(args, "county", "county", root) if depth < levels.index("county") else None
    township = _chosen(args, "township", "township", root) if depth < levels.index("township") else None
    if township is not None and county is not None and not county.contains(township.code):
        township = None  # the county was changed and the township left as it was: the county wins
    out = AreaFilter(root, county, township)
    if depth < levels.index("county"):
        out.counties = _under(root, "county")
    if county is not None or root.level == "county":
        out.townships = _under(county or root, "township")
    return out


__all__ = ["AreaFilter", "Areas", "above", "area_filter"]
