"""The save step shared by form views: flash and redirect when done; roll back and show
the refusal on the form (or as a flash) when a rule is broken."""
from __future__ import annotations

from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from registry.core.forms import save_form
from registry.core.rules import RuleViolation


class NameForm(FlaskForm):
    name = StringField()


def test_done_flashes_and_redirects_with_what_the_action_returned(app):
    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        response = save_form(form, lambda: 7, success=lambda n: f"已保存 {n}", redirect_to=lambda n: f"/things/{n}")
        assert response.status_code == 302
        assert response.headers["Location"] == "/things/7"
        assert get_flashed_messages(with_categories=True) == [("success", "已保存 7")]


def test_refused_puts_the_messages_on_the_fields_and_rolls_back(app, db, monkeypatch):
    rolled_back = []
    monkeypatch.setattr(db.session, "rollback", lambda: rolled_back.append(True))

    def refuse():
        raise RuleViolation({"name": "名称不能为空", "": "无法保存"})

    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        assert save_form(form, refuse, success="已保存", redirect_to="/") is None
        assert form.name.errors == ["名称不能为空"]
        assert form.form_errors == ["无法保存"]
        assert rolled_back == [True]
        assert get_flashed_messages() == []


def test_refused_can_be_flashed_instead(app):
    def refuse():
        raise RuleViolation("该记录已被他人修改")

    with app.test_request_context("/", method="POST"):
        form = NameForm(meta={"csrf": False})
        assert save_form(form, refuse, success="已保存", refused="danger") is None
        assert get_flashed_messages(with_categories=True) == [("danger", "该记录已被他人修改")]
        assert form.form_errors == []
