"""What a fault-tolerance decision puts into force, read where the effect applies.

A subject (a summons, a grade, a finding) is *tolerated* when a case about it was decided
予以容错. The grade cap (``assessment.evidence.grade_cap``) asks here: a tolerated summons
no longer caps the year's grade, and a tolerated grade is capped by nothing. A feature
that adds a kind of subject asks the same for its own (an inspections feature: whether a
finding still counts against the assessed).
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from ..extensions import db
from .models import FaultToleranceCase, case_key


def tolerated_ids(kind: str, ids: Iterable[int]) -> set[int]:
    """Those of ``ids`` (subjects of ``kind``) that a 予以容错 decision covers."""
    keys = {case_key(kind, i): i for i in ids}
    if not keys:
        return set()
    found = db.session.scalars(select(FaultToleranceCase.subject_key).where(
        FaultToleranceCase.subject_key.in_(list(keys)), FaultToleranceCase.status == "tolerated"))
    return {keys[k] for k in found}


def is_tolerated(kind: str, ident: int) -> bool:
    return bool(tolerated_ids(kind, [ident]))


def cases_about(kind: str, ident: int) -> list[FaultToleranceCase]:
    """Every case about one subject, oldest first (unscoped: the subject's page is already
    in the reader's scope, and a case is as visible as its subject)."""
    return list(db.session.scalars(select(FaultToleranceCase).where(
        FaultToleranceCase.subject_key == case_key(kind, ident)).order_by(FaultToleranceCase.id)))
