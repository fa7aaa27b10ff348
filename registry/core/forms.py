"""The base of every registry form, and the save step of a form view, written once.

``RegistryForm`` is Flask-WTF's form speaking Chinese: WTForms' own messages (a value too
long, a malformed date or number, a tampered choice) come from its built-in zh catalogue
even without Flask-Babel. Its CSRF token renders without an ``id``: a page may hold several
forms, and each would otherwise give an element ``id="csrf_token"``.

A form view loads its object in scope, validates the form, then calls a service. The
service either succeeds (the view flashes and redirects) or raises ``RuleViolation``
(the session is rolled back and the messages are shown, on the form's fields or as a
flash). ``save_form`` is that step; the view keeps the rest (what to load, which page to
show again and with which status), so each view still reads top to bottom::

    if form.validate_on_submit():
        saved = save_form(form, lambda: create_thing(form.payload(), current_user), success="已保存",
                          redirect_to=lambda thing: url_for("things.detail", thing_id=thing.id))
        if saved:
            return saved
    return render_template("things/form.html", form=form), 422 if form.is_submitted() else 200
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms.i18n import get_translations

from ..extensions import db
from .database import last_write as last_write_of_request, only_reading_from_here
from .rules import RuleViolation

_ZH = get_translations(["zh"])


class RegistryForm(FlaskForm):
    """Every form of the registry (see the module's docstring)."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _ZH

        def render_field(self, field, render_kw):
            if field.type == "CSRFTokenField":
                render_kw = {"id": False, **render_kw}
            return super().render_field(field, render_kw)


T = TypeVar("T")

try:  # WTForms 3.3 deprecates (value, label) tuples in favour of SelectChoice (3.4 drops them)
    from wtforms import SelectChoice

    def select_choices(pairs) -> list:
        """A select field's choices from (value, label) pairs, as this WTForms wants them."""
        return [SelectChoice(*pair) for pair in pairs]
except ImportError:  # pragma: no cover - older WTForms
    def select_choices(pairs) -> list:
        return [tuple(pair) for pair in pairs]

Text = str | Callable[[Any], str]

# An amount field's render_kw: 元 or 万元 as typed ("50000", "5万"), read by
# core.parsing.parse_amount; data-money shows the value back in both units under the field
# (templates/_macros.html, static/js/money.js). No inputmode=decimal: a phone's number pad
# has no 万.
MONEY_INPUT = {"data-money": "1", "placeholder": "如 50000 或 5万", "autocomplete": "off"}


def _text(value: Text, result: Any) -> str:
    return value(result) if callable(value) else value


def save_form(
    form,
    action: Callable[[], T],
    *,
    success: Text,
    redirect_to: Text | None = None,
    refused: str | None = None,
    last_write: bool = False,
) -> Response | None:
    """Call ``action()`` for a validated ``form``.

    Done: flash ``success`` (category "success") and return a redirect to ``redirect_to``.
    Both may be a string or a function of what the action returned, called after the
    action (so a message can name what was just saved). Without ``redirect_to`` nothing
    is returned and the caller goes where it goes in any case.

    Refused (``RuleViolation``): roll the session back, then put the messages on the
    form's fields, or with ``refused`` (a flash category such as "danger") flash them
    instead; return None so the view shows its page again.

    ``last_write``: the action's commit is the request's last write (the caller only
    redirects after it): the objects it saved stay as written (``core.database.last_write``)
    and what the message and the redirect still read goes through a reader's transaction
    (``core.database.only_reading_from_here``), not the write lock.
    """
    try:
        if last_write:
            with last_write_of_request():
                result = action()
        else:
            result = action()
    except RuleViolation as violation:
        db.session.rollback()
        if refused is None:
            violation.apply_to_form(form)
        else:
            flash(violation.message, refused)
        return None
    if last_write:
        only_reading_from_here()
    flash(_text(success, result), "success")
    if redirect_to is None:
        return None
    return redirect(_text(redirect_to, result))
