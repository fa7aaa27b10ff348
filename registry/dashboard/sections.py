"""What other features add to the coverage page (``/coverage/<code>``) and to its JSON
answer (``/api/v1/coverage/<code>``); the dashboard imports none of them.

- A page card: ``@coverage_section``, ``fn(region, user, args) -> (template_name, context) | None``;
  ``args`` is the request's query string (a card may read a filter of its own from it).
- An API extra: ``@coverage_api_section(name, schema=..., parameters=...)``,
  ``fn(region, user, args) -> dict``: the answer's ``name`` member (always present), checked
  against ``schema`` (a JSON schema) by the OpenAPI document, which also lists the query
  ``parameters`` it reads. A bad argument raises ``RuleViolation`` naming it (4xx, before any
  figure is computed). ``watches``: the models whose rows the member is computed from; a
  flush changing any of them raises the change marker of every area (``AreaChange`` ``*``),
  so the API's cached answers (``coverage_cache``) are recomputed. A member that names none
  (``watches=None``) turns the API's cache off: its answers are always computed.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

_providers: list[Callable] = []


def coverage_section(fn: Callable) -> Callable:
    _providers.append(fn)
    return fn


def for_coverage(region, user, args) -> list[tuple[str, dict]]:
    return [found for found in (provider(region, user, args) for provider in _providers) if found]


@dataclass(frozen=True)
class ApiSection:
    name: str
    provider: Callable
    schema: dict
    parameters: tuple[dict, ...] = ()
    watches: tuple[type, ...] | None = None


_api_sections: dict[str, ApiSection] = {}


def coverage_api_section(name: str, *, schema: dict, parameters: tuple[dict, ...] | list[dict] = (),
                         watches: tuple[type, ...] | None = None) -> Callable:
    def decorator(fn: Callable) -> Callable:
        _api_sections[name] = ApiSection(name, fn, schema, tuple(parameters),
                                         tuple(watches) if watches is not None else None)
        return fn

    return decorator


def api_sections() -> list[ApiSection]:
    return list(_api_sections.values())


def for_coverage_api(region, user, args) -> dict:
    """The extras' members of the API answer, by name."""
    return {section.name: section.provider(region, user, args) for section in _api_sections.values()}


def watched_models() -> tuple[type, ...]:
    """The models the API's extras are computed from (their changes raise every marker)."""
    return tuple(model for section in _api_sections.values() for model in (section.watches or ()))


def api_cacheable() -> bool:
    """Whether every extra names what it is computed from (else no answer is cached)."""
    return all(section.watches is not None for section in _api_sections.values())
