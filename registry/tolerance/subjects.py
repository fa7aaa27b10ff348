"""What a fault-tolerance case can be about: one ``SubjectKind`` per kind of earlier
decision, registered here by name. Summons (约谈) and yearly grades (年度考核) are
registered below; another feature adds its own kind with ``register(...)`` from its own
module (the inspections feature: its findings), and this package never imports it.

A kind says how to find its subject within the user's scope, what the case copies from it
(whom it is about, where, who made the original decision, which year), whether it may be
applied for at all, and what a 容错 decision does — the stated effect, which the rule that
reads it (``tolerance.effects``) puts into force.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SubjectInfo:
    title: str  # "2026年3月1日 县级约谈：张三（驻村天数不足）"
    person_id: int | None
    organization_id: int | None  # None: a subject of no organization (a finding against a region)
    region_code: str  # where the subject works
    decider_region_code: str  # who made the original decision
    year: int
    url: str


@dataclass(frozen=True)
class SubjectKind:
    kind: str
    label: str
    model: type
    info: Callable[[object], SubjectInfo]
    refusal: Callable[[object], str | None]  # why it cannot be applied for, or None
    effect: Callable[[object], str]  # what 予以容错 does, in words
    # who may apply, (user, subject) -> bool, with the refusal's words; None: the general rule
    # (``services.may_apply``: the person, their unit, region staff who see the subject)
    applicants: Callable[[object, object], bool] | None = None
    applicants_text: str = "只有当事干部本人、所在单位或相关行政区工作人员可以申请容错"


SUBJECTS: dict[str, SubjectKind] = {}


def _link(endpoint: str, **values) -> str:
    """A page's path, in a request or outside one (a CLI or an import applies too)."""
    from ..notifications import link_for

    return link_for(endpoint, **values)


def register(kind: SubjectKind) -> None:
    SUBJECTS[kind.kind] = kind


# -- summons ------------------------------------------------------------------------------------

def _summons_info(incentive) -> SubjectInfo:
    day = incentive.issued_on
    return SubjectInfo(
        title=f"{day.year}年{day.month}月{day.day}日 {incentive.level_label}约谈：{incentive.subject_name}（{incentive.reason[:60]}）",
        person_id=incentive.person_id, organization_id=incentive.organization_id,
        region_code=incentive.subject_region_code, decider_region_code=incentive.region_code, year=day.year,
        url=_link("assessment.incentive", incentive_id=incentive.id),
    )


def _summons_refusal(incentive) -> str | None:
    if incentive.kind != "summons":
        return "只有约谈可以申请容错，表扬激励不需要"
    if incentive.subject_kind != "person":  # an organization's grade has no summons cap to lift
        return "容错纠错适用于干部个人，对单位的约谈不适用"
    return None


def _summons_effect(incentive) -> str:
    return f"该约谈不再计入{incentive.issued_on.year}年度考核，不再限制考核等次"


# -- yearly grades ------------------------------------------------------------------------------

def _grade_info(assessment) -> SubjectInfo:
    return SubjectInfo(
        title=f"{assessment.year}年度考核：{assessment.subject_name}（{assessment.grade}）",
        person_id=assessment.person_id, organization_id=assessment.organization_id,
        region_code=assessment.region_code, decider_region_code=assessment.assessor_region_code,
        year=assessment.year, url=_link("assessment.detail", assessment_id=assessment.id),
    )


def _grade_refusal(assessment) -> str | None:
    return None if assessment.subject_kind == "person" else "单位的年度考核不适用容错纠错，请对相关约谈申请"


def _grade_effect(assessment) -> str:
    return (f"{assessment.year}年度考核等次不再受无故缺勤和约谈的限制，"
            f"由评定机关据此重新评定（原为“{assessment.grade}”）")


def _register_builtin() -> None:
    from ..assessment.models import Assessment, Incentive

    register(SubjectKind("summons", "约谈", Incentive, _summons_info, _summons_refusal, _summons_effect))
    register(SubjectKind("assessment", "年度考核", Assessment, _grade_info, _grade_refusal, _grade_effect))


_register_builtin()
