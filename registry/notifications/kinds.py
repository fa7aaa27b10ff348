"""The kinds of notification, with what the pages call them (order: as the preferences
page lists them)."""
from __future__ import annotations

KINDS: dict[str, str] = {
    "record_submitted": "帮扶记录待本村确认",
    "record_confirmed": "帮扶记录已被村确认",
    "record_disputed": "帮扶记录被村提出异议",
    "record_overdue": "帮扶记录逾期未确认",
    "record_chased": "催办",
    "item_escalated": "逾期事项上报",
    "posting_ending": "选派即将期满",
    "training_missing": "岗前培训逾期未完成",
    "duty_returned": "驻村纪实被退回",
    "result_returned": "帮扶实效被退回",
    "summons": "约谈及整改进展",
    "inspection": "督查问题及整改进展",
    "finding_overdue": "督查问题逾期未销号",
    "reopen": "重新开放年度数据申请",
    "scorecard_published": "实绩考核结果发布",
    "fault_tolerance": "容错纠错申请及决定",
    "project_progress": "企业项目进展待本村确认",
    "project_disputed": "企业项目进展被村提出异议",
}
