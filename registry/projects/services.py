"""The rules of enterprise projects, in one place (the form, the CLI, the demo and the tests
call these functions).

- A project belongs to an enterprise (``Organization.kind == "enterprise"``). Other kinds
  give villages support records (funds, goods, services); an investment that the
  enterprise owns and runs — 万企兴万村, 湘商回归 — is what a project is.
- Who records: the enterprise's own unit accounts; region staff for an enterprise they see,
  in villages under their region (代为登记); administrators. Viewers and villages never.
- Villages: a unit names villages it is paired with or posts people to (the support
  records' filing rule, ``records.filers``); region staff villages under their region.
- Status moves only forward, one step at a time, by a dated progress entry:
  签约 → 在建 → 投产; 终止 from any of them, with a reason; nothing after 终止.
- Every progress entry is confirmed or disputed (with a reason) by each village it affects,
  and by no other: the confirmation rows are made for the affected villages only, and a
  village user can act only on the row of their own village.
- A closed year (``closing.rules``, kind ``projects``) does not change: no progress entry
  dated in it for an affected village under the close, no confirmation or dispute of an
  entry dated in it, no new project signed in it and no change to the figures (planned
  investment, kind, 湘商回归, signing date, villages) of a project signed in it. The year of
  a figure is the date of the entry that reports it (a project spanning years changes in
  its open years), and of the project's own figures its signing date. An entry or project
  touching several villages is frozen when any of them is covered. The name and the
  description are no figures and stay editable.
- Every change writes its audit event in the same transaction; a broken rule raises
  ``RuleViolation`` before anything is written.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select

from ..audit.services import record as audit
from ..audit.services import snapshot
from ..closing.rules import ensure_year_open_for_any
from ..core.parsing import (
    FORM_CONFIRM_HINT,
    check_amounts,
    check_text,
    parse_amount,
    parse_count,
    parse_date,
)
from ..core.review import check_version
from ..core.formatting import yuan
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.timeutil import utcnow
from ..extensions import db
from ..organizations.models import Organization
from ..records import evidence as files
from ..regions.models import Region
from .models import (
    PROJECT_KINDS,
    PROJECT_STATUSES,
    STATUS_MOVES,
    ZERO,
    Project,
    ProjectConfirmation,
    ProjectEvidence,
    ProjectProgress,
    ProjectVillage,
)

STALE = "该项目已被他人修改，请刷新页面后重新操作"
MAX_VILLAGES = 50
MAX_EVIDENCE_PER_ENTRY = 20
REASON_MAX = 500
STATUS_DATE = {"building": "started_on", "operating": "operating_on", "terminated": "terminated_on"}
FIELDS = {
    "organization_id": "企业",
    "name": "项目名称",
    "kind": "项目类型",
    "planned_investment": "计划投资",
    "signed_on": "签约日期",
    "villages": "涉及村",
    "description": "项目简介",
}


# -- who may do what -----------------------------------------------------------------------------

def may_record(user) -> bool:
    """Whether ``user``'s role records projects at all (the permission says the same)."""
    return user.role in ("admin", "region", "unit")


def may_manage(user, project: Project) -> bool:
    """Whether ``user`` may change ``project`` (already looked up in their scope)."""
    if user.role == "unit":
        return project.organization_id == user.organization_id
    return user.role in ("admin", "region")


def enterprise_condition(user):
    """SQL condition on Organization: the enterprises ``user`` may record projects for."""
    from ..core.scope import scope_filter

    base = Organization.kind == "enterprise"
    if user.role == "unit":
        return base & (Organization.id == user.organization_id)
    return base & scope_filter(Organization, user)


def may_register(user) -> bool:
    """Whether ``user`` registers projects (by the form or a file): for some enterprise."""
    return user.can("manage_projects") and bool(enterprises_for(user))


def enterprises_for(user) -> list[Organization]:
    if not may_record(user):
        return []
    return list(db.session.scalars(select(Organization).where(enterprise_condition(user)).order_by(Organization.name)))


def _village_condition(user, organization_id: int):
    """SQL condition on Region: the villages ``user`` may name for the enterprise's project."""
    if user.role == "admin":
        return Region.level == "village"
    if user.role == "region" and user.region is not None:
        return (Region.level == "village") & user.region.within(Region.code)
    if user.role == "unit":
        from ..records.filers import village_condition as filer_condition

        return filer_condition(organization_id)
    return None


def suggested_villages(user, organization_id: int | None, limit: int = 200) -> list[Region]:
    """The villages a unit is bound to (shown beside the form); nothing for region staff,
    who type the codes of villages under them."""
    if user.role != "unit" or organization_id is None:
        return []
    condition = _village_condition(user, organization_id)
    if condition is None:
        return []
    return list(db.session.scalars(select(Region).where(condition).order_by(Region.code).limit(limit)))


_CODE_SPLIT = re.compile(r"[\s,，、;；]+")


def parse_village_codes(raw) -> list[str]:
    """Codes from a text (comma, space or line separated) or a list, in order, once each."""
    if isinstance(raw, (list, tuple)):
        parts = [str(p) for p in raw]
    else:
        parts = _CODE_SPLIT.split(str(raw or ""))
    return list(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


def _check_villages(user, organization_id: int | None, raw, errors: Collector, keep: set[str] = frozenset()) -> list[str]:
    codes = parse_village_codes(raw)
    if not codes:
        errors.add("villages", "请填写项目涉及的村（12位区划代码）")
        return []
    if len(codes) > MAX_VILLAGES:
        errors.add("villages", f"一个项目最多涉及{MAX_VILLAGES}个村")
        return []
    bad = [c for c in codes if not (len(c) == 12 and c.isascii() and c.isdigit())]
    if bad:
        errors.add("villages", f"村代码应为12位数字：{'、'.join(bad[:5])}")
        return []
    if organization_id is None:
        return codes
    condition = _village_condition(user, organization_id)
    allowed = set() if condition is None else set(db.session.scalars(
        select(Region.code).where(condition, Region.code.in_(codes))))
    refused = [c for c in codes if c not in allowed and c not in keep]
    if refused:
        where = "本单位结对或选派的村" if user.role == "unit" else "本辖区的村"
        errors.add("villages", f"以下代码不是{where}：{'、'.join(refused[:5])}")
    return codes


# -- creating and editing ---------------------------------------------------------------------------

@dataclass
class ProjectData:
    name: object = ""
    kind: object = ""
    planned_investment: object = ""
    signed_on: object = ""
    villages: object = ""
    description: object = ""
    is_xiangshang: object = None  # None: as the enterprise's own 湘商回归 flag
    organization_id: object = None  # region staff and admins choose; a unit's is its own
    amount_confirmed: bool = False


def _organization(user, data: ProjectData, errors: Collector) -> Organization | None:
    raw = user.organization_id if user.role == "unit" else data.organization_id
    from ..core.parsing import to_id

    ident = to_id(raw)
    org = None if ident is None else db.session.scalar(
        select(Organization).where(Organization.id == ident, enterprise_condition(user)))
    if org is None:
        if user.role == "unit":
            errors.add("organization_id", "只有企业（万企兴万村、湘商回归）可以登记项目；本单位不是企业")
        else:
            errors.add("organization_id", "请选择本辖区可见的企业")
    return org


def check_project(user, data: ProjectData, confirm_hint: str = FORM_CONFIRM_HINT) -> dict:
    """The project rule (the form's and the import's): the clean values of a new project of
    ``data`` recorded by ``user``; or RuleViolation."""
    return _check(user, data, None, confirm_hint)


def _check(user, data: ProjectData, existing: Project | None, confirm_hint: str = FORM_CONFIRM_HINT) -> dict:
    errors = Collector()
    values: dict = {}
    org = existing.organization if existing is not None else _organization(user, data, errors)
    name = str(data.name or "").strip()
    if not name:
        errors.add("name", "请填写项目名称")
    elif len(name) > 200:
        errors.add("name", "项目名称最多200字")
    else:
        check_text(name, "name", "项目名称", errors)
    values["name"] = name
    kind = str(data.kind or "").strip()
    errors.check(kind in PROJECT_KINDS, "kind", "请选择项目类型")
    values["kind"] = kind
    values["planned_investment"] = parse_amount(data.planned_investment, "planned_investment", "计划投资", errors,
                                                required=True)
    check_amounts({"planned_investment": ("计划投资", values["planned_investment"])}, errors,
                  confirmed=data.amount_confirmed is True, hint=confirm_hint,
                  stored={"planned_investment": existing.planned_investment} if existing else None)
    values["signed_on"] = parse_date(data.signed_on, "signed_on", "签约日期", errors)
    if existing is not None and values["signed_on"] is not None and existing.started_on is not None \
            and values["signed_on"] > existing.started_on:
        errors.add("signed_on", "签约日期不能晚于开工日期")
    description = str(data.description or "").strip()
    errors.check(len(description) <= 2000, "description", "项目简介最多2000字")
    check_text(description, "description", "项目简介", errors, multiline=True)
    values["description"] = description
    keep = set()
    if existing is not None:  # a village with confirmations stays (its decisions stay)
        keep = set(db.session.scalars(select(ProjectConfirmation.village_code).where(
            ProjectConfirmation.project_id == existing.id)))
        keep |= set(existing.village_codes)
    codes = _check_villages(user, org.id if org is not None else None, data.villages, errors,
                            keep=keep if existing is not None else set())
    if existing is not None and codes:
        decided = set(db.session.scalars(select(ProjectConfirmation.village_code).where(
            ProjectConfirmation.project_id == existing.id)))
        dropped = sorted(decided - set(codes))
        if dropped:
            errors.add("villages", f"以下村已有进展确认记录，不能移出项目：{'、'.join(dropped)}")
    values["villages"] = codes
    flag = data.is_xiangshang
    values["is_xiangshang"] = (org.is_xiangshang if org is not None else False) if flag is None else bool(flag)
    errors.raise_if_any()
    _ensure_open(existing, values)
    values["organization"] = org
    return values


FIGURES = ("planned_investment", "kind", "is_xiangshang", "signed_on")


def _ensure_open(existing: Project | None, values: dict) -> None:
    """A project's own figures belong to the year it was signed: a new one signed in a
    closed year, or a change of the figures of one signed in (or moved into or out of) a
    closed year, is refused when a close covers any of its villages (old or new)."""
    codes = list(values["villages"])
    if existing is None:
        ensure_year_open_for_any(values["signed_on"].year, codes, "projects", "signed_on")
        return
    changed = any(getattr(existing, key) != values[key] for key in FIGURES) \
        or set(existing.village_codes) != set(codes)
    if not changed:
        return
    codes = list(dict.fromkeys([*existing.village_codes, *codes]))
    for year in sorted({existing.signed_on.year, values["signed_on"].year}):
        ensure_year_open_for_any(year, codes, "projects", "signed_on")


def _describe(project: Project) -> str:
    return f"{project.name}（{project.organization.name}，{project.kind_label}，{project.status_label}）"


def create_project(user, data: ProjectData, *, is_demo: bool = False, commit: bool = True) -> Project:
    if not may_record(user):
        raise RuleViolation("只有企业、行政区工作人员可以登记项目", "")
    values = _check(user, data, None)
    org = values.pop("organization")
    codes = values.pop("villages")
    project = Project(organization_id=org.id, lead_village_code=codes[0], status="signed",
                      created_by_id=getattr(user, "id", None), is_demo=is_demo, **values)
    db.session.add(project)
    db.session.flush()
    for code in codes:
        db.session.add(ProjectVillage(project_id=project.id, village_code=code))
    db.session.flush()
    audit("create", project, actor=user, after=snapshot(project) | {"villages": codes},
          summary=f"登记企业项目：{_describe(project)}，涉及{len(codes)}个村")
    if commit:
        db.session.commit()
    return project


def update_project(project: Project, user, data: ProjectData, version=None) -> Project:
    if not may_manage(user, project):
        raise RuleViolation("只有项目所属企业或行政区工作人员可以修改项目", "")
    if not project.is_open:
        raise RuleViolation("已终止的项目不能修改", "")
    check_version(project, version, STALE)
    values = _check(user, data, project)
    values.pop("organization")
    codes = values.pop("villages")
    before = snapshot(project) | {"villages": project.village_codes}
    for key, value in values.items():
        setattr(project, key, value)
    current = {v.village_code: v for v in project.villages}
    for code, link in current.items():
        if code not in codes:
            project.villages.remove(link)
            db.session.delete(link)
    for code in codes:
        if code not in current:
            project.villages.append(ProjectVillage(project_id=project.id, village_code=code))
    project.lead_village_code = codes[0]
    flush_or_refuse(STALE)
    audit("update", project, actor=user, before=before, after=snapshot(project) | {"villages": codes},
          summary=f"修改企业项目：{_describe(project)}")
    db.session.commit()
    return project


# -- progress ------------------------------------------------------------------------------------

@dataclass
class ProgressData:
    entry_date: object = ""
    status_to: object = ""  # "" keeps the status
    actual_investment: object = ""  # "" reports none
    local_jobs: object = ""
    note: object = ""
    end_reason: object = ""  # 终止原因, when status_to is terminated
    villages: list = field(default_factory=list)  # affected villages; empty: all of the project's
    amount_confirmed: bool = False


def may_move(project: Project, new_status: str) -> bool:
    return new_status in STATUS_MOVES.get(project.status, frozenset())


def _last_status_date(project: Project):
    dates = [d for d in (project.signed_on, project.started_on, project.operating_on) if d is not None]
    return max(dates) if dates else None


def _check_progress(project: Project, data: ProgressData) -> dict:
    errors = Collector()
    day = parse_date(data.entry_date, "entry_date", "进展日期", errors)
    if day is not None and day < project.signed_on:
        errors.add("entry_date", "进展日期不能早于签约日期")
        day = None
    status_to = str(data.status_to or "").strip() or None
    if status_to is not None:
        if status_to not in PROJECT_STATUSES:
            errors.add("status_to", "项目状态无效")
        elif not may_move(project, status_to):
            allowed = "、".join(PROJECT_STATUSES[s] for s in sorted(STATUS_MOVES[project.status])) or "无"
            errors.add("status_to", f"项目当前为“{project.status_label}”，不能改为“{PROJECT_STATUSES[status_to]}”"
                                    f"（可改为：{allowed}）")
        elif day is not None and (last := _last_status_date(project)) is not None and day < last:
            errors.add("entry_date", "状态变更日期不能早于上一个节点的日期")
    reason = str(data.end_reason or "").strip()
    if status_to == "terminated":
        if not reason:
            errors.add("end_reason", "终止项目须填写终止原因")
        elif len(reason) > REASON_MAX:
            errors.add("end_reason", f"终止原因最多{REASON_MAX}字")
        check_text(reason, "end_reason", "终止原因", errors, multiline=True)
    raw_amount = str(data.actual_investment if data.actual_investment is not None else "").strip()
    amount = parse_amount(raw_amount, "actual_investment", "实际到位投资", errors) if raw_amount else None
    if amount is not None:
        check_amounts({"actual_investment": ("实际到位投资", amount)}, errors, confirmed=data.amount_confirmed is True,
                      stored={"actual_investment": project.actual_investment})
    raw_jobs = str(data.local_jobs if data.local_jobs is not None else "").strip()
    jobs = parse_count(raw_jobs, "local_jobs", "带动当地就业人数", errors) if raw_jobs else None
    note = str(data.note or "").strip()
    errors.check(len(note) <= 2000, "note", "进展说明最多2000字")
    check_text(note, "note", "进展说明", errors, multiline=True)
    if status_to is None and amount is None and jobs is None and not note and not errors.errors:
        errors.add("note", "请填写进展：状态变更、实际到位投资、带动就业或进展说明至少一项")
    codes = parse_village_codes(data.villages) or list(project.village_codes)
    outside = [c for c in codes if c not in project.village_codes]
    if outside:
        errors.add("villages", f"以下村不在该项目涉及的村中：{'、'.join(outside[:5])}")
    errors.raise_if_any()
    ensure_year_open_for_any(day.year, codes, "projects", "entry_date")
    return {"entry_date": day, "status_to": status_to, "actual_investment": amount, "local_jobs": jobs,
            "note": note, "end_reason": reason or None, "villages": codes}


def record_progress(project: Project, user, data: ProgressData, uploads=(), version=None, *,
                    is_demo: bool = False, commit: bool = True) -> ProjectProgress:
    """A dated progress entry; with ``status_to`` a milestone that moves the status. Each
    affected village gets a confirmation to decide; the files are kept as evidence."""
    if not may_manage(user, project):
        raise RuleViolation("只有项目所属企业或行政区工作人员可以填报进展", "")
    if not project.is_open:
        raise RuleViolation("项目已终止，不能再填报进展", "")
    check_version(project, version, STALE)
    values = _check_progress(project, data)
    checked = files.check_uploads(uploads)
    if len(checked) > MAX_EVIDENCE_PER_ENTRY:
        raise RuleViolation({"files": f"每条进展最多上传{MAX_EVIDENCE_PER_ENTRY}个佐证文件"})
    before = snapshot(project)
    codes = values.pop("villages")
    reason = values.pop("end_reason")
    entry = ProjectProgress(project_id=project.id, status_from=project.status, created_by_id=getattr(user, "id", None),
                            is_demo=is_demo, **values)
    db.session.add(entry)
    if entry.status_to is not None:
        project.status = entry.status_to
        setattr(project, STATUS_DATE[entry.status_to], entry.entry_date)
        if entry.status_to == "terminated":
            project.end_reason = reason
    flush_or_refuse(STALE)
    latest = _is_latest(project, entry)
    if entry.actual_investment is not None and latest:
        project.actual_investment = entry.actual_investment
    if entry.local_jobs is not None and latest:
        project.local_jobs = entry.local_jobs
    flush_or_refuse(STALE)
    for code in codes:
        db.session.add(ProjectConfirmation(progress_id=entry.id, project_id=project.id, village_code=code))
    db.session.flush()
    stored: list[str] = []
    try:
        for upload in _unique(checked):
            name = files.store(upload)
            stored.append(name)
            item = ProjectEvidence(progress_id=entry.id, project_id=project.id, original_name=upload.original_name,
                                   stored_name=name, content_type=upload.content_type, size=upload.size,
                                   sha256=upload.sha256, uploaded_by_id=getattr(user, "id", None), uploaded_at=utcnow())
            db.session.add(item)
            db.session.flush()
            audit("evidence_add", item, actor=user, summary=f"上传项目进展佐证材料：{upload.original_name}")
        audit("create", entry, actor=user, after=snapshot(entry) | {"villages": codes},
              summary=f"填报项目进展：{project.name} {_entry_words(entry)}")
        if project_changed(before, project):
            audit("progress", project, actor=user, before=before,
                  summary=f"项目进展更新：{_describe(project)}")
        _tell_villages(project, entry, codes, user)
        if commit:
            db.session.commit()
    except Exception:
        db.session.rollback()
        files.discard(stored)
        raise
    return entry


def project_changed(before: dict, project: Project) -> bool:
    after = snapshot(project)
    return any(after.get(k) != before.get(k) for k in after if k not in ("updated_at", "version"))


def _unique(uploads):
    seen = set()
    for upload in uploads:
        if upload.sha256 not in seen:
            seen.add(upload.sha256)
            yield upload


def _is_latest(project: Project, entry: ProjectProgress) -> bool:
    """Whether ``entry`` (flushed) is dated on or after every other entry of the project."""
    db.session.flush()
    latest = db.session.scalar(select(func.max(ProjectProgress.entry_date)).where(
        ProjectProgress.project_id == project.id, ProjectProgress.id != entry.id))
    return latest is None or entry.entry_date >= latest


def _entry_words(entry: ProjectProgress) -> str:
    from ..core.formatting import date_cn, yuan

    parts = [date_cn(entry.entry_date)]
    if entry.status_to:
        parts.append(f"状态 {PROJECT_STATUSES[entry.status_from]}→{entry.status_to_label}")
    if entry.actual_investment is not None:
        parts.append(f"实际到位投资 {yuan(entry.actual_investment)}")
    if entry.local_jobs is not None:
        parts.append(f"带动当地就业 {entry.local_jobs} 人")
    return "，".join(parts)


def _tell_villages(project: Project, entry: ProjectProgress, codes: list[str], user) -> None:
    from ..notifications import link_for, notify
    from ..notifications.recipients import village_users_of

    told = [uid for ids in village_users_of(codes).values() for uid in ids]
    if told:
        notify("project_progress", told, title=f"企业项目进展待本村确认：{project.name}",
               body=_entry_words(entry), link=link_for("projects.detail", project_id=project.id), actor=user)


# -- the villages' decisions ------------------------------------------------------------------------

NOT_TOUCHED = "本村不涉及该项目进展，不能确认或提出异议"


def own_confirmation(entry: ProjectProgress, user) -> ProjectConfirmation:
    """The row of ``user``'s village for ``entry``; refused for a village the entry does not
    affect (a project that does not touch the village is a 404 before this)."""
    if user.role != "village" or not user.village_code:
        raise RuleViolation("项目进展由涉及的村确认", "")
    row = db.session.scalar(select(ProjectConfirmation).where(
        ProjectConfirmation.progress_id == entry.id, ProjectConfirmation.village_code == user.village_code))
    if row is None:
        raise RuleViolation(NOT_TOUCHED, "")
    return row


def _decide(entry: ProjectProgress, user, accept: bool, reason: str | None, version, commit: bool = True) -> ProjectConfirmation:
    row = own_confirmation(entry, user)
    if row.state != "pending":
        raise RuleViolation(f"本村已对该进展作出处理（{row.state_label}）", "")
    ensure_entry_open(entry)
    check_version(row, version, "该进展的确认状态已变化，请刷新页面")
    if not accept:
        reason = str(reason or "").strip()
        errors = Collector()
        if not reason:
            errors.add("reason", "提出异议须填写理由")
        elif len(reason) > REASON_MAX:
            errors.add("reason", f"异议理由最多{REASON_MAX}字")
        check_text(reason, "reason", "异议理由", errors, multiline=True)
        errors.raise_if_any()
    before = snapshot(row)
    row.state = "confirmed" if accept else "disputed"
    row.reason = None if accept else reason
    row.decided_by_id, row.decided_at = getattr(user, "id", None), utcnow()
    flush_or_refuse("该进展的确认状态已变化，请刷新页面")
    project = entry.project
    village = row.village.name if row.village else row.village_code
    if accept:
        audit("confirm", row, actor=user, before=before,
              summary=f"{village}确认项目进展：{project.name} {_entry_words(entry)}")
    else:
        audit("dispute", row, actor=user, before=before,
              summary=f"{village}对项目进展提出异议：{project.name} {_entry_words(entry)}；理由：{reason}")
        from ..notifications import link_for, notify
        from ..notifications.recipients import unit_users

        # the enterprise, and whoever recorded the entry or the project on its behalf (county staff)
        told = dict.fromkeys([*unit_users(project.organization_id), entry.created_by_id, project.created_by_id])
        notify("project_disputed", [uid for uid in told if uid is not None],
               title=f"项目进展被{village}提出异议：{project.name}",
               body=f"理由：{reason}", link=link_for("projects.detail", project_id=project.id), actor=user)
    _refresh_confirmed(project)
    if commit:
        db.session.commit()
    return row


def ensure_entry_open(entry: ProjectProgress) -> None:
    """An entry dated in a closed year is frozen, its confirmations too, when a close covers
    any village it affects (a village outside the close cannot confirm it either: the
    confirmed figure is the entry's, one for all its villages)."""
    codes = [c.village_code for c in entry.confirmations] or list(entry.project.village_codes)
    ensure_year_open_for_any(entry.entry_date.year, codes, "projects")


def confirm_progress(entry: ProjectProgress, user, version=None, *, commit: bool = True) -> ProjectConfirmation:
    return _decide(entry, user, True, None, version, commit)


def dispute_progress(entry: ProjectProgress, user, reason: str | None, version=None, *,
                     commit: bool = True) -> ProjectConfirmation:
    return _decide(entry, user, False, reason, version, commit)


def confirmed_investment(project_id: int) -> Decimal:
    """The actual investment of the latest entry reporting one that every affected village
    confirmed (0 when none is)."""
    open_rows = select(ProjectConfirmation.progress_id).where(
        ProjectConfirmation.project_id == project_id, ProjectConfirmation.state != "confirmed")
    value = db.session.scalar(
        select(ProjectProgress.actual_investment).where(
            ProjectProgress.project_id == project_id, ProjectProgress.actual_investment.is_not(None),
            ProjectProgress.id.not_in(open_rows))
        .order_by(ProjectProgress.entry_date.desc(), ProjectProgress.id.desc()).limit(1))
    return Decimal(value) if value is not None else ZERO


def _refresh_confirmed(project: Project) -> None:
    value = confirmed_investment(project.id)
    if project.confirmed_investment != value:
        before = snapshot(project)
        project.confirmed_investment = value
        flush_or_refuse(STALE)
        audit("update", project, before=before, summary=f"经村确认的实际到位投资更新为 {yuan(value)}：{project.name}")


# -- evidence --------------------------------------------------------------------------------------

def evidence_in(project: Project, entry_id: int, evidence_id: int) -> ProjectEvidence | None:
    return db.session.scalar(select(ProjectEvidence).where(
        ProjectEvidence.id == evidence_id, ProjectEvidence.progress_id == entry_id,
        ProjectEvidence.project_id == project.id))


def entry_of(project: Project, entry_id) -> ProjectProgress | None:
    from ..core.parsing import to_id

    ident = to_id(entry_id)
    if ident is None:
        return None
    return db.session.scalar(select(ProjectProgress).where(
        ProjectProgress.id == ident, ProjectProgress.project_id == project.id))
