"""Forms for people and postings. Choices come from the user's scope (``__init__``);
the rules themselves are in ``services`` so the form, an import and the CLI agree."""
from __future__ import annotations

from sqlalchemy import select
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import DISPATCH_LEVELS, EDUCATION, END_REASONS, GENDERS, POSTING_ROLES
from ..core.scope import region_clause, scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.forms import RegistryForm, blank, home_region_choices, options
from ..organizations.models import Organization
from .services import ETHNICITIES


def employer_choices(user) -> list[tuple[str, str]]:
    """Organizations ``user`` may register people for (see ``services.employer_allowed``)."""
    stmt = select(Organization.id, Organization.name)
    if user.role == "unit":
        stmt = stmt.where(Organization.id == user.organization_id)
    elif user.role != "admin":
        stmt = stmt.where(region_clause(Organization.region_code, user))
    stmt = scoped(stmt, Organization, user)
    return [(str(i), name) for i, name in db.session.execute(stmt.order_by(Organization.name))]


def _payload(form, exclude=("csrf_token", "version")) -> dict:
    data = {}
    for name, field in form._fields.items():
        if name in exclude:
            continue
        value = field.data
        data[name] = value.strip() if isinstance(value, str) else value
    return data


class PersonForm(RegistryForm):
    name = StringField("姓名", validators=[DataRequired(message="请填写姓名"), Length(max=50)])
    id_number = StringField("身份证号", validators=[DataRequired(message="请填写身份证号"), Length(max=40)],
                            description="18位，末位X大小写均可")
    gender = SelectField("性别", choices=options(blank("（按身份证号）"), GENDERS))
    birth_date = DateField("出生日期", validators=[Optional()], description="不填则按身份证号")
    ethnicity = SelectField("民族", choices={e: e for e in ETHNICITIES}, default="汉族")
    phone = StringField("联系电话", validators=[Optional(), Length(max=20)])
    education = SelectField("学历", choices=options(blank("（未填）"), EDUCATION))
    organization_id = SelectField("工作单位", choices=[])
    post = StringField("职务", validators=[Optional(), Length(max=100)])
    rank = StringField("职级", validators=[Optional(), Length(max=50)])
    expertise = StringField("专长", validators=[Optional(), Length(max=200)])
    is_party_member = BooleanField("中共党员")
    is_reserve_cadre = BooleanField("后备干部")
    is_veteran = BooleanField("退役军人")
    version = HiddenField()

    def __init__(self, user, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id.choices = options(blank(), employer_choices(user))
        if person is None:
            del self.version

    def payload(self) -> dict:
        return _payload(self)


class PeopleFilter(RegistryForm):
    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("姓名或身份证号", validators=[Optional(), Length(max=40)])
    posted = SelectField("在岗情况", choices={"": "全部", "active": "在岗", "idle": "未在岗"}, validators=[Optional()])


class PostingForm(RegistryForm):
    region_code = StringField("派驻地（12位区划代码）", validators=[DataRequired(message="请填写派驻地区划代码"), Length(max=12)])
    role = SelectField("选派类型", choices=options(blank(), POSTING_ROLES))
    post_held = StringField("挂职职务", validators=[Optional(), Length(max=100)], description="挂职干部必填，如副县长、县长助理")
    dispatch_level = SelectField("选派层级", choices=options(blank(), DISPATCH_LEVELS))
    round = StringField("届次", validators=[Optional(), Length(max=20)], description="如2024届")
    start_date = DateField("开始日期", validators=[DataRequired(message="请填写开始日期")])
    planned_end = DateField("计划结束日期", validators=[Optional()], description="不填则按规定任期自动计算")

    def payload(self) -> dict:
        return _payload(self)


class EndPostingForm(RegistryForm):
    end_date = DateField("结束日期", validators=[DataRequired(message="请填写结束日期")], default=local_today)
    end_reason = SelectField("结束原因", choices=options(blank(), END_REASONS))
    end_note = TextAreaField("说明（召回须写明召回事由）", validators=[Optional(), Length(max=2000)])
    version = HiddenField()


class PostingFilter(RegistryForm):
    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("干部姓名", validators=[Optional(), Length(max=50)])
    role = SelectField("选派类型", choices=options(blank("全部"), POSTING_ROLES), validators=[Optional()])
    status = SelectField(
        "状态", choices={"": "全部", "active": "在岗", "ending": "即将期满", "ended": "已结束"}, validators=[Optional()]
    )
    region = SelectField("派驻地", choices=[], validators=[Optional()])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readers = user.role in ("admin", "region", "viewer")
        self.region.choices = options(blank("全部"), home_region_choices(user) if readers else {})
