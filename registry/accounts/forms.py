from __future__ import annotations

from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import OVERSIGHT_BODIES, ROLES
from ..core.forms import RegistryForm, select_choices
from .tokens import EXPIRY_CHOICES


class LoginForm(RegistryForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=200)])


class PasswordForm(RegistryForm):
    current_password = PasswordField("当前密码", validators=[DataRequired(message="请输入当前密码")])
    new_password = PasswordField("新密码", validators=[DataRequired(message="请输入新密码")])
    confirm_password = PasswordField("确认新密码", validators=[DataRequired(message="请再次输入新密码")])


class UserForm(RegistryForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    display_name = StringField("姓名", validators=[Optional(), Length(max=100)])
    # a cadre's account is opened from the person's page (cadres.services)
    role = SelectField("角色", choices=select_choices((k, v) for k, v in ROLES.items() if k != "cadre"))
    region_code = StringField("所属行政区代码（行政区工作人员、监督查询）", validators=[Optional(), Length(max=12)])
    organization_id = StringField("所属帮扶单位（帮扶单位账号填：单位全称或统一社会信用代码）",
                                  validators=[Optional(), Length(max=100)])
    village_code = StringField("所属村代码（村）", validators=[Optional(), Length(max=12)])
    oversight_body = SelectField("监督单位（监督查询）", validate_choice=False,
                                 choices=select_choices([("", "（不填）"), *OVERSIGHT_BODIES.items()]))


class EmptyForm(RegistryForm):
    """For POST-only actions: carries the CSRF token."""


class TokenForm(RegistryForm):
    name = StringField("名称", validators=[Optional(), Length(max=100, message="名称不能超过100个字")])
    # any value is checked by tokens.issue_token (WTForms' own message is English)
    expires_days = SelectField("有效期", default="", validate_choice=False, choices=select_choices(
        [("", "长期有效（直到撤销）")] + [(str(days), f"{days}天") for days in EXPIRY_CHOICES if days]))


class ReasonForm(RegistryForm):
    """停用 (reason required by the service) and 启用 (reason optional)."""

    reason = StringField("原因", validators=[Optional(), Length(max=200, message="原因不能超过200个字")])
