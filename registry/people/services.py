"""People 帮扶干部 and their employers: who may register whom, the person rules, and what
a list of people says about their postings.

Postings 选派 and their rule are in ``postings``; choosing where to post someone is in
``targets``.
"""
from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, case, false, func, or_, select

from ..audit.services import record, snapshot
from ..core import crypto
from ..core.paging import Key, order_by
from ..core.enums import EDUCATION, GENDERS, INDIVIDUAL
from ..core.formatting import date_cn
from ..core.identity import (
    birth_date_from_id,
    gender_from_id,
    normalize_id_number,
    normalize_phone,
)
from ..core.parsing import check_text, to_id
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import region_clause, scoped
from ..extensions import db
from ..organizations.models import Organization
from ..organizations.services import INDIVIDUAL_ELSEWHERE, STALE, in_jurisdiction
from . import privacy
from .models import Person, Posting
from .postings import check_posting  # noqa: F401  (tests call services.check_posting; the rule lives in postings)

# 56 ethnic groups (GB/T 3304) and the two catch-alls of the civil registry.
ETHNICITIES = (
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族", "布依族", "朝鲜族", "满族", "侗族", "瑶族",
    "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族", "拉祜族", "水族",
    "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族", "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族",
    "仡佬族", "锡伯族", "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族", "鄂温克族", "德昂族",
    "保安族", "裕固族", "京族", "塔塔尔族", "独龙族", "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
    "其他", "外国血统中国籍人士",
)
PERSON_FIELDS = (
    "name", "id_number", "gender", "ethnicity", "birth_date", "phone", "is_party_member", "education",
    "organization_id", "post", "rank", "is_reserve_cadre", "is_veteran", "expertise",
)
TEXT_LIMITS = {"name": 50, "post": 100, "rank": 50, "expertise": 200}
TEXT_LABELS = {"name": "姓名", "post": "职务", "rank": "职级", "expertise": "专长"}
DUPLICATE_ID = "该身份证号已登记，同一人不能重复登记"


# -- people ------------------------------------------------------------------------------

def employers_query(actor) -> Select:
    """The organizations ``actor`` may register people for: *the* employer rule, used by
    the form's choices, the lookup, the text resolution and ``_clean_person``.

    A unit its own organization; region staff organizations based in their
    jurisdiction; the admin any; other roles none. Never an individual helper (个人):
    its one person is registered with it (``individuals.services``)."""
    if actor.role == "unit":
        rule = Organization.id == actor.organization_id
    elif actor.role in ("admin", "region"):
        rule = region_clause(Organization.region_code, actor)
    else:
        rule = false()
    return scoped(select(Organization).where(rule, Organization.kind != INDIVIDUAL), Organization, actor)


def employer(actor, org_id) -> Organization | None:
    """The organization ``org_id`` if ``actor`` may register people for it, else None."""
    org_id = to_id(org_id)  # a tampered form's 99999999999999999999 is no organization
    if org_id is None:
        return None
    return db.session.scalar(employers_query(actor).where(Organization.id == org_id))


def employer_allowed(actor, org: Organization | None) -> bool:
    return org is not None and employer(actor, org.id) is not None


EMPLOYER_LOOKUP_LIMIT = 20


def _as_code(text: str) -> str:
    """``text`` as a 统一社会信用代码 would be stored: half-width, upper case, no spaces."""
    return unicodedata.normalize("NFKC", text).upper().replace(" ", "")


def employer_lookup(actor, q: str, *, limit: int = EMPLOYER_LOOKUP_LIMIT) -> tuple[list[Organization], bool]:
    """Up to ``limit`` employers of ``actor`` whose name contains ``q`` or whose credit
    code starts with it, best first (exact, then prefix, then shorter names); and
    whether there were more."""
    q = (q or "").strip()[:100]
    if not q:
        return [], False
    code = _as_code(q)
    matches = or_(Organization.name.icontains(q, autoescape=True), Organization.credit_code.startswith(code, autoescape=True))
    rank = case(
        (or_(Organization.name == q, Organization.credit_code == code), 0),
        (Organization.name.istartswith(q, autoescape=True), 1),
        else_=2,
    )
    stmt = employers_query(actor).where(matches).order_by(rank, func.length(Organization.name), Organization.name, Organization.id)
    rows = db.session.scalars(stmt.limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def employer_by_text(actor, text: str, field: str = "organization_id") -> Organization:
    """The employer named by ``text`` — an exact 统一社会信用代码 or an exact name among
    those ``actor`` may register people for (what a form without JavaScript sends).
    Unknown, out of scope or ambiguous: a ``RuleViolation`` on ``field``."""
    text = (text or "").strip()
    if not text:
        raise RuleViolation("请选择工作单位", field)
    by_code = db.session.scalar(employers_query(actor).where(Organization.credit_code == _as_code(text)))
    if by_code is not None:
        return by_code
    named = db.session.scalars(employers_query(actor).where(Organization.name == text).order_by(Organization.id).limit(6)).all()
    if len(named) == 1:
        return named[0]
    if named:
        codes = "、".join(org.credit_code for org in named[:5] if org.credit_code)
        raise RuleViolation(
            f"有多个单位名为“{text}”，请从候选列表中选择，或填写其统一社会信用代码" + (f"（{codes}）" if codes else ""), field
        )
    message = f"在您的管辖范围内没有名称或统一社会信用代码为“{text}”的单位，请从候选列表中选择"
    similar, _ = employer_lookup(actor, text, limit=3)
    if similar:  # without JavaScript there is no list: name the nearest ones
        message += "。相近的单位：" + "、".join(org.name for org in similar)
    raise RuleViolation(message, field)


def can_edit_person(user, person: Person) -> bool:
    if user.role == "unit":
        return person.organization_id == user.organization_id
    return in_jurisdiction(user, person.organization.region_code if person.organization else None)


@dataclass
class KnownPeople:
    """What the person rule looks up, fetched once for a whole import: the blind index
    of every registered ID number (-> person id) and the employers the actor may use."""

    ids: dict[str, int]
    employers: dict[int, Organization]
    indexes: dict[str, str] = dataclasses.field(default_factory=dict)  # ID number -> its blind index
    indexer: Callable[[str], str] = crypto.blind_index

    @classmethod
    def load(cls, actor) -> KnownPeople:
        ids = {index: person_id for index, person_id in db.session.execute(select(Person.id_number_index, Person.id))}
        employers = {org.id: org for org in db.session.scalars(employers_query(actor))}
        return cls(ids=ids, employers=employers, indexer=crypto.blind_indexer())

    def index(self, number: str) -> str:
        """The blind index of a (normalised) ID number, computed once per number."""
        found = self.indexes.get(number)
        if found is None:
            found = self.indexes[number] = self.indexer(number)
        return found


def clean_person(values: dict, *, actor, person: Person | None = None, known: KnownPeople | None = None,
                 individual: Organization | bool | None = None) -> dict:
    """The person rule (the form's and the import's): the cleaned values, or one
    ``RuleViolation`` naming every field that is wrong. ``individual``: the person of an
    individual helper (``individuals.services``), employed by that helper's own row (True:
    a helper still being registered, whose row has no id yet)."""
    return _clean_person(values, actor=actor, person=person, known=known, individual=individual)


def _clean_person(values: dict, *, actor, person: Person | None, known: KnownPeople | None = None,
                  individual: Organization | bool | None = None) -> dict:
    errors = Collector()
    data = {}
    for key in PERSON_FIELDS:
        value = values.get(key)
        data[key] = (value.strip() or None) if isinstance(value, str) else value
    for key in ("is_party_member", "is_reserve_cadre", "is_veteran"):
        data[key] = bool(data[key])

    if not data["name"]:
        errors.add("name", "请填写姓名")
    for key, limit in TEXT_LIMITS.items():
        if data[key] and len(data[key]) > limit:
            errors.add(key, f"{TEXT_LABELS[key]}最多{limit}字")
        else:
            check_text(data[key], key, TEXT_LABELS[key], errors)

    number = None
    if not data["id_number"]:
        errors.add("id_number", "请填写身份证号")
    else:
        try:
            number = normalize_id_number(data["id_number"])
        except RuleViolation as violation:
            errors.add("id_number", violation.message)
        else:
            if known is not None:
                other = known.ids.get(known.index(number))
                taken = other is not None and (person is None or other != person.id)
            else:
                clash = select(Person.id).where(Person.id_number_index == crypto.blind_index(number))
                if person is not None:
                    clash = clash.where(Person.id != person.id)
                taken = db.session.scalar(clash) is not None
            if taken:
                errors.add("id_number", DUPLICATE_ID)
            data["id_number"] = number

    if data["gender"] is not None and data["gender"] not in GENDERS:
        errors.add("gender", "性别无效")
    elif number:
        derived = gender_from_id(number)
        if data["gender"] is None:
            data["gender"] = derived
        elif data["gender"] != derived:
            errors.add("gender", f"性别与身份证号不符（身份证号显示为{GENDERS[derived]}性）")
    if number:
        born = birth_date_from_id(number)
        if data["birth_date"] is None:
            data["birth_date"] = born
        elif data["birth_date"] != born:
            errors.add("birth_date", f"出生日期与身份证号不符（身份证号显示为{date_cn(born)}）")

    if data["ethnicity"] is not None and data["ethnicity"] not in ETHNICITIES:
        errors.add("ethnicity", f"民族“{data['ethnicity']}”无效，应为56个民族之一，如汉族、土家族、苗族")
    if data["education"] is not None and data["education"] not in EDUCATION:
        errors.add("education", "学历无效")
    if data["phone"]:
        try:
            data["phone"] = normalize_phone(data["phone"])
        except RuleViolation as violation:
            errors.add("phone", violation.message)

    if individual is not None:  # the helper's own row; its rules are the helper's
        data["organization_id"] = individual.id if isinstance(individual, Organization) else None
        errors.raise_if_any()
        return data
    if known is not None:
        org = known.employers.get(data["organization_id"]) if isinstance(data["organization_id"], int) else None
    else:
        org = employer(actor, data["organization_id"])
    if org is None:
        errors.add("organization_id", "请选择您管辖范围内的工作单位")
    data["organization_id"] = org.id if org is not None else None
    errors.raise_if_any()
    return data


def fill_person(person: Person, data: dict) -> None:
    """Set a person's cleaned values (``clean_person``): the ID number and phone encrypted."""
    _apply(person, data)


def _apply(person: Person, data: dict) -> None:
    for key, value in data.items():
        if key == "id_number":
            if person.id_number_index != crypto.blind_index(value):
                person.set_id_number(value)
        elif key == "phone":
            if (value or "") != person.phone:
                person.set_phone(value)
        else:
            setattr(person, key, value)


def _flush_person() -> None:
    flush_or_refuse(STALE, duplicate=("id_number", DUPLICATE_ID))


def create_person(values: dict, *, actor, commit: bool = True) -> Person:
    if actor.role not in ("admin", "region", "unit"):
        raise RuleViolation("您不能登记帮扶干部")
    data = _clean_person(values, actor=actor, person=None)
    person = Person(name=data["name"])
    _apply(person, data)
    db.session.add(person)
    _flush_person()
    record("create", person, before=None, summary=f"登记帮扶干部：{person.name}（{person.organization.name}）", actor=actor)
    if commit:
        db.session.commit()
    return person


def is_individual(person: Person) -> bool:
    """Whether ``person`` is an individual helper (个人帮扶), kept with its helper's row."""
    return person.organization is not None and person.organization.kind == INDIVIDUAL


def update_person(person: Person, values: dict, *, version, actor, commit: bool = True) -> Person:
    if not can_edit_person(actor, person):
        raise RuleViolation("您不能修改此帮扶干部的信息")
    if is_individual(person):
        raise RuleViolation(INDIVIDUAL_ELSEWHERE)
    if str(version) != str(person.version):
        raise RuleViolation(STALE)
    values = dict(values)
    if actor.role == "unit":
        values["organization_id"] = person.organization_id
    data = _clean_person(values, actor=actor, person=person)
    before = snapshot(person)
    _apply(person, data)
    if not db.session.is_modified(person):
        return person
    _flush_person()
    db.session.refresh(person, ["organization"])
    record("update", person, before=before, summary=f"修改帮扶干部信息：{person.name}", actor=actor)
    if commit:
        db.session.commit()
    return person


def may_search_by_id(user) -> bool:
    """Finding a person by a full ID number is only for users who see full numbers: a
    masked user must not be able to test whether a number is registered."""
    return privacy.may_ever_see_full(user)


PEOPLE_ORDER = (Key(Person.name), Key(Person.id))  # the people list's order (keyset pages)


def not_individual():
    """SQL: the person is not an individual helper (their employer is not of kind 个人)."""
    return Person.organization_id.in_(select(Organization.id).where(Organization.kind != INDIVIDUAL))


def people_query(user, *, q: str = "", organization_id: int | None = None, posted: str = "",
                 veteran: str = "", individuals: bool = False) -> Select:
    """People ``user`` may see, by name or (for roles allowed) by exact ID number; cadres
    only unless ``individuals`` (individual helpers have their own list). ``veteran``:
    "1" only 退役军人, "0" only others."""
    stmt = scoped(select(Person), Person, user)
    if not individuals:
        stmt = stmt.where(not_individual())
    if veteran in ("0", "1"):
        stmt = stmt.where(Person.is_veteran.is_(veteran == "1"))
    q = (q or "").strip()
    if q:
        by_id = None
        if may_search_by_id(user):
            try:
                by_id = normalize_id_number(q)
            except RuleViolation:
                by_id = None
        if by_id:  # and only among the people whose full number the user sees
            stmt = stmt.where(Person.id_number_index == crypto.blind_index(by_id), privacy.full_identity_filter(user))
        else:
            stmt = stmt.where(Person.name.contains(q))
    if organization_id:
        stmt = stmt.where(Person.organization_id == organization_id)
    active = select(Posting.person_id).where(Posting.is_active)
    if posted == "active":
        stmt = stmt.where(Person.id.in_(active))
    elif posted == "idle":
        stmt = stmt.where(Person.id.not_in(active))
    return stmt.order_by(*order_by(PEOPLE_ORDER))


def active_postings_of(person_ids) -> dict[int, Posting]:
    """The active posting of each person (at most one by the rules), in or out of scope:
    callers show only what ``visible_postings`` allows."""
    ids = list(person_ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(Posting).where(Posting.person_id.in_(ids), Posting.is_active))
    return {p.person_id: p for p in rows}


def visible_postings(user, postings) -> set[int]:
    ids = [p.id for p in postings]
    if not ids:
        return set()
    return set(db.session.scalars(scoped(select(Posting.id), Posting, user).where(Posting.id.in_(ids))))


def active_labels(user, person_ids) -> dict[int, str]:
    """What a list says about each person's current posting: the place and role when the
    user may see that posting, otherwise only that the person is posted elsewhere."""
    active = active_postings_of(person_ids)
    visible = visible_postings(user, active.values())
    return {
        person_id: f"{p.region.name}{p.role_label}" if p.id in visible else "在其他地区在岗"
        for person_id, p in active.items()
    }


def organization_in_scope(user, organization_id: int | None) -> Organization | None:
    if not organization_id:
        return None
    return db.session.scalar(scoped(select(Organization).where(Organization.id == organization_id), Organization, user))


def postings_of_person(user, person_id: int) -> list[Posting]:
    """A person's posting history as far as ``user`` may see it, newest first."""
    stmt = scoped(select(Posting), Posting, user).where(Posting.person_id == person_id)
    return db.session.scalars(stmt.order_by(Posting.start_date.desc())).all()

