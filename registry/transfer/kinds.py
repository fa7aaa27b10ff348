"""The importable kinds, found in each feature's ``imports`` module (its ``KINDS``)."""
from __future__ import annotations

from ..features import modules
from .importing import ImportKind


def kinds() -> dict[str, ImportKind]:
    found: dict[str, ImportKind] = {}
    for module in modules("imports"):
        for cls in getattr(module, "KINDS", ()):
            found[cls.name] = cls()
    return found


def get_kind(name: str) -> ImportKind | None:
    return kinds().get(name)
