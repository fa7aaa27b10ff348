"""Forms for organizations, and the choices other registration forms share. Choices that
depend on the user's scope are built in ``__init__``.
"""
from __future__ import annotations

from sqlalchemy import select
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.enums import MASS_ORG_SUBTYPES, ORG_KINDS, ORG_LEVELS, PAIRED_SECTORS, PARTY_FEDERATION_SUBTYPES
from ..core.forms import RegistryForm
from ..extensions import db
from ..regions.models import Region

# an individual (个人) is registered with its ID number in 个人帮扶 (``individuals``)
UNIT_KINDS = {kind: label for kind, label in ORG_KINDS.items() if kind != "individual"}


def blank(label: str = "（请选择）") -> dict[str, str]:
    return {"": label}


def options(*parts) -> dict[str, str]:
    """Select choices as WTForms' shorthand dict (value -> label, or group -> dict),
    built from dicts and (value, label) pairs, in order."""
    out: dict = {}
    for part in parts:
        out.update(part if isinstance(part, dict) else dict(part))
    return out


def home_region_choices(user, current: str | None = None) -> list[tuple[str, str]]:
    """Regions an organization may be based in for ``user``: the user's region and
    everything under it down to the counties (a township user: the township)."""
    if user.role == "admin":
        stmt = select(Region).where(Region.level.in_(("province", "city", "county")))
    elif user.role in ("region", "viewer") and user.region is not None:
        stmt = select(Region).where(
            user.region.within(Region.code),
            Region.level.in_(("province", "city", "county")) | (Region.code == user.region.code),
        )
    else:
        stmt = select(Region).where(Region.code == (current or ""))
    regions = db.session.scalars(stmt.order_by(Region.code)).all()
    indent = {"province": "", "city": "　", "county": "　　", "township": "　　　"}
    return [(r.code, f"{indent.get(r.level, '')}{r.name}") for r in regions]


SUBTYPE_CHOICES = {
    "群团组织类别": dict(MASS_ORG_SUBTYPES),
    "民主党派/工商联": dict(PARTY_FEDERATION_SUBTYPES),
    "对口帮扶领域": dict(PAIRED_SECTORS),
}


UNIT_FIXED = ("kind", "level", "region_code")


class OrganizationForm(RegistryForm):
    name = StringField("单位名称", validators=[DataRequired(message="请填写单位名称"), Length(max=200)])
    kind = SelectField("主体类型", choices=options(blank(), UNIT_KINDS))
    subtype = SelectField(
        "类别/领域",
        choices=options(blank("（无）"), SUBTYPE_CHOICES),
        description="群团组织、民主党派/工商联、对口帮扶单位须选择",
    )
    level = SelectField("单位层级", choices=options(blank("（无）"), ORG_LEVELS))
    region_code = SelectField("所在行政区", choices=[])
    credit_code = StringField("统一社会信用代码", validators=[Length(max=40)], description="18位；企业、公益慈善组织必填")
    is_private = BooleanField("民营企业")
    is_xiangshang = BooleanField("湘商回归企业")
    contact_name = StringField("联系人", validators=[Optional(), Length(max=50)])
    contact_phone = StringField("联系电话", validators=[Optional(), Length(max=20)])
    address = StringField("地址", validators=[Optional(), Length(max=200)])
    note = TextAreaField("备注", validators=[Optional(), Length(max=2000)])
    version = HiddenField()

    def __init__(self, user, *args, org=None, **kwargs):
        super().__init__(*args, **kwargs)
        current = org.region_code if org is not None else None
        self.region_code.choices = home_region_choices(user, current)
        if org is None:
            del self.version
        if user.role == "unit":
            # a unit keeps its profile current; what it is and where it is based is the
            # registering office's decision (the service refuses it too)
            for name in UNIT_FIXED:
                delattr(self, name)

    def payload(self) -> dict:
        data = {name: field.data for name, field in self._fields.items() if name not in ("csrf_token", "version")}
        for key, value in data.items():
            if isinstance(value, str):
                data[key] = value.strip()
        return data


class OrganizationFilter(RegistryForm):
    """The list's GET filters (no CSRF: it changes nothing)."""

    class Meta(RegistryForm.Meta):
        csrf = False

    q = StringField("名称或信用代码", validators=[Optional(), Length(max=100)])
    kind = SelectField("类型", choices=options(blank("全部"), UNIT_KINDS), validators=[Optional()])
    level = SelectField("层级", choices=options(blank("全部"), ORG_LEVELS), validators=[Optional()])
    region = SelectField("所在行政区", choices=[], validators=[Optional()])

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        readers = user.role in ("admin", "region", "viewer")
        self.region.choices = options(blank("全部"), home_region_choices(user) if readers else {})


def read_filters(form):
    """Validate a GET filter form; a value that is not a valid choice (an old link, a
    region outside the user's scope) is dropped rather than refused."""
    if not form.validate():
        for field in form:
            if field.errors:
                field.data = None
                field.errors = []
    return form
