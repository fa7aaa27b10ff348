from __future__ import annotations

from wtforms import PasswordField, StringField
from wtforms.validators import Length, Optional

from ..core.forms import RegistryForm


class AccountForm(RegistryForm):
    """Open a cadre's account (the username), or issue a new code (no field but CSRF)."""

    username = StringField("用户名", validators=[Optional(), Length(max=64, message="用户名最多64位")])


class ActivationForm(RegistryForm):
    """The cadre's activation: every rule is checked by ``cadres.services.activate``."""

    identifier = StringField("用户名或手机号", validators=[Length(max=64, message="用户名或手机号最多64位")])
    code = StringField("激活码", validators=[Length(max=40, message="激活码最多40位")])
    password = PasswordField("设置密码", validators=[Length(max=200, message="密码最多200位")])
    confirm = PasswordField("再次输入密码", validators=[Length(max=200, message="密码最多200位")])
