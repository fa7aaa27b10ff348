"""Access markers read by the before-request hook and the route-inventory test.

Every view carries exactly one rule: ``public`` (no login), ``login_only`` (any
logged-in user; what they see is limited by scope), or ``permissions.require(...)``.
"""
from __future__ import annotations


def public(view):
    view._public = True
    return view


def login_only(view):
    view._access = "login"
    return view
