from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.enums import TOLERANCE_GROUNDS
from ..core.forms import RegistryForm, select_choices
from .services import DECISIONS


class ApplicationForm(RegistryForm):
    grounds = SelectField("容错情形", choices=select_choices([("", "请选择"), *TOLERANCE_GROUNDS.items()]),
                          validate_choice=False)
    facts = TextAreaField("申请事由（事情经过及适用容错的理由）", validators=[Length(max=2000)])


class DecisionForm(RegistryForm):
    decision = SelectField("决定", choices=select_choices([("", "请选择"), *DECISIONS.items()]), validate_choice=False)
    reason = TextAreaField("决定理由", validators=[Length(max=2000)])
    document_number = StringField("文号", validators=[Optional(), Length(max=100)])
    correction = TextAreaField("纠错要求（须纠正的问题、责任人、时限）", validators=[Optional(), Length(max=2000)])
    version = HiddenField()
