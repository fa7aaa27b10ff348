"""What each role may do (DESIGN.md section 2). Scope — *where* — is in ``core.scope``."""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user

_REGION_STAFF = {"admin", "region"}
_READERS = {"admin", "region", "viewer"}

PERMISSIONS: dict[str, set[str]] = {
    "manage_accounts": {"admin"},
    "manage_reference": {"admin"},
    "read_region": _READERS,
    "read_overdue": _READERS | {"village"},  # the overdue list: a village sees its own, to confirm them
    "work_gaps": _REGION_STAFF,  # act on the worklists (the gaps, the overdue records)
    # 催办 an overdue record, a missing duty month or an unverified result: region staff of a
    # township or above (chase.services.chase_level says at which level), administrators
    "chase": _REGION_STAFF,
    "read_audit": {"admin", "region", "viewer"},
    "verify_audit": {"admin"},  # the whole chain and its checkpoint, beyond any one region
    "manage_organizations": _REGION_STAFF,  # create any organization in the jurisdiction
    "edit_organization": _REGION_STAFF | {"unit"},  # a unit edits its own profile
    "manage_people": _REGION_STAFF | {"unit"},
    # a cadre's account (驻村干部), opened by whoever manages the person (cadres.services)
    "open_cadre_accounts": _REGION_STAFF | {"unit"},
    "manage_postings": _REGION_STAFF,
    "manage_pairings": _REGION_STAFF,
    "file_records": {"unit"},  # the filer's moves on a record: edit, submit, withdraw, correct, evidence
    # a new record: a unit its own, region staff on a unit's behalf (records.filers.filer_for says for whom)
    "new_records": {"unit", "region"},
    "confirm_records": {"village"},
    # the installable offline app (issue 15): kept pages, decisions queued on the device
    "offline_app": {"village", "cadre"},
    # enterprise projects (万企兴万村 / 湘商回归): the enterprise's own account, or region staff
    # for an enterprise in their scope (projects.services says which enterprises and villages)
    "manage_projects": _REGION_STAFF | {"unit"},
    "confirm_projects": {"village"},  # only a village a progress entry affects (projects.services)
    "manage_fund": _REGION_STAFF | {"unit"},  # money a charitable fund received
    "read_funds": _READERS | {"unit"},
    "manage_trainings": _REGION_STAFF,
    "file_duty": {"unit", "village", "cadre"},  # a cadre their own months (scope: their postings)
    # 驻村纪实 exported as the list shows it: whoever exports, and a cadre their own months
    "export_duty": _READERS | {"unit", "village", "cadre"},
    "check_duty": _REGION_STAFF,
    "file_results": {"village"},
    "verify_results": _REGION_STAFF,
    "assess": _REGION_STAFF,
    "incentive": _REGION_STAFF,
    "report_rectification": _REGION_STAFF | {"unit"},  # a summoned unit reports its 整改
    # inspections (督查): the province and cities plan, visit, record findings and close them
    # (inspections.services says which level and whose); the inspected party (region staff of
    # the inspected region, a department's unit) registers its rectification and its evidence
    "read_inspections": _READERS | {"unit"},
    "inspect": _REGION_STAFF,
    "rectify_findings": {"region", "unit"},
    "finding_evidence": _REGION_STAFF | {"unit"},
    "export": _READERS | {"unit", "village"},
    "api_token": _READERS | {"unit", "village"},
    # 实绩考核 of cities and counties: province staff define, score, review and publish
    # (scorecards.services says which of them may take each step)
    "assess_regions": {"region"},
    # care for frontline cadres: the dispatching office records (care.services.may_record
    # says which); the cadre reads their own, the unit its people's
    "read_care": _READERS | {"unit", "cadre"},
    "manage_care": _REGION_STAFF,
    # 容错纠错: the person, their unit or region staff apply; the deciding jurisdiction
    # decides (tolerance.services.can_decide)
    "read_tolerance": _READERS | {"unit", "cadre"},
    "apply_tolerance": _REGION_STAFF | {"unit", "cadre"},
    "decide_tolerance": _REGION_STAFF,
    # 监督: a fund or record followed from contribution to village to confirmation, with its trail
    "supervise": _READERS,
    "close_year": {"region"},  # county, city and province staff (the closing service checks the level)
    "reopen_year": {"region"},  # request, approve, close again (the closing service checks the level)
}


def role_can(role: str | None, permission: str) -> bool:
    return role in PERMISSIONS.get(permission, set())


def require(permission: str):
    """View decorator: 403 unless the current user's role has ``permission``."""

    def decorator(view):
        view._permission = permission

        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.can(permission):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator
