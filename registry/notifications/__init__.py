"""Notifications (通知): who must act is told, in the site and by e-mail.

The one API, called by the services after the state change and before their commit, so the
notification is written in the same transaction as what it is about (a rollback takes both)::

    from registry.notifications import notify, recipients

    notify("record_disputed", recipients.unit_users(record.organization_id),
           title="…", body="…", link=link_for("records.detail", record_id=record.id), actor=user)

``notify(kind, users, *, title, body="", link=None, actor=None) -> list[Notification]``

- ``kind``: a key of ``kinds.KINDS`` (an unknown kind is a programming error: ValueError).
- ``users``: ``User`` objects or user ids; duplicates, inactive accounts and ``actor`` (the
  one who made the change needs no telling) are left out.
- ``link``: a path on this site (``link_for`` builds one inside or outside a request).

Each recipient's preference for the kind decides the e-mail: ``app`` (in-app only),
``email`` (a row in the outbox, sent by ``flask notify deliver``) or ``digest`` (one e-mail a
day gathering the day's items). No e-mail is queued while ``REGISTRY_SMTP_HOST`` is unset or
the user has given no address. Nothing is ever sent inside a request.

Recipients are users (``recipients.py``): a future cadre (驻村干部) account receives through the
same call; ``recipients.person_users`` already includes accounts bound to a person once
``User.person_id`` exists.

For the chase-up and escalation work (催办 / 上报), the kinds ``record_chased`` and
``item_escalated`` are declared; call for example::

    notify("record_chased", recipients.village_users(record.village_code),
           title=f"催办：{record.title}", body=note, link=link_for("records.detail", record_id=record.id),
           actor=user)
    notify("item_escalated", recipients.region_staff(county_code), title=…, link=…)

The daily ``flask notify scan`` tells of overdue records, postings ending within
``REGISTRY_ENDING_SOON_DAYS`` and pre-posting training missing after its window, once per item
and reason (``NotificationTrigger``).
"""
from __future__ import annotations

from . import recipients  # noqa: F401
from .services import Found, link_for, notify, recipients_for  # noqa: F401
