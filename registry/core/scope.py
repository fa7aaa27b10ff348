"""Scope is security: every query goes through ``scoped`` and every lookup through
``get_in_scope_or_404``.

Each model has one rule, a function ``(user) -> SQL condition`` saying which of its rows
the user may see. The rules of the whole system stand together in ``registry/scopes.py``,
mostly built from the small factories below. Lists, details, exports, charts and the API
all use them, so one battery of tests covers them all. Outside the scope an object does
not exist (404). Admins see everything; a model without a rule is seen by admins only.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, false, select, true

from ..extensions import db
from .parsing import to_id

T = TypeVar("T")
Rule = Callable[[Any], ColumnElement[bool]]
_rules: dict[type, Rule] = {}
# models whose rows belong to one user: their rule binds administrators too (a notification
# is its recipient's alone, whoever else asks)
_personal: set[type] = set()
# models whose rule can also be decided in Python from the key alone, for some users:
# ``check(user, ident)`` -> True (visible), False (not) or None (ask the database). Each
# is registered beside its model's rule and must agree with it (tests/test_scope_checks.py).
_checks: dict[type, Callable[[Any, Any], bool | None]] = {}

STAFF = ("region", "viewer")  # region staff and viewers: everything under their region
REGION_ROLES = (*STAFF, "village")  # and a village user: that village


def scope_rule(model: type, rule: Rule | None = None):
    """Register the scope rule of ``model``: ``scope_rule(Model, rule)``, or as a
    decorator ``@scope_rule(Model)`` over a function ``(user) -> condition``."""

    def decorator(fn: Rule) -> Rule:
        _rules[model] = fn
        return fn

    return decorator if rule is None else decorator(rule)


def scope_check(model: type, check: Callable[[Any, Any], bool | None]) -> None:
    """Register a Python decision of ``model``'s rule by primary key (``_checks``): the
    look-up by key then reads the session's identity map first, not the database."""
    _checks[model] = check


def personal_rule(model: type, user_column) -> None:
    """Register ``model`` as personal: each row is seen by the user ``user_column`` names
    and by nobody else, administrators included."""
    _rules[model] = lambda user: user_column == user.id
    _personal.add(model)


def has_rule(model: type) -> bool:
    return model in _rules


def _user(user=None):
    return current_user if user is None else user


def scope_filter(model: type, user=None) -> ColumnElement[bool]:
    user = _user(user)
    if not getattr(user, "is_authenticated", False) or getattr(user, "role", None) is None:
        return false()
    if user.role == "admin" and model not in _personal:
        return true()
    try:
        rule = _rules[model]
    except KeyError:  # a model without a rule is visible to nobody but admins
        return false()
    return rule(user)


def scoped(stmt: Select, model: type, user=None) -> Select:
    """Limit ``stmt`` (a select involving ``model``) to the rows ``user`` may see."""
    return stmt.where(scope_filter(model, user))


def _key(model: type, ident):
    """``ident`` as ``model``'s primary key, or None when it cannot be one (an integer key
    outside 1..ID_MAX: the database would refuse to compare with it)."""
    kind = model.__mapper__.primary_key[0].type.python_type
    if kind is int:
        return to_id(ident)
    try:
        return kind(ident)
    except (TypeError, ValueError):
        return None


def get_in_scope_or_404(model: type[T], ident, user=None, options=()) -> T:
    """The object with primary key ``ident`` if the user may see it, else 404.
    ``options``: loader options of the look-up (the caller's, for what it reads)."""
    ident = _key(model, ident)
    if ident is None:
        abort(404)
    check = _checks.get(model)
    if check is not None:
        user = _user(user)
        if getattr(user, "is_authenticated", False) and getattr(user, "role", None) is not None:
            visible = check(user, ident)
            if visible is False:
                abort(404)
            if visible:
                obj = db.session.get(model, ident)
                if obj is None:
                    abort(404)
                return obj
    pk = model.__mapper__.primary_key[0]
    obj = db.session.scalar(scoped(select(model).where(pk == ident).options(*options), model, user))
    if obj is None:
        abort(404)
    return obj


def in_scope(model: type, ident, user=None) -> bool:
    ident = _key(model, ident)
    if ident is None:
        return False
    pk = model.__mapper__.primary_key[0]
    stmt = select(pk).where(and_(pk == ident, scope_filter(model, user)))
    return db.session.scalar(stmt) is not None


def region_clause(code_column, user) -> ColumnElement[bool]:
    """Condition: ``code_column`` (a 12-digit region code) lies in the user's region.

    For region staff and viewers it is the range under their region; for a village
    user, that village only. Others get ``false`` (callers add their own branches).
    """
    if user.role == "admin":
        return true()
    if user.role in STAFF and user.region is not None:
        return user.region.within(code_column)
    if user.role == "village" and user.village_code:
        return code_column == user.village_code
    return false()


def region_code_visible(code: str, user) -> bool | None:
    """``region_clause`` decided in Python for one code: True or False for an admin, region
    staff, a viewer or a village user; None for the others and for anything but 12 digits
    (the database decides; its collation orders 12-digit codes as Python does)."""
    if not (len(code) == 12 and code.isascii() and code.isdigit()):
        return None
    if user.role == "admin":
        return True
    if user.role in STAFF:
        if user.region is None:
            return False
        lo, hi = user.region.range()
        return lo <= code <= hi
    if user.role == "village":
        return bool(user.village_code) and code == user.village_code
    return None


# -- factories: most rules are one of these ------------------------------------------

def by_region(code_column, roles: tuple[str, ...] = REGION_ROLES) -> Rule:
    """Rows whose ``code_column`` lies in the user's region (a village: that village),
    for the given roles; nothing for the others."""

    def rule(user):
        return region_clause(code_column, user) if user.role in roles else false()

    return rule


def by_org_or_region(org_column, code_column) -> Rule:
    """A unit sees the rows of its organization; region staff, viewers and villages the
    rows in their region."""
    in_region = by_region(code_column)

    def rule(user):
        return org_column == user.organization_id if user.role == "unit" else in_region(user)

    return rule


def as_visible_as(column, model: type) -> Rule:
    """A row is as visible as the ``model`` row that ``column`` points at."""
    return lambda user: column.in_(select(model.__mapper__.primary_key[0]).where(scope_filter(model, user)))
