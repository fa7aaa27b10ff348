from __future__ import annotations

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.enums import CARE_ITEMS, CARE_KINDS
from ..core.forms import MONEY_INPUT, RegistryForm, select_choices
from ..training.forms import DateCN


class CareForm(RegistryForm):
    posting_id = SelectField("选派", choices=[], validate_choice=False)
    kind = HiddenField()  # chosen by the page's links (one form per kind)
    item = SelectField("项目", choices=[], validate_choice=False)
    start_date = DateCN("开始日期（体检日期）")
    end_date = DateCN("结束日期（体检不填）", validators=[Optional()])
    amount = StringField("金额（补助金额、保额或体检费用，元）", render_kw=MONEY_INPUT)
    provider_name = StringField("承保、体检或发放单位", validators=[Optional(), Length(max=100)])
    reference = StringField("保单号或文号", validators=[Optional(), Length(max=100)])
    note = TextAreaField("备注", validators=[Optional(), Length(max=1000)])

    def set_choices(self, postings, kind: str) -> None:
        self.posting_id.choices = select_choices(
            (str(p.id), f"{p.role_label} · {p.region.name} · {p.dispatch_level_label}{'（在岗）' if p.is_active else '（已结束）'}")
            for p in postings)
        kind = kind if kind in CARE_ITEMS else "insurance"
        self.item.choices = select_choices((item, item) for item in CARE_ITEMS[kind])


class CancelForm(RegistryForm):
    reason = TextAreaField("作废原因", validators=[Length(max=500)])
    version = HiddenField()


class CareFilter(RegistryForm):
    class Meta:
        csrf = False

    kind = SelectField("类别", choices=select_choices([("", "全部"), *CARE_KINDS.items()]), validate_choice=False)
    status = SelectField("状态", choices=select_choices([("active", "有效"), ("cancelled", "已作废"), ("all", "全部")]),
                         validate_choice=False)
