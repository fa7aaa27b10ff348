"""Who sees a full ID number or phone: one rule, used by every page, list, search and
export (templates call ``shown_id_number`` / ``shown_phone`` / ``shown_contact_phone``).

The rule (``may_see_full_identity``):

* ``admin`` sees everything in full (accounts, recovery, corrections).
* ``region`` staff see people in their scope in full: they register people, post them,
  check them against organisation-department files and answer for them. Scope already
  limits *which* people they see, so the rule needs no region test of its own.
* a ``unit`` sees its *own* people (and its own contact phone) in full: it registers and
  maintains them. Anything of another organisation is masked (and in practice out of
  its scope).
* ``viewer`` (discipline inspection, audit, finance) and ``village`` see masked numbers:
  they read who is posted where, which does not need the identity number; a viewer who
  needs one for a case asks the registering office, which leaves a trail.

Masked forms are stored next to the encrypted values, so a masked list never decrypts.
"""
from __future__ import annotations

from flask_login import current_user

from ..core.identity import mask_phone

FULL_ROLES = frozenset({"admin", "region"})


def may_see_full_identity(user, organization_id: int | None) -> bool:
    """Whether ``user`` may see full ID numbers and phones of people (and the contact
    phone) of the organization ``organization_id``."""
    role = getattr(user, "role", None)
    if role in FULL_ROLES:
        return True
    if role == "unit":
        return organization_id is not None and organization_id == user.organization_id
    return False


def _user(user):
    return current_user if user is None else user


def shown_id_number(person, user=None) -> str:
    if person is None:
        return ""
    if may_see_full_identity(_user(user), person.organization_id):
        return person.id_number
    return person.id_number_masked or ""


def shown_phone(person, user=None) -> str:
    if person is None or not person.phone_encrypted:
        return ""
    if may_see_full_identity(_user(user), person.organization_id):
        return person.phone
    return person.phone_masked or ""


def shown_contact_phone(org, user=None) -> str:
    """An organization's contact phone is a person's phone too: same rule."""
    if org is None or not org.contact_phone:
        return ""
    if may_see_full_identity(_user(user), org.id):
        return org.contact_phone
    return mask_phone(org.contact_phone)
