"""催办 (chase-up) and 督办升级 (escalation): the one home of their rules.

Who chases: region staff of a township or any level above (and administrators), on an
item in their scope — a record overdue for the village's confirmation, a village
posting's month with no 驻村纪实 filed, a village result not yet verified — with a note.
Each chase is a row of ``chase_up`` and an audit event.

Escalation is *written*, by ``escalate(as_of)`` (``flask chase escalate``, run daily by
cron), not computed on each page view: each escalation is then a fact with its own audit
event (and, at merge, its notification), the worklists filter by it with an indexed
EXISTS, and a run is idempotent (an item reaches a level once: a unique constraint).
The rule, by dates only, so a test or a late run gives the same answer:

- an item's level is the highest of its chases' levels (the chaser's own level) and of
  its escalations; it has reached that level on the earliest such day;
- a chased item still open ``REGISTRY_ESCALATE_TO_COUNTY_DAYS`` days after it reached
  the township level escalates to the county, and one still open
  ``REGISTRY_ESCALATE_TO_CITY_DAYS`` days after it reached the county escalates to the
  city. Escalation stops at the city; an item never chased does not escalate;
- the next period counts from the day the escalation fell due (``due_on``), so a run
  missed for a week catches up with the same dates.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, url_for
from sqlalchemy import ColumnElement, Select, and_, exists, func, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ..audit.services import record as audit
from ..core.enums import VILLAGE_ROLES
from ..core.formatting import date_cn, month_cn
from ..core.parsing import check_text
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..core.timeutil import local_today, to_local
from ..extensions import db
from ..notifications import link_for, notify, recipients
from .models import ESCALATION_LEVELS, ITEM_KINDS, LEVEL_LABELS, LEVELS, ChaseUp, Escalation, item_key

NOTE_MAX = 500
LEVEL_DAYS = {"county": "REGISTRY_ESCALATE_TO_COUNTY_DAYS", "city": "REGISTRY_ESCALATE_TO_CITY_DAYS"}
# the worklists' filter by chase state: value -> label
STATES = {"none": "未催办", "chased": "已催办（未升级）", "county": "已升级至县级", "city": "已升级至市级"}


def chase_level(user) -> str | None:
    """The level a user chases at: their region's (township and above); an administrator's
    is the province's. None: this user may not chase."""
    if user.role == "admin":
        return "province"
    if user.role == "region" and user.region is not None and user.region.level in LEVELS:
        return user.region.level
    return None


def may_chase(user) -> bool:
    return chase_level(user) is not None


def period_days(level: str) -> int:
    """Days an item waits at the level below before it escalates to ``level``."""
    return int(current_app.config[LEVEL_DAYS[level]])


# -- the items -------------------------------------------------------------------------------


@dataclass
class Item:
    """One thing that may be chased, with what the rows and messages need."""

    kind: str
    key: str
    village_code: str
    organization_id: int | None
    title: str  # how a page or message names it
    url: str  # its own page
    is_open: bool  # still waiting for someone to act
    closed_reason: str = ""  # why it cannot be chased (when not open)
    closed_field: str = ""  # the form field that reason is about
    record_id: int | None = None
    posting_id: int | None = None
    month: date | None = None
    result_id: int | None = None

    @property
    def columns(self) -> dict:
        return {"item_kind": self.kind, "item_key": self.key, "record_id": self.record_id,
                "posting_id": self.posting_id, "month": self.month, "result_id": self.result_id,
                "village_code": self.village_code, "organization_id": self.organization_id}


def _village_name(region, code: str) -> str:
    return region.name if region is not None else code


def record_item(record) -> Item:
    from ..records.queries import overdue_cutoff

    overdue = record.status == "submitted" and record.submitted_at is not None and record.submitted_at < overdue_cutoff()
    return Item("record", item_key("record", record.id), record.village_code, record.organization_id,
                f"帮扶记录 编号 {record.reference}（{_village_name(record.village, record.village_code)}）{record.title}",
                url_for("records.detail", record_id=record.id), overdue,
                "" if overdue else f"只有逾期未确认的帮扶记录可以催办（当前：{record.status_label}"
                                   f"{'，尚未逾期' if record.status == 'submitted' else ''}）",
                record_id=record.id)


def missing_months(posting, today: date | None = None) -> list[date]:
    """The posting's months that are over and have no 驻村纪实 filed, newest first (a
    village posting only)."""
    from ..duty.services import posting_month_rows

    if posting.role not in VILLAGE_ROLES:
        return []
    return [row.month for row in posting_month_rows(posting, today) if row.missing]


def duty_item(posting, month: date | None, today: date | None = None) -> Item:
    missing = month is not None and month in missing_months(posting, today)
    place = _village_name(posting.region, posting.region_code)
    name = posting.person.name if posting.person else ""
    if month is None:
        why = "请选择要催办的月份（年-月，如 2026-10）"
    elif posting.role not in VILLAGE_ROLES:
        why = "该选派不是驻村岗位，没有驻村纪实"
    else:
        why = f"{month_cn(month)}的驻村纪实已填报或该月尚未结束，只有已过去且尚未填报的月份可以催办"
    return Item("duty_month", item_key("duty_month", posting.id, month) if month else f"duty_month:{posting.id}:",
                posting.region_code, posting.organization_id, f"{name}（{place}）{month_cn(month)}驻村纪实",
                url_for("duty.posting", posting_id=posting.id), missing, "" if missing else why,
                "" if missing else "month", posting_id=posting.id, month=month)


def result_item(result) -> Item:
    waiting = result.status != "verified"
    return Item("result", item_key("result", result.id), result.village_code, None,
                f"{_village_name(result.village, result.village_code)} {result.year}年帮扶实效",
                url_for("results.detail", result_id=result.id), waiting,
                "" if waiting else "已核验的帮扶实效无需催办", result_id=result.id)


# -- chasing ---------------------------------------------------------------------------------


def check_note(note: str | None) -> str:
    """The note a chase needs: not blank, at most NOTE_MAX characters, no control characters."""
    note = (note or "").strip()
    errors = Collector()
    if not note:
        errors.add("note", "请填写催办说明")
    elif len(note) > NOTE_MAX:
        errors.add("note", f"催办说明最多{NOTE_MAX}字（现有{len(note)}字）")
    else:
        check_text(note, "note", "催办说明", errors, multiline=True)
    errors.raise_if_any()
    return note


def chase(item: Item, user, note: str | None) -> ChaseUp:
    """催办 ``item`` (already looked up in ``user``'s scope) with ``note``: refused unless
    the user chases at a township or higher level and the item still waits. One row, one
    audit event, one commit. The one place a chase is written."""
    level = chase_level(user)
    if level is None:
        raise RuleViolation("催办由乡镇及以上工作人员办理", "")
    note = check_note(note)
    if not item.is_open:
        raise RuleViolation(item.closed_reason, item.closed_field)
    row = ChaseUp(**item.columns, level=level, note=note, chased_by_id=user.id)
    db.session.add(row)
    db.session.flush()
    audit("chase", row, summary=f"催办{item.title}（{LEVEL_LABELS[level]}）：{note}")
    notify("record_chased", must_act(item.columns), title=f"催办：{item.title}",
           body=f"{LEVEL_LABELS[level]}催办：{note}", link=_link(item.columns), actor=user)
    db.session.commit()
    return row


def must_act(columns: dict) -> list[int]:
    """The accounts that must act on a chased item: the village that confirms a record; the
    village and the cadre's own account for a month of 驻村纪实 not filed; for a village
    result, the township that verifies it when filed, else the village that files it."""
    from ..duty.models import DutyMonth  # noqa: F401  (the posting's model is loaded with it)
    from ..people.models import Posting
    from ..results.models import VillageResult

    village = columns["village_code"]
    if columns["item_kind"] == "duty_month":
        posting = db.session.get(Posting, columns["posting_id"])
        return recipients.village_users(village) + (recipients.person_users(posting.person_id) if posting else [])
    if columns["item_kind"] == "result":
        result = db.session.get(VillageResult, columns["result_id"])
        if result is not None and result.status == "filed":
            return recipients.region_staff(village[:9] + "000")
    return recipients.village_users(village)


def _link(columns: dict) -> str:
    kind = columns["item_kind"]
    if kind == "record":
        return link_for("records.detail", record_id=columns["record_id"])
    if kind == "result":
        return link_for("results.detail", result_id=columns["result_id"])
    return link_for("duty.posting", posting_id=columns["posting_id"])


def _level_office(village_code: str, level: str) -> str:
    """The code of the county's or the city's office over a village."""
    return village_code[:6] + "0" * 6 if level == "county" else village_code[:4] + "0" * 8


# -- escalating ------------------------------------------------------------------------------


@dataclass
class _Trail:
    """What is known of one item: its chases' and escalations' (rank, day)."""

    columns: dict
    steps: list[tuple[int, date]] = field(default_factory=list)
    escalated: set[str] = field(default_factory=set)


def _trails(as_of: date) -> dict[str, _Trail]:
    """Every chased item not yet escalated to the top, with its steps up to ``as_of``."""
    top = ESCALATION_LEVELS[-1]
    done = select(Escalation.item_key).where(Escalation.level == top)
    trails: dict[str, _Trail] = {}
    for c in db.session.scalars(select(ChaseUp).where(ChaseUp.item_key.not_in(done)).order_by(ChaseUp.id)):
        day = to_local(c.chased_at).date()
        if day > as_of:
            continue
        trail = trails.setdefault(c.item_key, _Trail({k: getattr(c, k) for k in (
            "item_kind", "item_key", "record_id", "posting_id", "month", "result_id", "village_code",
            "organization_id")}))
        trail.steps.append((LEVELS.index(c.level), day))
    if trails:
        for e in db.session.scalars(select(Escalation).where(Escalation.item_key.in_(list(trails)))):
            trails[e.item_key].steps.append((LEVELS.index(e.level), e.due_on))
            trails[e.item_key].escalated.add(e.level)
    return trails


def _open_keys(trails: dict[str, _Trail]) -> set[str]:
    """The keys of the items in ``trails`` that still wait for someone to act."""
    from ..duty.models import DutyMonth
    from ..records.models import SupportRecord
    from ..results.models import VillageResult

    by_kind: dict[str, list[_Trail]] = defaultdict(list)
    for t in trails.values():
        by_kind[t.columns["item_kind"]].append(t)
    out: set[str] = set()
    records = [t.columns["record_id"] for t in by_kind["record"]]
    waiting = set(db.session.scalars(select(SupportRecord.id).where(
        SupportRecord.id.in_(records), SupportRecord.status == "submitted"))) if records else set()
    out |= {t.columns["item_key"] for t in by_kind["record"] if t.columns["record_id"] in waiting}
    results = [t.columns["result_id"] for t in by_kind["result"]]
    waiting = set(db.session.scalars(select(VillageResult.id).where(
        VillageResult.id.in_(results), VillageResult.status != "verified"))) if results else set()
    out |= {t.columns["item_key"] for t in by_kind["result"] if t.columns["result_id"] in waiting}
    months = [(t.columns["posting_id"], t.columns["month"]) for t in by_kind["duty_month"]]
    filed = set(db.session.execute(select(DutyMonth.posting_id, DutyMonth.month).where(
        tuple_(DutyMonth.posting_id, DutyMonth.month).in_(months))).tuples()) if months else set()
    out |= {t.columns["item_key"] for t in by_kind["duty_month"]
            if (t.columns["posting_id"], t.columns["month"]) not in filed}
    return out


def _due(trail: _Trail, as_of: date) -> list[tuple[str, date]]:
    """The escalations (level, day it fell due) ``trail`` has earned by ``as_of`` and not yet got."""
    level = max(rank for rank, _ in trail.steps)
    since = min(day for rank, day in trail.steps if rank == level)
    out = []
    while level + 1 < len(LEVELS) and LEVELS[level + 1] in ESCALATION_LEVELS:
        target = LEVELS[level + 1]
        due = since + timedelta(days=period_days(target))
        if due > as_of:
            break
        if target not in trail.escalated:
            out.append((target, due))
        level, since = level + 1, due
    return out


def escalate(as_of: date | None = None) -> list[Escalation]:
    """Write every escalation due by ``as_of`` (today in Hunan by default) and not yet
    written; each with its audit event; one commit. Running it again writes nothing."""
    as_of = as_of or local_today()
    trails = _trails(as_of)
    open_keys = _open_keys(trails)
    written = []
    for key, trail in trails.items():
        if key not in open_keys:
            continue
        for level, due in _due(trail, as_of):
            written.append(_escalate_one(trail.columns, level, due, as_of))
    try:
        db.session.commit()
    except IntegrityError as error:  # another run wrote the same escalation meanwhile
        db.session.rollback()
        raise RuleViolation("另一次升级计算正在进行，请稍后重试", "") from error
    return written


def _escalate_one(columns: dict, level: str, due: date, as_of: date) -> Escalation:
    """The one place an escalation is written (inside ``escalate``'s transaction)."""
    row = Escalation(**columns, level=level, due_on=due)
    db.session.add(row)
    db.session.flush()
    audit("escalate", row, actor=None, actor_name="system",
          summary=f"{ITEM_KINDS.get(columns['item_kind'], '')}（{columns['item_key']}）催办后逾期未办理，"
                  f"{date_cn(due)}起升级至{LEVEL_LABELS[level]}督办（按{date_cn(as_of)}计算）")
    what = f"{ITEM_KINDS.get(columns['item_kind'], '')}（{columns['item_key']}）"
    notify("item_escalated", recipients.region_staff(_level_office(columns["village_code"], level)) + must_act(columns),
           title=f"已升级至{LEVEL_LABELS[level]}督办：{what}",
           body=f"催办后逾期未办理，{date_cn(due)}起由{LEVEL_LABELS[level]}督办。", link=_link(columns))
    return row


# -- reading: an item's chases, and the state the worklists show ------------------------------


@dataclass
class ChaseState:
    count: int = 0
    last_day: date | None = None
    last_by: str = ""
    last_level: str = ""
    escalated_to: str = ""  # the highest escalation level, if any
    escalated_on: date | None = None

    @property
    def last(self) -> str:
        """The latest chase: "2026年11月28日 某某（乡镇）"; "" when never chased."""
        return f"{date_cn(self.last_day)} {self.last_by}（{LEVEL_LABELS.get(self.last_level, '')}）" if self.count else ""

    @property
    def chased(self) -> str:
        """"已催办 2 次，最近：2026年11月28日 某某（乡镇）"; "" when never chased."""
        return f"已催办 {self.count} 次，最近：{self.last}" if self.count else ""

    @property
    def badge(self) -> str:
        return f"已升级至{LEVEL_LABELS[self.escalated_to]}" if self.escalated_to else ""

    @property
    def text(self) -> str:
        """The whole state in one line (exports)."""
        return "；".join(part for part in (self.chased, self.badge) if part) or "未催办"

    @property
    def value(self) -> str:
        """The state as the worklists' filter names it (STATES)."""
        return self.escalated_to or ("chased" if self.count else "none")


def _states(where: ColumnElement[bool], key) -> dict:
    """{key(row): ChaseState} of the chased items ``where`` selects (one query per table)."""
    states: dict = {}
    for c in db.session.scalars(select(ChaseUp).where(where(ChaseUp)).order_by(ChaseUp.chased_at, ChaseUp.id)):
        s = states.setdefault(key(c), ChaseState())
        s.count += 1
        s.last_day, s.last_by, s.last_level = to_local(c.chased_at).date(), c.chaser_name, c.level
    for e in db.session.scalars(select(Escalation).where(where(Escalation))):
        s = states.setdefault(key(e), ChaseState())
        if not s.escalated_to or LEVELS.index(e.level) > LEVELS.index(s.escalated_to):
            s.escalated_to, s.escalated_on = e.level, e.due_on
    return states


def record_states(record_ids: Iterable[int] | None = None) -> dict[int, ChaseState]:
    """{record id: state} of the chased records among ``record_ids`` (None: all of them,
    for an export: chases are few next to records)."""
    ids = None if record_ids is None else list(record_ids)
    if ids == []:
        return {}
    return _states(lambda m: m.record_id.in_(ids) if ids is not None else m.record_id.is_not(None),
                   lambda row: row.record_id)


def result_states(result_ids: Iterable[int]) -> dict[int, ChaseState]:
    ids = list(result_ids)
    return _states(lambda m: m.result_id.in_(ids), lambda row: row.result_id) if ids else {}


def duty_states(posting_id: int) -> dict[date, ChaseState]:
    """{month: state} of a posting's chased months."""
    return _states(lambda m: m.posting_id == posting_id, lambda row: row.month)


def duty_states_of(posting_ids: Iterable[int]) -> dict[tuple[int, date], ChaseState]:
    """{(posting id, month): state} of the chased months of ``posting_ids`` (a page of a list)."""
    ids = list(posting_ids)
    return _states(lambda m: m.posting_id.in_(ids), lambda row: (row.posting_id, row.month)) if ids else {}


def state_of(item: Item) -> ChaseState:
    return _states(lambda m: m.item_key == item.key, lambda row: row.item_key).get(item.key, ChaseState())


def history(item: Item, user) -> list:
    """The item's chases and escalations that ``user`` may see, oldest first."""
    chases = db.session.scalars(scoped(select(ChaseUp).where(ChaseUp.item_key == item.key), ChaseUp, user)).all()
    steps = db.session.scalars(scoped(select(Escalation).where(Escalation.item_key == item.key), Escalation, user)).all()
    return sorted([*chases, *steps], key=lambda r: (r.chased_at if isinstance(r, ChaseUp) else r.escalated_at, r.id))


def record_state_clause(record_id_column, state: str) -> ColumnElement[bool]:
    """SQL condition on a record id column: its chase state is ``state`` (STATES)."""
    chased = exists().where(ChaseUp.record_id == record_id_column)

    def up(level: str):
        return exists().where(Escalation.record_id == record_id_column, Escalation.level == level)

    if state == "none":
        return ~chased
    if state == "chased":
        return and_(chased, ~exists().where(Escalation.record_id == record_id_column))
    if state == "county":
        return and_(up("county"), ~up("city"))
    return up("city")


def chased_record_ids() -> Select:
    """The ids of the records with any chase or escalation row: every record outside them
    is in the state "none" (``record_state_clause``), so counts per state need only look
    at these (a few) and the total."""
    return (select(ChaseUp.record_id).where(ChaseUp.record_id.is_not(None))
            .union(select(Escalation.record_id).where(Escalation.record_id.is_not(None))))


def escalated_records(user, level: str) -> Select:
    """(record id, title, day it escalated) of the records still overdue whose highest
    escalation is ``level``, within ``user``'s scope, the latest first (the county's or
    city's home panel)."""
    from ..records.models import SupportRecord

    higher = [lv for lv in ESCALATION_LEVELS if LEVELS.index(lv) > LEVELS.index(level)]
    stmt = (select(Escalation.record_id, SupportRecord.title, Escalation.due_on)
            .join(SupportRecord, SupportRecord.id == Escalation.record_id)
            .where(Escalation.level == level, SupportRecord.status == "submitted"))
    if higher:
        above = aliased(Escalation)
        stmt = stmt.where(~exists().where(above.record_id == SupportRecord.id, above.level.in_(higher)))
    return scoped(stmt, SupportRecord, user).order_by(Escalation.due_on.desc(), Escalation.id.desc())


def count(stmt: Select) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


__all__ = ["ChaseState", "Item", "NOTE_MAX", "STATES", "chase", "chase_level", "chased_record_ids", "duty_item", "duty_states", "duty_states_of",
           "escalate", "escalated_records", "history", "may_chase", "missing_months", "period_days", "record_item",
           "record_state_clause", "record_states", "result_item", "result_states", "state_of"]
