"""How a spreadsheet names a region, a village or an organisation.

Templates offer "名称（代码）" in their drop-downs ("芙蓉区（430102000000）"); the import
accepts that, the bare 12-digit code, or a name that is unique among the places the user
may choose. Anything else is an error naming what was not found.
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from ..core.rules import RuleViolation

_CODE_IN_BRACKETS = re.compile(r"[（(]\s*(\d{12}|\d{1,9})\s*[)）]\s*$")


def labelled(name: str, code) -> str:
    return f"{name}（{code}）"


class Lookup:
    """Names and codes of the things a user may pick, for resolving a cell to a key."""

    def __init__(self, items: dict, noun: str):
        self.items = items  # key (code or id) -> name
        self.noun = noun
        self.by_name: dict[str, list] = defaultdict(list)
        for key, name in items.items():
            self.by_name[_norm(name)].append(key)

    def labels(self) -> list[str]:
        return [labelled(name, key) for key, name in self.items.items()]

    def resolve(self, value, field_key: str):
        if value is None:
            return None
        text = _norm(value)
        match = _CODE_IN_BRACKETS.search(text)
        if match:
            key = self._key(match.group(1))
            if key in self.items:
                return key
            raise RuleViolation(f"{self.noun}“{value}”不存在或不在您的范围内", field_key)
        key = self._key(text)
        if key in self.items:
            return key
        found = self.by_name.get(text, [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise RuleViolation(f"名为“{value}”的{self.noun}不止一个，请写成“名称（代码）”，可从模板的下拉列表中选择", field_key)
        raise RuleViolation(f"{self.noun}“{value}”不存在或不在您的范围内", field_key)

    def _key(self, text: str):
        if not self.items:
            return text
        sample = next(iter(self.items))
        if isinstance(sample, int):
            return int(text) if text.isdigit() else None
        return text


def _norm(value) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
