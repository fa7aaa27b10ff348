"""Forms for pairings; the rules are in ``services.check_pairing``."""
from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import ORG_KINDS, PAIRED_SECTORS, PAIRING_KINDS
from ..core.timeutil import local_today
from ..core.forms import RegistryForm
from ..organizations.forms import blank, home_region_choices, options


class PairingForm(RegistryForm):
    region_code = StringField("结对地（12位区划代码）", validators=[DataRequired(message="请填写结对地区划代码"), Length(max=12)])
    kind = SelectField("结对类型", choices=options(blank(), PAIRING_KINDS))
    sector = SelectField("帮扶领域", choices=options(blank("（无）"), PAIRED_SECTORS), description="对口帮扶必选")
    start_date = DateField("开始日期", validators=[DataRequired(message="请填写开始日期")])
    end_date = DateField("结束日期", validators=[Optional()], description="不填表示长期")
    note = TextAreaField("备注", validators=[Optional(), Length(max=2000)])

    def payload(self) -> dict:
        return {name: f.data for name, f in self._fields.items() if name != "csrf_token"}


class EndPairingForm(RegistryForm):
    end_date = DateField("结束日期", validators=[DataRequired(message="请填写结束日期")], default=local_today)
    note = TextAreaField("结束说明", validators=[Optional(), Length(max=500)])
    version = HiddenField()


class PairingFilter(RegistryForm):
    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("帮扶主体名称", validators=[Optional(), Length(max=100)])
    kind = SelectField("结对类型", choices=options(blank("全部"), PAIRING_KINDS), validators=[Optional()])
    status = SelectField("状态", choices={"": "全部", "active": "有效", "ended": "已结束"}, validators=[Optional()])
    region = SelectField("结对地", choices=[], validators=[Optional()])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readers = user.role in ("admin", "region", "viewer")
        self.region.choices = options(blank("全部"), home_region_choices(user) if readers else {})


class OrganizationPick(RegistryForm):
    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("名称或信用代码", validators=[Optional(), Length(max=100)])
    kind = SelectField("类型", choices=options(blank("全部"), ORG_KINDS), validators=[Optional()])
