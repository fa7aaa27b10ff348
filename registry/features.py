"""The feature packages. Each may have ``models``, ``views`` (with ``bp``) and ``demo``
modules; the factory, Alembic and the demo generator find them here, so adding a feature
touches no shared file but this list."""
from __future__ import annotations

import importlib
import importlib.util

FEATURES = (
    "regions",
    "accounts",
    "audit",
    "organizations",
    "people",
    "individuals",
    "cadres",
    "pairings",
    "records",
    "training",
    "duty",
    "results",
    "projects",
    "chase",
    "assessment",
    "inspections",
    "tolerance",
    "care",
    "supervision",
    "closing",
    "scorecards",
    "dashboard",
    "transfer",
    "notifications",
    "offline",
    "main",
)


def modules(kind: str) -> list:
    """Import ``registry.<feature>.<kind>`` for every feature that has it."""
    found = []
    for feature in FEATURES:
        name = f"registry.{feature}.{kind}"
        if importlib.util.find_spec(f"registry.{feature}") is None:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        found.append(importlib.import_module(name))
    return found
