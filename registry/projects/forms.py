"""Forms of the project pages: they carry input and build their choices from the user's
scope; every rule is checked in ``services``, whose Chinese messages land on these fields."""
from __future__ import annotations

from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import MONEY_INPUT as MONEY, RegistryForm
from ..core.forms import select_choices
from ..core.parsing import CONFIRM_LABEL
from ..records.forms import ACCEPT, Needed
from .models import PROJECT_KINDS, PROJECT_STATUSES, STATUS_MOVES


class ProjectForm(RegistryForm):
    organization_id = SelectField("企业", validate_choice=False, validators=[Needed()])
    name = StringField("项目名称", validators=[Needed()], render_kw={"maxlength": 200})
    kind = SelectField("项目类型", validate_choice=False, validators=[Needed()],
                       choices=select_choices([("", "请选择"), *PROJECT_KINDS.items()]))
    is_xiangshang = BooleanField("湘商回归项目")
    planned_investment = StringField("计划投资（元）", validators=[Needed()], render_kw=MONEY)
    signed_on = StringField("签约日期", validators=[Needed()], render_kw={"type": "date"})
    # a unit ticks its own villages (``set_villages``); region staff type the codes of
    # villages under them, as a unit may for one not offered
    picked_villages = SelectMultipleField("涉及村", validate_choice=False, widget=ListWidget(prefix_label=False),
                                          option_widget=CheckboxInput())
    villages = TextAreaField("涉及村（12位区划代码，多个用逗号或换行分隔）", validators=[Needed()],
                             render_kw={"rows": 3, "placeholder": "如 433101001001, 433101001002"})
    description = TextAreaField("项目简介", render_kw={"rows": 4})
    amount_confirmed = BooleanField(CONFIRM_LABEL)
    version = HiddenField()

    def set_enterprises(self, enterprises) -> None:
        self.organization_id.choices = select_choices([("", "请选择企业"), *((str(o.id), o.name) for o in enterprises)])

    def set_villages(self, suggested, codes: list[str] | None = None) -> None:
        """Offer the unit's own villages (``suggested``) as boxes to tick, the code box then
        for any other; ``codes``: the project's villages, shown ticked or typed."""
        self.picked_villages.choices = select_choices((v.code, v.name) for v in suggested)
        if suggested:
            self.villages.label.text = "其他村（12位区划代码，可不填）"
            self.villages.flags.required = False
        if codes is not None:
            offered = {v.code for v in suggested}
            self.picked_villages.data = [c for c in codes if c in offered]
            self.villages.data = "\n".join(c for c in codes if c not in offered)


class ProgressForm(RegistryForm):
    entry_date = StringField("进展日期", validators=[Needed()], render_kw={"type": "date"})
    status_to = SelectField("项目状态变更", validate_choice=False)
    end_reason = TextAreaField("终止原因（终止项目时必填）", render_kw={"rows": 2})
    actual_investment = StringField("实际到位投资（元，截至进展日期累计）", render_kw=MONEY)
    local_jobs = StringField("带动当地就业（人，截至进展日期）")
    note = TextAreaField("进展说明", render_kw={"rows": 3})
    villages = SelectMultipleField("涉及的村（由这些村确认；不选则为项目全部村）", validate_choice=False)
    files = MultipleFileField("佐证材料（照片或 PDF）", render_kw={"accept": ACCEPT})
    amount_confirmed = BooleanField(CONFIRM_LABEL)
    version = HiddenField()

    def set_project(self, project) -> None:
        moves = sorted(STATUS_MOVES.get(project.status, ()), key=list(PROJECT_STATUSES).index)
        self.status_to.choices = select_choices(
            [("", f"不变（{project.status_label}）"), *((s, PROJECT_STATUSES[s]) for s in moves)])
        self.villages.choices = select_choices(
            [(v.village_code, v.village.name if v.village else v.village_code) for v in project.villages])


class DecisionForm(RegistryForm):
    """确认 (no reason) or 提出异议 (with one) on a progress entry, for the user's village."""

    reason = TextAreaField("异议理由", render_kw={"rows": 3, "placeholder": "请写明与实际不符之处"})
    version = HiddenField()
