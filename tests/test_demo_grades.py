"""The demo's grades keep the service's rule: a person's yearly grade is no better than the cap
of the year (``assessment.evidence.grade_cap``: unexcused absences, and summons (约谈) of the
year not tolerated by a 容错纠错 decision, ``REGISTRY_SUMMONS_GRADE_CAP``)."""
from __future__ import annotations

from sqlalchemy import select


def test_every_demo_grade_is_within_the_cap_of_its_year(app, db):
    from registry import demo
    from registry.assessment.evidence import grade_cap
    from registry.assessment.models import Assessment, Incentive
    from tests.conftest import built_once

    built_once("dashboard.demo", lambda: demo.generate(seed=7, scale=0.08, echo=lambda *_: None))
    graded = db.session.scalars(select(Assessment).where(Assessment.subject_kind == "person")).all()
    assert graded
    over = []
    for a in graded:
        cap = grade_cap(a.posting_id, a.person_id, a.year, a.absences)
        if not cap.allows(a.grade):
            over.append(f"{a.person_id}/{a.year}: {a.grade} > {cap.best} ({cap.message})")
    assert not over, "\n".join(over)
    # the rule is exercised: some graded person was summoned in the graded year
    summoned = {(i.person_id, i.issued_on.year) for i in db.session.scalars(
        select(Incentive).where(Incentive.kind == "summons", Incentive.subject_kind == "person"))}
    assert any((a.person_id, a.year) in summoned for a in graded)
