"""催办 and 督办升级 (issue 14): who may chase what (township staff and above, in scope),
the chase shown on the item and in the worklists, escalation by date (time moved forward
with time_machine), idempotent runs of ``flask chase escalate``, and the audit trail."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
import time_machine
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.chase.models import ChaseUp, Escalation
from registry.chase.services import escalate
from registry.core.timeutil import LOCAL_TZ, local_today, utcnow
from registry.extensions import db
from registry.records.models import SupportRecord
from registry.regions.models import Region
from tests.factories import CITY, COUNTY, OTHER_COUNTY, make_org, make_person, make_posting, make_village
from tests.factories_assessment import make_duty, make_result, make_support


@dataclass
class World:
    village: object  # in township t1
    other_village: object  # in township t2
    far: object  # another county
    posting: object  # a first secretary in ``village`` since 100 days, no month filed
    overdue: int  # record ids
    recent: int
    far_overdue: int
    other_overdue: int
    result: int  # filed, not verified
    verified: int
    township: object  # staff of t1
    other_township: object  # staff of t2
    county: object
    city: object
    unit: object
    village_user: object
    viewer: object


def _build(make_user) -> World:
    today = local_today()
    t1, t2 = db.session.scalars(select(Region).where(Region.parent_code == COUNTY).order_by(Region.code)).all()[:2]
    village = make_village(COUNTY, 1, is_key=True, township=t1)
    other_village = make_village(COUNTY, 2, township=t2)
    far = make_village(OTHER_COUNTY, 3)
    org = make_org(region_code=COUNTY, level="county", name="吉首市催办测试局")
    posting = make_posting(make_person(org, "缺报书记"), org, village.code, start=today - timedelta(days=100))

    def record(code, days, title):
        return make_support(org, code, today - timedelta(days=days + 5), status="submitted", category="project",
                            title=title, submitted_at=utcnow() - timedelta(days=days)).id

    return World(
        village=village, other_village=other_village, far=far, posting=posting,
        overdue=record(village.code, 40, "甲村逾期待确认"), recent=record(village.code, 5, "甲村刚提交"),
        far_overdue=record(far.code, 60, "外县逾期"), other_overdue=record(other_village.code, 45, "乙村逾期"),
        result=make_result(village.code, year=today.year - 1).id,
        verified=make_result(other_village.code, year=today.year - 1, status="verified").id,
        township=make_user("region", "ch_township", region_code=t1.code, display_name="张乡干"),
        other_township=make_user("region", "ch_township2", region_code=t2.code),
        county=make_user("region", "ch_county", region_code=COUNTY, display_name="李县干"),
        city=make_user("region", "ch_city", region_code=CITY),
        unit=make_user("unit", "ch_unit", organization_id=org.id),
        village_user=make_user("village", "ch_village", village_code=village.code),
        viewer=make_user("viewer", "ch_viewer", region_code=COUNTY),
    )


@pytest.fixture()
def w(db, make_user) -> World:
    from tests.conftest import built_once

    return built_once("chase.world", lambda: _build(make_user))


def _chases() -> int:
    return db.session.scalar(select(func.count()).select_from(ChaseUp))


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _last_month() -> date:
    return (local_today().replace(day=1) - timedelta(days=1)).replace(day=1)


# -- who may chase -------------------------------------------------------------------------------


def test_township_and_above_chase_in_scope_others_are_refused(w, login_as):
    url = f"/chase/record/{w.overdue}"
    for user in (w.unit, w.village_user, w.viewer):
        assert login_as(user).post(url, data={"note": "请尽快确认"}).status_code == 403, user.username
    # out of scope: another township's, another county's record is a 404, as if it did not exist
    assert login_as(w.other_township).post(url, data={"note": "请尽快确认"}).status_code == 404
    assert login_as(w.county).post(f"/chase/record/{w.far_overdue}", data={"note": "x"}).status_code == 404
    assert login_as(w.other_township).get(f"/chase/result/{w.result}").status_code == 404
    assert _chases() == 0
    for user in (w.township, w.county, w.city):
        answer = login_as(user).post(url, data={"note": f"{user.username}：请于本周内确认"})
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    levels = db.session.scalars(select(ChaseUp.level).order_by(ChaseUp.id)).all()
    assert levels == ["township", "county", "city"]


def test_a_chase_needs_a_note_and_an_item_that_still_waits(w, login_as):
    township = login_as(w.township)
    blank = township.post(f"/chase/record/{w.overdue}", data={"note": "  "})
    assert blank.status_code == 422 and "催办说明：请填写催办说明" in blank.get_data(as_text=True)
    long = township.post(f"/chase/record/{w.overdue}", data={"note": "催" * 501})
    assert long.status_code == 422 and "最多500字" in long.get_data(as_text=True)
    bidi = township.post(f"/chase/record/{w.overdue}", data={"note": "请确认\u202e"})
    assert bidi.status_code == 422 and "U+202E" in bidi.get_data(as_text=True)
    recent = township.post(f"/chase/record/{w.recent}", data={"note": "请确认"})
    assert recent.status_code == 422 and "只有逾期未确认的帮扶记录可以催办" in recent.get_data(as_text=True)
    verified = login_as(w.county).post(f"/chase/result/{w.verified}", data={"note": "请核验"})
    assert verified.status_code == 422 and "已核验的帮扶实效无需催办" in verified.get_data(as_text=True)
    assert _chases() == 0


def test_the_chase_is_shown_on_the_item_to_whoever_sees_it_and_audited(w, login_as):
    township = login_as(w.township)
    done = township.post(f"/chase/record/{w.overdue}", data={"note": "请于本周内确认或提出异议",
                                                               "next": "/records/overdue"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/records/overdue")
    today = local_today()
    line = f"已催办 1 次，最近：{today.year}年{today.month}月{today.day}日 张乡干（乡镇）"
    for user in (w.township, w.county, w.unit, w.village_user, w.viewer):
        page = login_as(user).get(f"/records/{w.overdue}").get_data(as_text=True)
        assert line in page and "请于本周内确认或提出异议" in page, user.username
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "chase")).one()
    assert event.entity_type == "ChaseUp" and event.actor == "ch_township"
    assert event.region_code == w.village.code and "请于本周内确认或提出异议" in event.summary
    assert "甲村逾期待确认" in event.summary


def test_a_missing_duty_month_and_an_unverified_result_are_chased_on_their_pages(w, login_as):
    county = login_as(w.county)
    month = _last_month()
    page = county.get(f"/duty/posting/{w.posting.id}").get_data(as_text=True)
    assert f"/chase/duty/{w.posting.id}?month={_month(month)}" in page
    assert county.get(f"/chase/duty/{w.posting.id}?month={_month(month)}").status_code == 200
    done = county.post(f"/chase/duty/{w.posting.id}", data={"month": _month(month), "note": "请补报上月纪实"})
    assert done.status_code == 302
    assert "已催办 1 次" in county.get(f"/duty/posting/{w.posting.id}").get_data(as_text=True)
    listed = county.get("/duty/postings?missing=1").get_data(as_text=True)  # the list of months not filed
    assert "缺报书记" in listed and "已催办 1 次" in listed
    assert "已催办 1 次" in login_as(w.unit).get(f"/duty/posting/{w.posting.id}").get_data(as_text=True)
    # a month that is filed, or not over yet, is not missing
    make_duty(w.posting, month - timedelta(days=1))
    filed = county.post(f"/chase/duty/{w.posting.id}", data={"month": _month(month - timedelta(days=1)), "note": "补报"})
    assert filed.status_code == 422 and "已填报或该月尚未结束" in filed.get_data(as_text=True)
    current = county.post(f"/chase/duty/{w.posting.id}", data={"month": _month(local_today()), "note": "补报"})
    assert current.status_code == 422
    bad = county.post(f"/chase/duty/{w.posting.id}", data={"month": "2026-13", "note": "补报"})
    assert bad.status_code == 422 and "请选择要催办的月份" in bad.get_data(as_text=True)
    result = county.post(f"/chase/result/{w.result}", data={"note": "请乡镇尽快核验"})
    assert result.status_code == 302
    assert "已催办 1 次，最近：" in login_as(w.village_user).get(f"/results/{w.result}").get_data(as_text=True)
    assert "已催办 1 次，最近：" in county.get("/results/?status=filed").get_data(as_text=True)
    assert db.session.scalars(select(ChaseUp.item_key).order_by(ChaseUp.id)).all() == [
        f"duty_month:{w.posting.id}:{_month(month)}", f"result:{w.result}"]


# -- escalation by date --------------------------------------------------------------------------


def _at(day: date) -> datetime:
    """Noon in Hunan on ``day``, as an aware time for time_machine."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=LOCAL_TZ).astimezone(timezone.utc)


def test_a_chased_record_still_untouched_escalates_to_the_county_then_the_city(app, w, login_as):
    start = local_today()
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请确认"})
    login_as(w.township).post(f"/chase/result/{w.result}", data={"note": "请核验"})
    to_county, to_city = app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"], app.config["REGISTRY_ESCALATE_TO_CITY_DAYS"]
    with time_machine.travel(_at(start + timedelta(days=to_county - 1)), tick=False):
        assert escalate() == []
    # the result is verified meanwhile: acted upon, it never escalates
    from registry.results.models import VillageResult
    db.session.get(VillageResult, w.result).status = "verified"
    db.session.commit()
    with time_machine.travel(_at(start + timedelta(days=to_county)), tick=False):
        written = escalate()
        assert [(e.item_key, e.level, e.due_on) for e in written] == [
            (f"record:{w.overdue}", "county", start + timedelta(days=to_county))]
        assert escalate() == []  # idempotent
        county = login_as(w.county)
        page = county.get("/records/overdue?chase=county").get_data(as_text=True)
        assert "甲村逾期待确认" in page and "已升级至县级" in page and "乙村逾期" not in page
        assert "已升级至县级" in county.get(f"/records/{w.overdue}").get_data(as_text=True)
        home = county.get("/").get_data(as_text=True)
        assert "升级至县级督办的逾期记录" in home and "甲村逾期待确认" in home
        assert "升级至" not in login_as(w.township).get("/").get_data(as_text=True)
    with time_machine.travel(_at(start + timedelta(days=to_county + to_city)), tick=False):
        assert [e.level for e in escalate()] == ["city"]
        page = login_as(w.city).get("/records/overdue?chase=city").get_data(as_text=True)
        assert "甲村逾期待确认" in page and "已升级至市级" in page
        assert "甲村逾期待确认" in login_as(w.city).get("/").get_data(as_text=True)
        assert "升级至县级督办的逾期记录" not in login_as(w.county).get("/").get_data(as_text=True)  # gone up
    with time_machine.travel(_at(start + timedelta(days=365)), tick=False):
        assert escalate() == []  # escalation stops at the city
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "escalate").order_by(AuditEvent.id)).all()
    assert [e.entity_type for e in events] == ["Escalation", "Escalation"] and events[0].actor == "system"
    assert "升级至县级" in events[0].summary and events[0].region_code == w.village.code


def test_a_late_run_catches_up_with_the_same_dates_and_an_unchased_item_never_escalates(app, w, login_as):
    start = local_today()
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请确认"})
    days = app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"] + app.config["REGISTRY_ESCALATE_TO_CITY_DAYS"]
    written = escalate(start + timedelta(days=days + 30))
    assert [(e.level, e.due_on) for e in written] == [
        ("county", start + timedelta(days=app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"])),
        ("city", start + timedelta(days=days))]
    assert db.session.scalar(select(func.count()).select_from(Escalation).where(
        Escalation.record_id != w.overdue)) == 0


def test_a_county_chase_starts_at_the_county_and_a_confirmed_record_stops(app, w, login_as):
    start = local_today()
    login_as(w.county).post(f"/chase/record/{w.other_overdue}", data={"note": "县里催办"})
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请确认"})
    from registry.records.models import SupportRecord
    db.session.get(SupportRecord, w.overdue).status = "confirmed"
    db.session.commit()
    written = escalate(start + timedelta(days=app.config["REGISTRY_ESCALATE_TO_CITY_DAYS"]))
    assert [(e.record_id, e.level) for e in written] == [(w.other_overdue, "city")]


def test_flask_chase_escalate_reports_and_refuses_a_bad_date(app, w, login_as):
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请确认"})
    runner = app.test_cli_runner()
    later = local_today() + timedelta(days=app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"])
    out = runner.invoke(args=["chase", "escalate", "--today", later.isoformat()])
    assert out.exit_code == 0 and "升级至县级 1 项" in out.output
    again = runner.invoke(args=["chase", "escalate", "--today", later.isoformat()])
    assert again.exit_code == 0 and "没有到期的事项" in again.output
    bad = runner.invoke(args=["chase", "escalate", "--today", "2026-02-30"])
    assert bad.exit_code != 0 and "日期格式应为" in bad.output


# -- the worklists ----------------------------------------------------------------------------------


def test_the_worklists_show_filter_count_and_export_the_chase_state(app, w, login_as):
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请确认"})
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "再次催办"})
    escalate(local_today() + timedelta(days=app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"]))
    county = login_as(w.county)
    page = county.get("/records/overdue").get_data(as_text=True)
    assert "已催办 2 次，最近：" in page and "张乡干（乡镇）" in page and "已升级至县级" in page
    assert 'data-chase="none"' in page and f'href="/chase/record/{w.other_overdue}' in page
    none = county.get("/records/overdue?chase=none").get_data(as_text=True)
    assert "乙村逾期" in none and "甲村逾期待确认" not in none
    body = county.get("/records/overdue/export.csv?chase=county").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    header = next(r for r in rows if "编号" in r)
    line = next(r for r in rows if "甲村逾期待确认" in r)
    assert line[header.index("催办次数")] == "2" and line[header.index("督办升级")] == "已升级至县级"
    assert "张乡干（乡镇）" in line[header.index("最近催办")]
    assert not any("乙村逾期" in r for r in rows)
    # the gaps worklist: the overdue lines carry the state, filter by it, and export it
    gaps = county.get(f"/gaps/{COUNTY}?kind=overdue").get_data(as_text=True)
    assert "已升级至县级" in gaps and "催办情况" in gaps
    only = county.get(f"/gaps/{COUNTY}?chase=county").get_data(as_text=True)
    assert "甲村逾期待确认" in only and "乙村逾期" not in only
    assert re.findall(r"<h2>(.*?) <span", only) == ["帮扶记录逾期未确认"]  # only the lines that are chased
    body = county.get(f"/gaps/{COUNTY}/export.csv?kind=overdue").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body.lstrip("\ufeff"))))
    header = next(r for r in rows if "缺口类型" in r)
    chase = {r[1]: r[header.index("催办情况")] for r in rows if len(r) > 1 and "逾期" in r[1]}
    assert any("已催办 2 次" in v and "已升级至县级" in v for k, v in chase.items() if "甲村逾期待确认" in k)
    assert any(v == "未催办" for k, v in chase.items() if "乙村逾期" in k)
    api = county.get(f"/api/v1/gaps/{COUNTY}?kind=overdue").get_json()
    states = {i["record_id"]: i["chase"] for i in api["gaps"][0]["items"]}
    assert states[w.overdue] == "county" and states[w.other_overdue] == "none"


# -- who is told ---------------------------------------------------------------------------------


def _told(kind: str) -> dict[int, list[str]]:
    from registry.notifications.models import Notification

    told: dict[int, list[str]] = {}
    for n in db.session.scalars(select(Notification).where(Notification.kind == kind).order_by(Notification.id)):
        told.setdefault(n.user_id, []).append(n.title)
    return told


def test_a_chase_tells_who_must_act_and_an_escalation_tells_the_level_above(app, w, login_as):
    login_as(w.township).post(f"/chase/record/{w.overdue}", data={"note": "请尽快确认"})
    login_as(w.township).post(f"/chase/result/{w.result}", data={"note": "请核验"})
    chased = _told("record_chased")
    # the village confirms the record; the filed result waits for the township, who chased it
    # themselves and is not told of their own chase
    assert set(chased) == {w.village_user.id}
    assert chased[w.village_user.id] == [f"催办：帮扶记录 编号 {db.session.get(SupportRecord, w.overdue).reference}"
                                         f"（{w.village.name}）甲村逾期待确认"]
    assert _told("item_escalated") == {}
    with time_machine.travel(_at(local_today() + timedelta(days=app.config["REGISTRY_ESCALATE_TO_COUNTY_DAYS"])),
                             tick=False):
        assert len(escalate()) == 2
    escalated = _told("item_escalated")
    assert set(escalated) == {w.county.id, w.village_user.id, w.township.id}
    assert all("已升级至县级督办" in title for titles in escalated.values() for title in titles)
    assert len(escalated[w.county.id]) == 2  # the record and the result
