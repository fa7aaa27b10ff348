"""The daily scan (``flask notify scan``): what has become due by the passing of time.

- a support record overdue for confirmation (``REGISTRY_CONFIRMATION_OVERDUE_DAYS``), to the
  filing unit;
- a posting whose planned end falls within ``REGISTRY_ENDING_SOON_DAYS``, to the staff of the
  dispatching region and the unit;
- a posting whose pre-posting training window (``REGISTRY_PRE_POSTING_TRAINING_DAYS``) closed
  without the training, to the same;
- an inspection finding (督查问题) past its deadline and not closed, to its owner (the inspected
  region's staff or the inspected department's unit accounts).

Idempotent: each (reason, item) is marked in ``NotificationTrigger`` in the same transaction
as its notifications, and a marked pair is never told again. The item key carries what makes
it a new occasion (a record submitted again after a dispute, a planned end moved).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import select

from ..core.formatting import date_cn
from ..core.timeutil import local_today
from ..extensions import db
from ..people.models import Posting
from ..records.models import SupportRecord
from ..records.queries import overdue_cutoff
from ..training.checks import missing_pre_posting
from . import recipients
from .models import NotificationTrigger
from .services import link_for, notify


@dataclass
class ScanResult:
    counts: dict[str, int] = field(default_factory=lambda: {"record_overdue": 0, "posting_ending": 0,
                                                            "training_missing": 0, "finding_overdue": 0})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _marked(reason: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        found |= set(db.session.scalars(select(NotificationTrigger.item_key).where(
            NotificationTrigger.reason == reason, NotificationTrigger.item_key.in_(chunk))))
    return found


def _posting_recipients(posting: Posting) -> list[int]:
    return (recipients.region_staff(recipients.dispatching_region(posting))
            + recipients.unit_users(posting.organization_id) + recipients.person_users(posting.person_id))


def _posting_name(posting: Posting) -> str:
    return f"{posting.person.name}（{posting.organization.name}，{posting.region.name}{posting.role_label}）"


def _first_time(reason: str, items: list, key) -> list:
    """The items not yet told of for ``reason`` (``key(item)`` names the item and its
    occasion), each marked now in the caller's transaction so that no later scan tells again."""
    keyed = [(item, key(item)) for item in items]
    done = _marked(reason, [k for _, k in keyed])
    fresh = []
    for item, k in keyed:
        if k not in done:
            db.session.add(NotificationTrigger(reason=reason, item_key=k))
            fresh.append(item)
    return fresh


def scan(today: date | None = None) -> ScanResult:
    today = today or local_today()
    result = ScanResult()

    records = list(db.session.scalars(select(SupportRecord).where(
        SupportRecord.status == "submitted", SupportRecord.submitted_at < overdue_cutoff()).order_by(SupportRecord.id)))
    days = int(current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"])
    for record in _first_time("record_overdue", records, lambda r: f"{r.id}:{r.submitted_at:%Y%m%d%H%M%S}"):
        notify("record_overdue", recipients.unit_users(record.organization_id),
               title=f"帮扶记录逾期未确认：{record.title}",
               body=f"{record.village.name}超过{days}天未确认或提出异议（提交于{date_cn(record.submitted_at.date())}）。",
               link=link_for("records.detail", record_id=record.id))
        result.counts["record_overdue"] += 1

    limit = today.toordinal() + int(current_app.config["REGISTRY_ENDING_SOON_DAYS"])
    ending = list(db.session.scalars(select(Posting).where(
        Posting.is_active, Posting.planned_end <= date.fromordinal(limit), Posting.planned_end >= today,
    ).order_by(Posting.id)))
    for posting in _first_time("posting_ending", ending, lambda p: f"{p.id}:{p.planned_end.isoformat()}"):
        left = (posting.planned_end - today).days
        notify("posting_ending", _posting_recipients(posting),
               title=f"选派即将期满：{posting.person.name}，{date_cn(posting.planned_end)}（还有{left}天）",
               body=f"{_posting_name(posting)}计划于{date_cn(posting.planned_end)}期满，请及时安排轮换或留任。",
               link=link_for("people.posting", posting_id=posting.id))
        result.counts["posting_ending"] += 1

    untrained = list(db.session.scalars(missing_pre_posting(select(Posting).where(Posting.is_active), today)
                                        .order_by(Posting.id)))
    window = int(current_app.config["REGISTRY_PRE_POSTING_TRAINING_DAYS"])
    for posting in _first_time("training_missing", untrained, lambda p: str(p.id)):
        notify("training_missing", _posting_recipients(posting),
               title=f"岗前培训逾期未完成：{posting.person.name}",
               body=f"{_posting_name(posting)}于{date_cn(posting.start_date)}开始驻村，{window}天内未参加岗前培训。",
               link=link_for("people.posting", posting_id=posting.id))
        result.counts["training_missing"] += 1

    from ..inspections.models import Finding
    from ..inspections.services import owners
    from ..core.rectification import overdue_clause

    late = list(db.session.scalars(select(Finding).where(overdue_clause(Finding.status, Finding.deadline, today))
                                   .order_by(Finding.id)))
    for finding in _first_time("finding_overdue", late, lambda f: f"{f.id}:{f.deadline.isoformat()}"):
        notify("finding_overdue", owners(finding),
               title=f"督查问题逾期未销号：{finding.target_name}·{finding.item_label}",
               body=f"{finding.inspector_region.name}{finding.year}年督查发现的问题“{finding.description[:60]}”"
                    f"整改期限为{date_cn(finding.deadline)}，至今未销号，请尽快整改并登记整改情况。",
               link=link_for("inspections.finding", finding_id=finding.id))
        result.counts["finding_overdue"] += 1

    db.session.commit()
    return result
