"""Who sees a full ID number or phone: one rule (minimum necessary), used by every page,
list, search, export and import of the registry, and the words the pages show about it.

The rule (``may_see_full_identity`` in Python, ``full_identity_filter`` in SQL):

* ``admin`` sees everything in full (accounts, recovery, corrections).
* a ``unit`` sees its *own* people in full: it registers and maintains them.
* ``region`` staff of a province, city or county (``FULL_REGION_LEVELS``) see in full the
  people they answer for:
  - people employed by an organization based in their jurisdiction (the office that
    registers and maintains them, ``people.services.can_edit_person``), and
  - people with a posting that their level or a level below dispatched in their
    jurisdiction. A posting records its dispatch level (中央/省派/市派/县派) and its place;
    the dispatching office is the place's ancestor at ``ANSWERING_LEVEL[dispatch_level]``
    (central postings are received and managed by the province), so "the dispatching
    level's jurisdiction or above" is: the place lies in the user's region and the user's
    level is at or above the dispatching level.
* township staff, ``viewer`` (discipline inspection, audit, finance) and ``village`` see
  masked numbers: they read who is posted where, which needs no identity number.

An organization's contact phone is a person's phone too: its own unit and the office of
its home region (county level or above) see it in full (``may_see_full_phone_of``).

Masked forms are stored next to the encrypted values, so a masked list never decrypts.
An export that would carry full numbers asks for a purpose (``transfer.exporting``);
``masked=1`` exports masked numbers for everybody and needs none.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from typing import TypeVar

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, false, func, or_, select, true

from ..core.enums import DISPATCH_LEVELS, REGION_LEVELS, ROLES
from ..core.identity import mask_phone
from ..extensions import db
from ..organizations.models import Organization
from .models import Person, Posting

T = TypeVar("T")

# Region staff at these levels may see full numbers (of the people they answer for).
FULL_REGION_LEVELS = ("province", "city", "county")
# The level of the office that dispatches (and answers for) a posting of each dispatch level.
ANSWERING_LEVEL = {"central": "province", "provincial": "province", "city": "city", "county": "county"}
_RANK = {level: n for n, level in enumerate(FULL_REGION_LEVELS)}

MASKED_ARG = "masked"  # ?masked=1: export masked numbers, no purpose needed
_CACHE = "registry.full_identity"
_MASK_ALL = "registry.identity_masked"


def dispatch_levels_answered_by(level: str | None) -> tuple[str, ...]:
    """The dispatch levels whose postings an office at region ``level`` answers for (in its
    jurisdiction): those dispatched at its level or below. Township: none."""
    rank = _RANK.get(level or "")
    if rank is None:
        return ()
    return tuple(d for d, answering in ANSWERING_LEVEL.items() if _RANK[answering] >= rank)


def _office(user):
    """The region of a region-staff ``user`` who may see full numbers at all, else None."""
    if getattr(user, "role", None) != "region":
        return None
    region = user.region
    return region if region is not None and region.level in FULL_REGION_LEVELS else None


def may_ever_see_full(user) -> bool:
    """Whether ``user`` sees any full number at all (and so may look a person up by one)."""
    role = getattr(user, "role", None)
    return role == "admin" or (role == "unit" and user.organization_id is not None) or _office(user) is not None


def full_identity_filter(user, person_id=Person.id, organization_id=Person.organization_id) -> ColumnElement[bool]:
    """SQL: the person (``person_id``, employed by ``organization_id``) is shown to ``user``
    with full numbers. The same rule as ``may_see_full_identity``."""
    role = getattr(user, "role", None)
    if role == "admin":
        return true()
    if role == "unit":
        return organization_id == user.organization_id if user.organization_id is not None else false()
    office = _office(user)
    if office is None:
        return false()
    employed_here = organization_id.in_(select(Organization.id).where(office.within(Organization.region_code)))
    answered_for = person_id.in_(select(Posting.person_id).where(
        office.within(Posting.region_code), Posting.dispatch_level.in_(dispatch_levels_answered_by(office.level))))
    return or_(employed_here, answered_for)


def may_see_full_identity(user, person: Person | None) -> bool:
    """Whether ``user`` may see ``person``'s full ID number and phone."""
    if person is None or not getattr(user, "is_authenticated", False):
        return False
    role = user.role
    if role == "admin":
        return True
    if role == "unit":
        return user.organization_id is not None and person.organization_id == user.organization_id
    office = _office(user)
    if office is None:
        return False
    if person.organization is not None and office.contains(person.organization.region_code or ""):
        return True
    cache = _cache()
    key = (user.id, person.id)
    if cache is not None and key in cache:
        return cache[key]
    answered = db.session.scalar(select(Posting.id).where(
        Posting.person_id == person.id, office.within(Posting.region_code),
        Posting.dispatch_level.in_(dispatch_levels_answered_by(office.level))).limit(1)) is not None
    if cache is not None:
        cache[key] = answered
    return answered


def may_see_full_phone_of(user, org: Organization | None) -> bool:
    """Whether ``user`` may see ``org``'s contact phone in full: its own unit, and region
    staff (county or above) whose jurisdiction holds the organization's home region."""
    if org is None or not getattr(user, "is_authenticated", False):
        return False
    if user.role == "admin":
        return True
    if user.role == "unit":
        return org.id == user.organization_id
    office = _office(user)
    return office is not None and office.contains(org.region_code or "")


def full_contact_filter(user) -> ColumnElement[bool]:
    """SQL form of ``may_see_full_phone_of`` on ``Organization``."""
    if getattr(user, "role", None) == "admin":
        return true()
    if getattr(user, "role", None) == "unit":
        return Organization.id == user.organization_id
    office = _office(user)
    return office.within(Organization.region_code) if office is not None else false()


def count_full(stmt: Select, person_id, user=None) -> int:
    """How many rows of ``stmt`` (whose person is ``person_id``) carry full numbers for ``user``."""
    people = select(Person.id).where(full_identity_filter(_user(user)))
    counted = stmt.where(person_id.in_(people)).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(counted)) or 0


def count_full_contacts(stmt: Select, user=None) -> int:
    """How many organizations of ``stmt`` show a contact phone in full to ``user``."""
    counted = stmt.where(Organization.contact_phone.is_not(None), Organization.contact_phone != "",
                         full_contact_filter(_user(user))).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(counted)) or 0


# -- a request's view of the rule --------------------------------------------------------

def _cache() -> dict | None:
    return request.environ.setdefault(_CACHE, {}) if has_request_context() else None


def mask_everything() -> None:
    """For the rest of this request, show every number masked (a masked export)."""
    request.environ[_MASK_ALL] = True


def masked_requested() -> bool:
    return request.args.get(MASKED_ARG) == "1"


def _masked_request() -> bool:
    return has_request_context() and bool(request.environ.get(_MASK_ALL))


def prime(people: Iterable[Person], user=None) -> None:
    """Decide the rule for many people with one query (a list page, an export batch), so
    ``shown_id_number`` does not ask once per person."""
    user = _user(user)
    cache = _cache()
    office = _office(user)
    if cache is None or office is None:
        return
    ids = [p.id for p in people if (user.id, p.id) not in cache]
    if not ids:
        return
    answered = set(db.session.scalars(select(Posting.person_id).where(
        Posting.person_id.in_(ids), office.within(Posting.region_code),
        Posting.dispatch_level.in_(dispatch_levels_answered_by(office.level)))))
    cache.update({(user.id, i): i in answered for i in ids})


def primed(items: Iterable[T], person_of, batch: int = 500) -> Iterator[T]:
    """``items`` again, deciding the rule for the people of each ``batch`` of them at once."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= batch:
            prime(person_of(i) for i in chunk)
            yield from chunk
            chunk = []
    prime(person_of(i) for i in chunk)
    yield from chunk


def _user(user):
    return current_user if user is None else user


def shows_full(person, user=None) -> bool:
    return not _masked_request() and may_see_full_identity(_user(user), person)


def shown_id_number(person, user=None) -> str:
    if person is None:
        return ""
    if shows_full(person, user):
        return person.id_number
    return person.id_number_masked or ""


def id_cell(value) -> str:
    """An ID number cell of a file as the registry writes numbers (NFKC, stripped, upper
    case): a full number still to be checked, or a masked one (it holds ``*``)."""
    return unicodedata.normalize("NFKC", str(value or "")).strip().upper()


class VisiblePeople:
    """The people a select (``stmt``: of ``Person.id``, the scope applied) holds, read once
    for an update import by id, masked number and name: a row that names a person by the
    number the registry shows as masked (what an exported row holds) is then a look-up, not
    a query (a 40,000-row update made one each: 20 s where a new import takes 2)."""

    def __init__(self, stmt: Select) -> None:
        self.ids: set[int] = set()
        self.shown: dict[tuple[str, str], list[int]] = {}  # (masked number, name) -> ids
        self.loaded: dict[int, Person] = {}  # read ahead by ``load`` (and held: the session's map is weak)
        for person_id, masked, name in db.session.execute(
                stmt.with_only_columns(Person.id, Person.id_number_masked, Person.name)):
            self.ids.add(person_id)
            self.shown.setdefault((masked, name), []).append(person_id)

    def by_masked_number(self, masked: str, name) -> int | None:
        """The one person shown as ``masked`` whose name is ``name`` (None if nobody, or several)."""
        found = self.shown.get((masked, str(name or "").strip()), ())
        return found[0] if len(found) == 1 else None

    def get(self, person_id: int | None):
        """The ``Person`` of ``person_id`` if the select holds it."""
        if person_id not in self.ids:
            return None
        return self.loaded.get(person_id) or db.session.get(Person, person_id)

    def load(self, person_ids, user, batch: int = 900) -> None:
        """Read the ``Person`` of each of ``person_ids`` the select holds, a batch at a time,
        with the rule on their numbers decided for ``user`` (``prime``), so that ``get``
        finds them loaded."""
        wanted = sorted({i for i in person_ids if i in self.ids and i not in self.loaded})
        for start in range(0, len(wanted), batch):
            people = db.session.scalars(select(Person).where(Person.id.in_(wanted[start:start + batch]))).all()
            prime(people, user)
            self.loaded.update((person.id, person) for person in people)

    def named(self, row: dict, find) -> int | None:
        """The id of the person a file's ``row`` names by its ID number (None if none):
        masked, with its name; in full, as ``find(number)`` finds it (which may raise
        ``RuleViolation`` for a number that is not one)."""
        from ..core.rules import RuleViolation

        raw = id_cell(row.get("id_number"))
        if "*" in raw:
            return self.by_masked_number(raw, row.get("name"))
        try:
            return find(raw) if raw else None
        except RuleViolation:
            return None

    def named_in(self, rows: list[dict], find) -> list[int | None]:
        """``named`` for each of ``rows``."""
        return [self.named(row, find) for row in rows]


def shown_phone(person, user=None) -> str:
    if person is None or not person.phone_encrypted:
        return ""
    if shows_full(person, user):
        return person.phone
    return person.phone_masked or ""


def shown_contact_phone(org, user=None) -> str:
    """An organization's contact phone is a person's phone too."""
    if org is None or not org.contact_phone:
        return ""
    if not _masked_request() and may_see_full_phone_of(_user(user), org):
        return org.contact_phone
    return mask_phone(org.contact_phone)


# -- the words ---------------------------------------------------------------------------

def rule_text() -> str:
    """The rule in the words every page shows, built from the same constants."""
    levels = "、".join(REGION_LEVELS[level] for level in FULL_REGION_LEVELS)
    answering: dict[str, list[str]] = {}
    for dispatch, level in ANSWERING_LEVEL.items():
        answering.setdefault(level, []).append(DISPATCH_LEVELS[dispatch])
    by_level = "，".join(
        f"{'、'.join(dispatched)}干部由{REGION_LEVELS[level]}{'' if _RANK[level] == 0 else '及以上'}负责"
        for level, dispatched in answering.items())
    masked = "、".join([f"{REGION_LEVELS['township']}工作人员", f"{ROLES['viewer']}账号", ROLES["village"]])
    return (
        f"完整身份证号和电话只向以下人员显示：{ROLES['admin']}；本人所在单位；{levels}三级{ROLES['region']}，"
        f"限于工作单位在其辖区内的干部，以及在其辖区内由本级或下级选派的干部（{by_level}）。"
        f"{masked}看到的是遮蔽后的号码。导出完整号码须填写用途，用途连同筛选条件和行数记入审计日志。"
    )


def contact_rule_text() -> str:
    """The contact-phone rule (``may_see_full_phone_of``) in the words the pages show."""
    levels = "、".join(REGION_LEVELS[level] for level in FULL_REGION_LEVELS)
    return (f"单位联系电话的完整号码只向{ROLES['admin']}、本单位，以及单位所在地的{levels}三级{ROLES['region']}显示；"
            f"其他人看到的是遮蔽后的号码。")
