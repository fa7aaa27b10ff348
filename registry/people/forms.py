"""Forms for people and postings. Choices come from the user's scope (``__init__``);
the rules themselves are in ``services`` so the form, an import and the CLI agree."""
from __future__ import annotations

from flask import url_for
from markupsafe import Markup
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.utils import unset_value
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import html_params

from ..core.enums import DISPATCH_LEVELS, EDUCATION, END_REASONS, GENDERS, POSTING_ROLES
from ..core.rules import RuleViolation
from ..core.timeutil import local_today
from ..extensions import db
from ..core.forms import RegistryForm
from ..organizations.forms import blank, home_region_choices, options
from ..organizations.models import Organization
from . import services
from .services import ETHNICITIES

# Up to this many employers the form offers a plain select; beyond it (a city or the
# province) a text input with suggestions from ``people.employer_lookup``.
EMPLOYER_SELECT_MAX = 50


def employer_choices(user, limit: int | None = None) -> list[tuple[str, str]]:
    """Organizations ``user`` may register people for (``services.employers_query``), by name."""
    stmt = services.employers_query(user).order_by(Organization.name, Organization.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [(str(org.id), org.name) for org in db.session.scalars(stmt)]


class EmployerLookupWidget:
    """A text input (name or 统一社会信用代码) with the chosen id in a hidden input, and an
    empty list box that static/js/combobox.js fills; without JavaScript only the text
    is sent and the server resolves it."""

    def __call__(self, field, **kwargs):
        kwargs.setdefault("id", field.id)
        listbox = f"{field.id}-options"
        text = html_params(
            type="text", name=field.text_name, value=field.shown_text(), autocomplete="off", role="combobox",
            aria_autocomplete="list", aria_expanded="false", aria_controls=listbox,
            placeholder="输入单位名称或统一社会信用代码", **kwargs,
        )
        hidden = html_params(type="hidden", name=field.name, value=field.data or "", data_combobox_value=True)
        box = html_params(class_="combobox", data_combobox=url_for("people.employer_lookup"))
        # every value goes through wtforms' html_params, which escapes it (as wtforms' own widgets do)
        return Markup(  # noqa: S704  # nosec B704
            f'<div {box}><input {text}><input {hidden}>'
            f'<ul {html_params(id=listbox, role="listbox", class_="combobox-list", aria_label="候选单位", hidden=True)}></ul>'
            f'<p class="combobox-note" aria-live="polite"></p></div>'
        )


class EmployerField(SelectField):
    """工作单位: a select among few organizations; after ``use_lookup()``, the text input
    of ``EmployerLookupWidget``, whose text (``<name>_text``) is kept in ``text``
    (None when the request did not send it: a client that posts the id alone)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lookup = False
        self.text: str | None = None
        self.chosen = None

    @property
    def text_name(self) -> str:
        return f"{self.name}_text"

    def use_lookup(self) -> None:
        self.lookup = True
        self.validate_choice = False
        self.choices = []
        self.widget = EmployerLookupWidget()
        self.description = "输入单位名称的一部分或统一社会信用代码，从候选列表中选择"

    def process(self, formdata, data=unset_value, extra_filters=None):
        super().process(formdata, data, extra_filters)
        self.text = None
        if formdata is not None and self.text_name in formdata:
            self.text = (formdata.get(self.text_name) or "").strip()

    def shown_text(self) -> str:
        if self.text is not None:
            return self.text
        return self.chosen.name if self.chosen is not None else ""


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
    organization_id = EmployerField("工作单位", choices=[])
    post = StringField("职务", validators=[Optional(), Length(max=100)])
    rank = StringField("职级", validators=[Optional(), Length(max=50)])
    expertise = StringField("专长", validators=[Optional(), Length(max=200)])
    is_party_member = BooleanField("中共党员")
    is_reserve_cadre = BooleanField("后备干部")
    is_veteran = BooleanField("退役军人")
    version = HiddenField()

    def __init__(self, user, *args, person=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._user = user
        choices = employer_choices(user, limit=EMPLOYER_SELECT_MAX + 1)
        if len(choices) > EMPLOYER_SELECT_MAX:
            self.organization_id.use_lookup()
        else:
            self.organization_id.choices = options(blank(), choices)
        if person is None:
            del self.version

    def set_employer(self, org_id) -> None:
        """Preset the employer (a GET): its id, and its name in the text input."""
        org = services.employer(self._user, org_id)
        if org is not None:
            self.organization_id.data = str(org.id)
            self.organization_id.chosen = org

    def validate_organization_id(self, field):
        """With the text input: the picked id if the text still names it, else the
        organization the text names exactly (the form without JavaScript)."""
        if not field.lookup:
            return
        picked = services.employer(self._user, field.data) if field.data else None
        if field.text is None or (picked is not None and field.text in (picked.name, picked.credit_code)):
            if picked is None:
                raise ValidationError("请选择您管辖范围内的工作单位")
        else:
            try:
                picked = services.employer_by_text(self._user, field.text)
            except RuleViolation as violation:
                raise ValidationError(violation.message) from None
        field.data = str(picked.id)
        field.chosen = picked

    def payload(self) -> dict:
        return _payload(self)


class PeopleFilter(RegistryForm):
    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("姓名或身份证号", validators=[Optional(), Length(max=40)])
    posted = SelectField("在岗情况", choices={"": "全部", "active": "在岗", "idle": "未在岗"}, validators=[Optional()])
    veteran = SelectField("退役军人", choices={"": "全部", "1": "退役军人", "0": "非退役军人"}, validators=[Optional()])


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
