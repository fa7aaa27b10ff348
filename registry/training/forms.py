from __future__ import annotations

from sqlalchemy import select
from wtforms import BooleanField, DateField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import TRAINING_KINDS, TRAINING_LEVELS, TRAINING_MODES
from ..core.forms import RegistryForm
from ..extensions import db
from ..regions.models import Region


class DateCN(DateField):
    """An HTML date input whose parse error is in Chinese."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("日期格式应为 年-月-日") from None


class EmptyForm(RegistryForm):
    """For POST-only actions: carries the CSRF token."""


def jurisdiction_choices(user, current: str | None = None) -> list[tuple[str, str]]:
    """The user's own region and its direct children (admins: the province and the cities)."""
    if user.role == "admin":
        root = db.session.get(Region, "430000000000")
    else:
        root = user.region
    regions = [root] if root is not None else []
    if root is not None and root.child_level and root.child_level != "village":
        regions += db.session.scalars(select(Region).where(Region.parent_code == root.code).order_by(Region.code)).all()
    choices = [(r.code, f"{r.name}（{r.level_label}）") for r in regions]
    if current and current not in {c for c, _ in choices}:
        region = db.session.get(Region, current)
        choices.insert(0, (current, region.name if region else current))
    return choices


LEVEL_FOR_REGION = {"province": "provincial", "city": "city", "county": "county", "township": "township"}


class TrainingForm(RegistryForm):
    title = StringField("培训主题", validators=[DataRequired(message="请填写培训主题"), Length(max=200)])
    organizer = StringField("主办单位", validators=[DataRequired(message="请填写主办单位"), Length(max=200)])
    kind = SelectField("培训类型", choices=TRAINING_KINDS)
    level = SelectField("培训层级", choices=TRAINING_LEVELS)
    mode = SelectField("培训方式", choices=TRAINING_MODES)
    region_code = SelectField("组织地区", choices=[])
    start_date = DateCN("开始日期", validators=[DataRequired(message="请填写开始日期")])
    end_date = DateCN("结束日期", validators=[DataRequired(message="请填写结束日期")])
    hours = StringField("学时", validators=[DataRequired(message="请填写学时")])
    location = StringField("培训地点", validators=[Optional(), Length(max=200)])
    note = TextAreaField("备注", validators=[Optional(), Length(max=2000)])
    version = HiddenField()

    def __init__(self, user, *args, current_region: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = jurisdiction_choices(user, current_region)
        if not self.is_submitted() and kwargs.get("obj") is None:
            region = user.region if user.role != "admin" else db.session.get(Region, "430000000000")
            if region is not None:
                self.region_code.data = region.code
                self.level.data = LEVEL_FOR_REGION.get(region.level, "county")


class AttendanceAddForm(RegistryForm):
    person_ids = SelectMultipleField("参训人员", choices=[], coerce=int, validate_choice=False)
    hours = StringField("认定学时")
    passed = BooleanField("考核合格", default=True)
    note = StringField("备注", validators=[Optional(), Length(max=200)])


class AttendanceForm(RegistryForm):
    hours = StringField("认定学时", validators=[DataRequired(message="请填写认定学时")])
    passed = BooleanField("考核合格")
    note = StringField("备注", validators=[Optional(), Length(max=200)])
    version = HiddenField()
