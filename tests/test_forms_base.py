"""Every form of the registry is a ``core.forms.RegistryForm``: WTForms' own messages (a
value too long, a tampered choice, a malformed number) are Chinese, and a page with several
forms does not repeat the CSRF token's ``id``."""
from __future__ import annotations

import importlib
import pkgutil
import re

from flask_wtf import FlaskForm

import registry
from registry.core.forms import RegistryForm
from tests.fuzz import wtforms_english


def _form_classes() -> list[type]:
    found = []
    for info in pkgutil.walk_packages(registry.__path__, "registry."):
        module = importlib.import_module(info.name)
        found += [value for value in vars(module).values()
                  if isinstance(value, type) and issubclass(value, FlaskForm) and value.__module__ == module.__name__]
    return found


def test_every_form_is_a_registry_form(app):
    forms = _form_classes()
    assert len(forms) > 40
    assert [f"{form.__module__}.{form.__name__}" for form in forms
            if not issubclass(form, RegistryForm) and form is not RegistryForm] == []


def test_wtforms_own_messages_are_chinese(client):
    """The login form's name is limited by WTForms' ``Length`` (no message of its own): it
    answered "Field cannot be longer than 64 characters."."""
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    page = client.post("/login", data={"username": "张" * 70, "password": "x", "csrf_token": token}).get_data(as_text=True)
    assert "字段长度不能超过 64 个字符" in page
    assert wtforms_english(page) == []


def test_the_csrf_token_has_no_id(db, login_as, make_user):
    """The account page holds the password form and the API token form: one CSRF token each,
    none with ``id="csrf_token"`` (an id is unique to a page)."""
    page = login_as(make_user("region", region_code="433101000000")).get("/account").get_data(as_text=True)
    tokens = re.findall(r"<input[^>]*name=\"csrf_token\"[^>]*>", page)
    assert len(tokens) >= 2
    assert 'id="csrf_token"' not in page


def test_a_file_field_is_chosen_with_a_chinese_button(db, login_as, make_user):
    """The browser's own file input says "Choose File" / "No file chosen" in the browser's
    language: every file field renders our 选择文件 button and 未选择文件 beside the input,
    which keeps its name, label and accepted types for the form and for keyboards."""
    client = login_as(make_user("region", region_code="433101000000"))
    page = client.get("/import/people").get_data(as_text=True)
    picker = re.search(r'<div class="file-pick">(.*?)</div>', page, re.S)
    assert picker, "no file picker on the import page"
    inner = picker.group(1)
    assert re.search(r'<input[^>]*class="file-pick-input"[^>]*id="file"[^>]*name="file"[^>]*type="file"', inner)
    assert '<span class="btn file-pick-button" aria-hidden="true">选择文件</span>' in inner
    assert '<span class="file-pick-names" data-file-names="未选择文件" aria-live="polite">未选择文件</span>' in inner
    assert '<label for="file">选择文件（.xlsx 或 .csv）</label>' in page  # the field's own label, for screen readers


def test_the_browser_never_checks_a_form_of_fields_itself():
    """A field marked required would make the browser answer an empty one with its own
    message ("Please fill out this field." on an English browser) before the registry's,
    which names the field and the rule: every form of fields (class ``form``) is
    ``novalidate``, as ``render_form`` writes it."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "templates"
    forms = [(path.relative_to(root), tag) for path in sorted(root.rglob("*.html"))
             for tag in re.findall(r"<form\b[^>]*>", path.read_text(encoding="utf-8"))
             if re.search(r'class="form\b', tag)]
    assert len(forms) > 20
    assert [f"{path}: {tag}" for path, tag in forms if "novalidate" not in tag] == []
