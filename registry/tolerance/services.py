"""容错纠错: applying for fault tolerance about an earlier decision, and deciding it.

Rules (one home, used by the pages and any future import or API):
- a case is about one subject of a registered kind (``tolerance.subjects``): a summons
  (约谈) of a person, a person's yearly grade, or an inspection finding (督查问题, registered
  by ``inspections.tolerance``); a commendation, a summons of an organization and an
  organization's grade cannot be applied for (the mechanism is for cadres, and an
  organization's grade has no summons cap for a decision to lift);
- who applies: the kind's own rule where it has one (a finding: only the inspected party,
  never the inspectors); else the person themself (their cadre account), the unit the
  subject belongs to (its people, or itself), or region staff who see the subject;
  viewers and villages never;
- one live case per subject: none while another waits for its decision or after one was
  tolerated (a refused application may be made again, with new facts);
- who decides: region staff of the jurisdiction that made the original decision (issued
  the summons, gave the grade, inspected) or of one above it — never the applicant;
- a decision is 予以容错 or 不予容错, with its reason (required), the document number and
  the correction asked for (纠错); its effect is stated on the case as decided, and put into
  force where it applies (``tolerance.effects``: a tolerated summons no longer caps the
  grade of its year, a tolerated grade is capped by nothing, a tolerated finding no longer
  counts in the inspected region's yearly figure ``inspections.figures``);
- every step is an audit event in the same transaction, and those concerned are told.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select

from ..assessment.services import user_region
from ..audit.services import record, snapshot
from ..core.enums import TOLERANCE_GROUNDS, TOLERANCE_STATUSES, TOLERANCE_SUBJECTS
from ..core.paging import Key, order_by
from ..core.parsing import check_text
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import scoped
from ..core.timeutil import utcnow
from ..extensions import db
from .models import FaultToleranceCase, case_key
from .subjects import SUBJECTS, SubjectInfo, SubjectKind

STALE_MESSAGE = "该容错申请已被他人处理，请刷新页面后再试"
DECISIONS = {"tolerated": "予以容错", "not_tolerated": "不予容错"}


def may_apply(user, info: SubjectInfo, kind: SubjectKind | None = None, subject=None) -> bool:
    """The kind's own rule when it has one (a finding: the inspected party); else the person
    themself, the unit the subject belongs to, region staff (who already see the subject)
    and administrators."""
    if kind is not None and kind.applicants is not None:
        return kind.applicants(user, subject)
    if user.role == "cadre":
        return info.person_id is not None and info.person_id == user.person_id
    if user.role == "unit":
        return info.organization_id == user.organization_id
    return user.role in ("admin", "region")


def can_decide(user, case: FaultToleranceCase) -> bool:
    """Region staff of the deciding jurisdiction or above, who did not apply themself."""
    region = user_region(user)
    return (region is not None and region.contains(case.decider_region_code)
            and case.applicant_id != getattr(user, "id", None))


def live_case(kind: str, subject_id: int) -> FaultToleranceCase | None:
    """The case that blocks a new application: one waiting for its decision, or tolerated."""
    return db.session.scalar(select(FaultToleranceCase).where(
        FaultToleranceCase.subject_key == case_key(kind, subject_id),
        FaultToleranceCase.status.in_(("pending", "tolerated"))).limit(1))


@dataclass
class Application:
    grounds: str | None
    facts: str | None


def apply(kind: str, subject, data: Application, user) -> FaultToleranceCase:
    """A new case about ``subject`` (already found within the user's scope)."""
    subject_kind = SUBJECTS.get(kind)
    if subject_kind is None or not isinstance(subject, subject_kind.model):
        raise RuleViolation("不支持对该事项申请容错", "")
    info = subject_kind.info(subject)
    if not may_apply(user, info, subject_kind, subject):
        raise RuleViolation(subject_kind.applicants_text, "")
    refusal = subject_kind.refusal(subject)
    if refusal:
        raise RuleViolation(refusal, "")
    errors = Collector()
    if data.grounds not in TOLERANCE_GROUNDS:
        errors.add("grounds", "请选择容错情形")
    facts = (data.facts or "").strip()
    if not facts:
        errors.add("facts", "请填写申请事由（事情经过及适用容错的理由）")
    elif len(facts) > 2000:
        errors.add("facts", "申请事由最多2000字")
    else:
        check_text(facts, "facts", "申请事由", errors, multiline=True)
    existing = live_case(kind, subject.id)
    if existing is not None:
        errors.add("", f"该{subject_kind.label}已有{'待决定的容错申请' if existing.status == 'pending' else '予以容错的决定'}，不能重复申请")
    errors.raise_if_any()
    case = FaultToleranceCase(
        subject_kind=kind, subject_id=subject.id, subject_key=case_key(kind, subject.id),
        subject_title=info.title[:200], person_id=info.person_id, organization_id=info.organization_id,
        region_code=info.region_code, decider_region_code=info.decider_region_code, year=info.year,
        grounds=data.grounds, facts=facts, applicant_id=getattr(user, "id", None), applied_at=utcnow(),
        status="pending",
    )
    db.session.add(case)
    db.session.flush()
    record("tolerance_apply", case, summary=f"申请容错：{info.title[:120]}")
    _tell(case, f"容错申请待决定：{case.subject_name}", f"{info.title}。申请事由：{facts[:300]}",
          _decider_staff(case), user)
    db.session.commit()
    return case


@dataclass
class Decision:
    decision: str | None
    reason: str | None
    document_number: str | None = None
    correction: str | None = None
    version: object = None


def decide(case: FaultToleranceCase, data: Decision, user) -> FaultToleranceCase:
    """予以容错 or 不予容错, by the deciding jurisdiction (or above), never the applicant."""
    if not can_decide(user, case):
        if case.applicant_id == getattr(user, "id", None):
            raise RuleViolation("申请人不能对本人提出的容错申请作出决定", "")
        raise RuleViolation(f"只有{case.decider_region.name}或其上级可以作出容错决定", "")
    if case.status != "pending":
        raise RuleViolation(f"该申请已作出决定（{case.status_label}）", "")
    errors = Collector()
    if data.decision not in DECISIONS:
        errors.add("decision", "请选择决定（予以容错或不予容错）")
    reason = (data.reason or "").strip()
    if not reason:
        errors.add("reason", "请填写决定理由")
    elif len(reason) > 2000:
        errors.add("reason", "决定理由最多2000字")
    else:
        check_text(reason, "reason", "决定理由", errors, multiline=True)
    number = (data.document_number or "").strip() or None
    if number is not None:
        errors.check(len(number) <= 100, "document_number", "文号最多100字")
        check_text(number, "document_number", "文号", errors)
    correction = (data.correction or "").strip() or None
    if correction is not None:
        errors.check(len(correction) <= 2000, "correction", "纠错要求最多2000字")
        check_text(correction, "correction", "纠错要求", errors, multiline=True)
    if data.version not in (None, "") and str(data.version) != str(case.version):
        errors.add("", STALE_MESSAGE)
    errors.raise_if_any()
    subject = db.session.get(SUBJECTS[case.subject_kind].model, case.subject_id) if case.subject_kind in SUBJECTS else None
    if data.decision == "tolerated":
        effect = SUBJECTS[case.subject_kind].effect(subject) if subject is not None else "予以容错"
    else:
        effect = f"维持原{case.subject_label}，照常计入考核"
    before = snapshot(case)
    case.status, case.decision_reason, case.document_number, case.correction = data.decision, reason, number, correction
    case.effect, case.decided_by_id, case.decided_at = effect[:300], getattr(user, "id", None), utcnow()
    flush_or_refuse(STALE_MESSAGE)
    record("tolerance_decide", case, before=before,
           summary=f"{DECISIONS[data.decision]}：{case.subject_title[:100]}；{effect[:100]}")
    told = [case.applicant_id] + _concerned(case)
    if data.decision == "tolerated":
        told += _graders(case)
    _tell(case, f"容错决定：{case.subject_name}{DECISIONS[data.decision]}", f"{case.subject_title}。理由：{reason[:200]}。{effect}",
          told, user)
    db.session.commit()
    return case


# -- who is told ----------------------------------------------------------------------------------

def _decider_staff(case: FaultToleranceCase) -> list[int]:
    from ..notifications import recipients

    return recipients.region_staff(case.decider_region_code)


def _concerned(case: FaultToleranceCase) -> list[int]:
    from ..notifications import recipients

    if case.organization_id is None:  # a finding against a region: that region's office
        return recipients.region_staff(case.region_code)
    told = recipients.unit_users(case.organization_id)
    if case.person_id is not None:
        told += recipients.person_users(case.person_id)
    return told


def _graders(case: FaultToleranceCase) -> list[int]:
    """The staff who graded the person for the case's year (they may now re-grade)."""
    from ..assessment.models import Assessment
    from ..notifications import recipients

    if case.person_id is None:
        return []
    told: list[int] = []
    for code in db.session.scalars(select(Assessment.assessor_region_code).where(
            Assessment.person_id == case.person_id, Assessment.year == case.year)):
        told += recipients.region_staff(code)
    return told


def _tell(case: FaultToleranceCase, title: str, body: str, users, actor) -> None:
    from ..notifications import link_for, notify

    notify("fault_tolerance", [u for u in users if u is not None], title=title, body=body,
           link=link_for("tolerance.detail", tolerance_id=case.id), actor=actor)


# -- what the pages read ----------------------------------------------------------------------------

# newest first (ix_fault_tolerance_case_applied_id)
CASE_ORDER = (Key(FaultToleranceCase.applied_at, descending=True), Key(FaultToleranceCase.id, descending=True))


def cases_for(user, *, status: str = "", kind: str = "") -> Select:
    """The cases ``user`` may see, newest first, by status and subject kind."""
    stmt = scoped(select(FaultToleranceCase), FaultToleranceCase, user)
    if status in TOLERANCE_STATUSES:
        stmt = stmt.where(FaultToleranceCase.status == status)
    if kind in SUBJECTS or kind in TOLERANCE_SUBJECTS:
        stmt = stmt.where(FaultToleranceCase.subject_kind == kind)
    return stmt.order_by(*order_by(CASE_ORDER))


def cases_of_subject(user, kind: str, subject_id: int) -> list[FaultToleranceCase]:
    return list(db.session.scalars(scoped(select(FaultToleranceCase), FaultToleranceCase, user).where(
        FaultToleranceCase.subject_key == case_key(kind, subject_id)).order_by(FaultToleranceCase.id)))


def to_decide(user) -> Select:
    """Pending cases the user's jurisdiction decides (its own or below), oldest first."""
    region = user_region(user)
    stmt = scoped(select(FaultToleranceCase), FaultToleranceCase, user).where(FaultToleranceCase.status == "pending")
    if region is not None and user.role != "admin":
        stmt = stmt.where(region.within(FaultToleranceCase.decider_region_code))
    return stmt.order_by(FaultToleranceCase.applied_at)
