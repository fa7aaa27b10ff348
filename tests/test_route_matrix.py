"""The route × persona matrix (issue 13): every rule of the URL map, asked by every
persona with ids in and out of the persona's scope, answers as ``EXPECT`` says; no
answer is a 5xx; and every page, list, export, chart table and API answer holds only
what lies in the persona's scope.

One test per persona walks every route. The ids come from the database (the world of
``tests/matrix_world.py``), and the scope rules of ``registry/scopes.py`` are the
oracle: an id is "in scope" when ``in_scope(Model, id, user)`` says so. For each route
argument the persona is given an id in its scope and one (for divisions: two, above and
beside) outside it, or an id of nothing when everything is in its scope. Every failure
of a persona is reported at once, naming method, URL, persona and which id was which.
A route missing from ``EXPECT`` fails ``test_every_route_has_an_expectation`` by name.

What the rows must be: every link on a page to an object (``/people/7``) points at one
in scope; every row of an export (CSV and xlsx, read back with the importer's reader),
of a chart table and of an API answer is about something in scope; no name the world
gave to a person, unit, record or course outside the scope appears anywhere.

GETs come first, then POSTs with an empty form (only the CSRF token): those outside the
scope, which must change nothing, then those in scope, which may act (submit, confirm,
approve), deletions and the logout last. Each persona's test starts from the same rows
(``built_once``: copied back on SQLite, built again on PostgreSQL).
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.matrix_world import PERSONAS, build_world, lay_files

# -- the expectation table ----------------------------------------------------------------

LOGGED_IN = ("admin", "province", "city", "county", "township", "unit", "village", "viewer")
REGION = ("province", "city", "county", "township")
STAFF = ("admin", *REGION)  # who runs the registry in a jurisdiction
READERS = (*STAFF, "viewer")  # and who reads all of it
TURNED_AWAY = ("anonymous", "disabled")  # no session that counts: the login page (the API: 401)
# a cadre (驻村干部) reaches their home, their account and their own person's postings,
# training, days in the village and grades, and nothing else (core.access.for_cadres: 404)
CADRE = ("cadre",)


@dataclass(frozen=True)
class Expect:
    """``personas`` reach the route with ids in their scope: a GET answers one of ``ok``,
    a POST of an empty form anything but 403, 404 or 5xx (the form's errors, or the
    action done). The other logged-in personas get 403, or 404 where nothing of the kind
    is theirs. Ids outside the scope, and ids of nothing, are 404 to every persona that
    reaches the route. ``public``: anonymous users too."""

    personas: tuple[str, ...]
    ok: tuple[int, ...] = (200,)
    public: bool = False


E = Expect
PUBLIC_ALL = (*TURNED_AWAY, *LOGGED_IN, *CADRE)

EXPECT: dict[str, Expect] = {
    # -- public and the account ------------------------------------------------------------
    "static": E(PUBLIC_ALL, public=True),
    "main.healthz": E(PUBLIC_ALL, public=True),
    "main.plotly_js": E(PUBLIC_ALL, public=True),
    "main.favicon": E(PUBLIC_ALL, ok=(302,), public=True),  # to the static file
    "accounts.login": E(PUBLIC_ALL, ok=(200, 302), public=True),  # a logged-in user goes home
    "accounts.logout": E((*LOGGED_IN, *CADRE)),
    "main.home": E((*LOGGED_IN, *CADRE)),
    "accounts.password": E((*LOGGED_IN, *CADRE)),
    "accounts.token": E(LOGGED_IN),
    "accounts.revoke_token": E(LOGGED_IN),
    "accounts.account": E((*LOGGED_IN, *CADRE)),
    "accounts.end_session": E((*LOGGED_IN, *CADRE)),  # one's own sessions only: another's is 404
    "accounts.user_detail": E(("admin",)),
    "accounts.disable": E(("admin",)),
    "accounts.enable": E(("admin",)),
    "accounts.end_sessions": E(("admin",)),
    "accounts.reset_password": E(("admin",)),
    "accounts.users": E(("admin",)),
    "accounts.users_export": E(("admin",)),
    "accounts.new_user": E(("admin",)),
    "assessment.settings": E(("admin",)),
    "notifications.index": E((*LOGGED_IN, *CADRE)),
    "notifications.read": E((*LOGGED_IN, *CADRE)),  # one's own notifications only: another's is 404, to admins too
    "notifications.read_all": E((*LOGGED_IN, *CADRE)),
    "notifications.preferences": E((*LOGGED_IN, *CADRE)),
    "notifications.outbox": E(("admin",)),
    "notifications.retry": E(("admin",)),
    # -- organizations, people, postings, pairings ------------------------------------------
    "organizations.index": E(LOGGED_IN),
    "organizations.export": E(LOGGED_IN),
    "organizations.detail": E(LOGGED_IN),
    "organizations.new": E(STAFF),
    "organizations.edit": E((*STAFF, "unit")),  # a unit edits its own profile
    "individuals.index": E(LOGGED_IN),
    "individuals.export": E(LOGGED_IN),
    "individuals.new": E(STAFF),
    # region staff who see the helper's full ID number (not a township), and its own account
    "individuals.edit": E(("admin", "province", "city", "county")),
    "people.index": E(LOGGED_IN),
    "people.export_people": E(LOGGED_IN),
    "people.detail": E((*LOGGED_IN, *CADRE)),
    "people.new_person": E((*STAFF, "unit")),
    # a cadre's account, opened by whoever manages the person (viewers and villages do not)
    "cadres.account": E((*STAFF, "unit")),
    "cadres.activate": E(PUBLIC_ALL, ok=(200, 302), public=True),  # a logged-in user goes home
    # editing shows the full ID number, which township staff never see (people/privacy.py)
    "people.edit_person": E(("admin", "province", "city", "county", "unit")),
    "people.employer_lookup": E((*STAFF, "unit")),
    "people.postings": E(LOGGED_IN),
    "people.export_postings": E(LOGGED_IN),
    "people.posting": E((*LOGGED_IN, *CADRE)),
    "people.choose_person": E(STAFF),
    "people.new_posting": E(STAFF),
    "people.posting_targets": E(STAFF),
    "people.end_posting": E(STAFF),
    "pairings.index": E(LOGGED_IN),
    "pairings.export": E(LOGGED_IN),
    "pairings.detail": E(LOGGED_IN),
    "pairings.choose_organization": E(STAFF),
    "pairings.new": E(STAFF),
    "pairings.targets": E(STAFF),
    "pairings.end": E(STAFF),
    # -- enterprise projects: the enterprise's unit or region staff record them, the villages
    # they touch confirm each milestone. The unit persona is a backing unit, which has no
    # projects (only enterprises do): every project is a 404 to it, its lists are empty; an
    # enterprise's own scope is tested in tests/test_projects.py
    "projects.index": E(LOGGED_IN),
    "projects.export": E(LOGGED_IN),
    "projects.detail": E(NOT_UNIT := tuple(p for p in LOGGED_IN if p != "unit")),
    "projects.evidence_file": E(NOT_UNIT),
    "projects.new": E(STAFF),
    "projects.edit": E(STAFF),
    "projects.progress": E(STAFF),
    "projects.confirm": E(("village",)),
    "projects.dispute": E(("village",)),
    # -- regions, coverage, gaps, the API ---------------------------------------------------
    "regions.detail": E(LOGGED_IN),
    "regions.export_villages": E(LOGGED_IN),
    "dashboard.index": E(READERS),
    "dashboard.coverage": E(READERS),
    "dashboard.download": E(READERS),
    "dashboard.gaps_index": E(READERS),
    "dashboard.gaps_page": E(READERS),
    "dashboard.gaps_export": E(READERS),
    "dashboard.api_coverage": E(READERS),
    "dashboard.api_gaps": E(READERS),
    "dashboard.api_openapi": E(LOGGED_IN),
    # -- support records, evidence, funds ---------------------------------------------------
    # 催办: township staff and above (and administrators); viewers, units and villages 403
    "chase.record": E(STAFF),
    "chase.result": E(STAFF),
    "chase.duty": E(STAFF),
    "records.index": E(LOGGED_IN),
    "records.export": E(LOGGED_IN),
    "records.detail": E(LOGGED_IN),
    "records.new": E(("unit", *REGION)),  # region staff file on a unit's behalf (代为填报)
    "records.edit": E(("unit",)),
    "records.submit": E(("unit",)),
    "records.withdraw": E(("unit",)),
    "records.correct": E(("unit",)),
    "records.upload": E(("unit",)),
    "records.evidence_delete": E(("unit",)),
    "records.evidence_file": E(("admin", *REGION, "unit", "village", "viewer")),
    "records.evidence_thumb": E(("admin", *REGION, "unit", "village", "viewer")),
    "records.inbox": E(("village",)),
    "records.confirm": E(("village",)),
    "records.dispute": E(("village",)),
    "records.overdue": E((*READERS, "village")),  # a village sees its own, to confirm them
    "records.overdue_export": E((*READERS, "village")),
    "records.fund_list": E(READERS),  # a unit that is not a fund has no fund page (404)
    "records.fund_list_export": E((*READERS, "unit")),
    "records.fund": E(READERS),  # the unit persona is no fund: no fund is in its scope
    "records.fund_export": E(READERS),
    "records.contribution_new": E(STAFF),
    # -- training, days in the village, results ----------------------------------------------
    "training.index": E(LOGGED_IN),
    "training.export": E(LOGGED_IN),
    "training.detail": E((*LOGGED_IN, *CADRE)),
    "training.arrange": E(STAFF),
    "training.gaps": E(LOGGED_IN),
    "training.person": E((*LOGGED_IN, *CADRE)),
    "training.person_export": E((*LOGGED_IN, *CADRE)),
    "training.new": E(STAFF),
    "training.edit": E(STAFF),
    "training.add_attendance": E(STAFF),
    "training.edit_attendance": E(STAFF),
    "training.delete_attendance": E(STAFF),
    "duty.index": E((*LOGGED_IN, *CADRE)),
    "duty.export": E((*LOGGED_IN, *CADRE)),  # a cadre their own months
    "duty.postings": E(LOGGED_IN),
    "duty.posting": E((*LOGGED_IN, *CADRE)),
    "duty.new": E(("unit", "village", *CADRE)),  # a cadre their own months
    "duty.edit": E(("unit", "village", *CADRE)),
    "duty.check": E(STAFF),
    "duty.send_back": E(STAFF),
    "results.index": E(LOGGED_IN),
    "results.export": E(LOGGED_IN),
    "results.detail": E(LOGGED_IN),
    "results.new": E(("village",)),
    "results.edit": E(("village",)),
    # results are verified where the village is: its county and township (and admins)
    "results.verify": E(("admin", "county", "township")),
    "results.send_back": E(("admin", "county", "township")),
    # -- assessment, incentives, closing, audit ---------------------------------------------
    "assessment.index": E(LOGGED_IN),
    "assessment.export": E(LOGGED_IN),
    "assessment.detail": E((*READERS, "unit", *CADRE)),  # villages see no grades; a cadre their own
    "assessment.person": E((*LOGGED_IN, *CADRE)),  # the person; the grades on it as far as one may see them
    "assessment.person_export": E((*LOGGED_IN, *CADRE)),  # their own grades, commendations and summons
    "assessment.todo": E(STAFF),
    "assessment.posting": E(STAFF),
    "assessment.organization": E(STAFF),
    "assessment.incentives": E(LOGGED_IN),
    "assessment.incentives_export": E(LOGGED_IN),
    "assessment.incentive": E((*READERS, "unit", *CADRE)),  # a cadre: about themselves
    "assessment.choose_subject": E(STAFF),
    "assessment.new_for_person": E(STAFF),
    "assessment.new_for_organization": E(STAFF),
    "assessment.close": E(("admin", "province", "city", "county")),  # the issuing county or above
    "assessment.rectify": E(("admin", "province", "city", "county", "unit")),
    # inspections (督查): the province and cities plan, visit, record findings and close them; the
    # inspected party (the county's staff, a provincial department's unit) registers the rectification
    "inspections.index": E((*READERS, "unit")),
    "inspections.new_plan": E(("admin", "province", "city")),
    "inspections.plan": E(("admin", "province", "city")),  # the inspecting level and above
    "inspections.add_target": E(("admin", "province", "city")),
    "inspections.inspection": E(("admin", "province", "city", "county", "viewer", "unit")),
    "inspections.add_visit": E(("admin", "province", "city")),
    "inspections.add_finding": E(("admin", "province", "city")),
    "inspections.findings": E((*READERS, "unit")),
    "inspections.findings_export": E((*READERS, "unit")),
    "inspections.export": E((*READERS, "unit")),
    "inspections.finding": E(("admin", "province", "city", "county", "viewer", "unit")),
    "inspections.rectify": E(("county", "unit")),  # the inspected party only
    "inspections.close": E(("admin", "province", "city")),  # never the inspected party
    "inspections.upload": E(("admin", "province", "city", "county", "unit")),
    "inspections.evidence_file": E(("admin", "province", "city", "county", "viewer", "unit")),
    # 实绩考核: the province defines, scores, reviews and publishes; an assessed county (and
    # its city, and a viewer there) reads its own published scorecard and prints it
    "scorecards.index": E(READERS),
    "scorecards.results_export": E(READERS),
    "scorecards.scheme_new": E(("province",)),
    "scorecards.scheme": E(("admin", "province")),
    "scorecards.export": E(("admin", "province")),
    "scorecards.indicator_new": E(("province",)),
    "scorecards.indicator_delete": E(("province",)),
    "scorecards.scheme_activate": E(("province",)),
    "scorecards.scorecard_new": E(("province",)),
    "scorecards.detail": E(("admin", "province", "city", "county", "viewer")),
    "scorecards.print_view": E(("admin", "province", "city", "county", "viewer")),
    "scorecards.score_file": E(("admin", "province", "city", "county", "viewer")),
    "scorecards.compute": E(("province",)),
    "scorecards.enter": E(("province",)),
    "scorecards.submit": E(("province",)),
    "scorecards.approve": E(("province",)),
    "scorecards.send_back": E(("province",)),
    "scorecards.publish": E(("province",)),
    # -- care, fault tolerance, supervision (issue 17) ----------------------------------------
    "care.index": E((*READERS, "unit")),
    "care.export": E((*READERS, "unit")),
    "tolerance.export": E((*READERS, "unit")),
    "care.person": E((*READERS, "unit", *CADRE)),  # a cadre: their own
    "care.person_export": E((*READERS, "unit", *CADRE)),  # a cadre: their own
    "care.detail": E((*READERS, "unit", *CADRE)),
    # the form answers every region staff; only the dispatching office (or above) may save (care.services)
    "care.new": E(STAFF),
    "care.cancel": E(STAFF),
    "tolerance.index": E((*READERS, "unit")),
    "tolerance.detail": E((*READERS, "unit", *CADRE)),
    # the person themself, their unit or region staff apply; viewers and villages never
    "tolerance.apply_summons": E((*STAFF, "unit", *CADRE)),
    "tolerance.apply_grade": E((*STAFF, "unit", *CADRE)),
    "tolerance.decide": E(STAFF),  # the service says which level (the issuing one or above)
    # about a finding: those who see it reach the form; only the inspected party may apply
    # (inspections.tolerance), the others are shown why not
    "inspections.apply_tolerance": E(("admin", "province", "city", "county", "unit")),
    "supervision.index": E(READERS),
    "supervision.export": E(READERS),
    "supervision.record": E(READERS),
    "supervision.record_export": E(READERS),
    "supervision.fund": E(READERS),
    "supervision.fund_export": E(READERS),
    "closing.index": E(READERS),
    "closing.export": E(READERS),
    "closing.detail": E(READERS),
    "closing.close": E(("province", "city", "county")),  # townships do not close a year
    "closing.reopen": E(REGION),
    "closing.approve": E(REGION),
    "closing.reject": E(REGION),
    "closing.close_again": E(REGION),
    "audit.index": E(READERS),
    "audit.export": E(READERS),
    "audit.integrity": E(("admin",)),
    # -- imports and jobs -------------------------------------------------------------------
    "transfer.upload": E((*STAFF, "unit", "village")),  # viewers import nothing
    "transfer.template": E((*STAFF, "unit", "village")),
    "transfer.errors": E(LOGGED_IN),
    "transfer.jobs": E(LOGGED_IN),
    "transfer.job": E(LOGGED_IN),
    "transfer.job_download": E(LOGGED_IN),
    "transfer.job_errors": E(LOGGED_IN),
    # -- the offline app (issue 15) -----------------------------------------------------------
    "offline.service_worker": E(PUBLIC_ALL, public=True),  # /sw.js: no data, the worker's own code
    "offline.manifest": E(PUBLIC_ALL, public=True),
    "offline.page": E(PUBLIC_ALL, public=True),  # "needs a connection", the same for everyone
    "offline.pages": E(("village", *CADRE)),  # what a device keeps: links checked like a page's
    "offline.decide": E(("village",)),  # a queued 确认/异议 (JSON; a form post is a 422)
    "offline.file_duty": E(("unit", "village", *CADRE)),  # a queued month of 驻村纪实
}

SKIPPED = {"test_boom"}  # the suite's own route (conftest), not the application's
XLSX_PERSONAS = ("county",)  # exports also as xlsx: the rows do not depend on the format
# A format, chart table, import kind or file of nothing is refused whoever asks: tried by
# these personas only (every persona tries ids outside its scope and, for what it may
# not import, kinds).
NOTHING_PERSONAS = ("anonymous", "admin")
# chart tables whose rows are sums, not divisions: nothing to check row by row, so asked
# for by one persona only (each costs the whole coverage computation)
CHART_TABLES_ONCE = ["amounts", "categories", "funnel", "training"]


@pytest.fixture()
def world(app, db):
    from tests.conftest import built_once

    world = built_once("matrix.world", build_world)
    lay_files(app, world)
    return world


# -- ids in and out of scope ------------------------------------------------------------------

MISSING_ID = 987654321  # an id nothing has
MISSING_CODE = "439999999999"  # a well-formed code of no division


def _arg_models() -> dict:
    from registry.accounts.models import ApiToken, LoginSession, User
    from registry.assessment.models import Assessment, Incentive
    from registry.closing.models import ReopenRequest, YearClose
    from registry.duty.models import DutyMonth
    from registry.inspections.models import Finding, FindingEvidence, Inspection, InspectionPlan
    from registry.notifications.models import Notification, OutboundEmail
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.people.models import Person, Posting
    from registry.projects.models import Project, ProjectEvidence, ProjectProgress
    from registry.records.models import Evidence, SupportRecord
    from registry.regions.models import Region
    from registry.results.models import VillageResult
    from registry.scorecards.models import Indicator, Scheme, ScoreFile, Scorecard
    from registry.training.models import Attendance, Training
    from registry.transfer.models import TransferJob
    from registry.care.models import CareRecord
    from registry.tolerance.models import FaultToleranceCase

    return {
        "scheme_id": Scheme, "indicator_id": Indicator, "card_id": Scorecard, "score_file_id": ScoreFile,
        "care_id": CareRecord, "tolerance_id": FaultToleranceCase,
        "project_id": Project, "entry_id": ProjectProgress, "project_file_id": ProjectEvidence,
        "user_id": User,  # no scope rule: administrators' alone
        "session_id": LoginSession, "token_id": ApiToken,  # one's own
        "assessment_id": Assessment, "incentive_id": Incentive, "close_id": YearClose, "request_id": ReopenRequest,
        "duty_id": DutyMonth, "organization_id": Organization, "org_id": Organization, "pairing_id": Pairing,
        "person_id": Person, "posting_id": Posting, "record_id": SupportRecord, "evidence_id": Evidence,
        "code": Region, "result_id": VillageResult, "training_id": Training, "attendance_id": Attendance,
        "job_id": TransferJob,
        "plan_id": InspectionPlan, "inspection_id": Inspection, "finding_id": Finding, "file_id": FindingEvidence,
        "notification_id": Notification,  # one's own
        "email_id": OutboundEmail,  # no scope rule: administrators' alone
    }


def _constraints() -> dict:
    """What an id must be for the route to take it at all (a fund's page wants a fund, the
    confirm button a submitted record): ``{endpoint: {argument: SQL condition}}``. The ids
    outside the scope obey it too, so that only the scope makes them a 404."""
    from registry.organizations.models import Organization
    from registry.records.models import SupportRecord
    from registry.regions.models import Region
    from registry.scorecards.models import Scorecard
    from registry.transfer.models import TransferJob

    area = {"code": Region.level != "village"}  # a village has no coverage page of its own
    fund = {"org_id": Organization.kind == "charity"}
    draft = {"record_id": SupportRecord.status == "draft"}
    submitted = {"record_id": SupportRecord.status == "submitted"}
    return {
        **{f"dashboard.{name}": area for name in ("coverage", "download", "gaps_page", "gaps_export", "api_coverage",
                                                  "api_gaps")},
        "records.fund": fund, "records.fund_export": fund, "records.contribution_new": fund,
        "supervision.fund": fund, "supervision.fund_export": fund,
        "records.edit": draft, "records.submit": draft, "records.upload": draft,
        "records.confirm": submitted, "records.dispute": submitted, "records.withdraw": submitted,
        "offline.decide": submitted,
        "records.correct": {"record_id": SupportRecord.status == "confirmed"},
        "individuals.edit": {"org_id": Organization.kind == "individual"},
        "transfer.job_download": {"job_id": TransferJob.action == "export"},
        "scorecards.print_view": {"card_id": Scorecard.state == "published"},
        "transfer.job_errors": {"job_id": TransferJob.action == "import"},
    }


class Oracle:
    """What ``registry/scopes.py`` lets the persona see, asked once per object."""

    def __init__(self, user):
        self.user = user
        self._seen: dict = {}

    def sees(self, model, ident) -> bool:
        from registry.core.scope import in_scope

        if self.user is None:
            return False
        key = (model, str(ident))
        if key not in self._seen:
            pk = model.__mapper__.primary_key[0]
            try:
                value = pk.type.python_type(ident)
            except (TypeError, ValueError):
                return False
            self._seen[key] = in_scope(model, value, self.user)
        return self._seen[key]


@dataclass
class Values:
    """The values one route argument is tried with."""

    inside: list  # in the persona's scope (the first is used while another argument varies)
    outside: list  # existing, but outside the scope
    missing: list  # nothing has it


def _candidates(model, world, condition=None) -> list:
    from sqlalchemy import select

    from registry.extensions import db
    from registry.regions.models import Region

    pk = model.__mapper__.primary_key[0]
    stmt = select(pk)
    if model is Region:
        stmt = stmt.where(Region.code.in_(world.codes))
    if condition is not None:
        stmt = stmt.where(condition)
    found = list(db.session.scalars(stmt))
    if model is Region:  # from the top down: a region user's own region comes first
        return sorted(found, key=world.codes.index)
    return sorted(found)


def _model_values(model, world, oracle: Oracle, condition=None) -> Values:
    from registry.regions.models import Region

    found = _candidates(model, world, condition)
    inside = [c for c in found if oracle.sees(model, c)]
    outside = [c for c in found if not oracle.sees(model, c)]
    if model is Region:  # above the scope and beside it
        outside = list(dict.fromkeys(outside[:1] + outside[-1:]))
    else:
        outside = outside[:1]
    missing = [] if outside else [MISSING_CODE if model is Region else MISSING_ID]
    return Values(inside[:1], outside, missing)


def _import_kinds(user) -> Values:
    from registry.transfer.kinds import kinds

    known = kinds()
    allowed = [n for n in sorted(known) if user is not None and known[n].may(user)]  # the permission, and something to import
    return Values(allowed[:1], [n for n in sorted(known) if n not in allowed][:1], ["nothing"])


def argument_values(endpoint: str, arg: str, persona: str, world, oracle: Oracle) -> Values:
    models = _arg_models()
    if arg in models:
        return _model_values(models[arg], world, oracle, _constraints().get(endpoint, {}).get(arg))
    values = _named_values(arg, persona, world, oracle)
    if persona not in NOTHING_PERSONAS:
        values.missing = []
    return values


def _named_values(arg: str, persona: str, world, oracle: Oracle) -> Values:
    if arg == "fmt":
        return Values(["csv", "xlsx"] if persona in XLSX_PERSONAS else ["csv"], [], ["pdf"])
    if arg == "kind":
        return _import_kinds(oracle.user)
    if arg == "name":  # the chart tables of the coverage page; those without division codes once
        tables = ["coverage", "hierarchy"]
        return Values(tables + (CHART_TABLES_ONCE if persona == "county" else []), [], ["nothing"])
    if arg == "token":  # an import's error sheet: the persona's own, and another's
        others = [t for p, t in sorted(world.tokens.items()) if p != persona]
        return Values([world.tokens[persona]] if persona in world.tokens else [], others[:1], ["a" * 32])
    if arg == "filename":
        return Values(["favicon.svg"], [], ["nothing.css"])
    if arg == "part":  # a person's assessment page: its grades, its commendations and summons
        return Values(["grades", "incentives"], [], ["nothing"])
    raise AssertionError(f"route argument {arg!r} has no values: add it to argument_values")


# -- the requests ------------------------------------------------------------------------------

@dataclass
class Probe:
    method: str
    endpoint: str
    url: str
    case: str  # "in scope", or which argument is outside the scope or of nothing
    refused: bool = False  # a refusal is expected: asked for as JSON, which spares the error page's layout

    def __str__(self) -> str:
        return f"{self.method} {self.url} [{self.case}]"


def _query(endpoint: str, args) -> dict:
    """An export of personal data says what it is for."""
    return {"purpose": "路由矩阵测试"} if "fmt" in args and endpoint != "dashboard.download" else {}


def probes(app, rule, persona: str, world, oracle: Oracle) -> list[Probe]:
    from registry.extensions import db
    from registry.records.models import Evidence

    endpoint = rule.endpoint
    args = sorted(rule.arguments)
    values = {arg: argument_values(endpoint, arg, persona, world, oracle) for arg in args}
    if "evidence_id" in values and values["evidence_id"].inside:  # a file of that very record
        item = db.session.get(Evidence, values["evidence_id"].inside[0])
        values["record_id"].inside = [item.record_id]
    if "finding_id" in values and "file_id" in values and values["file_id"].inside:  # a file of that very finding
        from registry.inspections.models import FindingEvidence

        values["finding_id"].inside = [db.session.get(FindingEvidence, values["file_id"].inside[0]).finding_id]
    if "project_file_id" in values and values["project_file_id"].inside:  # a file of that very entry
        from registry.projects.models import ProjectEvidence

        item = db.session.get(ProjectEvidence, values["project_file_id"].inside[0])
        values["entry_id"].inside, values["project_id"].inside = [item.progress_id], [item.project_id]
    if "score_file_id" in values and values["score_file_id"].inside:  # a file of that very scorecard
        from registry.scorecards.models import ScoreFile

        values["card_id"].inside = [db.session.get(ScoreFile, values["score_file_id"].inside[0]).line.scorecard_id]
    adapter = app.url_map.bind("localhost")
    query = _query(endpoint, args)

    def url(chosen: dict) -> str:
        return adapter.build(endpoint, {**chosen, **query})

    methods = [m for m in ("GET", "POST") if m in rule.methods]
    found: list[Probe] = []
    first = {arg: (v.inside or v.outside or v.missing)[0] for arg, v in values.items()}
    if all(v.inside for v in values.values()):
        chosen = [first] + [first | {arg: value} for arg in args for value in values[arg].inside[1:]]
        found += [Probe(m, endpoint, url(c), "in scope") for c in chosen for m in methods]
    for arg in args:
        for label, others in (("outside the scope", values[arg].outside), ("of nothing", values[arg].missing)):
            found += [Probe(m, endpoint, url(first | {arg: v}), f"{arg}={v} {label}") for v in others for m in methods]
    if not found:
        found = [Probe(m, endpoint, url(first), "no values") for m in methods]
    return found


class Anonymous:
    """A client with no login that still carries a CSRF token, so that a POST reaches the
    login check instead of stopping at the token."""

    def __init__(self, client):
        from tests.conftest import session_csrf_token

        self.client = client
        self.token = session_csrf_token(client)

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, data=None, **kw):
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kw)


def _session(persona: str, app, db, world, login_as):
    if persona == "anonymous":
        return Anonymous(app.test_client())
    user = world.users[persona]
    session = login_as(user)
    if persona == "disabled":  # logged in, then the account is switched off
        user.active = False
        db.session.commit()
    return session


@dataclass
class Answer:
    status: int
    location: str
    mimetype: str
    body: bytes


def _answer(session, probe: Probe) -> Answer | str:
    """The answer, or the exception the request raised (as text)."""
    try:
        headers = {"Accept": "application/json"} if probe.refused else {}
        if probe.method == "GET":
            response = session.get(probe.url, headers=headers)
        else:
            response = session.post(probe.url, headers=headers)
        body = response.get_data()  # a streamed export raises here, if at all
        response.close()
    except Exception as error:  # noqa: BLE001 — a 5xx in the making: reported, not raised
        return f"{type(error).__name__}: {error}"
    return Answer(response.status_code, response.headers.get("Location", ""), response.mimetype, body)


SESSION_ENDERS = ("accounts.logout", "accounts.end_session", "accounts.end_sessions", "accounts.reset_password")


def _ordered(found: list[Probe]) -> list[Probe]:
    """GETs first; then the POSTs outside the scope (they must change nothing), then those
    in scope, deletions after the rest and the logout and the ending of sessions last
    (they end what others use)."""

    def key(probe: Probe):
        posting_in_scope = probe.method == "POST" and probe.case == "in scope"
        return (probe.method != "GET", probe.endpoint in SESSION_ENDERS, posting_in_scope,
                "delete" in probe.endpoint)

    return sorted(found, key=key)


def _verdict(probe: Probe, persona: str, answer: Answer) -> str | None:
    """Why the answer is wrong for ``persona``, or None if it is right."""
    expect, status = EXPECT[probe.endpoint], answer.status
    inside = probe.case == "in scope"
    if status >= 500:
        return f"answered {status}"
    if persona in TURNED_AWAY and not expect.public:
        if probe.url.startswith("/api/"):
            return None if status == 401 else f"expected 401, got {status}"
        if status == 302 and "/login" in answer.location:
            return None
        return f"expected the login page (302), got {status} {answer.location}"
    if persona not in expect.personas:
        return None if status in (403, 404) else f"expected 403 ({persona} may not), got {status}"
    if not inside:
        return None if status == 404 else f"expected 404, got {status}"
    if probe.method == "POST":
        return None if status not in (403, 404, 405) else f"expected the form's answer, got {status}"
    return None if status in expect.ok else f"expected {' or '.join(map(str, expect.ok))}, got {status}"


def _rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED), key=lambda r: r.rule)


# -- what the answers hold ----------------------------------------------------------------------

_LINK = re.compile(r'\shref="(/[^"#?]*)')
_IN_PARENS = re.compile(r"（([0-9A-Z]+)）$")
_CODE = re.compile(r"^\d{12}$")


def _xlsx_text(body: bytes) -> str:
    from registry.transfer.reading import read_grid

    return "\n".join(str(c) for row in read_grid(body, "export.xlsx").rows for c in row if c is not None)


def _parens(cell) -> str:
    match = _IN_PARENS.search(str(cell or ""))
    return match.group(1) if match else ""


class Lookups:
    """Natural keys of the world's rows (names are unique in it), to name an export's row."""

    def __init__(self):
        from sqlalchemy import select

        from registry.assessment.models import Assessment, Incentive
        from registry.duty.models import DutyMonth
        from registry.extensions import db
        from registry.organizations.models import Organization
        from registry.pairings.models import Pairing
        from registry.people.models import Person, Posting
        from registry.records.models import FundContribution, SupportRecord
        from registry.results.models import VillageResult
        from registry.training.models import Attendance, Training

        def pairs(stmt) -> dict:
            return {tuple(r[:-1]) if len(r) > 2 else r[0]: r[-1] for r in db.session.execute(stmt)}

        self.person = pairs(select(Person.name, Person.id))
        self.posting = pairs(select(Person.name, Posting.id).join(Person, Posting.person_id == Person.id))
        self.org = pairs(select(Organization.name, Organization.id))
        self.org_by_credit = pairs(select(Organization.credit_code, Organization.id))
        self.pairing = pairs(select(Pairing.organization_id, Pairing.region_code, Pairing.id))
        self.record = pairs(select(SupportRecord.title, SupportRecord.id))
        self.receipt = pairs(select(FundContribution.receipt_no, FundContribution.id))
        self.duty = {(name, f"{month:%Y-%m}"): i for name, month, i in db.session.execute(
            select(Person.name, DutyMonth.month, DutyMonth.id).join(Posting, DutyMonth.posting_id == Posting.id)
            .join(Person, Posting.person_id == Person.id))}
        self.result = pairs(select(VillageResult.village_code, VillageResult.year, VillageResult.id))
        self.attendance = pairs(select(Training.title, Person.name, Attendance.id)
                                .join(Training, Attendance.training_id == Training.id)
                                .join(Person, Attendance.person_id == Person.id))
        subjects = {}
        for model in (Assessment, Incentive):
            rows = db.session.scalars(select(model)).all()
            subjects[model] = {(r.person.name if r.person_id else r.organization.name, getattr(r, "year", None)): r.id
                               for r in rows}
        self.assessment = subjects[Assessment]
        self.incentive = {name: ident for (name, _), ident in subjects[Incentive].items()}
        self.training = pairs(select(Training.title, Training.id))
        from registry.projects.models import Project

        self.project = pairs(select(Project.name, Project.id))
        from registry.tolerance.models import FaultToleranceCase

        self.case = pairs(select(FaultToleranceCase.subject_title, FaultToleranceCase.id))

    def names(self) -> dict:
        """Every name the world gave (all begin with 矩阵) -> (Model, id)."""
        from registry.organizations.models import Organization
        from registry.people.models import Person
        from registry.records.models import SupportRecord
        from registry.training.models import Training

        found = {}
        from registry.projects.models import Project

        for model, named in ((Person, self.person), (Organization, self.org), (SupportRecord, self.record),
                             (Training, self.training), (Project, self.project)):
            found |= {name: (model, ident) for name, ident in named.items()}
        overlapping = [(a, b) for a in found for b in found if a != b and a in b]
        assert not overlapping, f"a world name inside another makes the name check see ghosts: {overlapping}"
        assert all(name.startswith(WORLD_PREFIX) for name in found), "Contents._present reads only from 矩阵 on"
        return found


def _project_model():
    from registry.projects.models import Project

    return Project


def _case_model():
    from registry.tolerance.models import FaultToleranceCase

    return FaultToleranceCase


def _user_id(username: str) -> int | None:
    from sqlalchemy import select

    from registry.accounts.models import User
    from registry.extensions import db

    return db.session.scalar(select(User.id).where(User.username == username))


def _export_rows() -> dict[str, Callable]:
    """Which object each row of an export is about: ``{endpoint: row -> [(Model, id)]}``
    (a row's cells by header); a row of no object in the world fails the check."""
    from registry.accounts.models import User
    from registry.assessment.models import Assessment, Incentive
    from registry.audit.models import AuditEvent
    from registry.duty.models import DutyMonth
    from registry.inspections.models import Finding, Inspection
    from registry.organizations.models import Organization
    from registry.pairings.models import Pairing
    from registry.people.models import Person, Posting
    from registry.records.models import FundContribution, SupportRecord
    from registry.regions.models import Region
    from registry.results.models import VillageResult
    from registry.training.models import Attendance

    def records(r, lk):
        return [(SupportRecord, lk.record.get(r["标题"]))]

    def fund_line(r, lk):
        if r["收支"] == "收入":
            return [(FundContribution, lk.receipt.get(r["收据编号或记录编号"]))]
        return [(SupportRecord, lk.record.get(r["事项"]))]

    def codes(r, lk):  # a chart table's rows by division code, where it has one
        return [(Region, r["代码"])] if _CODE.match(r.get("代码", "")) else []

    def scorecard(r, lk):  # the world has one scheme: a region has one scorecard
        from sqlalchemy import select

        from registry.extensions import db
        from registry.scorecards.models import Scorecard

        code = _parens(r["被考核地区"])
        return [(Scorecard, db.session.scalar(select(Scorecard.id).where(Scorecard.region_code == code)))]

    def year_close(r, lk):  # a region closes a year once
        from sqlalchemy import select

        from registry.closing.models import YearClose
        from registry.extensions import db

        return [(YearClose, db.session.scalar(select(YearClose.id).where(
            YearClose.region_code == _parens(r["关账单位"]), YearClose.year == int(r["年度"]))))]

    return {
        "people.export_people": lambda r, lk: [(Person, lk.person.get(r["姓名"]))],
        "people.export_postings": lambda r, lk: [(Posting, lk.posting.get(r["干部姓名"]))],
        "organizations.export": lambda r, lk: [(Organization, lk.org.get(r["单位名称"]))],
        "individuals.export": lambda r, lk: [(Person, lk.person.get(r["姓名"]))],
        "pairings.export": lambda r, lk: [(Pairing, lk.pairing.get(  # an individual helper: by name (no code)
            (lk.org_by_credit.get(_parens(r["帮扶主体"])) or lk.org.get(r["帮扶主体"]), _parens(r["结对地"]))))],
        "records.export": records,
        "projects.export": lambda r, lk: [(_project_model(), lk.project.get(r["项目名称"]))],
        "records.overdue_export": records,
        "records.fund_list_export": lambda r, lk: [(Organization, lk.org.get(r["组织名称"]))],
        "records.fund_export": fund_line,
        "duty.export": lambda r, lk: [(DutyMonth, lk.duty.get((r["姓名"], r["月份"][:7])))],
        "results.export": lambda r, lk: [(VillageResult, lk.result.get((_parens(r["村"]), int(r["年度"]))))],
        "training.export": lambda r, lk: [(Attendance, lk.attendance.get((r["培训主题"], r["姓名"])))],
        "assessment.export": lambda r, lk: [(Assessment, lk.assessment.get((r["姓名或单位"], int(r["年度"]))))],
        "assessment.incentives_export": lambda r, lk: [(Incentive, lk.incentive.get(r["姓名或单位"]))],
        "audit.export": lambda r, lk: [(AuditEvent, r["编号"])],
        "inspections.findings_export": lambda r, lk: [(Finding, r["编号"])],
        "inspections.export": lambda r, lk: [(Inspection, r["编号"])],
        "dashboard.gaps_export": lambda r, lk: [(Region, r["区划代码"])],
        "regions.export_villages": lambda r, lk: [(Region, r["村代码"])],
        "care.export": lambda r, lk: [(Person, lk.person.get(r["姓名"]))],
        "tolerance.export": lambda r, lk: [(_case_model(), lk.case.get(r["事项"]))],
        "dashboard.download": codes,
        "scorecards.export": scorecard,
        "scorecards.results_export": scorecard,
        "supervision.export": records,
        "closing.export": year_close,
        "accounts.users_export": lambda r, lk: [(User, _user_id(r["用户名"]))],
    }


# The audit trail records what happened in a region, drafts included (AuditEvent has a
# rule of its own, which the export's rows are checked against): names of things out of
# scope may stand in it.
NAMES_MAY_SHOW = {"audit.index", "audit.export"}


WORLD_PREFIX = "矩阵"  # every name the matrix's world gives begins with it


class Contents:
    """Checks what a 200 answer holds against the oracle; counts the export rows it read."""

    def __init__(self, app, oracle: Oracle, persona: str):
        self.adapter = app.url_map.bind("localhost")
        self.oracle = oracle
        self.persona = persona
        self.lookups = Lookups()
        self.exports = _export_rows()
        self.models = _arg_models()
        self.names = self.lookups.names()
        self.rows: dict[str, int] = {}  # rows checked, by export

    def problems(self, probe: Probe, answer: Answer) -> list[str]:
        found = []
        if answer.mimetype == "text/html":
            found += self._links(answer.body.decode("utf-8"))
        elif probe.endpoint in self.exports:
            found += self._sheet(probe, answer)
        elif answer.mimetype == "application/json":
            found += self._json(probe.endpoint, json.loads(answer.body))
        if probe.endpoint not in NAMES_MAY_SHOW:
            found += self._names(answer.body)
        return found

    def _names(self, body: bytes) -> list[str]:
        """The names of people, units, records and courses outside the scope appear nowhere."""
        text = body.decode("utf-8", "replace") if not body.startswith(b"PK") else _xlsx_text(body)
        present = self._present(text)
        return [f"shows {name!r} ({model.__name__} {ident}), outside the scope"
                for name, (model, ident) in self.names.items() if name in present and self._outside(model, ident)]

    def _present(self, text: str) -> set[str]:
        """The world's names that occur in ``text``: every name begins with 矩阵, so only
        the places where 矩阵 occurs are read (one look-up per length of name there),
        instead of searching the whole text once for every name."""
        lengths = self.__dict__.get("_lengths")
        if lengths is None:
            lengths = self._lengths = sorted({len(name) for name in self.names})
        found, at = set(), text.find(WORLD_PREFIX)
        while at >= 0:
            found.update(text[at:at + n] for n in lengths if text[at:at + n] in self.names)
            at = text.find(WORLD_PREFIX, at + 1)
        return found

    def _outside(self, model, ident) -> bool:
        return ident is None or not self.oracle.sees(model, ident)

    def _links(self, html: str) -> list[str]:
        from werkzeug.exceptions import HTTPException
        from werkzeug.routing import RequestRedirect

        found = []
        for path in dict.fromkeys(_LINK.findall(html)):
            try:
                endpoint, args = self.adapter.match(path, method="GET")
            except (HTTPException, RequestRedirect):
                continue
            for arg, value in args.items():
                model = self.models.get(arg)
                if model is not None and self._outside(model, value):
                    found.append(f"links to {path}: {model.__name__} {value} is outside the scope")
        return found

    def _sheet(self, probe: Probe, answer: Answer) -> list[str]:
        from registry.transfer.reading import read_grid

        grid = read_grid(answer.body, probe.url.split("?")[0])
        header = [str(c or "") for c in grid.rows[0]]
        found = []
        self.rows[probe.endpoint] = self.rows.get(probe.endpoint, 0) + len(grid.rows) - 1
        for n, cells in enumerate(grid.rows[1:], start=2):
            row = dict(zip(header, ("" if c is None else str(c) for c in cells)))
            try:
                about = self.exports[probe.endpoint](row, self.lookups)
            except KeyError as missing:
                return [f"the export has no column {missing} to tell its rows by (header: {header})"]
            for model, ident in about:
                if self._outside(model, ident):
                    found.append(f"row {n} ({model.__name__} {ident}, {list(row.values())[:4]}) is outside the scope")
        return found

    def _json(self, endpoint: str, data) -> list[str]:
        from registry.regions.models import Region

        found = []
        if endpoint == "dashboard.api_coverage":
            for code in [data["region"]["code"], *(c["code"] for c in data["children"])]:
                if self._outside(Region, code):
                    found.append(f"holds division {code}, outside the scope")
        elif endpoint == "offline.pages":  # every page and thumbnail a device keeps is in scope
            found += self._links("".join(f' href="{url}"' for url in [*data["pages"], *data["thumbs"]]))
        elif endpoint == "dashboard.api_gaps":
            for gap in data["gaps"]:
                for item in gap["items"]:
                    found += self._links(f' href="{item["url"]}"')
                    if item.get("code") and self._outside(Region, item["code"]):
                        found.append(f"gap {gap['kind']} names division {item['code']}, outside the scope")
        return found


# -- the tests -----------------------------------------------------------------------------------

def test_every_route_has_an_expectation(app):
    endpoints = {r.endpoint for r in _rules(app)}
    missing = sorted(endpoints - set(EXPECT))
    assert not missing, f"routes without an expectation in EXPECT (tests/test_route_matrix.py): {missing}"
    assert sorted(set(EXPECT) - endpoints) == [], "expectations of routes that no longer exist"
    assert {p for e in EXPECT.values() for p in e.personas} <= set(PERSONAS)


@pytest.mark.parametrize("persona", PERSONAS)
def test_route_matrix(persona, app, db, world, login_as):
    session = _session(persona, app, db, world, login_as)
    user = None if persona in TURNED_AWAY else world.users[persona]
    oracle = Oracle(user)
    found = []
    for rule in _rules(app):
        these = probes(app, rule, persona, world, oracle)
        expect = EXPECT.get(rule.endpoint)
        if expect is None:
            continue  # test_every_route_has_an_expectation names it
        if persona not in expect.personas or (persona in TURNED_AWAY and not expect.public):
            # turned away before any id is looked at: one request a method is enough
            these = [next(p for p in these if p.method == m) for m in dict.fromkeys(p.method for p in these)]
            for probe in these:
                probe.refused = persona not in TURNED_AWAY
        elif not any(p.case == "in scope" for p in these):
            pytest.fail(f"the world has nothing for {persona} to reach {rule.rule} with: give it some")
        else:
            for probe in these:
                probe.refused = probe.case != "in scope"
        found += these
    contents = Contents(app, oracle, persona)
    failures = []
    for probe in _ordered(found):
        answer = _answer(session, probe)
        if isinstance(answer, str):
            failures.append(f"{persona}: {probe}: raised {answer}")
            continue
        why = _verdict(probe, persona, answer)
        if why:
            failures.append(f"{persona}: {probe}: {why}")
        elif answer.status == 200 and user is not None and probe.method == "GET":
            failures += [f"{persona}: {probe}: {problem}" for problem in contents.problems(probe, answer)]
    assert not failures, f"{len(failures)} of {len(found)} answers are wrong:\n" + "\n".join(failures)
    if persona == "admin":  # who sees every row: no export's check may pass for want of rows
        assert [e for e in contents.exports if not contents.rows.get(e)] == []


def test_the_checks_find_what_lies_outside_the_scope(app, db, world):
    """The row checks themselves: a link, an export row and an API row about something
    outside the village's scope are each reported; those inside are not."""
    from registry.regions.models import Region
    from tests.factories import OTHER_COUNTY
    from tests.sheets import xlsx_bytes

    contents = Contents(app, Oracle(world.users["village"]), "village")
    ours, theirs = contents.lookups.person["矩阵干部甲一"], contents.lookups.person["矩阵干部乙"]
    page = Answer(200, "", "text/html", f'<a href="/people/{ours}">甲</a> <a href="/people/{theirs}">乙</a>'.encode())
    assert contents.problems(Probe("GET", "people.index", "/people/", "in scope"), page) == [
        f"links to /people/{theirs}: Person {theirs} is outside the scope"]
    sheet = Answer(200, "", "application/octet-stream", xlsx_bytes([["姓名"], ["矩阵干部甲一"], ["矩阵干部乙"]]))
    assert contents.problems(Probe("GET", "people.export_people", "/people/export.xlsx", "in scope"), sheet) == [
        f"row 3 (Person {theirs}, ['矩阵干部乙']) is outside the scope",
        f"shows '矩阵干部乙' (Person {theirs}), outside the scope"]
    village = world.codes[4]
    api = {"region": {"code": village}, "children": [{"code": village}, {"code": OTHER_COUNTY}]}
    answer = Answer(200, "", "application/json", json.dumps(api).encode())
    assert contents.problems(Probe("GET", "dashboard.api_coverage", "/api/v1/coverage/x", "in scope"), answer) == [
        f"holds division {OTHER_COUNTY}, outside the scope"]
    assert db.session.get(Region, village).level == "village"
