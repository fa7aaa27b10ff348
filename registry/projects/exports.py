"""The project list as a spreadsheet (transfer's conventions: Chinese headers, money in 元
with the unit in the header, formulas escaped by the writer, the filters on a second sheet).

Privacy: a project carries no personal data; the enterprise's contact person and phone
are not exported, so nothing needs masking and the export is not an audited
personal-data export (``people/privacy.py``)."""
from __future__ import annotations

from ..transfer.writing import Column
from .models import Project

COLUMNS = [
    Column("项目编号", "id", "int", 8),
    Column("项目名称", "name", width=30),
    Column("企业", "organization", width=28),
    Column("统一社会信用代码", "credit_code", width=20),
    Column("项目类型", "kind", width=8),
    Column("湘商回归", "is_xiangshang", width=8),
    Column("涉及村", "villages", width=40),
    Column("计划投资（元）", "planned_investment", "amount", 16),
    Column("实际到位投资（元）", "actual_investment", "amount", 16),
    Column("经村确认的实际到位投资（元）", "confirmed_investment", "amount", 18),
    Column("带动当地就业（人）", "local_jobs", "int", 10),
    Column("签约日期", "signed_on", "date", 12),
    Column("开工日期", "started_on", "date", 12),
    Column("投产日期", "operating_on", "date", 12),
    Column("终止日期", "terminated_on", "date", 12),
    Column("状态", "status", width=8),
    Column("终止原因", "end_reason", width=30),
]


def export_row(p: Project) -> list:
    villages = "、".join(f"{v.village.name}（{v.village_code}）" if v.village else v.village_code for v in p.villages)
    return [p.id, p.name, p.organization.name, p.organization.credit_code or "", p.kind_label,
            "是" if p.is_xiangshang else "否", villages, p.planned_investment, p.actual_investment,
            p.confirmed_investment, p.local_jobs, p.signed_on, p.started_on, p.operating_on, p.terminated_on,
            p.status_label, p.end_reason or ""]
