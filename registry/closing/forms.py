from __future__ import annotations

from wtforms import BooleanField, HiddenField, RadioField, SelectMultipleField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import RegistryForm
from ..training.forms import DateCN
from .models import KINDS
from .services import REASON_MAX

# what the close page offers for items still pending; "finish" closes nothing
PENDING_OPTIONS = {
    "freeze": "照原样冻结并关账：待处理的事项保持现状（待确认的仍为待确认，待核实的仍为待核实），关账后不能再确认、核实、退回或修改，"
              "如确需处理，须申请重新开放",
    "finish": "先返回处理：暂不关账，回到待办列表把这些事项处理完，再来关账",
}


class CloseForm(RegistryForm):
    year = HiddenField()
    pending_choice = RadioField("待处理事项如何处理", choices=PENDING_OPTIONS, validate_choice=False,
                                validators=[Optional()])
    confirm = BooleanField("我已阅读上述说明，确认关账")


class ReopenForm(RegistryForm):
    kinds = SelectMultipleField("重新开放的数据类别", choices=KINDS, validate_choice=False,
                                widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    reason = TextAreaField("申请理由", validators=[Length(max=REASON_MAX)])
    deadline = DateCN("开放截止日期", validators=[Optional()])


class DecisionForm(RegistryForm):
    note = TextAreaField("审批意见（不批准时必填）", validators=[Length(max=REASON_MAX)])
