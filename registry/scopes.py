"""Who sees what: the scope rule of every model, in one place.

A rule says which rows of its model a (non-admin) user may see; ``core/scope.py`` applies
it to every list, lookup, export, chart and API call. Admins see everything, and a model
without a rule here is seen by admins only (``tests/test_scope_rules.py`` names those).

Roles: region staff and viewers see what lies under their region, a village user its
village, a unit what belongs to its organization, a cadre (驻村干部) what is about their
own person — with the exceptions spelled out below. A cadre moreover reaches only a few
pages (``core.access.for_cadres``): everything else is 404 to them.
The module sits above the models so that no model imports another to compute visibility;
``create_app`` imports it once (``web.register_extensions``).
"""
from __future__ import annotations

from sqlalchemy import and_, false, or_, select

from .accounts.models import ApiToken, LoginSession
from .assessment.models import Assessment, Incentive
from .audit.models import AuditEvent
from .care.models import CareRecord
from .chase.models import ChaseUp, Escalation
from .core.scope import (
    REGION_ROLES,
    personal_rule,
    STAFF,
    as_visible_as,
    by_org_or_region,
    by_region,
    region_clause,
    region_code_visible,
    scope_filter,
    scope_check,
    scope_rule,
)
from .notifications.models import Notification, NotificationPreference, NotificationProfile
from .dashboard.models import (AreaCut, AreaSummary, AreaYear, DayCount, GapDay, SupportCutTotal, SupportRollup,
                               SupportTotal, VillageStatus, VillageSupportLast)
from .closing.models import EvidenceMoved, ReopenRequest, YearClose
from .core.enums import INDIVIDUAL
from .duty.models import DutyMonth
from .inspections.models import Finding, FindingEvidence, Inspection, InspectionPlan, InspectionVisit
from .organizations.models import Organization
from .pairings.models import Pairing
from .projects.models import Project, ProjectConfirmation, ProjectEvidence, ProjectProgress, ProjectVillage
from .people.models import Person, Posting
from .records.models import Evidence, FundContribution, SupportRecord
from .regions.models import Region
from .tolerance.models import FaultToleranceCase
from .results.models import VillageResult
from .scorecards.models import Indicator, Scheme, ScoreFile, ScoreLine, Scorecard
from .training.models import Attendance, Training
from .transfer.models import TransferJob

# -- a cadre: their own person ---------------------------------------------------------

def _own_postings(user):
    """The ids of the postings of a cadre's person."""
    return select(Posting.id).where(Posting.person_id == user.person_id)


def _or_cadre(rule, own):
    """``rule`` for every role, but a cadre: ``own(user)``, about their own person."""
    return lambda user: own(user) if user.role == "cadre" else rule(user)


# -- the plain cases: a unit its own rows, the others what lies in their region -------

scope_rule(Pairing, by_org_or_region(Pairing.organization_id, Pairing.region_code))
scope_rule(Posting, _or_cadre(by_org_or_region(Posting.organization_id, Posting.region_code),
                              lambda user: Posting.person_id == user.person_id))
# a cadre's days in the village: those of their own postings
scope_rule(DutyMonth, _or_cadre(by_org_or_region(DutyMonth.organization_id, DutyMonth.region_code),
                                lambda user: DutyMonth.posting_id.in_(_own_postings(user))))
scope_rule(AuditEvent, by_org_or_region(AuditEvent.organization_id, AuditEvent.region_code))
# chase-ups and escalations: the unit that must act sees its own, the others those in their region
scope_rule(ChaseUp, by_org_or_region(ChaseUp.organization_id, ChaseUp.village_code))
scope_rule(Escalation, by_org_or_region(Escalation.organization_id, Escalation.village_code))

# summaries: region staff and viewers; the per-village ones also the village itself
scope_rule(SupportRollup, by_region(SupportRollup.region_code, STAFF))
scope_rule(SupportTotal, by_region(SupportTotal.region_code, STAFF))
scope_rule(SupportCutTotal, by_region(SupportCutTotal.region_code, STAFF))
scope_rule(AreaSummary, by_region(AreaSummary.area, STAFF))
scope_rule(AreaCut, by_region(AreaCut.area, STAFF))
scope_rule(AreaYear, by_region(AreaYear.area, STAFF))
scope_rule(DayCount, by_region(DayCount.region_code, STAFF))
scope_rule(GapDay, by_region(GapDay.region_code, STAFF))
scope_rule(VillageSupportLast, by_region(VillageSupportLast.village_code))
scope_rule(VillageStatus, by_region(VillageStatus.code))

# an import or export job (and its files) is its owner's alone, administrators' too: its
# file may be another office's people with their ID numbers
personal_rule(TransferJob, TransferJob.user_id)
# so is a login session or an API token (the account pages end or revoke only the user's
# own, administrators' included: accounts.sessions/tokens own_*_or_404)
scope_rule(LoginSession, lambda user: LoginSession.user_id == user.id)
scope_rule(ApiToken, lambda user: ApiToken.user_id == user.id)
# a notification, and a user's choices about them, are the user's alone: administrators too
# see only their own (notifications.services.own_or_404)
personal_rule(Notification, Notification.user_id)
personal_rule(NotificationPreference, NotificationPreference.user_id)
personal_rule(NotificationProfile, NotificationProfile.user_id)

# -- as visible as what they belong to -------------------------------------------------

scope_rule(Evidence, as_visible_as(Evidence.record_id, SupportRecord))
scope_rule(Attendance, as_visible_as(Attendance.person_id, Person))  # as the person it is about
scope_rule(EvidenceMoved, as_visible_as(EvidenceMoved.assessment_id, Assessment))  # as the grade it flags


# -- regions and villages: a unit sees those it helps -----------------------------------

def _helped_by_unit(code_column, user):
    """The villages and counties the user's unit is paired with or posts people to."""
    org = user.organization_id
    return or_(
        code_column.in_(select(Pairing.region_code).where(Pairing.organization_id == org)),
        code_column.in_(select(Posting.region_code).where(Posting.organization_id == org)),
    )


def _region_or_helped(code_column):
    in_region = by_region(code_column)
    return lambda user: _helped_by_unit(code_column, user) if user.role == "unit" else in_region(user)


# Region staff and viewers see their subtree, a village itself, a unit where it helps.
scope_rule(Region, _region_or_helped(Region.code))
# the same rule decided in Python for one code (a unit's villages: the database decides)
scope_check(Region, lambda user, code: None if user.role == "unit" else region_code_visible(code, user))
# A village's results: like the village itself.
scope_rule(VillageResult, _region_or_helped(VillageResult.village_code))


# -- enterprise projects -----------------------------------------------------------------

def _projects_touching(user):
    """The ids of the projects touching a village in the user's region (a village: itself)."""
    return select(ProjectVillage.project_id).where(region_clause(ProjectVillage.village_code, user))


@scope_rule(Project)
def _project(user):
    """An enterprise's unit sees its own projects; region staff and viewers those touching a
    village under their region; a village those touching it. Cadres: none."""
    if user.role == "unit":
        return Project.organization_id == user.organization_id
    if user.role in REGION_ROLES:
        return Project.id.in_(_projects_touching(user))
    return false()


# what belongs to a project is seen with it (a village sees the other villages' decisions on
# a project that touches it too: the confirmations are the project's public record)
scope_rule(ProjectVillage, as_visible_as(ProjectVillage.project_id, Project))
scope_rule(ProjectProgress, as_visible_as(ProjectProgress.project_id, Project))
scope_rule(ProjectConfirmation, as_visible_as(ProjectConfirmation.project_id, Project))
scope_rule(ProjectEvidence, as_visible_as(ProjectEvidence.project_id, Project))


# -- organizations and people -------------------------------------------------------------

def _whole_province(user) -> bool:
    """The user's region is the province: nearly every row lies in it."""
    return user.region is not None and user.region.level == "province"


def _seen_through(column, linked, link_column, user, *where):
    """Condition on ``column`` (an id): a row of ``linked`` (a ``Select`` of its
    ``link_column``, narrowed by ``where``) refers to it. For a region below the province,
    the list of the linked rows in it (``column IN (...)``): a county's pairings and
    postings are a few hundred. For the province, a correlated ``EXISTS`` instead: the list
    would be every pairing and posting of the province, built on every request (SQLite
    unions the arms of the OR from them: the organizations list read ~100,000 index
    entries), while the rule's first arm (based in the region) already holds for nearly
    every row and the ``EXISTS`` is looked up only for the others."""
    if _whole_province(user):
        # correlated with the column's own table only: a statement that reads the linked
        # table too (the pairings list) must not have it correlated away
        return linked.where(link_column == column, *where).correlate(column.table).exists()
    return column.in_(linked.where(*where))


@scope_rule(Organization)
def _organization(user):
    """A unit sees itself; region staff and viewers the organizations based in their region
    or helping in it; a village the organizations paired with or posted to it; a cadre
    their employer and the units that sent them (by name: no organization page opens to
    a cadre)."""
    if user.role == "unit":
        return Organization.id == user.organization_id
    if user.role == "cadre":
        return or_(Organization.id.in_(select(Person.organization_id).where(Person.id == user.person_id)),
                   Organization.id.in_(select(Posting.organization_id).where(Posting.person_id == user.person_id)))
    helping_here = or_(
        _seen_through(Organization.id, select(Pairing.organization_id), Pairing.organization_id, user,
                      region_clause(Pairing.region_code, user)),
        _seen_through(Organization.id, select(Posting.organization_id), Posting.organization_id, user,
                      region_clause(Posting.region_code, user)),
        # an enterprise investing here (企业项目): a project touching a village in the region
        _seen_through(Organization.id, select(Project.organization_id), Project.organization_id, user,
                      Project.id.in_(_projects_touching(user))),
    )
    if user.role in STAFF:
        return or_(region_clause(Organization.region_code, user), helping_here)
    if user.role == "village":
        return helping_here
    return false()


@scope_rule(Person)
def _person(user):
    """A unit sees its own people; region staff and viewers the people employed by
    organizations of their region or posted into it; a village the people posted to it.
    An individual helper (个人) is seen where it helps, as a cadre where posted: its
    person wherever the helper is paired with a village."""
    if user.role == "unit":
        return Person.organization_id == user.organization_id
    if user.role == "cadre":
        return Person.id == user.person_id
    posted_here = _seen_through(Person.id, select(Posting.person_id), Posting.person_id, user,
                                region_clause(Posting.region_code, user))
    helping_here = _seen_through(
        Person.organization_id,
        select(Pairing.organization_id).join(Organization, Organization.id == Pairing.organization_id),
        Pairing.organization_id, user, Organization.kind == INDIVIDUAL, region_clause(Pairing.region_code, user),
    )
    if user.role in STAFF:
        employed_here = Person.organization_id.in_(
            select(Organization.id).where(region_clause(Organization.region_code, user))
        )
        return or_(employed_here, posted_here, helping_here)
    if user.role == "village":
        return or_(posted_here, helping_here)
    return false()


# -- support records and funds ----------------------------------------------------------

@scope_rule(SupportRecord)
def _support_record(user):
    """A unit sees its own records, drafts included. A village sees the records filed for
    it, and region staff and viewers those of villages in their region, once submitted:
    a draft is not yet a claim anybody else has to look at."""
    if user.role == "unit":
        return SupportRecord.organization_id == user.organization_id
    if user.role in REGION_ROLES:
        return region_clause(SupportRecord.village_code, user) & SupportRecord.submitted_at.is_not(None)
    return false()


@scope_rule(FundContribution)
def _fund_contribution(user):
    """What a fund received: seen by the fund itself and by staff who may see the fund."""
    if user.role == "unit":
        return FundContribution.organization_id == user.organization_id
    if user.role in STAFF:
        return as_visible_as(FundContribution.organization_id, Organization)(user)
    return false()


# -- training and assessment ---------------------------------------------------------------

@scope_rule(Training)
def _training(user):
    """Region staff and viewers see the courses run in their jurisdiction and those run
    above it (a provincial course is for the whole province); units, villages and cadres
    the courses their people (a cadre: they themselves) attended."""
    if user.role in STAFF:
        above = user.region.ancestor_codes() if user.region is not None else []
        return or_(region_clause(Training.region_code, user), Training.region_code.in_(above))
    if user.role in ("unit", "village", "cadre"):
        return Training.id.in_(select(Attendance.training_id).where(scope_filter(Attendance, user)))
    return false()


def _unit_or_its_people(org_column, person_column, user):
    """About the user's unit itself, or about a person it employs."""
    its_people = select(Person.id).where(Person.organization_id == user.organization_id)
    return or_(org_column == user.organization_id, person_column.in_(its_people))


@scope_rule(Assessment)
def _assessment(user):
    """Region staff and viewers: grades given in their jurisdiction. A unit: its own
    grade and those of its people. A cadre: their own grades. Villages: none."""
    if user.role in STAFF:
        return region_clause(Assessment.region_code, user)
    if user.role == "unit":
        return _unit_or_its_people(Assessment.organization_id, Assessment.person_id, user)
    if user.role == "cadre":
        return Assessment.person_id == user.person_id
    return false()


@scope_rule(Incentive)
def _incentive(user):
    """Region staff and viewers: issued by their jurisdiction or about a subject working
    in it. A unit: about itself or its people. A cadre: about themselves (a summons about
    them is sent to them too). Villages: none."""
    if user.role in STAFF:
        return or_(region_clause(Incentive.region_code, user), region_clause(Incentive.subject_region_code, user))
    if user.role == "unit":
        return _unit_or_its_people(Incentive.organization_id, Incentive.person_id, user)
    if user.role == "cadre":
        return Incentive.person_id == user.person_id
    return false()


def _year_close_region(code_column, user):
    """Region staff and viewers: closes of their region, of the regions above it (which
    cover it) and of those below it."""
    if user.role not in STAFF or user.region is None:
        return false()
    return or_(region_clause(code_column, user), code_column.in_(user.region.ancestor_codes()))


@scope_rule(YearClose)
def _year_close(user):
    return _year_close_region(YearClose.region_code, user)


@scope_rule(ReopenRequest)
def _reopen_request(user):
    """As the close it reopens; and a requester sees the requests of their own region."""
    closes = select(YearClose.id).where(_year_close_region(YearClose.region_code, user))
    return ReopenRequest.year_close_id.in_(closes) if user.role in STAFF else false()


# -- inspections (督查) ------------------------------------------------------------------------

@scope_rule(InspectionPlan)
def _inspection_plan(user):
    """A plan: the inspecting jurisdiction and those above it (region staff and viewers). The
    inspected see their own inspections, not the whole plan."""
    return region_clause(InspectionPlan.region_code, user) if user.role in STAFF else false()


def _inspected(inspector_column, region_column, org_column):
    """An inspection or finding: region staff and viewers of the inspecting jurisdiction and
    above, and of the inspected region and above; a unit: those of its own department."""

    def rule(user):
        if user.role in STAFF:
            return or_(region_clause(inspector_column, user), region_clause(region_column, user))
        if user.role == "unit":
            return org_column == user.organization_id
        return false()

    return rule


scope_rule(Inspection, _inspected(Inspection.inspector_region_code, Inspection.target_region_code,
                                  Inspection.target_organization_id))
scope_rule(Finding, _inspected(Finding.inspector_region_code, Finding.target_region_code,
                               Finding.target_organization_id))
scope_rule(InspectionVisit, as_visible_as(InspectionVisit.inspection_id, Inspection))
scope_rule(FindingEvidence, as_visible_as(FindingEvidence.finding_id, Finding))
# -- 实绩考核 of cities and counties ----------------------------------------------------------

@scope_rule(Scheme)
def _scheme(user):
    """A scheme: staff and viewers of the assessing region (the province), not those assessed."""
    return region_clause(Scheme.region_code, user) if user.role in STAFF else false()


scope_rule(Indicator, as_visible_as(Indicator.scheme_id, Scheme))


@scope_rule(Scorecard)
def _scorecard(user):
    """Staff and viewers of the assessing region see every scorecard of its schemes; those
    of an assessed region (and of the regions above it, below the assessor) see it once it
    is published, and never another region's. Units, villages and cadres: none."""
    if user.role not in STAFF:
        return false()
    assessing = Scorecard.scheme_id.in_(select(Scheme.id).where(region_clause(Scheme.region_code, user)))
    published = and_(Scorecard.state == "published", region_clause(Scorecard.region_code, user))
    return or_(assessing, published)


scope_rule(ScoreLine, as_visible_as(ScoreLine.scorecard_id, Scorecard))
scope_rule(ScoreFile, as_visible_as(ScoreFile.line_id, ScoreLine))
# -- care and fault tolerance (issue 17) ---------------------------------------------------------

@scope_rule(CareRecord)
def _care_record(user):
    """Region staff and viewers: the care of cadres posted in their jurisdiction (the
    dispatching office always lies above the posting's place). A unit: its own postings'
    and its people's. A cadre: their own. Villages: none (it is personal)."""
    if user.role in STAFF:
        return region_clause(CareRecord.region_code, user)
    if user.role == "unit":
        return _unit_or_its_people(CareRecord.organization_id, CareRecord.person_id, user)
    if user.role == "cadre":
        return CareRecord.person_id == user.person_id
    return false()


@scope_rule(FaultToleranceCase)
def _fault_tolerance_case(user):
    """As the summons, grade or finding it is about: region staff and viewers where the
    subject works (a finding: the inspected region, or for a department's the inspecting
    one) or where the original decision was made (issued, graded, inspected); a unit about
    itself or its people (a case about a region's finding has no organization nor person:
    no unit sees it); a cadre about themselves. Villages: none."""
    if user.role in STAFF:
        return or_(region_clause(FaultToleranceCase.region_code, user),
                   region_clause(FaultToleranceCase.decider_region_code, user))
    if user.role == "unit":
        return _unit_or_its_people(FaultToleranceCase.organization_id, FaultToleranceCase.person_id, user)
    if user.role == "cadre":
        return FaultToleranceCase.person_id == user.person_id
    return false()
