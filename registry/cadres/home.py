"""The cadre's home page (驻村干部首页): the current posting, this month's and last
month's days in the village with the button that files them, training and grades. Every
list goes through the cadre's scope (their own person), as any page would."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import raiseload

from ..assessment.models import Assessment
from ..assessment.services import person_assessments
from ..core.enums import VILLAGE_ROLES
from ..core.scope import scoped
from ..core.timeutil import local_today
from ..duty.models import DutyMonth
from ..duty.services import add_months, month_start, posting_days_in_month
from ..extensions import db
from ..people.models import Posting
from ..people.services import postings_of_person
from ..training import checks
from ..training.models import Attendance
from ..training.services import person_attendances


@dataclass
class MonthStatus:
    month: date
    duty: DutyMonth | None
    current: bool  # the month in progress

    @property
    def label(self) -> str:
        if self.duty is None:
            return "进行中，可随时填报" if self.current else "未填报"
        return self.duty.status_label


@dataclass
class CadreHome:
    person: object
    posting: Posting | None  # the active posting, if any
    village_posting: bool  # it is in a village (first secretary, work team): days are filed
    months: list[MonthStatus]  # this month and the one before, newest first
    postings: list[Posting]
    attendances: list[Attendance]
    training_check: object | None
    assessments: list[Assessment]
    care: object | None = None  # care.services.CareStatus: insurance, health check, allowances, leave


def _care_status(user, today: date):
    try:
        from ..care.services import care_status, person_care
    except ImportError:  # the care feature is not installed
        return None
    return care_status(person_care(user, user.person_id), user.person_id, today)


def cadre_home(user, today: date | None = None) -> CadreHome:
    today = today or local_today()
    person = user.person
    postings = postings_of_person(user, user.person_id)
    active = next((p for p in postings if p.is_active), None)
    village = active is not None and active.role in VILLAGE_ROLES
    months: list[MonthStatus] = []
    if village:
        this = month_start(today)
        wanted = [m for m in (this, add_months(this, -1)) if posting_days_in_month(active, m, until=today) > 0]
        found = {d.month: d for d in db.session.scalars(scoped(select(DutyMonth), DutyMonth, user).where(
            DutyMonth.posting_id == active.id, DutyMonth.month.in_(wanted)))}
        months = [MonthStatus(m, found.get(m), m == this) for m in wanted]
    check = checks.posting_training_checks([active], today=today).get(active.id) if active else None
    return CadreHome(person=person, posting=active, village_posting=village, months=months, postings=postings,
                     attendances=person_attendances(user, user.person_id)[:5], training_check=check,
                     # the grades alone (year and grade): not their postings, people and units
                     assessments=person_assessments(user, user.person_id, options=(raiseload("*"),)),
                     care=_care_status(user, today))
