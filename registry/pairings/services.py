"""Pairings 结对关系: an organization bound to a village or county for a kind of
assistance. The rules live in ``check_pairing``; creating and ending call it."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Select, select

from ..audit.services import record, snapshot
from ..core.enums import ORG_KINDS, PAIRED_SECTORS, PAIRING_KINDS
from ..core.formatting import date_cn
from ..core.paging import Key, flag, order_by
from ..core.parsing import check_plausible_date
from ..core.queries import IN_BATCH, in_batches
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..organizations.services import STALE, in_jurisdiction
from ..regions.models import Region
from .models import Pairing

# Where each kind of pairing may point, and which organizations may hold it.
VILLAGE_ONLY = {"resident", "enterprise_village"}
KIND_NEEDS_ORG = {"enterprise_village": ("enterprise",)}
# An individual helper (个人) pairs with a village, as 其他: not a backing unit (驻村帮扶 counts
# as one in coverage), not an enterprise, not an institution's 对口/定点帮扶.
INDIVIDUAL_PAIRING = "other"
FIELDS = ("region_code", "kind", "sector", "start_date", "end_date", "note")


SameKey = tuple[int, str, str]  # a pairing's organization, place and kind


def same_pairings(organization_ids, region_codes) -> dict[SameKey, list[Pairing]]:
    """The stored pairings of these organizations at these places, by organization, place
    and kind: what ``check_pairing`` compares a new one with, read at once for many."""
    codes = sorted(set(region_codes))
    found: dict[SameKey, list[Pairing]] = {}
    for batch in in_batches(organization_ids):
        stmt = select(Pairing).where(Pairing.organization_id.in_(batch))
        if len(codes) <= 2 * IN_BATCH:  # else every place of these organizations, sorted out below
            stmt = stmt.where(Pairing.region_code.in_(codes))
        for pairing in db.session.scalars(stmt.order_by(Pairing.id)):
            found.setdefault((pairing.organization_id, pairing.region_code, pairing.kind), []).append(pairing)
    return found


def check_pairing(
    *,
    organization: Organization | None,
    region: Region | None,
    kind: str | None,
    sector: str | None,
    start_date: date | None,
    end_date: date | None,
    pairing_id: int | None = None,
    same: list[Pairing] | None = None,
) -> None:
    """The pairing rules; raises one ``RuleViolation`` naming each field. ``same``: the
    pairings of the organization at the place of the kind, read beforehand
    (``same_pairings``; an import); None: looked up.

    - the organization exists; the place is a village or a county (resident and
      village–enterprise pairings: a village); a village–enterprise pairing is held by an
      enterprise; an individual helper pairs with a village only, as 其他;
    - paired assistance (对口帮扶) names its sector, other kinds do not;
    - end ≥ start;
    - no two pairings of the same organization, place and kind cover the same day
      (so no duplicate active pairing).
    """
    errors = Collector()
    if organization is None:
        errors.add("organization_id", "请选择帮扶主体")
    if kind not in PAIRING_KINDS:
        errors.add("kind", "请选择结对类型")
    if region is None:
        errors.add("region_code", "结对地不存在，请填写有效的12位区划代码")
    elif kind in VILLAGE_ONLY and region.level != "village":
        errors.add("region_code", f"{PAIRING_KINDS[kind]}只能结对到村（社区），“{region.name}”不是村")
    elif region.level not in ("village", "county"):
        errors.add("region_code", f"结对地应为村（社区）或县市区，“{region.name}”是{region.level_label}")
    if organization is not None and kind in KIND_NEEDS_ORG and organization.kind not in KIND_NEEDS_ORG[kind]:
        allowed = "、".join(ORG_KINDS[k] for k in KIND_NEEDS_ORG[kind])
        errors.add("kind", f"{PAIRING_KINDS[kind]}（万企兴万村）只适用于{allowed}，“{organization.name}”是{organization.kind_label}")
    if organization is not None and organization.is_individual and kind in PAIRING_KINDS:
        if kind != INDIVIDUAL_PAIRING:
            errors.add("kind", f"个人帮扶者只能以“{PAIRING_KINDS[INDIVIDUAL_PAIRING]}”类型结对（驻村帮扶、对口帮扶等由单位承担）")
        elif region is not None and region.level != "village":
            errors.add("region_code", f"个人帮扶者只能结对到村（社区），“{region.name}”不是村")
    if kind == "paired":
        if sector not in PAIRED_SECTORS:
            errors.add("sector", "对口帮扶须选择帮扶领域")
    elif sector:
        errors.add("sector", "只有对口帮扶填写帮扶领域")
    if start_date is None:
        errors.add("start_date", "请填写开始日期")
    elif not check_plausible_date(start_date, "start_date", "开始日期", errors):
        start_date = None  # the overlap look-up below needs it
    elif end_date is not None and end_date < start_date:
        errors.add("end_date", f"结束日期不能早于开始日期（{date_cn(start_date)}）")
    else:
        check_plausible_date(end_date, "end_date", "结束日期", errors)
    if not errors.errors and organization is not None and region is not None:
        if same is None:
            same = same_pairings([organization.id], [region.code]).get((organization.id, region.code, kind), [])
        clash = min((p for p in same if p.kind == kind and (pairing_id is None or p.id != pairing_id)
                     and p.overlaps(start_date, end_date)), key=lambda p: p.start_date, default=None)
        if clash is not None:
            until = f"至{date_cn(clash.end_date)}" if clash.end_date else "起，尚未结束"
            period = f"（{date_cn(clash.start_date)}{until}）"
            label = PAIRING_KINDS[kind]
            named = label if label.endswith("结对") else f"{label}结对"  # 村企结对, 驻村帮扶结对
            errors.add("region_code", (
                f"{organization.name}与{region.name}已有{named}{period}，不能重复结对"
                if clash.id is not None else  # not saved yet: an earlier row of the same import
                f"文件前面的行已有{organization.name}与{region.name}的{named}{period}，时间重叠，不能重复结对"))
    errors.raise_if_any()


def _lock(organization_ids, region_codes) -> None:
    """Lock the organizations' and places' rows (in order: two imports wait, not deadlock),
    so that two pairings of one organization and place saved at once are checked one
    after the other (PostgreSQL; SQLite has one writer at a time)."""
    for batch in in_batches(organization_ids):
        db.session.execute(select(Organization.id).where(Organization.id.in_(batch)).order_by(Organization.id).with_for_update())
    for batch in in_batches(region_codes):
        db.session.execute(select(Region.code).where(Region.code.in_(batch)).order_by(Region.code).with_for_update())


def create_pairing(organization: Organization, values: dict, *, actor, commit: bool = True, demo: bool = False) -> Pairing:
    """Bind ``organization`` to a place in the actor's jurisdiction."""
    return create_pairings([(organization, values)], actor=actor, commit=commit, demo=demo)[0]


def create_pairings(items: list[tuple[Organization, dict]], *, actor, commit: bool = True,
                    demo: bool = False) -> list[Pairing]:
    """Bind organizations to places (an import's rows: one flush for all), each checked
    and audited as the form's one is. The organizations and places are locked first, and
    the pairings they hold read then, so that a pairing saved meanwhile is compared too;
    each new one is compared with those before it."""
    if not items:
        return []
    if actor.role not in ("admin", "region"):
        raise RuleViolation("只有行政区工作人员可以办理结对")
    rows = []
    for organization, values in items:
        data = {key: values.get(key) for key in FIELDS}
        for key in ("region_code", "sector", "note"):
            data[key] = (data[key] or "").strip() or None
        if data["note"] and len(data["note"]) > 2000:
            raise RuleViolation("备注最多2000字", "note")
        if data["region_code"] and not in_jurisdiction(actor, data["region_code"]):
            raise RuleViolation("结对地不在您的管辖范围内", "region_code")
        rows.append((organization, data))
    _lock({organization.id for organization, _ in rows}, {d["region_code"] for _, d in rows} - {None})
    same = same_pairings([organization.id for organization, _ in rows], [d["region_code"] for _, d in rows if d["region_code"]])
    pairings = []
    for organization, data in rows:
        region = db.session.get(Region, data["region_code"] or "")
        known = same.setdefault((organization.id, data["region_code"], data["kind"]), [])
        check_pairing(
            organization=organization, region=region, kind=data["kind"], sector=data["sector"],
            start_date=data["start_date"], end_date=data["end_date"], same=known,
        )
        pairing = Pairing(organization_id=organization.id, is_demo=demo, **data)
        known.append(pairing)
        pairings.append((pairing, organization, region))
    db.session.add_all([pairing for pairing, _, _ in pairings])
    db.session.flush()
    for pairing, organization, region in pairings:
        record(
            "create", pairing, before=None, actor=actor,
            summary=f"结对：{organization.name}—{region.name}（{pairing.kind_label}，{date_cn(pairing.start_date)}起）",
        )
    if commit:
        db.session.commit()
    return [pairing for pairing, _, _ in pairings]


def can_manage_pairing(user, pairing: Pairing) -> bool:
    return user.role in ("admin", "region") and in_jurisdiction(user, pairing.region_code)


def check_ending(pairing: Pairing, end_date: date | None, actor, version=None) -> None:
    """Whether ``actor`` may end ``pairing`` on ``end_date`` (the form's 结束结对 and an
    update import alike); raises one ``RuleViolation``. ``version``: the one the form
    was shown, checked after who may act (an import reads the pairing as it checks it)."""
    if not can_manage_pairing(actor, pairing):
        raise RuleViolation("只有结对地所在行政区的工作人员可以结束结对")
    if pairing.end_date is not None and pairing.end_date < local_today():
        raise RuleViolation("该结对已于" + date_cn(pairing.end_date) + "结束")
    if version is not None and str(version) != str(pairing.version):
        raise RuleViolation(STALE)
    errors = Collector()
    if end_date is None:
        errors.add("end_date", "请填写结束日期")
    elif end_date > local_today():
        errors.add("end_date", "结束日期不能晚于今天")
    errors.raise_if_any()
    check_pairing(
        organization=pairing.organization, region=pairing.region, kind=pairing.kind, sector=pairing.sector,
        start_date=pairing.start_date, end_date=end_date, pairing_id=pairing.id,
    )


def end_pairing(pairing: Pairing, *, end_date: date | None, note: str | None, version, actor, commit: bool = True) -> Pairing:
    """Ending a pairing is an action with its date (and an optional note)."""
    check_ending(pairing, end_date, actor, version="" if version is None else version)
    before = snapshot(pairing)
    pairing.end_date = end_date
    note = (note or "").strip()
    if note:
        pairing.note = ((pairing.note + "\n") if pairing.note else "") + f"结束说明（{date_cn(end_date)}）：{note}"
    flush_or_refuse(STALE)
    record(
        "end", pairing, before=before, actor=actor,
        summary=f"结束结对：{pairing.organization.name}—{pairing.region.name}（{pairing.kind_label}），{date_cn(end_date)}",
    )
    if commit:
        db.session.commit()
    return pairing


def pairing_query(user, *, q: str = "", kind: str = "", status: str = "", region_code: str = "",
                  organization_id: int | None = None, village_code: str = "") -> Select:
    """Pairings ``user`` may see, filtered; the list and the export share it
    (``village_code``: the pairings with that one village, from its page)."""
    stmt = scoped(select(Pairing), Pairing, user).join(Pairing.organization)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(Organization.name.contains(q))
    if kind:
        stmt = stmt.where(Pairing.kind == kind)
    today = local_today()
    if status == "active":
        stmt = stmt.where(Pairing.active_on(today))
    elif status == "ended":
        stmt = stmt.where(Pairing.end_date < today)
    if region_code:
        region = db.session.get(Region, region_code)
        if region is not None:
            stmt = stmt.where(region.within(Pairing.region_code))
    if organization_id:
        stmt = stmt.where(Pairing.organization_id == organization_id)
    if village_code:
        stmt = stmt.where(Pairing.region_code == village_code)
    return stmt.order_by(*order_by(PAIRING_ORDER))


# the pairings list's order (its keyset pages' keys): open-ended first, then the newest
PAIRING_ORDER = (flag(Pairing.end_date.is_not(None), lambda p: p.end_date is not None),
                 Key(Pairing.start_date, descending=True), Key(Pairing.id, descending=True))


def pairings_of_organization(user, organization_id: int, limit: int = 200) -> list[Pairing]:
    return db.session.scalars(pairing_query(user, organization_id=organization_id).limit(limit)).all()
