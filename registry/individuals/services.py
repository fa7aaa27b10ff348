"""Individual helpers 个人帮扶 (湘办〔2023〕17号 §六: donations, volunteering, 返乡创业).

The data model: an individual helper is an ``Organization`` of kind ``individual`` (个人)
— the helper in pairings, support records, the village's confirmation, coverage, the
assessment and the exports, all unchanged — and exactly one ``Person`` employed by that
row, holding what is private (ID number, phone: encrypted, masked, shown by the rule of
``people.privacy`` as a cadre's are). Both are registered and edited together here, in one
transaction, each change audited; the organization and person forms refuse the kind
(``organizations.services.INDIVIDUAL_ELSEWHERE``), the person form never offers a helper
as an employer (``people.services.employers_query``), so a helper's row never gets a
second person. The row's name follows the person's name.
"""
from __future__ import annotations

from sqlalchemy import Select, select

from ..audit.services import record, snapshot
from ..core import crypto
from ..core.enums import INDIVIDUAL, INDIVIDUAL_WAYS
from ..core.identity import normalize_id_number
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..extensions import db
from ..organizations.models import Organization
from ..organizations.services import STALE, can_edit, clean_organization
from ..people import services as people
from ..people.models import Person
from ..regions.models import Region

# The person's fields an individual's form and import carry (no post, rank or reserve flag).
PERSON_FIELDS = ("name", "id_number", "gender", "ethnicity", "birth_date", "phone", "is_party_member", "education",
                 "is_veteran", "expertise")
# The helper row's own fields, as the form names them.
HELPER_FIELDS = ("way", "region_code", "address", "note")
REGISTER_ROLES = ("admin", "region")
MAY_REGISTER = "只有行政区工作人员可以登记个人帮扶者"


def _helper_values(values: dict, name) -> dict:
    """The organization row's values for ``values`` (the helper form's keys)."""
    return {"name": name, "kind": INDIVIDUAL, "subtype": values.get("way"), "level": None,
            "region_code": values.get("region_code"), "credit_code": None, "is_private": False,
            "is_xiangshang": False, "contact_name": None, "contact_phone": None,
            "address": values.get("address"), "note": values.get("note")}


def _merge(errors: Collector, broken: RuleViolation, rename: dict[str, str] | None = None) -> None:
    for key, messages in broken.errors.items():
        for message in messages:
            errors.add((rename or {}).get(key, key), message)


def clean_individual(values: dict, *, actor, org: Organization | None = None,
                     person: Person | None = None) -> tuple[dict, dict]:
    """The rules of an individual helper: the person rule (``people.clean_person``, ID
    number unique among all people) and the helper row's (``clean_organization``: home
    region in the actor's jurisdiction, a way of helping). Returns (row values, person
    values) or raises one ``RuleViolation`` naming every field."""
    errors = Collector()
    person_data: dict = {}
    try:
        person_data = people.clean_person({key: values.get(key) for key in PERSON_FIELDS}, actor=actor,
                                          person=person, individual=org if org is not None else True)
    except RuleViolation as broken:
        _merge(errors, broken)
    name = person_data.get("name") or (values.get("name") or "").strip() or None
    helper: dict = {}
    try:
        helper = clean_organization(_helper_values(values, name), actor=actor, org=org, individual=True)
    except RuleViolation as broken:
        # the person rule has named the name already; the row's kind is fixed here
        broken.errors.pop("name", None)
        _merge(errors, broken, {"subtype": "way"})
    errors.raise_if_any()
    return helper, person_data


def _flush() -> None:
    flush_or_refuse(STALE, duplicate=("id_number", people.DUPLICATE_ID))


def create_individual(values: dict, *, actor, demo: bool = False, commit: bool = True) -> Organization:
    """Register an individual helper: its row and its person, one transaction, audited."""
    if actor.role not in REGISTER_ROLES:
        raise RuleViolation(MAY_REGISTER)
    helper, person_data = clean_individual(values, actor=actor)
    org = Organization(**helper, is_demo=demo)
    db.session.add(org)
    _flush()
    person = Person(name=person_data["name"], is_demo=demo)
    people.fill_person(person, {**person_data, "organization_id": org.id})
    db.session.add(person)
    _flush()
    way = INDIVIDUAL_WAYS.get(org.subtype or "", "")
    record("create", org, summary=f"登记个人帮扶者：{org.name}（{way}）", actor=actor)
    record("create", person, summary=f"登记个人帮扶者的身份信息：{person.name}", actor=actor)
    if commit:
        db.session.commit()
    return org


def person_of(org: Organization) -> Person | None:
    """The helper's person (unscoped: callers have the helper in scope)."""
    return db.session.scalar(select(Person).where(Person.organization_id == org.id).order_by(Person.id).limit(1))


def version_of(org: Organization, person: Person | None) -> str:
    """What an editor saw: both rows' versions."""
    return f"{org.version}.{person.version if person is not None else 0}"


def can_edit_individual(user, org: Organization) -> bool:
    """Region staff whose jurisdiction holds the helper's home, the admin, and the
    helper's own account (which cannot move its home)."""
    return org.is_individual and can_edit(user, org)


def update_individual(org: Organization, values: dict, *, version, actor, commit: bool = True) -> Organization:
    """Save an edited helper (row and person); ``version`` is ``version_of`` as the editor saw it."""
    if not can_edit_individual(actor, org):
        raise RuleViolation("您不能修改此个人帮扶者的信息")
    person = person_of(org)
    if person is None:
        raise RuleViolation("该个人帮扶者没有登记身份信息")
    if str(version) != version_of(org, person):
        raise RuleViolation(STALE)
    values = dict(values)
    if actor.role == "unit":  # the helper's own account keeps its profile current, not its home
        values["region_code"] = org.region_code
    helper, person_data = clean_individual(values, actor=actor, org=org, person=person)
    org_before, person_before = snapshot(org), snapshot(person)
    for key, value in helper.items():
        setattr(org, key, value)
    people.fill_person(person, person_data)
    org_changed, person_changed = db.session.is_modified(org), db.session.is_modified(person)
    if not (org_changed or person_changed):
        return org
    _flush()
    if org_changed:
        record("update", org, before=org_before, summary=f"修改个人帮扶者：{org.name}", actor=actor)
    if person_changed:
        record("update", person, before=person_before, summary=f"修改个人帮扶者的身份信息：{person.name}", actor=actor)
    if commit:
        db.session.commit()
    return org


def individual_query(user, *, q: str = "", way: str = "", veteran: str = "", region_code: str = "") -> Select:
    """The helpers' people ``user`` may see (the person's scope: employed in the region, or
    the helper paired with a village in it), by name or (for who sees full numbers) by
    exact ID number; filtered by way, veteran and home region."""
    stmt = scoped(select(Person).join(Organization, Organization.id == Person.organization_id)
                  .where(Organization.kind == INDIVIDUAL), Person, user)
    q = (q or "").strip()
    if q:
        by_id = None
        if people.may_search_by_id(user):
            try:
                by_id = normalize_id_number(q)
            except RuleViolation:
                by_id = None
        if by_id:
            from ..people.privacy import full_identity_filter

            stmt = stmt.where(Person.id_number_index == crypto.blind_index(by_id), full_identity_filter(user))
        else:
            stmt = stmt.where(Person.name.contains(q))
    if way in INDIVIDUAL_WAYS:
        stmt = stmt.where(Organization.subtype == way)
    if veteran in ("0", "1"):
        stmt = stmt.where(Person.is_veteran.is_(veteran == "1"))
    if region_code:
        region = db.session.get(Region, region_code)
        if region is not None:
            stmt = stmt.where(region.within(Organization.region_code))
    return stmt.order_by(Organization.region_code, Person.name, Person.id)
