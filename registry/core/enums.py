"""Enumerations of DESIGN.md section 3: the code's value first, the label the UI shows."""
from __future__ import annotations

ROLES = {
    "admin": "系统管理员",
    "region": "行政区工作人员",
    "unit": "帮扶单位",
    "village": "村",
    "viewer": "监督查询",
    "cadre": "驻村干部",
}

REGION_LEVELS = {
    "province": "省",
    "city": "市州",
    "county": "县市区",
    "township": "乡镇",
    "village": "村",
}
# Length of the significant prefix of a 12-digit code at each level.
PREFIX_LENGTH = {"province": 2, "city": 4, "county": 6, "township": 9, "village": 12}
CHILD_LEVEL = {"province": "city", "city": "county", "county": "township", "township": "village"}

ORG_KINDS = {
    "backing_unit": "后盾单位",
    "paired_unit": "对口帮扶单位",
    "mass_org": "群团组织",
    "party_federation": "民主党派/工商联",
    "army_unit": "驻湘部队",
    "enterprise": "企业",
    "charity": "公益慈善组织",
    "individual": "个人",
    "other": "其他",
}
# 个人帮扶: a citizen helping on their own (湘办〔2023〕17号 §六); the organization row of kind
# ``individual`` is the helper in pairings and records, its one Person the private fields.
INDIVIDUAL = "individual"
INDIVIDUAL_WAYS = {"donation": "捐款捐物", "volunteer": "志愿服务", "returnee": "返乡创业", "other": "其他"}
ORG_LEVELS = {"central": "中央", "provincial": "省直", "city": "市直", "county": "县直", "other": "其他"}
PAIRED_SECTORS = {
    "locality": "地区对口",
    "education": "教育",
    "culture": "文化",
    "health": "医疗卫生",
    "science_tech": "科技",
}
MASS_ORG_SUBTYPES = {
    "trade_union": "工会",
    "youth_league": "共青团",
    "women_federation": "妇联",
    "science_association": "科协",
    "disabled_federation": "残联",
}
PARTY_FEDERATION_SUBTYPES = {"democratic_party": "民主党派", "commerce_federation": "工商联"}

POSTING_ROLES = {
    "first_secretary": "第一书记",
    "team_leader": "工作队长",
    "team_member": "工作队员",
    "seconded_cadre": "挂职干部",
}
VILLAGE_ROLES = ("first_secretary", "team_leader", "team_member")
DISPATCH_LEVELS = {"central": "中央", "provincial": "省派", "city": "市派", "county": "县派"}
# the same as rosters of work teams write them (an import reads these beside the labels)
POSTING_ROLE_SYNONYMS = {
    **dict.fromkeys(("驻村第一书记", "第一书记兼工作队长", "第一书记兼队长", "第一书记兼驻村工作队长"), "first_secretary"),
    **dict.fromkeys(("队长", "驻村工作队长", "工作队队长", "驻村队长"), "team_leader"),
    **dict.fromkeys(("队员", "驻村工作队员", "工作队队员", "驻村队员"), "team_member"),
    **dict.fromkeys(("挂职", "挂职干部"), "seconded_cadre"),
}
DISPATCH_LEVEL_SYNONYMS = {
    **dict.fromkeys(("中央单位", "中直", "中央派", "中直单位", "中央选派"), "central"),
    **dict.fromkeys(("省直", "省级", "省", "省直单位", "省选派"), "provincial"),
    **dict.fromkeys(("市直", "市级", "市", "州派", "州直", "州级", "市州派", "市州"), "city"),
    **dict.fromkeys(("县直", "县级", "县", "县市区派", "区派", "县市区"), "county"),
}
END_REASONS = {
    "term_completed": "期满轮换",
    "retained": "留任",
    "recalled": "召回",
    "reassigned": "调整",
    "promoted": "提拔",
    "other": "其他",
}

PAIRING_KINDS = {
    "resident": "驻村帮扶",
    "paired": "对口帮扶",
    "enterprise_village": "村企结对",
    "fixed_point": "定点帮扶",
    "other": "其他",
}

RECORD_STATUSES = {
    "draft": "草稿",
    "submitted": "待确认",
    "confirmed": "已确认",
    "disputed": "有异议",
    "withdrawn": "已撤回",
    "superseded": "已更正",
}
RECORD_CATEGORIES = {
    "funds": "资金",
    "project": "项目",
    "industry": "产业",
    "employment": "就业",
    "consumption": "消费帮扶",
    "education": "教育",
    "health": "医疗卫生",
    "culture": "文化",
    "science_tech": "科技",
    "infrastructure": "基础设施",
    "goods": "物资",
    "volunteer": "志愿服务",
    "other": "其他",
}
# the categories as units' ledgers write them (an import reads these beside the labels)
RECORD_CATEGORY_SYNONYMS = {
    **{f"{label}帮扶": code for code, label in RECORD_CATEGORIES.items() if not label.endswith("帮扶")},
    "资金支持": "funds", "项目建设": "project", "产业发展": "industry", "稳岗就业": "employment", "就业创业": "employment",
    "消费": "consumption", "助学": "education", "捐资助学": "education", "教育助学": "education", "医疗": "health",
    "健康帮扶": "health", "卫生": "health", "基础设施建设": "infrastructure", "基建": "infrastructure",
    "物资捐赠": "goods", "捐赠物资": "goods", "志愿": "volunteer", "志愿活动": "volunteer",
}

GENDERS = {"male": "男", "female": "女"}
EDUCATION = {
    "postgraduate": "研究生",
    "bachelor": "大学本科",
    "college": "大学专科",
    "secondary": "中专/高中",
    "other": "其他",
}
# 学历 as cadre rosters write it (an import reads these beside the labels)
EDUCATION_SYNONYMS = {
    **dict.fromkeys(("博士", "博士研究生", "硕士", "硕士研究生", "研究生学历", "在职研究生"), "postgraduate"),
    **dict.fromkeys(("本科", "大学", "全日制本科", "在职本科", "本科学历"), "bachelor"),
    **dict.fromkeys(("大专", "专科", "全日制大专", "在职大专", "大专学历"), "college"),
    **dict.fromkeys(("中专", "高中", "中专及以下", "高中及以下", "中技", "技校", "职高"), "secondary"),
    **dict.fromkeys(("初中", "初中及以下", "小学"), "other"),
}


def label(mapping: dict[str, str], value: str | None) -> str:
    """The Chinese label of an enumeration value ('' for None)."""
    if value is None:
        return ""
    return mapping.get(value, value)

# -- training, days in the village, village results, assessment, incentives (issue 5) ----

TRAINING_KINDS = {"pre_posting": "岗前培训", "rotation": "轮训", "special": "专题培训"}
TRAINING_LEVELS = {
    "central": "中央",
    "provincial": "省级",
    "city": "市州级",
    "county": "县级",
    "township": "乡镇级",
}
TRAINING_MODES = {"onsite": "线下", "online": "线上"}
DUTY_STATUSES = {"filed": "待核实", "checked": "已核实", "returned": "已退回"}
RESULT_STATUSES = {"filed": "待核验", "verified": "已核验", "returned": "已退回"}
SUBJECT_KINDS = {"person": "个人", "organization": "单位"}
INCENTIVE_KINDS = {"commendation": "表扬激励", "summons": "约谈"}
INCENTIVE_LEVELS = {
    "provincial": "省级",
    "city": "市州级",
    "county": "县级",
    "township": "乡镇级",
}
FOLLOW_UP_STATUSES = {"open": "待整改", "rectifying": "整改中", "closed": "已销号"}

# -- care for frontline cadres and fault tolerance (issue 17, §八) -------------------------

CARE_KINDS = {
    "allowance": "补助",
    "insurance": "保险",
    "health_check": "体检",
    "leave": "休假",
}
# what each kind may be (the item of a care record), as the dispatching offices name them
CARE_ITEMS = {
    "allowance": ("生活补助", "交通补助", "通讯补助", "伙食补助", "其他补助"),
    "insurance": ("人身意外伤害保险", "重大疾病保险", "住院医疗保险", "其他保险"),
    "health_check": ("年度体检", "专项体检"),
    "leave": ("休假", "探亲假", "轮休", "病假"),
}
ACCIDENT_INSURANCE = "人身意外伤害保险"
CARE_STATUSES = {"active": "有效", "cancelled": "已作废"}

# 容错纠错: what a case is about; the inspections feature adds "finding" (tolerance.subjects)
TOLERANCE_SUBJECTS = {"summons": "约谈", "assessment": "年度考核"}
TOLERANCE_STATUSES = {"pending": "待决定", "tolerated": "予以容错", "not_tolerated": "不予容错"}
# the situations the measures name (三个区分开来)
TOLERANCE_GROUNDS = {
    "exploration": "推进改革、探索创新中因缺乏经验、先行先试出现失误",
    "no_rule": "上级尚无明确限制的探索性工作中出现失误",
    "objective": "因不可抗力、难以预见等客观因素未达到预期效果",
    "collective": "经集体决策、按规定程序办事，因客观原因出现偏差",
    "other": "其他情形",
}

# which body a supervising account (监督查询, role viewer) belongs to
OVERSIGHT_BODIES = {
    "discipline": "纪检监察",
    "finance": "财政",
    "audit": "审计",
    "agriculture": "农业农村",
    "development": "发展改革",
}
