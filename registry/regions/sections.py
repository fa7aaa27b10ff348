"""Sections other features add to region and village pages.

A provider is ``fn(region, user) -> (template_name, context) | None``.
"""
from __future__ import annotations

from collections.abc import Callable

_providers: list[Callable] = []


def section(fn: Callable) -> Callable:
    _providers.append(fn)
    return fn


def for_region(region, user) -> list[tuple[str, dict]]:
    out = []
    for provider in _providers:
        result = provider(region, user)
        if result:
            out.append(result)
    return out
