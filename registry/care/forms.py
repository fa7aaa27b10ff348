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
        """The postings to record under, and the kind's items and fields: each kind asks
        only what it has (a health check is one day, a leave has no amount nor provider),
        in its own words."""
        self.posting_id.choices = select_choices(
            (str(p.id), f"{p.role_label} · {p.region.name} · {p.dispatch_level_label}{'（在岗）' if p.is_active else '（已结束）'}")
            for p in postings)
        kind = kind if kind in CARE_ITEMS else "insurance"
        self.item.choices = select_choices((item, item) for item in CARE_ITEMS[kind])
        asked = KIND_FIELDS[kind]
        for name in KIND_DEPENDENT:
            if name in asked:
                self[name].label.text = asked[name]
            else:
                del self[name]

    def value(self, name: str):
        """A field's data, None for a field the kind does not ask (``set_choices``)."""
        return self._fields[name].data if name in self._fields else None


# the fields each kind of care record asks, by their labels there (the rule of each kind is
# ``care.services.check_care``'s; what a kind does not ask is left out of its form)
KIND_FIELDS = {
    "allowance": {"start_date": "开始日期", "end_date": "结束日期", "amount": "补助金额（元）",
                  "provider_name": "发放单位", "reference": "文号"},
    "insurance": {"start_date": "保险起期", "end_date": "保险止期", "amount": "保额（元，可不填）",
                  "provider_name": "承保单位", "reference": "保单号"},
    "health_check": {"start_date": "体检日期", "amount": "体检费用（元，可不填）", "provider_name": "体检机构",
                     "reference": "文号"},
    "leave": {"start_date": "休假开始日期", "end_date": "休假结束日期", "reference": "批准文号"},
}
KIND_DEPENDENT = ("start_date", "end_date", "amount", "provider_name", "reference")


class CancelForm(RegistryForm):
    reason = TextAreaField("作废原因", validators=[Length(max=500)])
    version = HiddenField()


class CareFilter(RegistryForm):
    class Meta:
        csrf = False

    kind = SelectField("类别", choices=select_choices([("", "全部"), *CARE_KINDS.items()]), validate_choice=False)
    status = SelectField("状态", choices=select_choices([("active", "有效"), ("cancelled", "已作废"), ("all", "全部")]),
                         validate_choice=False)
