"""The overdue worklist (逾期未确认): records the village has neither confirmed nor disputed
for longer than the setting, narrowed by county / township (``regions.areas``), category
and age and chase state (催办, 督办升级: ``chase.services``), sorted by waiting time or by county
or township, counted per category, per age and per chase state, and exported with the same
filters and the chase columns. What is overdue is ``queries.overdue``."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, String, case, func, select

from ..chase.services import STATES as CHASE_STATES
from ..chase.services import chased_record_ids, record_state_clause, record_states
from ..core.enums import RECORD_CATEGORIES
from ..core.paging import Key
from ..core.timeutil import to_local, utcnow
from ..dashboard.coverage import overdue_by_category, seen_whole
from ..extensions import db
from ..organizations.models import Organization
from ..regions.areas import Areas
from ..regions.models import Region
from ..transfer.writing import Column
from .models import SupportRecord
from .queries import PENDING_ORDER, overdue, overdue_cutoff

AGES = (60, 90, 180)  # the age filter's choices: waiting more than so many days
SORTS = {"county": "县（市、区）", "township": "乡镇（街道）"}


def _prefix(level_length: int):
    return func.substr(SupportRecord.village_code, 1, level_length, type_=String)


def sort_keys(sort: str) -> tuple[Key, ...]:
    """The list's order: the longest waiting first, or by county / township (the code's
    prefix; "-" for descending) and then the longest waiting."""
    key = sort.lstrip("-")
    if key not in SORTS:
        return PENDING_ORDER
    n = 6 if key == "county" else 9
    return (Key(_prefix(n), descending=sort.startswith("-"), value=lambda r: r.village_code[:n]), *PENDING_ORDER)


@dataclass
class OverdueFilters:
    category: str = ""
    min_days: int | None = None
    sort: str = ""
    chase: str = ""  # CHASE_STATES

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> OverdueFilters:
        """The list's arguments; a value that is not one of the choices is ignored."""
        category = args.get("category", "")
        age = args.get("age", "")
        sort = args.get("sort", "")
        chase = args.get("chase", "")
        return cls(category if category in RECORD_CATEGORIES else "",
                   int(age) if age.isdigit() and int(age) in AGES else None,
                   sort if sort.lstrip("-") in SORTS else "", chase if chase in CHASE_STATES else "")

    @property
    def args(self) -> dict:
        return {"category": self.category or None, "age": self.min_days, "sort": self.sort or None,
                "chase": self.chase or None}

    def shown(self) -> list[tuple[str, str]]:
        days = current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
        sort = SORTS.get(self.sort.lstrip("-"), "")
        return [("帮扶类别", RECORD_CATEGORIES.get(self.category, "")),
                ("逾期", f"提交超过{self.min_days or days}天未确认"),
                ("排序", (sort + ("（倒序）" if self.sort.startswith("-") else "")) if sort else ""),
                ("催办情况", CHASE_STATES.get(self.chase, ""))]

    def query(self, user, region: Region | None, *, chase: bool = True) -> Select:
        stmt = overdue(user, region, category=self.category, min_days=self.min_days)
        return stmt.where(record_state_clause(SupportRecord.id, self.chase)) if chase and self.chase else stmt


def counts(user, region: Region | None, filters: OverdueFilters) -> tuple[dict[str, int], dict[int | None, int]]:
    """({category: records}, {age: records}) of the overdue list: the categories within
    the age chosen, the ages within the category chosen (None: overdue at all)."""
    if not filters.chase:
        by_category, by_age, _total = tallies(user, region, filters)
        return by_category, by_age
    by_category = overdue(user, region, min_days=filters.min_days)
    by_category = by_category.where(record_state_clause(SupportRecord.id, filters.chase)).order_by(None).subquery()
    categories = dict(db.session.execute(
        select(by_category.c.category, func.count()).group_by(by_category.c.category)).all())
    by_age = overdue(user, region, category=filters.category)
    by_age = by_age.where(record_state_clause(SupportRecord.id, filters.chase)).order_by(None).subquery()
    ages = db.session.execute(select(func.count(), *(
        func.count(case((by_age.c.submitted_at < overdue_cutoff(days), 1))) for days in AGES))).one()
    return {k: categories[k] for k in RECORD_CATEGORIES if categories.get(k)}, dict(zip((None, *AGES), ages))


def tallies(user, region: Region | None, filters: OverdueFilters) -> tuple[dict[str, int], dict[int | None, int], int]:
    """Without a chase filter: the counts by category (within the age chosen), by age
    (within the category chosen) and of the list itself, from one pass over the overdue
    records grouped by category, each age a column (on PostgreSQL each pass over a
    province's pending records costs tens of ms). A record overdue for more than ``age``
    days is one submitted before ``overdue_cutoff(age)``; within the overdue ones that is
    what ``overdue(min_days=age)`` selects. A province, city or county that the user sees
    in full is counted from its counts by day (``overdue_by_category``), as its overdue
    count is (a province's pass took ~45 ms on SQLite)."""
    area = seen_whole(user, region)
    if area is not None:
        ages = [(category, *counts) for category, counts in overdue_by_category(area, AGES).items()]
    else:
        # the two columns counted only: a subquery of every column of the records costs
        # ~2 ms of Python a request to build (its column collection), for nothing the
        # counts read
        rows = (overdue(user, region).order_by(None)
                .with_only_columns(SupportRecord.category, SupportRecord.submitted_at, maintain_column_froms=True)
                .subquery())
        ages = db.session.execute(
            select(rows.c.category, func.count(),
                   *(func.count(case((rows.c.submitted_at < overdue_cutoff(days), 1))) for days in AGES))
            .group_by(rows.c.category)).all()
    by_age = dict(zip((None, *AGES), (0,) * (len(AGES) + 1)))
    by_category: dict[str, int] = {}
    chosen = (None, *AGES).index(filters.min_days) + 1 if filters.min_days in AGES else 1
    for row in ages:
        by_category[row[0]] = row[chosen]
        if not filters.category or row[0] == filters.category:
            by_age = {age: by_age[age] + n for age, n in zip((None, *AGES), row[1:])}
    total = by_category.get(filters.category, 0) if filters.category else sum(by_category.values())
    return {k: by_category[k] for k in RECORD_CATEGORIES if by_category.get(k)}, by_age, total


def chase_counts(user, region: Region | None, filters: OverdueFilters, total: int | None = None) -> dict[str, int]:
    """{chase state: records} of the overdue list within the category and age chosen
    (``total``: those records' number, if known: ``tallies``)."""
    listed = filters.query(user, region, chase=False).order_by(None)
    if total is None:
        total = db.session.scalar(select(func.count()).select_from(
            listed.with_only_columns(SupportRecord.id, maintain_column_froms=True).subquery())) or 0
    # the states of the listed records that were ever chased or escalated (a few), instead
    # of testing every overdue record's chase state; the others are all "none"
    chased = (listed.where(SupportRecord.id.in_(chased_record_ids()))
              .with_only_columns(SupportRecord.id, maintain_column_froms=True).subquery())
    states = [s for s in CHASE_STATES if s != "none"]
    *found, not_none = db.session.execute(select(
        *(func.count(case((record_state_clause(chased.c.id, state), 1))) for state in states),
        func.count(case((~record_state_clause(chased.c.id, "none"), 1)))).select_from(chased)).one()
    return {state: total - not_none if state == "none" else dict(zip(states, found))[state] for state in CHASE_STATES}


COLUMNS = (
    Column("编号", "reference", width=12), Column("县（市、区）", "county"), Column("乡镇（街道）", "township"),
    Column("村", "village"), Column("区划代码", "village_code"), Column("填报单位", "organization", width=28),
    Column("帮扶类别", "category", width=10), Column("标题", "title", width=30),
    Column("直接投入资金（元）", "amount", "amount"), Column("提交日期", "submitted", "date", width=12),
    Column("已等待（天）", "days", "int", width=10),
    Column("催办次数", "chases", "int", width=10), Column("最近催办", "last_chase", width=30),
    Column("督办升级", "escalated", width=12),
)


def rows(stmt: Select) -> Iterator[list]:
    """The export's rows for the overdue records ``stmt`` selects (scoped and filtered), in its order."""
    s = SupportRecord
    lines = (stmt.with_only_columns(s.reference, s.village_code, Region.name, Organization.name, s.category, s.title,
                                    s.amount, s.submitted_at, maintain_column_froms=True)
             .join_from(s, Region, Region.code == s.village_code)
             .join_from(s, Organization, Organization.id == s.organization_id))
    lines = lines.add_columns(s.id)
    areas, now, chased = Areas(), utcnow(), record_states()
    for reference, code, village, org, category, title, amount, submitted, record_id in db.session.execute(
            lines.execution_options(yield_per=2000)):
        county, township = areas.of(code)
        state = chased.get(record_id)
        yield [reference, county, township, village, code, org, RECORD_CATEGORIES.get(category, category), title,
               amount, to_local(submitted).date(), (now - submitted).days, state.count if state else 0,
               state.last if state else "", state.badge if state else ""]


__all__ = ["AGES", "COLUMNS", "SORTS", "OverdueFilters", "chase_counts", "counts", "rows", "sort_keys", "tallies"]
