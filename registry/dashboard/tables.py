"""The numbers behind every chart, as tables: one source for the chart, its accessible
table on the page, and its CSV and xlsx downloads."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..core.enums import RECORD_CATEGORIES, REGION_LEVELS
from ..core.formatting import money_basis
from .coverage import Coverage


@dataclass
class Table:
    name: str
    title: str
    header: list[str]
    rows: list[list]
    money: frozenset[int] = field(default_factory=frozenset)  # columns in 元: shown as 1,234.50 on the page


def _pct(value: float | None):
    return None if value is None else round(value * 100, 1)


def coverage_table(cov: Coverage) -> Table:
    header = ["代码", "名称", "村（社区）数", "重点帮扶村数",
              "有第一书记（%）", "重点村有第一书记（%）", "有后盾单位（%）", "重点村有后盾单位（%）",
              "有企业结对（%）", "重点村有企业结对（%）", "近12个月有已确认帮扶（%）", "重点村近12个月有已确认帮扶（%）",
              f"已确认帮扶金额（元；{money_basis(cov.filters.year)}）", "确认率（%）", "逾期未确认记录", "选派干部数", "本年度已培训（%）",
              "90天内到期选派", "工作队不足人数的村", "驻村天数不足的月份"]
    rows = []
    for row in [*cov.children, cov.total]:
        s = row.shares
        rows.append([
            row.code, row.name if row is not cov.total else f"{row.name}（合计）", row.villages, row.key_villages,
            _pct(s["first_secretary"]), _pct(s["first_secretary_key"]), _pct(s["backing_unit"]), _pct(s["backing_unit_key"]),
            _pct(s["enterprise"]), _pct(s["enterprise_key"]), _pct(s["support_12m"]), _pct(s["support_12m_key"]),
            float(row.confirmed_total), _pct(row.confirmation_rate), row.overdue, row.posted_people, _pct(s["trained"]),
            row.ending_soon, row.teams_under_min, row.months_under_min,
        ])
    child = REGION_LEVELS.get(cov.children[0].level, "下级") if cov.children else "下级"
    return Table("coverage", f"按{child}的覆盖情况", header, rows,
                 money=frozenset(i for i, h in enumerate(header) if "（元" in h))


def amounts_table(cov: Coverage) -> Table:
    categories = list(cov.by_category) or []
    months = sorted({m["month"] for m in cov.by_month})
    cells = {(m["month"], m["category"]): m["amount"] for m in cov.by_month}
    header = ["月份", *[RECORD_CATEGORIES[c] for c in categories], "合计（元）"]
    rows = []
    for month in months:
        values = [float(cells.get((month, c), 0)) for c in categories]
        rows.append([f"{cov.filters.year}年{month}月", *values, round(sum(values), 2)])
    return Table("amounts", f"已确认帮扶金额（按月份和类别，元；{money_basis(cov.filters.year)}）", header, rows,
                 money=frozenset(range(1, len(header))))


def category_table(cov: Coverage) -> Table:
    rows = [[RECORD_CATEGORIES[c], float(v)] for c, v in cov.by_category.items()]
    return Table("categories", f"已确认帮扶金额（按类别，元；{money_basis(cov.filters.year)}）", ["类别", "金额（元）"], rows,
                 money=frozenset({1}))


FUNNEL_STAGES = (
    ("已提交", ("submitted", "confirmed", "disputed", "superseded")),
    ("村已处理", ("confirmed", "disputed", "superseded")),
    ("已确认", ("confirmed", "superseded")),
)


def funnel_table(cov: Coverage) -> Table:
    rows = [[label, sum(cov.funnel.get(s, 0) for s in statuses)] for label, statuses in FUNNEL_STAGES]
    rows.append(["其中有异议", cov.funnel.get("disputed", 0)])
    rows.append(["草稿（未提交）", cov.funnel.get("draft", 0)])
    rows.append(["已撤回", cov.funnel.get("withdrawn", 0)])
    return Table("funnel", f"{cov.filters.year}年帮扶记录确认情况（条）", ["环节", "记录数"], rows)


def training_table(cov: Coverage) -> Table:
    rows = []
    for row in [*cov.children, cov.total]:
        rows.append([row.name if row is not cov.total else f"{row.name}（合计）", row.posted_people, row.trained_people,
                     _pct(row.shares["trained"])])
    return Table("training", f"{cov.filters.year}年选派干部培训情况", ["地区", "在岗选派干部", "已完成年度培训", "培训覆盖率（%）"], rows)


def hierarchy_table(cov: Coverage) -> Table:
    rows = [[row.code, row.name, row.villages, _pct(row.shares["first_secretary"])] for row in cov.children]
    return Table("hierarchy", "下级地区村数与第一书记覆盖", ["代码", "名称", "村（社区）数", "有第一书记（%）"], rows)


def all_tables(cov: Coverage) -> dict[str, Table]:
    tables = [coverage_table(cov), amounts_table(cov), category_table(cov), funnel_table(cov), training_table(cov),
              hierarchy_table(cov)]
    return {t.name: t for t in tables}
