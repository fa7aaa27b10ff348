"""What each policy setting means, for the administrators' read-only settings page.

The values live in ``registry.config.SETTING_DEFAULTS``; a deployment changes one by
setting an environment variable of the same name and restarting the application.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MEANINGS: dict[str, tuple[str, str]] = {
    # name: (meaning, how to write it in the environment)
    "REGISTRY_PLANNED_TERM_YEARS": ("选派计划任期（年），新建选派时计划结束日期默认为开始日期加此年数", "整数，如 2"),
    "REGISTRY_MIN_TEAM_SIZE": ("驻村工作队最少人数，低于此数作为缺口提示", "整数，如 3"),
    "REGISTRY_MIN_DAYS_IN_VILLAGE": ("每月在村天数下限，不足的月份在驻村纪实中标记提示（选派首末月按在岗天数折算）", "整数，如 20"),
    "REGISTRY_PRE_POSTING_TRAINING_DAYS": ("岗前培训时限（天）：选派开始前后此天数内参加岗前培训视为按时完成", "整数，如 90"),
    "REGISTRY_YEARLY_TRAININGS": ("每人每年至少参加培训次数，不足作为缺口提示", "整数，如 1"),
    "REGISTRY_RECORD_EARLIEST_DATE": ("帮扶记录等日期的最早允许日期；帮扶实效和考核年度也不早于此年", "日期，如 2021-01-01"),
    "REGISTRY_DATE_YEARS_AHEAD": ("计划类日期（培训起止、选派开始和计划结束、结对起止）最多可填到今天起此年数之后，更晚的视为录入错误", "整数，如 5"),
    "REGISTRY_AMOUNT_MAX_YUAN": ("单条帮扶记录、受赠资金或帮扶实效中每项金额的上限（元），超过即拒绝", "整数，如 1000000000"),
    "REGISTRY_AMOUNT_CONFIRM_YUAN": ("金额确认线（元）：超过此数的金额须勾选“以上金额已核对无误”（导入时在“大额已核实”列填“是”）才能保存", "整数，如 10000000"),
    "REGISTRY_CONFIRMATION_OVERDUE_DAYS": ("帮扶记录提交后超过此天数未确认即为逾期，列入乡镇、县市区工作清单", "整数，如 30"),
    "REGISTRY_ESCALATE_TO_COUNTY_DAYS": (
        "催办后仍未办理的事项（逾期未确认的帮扶记录、未填报的驻村纪实、未核验的帮扶实效），自乡镇催办之日起超过此天数升级至县级督办（每日由 flask chase escalate 计算）",
        "整数，如 14"),
    "REGISTRY_ESCALATE_TO_CITY_DAYS": ("已升级至县级的事项自升级之日（或县级催办之日）起超过此天数仍未办理，升级至市级督办", "整数，如 14"),
    "REGISTRY_ENDING_SOON_DAYS": ("选派在此天数内到期视为即将期满", "整数，如 90"),
    "REGISTRY_PERSON_GRADES": ("干部考核等次，由高到低", "逗号分隔，如 优秀,称职,基本称职,不称职"),
    "REGISTRY_ORG_GRADES": ("帮扶单位考核等次，由高到低", "逗号分隔，如 好,较好,一般,差"),
    "REGISTRY_ABSENCE_GRADE_CAP": (
        "全年无故缺勤天数对干部考核等次的限制：缺勤达到左侧天数时，最高只能评为右侧等次",
        "“天数:等次”逗号分隔，如 1:称职,2:基本称职,3:不称职",
    ),
    "REGISTRY_SUMMONS_GRADE_CAP": (
        "当年度受到约谈（针对个人）的干部，考核等次最高只能评为此等次；经容错纠错决定予以容错的约谈不计入；为空则不限制",
        "等次名称，如 称职"),
    "REGISTRY_MAX_UPLOAD_MB": ("上传佐证材料的单个文件大小上限（MB）", "整数，如 10"),
    "REGISTRY_LOGIN_MAX_FAILURES": (
        "同一账号从同一网络地址连续登录失败达到此次数后，每次再试须等待的时间逐次加倍（2秒、4秒、8秒……），不锁定账号；登录成功即清零",
        "整数，如 5"),
    "REGISTRY_LOGIN_MAX_DELAY_SECONDS": ("上述等待时间的上限（秒）", "整数，如 900"),
    "REGISTRY_LOGIN_ACCOUNT_FAILURES": (
        "同一账号在统计时段内从所有网络地址登录失败的总次数达到此数后，从未成功登录过的网络地址再试须等待（近30天登录成功过的地址不受影响）",
        "整数，如 100"),
    "REGISTRY_LOGIN_ACCOUNT_MAX_DELAY_SECONDS": ("上述等待时间的上限（秒）", "整数，如 60"),
    "REGISTRY_LOGIN_ADDRESS_FAILURES": (
        "同一网络地址在统计时段内对所有账号登录失败的总次数达到此数后，该地址暂停登录至时段结束（只计失败，不计成功登录；近30天从该地址登录成功过的账号不受影响）",
        "整数，如 50"),
    "REGISTRY_LOGIN_WINDOW_MINUTES": ("上述两项登录失败次数的统计时段（分钟）", "整数，如 15"),
    "REGISTRY_SESSION_IDLE_MINUTES": ("登录后连续此分钟数未操作，会话结束，须重新登录", "整数，如 30"),
    "REGISTRY_SESSION_MAX_HOURS": ("一次登录最长有效小时数，期满须重新登录", "整数，如 12"),
    "REGISTRY_SUPPORT_WINDOW_DAYS": ("近期帮扶的统计窗口（天）：已确认帮扶记录日期在此天数内的村计为近12个月有帮扶", "整数，如 365"),
    "REGISTRY_EXPORT_JOB_ROWS": ("导出超过此行数时转为后台任务（flask jobs work）生成文件，完成后在任务页下载", "整数，如 5000"),
    "REGISTRY_JOB_KEEP_DAYS": ("后台导入导出任务的文件（及导入错误标注文件）在任务完成后保留的天数，到期自动删除，任务记录保留", "整数，如 7"),
    "REGISTRY_SMTP_HOST": ("发送通知邮件的 SMTP 服务器地址（本单位自有邮件服务器）；为空时不发送任何邮件，通知只在站内显示", "主机名，如 smtp.example.gov.cn"),
    "REGISTRY_SMTP_PORT": ("SMTP 服务器端口", "整数，如 587（STARTTLS）、465（SSL）、25"),
    "REGISTRY_SMTP_TLS": ("与 SMTP 服务器的加密方式", "starttls、ssl 或 none"),
    "REGISTRY_SMTP_USER": ("SMTP 登录用户名；为空时不登录。密码在环境变量 REGISTRY_SMTP_PASSWORD 中设置，本页不显示", "如 registry@example.gov.cn"),
    "REGISTRY_SMTP_SENDER": ("通知邮件的发件人地址；为空时使用 SMTP 用户名", "如 帮扶力量登记系统 <registry@example.gov.cn>"),
    "REGISTRY_SMTP_TIMEOUT_SECONDS": ("连接 SMTP 服务器的超时时间（秒）", "整数，如 30"),
    "REGISTRY_SITE_URL": ("本系统对用户的访问地址，用于通知邮件中的链接；为空时邮件中只写页面路径", "如 https://bangfu.example.gov.cn"),
    "REGISTRY_EMAIL_RETRY_SECONDS": ("邮件发送失败后重试的基础间隔（秒），每次失败后间隔加倍（1倍、2倍、4倍……）", "整数，如 60"),
    "REGISTRY_EMAIL_MAX_ATTEMPTS": ("一封邮件最多尝试发送的次数，仍失败的标记为发送失败，在“通知邮件发送情况”页显示", "整数，如 6"),
    "REGISTRY_DIGEST_HOUR": ("每日汇总邮件的发送时间（北京时间，时），到点后的第一次发送时生成", "0—23 的整数，如 8"),
    "REGISTRY_CADRE_ACTIVATION_DAYS": ("驻村干部账号的一次性激活码自发放起的有效天数，过期须由开通单位重新发放", "整数，如 7"),
    "REGISTRY_PASSWORD_HASH_METHOD": ("密码哈希算法（werkzeug 写法），生产环境保持 scrypt", "如 scrypt"),
}


@dataclass
class SettingRow:
    name: str
    value: str
    default: str
    changed: bool
    meaning: str
    syntax: str


def show(value) -> str:
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return "；".join(f"缺勤{count}天及以上 → 最高“{grade}”" for count, grade in value)
    if isinstance(value, tuple):
        return "、".join(str(v) for v in value)
    return str(value)


def describe(name: str, default, value) -> SettingRow:
    meaning, syntax = MEANINGS.get(name, ("（暂无说明）", "与默认值同类型"))
    return SettingRow(name=name, value=show(value), default=show(default), changed=value != default,
                      meaning=meaning, syntax=syntax)
