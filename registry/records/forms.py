"""Forms of the records pages. They only carry input and build their choices from the
user's scope; every rule is checked in ``filing``, ``services`` (and ``funds``), whose Chinese
messages land on these fields."""
from __future__ import annotations

import re
from datetime import date

from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from ..core.enums import PAIRING_KINDS, RECORD_CATEGORIES
from ..core.formatting import date_cn
from ..core.parsing import CONFIRM_LABEL
from ..pairings.models import in_period
from ..core.forms import MONEY_INPUT as MONEY, RegistryForm
from ..core.forms import select_choices as _choices
from . import filers

ACCEPT = "image/jpeg,image/png,image/webp,application/pdf,.jpg,.jpeg,.png,.webp,.pdf"


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class Needed:
    """Marks a field as required on the page (the star); the service checks it."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        return None


class LazySelectField(SelectField):
    """A select whose choices are read from the database only when something asks for
    them (the page is drawn, ``choose_only_pairing``): a form posted and saved, which
    never shows them, does not read them (each a query on every filing)."""

    _loader = None
    _loaded = None

    @property
    def choices(self):
        if self._loader is not None:
            loader, self._loader = self._loader, None
            self._loaded = loader()
        return self._loaded

    @choices.setter
    def choices(self, value) -> None:
        self._loader = None
        self._loaded = value

    def choices_from(self, loader) -> None:
        self._loader = loader


class RecordForm(RegistryForm):
    reference = StringField("编号", render_kw={"maxlength": 30, "placeholder": "留空则自动编号，如 2026-0001"})
    village_code = LazySelectField("受帮扶村", validate_choice=False, validators=[Needed()])
    pairing_id = LazySelectField("所属结对关系", validate_choice=False)
    category = SelectField(
        "帮扶类别", choices=_choices([("", "请选择"), *RECORD_CATEGORIES.items()]), validate_choice=False, validators=[Needed()]
    )
    title = StringField("标题", validators=[Needed()], render_kw={"maxlength": 200, "placeholder": "如：捐建村级产业路硬化"})
    record_date = StringField("帮扶日期", validators=[Needed()], render_kw={"type": "date"})
    amount = StringField("直接投入资金（元）", render_kw=MONEY)
    amount_attracted = StringField("引进资金（元）", render_kw=MONEY)
    amount_in_kind = StringField("实物折价（元）", render_kw=MONEY)
    households = StringField("受益户数", render_kw={"inputmode": "numeric", "placeholder": "0"})
    persons = StringField("受益人数", render_kw={"inputmode": "numeric", "placeholder": "0"})
    jobs = StringField("带动就业人数", render_kw={"inputmode": "numeric", "placeholder": "0"})
    description = TextAreaField("内容说明", render_kw={"rows": 5})
    files = MultipleFileField("佐证材料（照片或 PDF，可多选）", render_kw={"accept": ACCEPT})
    amount_confirmed = BooleanField(CONFIRM_LABEL)  # shown once an amount needs it (core.parsing.check_amounts)
    version = HiddenField()

    def __init__(self, organization_id: int, *args, fixed_village=None, within=None, **kwargs):
        """``within``: region staff filing on the unit's behalf see only the unit's villages
        inside their region, and the unit's pairings that reach into it."""
        super().__init__(*args, **kwargs)
        if fixed_village is not None:
            self.village_code.choices = _choices([(fixed_village.code, f"{fixed_village.name}（{fixed_village.code}）")])
        else:
            # searchable (static/js/combobox.js): a unit may reach dozens of villages
            self.village_code.render_kw = {"data-combobox-select": "村"}
            self.village_code.choices_from(lambda: _choices([("", "请选择")] + [
                (v.code, f"{v.parent.name if v.parent else ''} {v.name}（{v.code}）".strip())
                for v in filers.filer_villages(organization_id, within)
            ]))
        # data-region: the pairing's code prefix, data-start and data-end its period, so
        # static/js/records.js can offer only the pairings that cover the chosen village on
        # the record's date (the service checks both in any case)
        self.pairing_id.choices_from(lambda: _choices([("", "不关联")] + [
            (str(p.id), f"{PAIRING_KINDS.get(p.kind, p.kind)} · {p.region.name if p.region else p.region_code}"
                        f"（{date_cn(p.start_date)}起{'' if p.end_date is None else f'，{date_cn(p.end_date)}止'}）",
             {"data-region": p.region.prefix if p.region else p.region_code, "data-start": p.start_date.isoformat(),
              "data-end": p.end_date.isoformat() if p.end_date else ""})
            for p in filers.filer_pairings(organization_id)
            if within is None or p.region is None or within.contains(p.region_code) or p.region.contains(within.code)
        ]))

    def choose_only_pairing(self) -> None:
        """With a village chosen and no pairing, the pairing when exactly one covers the
        village on the record's date, if one is given (static/js/records.js does the same
        as the user picks a village or a date)."""
        code = self.village_code.data or ""
        if not code or self.pairing_id.data:
            return
        day = str(self.record_date.data or "").strip()
        day = date.fromisoformat(day) if _ISO_DAY.fullmatch(day) else None  # as the date input sends it

        def fits(attrs: dict) -> bool:
            end = attrs["data-end"]
            return code.startswith(attrs.get("data-region") or "\0") and (day is None or in_period(
                date.fromisoformat(attrs["data-start"]), date.fromisoformat(end) if end else None, day))

        fitting = [c.value for c in self.pairing_id.choices if c.value and fits(c.render_kw or {})]
        if len(fitting) == 1:
            self.pairing_id.data = fitting[0]

    def fill_from(self, record) -> None:
        """Put a stored record's values on the form (for editing or correcting)."""
        for name in ("reference", "village_code", "category", "title", "description", "households", "persons", "jobs"):
            getattr(self, name).data = getattr(record, name)
        for name in ("amount", "amount_attracted", "amount_in_kind"):
            value = getattr(record, name)
            getattr(self, name).data = "" if value is None else f"{value:.2f}"
        self.record_date.data = record.record_date.isoformat() if record.record_date else ""
        self.pairing_id.data = str(record.pairing_id) if record.pairing_id else ""


class ActionForm(RegistryForm):
    """A one-click state change: CSRF, and the version the user saw."""

    version = HiddenField()
    next = HiddenField()


class ConfirmForm(ActionForm):
    """确认属实 in two steps: ``step=review`` shows the record once more with the final
    button; ``step=final`` confirms only with ``attest`` ticked."""

    step = HiddenField()
    attest = BooleanField("我已核对以上金额、受益户数和人数及佐证材料，与本村实际情况一致")


class DisputeForm(RegistryForm):
    reason = TextAreaField("异议理由", validators=[Needed()], render_kw={"rows": 4, "placeholder": "请写明与实际不符之处，如金额、日期或内容"})
    version = HiddenField()


class EvidenceForm(RegistryForm):
    files = MultipleFileField("添加佐证材料（照片或 PDF）", render_kw={"accept": ACCEPT})


class ContributionForm(RegistryForm):
    donor = StringField("捐赠方", validators=[Needed()], render_kw={"maxlength": 200})
    amount = StringField("捐赠金额（元）", validators=[Needed()], render_kw=MONEY)
    received_on = StringField("到账日期", validators=[Needed()], render_kw={"type": "date"})
    receipt_no = StringField("收据编号", validators=[Needed()], render_kw={"maxlength": 50})
    note = TextAreaField("备注", render_kw={"rows": 3})
    amount_confirmed = BooleanField(CONFIRM_LABEL)
