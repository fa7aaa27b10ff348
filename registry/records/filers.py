"""Who files support records, and for which villages: a backing unit its own records, for
the villages its pairings and postings reach (``village_allowed``, ``filer_villages``);
region staff on a unit's behalf, for that unit's villages in their region (``filer_for``,
the one rule the form, the import, the API and the CLI ask).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Date, and_, bindparam, event, func, or_, select
from sqlalchemy.orm import Session, aliased

from ..core.parsing import to_id
from ..core.queries import column_rows, in_batches
from ..core.rules import RuleViolation
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..pairings.models import Pairing
from ..people.models import Posting
from ..regions.models import Region


# -- where a unit may file -------------------------------------------------------------------

def _bound_regions(organization_id: int) -> list[tuple[str, str, str]]:
    """(code, level, source) of the regions the organization has a pairing with or a posting
    to that has started (active or past). Asked once per transaction and day until its next
    flush: filing one record asks it for the form's villages and again for the check."""
    today = local_today()
    session = db.session()
    cache = session.info.get(_BOUND)
    tx = session.get_transaction()
    if tx is None or cache is None or cache[0] is not tx:
        cache = session.info[_BOUND] = (tx, {})
    rows = cache[1].get((organization_id, today))
    if rows is None:
        rows = _read_bound_regions(organization_id, today)
        if tx is not None:
            cache[1][(organization_id, today)] = rows
    return rows


_BOUND = "records_bound_regions"  # session.info: (transaction, {(organization, day): rows}), dropped on flush


def _forget_bound(session, *_args) -> None:
    session.info.pop(_BOUND, None)


def _forget_bound_on_write(state) -> None:
    if not state.is_select:
        state.session.info.pop(_BOUND, None)


event.listen(Session, "after_flush", _forget_bound)
event.listen(Session, "after_transaction_end", _forget_bound)
event.listen(Session, "do_orm_execute", _forget_bound_on_write)


def _read_bound_regions(organization_id: int, today) -> list[tuple[str, str, str]]:
    rows = column_rows(_bound_statement(), {"organization_id": organization_id, "today": today}).all()
    return [(code, level, "pairing" if from_pairing else "posting") for code, level, from_pairing in rows]


@functools.cache
def _bound_statement():
    """The look-up of ``_read_bound_regions``, built once (every filing asks it: building
    the statement and its cache key cost more than running it)."""
    org, today = bindparam("organization_id"), bindparam("today", type_=Date)
    pairings = select(Pairing.region_code).where(Pairing.organization_id == org, Pairing.start_date <= today)
    postings = select(Posting.region_code).where(Posting.organization_id == org, Posting.start_date <= today)
    return select(Region.code, Region.level, Region.code.in_(pairings)).where(
        or_(Region.code.in_(pairings), Region.code.in_(postings)))


def village_condition(organization_id: int, within: Region | None = None):
    """SQL condition on ``Region``: the villages the organization may file records for —
    villages it is paired with or posts people to, and the villages inside a county or
    township it is paired with (对口帮扶 of a county). ``within``: only those inside that
    region (region staff filing on the unit's behalf)."""
    bound = _bound_regions(organization_id)
    direct = _direct_villages(bound)
    conditions = [Region.code.in_(direct)] if direct else []
    conditions += [area.within(Region.code) for area in _areas(bound)]
    if not conditions:
        return None
    return _villages_within(or_(*conditions), within)


def _villages_within(condition, within: Region | None):
    condition = and_(Region.level == "village", condition)
    return condition if within is None else and_(condition, within.within(Region.code))


def _direct_villages(bound: list[tuple[str, str, str]]) -> list[str]:
    """The villages among the bound regions: those a unit files for directly."""
    return [code for code, level, _ in bound if level == "village"]


def _areas(bound: list[tuple[str, str, str]]) -> list[Region]:
    """The counties and townships among the bound regions that a pairing binds: a unit
    files for every village inside them."""
    return [Region(code=code, level=level) for code, level, source in bound
            if level in ("county", "township") and source == "pairing"]


def filer_village_names_of(organization_ids, within: Region | None = None) -> dict[int, dict[str, str]]:
    """``filer_village_names`` of many organizations at once (an import on the units'
    behalf): their bound regions in one look-up, the names of the villages they are bound
    to directly in another, and each county or township a pairing binds read once however
    many units it binds."""
    bound = _bound_regions_of(organization_ids)
    direct = {code for rows in bound.values() for code in _direct_villages(rows)}
    names = {code: name for batch in in_batches(direct) for code, name in db.session.execute(
        select(Region.code, Region.name).where(_villages_within(Region.code.in_(batch), within)))}
    inside: dict[str, dict[str, str]] = {}  # an area's code -> its villages (within ``within``)
    found: dict[int, dict[str, str]] = {}
    for organization_id in organization_ids:
        rows = bound.get(organization_id, [])
        villages = {code: names[code] for code in _direct_villages(rows) if code in names}
        for area in _areas(rows):
            if area.code not in inside:
                inside[area.code] = dict(db.session.execute(select(Region.code, Region.name).where(
                    _villages_within(area.within(Region.code), within))).tuples().all())
            villages.update(inside[area.code])
        found[organization_id] = dict(sorted(villages.items()))
    return found


def _bound_regions_of(organization_ids) -> dict[int, list[tuple[str, str, str]]]:
    """``_bound_regions`` of many organizations: (code, level, source) by organization."""
    today = local_today()
    sources: dict[tuple[int, str], bool] = {}  # (organization, code) -> bound by a pairing
    for batch in in_batches(organization_ids):
        for model, pairing in ((Posting, False), (Pairing, True)):
            for organization_id, code in db.session.execute(
                    select(model.organization_id, model.region_code).distinct()
                    .where(model.organization_id.in_(batch), model.start_date <= today)):
                sources[(organization_id, code)] = sources.get((organization_id, code), False) or pairing
    levels = {code: level for batch in in_batches(code for _, code in sources)
              for code, level in db.session.execute(select(Region.code, Region.level).where(Region.code.in_(batch)))}
    bound: dict[int, list[tuple[str, str, str]]] = {}
    for (organization_id, code), pairing in sorted(sources.items()):
        if code in levels:
            bound.setdefault(organization_id, []).append((code, levels[code], "pairing" if pairing else "posting"))
    return bound


def filer_villages(organization_id: int, within: Region | None = None) -> list[Region]:
    condition = village_condition(organization_id, within)
    if condition is None:
        return []
    return list(db.session.scalars(select(Region).where(condition).order_by(Region.code)))


def filer_village_names(organization_id: int, within: Region | None = None) -> dict[str, str]:
    """Code -> name of ``filer_villages``, fetched once (for checking many records)."""
    condition = village_condition(organization_id, within)
    if condition is None:
        return {}
    return dict(db.session.execute(select(Region.code, Region.name).where(condition).order_by(Region.code)).all())


def filer_village_codes(organization_id: int, within: Region | None = None) -> set[str]:
    """The codes of ``filer_villages``, fetched once (for checking many records)."""
    condition = village_condition(organization_id, within)
    if condition is None:
        return set()
    return set(db.session.scalars(select(Region.code).where(condition)))


def village_allowed(organization_id: int, village_code: str, within: Region | None = None) -> bool:
    if within is None and village_code in _direct_villages(_bound_regions(organization_id)):
        return True  # one of the condition's own villages: no need to ask the database
    condition = village_condition(organization_id, within)
    if condition is None:
        return False
    return db.session.scalar(select(func.count()).select_from(Region).where(condition, Region.code == village_code)) > 0


# -- who files: a unit its own records, region staff on a unit's behalf -----------------------

def files_on_behalf(user) -> bool:
    """Region staff (not viewers, not administrators) of a region may file records on the
    behalf of the units that help villages inside it (代为填报)."""
    return getattr(user, "role", None) == "region" and getattr(user, "region", None) is not None


def _acting_condition(region: Region):
    """SQL condition on ``Organization``: the organizations that may file for some village
    inside ``region`` by the rule of ``village_condition`` — a started pairing with a
    village inside it, or with a county or township that overlaps it (lies inside it, or
    holds it), or a started posting to a village inside it."""
    today = local_today()
    place = aliased(Region)
    around = [*region.ancestor_codes(), region.code]  # a county pairing covers a township inside
    paired = (select(Pairing.organization_id).join(place, place.code == Pairing.region_code)
              .where(Pairing.start_date <= today, place.level.in_(("village", "county", "township")),
                     or_(region.within(place.code), place.code.in_(around))))
    posted = (select(Posting.organization_id).join(place, place.code == Posting.region_code)
              .where(Posting.start_date <= today, place.level == "village", region.within(place.code)))
    return or_(Organization.id.in_(paired), Organization.id.in_(posted))


def acting_organizations(user) -> list[Organization]:
    """The organizations ``user`` may file records for: a unit itself; region staff the
    units helping villages inside their region; nobody else any."""
    if getattr(user, "role", None) == "unit" and user.organization_id:
        return [db.session.get(Organization, user.organization_id)]
    if not files_on_behalf(user):
        return []
    return list(db.session.scalars(select(Organization).where(_acting_condition(user.region))
                                   .order_by(Organization.name, Organization.id)))


def acting_village_names(user) -> dict[str, str]:
    """Code -> name of the villages region staff may file for on some unit's behalf: the
    union of ``filer_villages(org, within=region)`` over ``acting_organizations`` (a
    started pairing with or posting to the village, or a started pairing with its county
    or township), in one query however many units help in the region."""
    if not files_on_behalf(user):
        return {}
    region, today = user.region, local_today()
    direct = select(Pairing.region_code).where(Pairing.start_date <= today).union(
        select(Posting.region_code).where(Posting.start_date <= today))
    areas = db.session.execute(
        select(Region.code, Region.level).where(
            Region.code.in_(select(Pairing.region_code).where(Pairing.start_date <= today)),
            Region.level.in_(("county", "township")),
            or_(region.within(Region.code), Region.code.in_([*region.ancestor_codes(), region.code])))
    ).all()
    helped = or_(Region.code.in_(direct), *[Region(code=code, level=level).within(Region.code) for code, level in areas])
    stmt = (select(Region.code, Region.name).where(Region.level == "village", region.within(Region.code), helped)
            .order_by(Region.code))
    return dict(db.session.execute(stmt).all())


@dataclass(frozen=True)
class Filer:
    """Who a record is filed for, and where: the unit, and for region staff acting on its
    behalf the staff member's region (only its villages)."""

    organization_id: int
    within: Region | None = None

    @property
    def on_behalf(self) -> bool:
        return self.within is not None


ONLY_FILERS = "只有帮扶单位的账号可以填报帮扶记录；行政区工作人员可以代帮扶单位填报"
NOT_ACTING = "该单位不在您可以代为填报的单位之列（须在您管辖范围内的村有结对关系或选派干部）"


def filer_for(user, organization_id=None) -> Filer:
    """The one rule of who may file a record for which unit: a backing unit's account files
    its own unit's records; region staff file for a unit that may file for some village in
    their region (and then only for those villages). The form, the import, the API and the
    CLI all ask here. ``organization_id``: the unit chosen (region staff must choose)."""
    role = getattr(user, "role", None)
    if role == "unit" and user.organization_id:
        if organization_id not in (None, "") and str(organization_id) != str(user.organization_id):
            raise RuleViolation("只能填报本单位的记录", "organization_id")
        return Filer(user.organization_id)
    if not files_on_behalf(user):
        raise RuleViolation({"": ONLY_FILERS})
    if organization_id in (None, ""):
        raise RuleViolation("请选择帮扶单位（代哪个单位填报）", "organization_id")
    organization_id = to_id(organization_id)
    if organization_id is None or not may_act_for(user, organization_id):
        raise RuleViolation(NOT_ACTING, "organization_id")
    return Filer(organization_id, user.region)


def may_act_for(user, organization_id: int) -> bool:
    """Whether region staff ``user`` may file on behalf of the organization."""
    if not files_on_behalf(user):
        return False
    stmt = select(Organization.id).where(Organization.id == organization_id, _acting_condition(user.region))
    return db.session.scalar(stmt) is not None


def filer_pairings(organization_id: int) -> list[Pairing]:
    return list(db.session.scalars(
        select(Pairing).where(Pairing.organization_id == organization_id).order_by(Pairing.start_date.desc(), Pairing.id)
    ))


def pairing_covers(pairing: Pairing, village_code: str) -> bool:
    region = pairing.region
    return region is not None and region.contains(village_code)
