"""Organizations 帮扶主体: the rules of a profile, who may register and edit one, and the
scoped queries the list, the export and the API share."""
from __future__ import annotations

from flask import abort
from sqlalchemy import Select, func, or_, select

from ..audit.services import record, snapshot
from ..core.enums import INDIVIDUAL, INDIVIDUAL_WAYS, MASS_ORG_SUBTYPES, ORG_KINDS, ORG_LEVELS, PAIRED_SECTORS, PARTY_FEDERATION_SUBTYPES
from ..core.identity import normalize_credit_code, normalize_phone
from ..core.paging import Key, order_by
from ..core.queries import in_batches
from ..core.parsing import check_text
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..extensions import db
from ..regions.models import Region
from .models import Organization

# The subtype a kind needs, and where its values come from.
SUBTYPES = {
    "mass_org": ("群团组织类别", MASS_ORG_SUBTYPES),
    "party_federation": ("民主党派/工商联类别", PARTY_FEDERATION_SUBTYPES),
    "paired_unit": ("对口帮扶领域", PAIRED_SECTORS),
    INDIVIDUAL: ("参与方式", INDIVIDUAL_WAYS),
}
# An individual (个人) is registered with its person (ID number, phone) by
# ``individuals.services``, never as a bare row: the form and import here refuse the kind.
INDIVIDUAL_ELSEWHERE = "个人帮扶者须连同身份证号在“个人帮扶”中登记和修改"
# Kinds that always hold a unified social credit code (an army unit, for one, has none).
CREDIT_CODE_REQUIRED = {"enterprise", "charity"}
FIELDS = (
    "name", "kind", "subtype", "level", "region_code", "credit_code", "is_private", "is_xiangshang",
    "contact_name", "contact_phone", "address", "note",
)
UNIT_FIXED = ("kind", "level", "region_code")
STALE = "该记录已被他人修改，请刷新页面后重新填写"


def in_jurisdiction(user, region_code: str | None) -> bool:
    """Whether ``region_code`` lies in the region ``user`` manages (admin: anywhere)."""
    if not region_code:
        return False
    if user.role == "admin":
        return True
    return user.role == "region" and user.region is not None and user.region.contains(region_code)


def managed_place_arg(args, user) -> Region | None:
    """``?region=``: the place a posting or a pairing is started from (a village or county
    page, a gap of the worklist), which ``user`` must manage; None when absent, else 404."""
    code = (args.get("region") or "").strip()
    if not code:
        return None
    region = db.session.get(Region, code) if len(code) == 12 and code.isdigit() else None
    if region is None or not in_jurisdiction(user, region.code):
        abort(404)
    return region


def chosen_place(user, region: Region | None, code: str | None) -> Region | None:
    """The place a posting or pairing form shows as chosen: the one it was started from,
    else the one the form names (``code``) if ``user`` manages it."""
    chosen = region or (db.session.get(Region, code) if code else None)
    return chosen if chosen is not None and in_jurisdiction(user, chosen.code) else None


def can_edit(user, org: Organization) -> bool:
    """Region staff edit organizations based in their jurisdiction; a unit its own profile."""
    if user.role == "unit":
        return org.id == user.organization_id
    return in_jurisdiction(user, org.region_code)


TEXT_LABELS = {"name": "单位名称", "contact_name": "联系人", "address": "地址", "note": "备注"}


def clean_organization(values: dict, *, actor, org: Organization | None, individual: bool = False,
                       holders: dict[str, int | None] | None = None) -> dict:
    """Check and normalise every field; raise one ``RuleViolation`` with all problems.
    ``individual``: the profile of an individual helper (``individuals.services`` only).
    ``holders``: which organization holds each of many credit codes (None: none), read at
    once for a file's rows (``credit_code_holders``); a code not in it is looked up."""
    errors = Collector()
    data = {key: values.get(key) for key in FIELDS}
    for key in ("name", "subtype", "level", "credit_code", "contact_name", "contact_phone", "address", "note"):
        if isinstance(data[key], str):
            data[key] = data[key].strip() or None
    data["is_private"] = bool(data["is_private"])
    data["is_xiangshang"] = bool(data["is_xiangshang"])

    if not data["name"]:
        errors.add("name", "请填写单位名称")
    elif len(data["name"]) > 200:
        errors.add("name", "单位名称最多200字")
    for key, label in TEXT_LABELS.items():
        check_text(data[key], key, label, errors, multiline=key == "note")

    kind = data["kind"]
    if kind not in ORG_KINDS:
        errors.add("kind", "请选择主体类型")
    elif (kind == INDIVIDUAL) != individual or (org is not None and org.is_individual != individual):
        errors.add("kind", INDIVIDUAL_ELSEWHERE)
    if kind in SUBTYPES:
        label, allowed = SUBTYPES[kind]
        if data["subtype"] not in allowed:
            errors.add("subtype", f"{ORG_KINDS[kind]}须选择{label}")
    elif data["subtype"]:
        errors.add("subtype", "只有群团组织、民主党派/工商联、对口帮扶单位和个人填写类别/领域")
    if data["level"] is not None and data["level"] not in ORG_LEVELS:
        errors.add("level", "单位层级无效")
    if kind != "enterprise" and (data["is_private"] or data["is_xiangshang"]):
        errors.add("is_private", "“民营企业”“湘商回归企业”只适用于企业")

    region = db.session.get(Region, data["region_code"] or "")
    if region is None or region.level == "village":
        errors.add("region_code", "请选择有效的所在行政区（省、市州、县市区或乡镇）")
    elif not (org is not None and actor.role == "unit") and not in_jurisdiction(actor, region.code):
        errors.add("region_code", "所在行政区不在您的管辖范围内")

    if data["credit_code"]:
        try:
            data["credit_code"] = normalize_credit_code(data["credit_code"])
        except RuleViolation as violation:
            errors.add("credit_code", violation.message)
        else:
            code = data["credit_code"]
            holder = (holders[code] if holders is not None and code in holders
                      else db.session.scalar(select(Organization.id).where(Organization.credit_code == code)))
            if holder is not None and (org is None or holder != org.id):
                errors.add("credit_code", "该统一社会信用代码已登记，同一单位不能重复登记")
    elif kind in CREDIT_CODE_REQUIRED:
        errors.add("credit_code", f"{ORG_KINDS[kind]}须填写统一社会信用代码")

    if data["contact_phone"]:
        try:
            data["contact_phone"] = normalize_phone(data["contact_phone"], "contact_phone")
        except RuleViolation as violation:
            errors.add("contact_phone", violation.message)
    errors.raise_if_any()
    return data


def _flush_or_explain() -> None:
    """Flush; a unique-constraint race becomes the same field message as the check."""
    flush_or_refuse(STALE, duplicate=("credit_code", "该统一社会信用代码已登记，同一单位不能重复登记"))


def credit_code_holders(codes) -> dict[str, int | None]:
    """The organization holding each credit code (None: none), for ``clean_organization``
    to check many rows without a query each."""
    holders: dict[str, int | None] = dict.fromkeys(codes)
    for batch in in_batches(codes):
        holders.update(db.session.execute(select(Organization.credit_code, Organization.id)
                                          .where(Organization.credit_code.in_(batch))).tuples().all())
    return holders


def create_organization(values: dict, *, actor, demo: bool = False, commit: bool = True) -> Organization:
    """Register an organization."""
    return create_organizations([values], actor=actor, demo=demo, commit=commit)[0]


def create_organizations(rows: list[dict], *, actor, demo: bool = False, commit: bool = True,
                         holders: dict[str, int | None] | None = None) -> list[Organization]:
    """Register many organizations (an import's rows), each checked and audited as the
    form's one is, written in one flush. ``holders``: as ``clean_organization`` takes
    it; the codes registered here are added to it."""
    if not rows:
        return []
    if actor.role not in ("admin", "region"):
        raise RuleViolation("只有行政区工作人员可以登记帮扶主体")
    orgs = []
    for values in rows:
        org = Organization(**clean_organization(values, actor=actor, org=None, holders=holders), is_demo=demo)
        if holders is not None and org.credit_code:
            holders[org.credit_code] = -1  # taken by this batch (a later row with it is refused)
        orgs.append(org)
    db.session.add_all(orgs)
    _flush_or_explain()
    for org in orgs:
        if holders is not None and org.credit_code:
            holders[org.credit_code] = org.id
        record("create", org, before=None, summary=f"登记帮扶主体：{org.name}（{org.kind_label}）", actor=actor)
    if commit:
        db.session.commit()
    return orgs


def update_organization(org: Organization, values: dict, *, version, actor, commit: bool = True,
                        holders: dict[str, int | None] | None = None) -> Organization:
    """Save an edited profile. ``version`` is what the editor saw; a newer row refuses.
    ``holders``: as ``clean_organization`` takes it."""
    if not can_edit(actor, org):
        raise RuleViolation("您不能修改此帮扶主体")
    if str(version) != str(org.version):
        raise RuleViolation(STALE)
    values = dict(values)
    if actor.role == "unit":
        for key in UNIT_FIXED:
            values[key] = getattr(org, key)
    data = clean_organization(values, actor=actor, org=org, holders=holders)
    before = snapshot(org)
    for key, value in data.items():
        setattr(org, key, value)
    if not db.session.is_modified(org):
        return org
    _flush_or_explain()
    record("update", org, before=before, summary=f"修改帮扶主体：{org.name}", actor=actor)
    if commit:
        db.session.commit()
    return org


def organization_query(user, *, q: str = "", kind: str = "", level: str = "", region_code: str = "",
                       individuals: bool = True) -> Select:
    """The organizations ``user`` may see, filtered; used by the list and the export
    (``individuals=False``: units only; individual helpers have their own list)."""
    stmt = scoped(select(Organization), Organization, user)
    if not individuals:
        stmt = stmt.where(Organization.kind != INDIVIDUAL)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(Organization.name.contains(q), Organization.credit_code == q.upper()))
    if kind:
        stmt = stmt.where(Organization.kind == kind)
    if level:
        stmt = stmt.where(Organization.level == level)
    if region_code:
        region = db.session.get(Region, region_code)
        if region is not None:
            stmt = stmt.where(region.within(Organization.region_code))
    return stmt.order_by(*order_by(ORGANIZATION_ORDER))


# the organizations list's order (its keyset pages' keys): by place, kind and name
ORGANIZATION_ORDER = (Key(Organization.region_code), Key(Organization.kind), Key(Organization.name), Key(Organization.id))


def count_in_scope(user) -> int:
    return db.session.scalar(scoped(select(func.count(Organization.id)), Organization, user)) or 0


def history(user, obj, limit: int = 20) -> list:
    """The audit events of ``obj`` that ``user`` may read, newest first."""
    from sqlalchemy import inspect

    from ..audit.models import AuditEvent

    stmt = scoped(select(AuditEvent), AuditEvent, user).where(
        AuditEvent.entity_type == type(obj).__name__, AuditEvent.entity_id == str(inspect(obj).identity[0])
    )
    return db.session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)).all()
