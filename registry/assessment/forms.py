from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.enums import INCENTIVE_KINDS
from ..core.forms import RegistryForm
from ..training.forms import DateCN


class GradeForm(RegistryForm):
    year = HiddenField()
    grade = SelectField("考核等次", choices=[], validate_choice=False)
    comment = TextAreaField("考核评语", validators=[Optional(), Length(max=2000)])
    document_number = StringField("文号", validators=[Optional(), Length(max=100)])
    change_reason = TextAreaField("修改原因", validators=[Optional(), Length(max=500)])
    version = HiddenField()

    def set_grades(self, grades, allowed=None) -> None:
        self.grade.choices = [("", "请选择")] + [(g, g if allowed is None or g in allowed else f"{g}（受限制，不可选）") for g in grades]


class IncentiveForm(RegistryForm):
    kind = SelectField("类别", choices=INCENTIVE_KINDS, validate_choice=False)
    issued_on = DateCN("日期")
    level = SelectField("层级", choices=[], validate_choice=False)
    reason = TextAreaField("事由", validators=[Length(max=2000)])
    document_number = StringField("文号", validators=[Optional(), Length(max=100)])


class FollowUpForm(RegistryForm):
    note = TextAreaField("说明", validators=[Length(max=2000)])
    version = HiddenField()
