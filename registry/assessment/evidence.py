"""What an assessor sees beside the grade: the year's days in the village, absences,
training, confirmed support from the sending unit and the village's results."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, select

from ..core.enums import RECORD_CATEGORIES, VILLAGE_ROLES
from ..duty.models import DutyMonth
from ..duty.services import YearSummary, year_summary
from ..extensions import db
from ..organizations.models import Organization
from ..people.models import Posting
from ..training import checks
from ..training.checks import PrePostingCheck, YearlyCheck

ZERO = Decimal("0.00")


def absence_cap(absences: int) -> str | None:
    """The best person grade allowed with ``absences`` unexcused absences in the year
    (``REGISTRY_ABSENCE_GRADE_CAP``: 1 → 称职, 2 → 基本称职, 3 or more → 不称职)."""
    best = None
    for threshold, grade in sorted(current_app.config["REGISTRY_ABSENCE_GRADE_CAP"]):
        if absences >= threshold:
            best = grade
    return best


def grade_allowed(grade: str, absences: int) -> bool:
    return _within(grade, absence_cap(absences))


def _within(grade: str, best: str | None) -> bool:
    """``grade`` is no better than ``best`` (None: anything goes)."""
    grades = list(current_app.config["REGISTRY_PERSON_GRADES"])
    if best is None or best not in grades or grade not in grades:
        return True
    return grades.index(grade) >= grades.index(best)


def _worse(a: str | None, b: str | None) -> str | None:
    """The lower of two caps (None: no cap)."""
    grades = list(current_app.config["REGISTRY_PERSON_GRADES"])
    if a is None or a not in grades:
        return b
    if b is None or b not in grades:
        return a
    return a if grades.index(a) >= grades.index(b) else b


def _tolerated(kind: str, ids) -> set[int]:
    """The ids of ``kind`` (summons, assessment) that a 容错 decision tolerated; none when
    the fault-tolerance feature is not installed."""
    try:
        from ..tolerance.effects import tolerated_ids
    except ImportError:
        return set()
    return tolerated_ids(kind, ids)


@dataclass
class GradeCap:
    """The best grade a person may get for a year, and why: unexcused absences
    (``REGISTRY_ABSENCE_GRADE_CAP``) and summons (约谈) about the person issued in the
    year (``REGISTRY_SUMMONS_GRADE_CAP``). A summons tolerated by a 容错纠错 decision does
    not count; a grade tolerated as a whole is capped by neither (``tolerated``)."""

    best: str | None
    absences: int
    summons: int  # summons of the year that count
    tolerated_summons: int  # summons of the year a 容错 decision took out
    grade_tolerated: bool  # the year's grade itself was tolerated: no cap

    def allows(self, grade: str) -> bool:
        return _within(grade, self.best)

    @property
    def by_absences(self) -> bool:
        return not self.grade_tolerated and bool(self.absences) and absence_cap(self.absences) is not None

    @property
    def by_summons(self) -> bool:
        return not self.grade_tolerated and bool(self.summons) and summons_cap() is not None

    def reasons(self, spaced: bool = False) -> list[str]:
        gap = " " if spaced else ""
        out = []
        if self.by_absences:
            out.append(f"全年无故缺勤{gap}{self.absences}{gap}天" if spaced else f"本年度无故缺勤{self.absences}天")
        if self.by_summons:
            out.append(f"全年受到约谈{gap}{self.summons}{gap}次" if spaced else f"本年度受到约谈{self.summons}次")
        return out

    @property
    def message(self) -> str:
        return f"{'、'.join(self.reasons())}，考核等次最高只能评为“{self.best}”"

    @property
    def tolerance_note(self) -> str:
        """What 容错 decisions changed, in words ('' when nothing)."""
        if self.grade_tolerated:
            return "该年度考核已予以容错，不受缺勤和约谈限制"
        if self.tolerated_summons:
            return f"本年度有{self.tolerated_summons}次约谈已予以容错，不计入考核"
        return ""


def summons_cap() -> str | None:
    return current_app.config.get("REGISTRY_SUMMONS_GRADE_CAP") or None


def grade_cap(posting_id: int, person_id: int, year: int, absences: int) -> GradeCap:
    """The cap on the grade of ``posting_id``'s person for ``year`` (see ``GradeCap``)."""
    from .models import Assessment, Incentive, subject_key

    summons = list(db.session.scalars(select(Incentive.id).where(
        Incentive.kind == "summons", Incentive.subject_kind == "person", Incentive.person_id == person_id,
        Incentive.issued_on.between(date(year, 1, 1), date(year, 12, 31)))))
    tolerated = _tolerated("summons", summons) if summons else set()
    graded = db.session.scalar(select(Assessment.id).where(
        Assessment.subject_key == subject_key("person", posting_id), Assessment.year == year))
    whole = graded is not None and graded in _tolerated("assessment", [graded])
    counting = len(summons) - len(tolerated)
    best = None
    if not whole:
        best = _worse(absence_cap(absences), summons_cap() if counting else None)
    return GradeCap(best=best, absences=absences, summons=counting, tolerated_summons=len(tolerated),
                    grade_tolerated=whole)


@dataclass
class SupportSummary:
    available: bool = True  # False when the support-record feature is not installed
    records: int = 0
    amount: Decimal = ZERO
    attracted: Decimal = ZERO
    in_kind: Decimal = ZERO
    villages: int = 0
    year: int | None = None  # the year the figures are of (their basis, with all three parts)
    by_category: list[tuple[str, int, Decimal]] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return self.amount + self.attracted + self.in_kind


def _support_model():
    try:
        from ..records.models import SupportRecord
    except ImportError:  # the support-record feature is optional for this page
        return None
    return SupportRecord


def confirmed_support(organization_id: int, year: int, village_code: str | None = None,
                      region=None) -> SupportSummary:
    """Confirmed support records of an organization in ``year`` — to one village, or to
    the villages of a region."""
    model = _support_model()
    if model is None:
        return SupportSummary(available=False)
    conditions = [
        model.organization_id == organization_id,
        model.status == "confirmed",
        model.record_date.between(date(year, 1, 1), date(year, 12, 31)),
    ]
    if village_code is not None:
        conditions.append(model.village_code == village_code)
    if region is not None:
        conditions.append(region.within(model.village_code))
    rows = db.session.execute(
        select(
            model.category, func.count(), func.coalesce(func.sum(model.amount), 0),
            func.coalesce(func.sum(model.amount_attracted), 0), func.coalesce(func.sum(model.amount_in_kind), 0),
        ).where(*conditions).group_by(model.category)
    ).all()
    summary = SupportSummary(year=year)
    for category, n, amount, attracted, in_kind in rows:
        amount, attracted, in_kind = Decimal(amount), Decimal(attracted), Decimal(in_kind)
        summary.records += n
        summary.amount += amount
        summary.attracted += attracted
        summary.in_kind += in_kind
        summary.by_category.append((RECORD_CATEGORIES.get(category, category), n, amount + attracted + in_kind))
    summary.by_category.sort(key=lambda row: row[2], reverse=True)
    if summary.records:
        summary.villages = db.session.scalar(select(func.count(func.distinct(model.village_code))).where(*conditions)) or 0
    return summary


@dataclass
class PersonEvidence:
    posting: Posting
    year: int
    duty: YearSummary
    best_grade: str | None
    cap: GradeCap
    pre_posting: PrePostingCheck
    yearly: YearlyCheck
    support: SupportSummary
    result: object | None  # VillageResult of the year
    previous_result: object | None

    @property
    def absences(self) -> int:
        return self.duty.absences

    @property
    def village_posting(self) -> bool:
        return self.posting.role in VILLAGE_ROLES


def person_evidence(posting: Posting, year: int) -> PersonEvidence:
    from ..results.models import VillageResult

    if posting.role in VILLAGE_ROLES:
        duty = year_summary(posting, year)
    else:  # a seconded cadre keeps no days-in-the-village record
        duty = YearSummary(year=year, months=[], days=0, leave_days=0, absences=0, short_months=0, missing_months=0)
    check = checks.posting_training_check(posting, year=year)
    results = {
        r.year: r
        for r in db.session.scalars(
            select(VillageResult).where(VillageResult.village_code == posting.region_code, VillageResult.year.in_([year, year - 1]))
        )
    }
    cap = grade_cap(posting.id, posting.person_id, year, duty.absences)
    return PersonEvidence(
        posting=posting, year=year, duty=duty, best_grade=cap.best, cap=cap,
        pre_posting=check.pre_posting, yearly=check.yearly,
        support=confirmed_support(posting.organization_id, year, village_code=posting.region_code),
        result=results.get(year), previous_result=results.get(year - 1),
    )


@dataclass
class PostingLine:
    posting: Posting
    days: int
    short_months: int
    absences: int
    months: int
    training_gap: bool


@dataclass
class OrganizationEvidence:
    organization: Organization
    year: int
    region_name: str
    postings: list[PostingLine]
    support: SupportSummary
    pairings: int

    @property
    def absences(self) -> int:
        return sum(p.absences for p in self.postings)

    @property
    def short_months(self) -> int:
        return sum(p.short_months for p in self.postings)

    @property
    def training_gaps(self) -> int:
        return sum(1 for p in self.postings if p.training_gap)


def organization_evidence(organization: Organization, year: int, region) -> OrganizationEvidence:
    """The organization's work in ``year`` inside the assessor's region (``region``)."""
    from ..pairings.models import Pairing

    postings = db.session.scalars(
        select(Posting)
        .where(Posting.organization_id == organization.id, region.within(Posting.region_code), checks.active_in_year(year))
        .order_by(Posting.role, Posting.start_date)
    ).all()
    ids = [p.id for p in postings]
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    if ids:
        for duty in db.session.scalars(
            select(DutyMonth).where(DutyMonth.posting_id.in_(ids), DutyMonth.month.between(date(year, 1, 1), date(year, 12, 1)))
        ):
            line = totals[duty.posting_id]
            line[0] += duty.days_in_village
            line[1] += int(duty.is_short)
            line[2] += duty.absences
            line[3] += 1
    training = checks.posting_training_checks(postings, year=year)
    pairings = db.session.scalar(
        select(func.count()).select_from(Pairing).where(
            Pairing.organization_id == organization.id, region.within(Pairing.region_code),
            Pairing.start_date <= date(year, 12, 31),
            or_(Pairing.end_date.is_(None), Pairing.end_date >= date(year, 1, 1)),
        )
    ) or 0
    return OrganizationEvidence(
        organization=organization, year=year, region_name=region.name,
        postings=[PostingLine(p, *totals[p.id], training_gap=training[p.id].gap) for p in postings],
        support=confirmed_support(organization.id, year, region=region), pairings=pairings,
    )
