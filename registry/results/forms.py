from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.parsing import CONFIRM_LABEL
from ..core.forms import MONEY_INPUT as MONEY, RegistryForm


class ResultForm(RegistryForm):
    year = SelectField("年度", choices=[], validate_choice=False)
    collective_income = StringField("村集体经济经营性收入（元）", render_kw=MONEY)
    per_capita_income = StringField("脱贫人口人均纯收入（元）", render_kw=MONEY)
    monitored_households = StringField("监测对象户数")
    risk_removed_households = StringField("已消除风险户数")
    industry_projects = StringField("产业项目数（个）")
    jobs_created = StringField("带动就业人数（人）")
    practical_matters = StringField("办实事件数（件）")
    note = TextAreaField("说明", validators=[Optional(), Length(max=2000)])
    amount_confirmed = BooleanField(CONFIRM_LABEL)  # shown once an amount needs it
    version = HiddenField()

    def set_years(self, years: list[int]) -> None:
        self.year.choices = [(str(y), f"{y}年") for y in years]
