from __future__ import annotations

from wtforms import HiddenField, SelectField, TextAreaField

from ..duty.forms import month_value
from ..core.formatting import month_cn
from ..core.forms import RegistryForm


class ChaseForm(RegistryForm):
    """催办: a note (the service checks it), and for a duty month which month."""

    note = TextAreaField("催办说明", render_kw={"rows": 4, "maxlength": 500,
                                              "placeholder": "如：请于本周内确认或提出异议；逾期将升级至县级督办"})
    next = HiddenField()


class DutyChaseForm(ChaseForm):
    # choices: the posting's missing months; the service checks the month again
    month = SelectField("月份", choices=[], validate_choice=False)

    def set_months(self, months) -> None:
        self.month.choices = [(month_value(m), month_cn(m)) for m in months]
