"""For each line of the gaps worklist, the action that closes the gap: the form that does
it, opened with what the line already knows (the village and role of a posting, the
village of a pairing, the person and posting of a training) and a ``next`` that brings
the user back to the list once it is saved. An action is offered only to a role that may
take it (``core.permissions``); where no form of the registry closes a gap, the line
says who closes it and links to the page where that happens.

Kind by kind:

- no_first_secretary: 选派第一书记 — choose the person, the village and the role chosen.
- no_backing_unit: 结对后盾单位 — choose the organization, a 驻村帮扶 pairing with the village.
- small_team: 选派工作队员 — choose the person, the village and the role chosen.
- no_support: nothing the region staff can file: the paired units file support records
  and the village confirms them (the village page shows both).
- no_pre_posting_training / no_yearly_training: 登记岗前培训 / 登记年度培训 — the courses
  that would count for that posting, then the course's attendance form with the person chosen.
- low_days: the days are the filer's to state; the posting's duty months, where the
  township verifies or returns a month for correction.
- overdue: only the village confirms; the record, and for township staff and above 催办
  (the worklist adds that button itself: ``chase``).
- no_accident_insurance / no_health_check: 登记保险 / 登记体检 — the care form of the person
  (the dispatching office records it: county for 县派, city for 市派, province for 省派).
- ending_no_successor: 选派接替人选 — the village, role and start date chosen; a first
  secretary's successor can only be posted once the incumbent's posting has ended (one
  active first secretary per village), so that line links to the posting instead.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import url_for

from ..core.permissions import role_can


@dataclass(frozen=True)
class Action:
    label: str
    url: str | None = None
    note: str = ""  # who closes the gap, where no form here does


def _choose_person(role: str | None = None, start: bool = False) -> Callable[[dict, str], str]:
    def url(item: dict, back: str) -> str:
        when = item.get("planned_end") if start else None
        return url_for("people.choose_person", region=item["code"], role=role or item["role"],
                       start=when.isoformat() if when else None, next=back)
    return url


def _arrange(which: str) -> Callable[[dict, str], str]:
    return lambda item, back: url_for("training.arrange", posting_id=item["posting_id"], which=which, next=back)


def _care(kind: str) -> Callable[[dict, str], str]:
    return lambda item, back: url_for("care.new", person_id=item["person_id"], kind=kind, next=back)


# kind: (label, permission, url of the form (item, back) -> str, note)
_FORMS: dict[str, tuple[str, str, Callable[[dict, str], str], str]] = {
    "no_first_secretary": ("选派第一书记", "manage_postings", _choose_person("first_secretary"), ""),
    "no_backing_unit": ("结对后盾单位", "manage_pairings",
                        lambda item, back: url_for("pairings.choose_organization", region=item["code"],
                                                   pairing_kind="resident", next=back), ""),
    "small_team": ("选派工作队员", "manage_postings", _choose_person("team_member"), ""),
    "no_pre_posting_training": ("登记岗前培训", "manage_trainings", _arrange("pre_posting"), ""),
    "no_yearly_training": ("登记年度培训", "manage_trainings", _arrange("yearly"), ""),
    "low_days": ("查看驻村纪实", "check_duty",
                 lambda item, back: url_for("duty.posting", posting_id=item["posting_id"]), ""),
    "overdue": ("查看记录", "work_gaps", lambda item, back: url_for("records.detail", record_id=item["record_id"]), ""),
    "ending_no_successor": ("选派接替人选", "manage_postings", _choose_person(start=True), ""),
    "no_accident_insurance": ("登记保险", "manage_care", _care("insurance"), ""),
    "no_health_check": ("登记体检", "manage_care", _care("health_check"), ""),
}

# Said once above a kind's lines: who closes the gap where no form of the registry does it
NOTES = {
    "no_support": "由结对单位填报帮扶记录、经村确认后消除。",
    "low_days": "在村天数由驻村干部本人或所在村据实填报，经乡镇核实后计入此处；待核实的月份见“驻村纪实”的待核实列表。",
    "overdue": "须由村确认或提出异议；点“查看记录”了解详情。",
    "no_accident_insurance": "由派出机关登记：县派干部由县级、市派由市级、省派和中央单位选派由省级登记。",
    "no_health_check": "由派出机关登记：县派干部由县级、市派由市级、省派和中央单位选派由省级登记。",
}


def gap_action(kind: str, item: dict, role: str | None, back: str) -> Action | None:
    """The action that closes the gap ``item`` (a line of ``gaps``) for a user of ``role``,
    returning to ``back``; None when the role may not take it or no form closes the gap
    (``NOTES`` says who does)."""
    if kind not in _FORMS:
        return None
    if kind == "ending_no_successor" and item.get("role") == "first_secretary":
        if not role_can(role, "manage_postings"):
            return None
        return Action("办理期满轮换", url_for("people.posting", posting_id=item["posting_id"]),
                      "第一书记须在原任结束后选派接任")
    label, permission, url, note = _FORMS[kind]
    if not role_can(role, permission):
        return None
    return Action(label, url(item, back), note)


__all__ = ["NOTES", "Action", "gap_action"]
