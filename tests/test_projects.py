"""Enterprise projects (万企兴万村 / 湘商回归): who records them, status moves, the villages'
confirmation of each progress entry (only by the villages it affects), the sums by status
on the coverage page and the enterprise's page against a recount, scope, the export and
the supervision trail."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.projects import queries, services
from registry.projects.models import (
    Project,
    ProjectConfirmation,
    ProjectEvidence,
    ProjectProgress,
    ProjectVillage,
)
from registry.projects.services import ProgressData, ProjectData
from tests.factories import COUNTY, OTHER_COUNTY, make_org, make_pairing, make_village
from registry.pairings.models import Pairing
from tests.factories_records import png_bytes

TODAY = local_today()
SIGNED = TODAY - timedelta(days=200)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def census() -> tuple:
    return tuple(count(m) for m in (Project, ProjectVillage, ProjectProgress, ProjectConfirmation, ProjectEvidence,
                                    AuditEvent))


@pytest.fixture()
def world(db, make_user):
    """V1, V2 in COUNTY; V3 in OTHER_COUNTY. Enterprise E paired with V1, V2 and V3; a
    backing unit B; accounts for E, B, each village, the county and the other county."""
    from tests.conftest import built_once

    def build():
        v1, v2 = make_village(COUNTY, 1), make_village(COUNTY, 2)
        v3 = make_village(OTHER_COUNTY, 1)
        enterprise = make_org("enterprise", COUNTY, name="测试农业开发有限公司", level="county", is_xiangshang=True)
        other = make_org("enterprise", OTHER_COUNTY, name="测试食品有限公司", level="county")
        backing = make_org("backing_unit", COUNTY, name="测试后盾单位", level="county")
        for village in (v1, v2, v3):
            make_pairing(enterprise, village.code, "enterprise_village", start=SIGNED - timedelta(days=30))
        make_pairing(other, v3.code, "enterprise_village", start=SIGNED - timedelta(days=30))
        users = {
            "unit": make_user("unit", organization_id=enterprise.id),
            "other_unit": make_user("unit", organization_id=other.id),
            "backing": make_user("unit", organization_id=backing.id),
            "u1": make_user("village", village_code=v1.code),
            "u2": make_user("village", village_code=v2.code),
            "u3": make_user("village", village_code=v3.code),
            "county": make_user("region", region_code=COUNTY),
            "other_county": make_user("region", region_code=OTHER_COUNTY),
            "viewer": make_user("viewer", region_code=COUNTY),
        }
        return {"v1": v1, "v2": v2, "v3": v3, "enterprise": enterprise, "other": other, "backing": backing, **users}

    return built_once("projects.world", build)


def _project(w, villages=("v1", "v2"), user="unit", **over) -> Project:
    data = ProjectData(name=over.pop("name", "油茶精深加工项目"), kind=over.pop("kind", "industry"),
                       planned_investment=over.pop("planned", "500万"), signed_on=SIGNED.isoformat(),
                       villages=",".join(w[v].code for v in villages), **over)
    return services.create_project(w[user], data)


def _progress(w, project, user="unit", **over) -> ProjectProgress:
    values = {"entry_date": (SIGNED + timedelta(days=30)).isoformat()}
    values.update(over)
    return services.record_progress(project, w[user], ProgressData(**values))


# -- recording -----------------------------------------------------------------------------------

def test_an_enterprise_records_a_project_in_its_paired_villages(world):
    project = _project(world)
    assert (project.status, project.planned_investment, project.is_xiangshang) == ("signed", Decimal("5000000.00"), True)
    assert project.village_codes == [world["v1"].code, world["v2"].code]
    assert project.lead_village_code == world["v1"].code
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Project"))
    assert event.action == "create" and event.organization_id == world["enterprise"].id


def test_the_flag_can_differ_from_the_enterprises(world):
    assert _project(world, is_xiangshang=False).is_xiangshang is False


def test_only_an_enterprise_has_projects(world):
    before = census()
    with pytest.raises(RuleViolation, match="只有企业"):
        _project(world, user="backing")
    assert census() == before


def test_a_unit_names_only_villages_it_is_bound_to(world):
    stranger = make_village(COUNTY, 5)
    before = census()
    with pytest.raises(RuleViolation) as refused:
        services.create_project(world["unit"], ProjectData(name="甲", kind="industry", planned_investment="1",
                                                           signed_on=SIGNED.isoformat(), villages=stranger.code))
    assert "不是本单位结对或选派的村" in refused.value.errors["villages"][0]
    assert census() == before


def test_region_staff_record_for_an_enterprise_in_villages_under_them(world):
    project = _project(world, villages=("v1",), user="county", organization_id=world["enterprise"].id)
    assert project.organization_id == world["enterprise"].id
    before = census()
    with pytest.raises(RuleViolation) as refused:
        _project(world, villages=("v3",), user="county", organization_id=world["enterprise"].id)
    assert "不是本辖区的村" in refused.value.errors["villages"][0]
    with pytest.raises(RuleViolation) as refused:  # an enterprise the county does not see
        _project(world, villages=("v1",), user="county", organization_id=world["other"].id)
    assert "organization_id" in refused.value.errors
    assert census() == before


@pytest.mark.parametrize("over, field", [
    ({"name": ""}, "name"), ({"kind": "mining"}, "kind"), ({"planned": "-5"}, "planned_investment"),
    ({"planned": "五百万"}, "planned_investment"), ({"villages": ()}, "villages"),
])
def test_bad_projects_are_refused_naming_the_field(world, over, field):
    before = census()
    with pytest.raises(RuleViolation) as refused:
        _project(world, **over)
    assert field in refused.value.errors
    assert census() == before


# -- status moves -------------------------------------------------------------------------------

def test_status_goes_signed_building_operating_with_dates(world):
    project = _project(world)
    _progress(world, project, status_to="building", entry_date=(SIGNED + timedelta(days=10)).isoformat())
    _progress(world, project, status_to="operating", entry_date=(SIGNED + timedelta(days=100)).isoformat())
    assert project.status == "operating"
    assert project.started_on == SIGNED + timedelta(days=10) and project.operating_on == SIGNED + timedelta(days=100)


@pytest.mark.parametrize("path, refused", [
    ((), "operating"),  # a step skipped
    (("building",), "signed"),  # backwards
    (("building", "operating"), "building"),
    (("building", "operating"), "operating"),  # to the same status
])
def test_refused_status_moves_write_nothing(world, path, refused):
    project = _project(world)
    for status in path:
        _progress(world, project, status_to=status)
    before = census()
    with pytest.raises(RuleViolation) as error:
        _progress(world, project, status_to=refused)
    assert "status_to" in error.value.errors
    assert census() == before


def test_termination_needs_a_reason_and_ends_everything(world):
    project = _project(world)
    before = census()
    with pytest.raises(RuleViolation) as error:
        _progress(world, project, status_to="terminated")
    assert error.value.errors["end_reason"] == ["终止项目须填写终止原因"]
    assert census() == before
    _progress(world, project, status_to="terminated", end_reason="企业资金链断裂")
    assert (project.status, project.end_reason) == ("terminated", "企业资金链断裂")
    with pytest.raises(RuleViolation, match="已终止"):
        _progress(world, project, note="复工")
    with pytest.raises(RuleViolation, match="已终止"):
        services.update_project(project, world["unit"], ProjectData(name="新名", kind="industry", planned_investment="1",
                                                                   signed_on=SIGNED.isoformat(), villages=world["v1"].code))


def test_a_progress_entry_cannot_predate_the_signing_or_be_empty(world):
    project = _project(world)
    with pytest.raises(RuleViolation) as error:
        _progress(world, project, entry_date=(SIGNED - timedelta(days=1)).isoformat(), note="x")
    assert "entry_date" in error.value.errors
    with pytest.raises(RuleViolation) as error:
        _progress(world, project)
    assert "至少一项" in error.value.errors["note"][0]


def test_another_enterprise_cannot_record_progress(world):
    project = _project(world)
    before = census()
    with pytest.raises(RuleViolation):
        services.record_progress(project, world["other_unit"], ProgressData(entry_date=TODAY.isoformat(), note="x"))
    assert census() == before


# -- confirmation by the villages it affects --------------------------------------------------------

def test_each_affected_village_confirms_and_the_confirmed_figure_follows(world):
    project = _project(world)
    entry = _progress(world, project, actual_investment="120万", local_jobs="35")
    assert project.actual_investment == Decimal("1200000.00") and project.local_jobs == 35
    assert sorted(c.village_code for c in entry.confirmations) == [world["v1"].code, world["v2"].code]
    services.confirm_progress(entry, world["u1"])
    assert project.confirmed_investment == Decimal("0.00")  # V2 has not decided yet
    services.confirm_progress(entry, world["u2"])
    assert project.confirmed_investment == Decimal("1200000.00")
    later = _progress(world, project, actual_investment="200万", entry_date=(SIGNED + timedelta(days=60)).isoformat())
    services.confirm_progress(later, world["u1"])
    services.dispute_progress(later, world["u2"], "实际到位不足200万")
    assert project.actual_investment == Decimal("2000000.00")
    assert project.confirmed_investment == Decimal("1200000.00")  # the disputed figure does not count
    assert later.confirmation_state == "disputed"


def test_a_village_the_project_does_not_touch_cannot_confirm_its_investment(world, login_as):
    """The acceptance rule: V3 is not among the project's villages."""
    project = _project(world)
    entry = _progress(world, project, actual_investment="120万")
    before = census()
    with pytest.raises(RuleViolation, match="本村不涉及"):
        services.confirm_progress(entry, world["u3"])
    session = login_as(world["u3"])
    assert session.post(f"/projects/{project.id}/progress/{entry.id}/confirm", data={}).status_code == 404
    assert session.post(f"/projects/{project.id}/progress/{entry.id}/dispute", data={"reason": "x"}).status_code == 404
    assert session.get(f"/projects/{project.id}").status_code == 404
    assert census() == before
    assert all(c.state == "pending" for c in entry.confirmations)


def test_a_village_not_affected_by_one_entry_cannot_decide_it(world, login_as):
    project = _project(world)
    entry = services.record_progress(project, world["unit"], ProgressData(
        entry_date=TODAY.isoformat(), actual_investment="10万", villages=[world["v1"].code]))
    before = census()
    with pytest.raises(RuleViolation, match="本村不涉及"):
        services.confirm_progress(entry, world["u2"])
    response = login_as(world["u2"]).post(f"/projects/{project.id}/progress/{entry.id}/confirm", data={})
    assert response.status_code == 302  # the project is V2's, the entry is not: refused with a message
    assert census() == before


def test_only_village_accounts_decide_and_only_once(world, login_as):
    project = _project(world)
    entry = _progress(world, project, note="完成土地流转")
    assert login_as(world["county"]).post(f"/projects/{project.id}/progress/{entry.id}/confirm").status_code == 403
    assert login_as(world["unit"]).post(f"/projects/{project.id}/progress/{entry.id}/confirm").status_code == 403
    with pytest.raises(RuleViolation):
        services.confirm_progress(entry, world["county"])
    session = login_as(world["u1"])
    assert session.post(f"/projects/{project.id}/progress/{entry.id}/confirm").status_code == 302
    before = census()
    with pytest.raises(RuleViolation, match="已对该进展作出处理"):
        services.dispute_progress(entry, world["u1"], "反悔")
    assert census() == before


def test_a_dispute_needs_a_reason_and_tells_the_enterprise(world, login_as):
    from registry.notifications.models import Notification

    project = _project(world)
    entry = _progress(world, project, actual_investment="50万")
    session = login_as(world["u1"])
    before = census()
    response = session.post(f"/projects/{project.id}/progress/{entry.id}/dispute", data={"reason": "  "})
    assert response.status_code == 422 and "提出异议须填写理由" in response.get_data(as_text=True)
    assert census() == before
    response = session.post(f"/projects/{project.id}/progress/{entry.id}/dispute", data={"reason": "资金未到村"})
    assert response.status_code == 302
    row = db.session.scalar(select(ProjectConfirmation).where(ProjectConfirmation.village_code == world["v1"].code))
    assert (row.state, row.reason) == ("disputed", "资金未到村")
    assert db.session.scalar(select(Notification.kind).where(Notification.user_id == world["unit"].id,
                                                             Notification.kind == "project_disputed"))


def test_a_dispute_tells_the_county_staff_who_recorded_the_entry(world, login_as):
    """A county that registers a project and records its progress for the enterprise hears
    of a village's dispute as the enterprise does (each told once)."""
    from registry.notifications.models import Notification

    project = _project(world, user="county", organization_id=world["enterprise"].id)
    entry = _progress(world, project, user="county", actual_investment="50万")
    response = login_as(world["u1"]).post(f"/projects/{project.id}/progress/{entry.id}/dispute",
                                          data={"reason": "资金未到村"}, follow_redirects=True)
    assert "已告知企业和填报人" in response.get_data(as_text=True)
    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "project_disputed")).all()
    assert sorted(told) == sorted([world["county"].id, world["unit"].id])


# -- evidence --------------------------------------------------------------------------------------

def test_evidence_is_kept_by_the_records_storage_and_served_in_scope(world, login_as):
    from werkzeug.datastructures import FileStorage

    from registry.records import evidence as files

    project = _project(world)
    entry = services.record_progress(project, world["unit"], ProgressData(entry_date=TODAY.isoformat(), note="开工"),
                                     [FileStorage(io.BytesIO(png_bytes()), filename="工地.png")])
    item = entry.evidence[0]
    assert files.file_store().exists(files.key_of(item.stored_name))
    url = f"/projects/{project.id}/progress/{entry.id}/evidence/{item.id}"
    response = login_as(world["u1"]).get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    response.close()
    assert login_as(world["u3"]).get(url).status_code == 404
    assert login_as(world["other_unit"]).get(url).status_code == 404


def test_a_disguised_file_is_refused_and_nothing_written(world):
    from werkzeug.datastructures import FileStorage

    project = _project(world)
    before = census()
    with pytest.raises(RuleViolation) as error:
        services.record_progress(project, world["unit"], ProgressData(entry_date=TODAY.isoformat(), note="x"),
                                 [FileStorage(io.BytesIO(b"<html>x</html>"), filename="x.png")])
    assert "files" in error.value.errors
    assert census() == before


# -- scope ----------------------------------------------------------------------------------------

def test_scope_unit_region_village(world):
    from registry.core.scope import in_scope

    here = _project(world, villages=("v1",))
    there = _project(world, villages=("v3",), name="外县项目")
    both = _project(world, villages=("v2", "v3"), name="跨县项目")
    seen = {name: {p.id for p in db.session.scalars(queries.project_list(world[name], queries.ProjectFilters()))}
            for name in ("unit", "other_unit", "backing", "u1", "u2", "u3", "county", "other_county", "viewer")}
    assert seen["unit"] == {here.id, there.id, both.id}
    assert seen["other_unit"] == set() and seen["backing"] == set()
    assert seen["u1"] == {here.id} and seen["u2"] == {both.id} and seen["u3"] == {there.id, both.id}
    assert seen["county"] == seen["viewer"] == {here.id, both.id}
    assert seen["other_county"] == {there.id, both.id}
    entry = _progress(world, both, note="开工")
    assert in_scope(ProjectProgress, entry.id, world["u3"]) and not in_scope(ProjectProgress, entry.id, world["u1"])


def test_a_village_and_the_region_see_the_enterprise_investing_there(world):
    from registry.core.scope import in_scope

    assert not in_scope(type(world["enterprise"]), world["other"].id, world["county"])
    services.create_project(world["other_unit"], ProjectData(
        name="外企项目", kind="consumption", planned_investment="10万", signed_on=SIGNED.isoformat(), villages=world["v3"].code))
    assert in_scope(type(world["enterprise"]), world["other"].id, world["other_county"])
    assert not in_scope(type(world["enterprise"]), world["other"].id, world["county"])


def test_pages_in_scope(world, login_as):
    project = _project(world, villages=("v1",))
    for name, status in (("unit", 200), ("u1", 200), ("county", 200), ("viewer", 200), ("u2", 404),
                         ("other_county", 404), ("other_unit", 404)):
        assert login_as(world[name]).get(f"/projects/{project.id}").status_code == status, name
    assert login_as(world["viewer"]).get(f"/projects/{project.id}/edit").status_code == 403
    assert login_as(world["backing"]).get("/projects/new").status_code == 403
    assert login_as(world["unit"]).get("/projects/new").status_code == 200


# -- sums: coverage and the enterprise's page against a recount ----------------------------------------

def _recount(projects, status=None):
    chosen = [p for p in projects if status is None or p.status == status]
    return len(chosen), sum((p.planned_investment for p in chosen), Decimal(0)), \
        sum((p.actual_investment for p in chosen), Decimal(0))


def test_sums_by_status_equal_a_recount(world, login_as):
    from registry.regions.models import Region

    a = _project(world, villages=("v1", "v2"), planned="300万")  # two villages of the county: counted once
    b = _project(world, villages=("v2",), planned="80万", name="乙", is_xiangshang=False)
    c = _project(world, villages=("v3",), planned="40万", name="丙")
    _progress(world, a, status_to="building", actual_investment="100万")
    _progress(world, b, status_to="terminated", end_reason="选址调整", actual_investment="5万")
    county = db.session.get(Region, COUNTY)
    totals = queries.region_totals(county)
    in_county = [a, b]
    for status in ("signed", "building", "operating", "terminated"):
        line = totals.of(status)
        assert (line.count, line.planned, line.actual) == _recount(in_county, status), status
    assert (totals.total.count, totals.total.planned, totals.total.actual) == _recount(in_county)
    flagged = queries.region_totals(county, "1")
    assert (flagged.total.count, flagged.total.planned) == _recount([a])[:2]
    assert queries.region_totals(county, "0").total.count == 1
    # the enterprise's page, as the enterprise sees it (every project) and as the county does
    mine = queries.organization_totals(world["enterprise"].id, world["unit"])
    assert (mine.total.count, mine.total.planned) == _recount([a, b, c])[:2]
    theirs = queries.organization_totals(world["enterprise"].id, world["county"])
    assert (theirs.total.count, theirs.total.planned) == _recount(in_county)[:2]
    # and the pages show them
    body = login_as(world["county"]).get(f"/coverage/{COUNTY}?xiangshang=1").get_data(as_text=True)
    assert "企业项目" in body and "300.00 万元" in body
    body = login_as(world["unit"]).get(f"/organizations/{world['enterprise'].id}").get_data(as_text=True)
    assert "企业项目" in body and "420.00 万元" in body


def _api_recount(user, region_code: str, flag: bool | None = None) -> dict:
    """Independently of ``queries``: the projects ``user`` may see that touch a village under
    ``region_code``, each once, summed by status from the Project table."""
    from registry.core.scope import scoped

    prefix = region_code.rstrip("0")
    visible = db.session.scalars(scoped(select(Project), Project, user)).all()
    chosen = [p for p in visible if any(code.startswith(prefix) for code in p.village_codes)
              and (flag is None or p.is_xiangshang is flag)]
    out = {}
    for status in ("signed", "building", "operating", "terminated", None):
        some = [p for p in chosen if status is None or p.status == status]
        out[status or "total"] = {
            "count": len(some), "planned": sum((p.planned_investment for p in some), Decimal(0)),
            "actual": sum((p.actual_investment or Decimal(0) for p in some), Decimal(0)),
            "jobs": sum(p.local_jobs or 0 for p in some)}
    return out


def _api_sums(answer: dict) -> dict:
    def line(x):
        return {"count": x["count"], "planned": Decimal(x["planned"]), "actual": Decimal(x["actual"]),
                "jobs": x["jobs"]}

    return {**{x["status"]: line(x) for x in answer["by_status"]}, "total": line(answer["total"])}


def test_the_coverage_api_sums_the_projects_by_status_with_the_flag(world, login_as):
    """/api/v1/coverage/<code> carries the coverage card's project sums (``projects``): equal
    to a recount from the Project table in the reader's scope; ``?xiangshang=`` filters them,
    and a value not among 1, 0 or blank is refused naming the field."""
    a = _project(world, villages=("v1", "v2"), planned="300万")
    b = _project(world, villages=("v2",), planned="80万", name="乙", is_xiangshang=False)
    _project(world, villages=("v3",), planned="40万", name="丙")  # the other county's
    _progress(world, a, status_to="building", actual_investment="100万", local_jobs="12")
    _progress(world, b, status_to="terminated", end_reason="选址调整", actual_investment="5万")
    county = login_as(world["county"])

    answer = county.get(f"/api/v1/coverage/{COUNTY}").get_json()["projects"]
    assert answer["xiangshang"] is None and answer["xiangshang_label"] == "全部项目"
    assert _api_sums(answer) == _api_recount(world["county"], COUNTY)
    assert answer["total"]["count"] == 2 and Decimal(answer["total"]["planned"]) == Decimal("3800000")
    assert answer["total"]["jobs"] == 12
    confirmed = sum((p.confirmed_investment or Decimal(0) for p in (a, b)), Decimal(0))
    assert Decimal(answer["total"]["confirmed"]) == confirmed

    flagged = county.get(f"/api/v1/coverage/{COUNTY}?xiangshang=1").get_json()["projects"]
    assert flagged["xiangshang"] == "1" and flagged["xiangshang_label"] == "湘商回归项目"
    assert _api_sums(flagged) == _api_recount(world["county"], COUNTY, True)
    assert flagged["total"]["count"] == 1 and _api_sums(flagged) != _api_sums(answer)
    others = county.get(f"/api/v1/coverage/{COUNTY}?xiangshang=0").get_json()["projects"]
    assert _api_sums(others) == _api_recount(world["county"], COUNTY, False)
    assert others["by_status"][[x["status"] for x in others["by_status"]].index("terminated")]["count"] == 1
    # the other county's staff: its own project only
    theirs = login_as(world["other_county"]).get(f"/api/v1/coverage/{OTHER_COUNTY}").get_json()["projects"]
    assert _api_sums(theirs) == _api_recount(world["other_county"], OTHER_COUNTY)
    assert theirs["total"]["count"] == 1

    for bad in ("2", "yes", "湘商"):
        refused = county.get(f"/api/v1/coverage/{COUNTY}?xiangshang={bad}")
        assert refused.status_code == 422, bad
        assert refused.get_json()["errors"] == {"xiangshang": [queries.XIANGSHANG_INVALID]}
    # the page ignores such a value, as it does for its other choices
    assert county.get(f"/coverage/{COUNTY}?xiangshang=2").status_code == 200


def test_the_list_filters_by_the_flag_and_status(world, login_as):
    a = _project(world, villages=("v1",), name="湘商甲")
    _project(world, villages=("v1",), name="本地乙", is_xiangshang=False)
    _progress(world, a, status_to="building")
    session = login_as(world["county"])
    body = session.get("/projects/?xiangshang=1").get_data(as_text=True)
    assert "湘商甲" in body and "本地乙" not in body
    body = session.get("/projects/?status=signed").get_data(as_text=True)
    assert "本地乙" in body and "湘商甲" not in body


# -- export ---------------------------------------------------------------------------------------

def test_export_follows_the_filters_and_scope(world, login_as):
    _project(world, villages=("v1",), name="县内项目")
    _project(world, villages=("v3",), name="外县项目")
    response = login_as(world["county"]).get("/projects/export.csv")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [r["项目名称"] for r in rows] == ["县内项目"]
    assert rows[0]["计划投资（元）"] in ("5000000.00", "5000000")
    assert "联系电话" not in rows[0]
    xlsx = login_as(world["county"]).get("/projects/export.xlsx?xiangshang=0")
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")


# -- the supervision trail ----------------------------------------------------------------------------

def test_history_holds_creation_progress_confirmations_and_evidence(world, login_as):
    from werkzeug.datastructures import FileStorage

    project = _project(world, villages=("v1", "v3"))
    entry = services.record_progress(project, world["unit"], ProgressData(
        entry_date=TODAY.isoformat(), status_to="building", actual_investment="60万"),
        [FileStorage(io.BytesIO(png_bytes()), filename="开工.png")])
    services.confirm_progress(entry, world["u1"])
    services.dispute_progress(entry, world["u3"], "未见开工")
    trail = queries.project_history(project)
    kinds = [(t.entity, t.action) for t in trail]
    assert kinds[0] == ("项目", "新增")
    assert ("佐证材料", "上传佐证") in kinds and ("进展", "新增") in kinds and ("项目", "项目进展") in kinds
    assert ("村确认", "确认") in kinds and ("村确认", "提出异议") in kinds
    # a viewer of the county sees the whole trail on the page, the other county's decision too
    body = login_as(world["viewer"]).get(f"/projects/{project.id}").get_data(as_text=True)
    assert "全过程记录" in body and "未见开工" in body


# -- demo data ------------------------------------------------------------------------------------

def test_demo_projects_obey_the_rules(world):
    """The demo step, on the world's two enterprises marked 示例 (the whole demo is built by
    the dashboard tests; this step alone is checked here, cheaply): 示例 projects in the
    enterprise's paired villages, some 湘商回归, in several statuses; each project's figures
    are what its entries say, as the services would have written them."""
    import random

    from registry.demo import DemoContext
    from registry.projects.demo import projects as demo_step

    for org in (world["enterprise"], world["other"]):
        org.is_demo = True
    db.session.commit()
    for seed in range(3):
        db.session.execute(ProjectConfirmation.__table__.delete())
        db.session.execute(ProjectProgress.__table__.delete())
        db.session.execute(ProjectVillage.__table__.delete())
        db.session.execute(Project.__table__.delete())
        db.session.commit()
        db.session.expunge_all()  # the rows just deleted are no longer anybody's
        demo_step(DemoContext(rng=random.Random(seed), echo=lambda *_: None))
        db.session.commit()
        made = db.session.scalars(select(Project)).all()
        assert made and all(p.is_demo and "示例" in p.name for p in made)
        for p in made:
            assert p.is_xiangshang == p.organization.is_xiangshang
            assert p.confirmed_investment == services.confirmed_investment(p.id)
            assert (p.status == "terminated") == bool(p.end_reason)
            paired = set(db.session.scalars(select(Pairing.region_code).where(Pairing.organization_id == p.organization_id)))
            assert set(p.village_codes) <= paired
            moves = [(e.status_from, e.status_to) for e in p.progress]
            assert all(services.STATUS_MOVES[a] and b in services.STATUS_MOVES[a] for a, b in moves)
            assert p.status == (moves[-1][1] if moves else "signed")
            for e in p.progress:
                assert {c.village_code for c in e.confirmations} == set(p.village_codes)
    assert {p.status for p in made} != {"signed"}


def test_editing_keeps_the_villages_that_decided_and_is_audited(world, login_as):
    project = _project(world)
    entry = _progress(world, project, note="开工")
    services.confirm_progress(entry, world["u2"])
    data = ProjectData(name="油茶精深加工项目（二期）", kind="industry", planned_investment="600万",
                       signed_on=SIGNED.isoformat(), villages=world["v1"].code)
    before = census()
    with pytest.raises(RuleViolation) as error:  # V2 confirmed an entry: it stays in the project
        services.update_project(project, world["unit"], data)
    assert "不能移出项目" in error.value.errors["villages"][0]
    assert census() == before
    data.villages = f"{world['v2'].code}\n{world['v1'].code}"
    services.update_project(project, world["unit"], data)
    assert (project.name, project.planned_investment) == ("油茶精深加工项目（二期）", Decimal("6000000.00"))
    assert project.lead_village_code == world["v2"].code
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Project", AuditEvent.action == "update"))
    assert '"planned_investment":"5000000.00"' in event.before and "6000000.00" in event.after
    stale = login_as(world["unit"]).post(f"/projects/{project.id}/edit", data={
        "name": "又改", "kind": "industry", "planned_investment": "1", "signed_on": SIGNED.isoformat(),
        "villages": world["v1"].code, "version": "1"})
    assert stale.status_code == 422 and "已被他人修改" in stale.get_data(as_text=True)


def test_an_edit_missing_a_field_names_it_and_shows_no_stored_rows(world, login_as):
    """A POST without the villages (a client that is not the page's form) is refused on that
    field; the form shown again holds what was sent, not the project's rows as Python
    objects (it once showed ``[<ProjectVillage 8>]`` in the field and in its error)."""
    project = _project(world)
    before = census()
    answer = login_as(world["unit"]).post(f"/projects/{project.id}/edit", data={
        "name": "又改", "kind": "industry", "planned_investment": "1", "signed_on": SIGNED.isoformat(),
        "version": str(project.version)})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "涉及村" in page
    assert "ProjectVillage" not in page and "&lt;" not in page.split("<textarea", 1)[1].split("</textarea>", 1)[0]
    assert census() == before


# -- import ---------------------------------------------------------------------------------------

IMPORT_HEADER = ["企业", "项目名称", "项目类型", "湘商回归", "计划投资（元）", "签约日期", "涉及村", "项目简介"]


def _import(user, rows):
    from registry.projects.imports import ProjectImport
    from registry.transfer.importing import run_import
    from tests.sheets import xlsx_bytes

    return run_import(ProjectImport(), xlsx_bytes([IMPORT_HEADER, *rows]), "p.xlsx", user, update=False)


def test_import_registers_projects_all_or_nothing(world):
    e = world["enterprise"]
    good = [e.name, "蔬菜大棚", "产业", "", "80万", SIGNED.isoformat(), f"{world['v1'].code}、{world['v2'].code}", ""]
    stranger = make_village(COUNTY, 7)
    bad = [e.name, "冷库", "基础设施", "否", "30万", SIGNED.isoformat(), stranger.code, ""]
    before = census()
    report = _import(world["unit"], [good, bad])
    assert not report.ok and census() == before
    assert [(err.row, err.column) for err in report.errors] == [(3, "villages")]
    report = _import(world["unit"], [good])
    assert report.ok and report.created == 1
    project = db.session.scalar(select(Project).where(Project.name == "蔬菜大棚"))
    assert (project.is_xiangshang, project.planned_investment, project.status) == (True, Decimal("800000.00"), "signed")
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "Project")))
    assert {"create", "import_projects"} <= actions  # each project as the form writes it, and the import
    again = _import(world["unit"], [good])
    assert not again.ok and "已登记" in again.errors[0].message and count(Project) == 1


def test_import_refuses_an_enterprise_the_user_may_not_record_for(world):
    row = [world["other"].name, "外企项目", "消费", "否", "10万", SIGNED.isoformat(), world["v1"].code, ""]
    report = _import(world["unit"], [row])
    assert not report.ok and report.errors[0].column == "organization" and count(Project) == 0
    assert not _import(world["backing"], [row]).ok and count(Project) == 0


def test_import_names_a_blank_enterprise_and_every_bad_cell_of_a_row(world):
    # a blank 企业 cell was let through to the write, which then failed (a 500)
    blank = ["", "蔬菜大棚", "产业", "", "80万", SIGNED.isoformat(), world["v1"].code, ""]
    report = _import(world["county"], [blank])
    assert [(e.row, e.column) for e in report.errors] == [(2, "organization")] and count(Project) == 0
    # the enterprise's 湘商回归 cell and the project's own cells, in one pass
    bad = [world["enterprise"].name, "", "外星", "也许", "80万", "", world["v1"].code, ""]
    report = _import(world["county"], [bad])
    assert {e.column for e in report.errors} == {"name", "kind", "is_xiangshang", "signed_on"}, report.errors
    assert count(Project) == 0


def test_the_export_imports_again_as_duplicates(world, login_as):
    from registry.projects.imports import ProjectImport
    from registry.transfer.importing import run_import

    _project(world, villages=("v1", "v2"), name="回环项目")
    body = login_as(world["unit"]).get("/projects/export.xlsx").data
    report = run_import(ProjectImport(), body, "p.xlsx", world["unit"], update=False)
    assert not report.ok and all("已登记" in err.message for err in report.errors)  # read back, found as stored
    db.session.execute(Project.__table__.update().values(name="改名"))
    db.session.commit()
    report = run_import(ProjectImport(), body, "p.xlsx", world["unit"], update=False)
    assert report.ok and report.created == 1, [e.message for e in report.errors]


def test_import_template_downloads(world, login_as):
    response = login_as(world["unit"]).get("/import/projects/template.xlsx")
    assert response.status_code == 200 and response.data.startswith(b"PK")


def test_home_pages_tell_the_village_and_the_enterprise(world, login_as):
    project = _project(world, villages=("v1",), name="待确认的项目")
    entry = _progress(world, project, actual_investment="10万")
    body = login_as(world["u1"]).get("/").get_data(as_text=True)
    assert "待本村确认的企业项目进展" in body and "待确认的项目" in body
    services.dispute_progress(entry, world["u1"], "金额不符")
    body = login_as(world["unit"]).get("/").get_data(as_text=True)
    assert "被村提出异议的项目进展" in body and "金额不符" in body
    assert "被村提出异议的项目进展" not in login_as(world["backing"]).get("/").get_data(as_text=True)


def test_a_terminated_projects_forms_send_back_to_its_page(world, login_as):
    project = _project(world)
    _progress(world, project, status_to="terminated", end_reason="政策调整")
    session = login_as(world["unit"])
    for path in ("edit", "progress"):
        response = session.get(f"/projects/{project.id}/{path}")
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/projects/{project.id}")
    before = census()
    assert session.post(f"/projects/{project.id}/progress", data={"entry_date": TODAY.isoformat(), "note": "x"}).status_code == 302
    assert census() == before


def test_the_supervision_page_lists_the_projects_in_scope(world, login_as):
    """资金和项目监督: a viewer finds the projects of their area, each linked to its whole
    history; another county's are not there."""
    mine = _project(world)
    theirs = _project(world, villages=("v3",), user="other_unit", name="外县食品项目")
    page = login_as(world["viewer"]).get("/supervision/").get_data(as_text=True)
    assert "企业项目（万企兴万村 / 湘商回归）" in page
    assert f"/projects/{mine.id}#history" in page and mine.name in page
    assert theirs.name not in page and f"/projects/{theirs.id}" not in page


# -- the form's villages ---------------------------------------------------------------------------

def test_an_enterprise_ticks_its_villages_and_the_county_types_codes(world, login_as):
    """A unit's form offers its own villages as boxes to tick (with a box for any other
    code); editing shows the project's villages ticked; region staff type the codes."""
    unit = login_as(world["unit"])
    page = unit.get("/projects/new").get_data(as_text=True)
    assert 'id="picked-villages"' in page and 'type="checkbox"' in page and world["v1"].name in page
    form = {"organization_id": str(world["enterprise"].id), "name": "勾选的项目", "kind": "industry",
            "planned_investment": "100万", "signed_on": SIGNED.isoformat(),
            "picked_villages": [world["v1"].code, world["v2"].code], "villages": ""}
    response = unit.post("/projects/new", data=form)
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "勾选的项目"))
    assert project.village_codes == [world["v1"].code, world["v2"].code]
    edit = unit.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    for village in ("v1", "v2"):
        assert re.search(rf'<input checked id="picked_villages-\d+" name="picked_villages" type="checkbox" '
                         rf'value="{world[village].code}">', edit), village
    empty = unit.post("/projects/new", data={**form, "name": "没选村", "picked_villages": []})
    assert empty.status_code == 422 and "请填写项目涉及的村" in empty.get_data(as_text=True)
    county = login_as(world["county"]).get("/projects/new").get_data(as_text=True)
    assert 'id="picked-villages"' not in county and 'name="villages"' in county
