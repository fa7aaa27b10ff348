"""The individual helper's form and its list's filters. Choices come from the user's scope
(``__init__``); the rules are in ``services``."""
from __future__ import annotations

from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import EDUCATION, GENDERS, INDIVIDUAL_WAYS
from ..core.forms import RegistryForm
from ..organizations.forms import blank, home_region_choices, options
from ..people.services import ETHNICITIES

VETERAN_CHOICES = {"": "全部", "1": "退役军人", "0": "非退役军人"}


class IndividualForm(RegistryForm):
    name = StringField("姓名", validators=[DataRequired(message="请填写姓名"), Length(max=50)])
    id_number = StringField("身份证号", validators=[DataRequired(message="请填写身份证号"), Length(max=40)],
                            description="18位，末位X大小写均可；按干部同样的规则加密保存、遮蔽显示")
    gender = SelectField("性别", choices=options(blank("（按身份证号）"), GENDERS))
    birth_date = DateField("出生日期", validators=[Optional()], description="不填则按身份证号")
    ethnicity = SelectField("民族", choices={e: e for e in ETHNICITIES}, default="汉族")
    phone = StringField("联系电话", validators=[Optional(), Length(max=20)])
    education = SelectField("学历", choices=options(blank("（未填）"), EDUCATION))
    way = SelectField("参与方式", choices=options(blank(), INDIVIDUAL_WAYS))
    region_code = SelectField("所在行政区", choices=[], description="户籍或常住地所在的县市区或乡镇")
    address = StringField("地址", validators=[Optional(), Length(max=200)])
    expertise = StringField("专长", validators=[Optional(), Length(max=200)], description="如种养技术、电商、医疗")
    is_party_member = BooleanField("中共党员")
    is_veteran = BooleanField("退役军人")
    note = TextAreaField("备注", validators=[Optional(), Length(max=2000)], description="如返乡创业的项目、捐赠意向")
    version = HiddenField()

    def __init__(self, user, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = home_region_choices(user, org.region_code if org is not None else None)
        if org is None:
            del self.version
        if user.role == "unit":  # the helper's own account: its home is the registering office's
            del self.region_code

    def payload(self) -> dict:
        data = {}
        for name, field in self._fields.items():
            if name in ("csrf_token", "version"):
                continue
            data[name] = field.data.strip() if isinstance(field.data, str) else field.data
        return data


class IndividualFilter(RegistryForm):
    """The list's GET filters (no CSRF: it changes nothing)."""

    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("姓名或身份证号", validators=[Optional(), Length(max=40)])
    way = SelectField("参与方式", choices=options(blank("全部"), INDIVIDUAL_WAYS), validators=[Optional()])
    veteran = SelectField("退役军人", choices=VETERAN_CHOICES, validators=[Optional()])
    region = SelectField("所在行政区", choices=[], validators=[Optional()])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readers = user.role in ("admin", "region", "viewer")
        self.region.choices = options(blank("全部"), home_region_choices(user) if readers else {})
