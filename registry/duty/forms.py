from __future__ import annotations

import re
from datetime import date

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..core.formatting import month_cn
from ..core.forms import RegistryForm
from ..core.parsing import YEAR_MAX, YEAR_MIN


def month_value(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})")


def parse_month(value: str | None) -> date | None:
    """``2025-03`` as the first day of that month; None when it is not a month."""
    match = _MONTH.fullmatch((value or "").strip())
    if match is None or not (YEAR_MIN <= int(match.group(1)) <= YEAR_MAX and 1 <= int(match.group(2)) <= 12):
        return None
    return date(int(match.group(1)), int(match.group(2)), 1)


class DutyForm(RegistryForm):
    # choices are the posting's months without a record; the service checks the month
    month = SelectField("月份", choices=[], validate_choice=False)
    # whole days: a phone shows its number pad (the service parses and checks them)
    days_in_village = StringField("在村天数", render_kw={"inputmode": "numeric"})
    leave_days = StringField("请假天数", default="0", render_kw={"inputmode": "numeric"})
    leave_approved_by = StringField("请假批准人", validators=[Optional(), Length(max=100)])
    absences = StringField("无故缺勤天数", default="0", render_kw={"inputmode": "numeric"})
    summary = TextAreaField("工作纪实（民情日记摘要）")
    version = HiddenField()

    def set_months(self, months: list[date]) -> None:
        self.month.choices = [(month_value(m), month_cn(m)) for m in months]


class ReturnForm(RegistryForm):
    reason = TextAreaField("退回原因", validators=[Length(max=500)])
    version = HiddenField()


class VersionForm(RegistryForm):
    """A POST-only action on a versioned record (check, verify)."""

    version = HiddenField()
