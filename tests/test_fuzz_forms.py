"""Fuzzing every form: each POST endpoint of ``app.url_map`` that takes a form, and each
list page's GET filter form, gets hostile values (``tests/fuzz.py``) in a few fields or all
of them, on top of what the page's own form would post, with object ids from the user's
scope and from others. Whatever arrives: never a 5xx, and a request that is refused (a
4xx, the form shown again, a warning instead of a success message) writes no row: the
census of every table (row counts, and the sum of versions) is the same after it.

One world of two counties is built once per module and put back for each form
(``built_once``), with a logged-in client per persona kept for the form. ``make test`` runs a handful of
examples per form; ``HYPOTHESIS_PROFILE=ci`` at least 200 (``tests/fuzz.py:examples``).
Each test prints how many examples it ran and how many were accepted (``pytest -rP``;
``FUZZ_REPORT=path`` appends them as JSON lines).
"""
from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from registry.extensions import db
from tests.conftest import PASSWORD, CsrfClient, Session, _clean, built_once, session_csrf_token
from tests.factories import COUNTY, OTHER_COUNTY, valid_id_number
from tests.fuzz import (
    ABSENT, TODAY, World, WriteWatch, build_world, census, census_statement, changed, examples, field_strategy, form_fields,
    hostile_id, hostile_number, hostile_text, id_like, mutations, page_form, upload_strategy, wtforms_english,
    write_report,
)


# -- the forms ---------------------------------------------------------------------------------

def _version(model_path: str, key: str):
    """The current version of a world object, as its page would carry it."""
    def read(world: World) -> str:
        module, name = model_path.rsplit(".", 1)
        model = getattr(__import__(module, fromlist=[name]), name)
        obj = db.session.get(model, world.ids[key])
        return str(obj.version) if obj is not None else ""
    return read


@dataclass
class Spec:
    persona: str  # whose client posts (anonymous: a new client each time)
    form: str | None  # "module.Class" of the WTForms class (None: CSRF only)
    path: dict[str, str] = field(default_factory=dict)  # URL argument -> world object it names
    valid: Callable[[World], dict] | None = None  # values that make the post pass, over the page's own
    page: bool = True  # a GET of the same URL shows the form (its values are the starting point)
    fresh_client: bool = False  # the post may end the session: a new client for each example
    refusal_writes: tuple[str, ...] = ()  # tables a refused request may write (a failed login is counted)
    accepted: Callable | None = None  # (response, flash categories) -> the post was done
    # other objects' ids in the path too: off for the administrator's account actions, which
    # may act on any account, the fuzzers' own personas included
    others: bool = True


def _values(**fixed):
    """``valid`` from fixed values and functions of the world."""
    return lambda world: {k: (v(world) if callable(v) else v) for k, v in fixed.items()}


R = "registry."


def _posting_of(world: World, person_key: str) -> int:
    from registry.people.models import Posting

    return db.session.scalar(select(Posting.id).where(Posting.person_id == world.ids[person_key]))
RECORD_VERSION = _version(R + "records.models.SupportRecord", "record_draft")


def _png() -> bytes:
    from tests.factories_records import png_bytes

    return png_bytes(color=(10, 120, 60))


def _record(**over):
    from tests.factories_records import record_data

    return lambda world: {**record_data(world.codes["v1"], amount_in_kind="0"), **over}


FORMS: dict[str, Spec] = {
    "accounts.login": Spec("anonymous", R + "accounts.forms.LoginForm",
                           valid=_values(username="fz_login", password=PASSWORD),
                           fresh_client=True, refusal_writes=("audit_event", "login_throttle")),
    "accounts.logout": Spec("logout", R + "accounts.forms.EmptyForm", page=False, fresh_client=True,
                            accepted=lambda response, flashes: "info" in flashes),
    "accounts.password": Spec("password", R + "accounts.forms.PasswordForm", fresh_client=True,
                              valid=_values(current_password=PASSWORD, new_password="Fuzz-Passw0rd-2026!",
                                            confirm_password="Fuzz-Passw0rd-2026!")),
    "accounts.token": Spec("token", R + "accounts.forms.TokenForm",
                           accepted=lambda response, flashes: b'class="token"' in response.data),
    "accounts.revoke_token": Spec("token", R + "accounts.forms.EmptyForm", {"token_id": "api_token"}, page=False),
    "accounts.end_session": Spec("sessions", R + "accounts.forms.EmptyForm", {"session_id": "login_session"},
                                 page=False),
    "accounts.disable": Spec("admin", R + "accounts.forms.ReasonForm", {"user_id": "target_user"}, page=False,
                             valid=_values(reason="调离岗位"), others=False),
    "accounts.enable": Spec("admin", R + "accounts.forms.ReasonForm", {"user_id": "disabled_user"}, page=False,
                            valid=_values(reason="复职"), others=False),
    "accounts.end_sessions": Spec("admin", R + "accounts.forms.EmptyForm", {"user_id": "target_user"}, page=False,
                                  others=False),
    "accounts.reset_password": Spec("admin", R + "accounts.forms.EmptyForm", {"user_id": "target_user"}, page=False,
                                    others=False),
    "accounts.new_user": Spec("admin", R + "accounts.forms.UserForm",
                              valid=_values(username="fz_new_user", role="region", region_code=COUNTY)),
    "assessment.posting": Spec("county", R + "assessment.forms.GradeForm", {"posting_id": "posting_a"},
                               valid=_values(grade="称职")),
    "assessment.organization": Spec("county", R + "assessment.forms.GradeForm", {"organization_id": "org_c"},
                                    valid=_values(grade="好")),
    "assessment.new_for_person": Spec("county", R + "assessment.forms.IncentiveForm", {"person_id": "person_a"},
                                      valid=_values(reason="带领发展产业")),
    "assessment.new_for_organization": Spec("county", R + "assessment.forms.IncentiveForm",
                                            {"organization_id": "org_c"}, valid=_values(reason="帮扶成效明显")),
    "assessment.rectify": Spec("unit", R + "assessment.forms.FollowUpForm", {"incentive_id": "incentive"}, page=False,
                               valid=_values(note="已整改", version=_version(R + "assessment.models.Incentive", "incentive"))),
    "assessment.close": Spec("county", R + "assessment.forms.FollowUpForm", {"incentive_id": "incentive_rectifying"},
                             page=False, valid=_values(note="已销号", version=_version(R + "assessment.models.Incentive",
                                                                                     "incentive_rectifying"))),
    # care (关心关爱), 容错纠错
    "care.new": Spec("county", R + "care.forms.CareForm", {"person_id": "person_k"},
                     valid=lambda world: {"posting_id": str(_posting_of(world, "person_k")), "kind": "insurance",
                                          "item": "人身意外伤害保险", "start_date": "2025-06-01",
                                          "end_date": "2026-05-31", "amount": "50万"}),
    "care.cancel": Spec("county", R + "care.forms.CancelForm", {"care_id": "care_k"}, page=False,
                        valid=_values(reason="保单号录入错误", version=_version(R + "care.models.CareRecord", "care_k"))),
    "tolerance.apply_summons": Spec("unit", R + "tolerance.forms.ApplicationForm", {"incentive_id": "incentive"},
                                    valid=_values(grounds="objective", facts="暴雨致道路中断，未能返村")),
    "tolerance.apply_grade": Spec("unit", R + "tolerance.forms.ApplicationForm", {"assessment_id": "grade_a"},
                                  valid=_values(grounds="no_rule", facts="参加抗洪抢险")),
    "inspections.apply_tolerance": Spec("county", R + "tolerance.forms.ApplicationForm", {"finding_id": "finding"},
                                        valid=_values(grounds="objective", facts="汛期道路中断，项目无法按期施工")),
    "tolerance.decide": Spec("county", R + "tolerance.forms.DecisionForm", {"tolerance_id": "tolerance_case"},
                             page=False, valid=_values(decision="tolerated", reason="情况属实", version=_version(
                                 R + "tolerance.models.FaultToleranceCase", "tolerance_case"))),
    # 催办: the world's submitted record is not overdue yet (refused: only the note and the
    # refusal are fuzzed); its result waits for verification and its posting has missing months
    "chase.record": Spec("township", R + "chase.forms.ChaseForm", {"record_id": "record_submitted"},
                         valid=_values(note="请于本周内确认")),
    "chase.result": Spec("township", R + "chase.forms.ChaseForm", {"result_id": "result_a"},
                         valid=_values(note="请尽快核验")),
    "chase.duty": Spec("township", R + "chase.forms.DutyChaseForm", {"posting_id": "posting_a"},
                       valid=_values(month="2025-04", note="请补报驻村纪实")),
    "cadres.account": Spec("county", R + "cadres.forms.AccountForm", {"person_id": "person_d"},
                           valid=_values(username="fz_cadre_d"),
                           accepted=lambda response, flashes: b'id="activation-code"' in response.data),
    "cadres.activate": Spec("anonymous", R + "cadres.forms.ActivationForm", fresh_client=True,
                            valid=lambda world: {"identifier": "fz_pending", "code": world.secrets["activation_code"],
                                                 "password": "Fuzz-Cadre-2026", "confirm": "Fuzz-Cadre-2026"},
                            refusal_writes=("login_throttle",)),
    "closing.close": Spec("county", R + "closing.forms.CloseForm",
                          valid=_values(year="2022", pending_choice="freeze", confirm="y")),
    "closing.reopen": Spec("township", R + "closing.forms.ReopenForm", {"close_id": "year_close"}, page=False,
                           valid=_values(kinds=["duty"], reason="需更正",
                                         deadline=(TODAY + timedelta(days=5)).isoformat())),
    "closing.approve": Spec("county", R + "closing.forms.DecisionForm", {"request_id": "reopen"}, page=False,
                            valid=_values(note="同意")),
    "closing.reject": Spec("county", R + "closing.forms.DecisionForm", {"request_id": "reopen"}, page=False,
                           valid=_values(note="理由不充分")),
    "closing.close_again": Spec("county", R + "closing.forms.DecisionForm", {"request_id": "reopen_approved"},
                                page=False),
    # inspections (督查): the province plans, visits, records and closes; the county rectifies
    "inspections.new_plan": Spec("province", R + "inspections.forms.PlanForm",
                                 valid=_values(year=str(TODAY.year + 1), title="下年度督查计划")),
    "inspections.add_target": Spec("province", R + "inspections.forms.TargetForm", {"plan_id": "plan"}, page=False,
                                   valid=_values(target="region:433100000000", focus="帮扶责任落实")),
    "inspections.add_visit": Spec("province", R + "inspections.forms.VisitForm", {"inspection_id": "inspection"},
                                  page=False, valid=_values(visited_on=TODAY.isoformat(), team="省督查组")),
    "inspections.add_finding": Spec("province", R + "inspections.forms.FindingForm", {"inspection_id": "inspection"},
                                    page=False, valid=_values(item="funds", description="资金拨付滞后",
                                                              deadline=TODAY.isoformat())),
    "inspections.rectify": Spec("county", R + "assessment.forms.FollowUpForm", {"finding_id": "finding"}, page=False,
                                valid=_values(note="已整改", version=_version(R + "inspections.models.Finding", "finding"))),
    "inspections.close": Spec("province", R + "assessment.forms.FollowUpForm", {"finding_id": "finding_rectifying"},
                              page=False, valid=_values(note="整改到位", version=_version(R + "inspections.models.Finding",
                                                                                      "finding_rectifying"))),
    "inspections.upload": Spec("county", R + "records.forms.EvidenceForm", {"finding_id": "finding"}, page=False,
                               valid=lambda world: {"files": [(_png(), "整改照片.png")]}),
    "scorecards.scheme_new": Spec("province", R + "scorecards.forms.SchemeForm",
                                  valid=_values(name="模糊测试市州方案", year=str(TODAY.year), target_level="city")),
    "scorecards.indicator_new": Spec("province", R + "scorecards.forms.IndicatorForm", {"scheme_id": "scheme_draft"},
                                     valid=_values(name="新指标", weight="10", source="entered", rule="direct")),
    "scorecards.indicator_delete": Spec("province", R + "scorecards.forms.VersionForm",
                                        {"scheme_id": "scheme_draft", "indicator_id": "indicator_draft"}, page=False),
    "scorecards.scheme_activate": Spec("province", R + "scorecards.forms.VersionForm", {"scheme_id": "scheme_draft"},
                                       page=False),
    "scorecards.scorecard_new": Spec("province", R + "scorecards.forms.ScorecardForm",
                                     {"scheme_id": "scheme_active"}, page=False,
                                     valid=_values(region_code="433123000000")),
    "scorecards.compute": Spec("province", R + "scorecards.forms.VersionForm",
                               {"card_id": "card_scoring", "indicator_id": "indicator_computed"}, page=False),
    "scorecards.enter": Spec("province", R + "scorecards.forms.LineForm",
                             {"card_id": "card_scoring", "indicator_id": "indicator_entered"},
                             valid=lambda world: {"value": "35", "note": "现场核查", "files": [(_png(), "现场.png")]}),
    "scorecards.submit": Spec("province", R + "scorecards.forms.VersionForm", {"card_id": "card_scoring"},
                              page=False),
    "scorecards.approve": Spec("reviewer", R + "scorecards.forms.VersionForm", {"card_id": "card_submitted"},
                               page=False),
    "scorecards.send_back": Spec("reviewer", R + "scorecards.forms.ReturnForm", {"card_id": "card_submitted"},
                                 page=False, valid=_values(reason="请核实数据")),
    "scorecards.publish": Spec("province", R + "scorecards.forms.VersionForm", {"card_id": "card_approved"},
                               page=False),
    "duty.new": Spec("unit", R + "duty.forms.DutyForm", {"posting_id": "posting_a"},
                     valid=_values(days_in_village="22", summary="走访农户")),
    "duty.edit": Spec("unit", R + "duty.forms.DutyForm", {"duty_id": "duty_a"}),
    "duty.check": Spec("township", R + "duty.forms.VersionForm", {"duty_id": "duty_a"}, page=False,
                       valid=_values(version=_version(R + "duty.models.DutyMonth", "duty_a"))),
    "duty.send_back": Spec("township", R + "duty.forms.ReturnForm", {"duty_id": "duty_a"},
                           valid=_values(reason="天数有误")),
    "organizations.new": Spec("county", R + "organizations.forms.OrganizationForm",
                              valid=_values(name="新登记的单位", kind="backing_unit", level="county", region_code=COUNTY)),
    "organizations.edit": Spec("county", R + "organizations.forms.OrganizationForm", {"org_id": "org_c"}),
    "individuals.new": Spec("county", R + "individuals.forms.IndividualForm",
                            valid=_values(name="新个人帮扶者", id_number=valid_id_number(779), gender="", way="donation",
                                          region_code=COUNTY)),
    "individuals.edit": Spec("county", R + "individuals.forms.IndividualForm", {"org_id": "helper"},
                             valid=_values(gender="")),
    "pairings.new": Spec("county", R + "pairings.forms.PairingForm", {"org_id": "org_c"},
                         valid=_values(region_code=lambda w: w.codes["v2"], kind="resident", start_date="2025-01-01")),
    "pairings.end": Spec("county", R + "pairings.forms.EndPairingForm", {"pairing_id": "pairing_a"}),
    "people.new_person": Spec("county", R + "people.forms.PersonForm",
                              valid=_values(name="新干部", id_number=valid_id_number(777), gender="",
                                            organization_id=lambda w: str(w.ids["org_c"]))),
    "people.edit_person": Spec("county", R + "people.forms.PersonForm", {"person_id": "person_c"},
                               valid=_values(gender="")),
    "notifications.read": Spec("village", R + "notifications.forms.ReadForm", {"notification_id": "notification"},
                               page=False),
    "notifications.read_all": Spec("village", R + "notifications.forms.ReadForm", page=False),
    "notifications.preferences": Spec("village", R + "notifications.forms.PreferencesForm",
                                      valid=_values(email="cun@example.gov.cn", mode_record_submitted="digest")),
    "notifications.retry": Spec("admin", R + "notifications.forms.ReadForm", {"email_id": "failed_email"}, page=False),
    "projects.new": Spec("county", R + "projects.forms.ProjectForm",
                         valid=_values(organization_id=lambda w: str(w.ids["org_e"]), name="新的测试项目", kind="industry",
                                       planned_investment="100万", signed_on="2025-01-01", villages=lambda w: w.codes["v1"])),
    "projects.edit": Spec("county", R + "projects.forms.ProjectForm", {"project_id": "project_a"}),
    "projects.progress": Spec("county", R + "projects.forms.ProgressForm", {"project_id": "project_a"},
                              valid=_values(note="完成土地平整", actual_investment="90万")),
    "projects.confirm": Spec("village", R + "projects.forms.DecisionForm", {"project_id": "project_a", "entry_id": "entry_a"},
                             page=False),
    "projects.dispute": Spec("village", R + "projects.forms.DecisionForm", {"project_id": "project_a", "entry_id": "entry_a"},
                             valid=_values(reason="实际到位金额不符")),
    "people.new_posting": Spec("county", R + "people.forms.PostingForm", {"person_id": "person_c"},
                               valid=_values(region_code=lambda w: w.codes["v1"], role="team_member",
                                             dispatch_level="county")),
    "people.end_posting": Spec("county", R + "people.forms.EndPostingForm", {"posting_id": "posting_a"},
                               valid=_values(end_reason="term_completed")),
    "records.new": Spec("unit", R + "records.forms.RecordForm", valid=_record()),
    "records.edit": Spec("unit", R + "records.forms.RecordForm", {"record_id": "record_draft"}),
    "records.correct": Spec("unit", R + "records.forms.RecordForm", {"record_id": "record_confirmed"},
                            valid=_record(amount="1000")),
    "records.submit": Spec("unit", R + "records.forms.ActionForm", {"record_id": "record_draft"}, page=False,
                           valid=_values(version=RECORD_VERSION)),
    "records.withdraw": Spec("unit", R + "records.forms.ActionForm", {"record_id": "record_submitted"}, page=False,
                             valid=_values(version=_version(R + "records.models.SupportRecord", "record_submitted"))),
    "records.confirm": Spec("village", R + "records.forms.ConfirmForm", {"record_id": "record_submitted"}, page=False,
                            valid=_values(step="final", attest="y",
                                          version=_version(R + "records.models.SupportRecord", "record_submitted"))),
    "records.dispute": Spec("village", R + "records.forms.DisputeForm", {"record_id": "record_submitted"},
                            valid=_values(reason="金额与实际不符")),
    "records.upload": Spec("unit", R + "records.forms.EvidenceForm", {"record_id": "record_draft"}, page=False,
                           valid=lambda world: {"files": [(_png(), "new-photo.png")]}),
    "records.evidence_delete": Spec("unit", None, {"record_id": "record_draft", "evidence_id": "evidence"}, page=False),
    "records.contribution_new": Spec("fund", R + "records.forms.ContributionForm", {"org_id": "org_f"},
                                     valid=_values(donor="爱心企业", amount="50000", receipt_no="FZ-001",
                                                   received_on=(TODAY - timedelta(days=30)).isoformat())),
    "results.new": Spec("village", R + "results.forms.ResultForm",
                        valid=_values(collective_income="120000", per_capita_income="15000", monitored_households="3",
                                      risk_removed_households="2", industry_projects="1", jobs_created="5",
                                      practical_matters="4")),
    "results.edit": Spec("village", R + "results.forms.ResultForm", {"result_id": "result_a"}),
    "results.verify": Spec("township", R + "duty.forms.VersionForm", {"result_id": "result_a"}, page=False,
                           valid=_values(version=_version(R + "results.models.VillageResult", "result_a"))),
    "results.send_back": Spec("township", R + "duty.forms.ReturnForm", {"result_id": "result_a"},
                              valid=_values(reason="收入有误")),
    "training.new": Spec("county", R + "training.forms.TrainingForm",
                         valid=_values(title="驻村干部轮训", organizer="县乡村振兴局", kind="rotation", mode="onsite",
                                       start_date="2025-06-01", end_date="2025-06-02", hours="16")),
    "training.edit": Spec("county", R + "training.forms.TrainingForm", {"training_id": "training_c"}),
    "training.add_attendance": Spec("county", R + "training.forms.AttendanceAddForm", {"training_id": "training_c"},
                                    page=False, valid=_values(person_ids=lambda w: [str(w.ids["person_c"])], hours="8",
                                                              passed="y")),
    "training.edit_attendance": Spec("county", R + "training.forms.AttendanceForm", {"attendance_id": "attendance_c"}),
    "training.delete_attendance": Spec("county", R + "training.forms.EmptyForm", {"attendance_id": "attendance_c"},
                                       page=False),
    # the offline app's endpoints take JSON from a device, and a form's fields alike (Flask-WTF)
    "offline.decide": Spec("village", R + "offline.forms.DecisionForm", {"record_id": "record_submitted"}, page=False,
                           valid=_values(action="confirm", attest="y",
                                         version=_version(R + "records.models.SupportRecord", "record_submitted")),
                           accepted=lambda response, flashes: response.status_code == 200),
    "offline.file_duty": Spec("unit", R + "duty.forms.DutyForm", {"posting_id": "posting_a"}, page=False,
                              valid=_values(month=f"{TODAY.year:04d}-{TODAY.month:02d}", days_in_village="1",
                                            summary="走访农户"),
                              accepted=lambda response, flashes: response.status_code == 200),
    "transfer.upload": Spec("county", R + "transfer.forms.ImportForm", {"kind": "import_kind"}, valid=lambda world: {
        "file": [(f"姓名,身份证号,工作单位,联系电话\n导入的干部,{valid_id_number(778)},县测试局,\n".encode(), "people.csv")]}),
}

# The list pages' GET filter forms (they change nothing; only "never a 5xx" applies).
FILTERS: dict[str, tuple[str, str]] = {
    "organizations.index": ("county", R + "organizations.forms.OrganizationFilter"),
    "individuals.index": ("county", R + "individuals.forms.IndividualFilter"),
    "pairings.index": ("county", R + "pairings.forms.PairingFilter"),
    "pairings.choose_organization": ("county", R + "pairings.forms.OrganizationPick"),
    "people.index": ("unit", R + "people.forms.PeopleFilter"),
    "people.choose_person": ("county", R + "people.forms.PeopleFilter"),
    "people.postings": ("township", R + "people.forms.PostingFilter"),
    "notifications.index": ("village", R + "notifications.forms.NotificationFilter"),
    "care.index": ("county", R + "care.forms.CareFilter"),
}

# Form classes that no view posts on their own (bases).
NOT_FORMS = {R + "core.forms.RegistryForm"}  # the base of every form

# URL arguments that are not object ids, and the values a request may carry there.
WORDS = {"import_kind": ["people", "postings", "organizations", "individuals", "records", "villages", "findings", "care",
                         "nope", "..",
                         "%00"]}


def _load(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(__import__(module, fromlist=[name]), name)


# -- the inventory -----------------------------------------------------------------------------

def test_every_form_endpoint_and_form_class_is_fuzzed(_app):
    """A new POST route, or a new form class, without a fuzz spec fails here."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm

    import registry

    posts = {rule.endpoint for rule in _app.url_map.iter_rules() if "POST" in rule.methods}
    assert sorted(posts - set(FORMS)) == [], "POST endpoints without a fuzz spec"
    assert sorted(set(FORMS) - posts) == [], "fuzz specs of endpoints that no longer take a POST"
    declared = set()
    for info in pkgutil.iter_modules(registry.__path__):
        try:
            module = importlib.import_module(f"registry.{info.name}.forms")
        except ModuleNotFoundError:
            continue
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, FlaskForm) and value.__module__ == module.__name__:
                declared.add(f"{module.__name__}.{name}")
    used = {spec.form for spec in FORMS.values()} | {form for _, form in FILTERS.values()} | NOT_FORMS
    assert sorted(declared - used) == [], "form classes no fuzz spec posts"


def test_the_write_watch_sees_every_statement_that_may_write(db, make_user):
    """The census is skipped only while no statement that may change a row ran: an ORM
    insert or update, a Core delete, an upsert, raw SQL, a PRAGMA all count; reads and
    transactions' starts and ends do not."""
    from sqlalchemy import delete, text, update

    from registry.accounts.models import User

    user = make_user("viewer", region_code=COUNTY)
    db.session.commit()
    with WriteWatch() as watch:
        db.session.scalar(select(User.id).where(User.id == user.id))
        db.session.execute(text("SELECT 1 UNION SELECT 2"))
        db.session.rollback()
        assert not watch.moved
        writes = [
            lambda: (setattr(user, "display_name", "改名"), db.session.flush()),
            lambda: make_user("viewer", region_code=COUNTY),
            lambda: db.session.execute(update(User).where(User.id == -1).values(display_name="x")),
            lambda: db.session.execute(delete(User).where(User.id == -1)),
            lambda: db.session.connection().exec_driver_sql("UPDATE user_account SET display_name = display_name"),
            lambda: db.session.execute(text("WITH gone AS (DELETE FROM user_account WHERE id = -1) SELECT 1")
                                       if db.engine.dialect.name == "postgresql" else text("PRAGMA user_version = 0")),
        ]
        for write in writes:
            watch.clear()
            write()
            assert watch.moved
            db.session.rollback()
    watch.clear()
    make_user("viewer", region_code=COUNTY)
    assert not watch.moved  # removed with the block


# -- the harness ---------------------------------------------------------------------------------

REPORT: dict[str, dict] = {}


class Harness:
    """The module's app, world, personas' clients and the last census."""

    def __init__(self, app):
        self.app = app
        self.world: World | None = None
        self.clients: dict[tuple, Session] = {}
        self.census_stmt = census_statement()
        self.last: dict[str, int] | None = None
        self.writes = WriteWatch()
        self.pages: dict[tuple, dict] = {}
        self.valid: dict[str, tuple[int, dict]] = {}  # endpoint -> (writes seen, its valid values)
        self.rules: dict[str, object] = {}
        self.errors: list[str] = []

    def reset(self):
        """The world as built, for each form (its rows put back by ``built_once``)."""
        if self.world is None:
            _clean(self.app)
            db.session.remove()  # the objects of the world before are gone
        self.world = built_once("fuzz.world", build_world)
        self.clients.clear()  # their login sessions were rows of the world before
        self.last = None
        self.pages.clear()
        self.valid.clear()

    def user(self, persona):
        from registry.accounts.models import User

        return db.session.get(User, self.world.users[persona])

    def client(self, persona: str, fresh: bool = False):
        if persona == "anonymous":
            return _Anonymous(self.app.test_client())
        key = (persona, self.world.users[persona])
        if fresh or key not in self.clients:
            session = Session(self.app.test_client(), self.user(persona))
            self.last = None  # its login session is a row: count again before the post
            if fresh:
                return session
            self.clients[key] = session
        return self.clients[key]

    def signed_out(self, persona: str, response) -> None:
        """A post that ended its own login session (an administrator ending its own
        sessions) sends its client to the login page: the next example signs in anew."""
        if response.status_code in (302, 303) and "/login" in response.headers.get("Location", ""):
            self.clients.pop((persona, self.world.users.get(persona)), None)

    def rule(self, endpoint: str):
        """The endpoint's (first) URL rule, looked up once, not in each example."""
        if not self.rules:
            for rule in self.app.url_map.iter_rules():
                self.rules.setdefault(rule.endpoint, rule)
        return self.rules[endpoint]

    def valid_values(self, endpoint: str, spec: Spec) -> dict:
        """``spec.valid`` (some read a version or an id from the database), read again
        only after a statement that may have written."""
        kept = self.valid.get(endpoint)
        if kept is None or kept[0] != self.writes.writes:
            kept = self.valid[endpoint] = (self.writes.writes, spec.valid(self.world))
        return kept[1]

    def census(self):
        """The census, taken again only if a statement that may write ran since the last
        (``WriteWatch``): most refused posts run none, and the census of ~100 tables was
        the dearest part of an example after the request itself."""
        if self.last is None or self.writes.moved:
            self.last = census(self.census_stmt)  # rolls the session back first
            self.writes.clear()
        else:
            db.session.rollback()  # as the census would: the next request starts afresh
        return self.last

    def ids_of(self) -> dict[str, list[int]]:
        """Every id of each kind of object (in and out of any one user's scope)."""
        from registry.people.models import Person

        return {"organization_id": self._all(_load(R + "organizations.models.Organization")),
                "person_id": self._all(Person)}

    @staticmethod
    def _all(model) -> list[int]:
        return list(db.session.scalars(select(model.id)))


@pytest.fixture(scope="module")
def harness(_app):
    with _app.app_context():
        h = Harness(_app)
        h.reset()
        handler = _Errors(h.errors)
        _app.logger.addHandler(handler)
        with h.writes:
            yield h
        _app.logger.removeHandler(handler)
        db.session.rollback()
        db.session.remove()
    write_report(REPORT)


class _Anonymous(CsrfClient):
    """A client nobody logged in, whose posts carry the CSRF token of its session."""

    def __init__(self, client):
        self.client = client
        self.token = session_csrf_token(client)


class _Errors(logging.Handler):
    """The tracebacks of unhandled errors (the 500 page hides them), for the failure message."""

    def __init__(self, sink: list[str]):
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record):
        if record.exc_info:
            import traceback

            self.sink.append("".join(traceback.format_exception(*record.exc_info))[-3000:])


def _flashes(client) -> list[str]:
    """The categories of the messages waiting in the client's session, taken out of it.
    The session is opened only if its cookie changed since the last look (then left
    without messages): a request that flashed nothing, most of them, leaves it as it was."""
    client = getattr(client, "client", client)  # a conftest Session, or a bare test client
    name = client.application.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    if cookie is not None and cookie.value == getattr(client, "fuzz_looked_at", None):
        return []
    with client.session_transaction() as sess:
        categories = [category for category, _ in sess.pop("_flashes", [])]
    cookie = client.get_cookie(name)
    client.fuzz_looked_at = cookie.value if cookie is not None else None
    return categories


def _url(rule, args: dict) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: quote(str(args[m.group(1)]), safe=""), rule.rule)


def _post_data(values: dict) -> tuple[dict, bool]:
    """Form data for the test client: file lists become (stream, name) tuples."""
    data, files = {}, False
    for name, value in values.items():
        if value is ABSENT:
            continue
        if isinstance(value, list) and value and isinstance(value[0], tuple):
            data[name] = [(io.BytesIO(content), filename) for content, filename in value]
            files = True
        else:
            data[name] = value
    return data, files


def _own(h: Harness, key: str):
    return WORDS[key][0] if key in WORDS else h.world.ids[key]


# ids that name no row: far beyond the world's, impossible, or not numbers
NO_SUCH_ID = st.integers(10**7, 2**70).map(str) | st.sampled_from(["0", "-1", "", "abc", "1.0", "１", " 1", "-0"])


def _path_strategy(h: Harness, spec: Spec):
    """URL arguments: mostly the form's own object, else any id of any scope, or nonsense."""
    out = {}
    for arg, key in spec.path.items():
        if key in WORDS:
            out[arg] = st.sampled_from(WORDS[key]) | hostile_text(12)
        else:
            own = h.world.ids[key]
            elsewhere = hostile_id(list(h.world.ids.values())) if spec.others else NO_SUCH_ID
            out[arg] = st.one_of(st.just(own), st.just(own), st.just(own), elsewhere)
    return st.fixed_dictionaries(out)


def _spec_fields(h: Harness, spec: Spec) -> dict:
    fields = {}
    if spec.form:
        ids = h.ids_of()
        codes = [*h.world.codes.values(), COUNTY, OTHER_COUNTY, "430000000000"]
        for name, (field_class, kwargs) in form_fields(_load(spec.form)).items():
            if name == "csrf_token":
                continue
            fields[name] = field_strategy(name, field_class, kwargs, ids, codes)
    fields["csrf_token"] = st.sampled_from(["", "x", "None"]) | hostile_text(20)
    if spec.form and spec.form.endswith("RecordForm"):
        fields["action"] = st.sampled_from(["submit", "save", ""]) | hostile_text(10)
        fields["files"] = upload_strategy()
    if spec.form and spec.form.endswith(("ActionForm", "ConfirmForm")):
        fields["next"] = st.sampled_from(["inbox", "", "//evil.example", "javascript:alert(1)"])
    return fields


def _run_form(h: Harness, endpoint: str, spec: Spec, path_args: dict, values: dict, stats: dict):
    rule = h.rule(endpoint)
    url = _url(rule, path_args)
    client = h.client(spec.persona, fresh=spec.fresh_client)
    base: dict = {}
    if spec.page:
        # what the page's form of the form's own object would post (read once, and again
        # after a post that was done); a post to another object starts from it too
        key = (spec.persona, endpoint)
        if key not in h.pages:
            own = _url(rule, {arg: _own(h, value) for arg, value in spec.path.items()})
            page = client.get(own)
            assert page.status_code < 500, (own, page.status_code, h.errors[-1:])
            _flashes(client)
            found = page_form(page.get_data(as_text=True), own) if page.status_code == 200 else None
            h.pages[key] = found or {}
        base = dict(h.pages[key])
    base.pop("csrf_token", None)
    if spec.valid:
        base.update(h.valid_values(endpoint, spec))
    data, files = _post_data({**base, **values})
    before = h.census()
    h.errors.clear()
    response = (client.post(url, data=data, content_type="multipart/form-data") if files
                else client.post(url, data=data))
    flashes = _flashes(client)
    h.signed_out(spec.persona, response)
    shown = {k: (v if not isinstance(v, str) or len(v) < 80 else v[:80] + "…") for k, v in data.items()}
    assert response.status_code < 500, f"{response.status_code} from POST {url} as {spec.persona}: {shown}\n" + \
        "\n".join(h.errors[-1:])
    english = wtforms_english(response.get_data(as_text=True))
    assert not english, f"WTForms' English {english} from POST {url} as {spec.persona}: {shown}"
    stats["examples"] += 1
    done = spec.accepted(response, flashes) if spec.accepted else "success" in flashes
    after = h.census()
    if done:
        stats["accepted"] += 1
        h.pages = {k: v for k, v in h.pages.items() if k[0] != spec.persona}
        return
    diff = changed(before, after, spec.refusal_writes)
    assert not diff, (f"refused POST {url} ({response.status_code}, flashes {flashes}) as {spec.persona} wrote: {diff}; "
                      f"data {shown}")


@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_form_never_fails_and_a_refusal_writes_nothing(harness, endpoint):
    spec = FORMS[endpoint]
    harness.reset()
    fields = _spec_fields(harness, spec)
    stats = REPORT.setdefault(endpoint, {"examples": 0, "accepted": 0})
    stats.update(examples=0, accepted=0)

    @settings(max_examples=examples(), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(path=_path_strategy(harness, spec), values=mutations(fields))
    def run(path, values):
        _run_form(harness, endpoint, spec, path, values, stats)

    run()
    print(f"fuzz {endpoint}: {stats['examples']} examples, {stats['accepted']} accepted")


@pytest.mark.parametrize("endpoint", sorted(FILTERS))
def test_filter_form_never_fails(harness, endpoint):
    persona, form = FILTERS[endpoint]
    harness.reset()
    ids = harness.ids_of()
    codes = [*harness.world.codes.values(), COUNTY, OTHER_COUNTY]
    fields = {name: field_strategy(name, cls, kw, ids, codes) for name, (cls, kw) in form_fields(_load(form)).items()}
    fields.update(page=id_like(st.sampled_from(["1", "2", "0", "-1", "", "abc", "１"]) | hostile_number() | hostile_text(10)),
                  org=hostile_id(ids["organization_id"]), region=st.sampled_from(codes) | hostile_text(12))
    rule = next(r for r in harness.app.url_map.iter_rules() if r.endpoint == endpoint)
    stats = REPORT.setdefault(endpoint + " (GET)", {"examples": 0, "accepted": 0})
    stats.update(examples=0, accepted=0)
    client = harness.client(persona)

    @settings(max_examples=examples(), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(values=mutations(fields))
    def run(values):
        args = {k: v for k, v in values.items() if v is not ABSENT and not isinstance(v, list)}
        harness.errors.clear()
        response = client.get(rule.rule, query_string=args)
        _flashes(client)
        assert response.status_code < 500, (rule.rule, args, harness.errors[-1:])
        assert not wtforms_english(response.get_data(as_text=True)), (rule.rule, args)
        stats["examples"] += 1
        stats["accepted"] += response.status_code == 200

    run()
    print(f"fuzz {endpoint} (GET): {stats['examples']} examples")
