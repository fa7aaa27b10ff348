"""How a broken rule is reported: one exception, Chinese messages keyed by field.

Services raise ``RuleViolation``; views put the messages on the form fields, the import
puts them on rows, the API returns them as JSON with a 4xx. Nothing is written when one
is raised: services validate before they add anything to the session, and the caller
rolls back in any case.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


class RuleViolation(Exception):
    """One or more broken rules. ``errors`` maps a field name (or '') to messages."""

    status_code = 422

    def __init__(self, errors: dict[str, str | list[str]] | str, field: str = ""):
        if isinstance(errors, str):
            errors = {field: errors}
        self.errors: dict[str, list[str]] = {
            key: [value] if isinstance(value, str) else list(value) for key, value in errors.items()
        }
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return "；".join(msg for msgs in self.errors.values() for msg in msgs)

    def apply_to_form(self, form) -> None:
        """Attach messages to the matching form fields; others become form-level errors."""
        for name, messages in self.errors.items():
            field = getattr(form, name, None) if name else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors) + messages
            else:
                form.form_errors.extend(messages)


class Collector:
    """Collect several violations, then raise them together."""

    def __init__(self, errors: dict[str, list[str]] | None = None) -> None:
        self.errors: dict[str, list[str]] = {key: list(messages) for key, messages in (errors or {}).items()}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def check(self, ok: bool, field: str, message: str) -> None:
        if not ok:
            self.add(field, message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise RuleViolation(self.errors)

    def then(self, rule: Callable[[], T], *, needs: tuple[str, ...] = (),
             columns: Mapping[str, str] | None = None) -> T:
        """Run ``rule`` (the shared rule, after an import's own reading of a row's cells)
        and raise what either found, together, so that one pass names every wrong cell of
        a row instead of one stage's at a time. ``rule`` is not run when a field it
        ``needs`` (one it cannot be checked without: the person or posting a row is about)
        is among the errors already found; its messages about a field already reported
        are left out (a cell that could not be read reaches the rule blank, and the rule's
        "required" would only repeat the first message). ``columns`` names the rule's fields
        as the caller's (an import's file columns) where they differ. Returns what ``rule``
        returns."""
        if any(field in self.errors for field in needs):
            raise RuleViolation(self.errors)
        try:
            result = rule()
        except RuleViolation as broken:
            for field, messages in broken.errors.items():
                self.errors.setdefault(columns.get(field, field) if columns else field, list(messages))
            raise RuleViolation(self.errors) from None
        self.raise_if_any()
        return result


def flush_or_refuse(stale: str, *, duplicate: tuple[str, str] | None = None, commit: bool = False) -> None:
    """Flush (or commit) the session. A concurrent change found at flush time (the
    row's version moved on) is refused with ``stale``; with ``duplicate`` (field,
    message), so is a unique-key clash lost to a concurrent insert. The session is rolled
    back first: nothing is half-written."""
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from ..extensions import db

    try:
        if commit:
            db.session.commit()
        else:
            db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise RuleViolation(stale) from None
    except IntegrityError:
        if duplicate is None:
            raise
        db.session.rollback()
        raise RuleViolation(duplicate[1], duplicate[0]) from None

