"""Forms of 实绩考核. They carry the fields and their choices; every rule is checked by the
service (``services.py``), which names the field in its message."""
from __future__ import annotations

from wtforms import HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from ..core.forms import RegistryForm, select_choices
from ..records.forms import ACCEPT
from .models import BETTER, RULES, SOURCES, TARGET_LEVELS
from .providers import choices as provider_choices


class SchemeForm(RegistryForm):
    name = StringField("方案名称", render_kw={"maxlength": 200, "placeholder": "如：2026年度市县党委和政府乡村振兴实绩考核"})
    year = StringField("考核年度", render_kw={"inputmode": "numeric", "maxlength": 4})
    target_level = SelectField("考核对象", choices=select_choices(TARGET_LEVELS.items()), validate_choice=False)
    note = TextAreaField("说明", render_kw={"rows": 3})


class IndicatorForm(RegistryForm):
    name = StringField("指标名称", render_kw={"maxlength": 100})
    weight = StringField("权重（分值，合计100分）", render_kw={"inputmode": "decimal"})
    source = SelectField("数据来源", choices=select_choices(SOURCES.items()), validate_choice=False)
    provider = SelectField("计算口径（系统计算的指标）", validate_choice=False)
    rule = SelectField("计分规则", choices=select_choices(RULES.items()), validate_choice=False)
    better = SelectField("数值方向", choices=select_choices(BETTER.items()), validate_choice=False)
    floor = StringField("零分线（线性计分）", render_kw={"inputmode": "decimal"})
    target = StringField("满分线（线性计分）", render_kw={"inputmode": "decimal"})
    steps = TextAreaField("分档（分档计分：每行“界限值 得分比例%”，如“90 100”）", render_kw={"rows": 4})
    unit = StringField("计量单位（人工录入的指标，如 %、个、万元）", render_kw={"maxlength": 20})
    scorer_id = SelectField("评分人（人工录入的指标；不指定则本单位工作人员均可录入）", validate_choice=False)
    note = TextAreaField("评分说明", render_kw={"rows": 2})

    def __init__(self, *args, scorers: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.provider.choices = select_choices([("", "（请选择）"), *provider_choices().items()])
        self.scorer_id.choices = select_choices([("", "（不指定）"), *scorers])


class ScorecardForm(RegistryForm):
    region_code = SelectField("被考核地区", validate_choice=False)

    def __init__(self, *args, regions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.region_code.choices = select_choices([("", "（请选择）"), *((r.code, r.name) for r in regions)])


class LineForm(RegistryForm):
    value = StringField("指标值", render_kw={"inputmode": "decimal"})
    note = TextAreaField("评分依据（与佐证材料至少填一项）", render_kw={"rows": 3})
    files = MultipleFileField("佐证材料（照片或 PDF）", render_kw={"accept": ACCEPT})
    version = HiddenField()


class VersionForm(RegistryForm):
    version = HiddenField()


class ReturnForm(RegistryForm):
    reason = TextAreaField("退回原因", render_kw={"rows": 2})
    version = HiddenField()
