"""The audit trail in the words of the pages: a Chinese verb for every action the code
records, and an event's before and after as rows of (field, before, after)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ..core import enums
from ..core.formatting import date_cn, datetime_cn
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


# the other columns of the audited kinds (``tests/test_audit_labels.py`` fails on a column
# of an audited model that has no Chinese name): by key, then where a key means something
# else in one kind, by kind
FIELD_LABELS = {
    "is_demo": "示例数据", "title": "标题", "kind": "类型", "level": "级别", "mode": "方式", "state": "状态",
    "summary": "摘要", "month": "月份", "start_date": "开始日期", "end_date": "结束日期", "amount": "金额（元）",
    "created_by_id": "创建人编号", "submitted_at": "提交时间", "submitted_by_id": "提交人编号",
    "decided_at": "决定时间", "decided_by_id": "决定人编号", "filed_at": "填报时间", "filed_by_id": "填报人编号",
    "checked_at": "核实时间", "checked_by_id": "核实人编号", "verified_by_id": "核验人编号",
    "closed_at": "销号时间", "closed_by_id": "销号人编号", "close_note": "销号说明",
    "rectify_note": "整改情况", "rectify_at": "整改时间", "rectified_by_id": "整改填报人编号",
    "issued_on": "印发日期", "issued_by_id": "签发人编号", "document_number": "文号",
    "subject_kind": "对象类型", "subject_key": "对象标识", "subject_id": "对象编号", "subject_title": "对象名称",
    "subject_region_code": "对象所在行政区代码", "follow_up": "整改状态", "absences": "缺勤次数",
    "assessor_region_code": "考核机关行政区代码", "change_reason": "改定原因", "assessed_by_id": "考核人编号",
    "assessed_at": "考核时间", "supersedes_id": "被更正的记录编号", "on_behalf_region_code": "代为填报的行政区代码",
    "original_name": "文件名", "stored_name": "存储文件名", "content_type": "文件类型", "size": "文件大小（字节）",
    "sha256": "文件校验值（SHA-256）", "uploaded_by_id": "上传人编号", "uploaded_at": "上传时间",
    "donor": "捐赠方", "received_on": "到账日期", "receipt_no": "收据编号",
    "organizer": "主办单位", "hours": "学时", "location": "地点", "training_id": "培训编号",
    "month_days": "当月天数", "parent_code": "上级行政区代码",
    "password_hash": "密码（摘要）", "oversight_body": "所属监督机构", "activation_digest": "激活码（摘要）",
    "activation_expires_at": "激活码有效期至", "activated_at": "激活时间", "activated_by_id": "启用人编号",
    "disabled_at": "停用时间", "disabled_reason": "停用原因",
    "id_number_encrypted": "身份证号（加密）", "id_number_index": "身份证号（检索摘要）",
    "id_number_masked": "身份证号（脱敏）", "phone_encrypted": "电话（加密）", "phone_masked": "电话（脱敏）",
    "chain": "审计链", "seq": "链内序号", "at": "时间", "actor_id": "操作人编号", "actor": "操作人",
    "action": "操作", "entity_type": "对象类型", "entity_id": "对象编号", "before": "变更前", "after": "变更后",
    "prev_hash": "前一事件校验值", "hash": "校验值", "key_id": "密钥编号",
    "user_id": "账号编号", "filename": "文件名", "options": "选项", "result": "结果", "output": "结果文件",
    "started_at": "开始时间", "finished_at": "完成时间",
    "pending_choice": "未完成事项的处理", "pending_note": "说明",
    "year_close_id": "关账编号", "kinds": "开放的数据类型", "deadline": "截止日期",
    "requested_by_id": "申请人编号", "requested_at": "申请时间", "decision_note": "审批意见",
    "reclosed_by_id": "重新关账人编号", "reclosed_at": "重新关账时间",
    "digest": "令牌（摘要）", "last_used_at": "最近使用", "revoked_reason": "撤销原因",
    "chased_by_id": "催办人编号", "chased_at": "催办时间", "item_kind": "事项类型", "item_key": "事项标识",
    "result_id": "帮扶实效编号", "due_on": "办结期限", "escalated_at": "升级时间",
    "plan_id": "督查计划编号", "inspector_region_code": "督查机关行政区代码", "target_kind": "督查对象类型",
    "target_key": "督查对象标识", "target_region_code": "督查对象行政区代码",
    "target_organization_id": "督查对象单位编号", "focus": "督查重点", "inspection_id": "督查对象编号",
    "visited_on": "走访日期", "team": "督查组成员", "visit_id": "走访编号",
    "provider_region_code": "保障单位行政区代码", "cancel_reason": "作废原因", "cancelled_at": "作废时间",
    "cancelled_by_id": "作废人编号", "recorded_by_id": "登记人编号",
    "decider_region_code": "决定机关行政区代码", "grounds": "容错情形", "facts": "事实经过",
    "applicant_id": "申请人编号", "applied_at": "申请时间", "decision_reason": "决定理由", "correction": "纠错措施",
    "effect": "处理结果",
    "target_level": "考核对象层级", "scheme_id": "考核方案编号", "position": "序号", "weight": "权重（分）",
    "source": "数据来源", "provider": "提供单位", "rule": "计分规则", "better": "方向", "floor": "下限",
    "target": "目标值", "steps": "分档", "unit": "计量单位", "scorer_id": "评分人编号",
    "total": "总分", "return_reason": "退回原因", "reviewed_by_id": "审核人编号", "reviewed_at": "审核时间",
    "published_by_id": "发布人编号", "published_at": "发布时间",
    "scorecard_id": "评分表编号", "indicator_id": "指标编号", "value": "数值", "score": "得分",
    "numerator": "分子", "denominator": "分母", "basis": "计算依据", "as_of": "数据截至", "scored_by_id": "评分人编号",
    "line_id": "指标得分编号", "lead_village_code": "牵头村代码", "project_id": "项目编号",
    "progress_id": "项目进展编号", "entry_date": "进展日期", "status_from": "原状态", "status_to": "新状态",
    "actual_investment": "实际投资（元）", "local_jobs": "带动本地就业（人）",
    # the counts a bulk event keeps (the demo data of each feature: ``record("demo", …)``)
    "people": "人数", "postings": "选派数", "trainings": "培训数", "attendance": "参训人次", "months": "月数",
    "short": "驻村天数不足的月数", "results": "条数", "assessments": "条数", "summons": "约谈数",
    "commendations": "表扬数", "plans": "督查计划数", "findings": "督查问题数", "cases": "件数", "records": "条数",
    "individuals": "个人帮扶者数", "progress": "进展条数", "evidence": "佐证材料数", "fund_contributions": "受赠资金笔数",
}
ENTITY_FIELD_LABELS = {
    "Training": {"title": "培训名称", "kind": "培训类型", "level": "培训层级", "mode": "培训方式"},
    "Region": {"level": "层级", "kind": "村类型"},
    "YearClose": {"closed_at": "关账时间", "closed_by_id": "关账人编号"},
    "Scheme": {"activated_at": "启用时间"},
    "TransferJob": {"kind": "数据类型"},
    "InspectionVisit": {"summary": "走访情况"},
    "Incentive": {"kind": "类别"},
    "ChaseUp": {"level": "催办层级"},
    "Escalation": {"level": "升级至"},
    "FaultToleranceCase": {"subject_id": "对象编号"},
    "SupportRecord": {"id": "系统编号"},  # its 编号 is the unit's own (2026-0001: ``reference``)
}

# enumerations: the stored code -> the words the pages use, where no import names the
# column's codes; by key, and where a key means something else in one kind, by kind
FIELD_CODES = {"subject_kind": enums.SUBJECT_KINDS, "follow_up": enums.FOLLOW_UP_STATUSES, "gender": enums.GENDERS}


def _entity_codes() -> dict[str, dict[str, dict]]:
    from ..closing.models import CLOSE_STATES, PENDING_CHOICES, REOPEN_STATES
    from ..projects.models import CONFIRMATION_STATES, PROJECT_STATUSES
    from ..scorecards.models import CARD_STATES, SCHEME_STATES
    from ..transfer.models import JOB_STATUSES

    return {
        "SupportRecord": {"status": enums.RECORD_STATUSES, "category": enums.RECORD_CATEGORIES},
        "User": {"role": enums.ROLES, "oversight_body": enums.OVERSIGHT_BODIES},
        "Region": {"level": enums.REGION_LEVELS},
        "Posting": {"role": enums.POSTING_ROLES, "dispatch_level": enums.DISPATCH_LEVELS,
                    "end_reason": enums.END_REASONS},
        "Pairing": {"kind": enums.PAIRING_KINDS},
        "Organization": {"kind": enums.ORG_KINDS, "level": enums.ORG_LEVELS},
        "Person": {"education": enums.EDUCATION},
        "Training": {"kind": enums.TRAINING_KINDS, "level": enums.TRAINING_LEVELS, "mode": enums.TRAINING_MODES},
        "DutyMonth": {"status": enums.DUTY_STATUSES},
        "VillageResult": {"status": enums.RESULT_STATUSES},
        "Incentive": {"kind": enums.INCENTIVE_KINDS, "level": enums.INCENTIVE_LEVELS},
        "Finding": {"status": enums.FOLLOW_UP_STATUSES},
        "CareRecord": {"kind": enums.CARE_KINDS, "status": enums.CARE_STATUSES},
        "FaultToleranceCase": {"subject_kind": enums.TOLERANCE_SUBJECTS, "status": enums.TOLERANCE_STATUSES,
                               "grounds": enums.TOLERANCE_GROUNDS},
        "Scheme": {"state": SCHEME_STATES, "target_level": enums.REGION_LEVELS},
        "Scorecard": {"state": CARD_STATES},
        "YearClose": {"state": CLOSE_STATES, "pending_choice": PENDING_CHOICES},
        "ReopenRequest": {"state": REOPEN_STATES},
        "Project": {"status": PROJECT_STATUSES},
        "ProjectProgress": {"status_from": PROJECT_STATUSES, "status_to": PROJECT_STATUSES},
        "ProjectConfirmation": {"state": CONFIRMATION_STATES},
        "TransferJob": {"status": JOB_STATUSES},
    }


@dataclass(frozen=True)
class _Field:
    label: str
    codes: dict | None = None
    kind: str = ""  # "datetime" or "date": a stored ISO text shown as the pages show times


@lru_cache(maxsize=1)
def _headers_and_codes() -> tuple[dict[str, dict[str, str]], dict[str, dict[str, dict]]]:
    """entity type -> field key -> the header its import and export use (one wording);
    entity type -> field key -> its enumeration (the import fields' codes, then the above)."""
    from ..transfer.kinds import kinds

    headers: dict[str, dict[str, str]] = {}
    codes: dict[str, dict[str, dict]] = {}
    for kind in kinds().values():
        named = headers.setdefault(kind.entity, {})
        for column in kind.export_columns():
            named.setdefault(column.key, column.header)
        for field in kind.fields:
            if field.codes:
                codes.setdefault(kind.entity, {}).setdefault(field.key, field.codes)
    for entity, fields in _entity_codes().items():
        for key, values in fields.items():
            codes.setdefault(entity, {}).setdefault(key, values)
    return headers, codes


def field_label(entity_type: str, key: str) -> str:
    """The Chinese name of a field of an event about ``entity_type`` (the key itself if it
    has none): the kind's own name for it, its import/export header, then the tables above."""
    return (ENTITY_FIELD_LABELS.get(entity_type, {}).get(key) or _headers_and_codes()[0].get(entity_type, {}).get(key)
            or COMMON_FIELDS.get(key) or FIELD_LABELS.get(key) or key)


@lru_cache(maxsize=1)
def _fields() -> dict[str, dict[str, _Field]]:
    """entity type -> column key -> its name, its enumeration and whether it holds a time."""
    from sqlalchemy import Date, DateTime

    from ..extensions import db

    codes = _headers_and_codes()[1]
    out: dict[str, dict[str, _Field]] = {}
    for mapper in db.Model.registry.mappers:
        entity = mapper.class_.__name__
        fields = out.setdefault(entity, {})
        for attr in mapper.column_attrs:
            key, kind = attr.key, attr.columns[0].type
            time = "datetime" if isinstance(kind, DateTime) else "date" if isinstance(kind, Date) else ""
            fields[key] = _Field(field_label(entity, key), codes.get(entity, {}).get(key) or FIELD_CODES.get(key), time)
    return out


@lru_cache(maxsize=1)
def _orders() -> dict[str, dict[str, int]]:
    """entity type -> column key -> its place among the kind's columns."""
    return {entity: {key: i for i, key in enumerate(fields)} for entity, fields in _fields().items()}


def actor_label(actor: str | None) -> str:
    """Who did it, as the trail names them: the registry's own jobs are 系统."""
    return "系统" if actor == "system" else actor or ""


def actor_name(actor: str | None, display_name: str | None) -> str:
    """Who did it, for a history: the account's name with its user name, 张三（zhang.san）,
    or the user name alone where the account has no other name (or none)."""
    if not display_name or display_name == actor:
        return actor or ""
    return f"{display_name}（{actor}）"


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


def _shown(value, field: _Field | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None and isinstance(value, str):
        if field.codes and value in field.codes:
            return field.codes[value]
        if field.kind:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                return value
            return datetime_cn(moment) if field.kind == "datetime" else date_cn(moment.date())
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def changes(entity_type: str, before: str | None, after: str | None) -> list[Change]:
    """The event's before and after side by side. With both sides, only the fields that
    changed (a snapshot holds every column); with one side, all of its fields."""
    return _changes(entity_type, _load(before), _load(after))


def _changes(entity_type: str, old: dict | None, new: dict | None) -> list[Change]:
    fields = _fields().get(entity_type, {})
    both = old is not None and new is not None
    # in the order the kind declares its columns (as its form and export go), not the
    # stored JSON's (sorted by code name); keys of no column after them
    order = _orders().get(entity_type, {})
    keys = sorted(dict.fromkeys([*(old or {}), *(new or {})]), key=lambda key: order.get(key, len(order)))
    rows = []
    for key in keys:
        a, b = (old or {}).get(key), (new or {}).get(key)
        changed = a != b
        if both and not changed:
            continue
        field = fields.get(key)
        shown_a, shown_b = _shown(_masked(key, a), field), _shown(_masked(key, b), field)
        if changed and shown_a == shown_b and field is not None and field.kind == "datetime":
            shown_a, shown_b = _with_seconds(a), _with_seconds(b)  # changed within the minute
        rows.append(Change(field.label if field is not None else field_label(entity_type, key),
                           shown_a, shown_b, changed))
    return rows


def _with_seconds(value) -> str:
    """A stored time as the trail shows it, to the second."""
    try:
        return datetime_cn(datetime.fromisoformat(value), seconds=True)
    except (TypeError, ValueError):
        return _shown(value)


def changes_text(entity_type: str, before: str | None, after: str | None) -> str:
    """``changes`` as one line of text, for an export cell: 名称：旧 → 新；… (one side: the
    fields that hold a value, 名称：值)."""
    old, new = _load(before), _load(after)
    both = old is not None and new is not None
    parts = []
    for change in _changes(entity_type, old, new):
        if both:
            parts.append(f"{change.field}：{change.before or '（空）'} → {change.after or '（空）'}")
        elif value := change.after or change.before:
            parts.append(f"{change.field}：{value}")
    return "；".join(parts)


def _load(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"": text}
    return value if isinstance(value, dict) else {"": value}
