"""The demo data of care and fault tolerance (示例): resident cadres with care records and
some gaps, and a fault-tolerance case decided each way (the demo the dashboard tests build)."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from registry.extensions import db


def test_the_demo_has_care_records_with_gaps_and_cases_decided_each_way(app, db):
    from flask import current_app

    from registry import demo
    from registry.care.models import CareRecord
    from registry.dashboard.gaps import gap_counts
    from registry.regions.models import Region
    from registry.tolerance.effects import tolerated_ids
    from registry.tolerance.models import FaultToleranceCase
    from tests.conftest import built_once

    built_once("dashboard.demo", lambda: demo.generate(seed=7, scale=0.08, echo=lambda *_: None))
    kinds = dict(db.session.execute(select(CareRecord.kind, func.count()).group_by(CareRecord.kind)).all())
    assert {"insurance", "health_check"} <= set(kinds)
    assert db.session.scalar(select(func.count()).select_from(CareRecord).where(CareRecord.status == "cancelled")) == 1
    assert all(r.is_demo for r in db.session.scalars(select(CareRecord)))
    # the demo keeps the care rule: no period ends before it starts (a quarter over before
    # the posting began is not the cadre's)
    assert all(r.end_date is None or r.end_date >= r.start_date for r in db.session.scalars(select(CareRecord)))
    with current_app.test_request_context():
        counts = gap_counts(db.session.get(Region, "433101000000"), ["no_accident_insurance", "no_health_check"],
                            today=date.today())
    assert counts["no_accident_insurance"] > 0 and counts["no_health_check"] > 0
    statuses = dict(db.session.execute(select(FaultToleranceCase.status, func.count())
                                       .where(FaultToleranceCase.subject_kind == "summons")
                                       .group_by(FaultToleranceCase.status)).all())
    assert statuses == {"tolerated": 1, "not_tolerated": 1, "pending": 1}
    tolerated = db.session.scalar(select(FaultToleranceCase).where(FaultToleranceCase.status == "tolerated",
                                                                   FaultToleranceCase.subject_kind == "summons"))
    assert tolerated_ids("summons", [tolerated.subject_id]) == {tolerated.subject_id}
    # and one about a finding of 吉首市, tolerated by the province: it leaves the yearly figure
    from registry.inspections.figures import finding_counts

    about_finding = db.session.scalars(select(FaultToleranceCase).where(FaultToleranceCase.subject_kind == "finding")).all()
    assert [(c.status, c.organization_id, c.is_demo) for c in about_finding] == [("tolerated", None, True)]
    assert finding_counts("433101000000", about_finding[0].year)[2] == 1
