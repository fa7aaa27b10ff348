"""The audit trail in the words of the pages: a Chinese verb for every action the code
records, and an event's before and after as rows of (field, before, after)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from ..core.identity import mask_phone

ACTION_LABELS = {
    # any object
    "create": "新增",
    # a cadre's account (cadres/services.py): a new one-time code, the cadre's activation
    "activation_code": "发放激活码",
    "activate": "激活账号",
    "update": "修改",
    "delete": "删除",
    "end": "结束",
    "export": "导出",
    "demo": "生成示例数据",
    # support records (records/rules.py) and the reviewed kinds (core/review.py)
    "correct": "更正",
    "submit": "提交确认",
    "resubmit": "修改后重新提交",
    "confirm": "确认",
    "dispute": "提出异议",
    "withdraw": "撤回",
    "supersede": "被更正取代",
    "evidence_add": "上传佐证",
    "progress": "项目进展",  # an enterprise project's status or figures moved (projects/services.py)
    "evidence_delete": "删除佐证",
    "refile": "重新填报",
    "return": "退回",
    "check": "核实",
    "verify": "核验",
    # chase-up and escalation (chase/services.py)
    "chase": "催办",
    "escalate": "督办升级",
    # assessment and incentives; the rectification cycle (core/rectification.py) of summons and findings
    "regrade": "改定等次",
    "rectify": "整改",
    "close": "销号",
    # care records (care/services.py) and fault tolerance (tolerance/services.py)
    "cancel": "作废",
    "tolerance_apply": "申请容错",
    "tolerance_decide": "容错决定",
    # closing a year (closing/services.py)
    "year_close": "年度关账",
    "reopen_request": "申请重新开放",
    "reopen_approve": "批准重新开放",
    "reopen_reject": "驳回重新开放申请",
    "reclose": "重新关账",
    # accounts
    "login": "登录",
    "login_failed": "登录失败",
    "lock": "锁定账号",
    "unlock": "解除登录限制",
    "password_change": "修改密码",
    "password_reset": "重置密码",
    "api_token": "生成API令牌",
    "api_token_revoke": "撤销API令牌",
    "end_sessions": "结束全部会话",
    "disable": "停用账号",
    "enable": "启用账号",
    # reference data and the trail itself
    "load_divisions": "载入行政区划",
    "checkpoint_reset": "重置审计检查点",
    # imports: import_<kind name> (transfer/importing.py)
    "import_records": "导入帮扶记录",
    "import_training": "导入参训情况",
    "import_duty": "导入驻村纪实",
    "import_results": "导入帮扶实效",
    "import_villages": "导入村",
    "import_organizations": "导入帮扶主体",
    "import_pairings": "导入结对关系",
    "import_postings": "导入选派",
    "import_people": "导入帮扶干部",
    "import_projects": "导入企业项目",
    "import_individuals": "导入个人帮扶者",
    "import_findings": "导入督查问题",
    "import_care": "导入关心关爱",
    # 实绩考核 (scorecards/services.py): a computed line's score, an entered one
    "compute": "计算得分",
    "recompute": "重新计算得分",
    "enter": "录入得分",
}


# what an event is about (AuditEvent.entity_type: a model's class name, or a page's)
ENTITY_LABELS = {
    "Organization": "帮扶主体", "Person": "帮扶干部", "Posting": "选派", "Pairing": "结对关系",
    "SupportRecord": "帮扶记录", "Evidence": "佐证材料", "FundContribution": "受赠资金", "Training": "培训",
    "Attendance": "参训记录", "DutyMonth": "驻村纪实", "VillageResult": "帮扶实效", "Assessment": "考核",
    "Incentive": "表扬激励与约谈", "Region": "行政区划", "User": "账号", "AuditEvent": "审计日志",
    "Gap": "缺口清单", "TransferJob": "导入导出任务", "YearClose": "年度关账", "ReopenRequest": "重新开放申请",
    "ApiToken": "API令牌", "ChaseUp": "催办", "Escalation": "督办升级",
    "InspectionPlan": "督查计划", "Inspection": "督查对象", "InspectionVisit": "督查走访", "Finding": "督查问题",
    "CareRecord": "关心关爱", "FaultToleranceCase": "容错纠错",
    "Scheme": "考核方案", "Indicator": "考核指标", "Scorecard": "实绩考核评分", "ScoreLine": "指标得分",
    "ScoreFile": "考核佐证材料",
    "Project": "企业项目", "ProjectVillage": "项目涉及村", "ProjectProgress": "项目进展",
    "ProjectConfirmation": "项目进展确认", "ProjectEvidence": "项目佐证材料",
}


def entity_label(entity_type: str) -> str:
    return ENTITY_LABELS.get(entity_type, entity_type)


def action_label(action: str) -> str:
    """The verb the pages show; an action nobody named yet is shown as it is."""
    return ACTION_LABELS.get(action, action)


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str
    changed: bool


# columns many models share, for kinds no import describes (accounts, incentives …)
COMMON_FIELDS = {
    "id": "编号", "name": "名称", "status": "状态", "active": "启用", "role": "角色", "username": "账号",
    "display_name": "姓名", "region_code": "行政区代码", "village_code": "村代码", "organization_id": "单位编号",
    "person_id": "人员编号", "posting_id": "选派编号", "pairing_id": "结对编号", "record_id": "记录编号",
    "phone": "电话", "note": "备注", "reason": "原因", "year": "年度", "grade": "等次", "comment": "评语",
    "created_at": "创建时间", "updated_at": "修改时间", "version": "版本", "last_login_at": "最近登录",
    "failed_logins": "登录失败次数", "locked_until": "锁定至", "session_version": "会话版本", "address": "网络地址",
    "sessions_ended": "结束的会话数", "tokens_revoked": "失效的令牌数", "expires_at": "有效期至", "revoked_at": "撤销时间",
    "is_key": "重点帮扶", "added": "新增条数", "rows": "行数", "format": "格式", "filters": "筛选条件",
}


@lru_cache(maxsize=1)
def _field_headers() -> dict[str, dict[str, str]]:
    """entity type -> field key -> the header its import and export use (one wording)."""
    from ..transfer.kinds import kinds

    out: dict[str, dict[str, str]] = {}
    for kind in kinds().values():
        headers = out.setdefault(kind.entity, {})
        for column in kind.export_columns():
            headers.setdefault(column.key, column.header)
    return out


# Snapshot fields that hold a phone number in the clear (an organization's contact phone;
# a person's phone is encrypted and snapshotted as [受保护]). The trail shows and exports
# them masked, as the lists do to whoever may not see the full number: the stored and
# hashed events are unchanged, so the chain still verifies.
MASKED_FIELDS = frozenset({"contact_phone", "phone"})
_PROTECTED = "[受保护]"


def _masked(key: str, value):
    if key in MASKED_FIELDS and isinstance(value, str) and value != _PROTECTED:
        return mask_phone(value)
    return value


def masked_json(text: str | None) -> str | None:
    """An event's stored before or after with its phone fields masked (for exports)."""
    data = _load(text)
    if not isinstance(data, dict) or not MASKED_FIELDS.intersection(data):
        return text
    return json.dumps({k: _masked(k, v) for k, v in data.items()}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def _shown(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(entity_type: str, before: str | None, after: str | None) -> list[Change]:
    """The event's before and after side by side. With both sides, only the fields that
    changed (a snapshot holds every column); with one side, all of its fields."""
    old = _load(before)
    new = _load(after)
    headers = _field_headers().get(entity_type, {})
    both = old is not None and new is not None
    keys = list(dict.fromkeys([*(old or {}), *(new or {})]))
    rows = []
    for key in keys:
        a, b = (old or {}).get(key), (new or {}).get(key)
        changed = a != b
        if both and not changed:
            continue
        rows.append(Change(headers.get(key) or COMMON_FIELDS.get(key, key), _shown(_masked(key, a)),
                           _shown(_masked(key, b)), changed))
    return rows


def _load(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"": text}
    return value if isinstance(value, dict) else {"": value}
