"""Property: whatever sequence of changes the services make, and however the date moves
between them, every summary table equals a rebuild from the rows after every commit
(``tests/summaries.py`` says what "equals" means for rows that time has outdated).

A Hypothesis state machine drives the services the pages, imports and API use: village
flags (the village import), an organization's kind, postings and their end, pairings and
their end, support records through their whole life (filed, edited, submitted,
confirmed, disputed, withdrawn, corrected), duty months, courses and attendances,
village results, care records (accident insurance, health checks) and their cancelling,
a changed setting, and the clock moving forward (``time_machine``: the
whole application sees the new day, as after a real night), with or without the daily
refresh. A refused change (``RuleViolation``) is rolled back and the sequence goes on.

``make test`` runs a few sequences (the ``default`` profile in ``conftest.py``); CI runs
at least 200 on each database with ``HYPOTHESIS_PROFILE=ci``.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
import time_machine
from hypothesis import event, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from registry.core.rules import RuleViolation
from registry.core.timeutil import LOCAL_TZ, local_today
from registry.extensions import db
from tests.conftest import PASSWORD, built_once
from tests.factories import COUNTY, OTHER_COUNTY, PROVINCE, first_township
from tests.sheets import csv_bytes
from tests.summaries import differences

# Near a year's end, so that moving the date forward crosses into the next year.
START = datetime(2026, 12, 20, 10, 0, tzinfo=LOCAL_TZ)
KINDS = ("backing_unit", "enterprise", "charity", "other")
CATEGORIES = ("industry", "funds", "education")
SETTINGS = {
    "REGISTRY_MIN_TEAM_SIZE": (1, 2, 3),
    "REGISTRY_SUPPORT_WINDOW_DAYS": (90, 365),
    "REGISTRY_MIN_DAYS_IN_VILLAGE": (10, 20),
    "REGISTRY_YEARLY_TRAININGS": (1, 2),
    "REGISTRY_PRE_POSTING_TRAINING_DAYS": (90, 30),
    "REGISTRY_ENDING_SOON_DAYS": (90, 30),
}


@dataclass
class World:
    villages: list[str]  # two in one township, one in the next, one in another county
    townships: list[str]
    orgs: list[int]
    units: list[int]  # each organization's account
    village_users: list[int]
    people: list[int]
    admin: int


def _build_world() -> World:
    """Four villages, three organizations paired (对口帮扶) with both counties so each may
    file for every village, their accounts and four people: written in one commit (the
    sequences start from here, hundreds of times in CI)."""
    from registry.accounts.services import create_user
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.people.models import Person
    from registry.regions.models import Region
    from tests.factories import valid_credit_code, valid_id_number

    t1 = first_township(COUNTY)
    t2 = db.session.scalars(select(Region).where(Region.level == "township", Region.parent_code == COUNTY,
                                                 Region.code > t1.code).order_by(Region.code)).first()
    t3 = first_township(OTHER_COUNTY)
    villages = [Region(code=f"{t.code[:9]}{n:03d}", name=f"测试{n}村", level="village", parent_code=t.code)
                for n, t in ((1, t1), (2, t1), (3, t2), (4, t3))]
    orgs = [Organization(name=f"测试单位{n}", kind=kind, level="provincial", region_code=PROVINCE,
                         credit_code=valid_credit_code(900 + n))
            for n, kind in enumerate(("backing_unit", "enterprise", "charity"))]
    db.session.add_all([*villages, *orgs])
    db.session.flush()
    db.session.add_all([Pairing(organization_id=org.id, region_code=county, kind="paired", sector="education",
                                start_date=date(2023, 1, 1)) for org in orgs for county in (COUNTY, OTHER_COUNTY)])
    people = []
    for n in range(4):
        person = Person(name=f"测试干部{n}", organization_id=orgs[n % len(orgs)].id, gender="male")
        person.set_id_number(valid_id_number(900 + n))
        people.append(person)
    db.session.add_all(people)
    admin, _ = create_user("prop_admin", "admin", password=PASSWORD)
    units = [create_user(f"prop_unit{i}", "unit", password=PASSWORD, organization_id=org.id)[0]
             for i, org in enumerate(orgs)]
    village_users = [create_user(f"prop_village{i}", "village", password=PASSWORD, village_code=v.code)[0]
                     for i, v in enumerate(villages)]
    db.session.commit()
    return World(villages=[v.code for v in villages], townships=[t1.code, t2.code, t3.code],
                 orgs=[o.id for o in orgs], units=[u.id for u in units], village_users=[u.id for u in village_users],
                 people=[p.id for p in people], admin=admin.id)


def _pick(model, index: int, *where):
    rows = db.session.scalars(select(model).where(*where).order_by(model.id)).all()
    return rows[index % len(rows)] if rows else None


class Summaries(RuleBasedStateMachine):
    """One sequence of changes, from an empty registry of four villages."""

    app = None  # set by the test

    def __init__(self):
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.settings = {name: self.app.config[name] for name in SETTINGS}
        self.steps: list[str] = []
        self.made: set[str] = set()  # the kinds of rows made so far: rules that act on one wait for it

    @initialize()
    def build(self):
        self.world = built_once("summary-property.world", _build_world)
        self._check()

    def teardown(self):
        if os.environ.get("SHOW_STEPS"):  # to see what the sequences do: SHOW_STEPS=1 pytest -s
            print("\n".join(["--", *self.steps]))
        db.session.rollback()
        self.app.config.update(self.settings)
        self.traveller.stop()

    # -- helpers --------------------------------------------------------------------------

    def _user(self, user_id):
        from registry.accounts.models import User

        return db.session.get(User, user_id)

    @property
    def admin(self):
        return self._user(self.world.admin)

    def _do(self, label: str, change, makes: str | None = None):
        """Run one change through a service (one commit), then compare the summaries with
        a rebuild; a refusal is rolled back, noted, and compared all the same."""
        done = None
        try:
            done = change()
            db.session.commit()
            self.steps.append(label)
            if makes:
                self.made.add(makes)
            event(label.split(" ")[0])
        except RuleViolation as refused:
            db.session.rollback()
            self.steps.append(f"{label} refused: {refused.message}")
            event(label.split(" ")[0] + " refused")
        self._check()
        return done

    def _check_all_fresh(self) -> None:
        """After the daily refresh the pages read only summaries: every area row, and every
        filtered area row, holds today."""
        from flask import current_app

        from registry.dashboard.figures import area_settings, fresh_clause
        from registry.dashboard.models import AreaCut, AreaSummary

        today, settings = local_today(), area_settings(current_app.config)
        for model in (AreaSummary, AreaCut):
            stale = db.session.scalars(select(model.area).where(~fresh_clause(today.year, settings, today, model))).all()
            assert not stale, (model.__tablename__, stale, self.steps)
        # and the worklist reads its gaps by day from the rows (every area recomputed)
        from registry.dashboard import gap_days
        from registry.regions.models import Region

        assert gap_days.counts(db.session.get(Region, PROVINCE), today) is not None, self.steps
        db.session.rollback()

    def _check(self) -> None:
        found = differences()
        db.session.rollback()
        assert not found, "\n".join(["after:", *self.steps, "differences:", *found])

    def _record_data(self, village: str, category: str, amounts: tuple[int, int, int], days_ago: int) -> dict:
        return {"village_code": village, "category": category, "title": "帮扶记录", "description": "",
                "amount": str(amounts[0]), "amount_attracted": str(amounts[1]), "amount_in_kind": str(amounts[2]),
                "households": "3", "persons": "9", "jobs": "1",
                "record_date": (local_today() - timedelta(days=days_ago)).isoformat()}

    # -- the changes ----------------------------------------------------------------------

    amounts = st.tuples(st.integers(0, 50_000), st.integers(0, 3) .map(lambda n: n * 1000), st.sampled_from((0, 1234)))

    @rule(org=st.integers(0, 2), village=st.integers(0, 3), category=st.sampled_from(CATEGORIES), amounts=amounts,
          days_ago=st.integers(0, 500), then=st.sampled_from(("draft", "submit", "confirm", "dispute")))
    def file_record(self, org, village, category, amounts, days_ago, then):
        """A unit files a record; the village may confirm or dispute it at once."""
        from registry.records.services import confirm_record, create_record, dispute_record

        unit = self._user(self.world.units[org])
        village_user = self._user(self.world.village_users[village])
        data = self._record_data(self.world.villages[village], category, amounts, days_ago)
        record = self._do(f"file record {data}", lambda: create_record(unit, data, submit=then != "draft"), "record")
        if record is not None and then == "confirm":
            self._do(f"confirm record {record.id}", lambda: confirm_record(record, village_user))
        elif record is not None and then == "dispute":
            self._do(f"dispute record {record.id}", lambda: dispute_record(record, village_user, "金额不符"))

    @precondition(lambda self: "record" in self.made)
    @rule(index=st.integers(0, 20), actions=st.lists(st.integers(0, 5), min_size=1, max_size=3),
          category=st.sampled_from(CATEGORIES), amounts=amounts, days_ago=st.integers(0, 500),
          village=st.integers(0, 3))
    def act_on_record(self, index, actions, category, amounts, days_ago, village):
        """Moves open to a record in its state, one after the other (the filer's or the village's)."""
        from registry.records import services
        from registry.records.models import SupportRecord
        from registry.records.rules import move_open

        record = _pick(SupportRecord, index, SupportRecord.status.in_(("draft", "submitted", "disputed", "confirmed")))
        for action in actions:
            if record is None or record.status in ("withdrawn", "superseded"):
                return
            unit = self._user(self.world.units[self.world.orgs.index(record.organization_id)])
            village_user = self._user(self.world.village_users[self.world.villages.index(record.village_code)])
            moves = [name for name in ("submit", "confirm", "dispute", "withdraw", "edit", "correct")
                     if move_open(record.status, name)]
            name = moves[action % len(moves)]
            # an edit may move a draft to another village; a correction keeps the village
            data = self._record_data(self.world.villages[village] if name == "edit" else record.village_code,
                                     category, amounts, days_ago)
            change = {
                "submit": lambda: services.submit_record(record, unit),
                "confirm": lambda: services.confirm_record(record, village_user),
                "dispute": lambda: services.dispute_record(record, village_user, "金额不符"),
                "withdraw": lambda: services.withdraw_record(record, unit),
                "edit": lambda: services.update_record(record, unit, data, record.version, submit=days_ago % 2 == 0),
                "correct": lambda: services.start_correction(record, unit, data, submit=True),
            }[name]
            label = f"{name} record {record.id} ({record.status}) {data if name in ('edit', 'correct') else ''}"
            made = self._do(label, change)
            if name == "correct" and made is not None:
                record = made  # the correction goes on: the village confirms or disputes it next

    @rule(villages=st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.booleans(), st.booleans()),
                            min_size=1, max_size=3))
    def import_village_flags(self, villages):
        from registry.regions.models import Region
        from registry.regions.services import import_villages

        rows = [("code", "name", "township_code", "is_poor", "is_key", "is_relocation")]
        for i, poor, key, relocation in {v[0]: v for v in villages}.values():
            village = db.session.get(Region, self.world.villages[i])
            rows.append((village.code, village.name, village.parent_code,
                         *("是" if flag else "否" for flag in (poor, key, relocation))))

        def change():
            result = import_villages(io.BytesIO(csv_bytes(rows)), "villages.csv")
            assert result.ok, result.errors

        self._do(f"import village flags {rows[1:]}", change)

    @rule(org=st.integers(0, 2), kind=st.sampled_from(KINDS))
    def change_organization_kind(self, org, kind):
        from registry.organizations.models import Organization
        from registry.organizations.services import FIELDS, update_organization

        organization = db.session.get(Organization, self.world.orgs[org])
        values = {name: getattr(organization, name) for name in FIELDS}
        values["kind"] = kind
        self._do(f"organization {organization.id} kind {organization.kind} -> {kind}",
                 lambda: update_organization(organization, values, version=organization.version, actor=self.admin))

    @rule(person=st.integers(0, 3), place=st.integers(0, 5), role=st.sampled_from(
        ("first_secretary", "team_leader", "team_member", "seconded_cadre")), days_ago=st.integers(-30, 700))
    def post_person(self, person, place, role, days_ago):
        from registry.people.models import Person
        from registry.people.postings import create_posting

        places = [*self.world.villages, self.world.townships[0], COUNTY]
        values = {"region_code": places[place], "role": role, "dispatch_level": "provincial",
                  "post_held": "副县长" if role == "seconded_cadre" else None,
                  "start_date": local_today() - timedelta(days=days_ago)}
        who = db.session.get(Person, self.world.people[person])
        self._do(f"post {who.id} {values}", lambda: create_posting(who, values, actor=self.admin), "posting")

    @precondition(lambda self: "posting" in self.made)
    @rule(index=st.integers(0, 10), days_ago=st.integers(0, 400))
    def end_posting(self, index, days_ago):
        from registry.people.models import Posting
        from registry.people.postings import end_posting

        posting = _pick(Posting, index, Posting.is_active)
        if posting is None:
            return
        end = max(posting.start_date, local_today() - timedelta(days=days_ago))
        self._do(f"end posting {posting.id} on {end}",
                 lambda: end_posting(posting, end_date=end, end_reason="term_completed", end_note=None,
                                     version=posting.version, actor=self.admin))

    @rule(org=st.integers(0, 2), village=st.integers(0, 3), kind=st.sampled_from(("resident", "enterprise_village")),
          starts_in=st.integers(-500, 60), length=st.one_of(st.none(), st.integers(0, 400)))
    def pair(self, org, village, kind, starts_in, length):
        from registry.organizations.models import Organization
        from registry.pairings.services import create_pairing

        start = local_today() + timedelta(days=starts_in)
        values = {"region_code": self.world.villages[village], "kind": kind, "start_date": start,
                  "end_date": start + timedelta(days=length) if length is not None else None}
        organization = db.session.get(Organization, self.world.orgs[org])
        self._do(f"pair {organization.id} {values}", lambda: create_pairing(organization, values, actor=self.admin),
                 "pairing")

    @precondition(lambda self: "pairing" in self.made)
    @rule(index=st.integers(0, 10), days_ago=st.integers(0, 300))
    def end_pairing(self, index, days_ago):
        from registry.pairings.models import Pairing
        from registry.pairings.services import end_pairing

        pairing = _pick(Pairing, index, Pairing.kind != "paired")
        if pairing is None:
            return
        end = max(pairing.start_date, local_today() - timedelta(days=days_ago))
        self._do(f"end pairing {pairing.id} on {end}",
                 lambda: end_pairing(pairing, end_date=end, note=None, version=pairing.version, actor=self.admin))

    @precondition(lambda self: "posting" in self.made)
    @rule(index=st.integers(0, 10), months_ago=st.integers(0, 14), days=st.integers(0, 31))
    def file_duty_month(self, index, months_ago, days):
        from registry.duty.models import DutyMonth
        from registry.duty.services import DutyData, add_months, file_month, month_start, update_month
        from registry.people.models import Posting

        posting = _pick(Posting, index)
        if posting is None:
            return
        month = add_months(month_start(local_today()), -months_ago)
        data = DutyData(month=month, days_in_village=days, leave_days=0, leave_approved_by=None, absences=0,
                        summary="走访农户")
        existing = db.session.scalar(select(DutyMonth).where(DutyMonth.posting_id == posting.id,
                                                             DutyMonth.month == month))
        if existing is None:
            change = lambda: file_month(posting, data, self.admin)  # noqa: E731
        else:
            change = lambda: update_month(existing, data, self.admin, existing.version)  # noqa: E731
        self._do(f"duty month {posting.id} {month} {days} days", change)

    @rule(days_ago=st.integers(-20, 500))
    def create_course(self, days_ago):
        from registry.training.services import TrainingData, create_training

        start = local_today() - timedelta(days=days_ago)
        data = TrainingData(title="轮训", organizer="省乡村振兴局", level="provincial", kind="rotation", mode="onsite",
                            region_code=PROVINCE, start_date=start, end_date=start, hours=8)
        self._do(f"course on {start}", lambda: create_training(data, self.admin), "course")

    @rule(days_ago=st.integers(-20, 700))
    def create_pre_posting_course(self, days_ago):
        from registry.training.services import TrainingData, create_training

        start = local_today() - timedelta(days=days_ago)
        data = TrainingData(title="岗前培训", organizer="省乡村振兴局", level="provincial", kind="pre_posting",
                            mode="onsite", region_code=PROVINCE, start_date=start, end_date=start, hours=8)
        self._do(f"pre-posting course on {start}", lambda: create_training(data, self.admin), "course")

    @precondition(lambda self: "posting" in self.made)
    @rule(index=st.integers(0, 10), kind=st.sampled_from(("insurance", "health_check")),
          starts_in=st.integers(-500, 60), length=st.integers(0, 400))
    def add_care(self, index, kind, starts_in, length):
        """Accident insurance or a health check for a posted cadre (the gaps by day)."""
        from registry.care.services import CareData, add_care
        from registry.people.models import Person, Posting

        posting = _pick(Posting, index, Posting.is_active)
        if posting is None:
            return
        start = local_today() + timedelta(days=starts_in)
        data = CareData(posting_id=posting.id, kind=kind, item="人身意外伤害保险" if kind == "insurance" else "年度体检",
                        start_date=start, end_date=start + timedelta(days=length) if kind == "insurance" else None,
                        amount="800")
        person = db.session.get(Person, posting.person_id)
        self._do(f"care {posting.id} {kind} {start} +{length}", lambda: add_care(person, data, self.admin), "care")

    @precondition(lambda self: "care" in self.made)
    @rule(index=st.integers(0, 10))
    def cancel_care(self, index):
        from registry.care.models import CareRecord
        from registry.care.services import cancel_care

        care = _pick(CareRecord, index, CareRecord.status == "active")
        if care is None:
            return
        self._do(f"cancel care {care.id}", lambda: cancel_care(care, "录入错误", self.admin, care.version))

    @precondition(lambda self: "course" in self.made)
    @rule(index=st.integers(0, 5), days_ago=st.integers(-20, 500))
    def move_course(self, index, days_ago):
        from registry.training.models import Training
        from registry.training.services import TrainingData, update_training

        course = _pick(Training, index)
        if course is None:
            return
        start = local_today() - timedelta(days=days_ago)
        data = TrainingData(title=course.title, organizer=course.organizer, level=course.level, kind=course.kind,
                            mode=course.mode, region_code=course.region_code, start_date=start, end_date=start,
                            hours=course.hours)
        self._do(f"move course {course.id} to {start}", lambda: update_training(course, data, self.admin, course.version))

    @precondition(lambda self: "course" in self.made)
    @rule(index=st.integers(0, 5), person=st.integers(0, 3), passed=st.booleans(),
          change=st.sampled_from(("add", "flip", "remove")))
    def attendance(self, index, person, passed, change):
        from registry.training import services
        from registry.training.models import Attendance, Training

        course = _pick(Training, index)
        if course is None:
            return
        person_id = self.world.people[person]
        existing = db.session.scalar(select(Attendance).where(Attendance.training_id == course.id,
                                                              Attendance.person_id == person_id))
        if change == "add" or existing is None:
            self._do(f"attend {course.id} {person_id} passed={passed}",
                     lambda: services.add_attendances(course, [person_id], course.hours, passed, self.admin))
        elif change == "flip":
            self._do(f"attendance {existing.id} passed={not existing.passed}",
                     lambda: services.update_attendance(existing, existing.hours, not existing.passed, self.admin,
                                                        version=existing.version))
        else:
            self._do(f"remove attendance {existing.id}", lambda: services.remove_attendance(existing, self.admin))

    @precondition(lambda self: "posting" in self.made)
    @rule(index=st.integers(0, 10), years_ago=st.integers(0, 2), grade=st.integers(0, 3))
    def grade_posting(self, index, years_ago, grade):
        """The province grades a posting for a year (again: a re-grade, which moves nothing)."""
        from registry.assessment.models import Assessment, subject_key
        from registry.assessment.services import GradeData, assess_posting, person_grades
        from registry.people.models import Posting

        posting = _pick(Posting, index)
        if posting is None:
            return
        year = local_today().year - years_ago
        grades = person_grades()
        graded = db.session.scalar(select(Assessment.id).where(
            Assessment.subject_key == subject_key("person", posting.id), Assessment.year == year))
        data = GradeData(year=year, grade=grades[grade % len(grades)], change_reason="复核" if graded else None)
        self._do(f"grade posting {posting.id} {year} {data.grade}", lambda: assess_posting(posting, data, self.admin))

    @rule(village=st.integers(0, 3), years_ago=st.integers(0, 1))
    def file_village_result(self, village, years_ago):
        from registry.results.services import ResultData, file_result

        data = ResultData(year=local_today().year - years_ago, collective_income="120000", per_capita_income="15800",
                          monitored_households=12, risk_removed_households=8, industry_projects=3, jobs_created=25,
                          practical_matters=10)
        user = self._user(self.world.village_users[village])
        self._do(f"result {village} {data.year}", lambda: file_result(self.world.villages[village], data, user))

    @rule(name=st.sampled_from(sorted(SETTINGS)), index=st.integers(0, 2))
    def change_setting(self, name, index):
        """A deployment changes a setting (an environment variable) and restarts."""
        choices = SETTINGS[name]
        self.app.config[name] = choices[index % len(choices)]
        self.steps.append(f"setting {name} = {self.app.config[name]}")
        self._check()

    @rule(days=st.sampled_from((1, 2, 7, 30, 45, 100, 200, 370)), refresh=st.booleans())
    def next_day(self, days, refresh):
        """Time passes; the daily refresh (``flask dashboard refresh``) may run."""
        from registry.dashboard.recompute import refresh_stale

        self.clock.shift(timedelta(days=days))
        if refresh:
            refresh_stale()
            db.session.commit()
            self._check_all_fresh()
        self.steps.append(f"{days} days later: {local_today()}{' (refreshed)' if refresh else ''}")
        self._check()

    # -- the property ---------------------------------------------------------------------



PARTS = 4


@pytest.mark.parametrize("part", range(1, PARTS + 1))
def test_every_summary_equals_a_rebuild_after_every_change(app, part, monkeypatch):
    """A quarter of the profile's sequences each, so two workers share them (``-n 2``)
    and neither is left with a long one at the end while the other waits."""
    from registry.dashboard import figures

    # the sequences' days and filters need more statement sets than a site's day: with
    # the site's bound (64) they were built 2,849 times a ci-profile quarter, 1,326 with
    # this one (the cache's size only: the statements are the same)
    monkeypatch.setattr(figures, "_STATEMENTS_KEPT", 256)
    Summaries.app = app
    run_state_machine_as_test(Summaries, settings=settings(max_examples=-(-settings.default.max_examples // PARTS)))


def test_the_clock_moves_the_whole_application(app):
    """What the state machine relies on: ``time_machine`` moves ``local_today``."""
    with time_machine.travel(START, tick=False) as clock:
        assert local_today() == date(2026, 12, 20)
        clock.shift(timedelta(days=12))
        assert local_today() == date(2027, 1, 1)
