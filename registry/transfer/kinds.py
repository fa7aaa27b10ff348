"""The importable kinds, found in each feature's ``imports`` module (its ``KINDS``)."""
from __future__ import annotations

import functools

from ..features import modules
from .importing import ImportKind


@functools.cache
def kinds() -> dict[str, ImportKind]:
    """Every kind by name, found once per process: finding the modules asks the import
    system about each feature (~10 ms), and every import page and job asks for its kind.
    A kind holds its fields and nothing of an import in progress (that is its context's)."""
    found: dict[str, ImportKind] = {}
    for module in modules("imports"):
        for cls in getattr(module, "KINDS", ()):
            found[cls.name] = cls()
    return found


def get_kind(name: str) -> ImportKind | None:
    return kinds().get(name)
