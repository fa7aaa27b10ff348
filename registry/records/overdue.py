"""The overdue worklist (逾期未确认): records the village has neither confirmed nor disputed
for longer than the setting, narrowed by county / township (``regions.areas``), category
and age, sorted by waiting time or by county or township, counted per category and per
age, and exported with the same filters. What is overdue is ``queries.overdue``."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Select, String, case, func, select

from ..core.enums import RECORD_CATEGORIES
from ..core.paging import Key
from ..core.timeutil import to_local, utcnow
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

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> OverdueFilters:
        """The list's arguments; a value that is not one of the choices is ignored."""
        category = args.get("category", "")
        age = args.get("age", "")
        sort = args.get("sort", "")
        return cls(category if category in RECORD_CATEGORIES else "",
                   int(age) if age.isdigit() and int(age) in AGES else None,
                   sort if sort.lstrip("-") in SORTS else "")

    @property
    def args(self) -> dict:
        return {"category": self.category or None, "age": self.min_days, "sort": self.sort or None}

    def shown(self) -> list[tuple[str, str]]:
        days = current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
        sort = SORTS.get(self.sort.lstrip("-"), "")
        return [("帮扶类别", RECORD_CATEGORIES.get(self.category, "")),
                ("逾期", f"提交超过{self.min_days or days}天未确认"),
                ("排序", (sort + ("（倒序）" if self.sort.startswith("-") else "")) if sort else "")]

    def query(self, user, region: Region | None) -> Select:
        return overdue(user, region, category=self.category, min_days=self.min_days)


def counts(user, region: Region | None, filters: OverdueFilters) -> tuple[dict[str, int], dict[int | None, int]]:
    """({category: records}, {age: records}) of the overdue list: the categories within
    the age chosen, the ages within the category chosen (None: overdue at all)."""
    by_category = overdue(user, region, min_days=filters.min_days).order_by(None).subquery()
    categories = dict(db.session.execute(
        select(by_category.c.category, func.count()).group_by(by_category.c.category)).all())
    by_age = overdue(user, region, category=filters.category).order_by(None).subquery()
    ages = db.session.execute(select(func.count(), *(
        func.count(case((by_age.c.submitted_at < overdue_cutoff(days), 1))) for days in AGES))).one()
    return {k: categories[k] for k in RECORD_CATEGORIES if categories.get(k)}, dict(zip((None, *AGES), ages))


COLUMNS = (
    Column("编号", "reference", width=12), Column("县（市、区）", "county"), Column("乡镇（街道）", "township"),
    Column("村", "village"), Column("区划代码", "village_code"), Column("填报单位", "organization", width=28),
    Column("帮扶类别", "category", width=10), Column("标题", "title", width=30),
    Column("直接投入（元）", "amount", "amount"), Column("提交日期", "submitted", "date", width=12),
    Column("已等待（天）", "days", "int", width=10),
)


def rows(stmt: Select) -> Iterator[list]:
    """The export's rows for the overdue records ``stmt`` selects (scoped and filtered), in its order."""
    s = SupportRecord
    lines = (stmt.with_only_columns(s.reference, s.village_code, Region.name, Organization.name, s.category, s.title,
                                    s.amount, s.submitted_at, maintain_column_froms=True)
             .join_from(s, Region, Region.code == s.village_code)
             .join_from(s, Organization, Organization.id == s.organization_id))
    areas, now = Areas(), utcnow()
    for reference, code, village, org, category, title, amount, submitted in db.session.execute(
            lines.execution_options(yield_per=2000)):
        county, township = areas.of(code)
        yield [reference, county, township, village, code, org, RECORD_CATEGORIES.get(category, category), title,
               amount, to_local(submitted).date(), (now - submitted).days]


__all__ = ["AGES", "COLUMNS", "SORTS", "OverdueFilters", "counts", "rows", "sort_keys"]
