"""Assessments (考核) and incentives (表扬激励、约谈).

Rules (DESIGN.md section 5):
- grades come from the settings (people ``REGISTRY_PERSON_GRADES``, organizations
  ``REGISTRY_ORG_GRADES``); one grade per subject and year;
- a person's unexcused absences in the year cap the grade (``REGISTRY_ABSENCE_GRADE_CAP``),
  and so does a summons about them issued in the year (``REGISTRY_SUMMONS_GRADE_CAP``)
  unless a 容错纠错 decision tolerated it (``evidence.grade_cap``);
- only region staff whose jurisdiction holds the subject assess it (a person: the
  posting's place; an organization: its home region or a place it helps);
- a re-grade is an edit with a reason, recorded in the audit trail;
- a summons (约谈) has a follow-up: 待整改 → 整改中 (with a note) → 已销号 (with a note).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError

from ..audit.services import record, snapshot
from ..core.enums import FOLLOW_UP_STATUSES, INCENTIVE_KINDS, INDIVIDUAL, INCENTIVE_LEVELS, SUBJECT_KINDS
from ..core.formatting import date_cn
from ..core.paging import Key, order_by
from ..core.queries import count, every
from ..core.rectification import RectificationCycle, pending_clause
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import in_scope, scoped
from ..closing.rules import ensure_year_open
from ..core.timeutil import local_today, utcnow
from ..dashboard.coverage import seen_whole
from ..dashboard.ungraded import ungraded, ungraded_count
from ..duty.services import absences_in_year
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Person, Posting
from ..regions.models import Region
from .evidence import grade_cap
from .models import Assessment, Incentive, subject_key

STALE_MESSAGE = "该记录已被他人修改，请刷新页面后重新填写"
PROVINCE = "430000000000"
LEVEL_RANK = {"province": 0, "city": 1, "county": 2, "township": 3, "village": 4}
INCENTIVE_LEVEL_OF = {"province": "provincial", "city": "city", "county": "county", "township": "township"}
INCENTIVE_LEVEL_RANK = {"provincial": 0, "city": 1, "county": 2, "township": 3}


def person_grades() -> tuple[str, ...]:
    return tuple(current_app.config["REGISTRY_PERSON_GRADES"])


def org_grades() -> tuple[str, ...]:
    return tuple(current_app.config["REGISTRY_ORG_GRADES"])


def earliest_year() -> int:
    return current_app.config["REGISTRY_RECORD_EARLIEST_DATE"].year


def user_region(user) -> Region | None:
    """The jurisdiction the user acts for (admins act for the province)."""
    if user.role == "admin":
        return db.session.get(Region, PROVINCE)
    if user.role == "region":
        return user.region
    return None


def can_assess_posting(user, posting: Posting) -> bool:
    region = user_region(user)
    return region is not None and region.contains(posting.region_code)


def can_act_on_organization(user, organization: Organization) -> bool:
    """Home region or a place it helps lies in the user's jurisdiction (the organization
    scope rule of region staff)."""
    if user.role == "admin":
        return True
    return user.role == "region" and in_scope(Organization, organization.id, user)


def _flush() -> None:
    flush_or_refuse(STALE_MESSAGE)


# -- assessment ----------------------------------------------------------------------------


@dataclass
class GradeData:
    year: object
    grade: str | None
    comment: str | None = None
    document_number: str | None = None
    change_reason: str | None = None
    version: object = None


def _year(value, errors: Collector) -> int | None:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        errors.add("year", "请选择考核年度")
        return None
    if not earliest_year() <= year <= local_today().year:
        errors.add("year", f"考核年度应在{earliest_year()}年至{local_today().year}年之间")
        return None
    return year


def _common(data: GradeData, grades: tuple[str, ...], errors: Collector) -> tuple[str | None, str | None, str | None]:
    if data.grade not in grades:
        errors.add("grade", f"请选择考核等次（{'、'.join(grades)}）")
    comment = (data.comment or "").strip() or None
    number = (data.document_number or "").strip() or None
    errors.check(comment is None or len(comment) <= 2000, "comment", "考核评语最多2000字")
    errors.check(number is None or len(number) <= 100, "document_number", "文号最多100字")
    return data.grade, comment, number


def _existing(key: str, year: int) -> Assessment | None:
    return db.session.scalar(select(Assessment).where(Assessment.subject_key == key, Assessment.year == year))


def _save(existing: Assessment | None, values: dict, data: GradeData, user, errors: Collector, summary: str) -> Assessment:
    change_reason = (data.change_reason or "").strip() or None
    if existing is not None:
        if not can_regrade(user, existing):
            errors.add("", f"{existing.subject_name}{existing.year}年度考核已由{existing.assessor_region.name}评定，不能重复评定")
        if not change_reason:
            errors.add("change_reason", "修改已评定的考核结果须填写修改原因")
        elif len(change_reason) > 500:
            errors.add("change_reason", "修改原因最多500字")
        if data.version not in (None, "") and str(data.version) != str(existing.version):
            errors.add("", STALE_MESSAGE)
    errors.raise_if_any()
    ensure_year_open(values["year"], values["region_code"], "assessment", "year")
    if existing is None:
        assessment = Assessment(**values, assessor_region_code=user_region(user).code,
                                assessed_by_id=getattr(user, "id", None), assessed_at=utcnow())
        db.session.add(assessment)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise RuleViolation("该年度考核刚刚已由他人评定，请刷新页面查看", "") from None
        record("create", assessment, summary=summary)
    else:
        assessment = existing
        before = snapshot(assessment)
        for key, value in values.items():
            setattr(assessment, key, value)
        assessment.change_reason = change_reason
        assessment.assessed_by_id, assessment.assessed_at = getattr(user, "id", None), utcnow()
        _flush()
        record("regrade", assessment, before=before,
               summary=f"{summary}（原为“{before['grade']}”，修改原因：{change_reason}）")
    db.session.commit()
    return assessment


def can_regrade(user, assessment: Assessment) -> bool:
    """The jurisdiction that graded (or one above it) may change the grade."""
    region = user_region(user)
    return region is not None and region.contains(assessment.assessor_region_code)


def assess_posting(posting: Posting, data: GradeData, user) -> Assessment:
    """Grade a posting's person for a year; re-grading needs a reason."""
    if not can_assess_posting(user, posting):
        raise RuleViolation("只能考核本辖区内的选派干部", "")
    errors = Collector()
    year = _year(data.year, errors)
    grade, comment, number = _common(data, person_grades(), errors)
    absences = 0
    existing = None
    if year is not None:
        if posting.start_date > date(year, 12, 31) or (posting.end_date is not None and posting.end_date < date(year, 1, 1)):
            errors.add("year", f"该选派{year}年不在岗，不能考核该年度")
        absences = absences_in_year(posting.id, year)
        cap = grade_cap(posting.id, posting.person_id, year, absences)
        if grade in person_grades() and not cap.allows(grade):
            errors.add("grade", cap.message)
        existing = _existing(subject_key("person", posting.id), year)
    if year is None:
        errors.raise_if_any()
    values = dict(
        year=year, subject_kind="person", subject_key=subject_key("person", posting.id), posting_id=posting.id,
        person_id=posting.person_id, organization_id=posting.organization_id, region_code=posting.region_code,
        grade=grade, comment=comment, document_number=number, absences=absences,
    )
    return _save(existing, values, data, user, errors,
                 f"{posting.person.name}（{posting.role_label}，{posting.region.name}）{year}年度考核：{grade}")


INDIVIDUAL_NOT_GRADED = "个人帮扶者不参加帮扶单位的年度考核；如帮扶成效突出，可予以表扬激励"


def assess_organization(organization: Organization, data: GradeData, user) -> Assessment:
    if not can_act_on_organization(user, organization):
        raise RuleViolation("只能考核本辖区内的帮扶单位", "")
    if organization.is_individual:  # the yearly grade (好/较好/一般/差) is a unit's
        raise RuleViolation(INDIVIDUAL_NOT_GRADED, "")
    errors = Collector()
    year = _year(data.year, errors)
    grade, comment, number = _common(data, org_grades(), errors)
    if year is None:
        errors.raise_if_any()
    existing = _existing(subject_key("organization", organization.id), year)
    region = user_region(user)
    values = dict(
        year=year, subject_kind="organization", subject_key=subject_key("organization", organization.id),
        posting_id=None, person_id=None, organization_id=organization.id,
        region_code=existing.region_code if existing is not None else region.code,
        grade=grade, comment=comment, document_number=number, absences=0,
    )
    return _save(existing, values, data, user, errors, f"{organization.name}{year}年度考核：{grade}")


# -- incentives ---------------------------------------------------------------------------


def allowed_levels(user) -> dict[str, str]:
    """A jurisdiction records commendations and summons at its own level and below."""
    region = user_region(user)
    if region is None:
        return {}
    own = INCENTIVE_LEVEL_RANK[INCENTIVE_LEVEL_OF[region.level]]
    return {k: v for k, v in INCENTIVE_LEVELS.items() if INCENTIVE_LEVEL_RANK[k] >= own}


@dataclass
class IncentiveData:
    kind: str
    issued_on: date | None
    level: str
    reason: str | None
    document_number: str | None = None


def _check_incentive(data: IncentiveData, user) -> dict:
    errors = Collector()
    if data.kind not in INCENTIVE_KINDS:
        errors.add("kind", "请选择类别（表扬激励或约谈）")
    if data.issued_on is None:
        errors.add("issued_on", "请填写日期")
    elif data.issued_on > local_today():
        errors.add("issued_on", "日期不能晚于今天")
    elif data.issued_on < current_app.config["REGISTRY_RECORD_EARLIEST_DATE"]:
        errors.add("issued_on", f"日期不能早于{date_cn(current_app.config['REGISTRY_RECORD_EARLIEST_DATE'])}")
    levels = allowed_levels(user)
    if data.level not in INCENTIVE_LEVELS:
        errors.add("level", "请选择层级")
    elif data.level not in levels:
        errors.add("level", f"只能登记{'、'.join(levels.values())}的表扬激励或约谈")
    reason = (data.reason or "").strip()
    if not reason:
        errors.add("reason", "请填写事由")
    elif len(reason) > 2000:
        errors.add("reason", "事由最多2000字")
    number = (data.document_number or "").strip() or None
    errors.check(number is None or len(number) <= 100, "document_number", "文号最多100字")
    errors.raise_if_any()
    return dict(kind=data.kind, issued_on=data.issued_on, level=data.level, reason=reason, document_number=number)


def _person_region(person: Person) -> str:
    active = db.session.scalar(
        select(Posting.region_code).where(Posting.person_id == person.id, Posting.is_active).limit(1)
    )
    return active or person.organization.region_code


def issue_to_person(person: Person, data: IncentiveData, user) -> Incentive:
    if user_region(user) is None or not (user.role == "admin" or in_scope(Person, person.id, user)):
        raise RuleViolation("只能对本辖区内的干部进行表扬激励或约谈", "")
    values = _check_incentive(data, user)
    incentive = Incentive(
        **values, subject_kind="person", person_id=person.id, organization_id=person.organization_id,
        region_code=user_region(user).code, subject_region_code=_person_region(person),
        follow_up="open" if values["kind"] == "summons" else None, issued_by_id=getattr(user, "id", None),
    )
    return _issue(incentive, person.name)


def issue_to_organization(organization: Organization, data: IncentiveData, user) -> Incentive:
    if user_region(user) is None or not can_act_on_organization(user, organization):
        raise RuleViolation("只能对本辖区内的帮扶单位进行表扬激励或约谈", "")
    values = _check_incentive(data, user)
    incentive = Incentive(
        **values, subject_kind="organization", person_id=None, organization_id=organization.id,
        region_code=user_region(user).code, subject_region_code=organization.region_code,
        follow_up="open" if values["kind"] == "summons" else None, issued_by_id=getattr(user, "id", None),
    )
    return _issue(incentive, organization.name)


def _tell_summons(incentive: Incentive, title: str, body: str, user) -> None:
    """A summons and each of its steps: the subject (the summoned unit, or the person's unit
    and the person's own account) and the issuer are told, all but who made the step."""
    if incentive.kind != "summons":
        return
    from ..notifications import link_for, notify, recipients

    told = recipients.unit_users(incentive.organization_id)
    if incentive.person_id is not None:
        told += recipients.person_users(incentive.person_id)
    if incentive.issued_by_id is not None:
        told.append(incentive.issued_by_id)
    notify("summons", told, title=title, body=body, link=link_for("assessment.incentive", incentive_id=incentive.id),
           actor=user)


def _issue(incentive: Incentive, name: str) -> Incentive:
    ensure_year_open(incentive.issued_on.year, incentive.subject_region_code, "incentives", "issued_on")
    db.session.add(incentive)
    db.session.flush()
    record("create", incentive, summary=f"{incentive.level_label}{incentive.kind_label}：{name}，{incentive.reason[:80]}")
    _tell_summons(incentive, f"{incentive.level_label}约谈：{name}",
                  f"约谈事由：{incentive.reason[:300]}。请按要求整改，并在系统中登记整改情况。",
                  incentive.issued_by_id)
    db.session.commit()
    return incentive


def can_close(user, incentive: Incentive) -> bool:
    """The issuing jurisdiction (or one above it) closes a summons (销号)."""
    region = user_region(user)
    return region is not None and region.contains(incentive.region_code)


def can_report(user, incentive: Incentive) -> bool:
    """The summoned unit reports its rectification; so may the issuing jurisdiction."""
    if user.role == "unit":
        return incentive.organization_id == user.organization_id
    return can_close(user, incentive)


# A summons' follow-up is the rectification cycle (core/rectification.py), as for an
# inspection finding; a commendation has none.
SUMMONS_FOLLOW_UP = RectificationCycle(
    noun="约谈", status="follow_up", may_report=can_report, may_close=can_close,
    report_refused="只有被约谈单位或发起约谈的部门可以登记整改情况",
    close_refused="只有发起约谈的部门或其上级可以销号",
    describe=lambda incentive: incentive.subject_name, stale=STALE_MESSAGE,
    applies=lambda incentive: incentive.kind == "summons", not_applicable=("只有约谈需要整改", "只有约谈需要销号"),
    tell=_tell_summons,
)


def start_rectification(incentive: Incentive, note: str | None, user, version=None) -> Incentive:
    """待整改 → 整改中, with what is being done."""
    return SUMMONS_FOLLOW_UP.rectify(incentive, note, user, version)


def close_summons(incentive: Incentive, note: str | None, user, version=None) -> Incentive:
    """整改中 → 已销号, with the closing note."""
    return SUMMONS_FOLLOW_UP.close(incentive, note, user, version)


# -- queries: what the pages read --------------------------------------------------------------


def assessment_of(kind: str, subject_id: int, year: int) -> Assessment | None:
    """A subject's grade for ``year``, whoever gave it (unscoped, as the rules check it)."""
    return _existing(subject_key(kind, subject_id), year)


def assessments_for(user, *, year: int, kind: str = "", grade: str = "") -> Select:
    """Grades of ``year`` that ``user`` may see, filtered by subject kind and grade; people first."""
    stmt = scoped(select(Assessment), Assessment, user).where(Assessment.year == year)
    if kind in SUBJECT_KINDS:
        stmt = stmt.where(Assessment.subject_kind == kind)
    if grade:
        stmt = stmt.where(Assessment.grade == grade)
    return stmt.order_by(*order_by(ASSESSMENT_ORDER))


# the lists' orders (their keyset pages' keys)
ASSESSMENT_ORDER = (Key(Assessment.subject_kind, descending=True), Key(Assessment.region_code), Key(Assessment.id))
UNGRADED_POSTING_ORDER = (Key(Posting.region_code), Key(Posting.role), Key(Posting.id))
UNGRADED_ORGANIZATION_ORDER = (Key(Organization.kind), Key(Organization.name), Key(Organization.id))
INCENTIVE_ORDER = (Key(Incentive.issued_on, descending=True), Key(Incentive.id, descending=True))


def grade_counts(user, year: int) -> dict[str, int]:
    """{grade: grades of ``year`` that ``user`` may see}."""
    stmt = (
        scoped(select(Assessment.grade, func.count()), Assessment, user)
        .where(Assessment.year == year)
        .group_by(Assessment.grade)
    )
    return dict(db.session.execute(stmt).all())


def ungraded_postings(user, year: int, role: str | None = None) -> Select:
    """Postings in scope active in ``year`` with no grade for it (of ``role``, if given), by place."""
    stmt = scoped(select(Posting), Posting, user).where(ungraded(year, role))
    return stmt.order_by(*order_by(UNGRADED_POSTING_ORDER))


def ungraded_total(user, year: int, role: str | None = None) -> int:
    """How many postings ``ungraded_postings(user, year, role)`` lists: for the staff of a
    province, city or county (who see its postings: ``dashboard.coverage.seen_whole``)
    from the summaries (``dashboard.ungraded.ungraded_count``), else by counting them."""
    area = seen_whole(user)
    if area is not None:
        return ungraded_count(area, year, role)
    return count(ungraded_postings(user, year, role))


def ungraded_organizations(user, year: int) -> Select:
    """Organizations in scope with no grade for ``year``, by kind and name (individual
    helpers are not graded: ``INDIVIDUAL_NOT_GRADED``)."""
    graded = select(Assessment.id).where(
        Assessment.subject_kind == "organization",
        Assessment.organization_id == Organization.id,
        Assessment.year == year,
    ).exists()
    stmt = scoped(select(Organization), Organization, user).where(~graded, Organization.kind != INDIVIDUAL)
    return stmt.order_by(*order_by(UNGRADED_ORGANIZATION_ORDER))


def person_assessments(user, person_id: int, *, except_year: int | None = None, options=()) -> list[Assessment]:
    """A person's grades that ``user`` may see (leaving out ``except_year``), latest year
    first. ``options``: loader options (a page that shows only the grades loads nothing
    else with them)."""
    stmt = scoped(select(Assessment), Assessment, user).where(Assessment.person_id == person_id).options(*options)
    if except_year is not None:
        stmt = stmt.where(Assessment.year != except_year)
    return every(stmt.order_by(Assessment.year.desc()))


def person_incentives(user, person_id: int) -> list[Incentive]:
    """A person's commendations and summons that ``user`` may see, latest first."""
    stmt = scoped(select(Incentive), Incentive, user).where(Incentive.person_id == person_id)
    return every(stmt.order_by(Incentive.issued_on.desc()))


def _pending() -> ColumnElement[bool]:
    """Condition on ``Incentive``: a summons not yet closed (待整改 or 整改中)."""
    return (Incentive.kind == "summons") & pending_clause(Incentive.follow_up)


# the follow-up filters of the incentives list and its export, by their names on the page
FOLLOW_UP_FILTERS = {"pending": "未销号", **FOLLOW_UP_STATUSES}


def incentives_for(user, *, kind: str = "", follow_up: str = "") -> Select:
    """Commendations and summons ``user`` may see, by kind and follow-up ("pending": not closed); latest first."""
    stmt = scoped(select(Incentive), Incentive, user)
    if kind in INCENTIVE_KINDS:
        stmt = stmt.where(Incentive.kind == kind)
    if follow_up == "pending":
        stmt = stmt.where(_pending())
    elif follow_up in FOLLOW_UP_STATUSES:
        stmt = stmt.where(Incentive.follow_up == follow_up)
    return stmt.order_by(*order_by(INCENTIVE_ORDER))


def pending_summons(user) -> Select:
    """Summons in scope not yet closed, earliest issued first."""
    return incentives_for(user, follow_up="pending").order_by(None).order_by(Incentive.issued_on)


def subjects_named(user, q: str, limit: int = 30) -> tuple[list[Person], list[Organization]]:
    """People and organizations in scope whose name contains ``q``, by name (none for an empty ``q``)."""
    if not q:
        return [], []
    people = scoped(select(Person), Person, user).where(Person.name.contains(q)).order_by(Person.name).limit(limit)
    organizations = (
        scoped(select(Organization), Organization, user)
        .where(Organization.name.contains(q))
        .order_by(Organization.name)
        .limit(limit)
    )
    return every(people), every(organizations)
