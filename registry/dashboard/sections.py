"""Cards other features add to the coverage page (``/coverage/<code>``).

A provider is ``fn(region, user, args) -> (template_name, context) | None``; ``args`` is
the request's query string (a card may read a filter of its own from it).
"""
from __future__ import annotations

from collections.abc import Callable

_providers: list[Callable] = []


def coverage_section(fn: Callable) -> Callable:
    _providers.append(fn)
    return fn


def for_coverage(region, user, args) -> list[tuple[str, dict]]:
    return [found for found in (provider(region, user, args) for provider in _providers) if found]
