"""Cards other features add to an organization's page.

A provider is ``fn(organization, user) -> (template_name, context) | None``.
"""
from __future__ import annotations

from collections.abc import Callable

_providers: list[Callable] = []


def organization_section(fn: Callable) -> Callable:
    _providers.append(fn)
    return fn


def for_organization(org, user) -> list[tuple[str, dict]]:
    return [found for found in (provider(org, user) for provider in _providers) if found]
