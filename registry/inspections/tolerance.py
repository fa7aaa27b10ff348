"""An inspection finding (督查问题) as the subject of a fault-tolerance case (容错纠错).

Registered with ``tolerance.subjects`` from here (the views import this module), so that
the fault-tolerance feature never imports inspections:

- who applies: only the inspected party — the inspected region's own staff, or the inspected
  provincial department's unit accounts (``services.is_inspected_party``); never the
  inspectors, nor anyone above or beside;
- who decides: the inspecting jurisdiction or one above it (the case's
  ``decider_region_code`` is the finding's ``inspector_region_code``);
- the effect of 予以容错: the finding no longer counts against the inspected region in the
  yearly figure ``figures.findings_rectified`` (neither among all findings nor among those
  closed), which the 实绩考核 indicator of the same name reads. Its rectification goes on as
  before (the case may ask for a correction, 纠错). A provincial department is not scored by
  the yearly assessment of cities and counties, so for its finding the decision is recorded
  and shown, with no figure to change — the effect says so.
"""
from __future__ import annotations

from ..tolerance.subjects import SubjectInfo, SubjectKind, register
from .figures import KIND
from .models import Finding


def _info(finding: Finding) -> SubjectInfo:
    from ..notifications import link_for

    return SubjectInfo(
        title=(f"{finding.year}年{finding.inspector_region.name}督查问题：{finding.target_name}·"
               f"{finding.item_label}（{finding.description[:60]}）"),
        person_id=None, organization_id=finding.target_organization_id,
        region_code=finding.place_code, decider_region_code=finding.inspector_region_code, year=finding.year,
        url=link_for("inspections.finding", finding_id=finding.id),
    )


def _refusal(finding: Finding) -> str | None:
    return None


def _effect(finding: Finding) -> str:
    if finding.target_kind == "region":
        return (f"该问题不再计入{finding.target_name}{finding.year}年度实绩考核“督查发现问题整改销号率”"
                f"（问题总数和已销号数均不计）；整改照常进行")
    return (f"该问题认定为容错情形，记入{finding.target_name}{finding.year}年度督查记录；"
            f"省直部门不参加市县实绩考核，无分值变化；整改照常进行")


def _applicants(user, finding: Finding) -> bool:
    from .services import is_inspected_party

    return is_inspected_party(user, finding)


register(SubjectKind(KIND, "督查问题", Finding, _info, _refusal, _effect, applicants=_applicants,
                     applicants_text="只有被督查方（被督查地区的工作人员或被督查的省直部门）可以对督查问题申请容错"))
