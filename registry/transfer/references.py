"""How a spreadsheet names a region, a village or an organisation.

Templates offer "名称（代码）" in their drop-downs ("芙蓉区（430102000000）"); the import
accepts that, the bare 12-digit code, or a name that is unique among the places the user
may choose; a place also by its name after its township's, or its county's and township's
("峒河街道茶园村", "吉首市峒河街道茶园村"), as rosters and ledgers write a village. Anything
else is an error naming what was not found.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from sqlalchemy import select

from ..core.queries import in_batches
from ..core.rules import RuleViolation
from ..extensions import db
from ..regions.models import Region

_CODE_IN_BRACKETS = re.compile(r"[（(]\s*([0-9A-Za-z]{1,18})\s*[)）]\s*$")


def labelled(name: str, code) -> str:
    return f"{name}（{code}）"


class Lookup:
    """Names and codes of the things a user may pick, for resolving a cell to a key."""

    def __init__(self, items: dict, noun: str, aliases: dict | None = None):
        self.items = items  # key (code or id) -> name
        self.noun = noun
        self.aliases = {str(k).upper(): v for k, v in (aliases or {}).items()}  # e.g. credit code -> id
        self.by_name: dict[str, list] = defaultdict(list)
        for key, name in items.items():
            self.by_name[_norm(name)].append(key)
        self._qualified: dict[str, list] | None = None  # places by "township + name", read when first needed

    def labels(self) -> list[str]:
        by_key = {v: k for k, v in self.aliases.items()}
        return [labelled(name, by_key.get(key, key)) for key, name in self.items.items()]

    def resolve(self, value, field_key: str):
        if value is None:
            return None
        text = _norm(value)
        match = _CODE_IN_BRACKETS.search(text)
        if match:
            inner = match.group(1)
            if inner.upper() in self.aliases:
                return self.aliases[inner.upper()]
            key = self._key(inner)
            if key in self.items:
                return key
            raise RuleViolation(f"{self.noun}“{value}”不存在或不在您的范围内", field_key)
        if text.upper() in self.aliases:
            return self.aliases[text.upper()]
        key = self._key(text)
        if key in self.items:
            return key
        found = self.by_name.get(text, []) or self.qualified().get(text, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise RuleViolation(f"名为“{value}”的{self.noun}不止一个，请写成“名称（代码）”，可从模板的下拉列表中选择", field_key)
        raise RuleViolation(f"{self.noun}“{value}”不存在或不在您的范围内", field_key)

    def qualified(self) -> dict[str, list]:
        """Where the keys are division codes: each place's name after its township's, its
        county's, and both ("峒河街道茶园村", "吉首市茶园村", "吉首市峒河街道茶园村"), read once,
        the first time a cell is none of the plain names."""
        if self._qualified is None:
            self._qualified = defaultdict(list)
            codes = [key for key in self.items if isinstance(key, str) and len(key) == 12 and key.isdigit()]
            if codes:
                above = _names_above(codes)
                for code in codes:
                    county, township = above.get(code[:6] + "000000"), above.get(code[:9] + "000")
                    name = _norm(self.items[code])
                    county = county if county and code[6:] != "000000" else None
                    township = township if township and code[9:] != "000" else None
                    for prefix in {county, township, (county or "") + (township or "") if county and township else None}:
                        if prefix:
                            self._qualified[_norm(prefix) + name].append(code)
        return self._qualified

    def _key(self, text: str):
        if not self.items:
            return text
        sample = next(iter(self.items))
        if isinstance(sample, int):
            return int(text) if text.isdigit() else None
        return text


def _names_above(codes: list[str]) -> dict[str, str]:
    """The names of the counties and townships the places ``codes`` lie in, by code."""
    above = {code[:6] + "000000" for code in codes} | {code[:9] + "000" for code in codes}
    return {code: name for batch in in_batches(above)
            for code, name in db.session.execute(select(Region.code, Region.name).where(Region.code.in_(batch)))}


def _norm(value) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
