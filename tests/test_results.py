"""Village results (帮扶实效): filed by the village, verified or sent back by the township
or county, locked once verified."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.results.models import VillageResult
from tests.factories import CITY, COUNTY, OTHER_COUNTY, make_org, make_pairing, make_village
from tests.factories_assessment import make_result

LAST_YEAR = local_today().year - 1


def count(model=VillageResult) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _form(**over):
    data = {"year": str(LAST_YEAR), "collective_income": "156800.50", "per_capita_income": "16234.00",
            "monitored_households": "14", "risk_removed_households": "9", "industry_projects": "3",
            "jobs_created": "42", "practical_matters": "18", "note": "油茶基地扩种200亩"}
    data.update(over)
    return data


@pytest.fixture()
def village_session(make_user, login_as):
    village = make_village(COUNTY, 1)
    return village, login_as(make_user("village", village_code=village.code))


def test_the_village_files_its_results(village_session):
    village, session = village_session
    response = session.post("/results/new", data=_form())
    assert response.status_code == 302
    result = db.session.scalar(select(VillageResult))
    assert (result.village_code, result.year, result.status) == (village.code, LAST_YEAR, "filed")
    assert result.collective_income == Decimal("156800.50") and result.risk_removed_households == 9
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "VillageResult")) == "create"


@pytest.mark.parametrize(
    "over, field, message",
    [
        ({"risk_removed_households": "15"}, "已消除风险户数", "已消除风险户数（15）不能超过监测对象户数（14）"),
        ({"collective_income": "-1"}, "村集体经济经营性收入（元）", "村集体经济经营性收入不能为负数"),
        ({"per_capita_income": "12000.123"}, "脱贫人口人均纯收入（元）", "脱贫人口人均纯收入最多保留2位小数"),
        ({"per_capita_income": "一万"}, "脱贫人口人均纯收入（元）", "脱贫人口人均纯收入应为数字（元；也可写万元，如 5万）"),
        ({"jobs_created": "2.5"}, "带动就业人数（人）", "带动就业人数应为整数"),
        ({"industry_projects": ""}, "产业项目数（个）", "请填写产业项目数"),
        ({"year": str(local_today().year + 1)}, "年度", "年度应在2021年至"),
        ({"year": "2020"}, "年度", "年度应在2021年至"),
    ],
)
def test_bad_results_are_refused_naming_the_field_and_nothing_written(village_session, over, field, message):
    _, session = village_session
    before = count(AuditEvent)
    response = session.post("/results/new", data=_form(**over))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"{field}：{message}" in body
    assert "油茶基地扩种200亩" in body  # input kept
    assert count() == 0 and count(AuditEvent) == before


def test_one_result_per_village_and_year(village_session):
    village, session = village_session
    make_result(village.code, LAST_YEAR)
    response = session.post("/results/new", data=_form())
    assert response.status_code == 422 and f"本村{LAST_YEAR}年的帮扶实效已填报" in response.get_data(as_text=True)
    assert count() == 1


def test_only_a_village_files(make_user, login_as):
    session = login_as(make_user("region", region_code=COUNTY))
    assert session.post("/results/new", data=_form()).status_code == 403
    assert count() == 0


# -- verify and send back ---------------------------------------------------------------------


def test_township_verifies_and_the_result_is_locked(village_session, make_user, login_as):
    village, session = village_session
    result = make_result(village.code, LAST_YEAR)
    township = login_as(make_user("region", region_code=village.parent_code))
    assert village.name in township.get("/results/").get_data(as_text=True)
    assert township.post(f"/results/{result.id}/verify", data={"version": result.version}).status_code == 302
    db.session.expire_all()
    result = db.session.get(VillageResult, result.id)
    assert result.status == "verified" and result.verified_by_id == township.user.id
    before = count(AuditEvent)
    response = session.post(f"/results/{result.id}/edit", data=_form(jobs_created="99", version=result.version))
    assert response.status_code == 302  # back to the detail page with a warning
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).jobs_created == 25 and count(AuditEvent) == before


def test_send_back_needs_a_reason_then_the_village_corrects_and_refiles(village_session, make_user, login_as):
    village, session = village_session
    result = make_result(village.code, LAST_YEAR, monitored_households=10, risk_removed_households=4)
    county = login_as(make_user("region", region_code=COUNTY))
    before = count(AuditEvent)
    response = county.post(f"/results/{result.id}/return", data={"reason": "  ", "version": result.version})
    assert response.status_code == 422 and "退回原因：退回时须填写退回原因" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).status == "filed" and count(AuditEvent) == before
    assert county.post(f"/results/{result.id}/return", data={"reason": "监测户数与系统不符", "version": result.version}).status_code == 302
    db.session.expire_all()
    result = db.session.get(VillageResult, result.id)
    assert result.status == "returned" and result.return_reason == "监测户数与系统不符"
    # a returned result cannot be verified until refiled
    county.post(f"/results/{result.id}/verify", data={"version": result.version})
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).status == "returned"
    assert "监测户数与系统不符" in session.get("/").get_data(as_text=True)
    response = session.post(f"/results/{result.id}/edit", data=_form(monitored_households="12", risk_removed_households="4", version=result.version))
    assert response.status_code == 302
    db.session.expire_all()
    result = db.session.get(VillageResult, result.id)
    assert (result.status, result.monitored_households, result.return_reason) == ("filed", 12, None)
    assert county.post(f"/results/{result.id}/verify", data={"version": result.version}).status_code == 302
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).status == "verified"
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "VillageResult").order_by(AuditEvent.id)).all()
    assert actions == ["return", "refile", "verify"]


def test_stale_edit_is_refused(village_session):
    village, session = village_session
    result = make_result(village.code, LAST_YEAR)
    stale = result.version
    result.note = "别人改过"
    db.session.commit()
    response = session.post(f"/results/{result.id}/edit", data=_form(jobs_created="77", version=stale))
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).jobs_created == 25


def test_city_and_province_staff_read_but_do_not_verify(village_session, make_user, login_as):
    village, _ = village_session
    result = make_result(village.code, LAST_YEAR)
    city = login_as(make_user("region", region_code=CITY))
    assert city.get(f"/results/{result.id}").status_code == 200
    assert city.post(f"/results/{result.id}/verify", data={"version": result.version}).status_code == 403
    assert city.post(f"/results/{result.id}/return", data={"reason": "x"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).status == "filed"


def test_outside_the_jurisdiction_is_404(village_session, make_user, login_as):
    village, _ = village_session
    result = make_result(village.code, LAST_YEAR)
    other = login_as(make_user("region", region_code=OTHER_COUNTY))
    assert other.get(f"/results/{result.id}").status_code == 404
    assert other.post(f"/results/{result.id}/verify", data={"version": result.version}).status_code == 404
    neighbour = make_village(COUNTY, 2)
    next_door = login_as(make_user("village", village_code=neighbour.code))
    assert next_door.get(f"/results/{result.id}").status_code == 404
    assert next_door.post(f"/results/{result.id}/edit", data=_form()).status_code == 404
    db.session.expire_all()
    assert db.session.get(VillageResult, result.id).status == "filed"


def test_a_unit_reads_the_results_of_villages_it_helps(village_session, make_user, login_as):
    village, _ = village_session
    result = make_result(village.code, LAST_YEAR)
    helper, stranger = make_org(), make_org()
    make_pairing(helper, village.code)
    assert login_as(make_user("unit", organization_id=helper.id)).get(f"/results/{result.id}").status_code == 200
    assert login_as(make_user("unit", organization_id=stranger.id)).get(f"/results/{result.id}").status_code == 404


def test_panels_and_village_page(village_session, make_user, login_as):
    village, session = village_session
    assert f"{LAST_YEAR}年帮扶实效尚未填报" in session.get("/").get_data(as_text=True)
    make_result(village.code, LAST_YEAR)
    township = login_as(make_user("region", region_code=village.parent_code))
    assert "待核验的帮扶实效" in township.get("/").get_data(as_text=True)
    page = township.get(f"/regions/{village.code}").get_data(as_text=True)
    assert "帮扶实效" in page and f"{LAST_YEAR}年" in page


def test_results_export_with_the_lists_filters_in_scope(db, login_as, make_user):
    import io

    from openpyxl import load_workbook

    from tests.factories import COUNTY, OTHER_COUNTY, make_village
    from tests.factories_assessment import make_result

    mine, far = make_village(COUNTY, 7), make_village(OTHER_COUNTY, 7)
    make_result(mine.code, 2025, status="verified")
    make_result(far.code, 2025, status="verified")
    db.session.commit()
    county = login_as(make_user("region", region_code=COUNTY))
    sheet = load_workbook(io.BytesIO(county.get("/results/export.xlsx?status=verified&year=2025").data))
    rows = [[c.value for c in r] for r in sheet.worksheets[0].iter_rows()]
    assert rows[0][:3] == ["村", "年度", "村集体经济经营性收入（元）"]
    assert len(rows) == 2 and rows[1][0].endswith(f"（{mine.code}）") and rows[1][10] == "已核验"
    about = {r[0].value: r[1].value for r in sheet["导出说明"].iter_rows()}
    assert about["筛选条件"] == "状态：已核验；年度：2025"
    assert "（" + far.code not in county.get("/results/export.csv?status=").get_data(as_text=True)


def test_the_list_filters_by_a_year_chosen_from_a_list(village_session):
    village, session = village_session
    make_result(village.code, LAST_YEAR)
    make_result(village.code, LAST_YEAR - 1)
    page = session.get(f"/results/?status=all&year={LAST_YEAR - 1}").get_data(as_text=True)
    assert f'<option value="{LAST_YEAR - 1}" selected>{LAST_YEAR - 1}年</option>' in page
    assert '<option value="2021">2021年</option>' in page and '<option value="">全部年度</option>' in page
    rows = page.split("<tbody>")[1]
    assert f"{LAST_YEAR - 1}年" in rows and f"{LAST_YEAR}年" not in rows
