from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import Length, Optional

from ..core.forms import select_choices
from ..core.forms import RegistryForm
from .kinds import KINDS
from .models import MODES

STATES = {"": "全部", "unread": "未读", "read": "已读"}


class NotificationFilter(RegistryForm):
    """The list's filters (GET)."""

    class Meta(RegistryForm.Meta):
        csrf = False

    kind = SelectField("类别", choices=select_choices([("", "全部类别"), *KINDS.items()]), validators=[Optional()])
    state = SelectField("状态", choices=select_choices(STATES.items()), validators=[Optional()])


class ReadForm(RegistryForm):
    """标为已读 (one, or all of a kind): carries the CSRF token; ``go`` opens the item after."""

    go = HiddenField()
    kind = HiddenField()


class PreferencesForm(RegistryForm):
    """The e-mail address and, per kind (fields ``mode_<kind>``, added below), how to be told."""

    email = StringField("接收通知的电子邮箱", validators=[Optional(), Length(max=254, message="电子邮箱不能超过254个字符")],
                        description="选择“站内和邮件”或“每日汇总”时必填")

    def mode_fields(self):
        return [getattr(self, f"mode_{kind}") for kind in KINDS]


for _kind, _label in KINDS.items():
    setattr(PreferencesForm, f"mode_{_kind}", SelectField(_label, choices=select_choices(MODES.items()),
                                                         validate_choice=True))
