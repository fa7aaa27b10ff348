"""Indicators the registry computes from its own figures: a small registry of providers,
``code → Provider(label, unit, compute(region_code, year) → Figures)``.

A provider answers for one assessed region (a city or county) and the scheme's year, at
the moment it is asked; the scorecard line stores what it answered (the figures are then
frozen with the score). Each states what it counted in words (``Figures.basis``), so the
scorecard shows the numerator, the denominator and "as of when" beside the score.

Where the figures come from: coverage shares from the coverage summaries
(``dashboard.coverage.compute``, as the coverage page shows them), the confirmation rate
and overdue records from the support-record summaries, pre-posting training from the
training rule (``training.checks``), days in the village from the duty months, summons from
the incentives (``assessment``).

More providers are added with ``register(...)``. The inspection feature (督查) provides
``registry/inspections/figures.py: findings_rectified(region_code, year) -> (closed, total)``,
registered below. Summons and findings that a 容错 decision covers (``tolerance.effects``)
do not count.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import current_app
from sqlalchemy import func, select

from ..core.formatting import date_cn
from ..core.timeutil import local_today
from ..extensions import db
from ..regions.models import Region

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Figures:
    """What a provider counted: ``value`` is the indicator's value (a share in per cent, or
    a count), None when there was nothing to count (a share of zero)."""

    value: Decimal | None
    numerator: int | None
    denominator: int | None
    basis: str


@dataclass(frozen=True)
class Provider:
    code: str
    label: str
    unit: str  # "%" for a share, "条"/"次" for a count
    better: str  # higher / lower: the default direction offered for its scoring rule
    compute: Callable[[str, int], Figures]
    what: str  # what it measures, for the scheme page


PROVIDERS: dict[str, Provider] = {}


def register(code: str, label: str, unit: str, better: str, what: str):
    def decorator(fn: Callable[[str, int], Figures]):
        PROVIDERS[code] = Provider(code, label, unit, better, fn, what)
        return fn

    return decorator


def share(numerator: int, denominator: int) -> Decimal | None:
    """``numerator / denominator`` in per cent to four places; None without a denominator."""
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / Decimal(denominator)).quantize(PLACES, rounding=ROUND_HALF_UP)


def shared_figures(numerator: int, denominator: int, words: str) -> Figures:
    value = share(numerator, denominator)
    basis = f"{words}：{numerator} / {denominator}" + ("" if value is not None else "（无可计算的对象）")
    return Figures(value, numerator, denominator, basis)


def _region(code: str) -> Region:
    region = db.session.get(Region, code)
    if region is None:
        raise LookupError(code)
    return region


def _coverage(code: str, year: int):
    from ..dashboard.coverage import compute
    from ..dashboard.definitions import Filters

    return compute(_region(code), Filters(year)).total


# -- coverage (dashboard summaries) --------------------------------------------------------------

@register("first_secretary_share", "有驻村第一书记的村占比", "%", "higher",
          "评分时辖区内有在岗驻村第一书记的村数 ÷ 村数（覆盖率统计口径）")
def first_secretary_share(code: str, year: int) -> Figures:
    total = _coverage(code, year)
    return shared_figures(total.first_secretary, total.villages,
                          f"截至{date_cn(local_today())}有在岗第一书记的村 / 全部村")


@register("backing_unit_share", "有后盾单位的村占比", "%", "higher",
          "评分时辖区内有后盾单位（驻村帮扶结对或在岗驻村干部的派出单位）的村数 ÷ 村数")
def backing_unit_share(code: str, year: int) -> Figures:
    total = _coverage(code, year)
    return shared_figures(total.backing_unit, total.villages, f"截至{date_cn(local_today())}有后盾单位的村 / 全部村")


# -- support records ------------------------------------------------------------------------------

@register("confirmation_rate", "帮扶记录确认率", "%", "higher",
          "帮扶日期在考核年度内、已提交的帮扶记录中村已确认的占比（已确认 ÷ 已确认 + 待确认 + 有异议）")
def confirmation_rate(code: str, year: int) -> Figures:
    total = _coverage(code, year)
    decided = total.confirmed_count + total.pending + total.disputed
    return shared_figures(total.confirmed_count, decided, f"{year}年帮扶记录：村已确认 / 已提交（含待确认、有异议）")


@register("overdue_records", "逾期未确认的帮扶记录", "条", "lower",
          "评分时已提交超过确认时限（30天）仍未经村确认的帮扶记录条数")
def overdue_records(code: str, year: int) -> Figures:
    total = _coverage(code, year)
    days = current_app.config["REGISTRY_CONFIRMATION_OVERDUE_DAYS"]
    return Figures(Decimal(total.overdue), total.overdue, None,
                   f"截至{date_cn(local_today())}提交超过{days}天仍未确认的帮扶记录：{total.overdue}条")


# -- postings: training and days in the village -------------------------------------------------

@register("pre_posting_training", "岗前培训完成率", "%", "higher",
          "考核年度内开始的选派中，按时（开始前后90天内）参加并通过岗前培训的占比")
def pre_posting_training(code: str, year: int) -> Figures:
    from ..people.models import Posting
    from ..training.checks import pre_posting_trained_clause

    region = _region(code)
    started = select(func.count()).select_from(Posting).where(
        region.within(Posting.region_code), Posting.start_date.between(date(year, 1, 1), date(year, 12, 31)))
    total = db.session.scalar(started) or 0
    trained = db.session.scalar(started.where(pre_posting_trained_clause())) or 0
    return shared_figures(trained, total, f"{year}年开始的选派：已按时完成岗前培训 / 全部")


@register("duty_days", "驻村天数达标率", "%", "higher",
          "考核年度内已填报的驻村纪实中，在村天数达到规定（每月20天，首末月按比例）的月份占比")
def duty_days(code: str, year: int) -> Figures:
    from ..duty.models import DutyMonth

    region = _region(code)
    months = select(func.count()).select_from(DutyMonth).where(
        region.within(DutyMonth.region_code), DutyMonth.month.between(date(year, 1, 1), date(year, 12, 1)))
    total = db.session.scalar(months) or 0
    short = db.session.scalar(months.where(DutyMonth.short_clause())) or 0
    minimum = current_app.config["REGISTRY_MIN_DAYS_IN_VILLAGE"]
    return shared_figures(total - short, total, f"{year}年驻村纪实：在村天数达到{minimum}天的月份 / 已填报月份")


# -- summons (assessment) -------------------------------------------------------------------------

@register("summons", "被约谈次数", "次", "lower",
          "考核年度内对在本地区工作的干部或单位的约谈次数（表扬激励不计；予以容错的约谈不计）")
def summons(code: str, year: int) -> Figures:
    from ..assessment.models import Incentive
    from ..tolerance.effects import tolerated_ids

    region = _region(code)
    ids = db.session.scalars(select(Incentive.id).where(
        Incentive.kind == "summons", region.within(Incentive.subject_region_code),
        Incentive.issued_on.between(date(year, 1, 1), date(year, 12, 31)))).all()
    tolerated = len(tolerated_ids("summons", ids))
    count = len(ids) - tolerated
    spared = f"（另有{tolerated}次予以容错，不计）" if tolerated else ""
    return Figures(Decimal(count), count, None, f"{year}年约谈在本地区工作的干部或单位：{count}次{spared}")


# -- inspections (督查) -----------------------------------------------------------------------------

@register("findings_rectified", "督查发现问题整改销号率", "%", "higher",
          "考核年度内对本地区督查发现的问题中已销号的占比（予以容错的问题不计）")
def findings_rectified(code: str, year: int) -> Figures:
    from ..inspections.figures import finding_counts

    closed, total, tolerated = finding_counts(code, year)
    figures = shared_figures(closed, total, f"{year}年督查发现问题：已销号 / 全部")
    if tolerated:
        figures = replace(figures, basis=f"{figures.basis}（另有{tolerated}个问题予以容错，不计）")
    return figures


def choices() -> dict[str, str]:
    return {code: p.label for code, p in PROVIDERS.items()}
