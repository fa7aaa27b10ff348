from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import ROLES


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码"), Length(max=200)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("当前密码", validators=[DataRequired(message="请输入当前密码")])
    new_password = PasswordField("新密码", validators=[DataRequired(message="请输入新密码")])
    confirm_password = PasswordField("确认新密码", validators=[DataRequired(message="请再次输入新密码")])


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired(message="请输入用户名"), Length(max=64)])
    display_name = StringField("姓名", validators=[Optional(), Length(max=100)])
    role = SelectField("角色", choices=dict(ROLES))
    region_code = StringField("所属行政区代码（行政区工作人员、监督查询）", validators=[Optional(), Length(max=12)])
    organization_id = StringField("所属帮扶单位编号（帮扶单位）", validators=[Optional(), Length(max=12)])
    village_code = StringField("所属村代码（村）", validators=[Optional(), Length(max=12)])


class EmptyForm(FlaskForm):
    """For POST-only actions: carries the CSRF token."""
