from __future__ import annotations

from wtforms import MultipleFileField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.forms import RegistryForm
from ..records.forms import ACCEPT
from .models import FINDING_ITEMS

DATE = {"type": "date"}


class PlanForm(RegistryForm):
    year = SelectField("督查年度", choices=[], validate_choice=False)
    title = StringField("计划名称", validators=[Length(max=100)], render_kw={"maxlength": 100})
    note = TextAreaField("说明", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})


class TargetForm(RegistryForm):
    target = SelectField("督查对象", choices=[], validate_choice=False)
    focus = TextAreaField("督查重点", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})


class VisitForm(RegistryForm):
    visited_on = StringField("督查日期", render_kw=DATE)
    team = TextAreaField("督查组成员", validators=[Length(max=500)],
                         render_kw={"rows": 2, "placeholder": "如：省乡村振兴局 张某（组长）、李某"})
    summary = TextAreaField("督查情况", validators=[Optional(), Length(max=2000)], render_kw={"rows": 3})


class FindingForm(RegistryForm):
    visit_id = SelectField("所属走访", choices=[], validate_choice=False)
    item = SelectField("督查事项", choices={"": "请选择", **FINDING_ITEMS}, validate_choice=False)
    description = TextAreaField("问题描述", validators=[Length(max=2000)], render_kw={"rows": 3})
    deadline = StringField("整改期限", render_kw=DATE)
    files = MultipleFileField("问题佐证（照片或 PDF）", render_kw={"accept": ACCEPT})
