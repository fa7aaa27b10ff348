"""Where an audited object belongs: the region and organization its audit events carry.

A model declares the two as attribute paths, dotted to go through a related object::

    class Attendance(Audited, db.Model):
        __audit_region__ = "training.region_code"
        __audit_organization__ = "person.organization_id"

and ``audit/services.py`` reads ``audit_region_code`` / ``audit_organization_id``. A path
left ``None``, or one that meets a missing related object, gives ``None``.
"""
from __future__ import annotations

from typing import Any


def follow(obj: Any, path: str | None) -> Any:
    """The value at the dotted ``path`` from ``obj``; ``None`` where the path breaks off."""
    if path is None:
        return None
    for name in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


class Audited:
    __audit_region__: str | None = None
    __audit_organization__: str | None = None

    @property
    def audit_region_code(self) -> str | None:
        return follow(self, self.__audit_region__)

    @property
    def audit_organization_id(self) -> int | None:
        return follow(self, self.__audit_organization__)
