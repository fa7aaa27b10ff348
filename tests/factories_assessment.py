"""Builders for training, days in the village, village results, assessments and
incentives (model level: tests of the rules go through the services or the pages)."""
from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal

from registry.extensions import db
from tests.factories import COUNTY, make_org, make_person, make_posting, make_village


def make_training(region_code: str = "430000000000", kind: str = "pre_posting", start: date | None = None, **kw):
    from registry.training.models import Training

    start = start or date(2024, 1, 1)
    training = Training(
        title=kw.pop("title", f"{start.year}年驻村干部培训"),
        organizer=kw.pop("organizer", "省乡村振兴局"),
        level=kw.pop("level", "provincial"),
        kind=kind,
        mode=kw.pop("mode", "onsite"),
        region_code=region_code,
        start_date=start,
        end_date=kw.pop("end", start),
        hours=Decimal(str(kw.pop("hours", 24))),
        **kw,
    )
    db.session.add(training)
    db.session.commit()
    return training


def attend(training, person, hours=None, passed: bool = True):
    from registry.training.models import Attendance

    attendance = Attendance(training_id=training.id, person_id=person.id, hours=Decimal(str(hours or training.hours)), passed=passed)
    db.session.add(attendance)
    db.session.commit()
    return attendance


def make_duty(posting, month: date, days: int = 22, absences: int = 0, status: str = "filed", **kw):
    from registry.duty.models import DutyMonth

    duty = DutyMonth(
        posting_id=posting.id,
        region_code=posting.region_code,
        organization_id=posting.organization_id,
        month=month.replace(day=1),
        month_days=kw.pop("month_days", calendar.monthrange(month.year, month.month)[1]),
        available_days=kw.pop("available_days", calendar.monthrange(month.year, month.month)[1]),
        days_in_village=days,
        leave_days=kw.pop("leave_days", 0),
        leave_approved_by=kw.pop("leave_approved_by", None),
        absences=absences,
        summary=kw.pop("summary", "走访农户，推进产业项目"),
        status=status,
        **kw,
    )
    db.session.add(duty)
    db.session.commit()
    return duty


def make_result(village_code: str, year: int = 2025, status: str = "filed", **kw):
    from registry.results.models import VillageResult

    result = VillageResult(
        village_code=village_code,
        year=year,
        collective_income=Decimal(str(kw.pop("collective_income", "120000.00"))),
        per_capita_income=Decimal(str(kw.pop("per_capita_income", "15800.50"))),
        monitored_households=kw.pop("monitored_households", 12),
        risk_removed_households=kw.pop("risk_removed_households", 8),
        industry_projects=kw.pop("industry_projects", 3),
        jobs_created=kw.pop("jobs_created", 25),
        practical_matters=kw.pop("practical_matters", 10),
        status=status,
        **kw,
    )
    db.session.add(result)
    db.session.commit()
    return result


def posted_secretary(county: str = COUNTY, n: int = 1, start: date | None = None, role: str = "first_secretary"):
    """A village, a backing unit, a person and the person's active posting to the village."""
    village = make_village(county, n)
    org = make_org()
    person = make_person(org)
    posting = make_posting(person, org, village.code, role=role, start=start or date(2024, 1, 1))
    return village, org, person, posting


def make_support(org, village_code: str, day: date, amount="50000.00", status: str = "confirmed", category: str = "industry", **kw):
    """A support record at model level (the records feature's own tests go through its services)."""
    from registry.records.models import SupportRecord

    record = SupportRecord(
        organization_id=org.id, village_code=village_code, category=category, title=kw.pop("title", "产业扶持资金"),
        description="", amount=Decimal(str(amount)), amount_attracted=Decimal(str(kw.pop("attracted", "0"))),
        amount_in_kind=Decimal(str(kw.pop("in_kind", "0"))), record_date=day, status=status, **kw,
    )
    db.session.add(record)
    db.session.commit()
    return record
