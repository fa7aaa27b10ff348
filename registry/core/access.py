"""Access markers read by the before-request hook and the route-inventory test.

Every view carries exactly one rule: ``public`` (no login), ``login_only`` (any
logged-in user; what they see is limited by scope), or ``permissions.require(...)``.

A cadre's account (驻村干部) reaches only the views marked ``for_cadres`` (their home
page, their account, their own postings, training, days in the village and grades);
every other page is 404 to them, whatever its rule, as if it did not exist. What those
views show them is limited by scope as for anyone (``registry/scopes.py``).
"""
from __future__ import annotations


def public(view):
    view._public = True
    return view


def login_only(view):
    view._access = "login"
    return view


def for_cadres(view):
    """The view is open to cadres too (with their scope); put it above or below the rule."""
    view._cadre = True
    return view


def cadre_may_open(view) -> bool:
    """Whether a cadre may reach ``view`` (a view function, wrapped or not)."""
    while view is not None:
        if getattr(view, "_cadre", False) or getattr(view, "_public", False):
            return True
        view = getattr(view, "__wrapped__", None)
    return False
