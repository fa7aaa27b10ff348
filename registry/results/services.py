"""Filing and verifying a village's yearly results (帮扶实效).

Life: the village files (待核验) → township or county staff verify (已核验, locked) or
send back with a reason (已退回) → the village corrects and files again.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, func, select

from ..core.enums import RESULT_STATUSES
from ..core.formatting import yuan
from ..core.paging import Key, order_by
from ..core.parsing import FORM_CONFIRM_HINT, check_amounts, parse_amount, parse_count
from ..core.review import ReviewCycle
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..closing.rules import ensure_year_open
from ..core.timeutil import local_today
from ..extensions import db
from ..regions.models import Region
from .models import VillageResult

STALE_MESSAGE = "该村帮扶实效已被他人修改，请刷新页面后重新填写"
VERIFIER_LEVELS = ("township", "county")

FIELDS = {
    "collective_income": "村集体经济经营性收入",
    "per_capita_income": "脱贫人口人均纯收入",
    "monitored_households": "监测对象户数",
    "risk_removed_households": "已消除风险户数",
    "industry_projects": "产业项目数",
    "jobs_created": "带动就业人数",
    "practical_matters": "办实事件数",
}


def can_verify(user) -> bool:
    """Verification is the township's or the county's job (admins may too)."""
    if user.role == "admin":
        return True
    return user.role == "region" and user.region is not None and user.region.level in VERIFIER_LEVELS


def earliest_year() -> int:
    return current_app.config["REGISTRY_RECORD_EARLIEST_DATE"].year


# The words results have always used where they differ from the shared parser's.
AMOUNT_WORDING = {
    "not_amount": "{label}应为数字（元；也可写万元，如 5万）",
    "not_finite": "{label}应为数字（元）",
    "decimals": "{label}最多保留2位小数",
    "too_large": "{label}数额过大",
}
COUNT_WORDING = {"too_large": "{label}数值过大"}


def _amount(value, field: str, errors: Collector) -> Decimal | None:
    return parse_amount(value, field, FIELDS[field], errors, required=True, wording=AMOUNT_WORDING)


def _count(value, field: str, label: str, errors: Collector) -> int | None:
    return parse_count(value, field, label, errors, required=True, wording=COUNT_WORDING)


@dataclass
class ResultData:
    year: object
    collective_income: object
    per_capita_income: object
    monitored_households: object
    risk_removed_households: object
    industry_projects: object
    jobs_created: object
    practical_matters: object
    note: str | None = None
    amount_confirmed: bool = False  # large amounts confirmed (core.parsing.check_amounts)


AMOUNTS = ("collective_income", "per_capita_income")


def _check(village_code: str, data: ResultData, existing: VillageResult | None,
           confirm_hint: str = FORM_CONFIRM_HINT) -> dict:
    errors = Collector()
    year = _count(data.year, "year", "年度", errors)
    this_year = local_today().year
    if year is not None:
        if existing is not None and year != existing.year:
            errors.add("year", "已填报的帮扶实效不能更改年度")
        elif not earliest_year() <= year <= this_year:
            errors.add("year", f"年度应在{earliest_year()}年至{this_year}年之间")
        elif existing is None and db.session.scalar(
            select(VillageResult.id).where(VillageResult.village_code == village_code, VillageResult.year == year)
        ):
            errors.add("year", f"本村{year}年的帮扶实效已填报，请在原记录上修改")
    values = {"year": year}
    for name in AMOUNTS:
        values[name] = _amount(getattr(data, name), name, errors)
    check_amounts({name: (FIELDS[name], values[name]) for name in AMOUNTS}, errors, confirmed=data.amount_confirmed is True,
                  stored={name: getattr(existing, name) for name in AMOUNTS} if existing is not None else None,
                  hint=confirm_hint)
    for name in ("monitored_households", "risk_removed_households", "industry_projects", "jobs_created", "practical_matters"):
        values[name] = _count(getattr(data, name), name, FIELDS[name], errors)
    monitored, removed = values["monitored_households"], values["risk_removed_households"]
    if monitored is not None and removed is not None and removed > monitored:
        errors.add("risk_removed_households", f"已消除风险户数（{removed}）不能超过监测对象户数（{monitored}）")
    note = (data.note or "").strip() or None
    errors.check(note is None or len(note) <= 2000, "note", "说明最多2000字")
    errors.raise_if_any()
    ensure_year_open(year, village_code, "results", "year")
    values["note"] = note
    return values


def _describe(result: VillageResult) -> str:
    return (f"{result.village.name if result.village else result.village_code} {result.year}年：集体经营性收入{yuan(result.collective_income)}，"
            f"脱贫人口人均纯收入{yuan(result.per_capita_income)}，监测对象{result.monitored_households}户（消除风险{result.risk_removed_households}户）")


def _tell_returned(result: VillageResult, reason: str, user) -> None:
    """The filer and the village's accounts are told of a returned result."""
    from ..notifications import link_for, notify, recipients

    told = ([result.filed_by_id] if result.filed_by_id else []) + recipients.village_users(result.village_code)
    notify("result_returned", told, title=f"{result.year}年度帮扶实效被退回：{result.village.name}",
           body=f"退回原因：{reason}。请修改后重新填报。", link=link_for("results.detail", result_id=result.id), actor=user)


REVIEW = ReviewCycle(
    checked="verified", action="verify", verb="核验", noun="帮扶实效", title="帮扶实效",
    stale=STALE_MESSAGE, locked="已核验的帮扶实效已锁定，不能修改", refiled="退回后重新填报帮扶实效：",
    describe=_describe, stamp_return=False, may_decide=can_verify, not_allowed="帮扶实效由乡镇或县市区工作人员核验",
    frozen=lambda result: ensure_year_open(result.year, result.village_code, "results"),
    on_return=_tell_returned,
)


def check_result(village_code: str, data: ResultData, existing: VillageResult | None,
                 confirm_hint: str = FORM_CONFIRM_HINT) -> dict:
    """The results rule (the form's and the import's): the clean values of ``data`` for
    ``village_code``, as a new result or as a change to ``existing``; or RuleViolation."""
    return _check(village_code, data, existing, confirm_hint)


def file_result(village_code: str, data: ResultData, user, *, commit: bool = True) -> VillageResult:
    if db.session.get(Region, village_code) is None:
        raise RuleViolation("村不存在", "")
    return REVIEW.file(VillageResult(village_code=village_code, **_check(village_code, data, None)), user,
                       commit=commit)


def update_result(result: VillageResult, data: ResultData, user, version=None, *, commit: bool = True) -> VillageResult:
    """The village corrects its figures before verification; a returned result is filed again."""
    REVIEW.open_for_edit(result, version)
    return REVIEW.refile(result, _check(result.village_code, data, result), user, commit=commit)


def verify_result(result: VillageResult, user, version=None) -> VillageResult:
    return REVIEW.decide(result, True, None, user, version)


def return_result(result: VillageResult, reason: str | None, user, version=None) -> VillageResult:
    return REVIEW.decide(result, False, reason, user, version)


# -- queries: what the pages read --------------------------------------------------------------


def results_for(user, *, status: str = "", year: int | None = None) -> Select:
    """Village results ``user`` may see, filtered by status and year; latest year first."""
    stmt = scoped(select(VillageResult), VillageResult, user)
    if status in RESULT_STATUSES:
        stmt = stmt.where(VillageResult.status == status)
    if year:
        stmt = stmt.where(VillageResult.year == year)
    return stmt.order_by(*order_by(RESULT_ORDER))


# latest year first, by village (one result a village and year; the id makes the order total)
RESULT_ORDER = (Key(VillageResult.year, descending=True), Key(VillageResult.village_code), Key(VillageResult.id))


def result_status_counts(user) -> dict[str, int]:
    """{status: village results ``user`` may see in it}."""
    stmt = scoped(select(VillageResult.status, func.count()), VillageResult, user).group_by(VillageResult.status)
    return dict(db.session.execute(stmt).all())


def results_to_verify(user) -> Select:
    """Results in scope awaiting verification (待核验), earliest filed first."""
    return results_for(user, status="filed").order_by(None).order_by(VillageResult.filed_at)


def results_by_year(user, village_code: str | None = None) -> Select:
    """Results ``user`` may see (of one village, if given), latest year first."""
    stmt = scoped(select(VillageResult), VillageResult, user)
    if village_code is not None:
        stmt = stmt.where(VillageResult.village_code == village_code)
    return stmt.order_by(VillageResult.year.desc())
