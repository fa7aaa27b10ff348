"""Home-page panels per role. Features register a function that returns a panel
(title, rows, link) or None for the user; the home page shows them in order."""
from __future__ import annotations

from collections.abc import Callable

_providers: list[Callable] = []


def panel(fn: Callable) -> Callable:
    _providers.append(fn)
    return fn


def panels_for(user) -> list[dict]:
    out = []
    for provider in _providers:
        result = provider(user)
        if result:
            out.append(result)
    return out
