"""The Audited mixin: a model names where its region and organization are, and audit
events carry them."""
from registry.core.audited import Audited, follow
from registry.organizations.models import Organization
from registry.people.models import Person
from registry.records.models import FundContribution
from registry.results.models import VillageResult
from registry.training.models import Attendance, Training


class _Thing:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_follow_walks_a_dotted_path_and_stops_at_a_missing_object():
    thing = _Thing(a=_Thing(b="x"), gone=None)
    assert follow(thing, "a.b") == "x"
    assert follow(thing, "gone.b") is None
    assert follow(thing, None) is None


def test_a_model_reads_its_own_columns(app):
    org = Organization(id=7, region_code="430100000000")
    assert (org.audit_region_code, org.audit_organization_id) == ("430100000000", 7)


def test_a_model_reads_through_related_objects(app):
    org = Organization(id=7, region_code="430100000000")
    assert FundContribution(organization=org, organization_id=7).audit_region_code == "430100000000"
    attendance = Attendance(training=Training(region_code="430000000000"), person=Person(organization_id=7))
    assert (attendance.audit_region_code, attendance.audit_organization_id) == ("430000000000", 7)


def test_a_missing_related_object_or_path_gives_none(app):
    assert Attendance().audit_region_code is None
    assert Attendance().audit_organization_id is None
    assert VillageResult(village_code="430102001001").audit_organization_id is None


AUDITED = {
    "Assessment", "Attendance", "ChaseUp", "DutyMonth", "Escalation", "Evidence", "FundContribution", "Incentive", "Organization",
    "Pairing", "Person", "Posting", "SupportRecord", "Training", "VillageResult",
    "InspectionPlan", "Inspection", "InspectionVisit", "Finding", "FindingEvidence",  # 督查
    "Scheme", "Indicator", "Scorecard", "ScoreLine", "ScoreFile",  # 实绩考核
    "CareRecord", "FaultToleranceCase",  # 关心关爱, 容错纠错
    "Project", "ProjectVillage", "ProjectProgress", "ProjectConfirmation", "ProjectEvidence",  # 企业项目
}


def test_the_audited_models_name_their_region(app):
    from registry.extensions import db

    audited = {m.class_ for m in db.Model.registry.mappers if issubclass(m.class_, Audited)}
    assert {cls.__name__ for cls in audited} == AUDITED
    assert all(cls.__audit_region__ is not None for cls in audited)
