"""监督 (supervision, 湘办〔2023〕17号 §七): discipline, finance, audit, agriculture and
development bodies follow the use of funds — a charitable fund from the money it received
to the villages it paid and their confirmation, and any support record of money (category
资金) from filing to confirmation — with every change the audit trail holds, on one page.

What a reader sees is what their scope lets them see: the records and contributions go
through their scope rules, and the trail holds the events about exactly those objects (an
event is about an object the reader may see, so it is theirs to read, whichever region
stamped it). Nothing here writes.

Other features add what they supervise (the enterprise projects: their own history page)
with ``trail_source``: a function (user) -> a panel for the supervision page, or None, in
the form the home page's panels take. This package imports none of them.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, or_, select

from ..accounts.models import User
from ..audit import labels
from ..audit.models import AuditEvent
from ..core.enums import RECORD_STATUSES
from ..core.paging import order_by
from ..core.scope import scoped
from ..extensions import db
from ..organizations.models import Organization
from ..records.models import Evidence, FundContribution, SupportRecord
from ..records.queries import RECORD_ORDER

_sources: list[Callable] = []


def trail_source(fn: Callable) -> Callable:
    """Register what another feature puts under supervision (a panel of its own)."""
    _sources.append(fn)
    return fn


def source_panels(user) -> list[dict]:
    return [panel for panel in (fn(user) for fn in _sources) if panel]


def money_records(user, *, status: str = "", q: str = "") -> Select:
    """Support records of money the reader may see: category 资金, and whatever a charitable
    fund paid out; newest first."""
    funds = select(Organization.id).where(Organization.kind == "charity")
    stmt = scoped(select(SupportRecord), SupportRecord, user).where(
        or_(SupportRecord.category == "funds", SupportRecord.organization_id.in_(funds)))
    if status in RECORD_STATUSES:
        stmt = stmt.where(SupportRecord.status == status)
    if q:
        stmt = stmt.where(SupportRecord.title.contains(q[:50]))
    return stmt.order_by(*order_by(RECORD_ORDER))


def correction_chain(record: SupportRecord, user) -> list[SupportRecord]:
    """The record with what it corrected and what corrected it, oldest first, as far as the
    reader may see them."""
    chain = [record]
    seen = {record.id}
    earlier = record
    while earlier.supersedes_id is not None and earlier.supersedes_id not in seen:
        earlier = db.session.scalar(scoped(select(SupportRecord).where(SupportRecord.id == earlier.supersedes_id),
                                           SupportRecord, user))
        if earlier is None:
            break
        chain.insert(0, earlier)
        seen.add(earlier.id)
    later = record
    while True:
        later = db.session.scalar(scoped(select(SupportRecord).where(SupportRecord.supersedes_id == later.id),
                                         SupportRecord, user).order_by(SupportRecord.id).limit(1))
        if later is None or later.id in seen:
            break
        chain.append(later)
        seen.add(later.id)
    return chain


@dataclass
class TrailEvent:
    at: datetime
    actor: str
    action: str
    entity: str  # what it is about, as the page names it
    summary: str
    changes: list
    event: AuditEvent


def events_about(objects: dict[str, list], names: dict[tuple[str, str], str]) -> list[TrailEvent]:
    """The audit events about ``objects`` ({entity type: [ids]}), oldest first; ``names``
    says how each object is called on the page."""
    conditions = [and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_([str(i) for i in ids]))
                  for kind, ids in objects.items() if ids]
    if not conditions:
        return []
    rows = db.session.execute(
        select(AuditEvent, User.display_name).outerjoin(User, User.id == AuditEvent.actor_id)
        .where(or_(*conditions)).order_by(AuditEvent.id)).all()
    out = []
    for event, display in rows:
        who = labels.actor_name(event.actor, display)
        name = names.get((event.entity_type, event.entity_id)) or \
            f"{labels.entity_label(event.entity_type)} #{event.entity_id}"
        out.append(TrailEvent(event.at, who, labels.action_label(event.action), name, event.summary,
                              labels.changes(event.entity_type, event.before, event.after), event))
    return out


def _record_name(r: SupportRecord) -> str:
    return f"帮扶记录 {r.reference}《{r.title}》→{r.village.name}"


@dataclass
class RecordTrail:
    record: SupportRecord
    chain: list[SupportRecord]
    evidence: list[Evidence]
    events: list[TrailEvent]


def _chases(record_ids: list[int]) -> dict[str, list[int]]:
    """The chase-ups (催办) and escalations of records, by entity type (their events belong
    to the record's trail: who pressed the village to confirm, and when)."""
    from ..chase.models import ChaseUp, Escalation

    return {model.__name__: list(db.session.scalars(select(model.id).where(model.record_id.in_(record_ids))))
            for model in (ChaseUp, Escalation)}


def record_trail(record: SupportRecord, user) -> RecordTrail:
    chain = correction_chain(record, user)
    ids = [r.id for r in chain]
    evidence = list(db.session.scalars(select(Evidence).where(Evidence.record_id.in_(ids)).order_by(Evidence.id)))
    names = {("SupportRecord", str(r.id)): _record_name(r) for r in chain}
    names |= {("Evidence", str(e.id)): f"佐证材料 {e.original_name}" for e in evidence}
    events = events_about({"SupportRecord": ids, "Evidence": [e.id for e in evidence], **_chases(ids)}, names)
    return RecordTrail(record, chain, evidence, events)


@dataclass
class FundTrail:
    fund: Organization
    contributions: list[FundContribution]
    records: list[SupportRecord]
    events: list[TrailEvent]


def fund_trail(fund: Organization, user) -> FundTrail:
    """A fund: what it received, what it paid to which village and whether the village
    confirmed it, and every change of each."""
    contributions = list(db.session.scalars(scoped(
        select(FundContribution).where(FundContribution.organization_id == fund.id), FundContribution, user)
        .order_by(FundContribution.received_on, FundContribution.id)))
    records = list(db.session.scalars(scoped(
        select(SupportRecord).where(SupportRecord.organization_id == fund.id), SupportRecord, user)
        .order_by(SupportRecord.record_date, SupportRecord.id)))
    evidence = list(db.session.scalars(select(Evidence).where(Evidence.record_id.in_([r.id for r in records]))))
    names = {("FundContribution", str(c.id)): f"受赠资金 {c.receipt_no}（{c.donor}）" for c in contributions}
    names |= {("SupportRecord", str(r.id)): _record_name(r) for r in records}
    names |= {("Evidence", str(e.id)): f"佐证材料 {e.original_name}" for e in evidence}
    # not the fund's own profile: its events carry the contact phone in full, which a
    # viewer sees masked (people.privacy); the money's trail does not need it
    events = events_about({"FundContribution": [c.id for c in contributions],
                           "SupportRecord": [r.id for r in records], "Evidence": [e.id for e in evidence]}, names)
    return FundTrail(fund, contributions, records, events)
