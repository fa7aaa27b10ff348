"""Postings 选派: every posting rule of DESIGN.md section 5 refused with a Chinese
message naming the field and nothing written; ending is an action with a reason;
jurisdiction and scope; audit; the village and county sections; home panels; and the
demo data obeys the same rules."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.people import services
from registry.people.models import Posting
from tests.factories import (
    CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org, make_pairing, make_person, make_posting,
    make_village,
)


def _count(db, model=Posting) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def world(db, make_user, login_as):
    org = make_org("backing_unit", COUNTY, name="吉首市农业农村局", level="county")
    village = make_village(COUNTY, 1)
    staff = make_user("region", region_code=COUNTY)
    return {"org": org, "village": village, "staff": staff, "session": login_as(staff)}


def _form(region_code, **kw):
    data = {"region_code": region_code, "role": "first_secretary", "post_held": "", "dispatch_level": "county",
            "round": "2025届", "start_date": "2025-03-01", "planned_end": ""}
    data.update(kw)
    return data


def _refused(db, session, person, data, label, message):
    postings, events = _count(db), _count(db, AuditEvent)
    response = session.post(f"/people/{person.id}/postings/new", data)
    body = response.get_data(as_text=True)
    assert response.status_code == 422, body[:300]
    assert (label is None or f"{label}：" in body) and message in body, body[body.find('role="alert"') - 200:][:800]
    assert _count(db) == postings and _count(db, AuditEvent) == events
    return body


def test_post_a_first_secretary(db, world):
    person = make_person(world["org"], name="彭志强")
    response = world["session"].post(f"/people/{person.id}/postings/new", _form(world["village"].code))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    posting = db.session.scalar(select(Posting))
    assert posting.role == "first_secretary" and posting.organization_id == world["org"].id
    assert posting.planned_end == date(2027, 3, 1)  # start + the planned term (2 years)
    assert posting.is_active
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "Posting"))
    assert event.action == "create" and event.region_code == world["village"].code and "彭志强" in event.summary
    page = world["session"].get(f"/regions/{world['village'].code}").get_data(as_text=True)
    assert "彭志强" in page and "第一书记" in page and "吉首市农业农村局" in page


def test_planned_term_is_a_setting(app, db, world):
    app.config["REGISTRY_PLANNED_TERM_YEARS"] = 3
    try:
        person = make_person(world["org"])
        world["session"].post(f"/people/{person.id}/postings/new", _form(world["village"].code, start_date="2024-02-29"))
        assert db.session.scalar(select(Posting.planned_end)) == date(2027, 2, 28)
    finally:
        app.config["REGISTRY_PLANNED_TERM_YEARS"] = 2


def test_second_active_first_secretary_is_refused(db, world):
    first = make_person(world["org"], name="第一人")
    make_posting(first, world["org"], world["village"].code, start=date(2024, 1, 1))
    second = make_person(world["org"], name="第二人")
    body = _refused(db, world["session"], second, _form(world["village"].code), "派驻地（12位区划代码）", "已有在岗第一书记第一人")
    assert "一个村同时只能有一名第一书记" in body
    # a team member is fine
    ok = world["session"].post(f"/people/{second.id}/postings/new", _form(world["village"].code, role="team_member"))
    assert ok.status_code == 302


def test_a_person_holds_one_active_posting(db, world):
    person = make_person(world["org"], name="忙人")
    make_posting(person, world["org"], world["village"].code, role="team_member", start=date(2024, 1, 1))
    other = make_village(COUNTY, 2)
    _refused(db, world["session"], person, _form(other.code), None, "忙人已有在岗选派")


def test_postings_of_one_person_never_overlap(db, world):
    person = make_person(world["org"], name="有经历")
    make_posting(person, world["org"], world["village"].code, role="team_member", start=date(2022, 1, 1),
                 end_date=date(2024, 1, 1), end_reason="term_completed")
    other = make_village(COUNTY, 2)
    _refused(db, world["session"], person, _form(other.code, start_date="2023-06-01"), "开始日期", "任职时间与有经历的另一选派重叠")
    # an earlier period entered later (an import of history) is checked the same way
    with pytest.raises(RuleViolation) as refused:
        services.check_posting(person=person, role="team_member", region=other, dispatch_level="county",
                               start_date=date(2021, 6, 1), planned_end=date(2023, 6, 1),
                               end_date=date(2022, 6, 1), end_reason="reassigned")
    assert "重叠" in refused.value.errors["start_date"][0]
    # starting on the day the previous one ended is no overlap
    ok = world["session"].post(f"/people/{person.id}/postings/new", _form(other.code, start_date="2024-01-01"))
    assert ok.status_code == 302


def test_seconded_cadre_cannot_be_posted_to_a_village(db, world):
    person = make_person(world["org"])
    _refused(db, world["session"], person, _form(world["village"].code, role="seconded_cadre", post_held="副县长"),
             "派驻地（12位区划代码）", "挂职干部只能派往县市区或乡镇")
    # to the county, it needs the post held
    _refused(db, world["session"], person, _form(COUNTY, role="seconded_cadre"), "挂职职务", "挂职干部须填写挂职职务")
    ok = world["session"].post(f"/people/{person.id}/postings/new", _form(COUNTY, role="seconded_cadre", post_held="副市长"))
    assert ok.status_code == 302
    page = world["session"].get(f"/regions/{COUNTY}").get_data(as_text=True)
    assert "挂职干部" in page and "副市长" in page and person.name in page


def test_village_roles_must_target_a_village(db, world):
    person = make_person(world["org"])
    township = first_township(COUNTY)
    _refused(db, world["session"], person, _form(township.code, role="team_leader"), "派驻地（12位区划代码）", "工作队长只能派驻到村")
    _refused(db, world["session"], person, _form("433101999999"), "派驻地（12位区划代码）", "派驻地不存在")


def test_planned_end_after_start(db, world):
    person = make_person(world["org"])
    _refused(db, world["session"], person, _form(world["village"].code, planned_end="2025-03-01"), "计划结束日期", "须晚于开始日期")
    _refused(db, world["session"], person, _form(world["village"].code, start_date=""), "开始日期", "请填写开始日期")
    _refused(db, world["session"], person, _form(world["village"].code, dispatch_level="nation"), "选派层级", "不是有效的选择")


def test_only_the_jurisdiction_posts(db, world, login_as, make_user):
    person = make_person(world["org"])
    outside = make_village(OTHER_COUNTY, 1)
    _refused(db, world["session"], person, _form(outside.code), "派驻地（12位区划代码）", "不在您的管辖范围内")
    # the picker does not offer it, and a link to it is a 404
    assert world["session"].get(f"/people/{person.id}/postings/new?region={outside.code}").status_code == 404
    targets = world["session"].get(f"/people/{person.id}/postings/targets").get_data(as_text=True)
    assert world["village"].code in targets and outside.code not in targets
    for role, scope in (("viewer", {"region_code": PROVINCE}), ("unit", {"organization_id": world["org"].id})):
        session = login_as(make_user(role, **scope))
        assert session.post(f"/people/{person.id}/postings/new", _form(world["village"].code)).status_code == 403
    assert _count(db) == 0


# -- ending --------------------------------------------------------------------------------

def _end(session, posting, **kw):
    data = {"end_date": local_today().isoformat(), "end_reason": "term_completed", "end_note": "", "version": str(posting.version)}
    data.update(kw)
    return session.post(f"/postings/{posting.id}/end", data)


def _end_refused(db, session, posting, label, message, **kw):
    events = _count(db, AuditEvent)
    response = _end(session, posting, **kw)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and f"{label}：" in body and message in body, body[body.find('role="alert"') - 200:][:600]
    db.session.expire_all()
    assert db.session.get(Posting, posting.id).end_date is None and _count(db, AuditEvent) == events


def test_end_before_start_is_refused(db, world):
    person = make_person(world["org"])
    posting = make_posting(person, world["org"], world["village"].code, start=date(2025, 3, 1))
    _end_refused(db, world["session"], posting, "结束日期", "结束日期不能早于开始日期", end_date="2025-02-28")
    _end_refused(db, world["session"], posting, "结束日期", "不能晚于今天", end_date=(local_today() + timedelta(days=1)).isoformat())
    _end_refused(db, world["session"], posting, "结束原因", "不是有效的选择", end_reason="fired")
    _end_refused(db, world["session"], posting, "结束原因", "请选择结束原因", end_reason="")


def test_recall_needs_its_grounds(db, world):
    person = make_person(world["org"])
    posting = make_posting(person, world["org"], world["village"].code, start=date(2025, 3, 1))
    _end_refused(db, world["session"], posting, "说明（召回须写明召回事由）", "召回须写明召回事由", end_reason="recalled", end_note="  ")
    response = _end(world["session"], posting, end_reason="recalled", end_note="长期不在岗，经研究召回")
    assert response.status_code == 302
    db.session.expire_all()
    posting = db.session.get(Posting, posting.id)
    assert posting.end_reason == "recalled" and posting.end_note == "长期不在岗，经研究召回" and not posting.is_active
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "end"))
    assert event.entity_id == str(posting.id) and "召回" in event.summary and '"end_date":null' in event.before
    page = world["session"].get(f"/postings/{posting.id}").get_data(as_text=True)
    assert "召回事由" in page and "长期不在岗" in page


def test_after_ending_the_village_can_have_a_new_first_secretary(db, world):
    old = make_person(world["org"], name="前任")
    posting = make_posting(old, world["org"], world["village"].code, start=date(2023, 3, 1))
    assert _end(world["session"], posting, end_date="2025-03-01", end_reason="promoted").status_code == 302
    new = make_person(world["org"], name="继任")
    response = world["session"].post(f"/people/{new.id}/postings/new", _form(world["village"].code, start_date="2025-03-01"))
    assert response.status_code == 302
    page = world["session"].get(f"/regions/{world['village'].code}").get_data(as_text=True)
    assert "继任" in page and "历任驻村干部" in page and "提拔" in page


def test_stale_end_is_refused(db, world):
    person = make_person(world["org"])
    posting = make_posting(person, world["org"], world["village"].code, start=date(2025, 3, 1))
    stale = posting.version
    posting.round = "2025届"
    db.session.commit()
    response = _end(world["session"], posting, version=str(stale))
    assert response.status_code == 422 and "已被他人修改" in response.get_data(as_text=True)


def test_ending_is_a_post_action_for_the_jurisdiction(db, world, login_as, make_user):
    person = make_person(world["org"])
    posting = make_posting(person, world["org"], world["village"].code, start=date(2025, 3, 1))
    assert world["session"].get(f"/postings/{posting.id}/end").status_code == 200  # the form
    township_staff = login_as(make_user("region", region_code=first_township(OTHER_COUNTY).code))
    assert township_staff.get(f"/postings/{posting.id}").status_code == 404
    assert _end(township_staff, posting).status_code == 404
    viewer = login_as(make_user("viewer", region_code=PROVINCE))
    assert viewer.get(f"/postings/{posting.id}").status_code == 200
    assert _end(viewer, posting).status_code == 403
    db.session.expire_all()
    assert db.session.get(Posting, posting.id).is_active


# -- scope -----------------------------------------------------------------------------------

def test_county_cannot_see_another_countys_postings(db, world):
    org = make_org("backing_unit", OTHER_COUNTY)
    person = make_person(org, name="宁乡干部")
    posting = make_posting(person, org, make_village(OTHER_COUNTY, 1).code)
    assert world["session"].get(f"/postings/{posting.id}").status_code == 404
    assert "宁乡干部" not in world["session"].get("/postings/").get_data(as_text=True)
    assert "宁乡干部" not in world["session"].get("/postings/export.csv").get_data(as_text=True)


def test_unit_sees_its_own_postings(db, world, login_as, make_user):
    other_org = make_org("backing_unit", COUNTY)
    mine = make_posting(make_person(world["org"], name="我的人"), world["org"], world["village"].code)
    theirs = make_posting(make_person(other_org, name="别人"), other_org, world["village"].code, role="team_member")
    session = login_as(make_user("unit", organization_id=world["org"].id))
    assert session.get(f"/postings/{mine.id}").status_code == 200
    assert session.get(f"/postings/{theirs.id}").status_code == 404
    body = session.get("/postings/").get_data(as_text=True)
    assert "我的人" in body and "别人" not in body
    home = session.get("/").get_data(as_text=True)
    assert "本单位在岗选派" in home and "我的人" in home and "本单位帮扶干部" in home


def test_lists_filter_by_status_role_and_region(db, world):
    person = make_person(world["org"], name="在岗者")
    make_posting(person, world["org"], world["village"].code, start=local_today() - timedelta(days=700),
                 planned_end=local_today() + timedelta(days=30))
    ended = make_person(world["org"], name="离任者")
    make_posting(ended, world["org"], make_village(COUNTY, 2).code, start=date(2021, 1, 1), end_date=date(2023, 1, 1),
                 end_reason="term_completed")
    session = world["session"]
    body = session.get("/postings/?status=active").get_data(as_text=True)
    assert "在岗者" in body and "离任者" not in body
    body = session.get("/postings/?status=ending").get_data(as_text=True)
    assert "在岗者" in body and "离任者" not in body
    body = session.get("/postings/?status=ended&role=first_secretary").get_data(as_text=True)
    assert "离任者" in body and "在岗者" not in body
    body = session.get(f"/postings/?region={OTHER_COUNTY}").get_data(as_text=True)  # not in the choices: ignored
    assert "在岗者" in body


# -- sections and panels -------------------------------------------------------------------

def test_village_section_flags_gaps(app, db, world, login_as, make_user):
    village = world["village"]
    page = world["session"].get(f"/regions/{village.code}").get_data(as_text=True)
    assert "缺第一书记" in page and "暂无后盾单位" in page and "选派干部" in page
    fs = make_posting(make_person(world["org"], name="书记甲"), world["org"], village.code)
    make_posting(make_person(world["org"], name="队员乙"), world["org"], village.code, role="team_member")
    enterprise = make_org("enterprise", COUNTY, name="村企结对公司", level=None)
    make_pairing(enterprise, village.code, kind="enterprise_village")
    page = world["session"].get(f"/regions/{village.code}").get_data(as_text=True)
    assert "书记甲" in page and "队员乙" in page and "少于3人" in page and "缺第一书记" not in page
    assert "吉首市农业农村局" in page and "村企结对公司" in page and "村企结对" in page
    app.config["REGISTRY_MIN_TEAM_SIZE"] = 2
    try:
        assert "少于2人" not in world["session"].get(f"/regions/{village.code}").get_data(as_text=True)
    finally:
        app.config["REGISTRY_MIN_TEAM_SIZE"] = 3
    # the village itself sees its forces, masked
    village_user = login_as(make_user("village", village_code=village.code))
    page = village_user.get(f"/regions/{village.code}").get_data(as_text=True)
    assert "书记甲" in page and fs.person.id_number not in page
    assert "本村驻村力量" in village_user.get("/").get_data(as_text=True)


def test_region_home_lists_postings_ending_soon(db, world):
    soon = make_person(world["org"], name="快到期")
    make_posting(soon, world["org"], world["village"].code, start=local_today() - timedelta(days=700),
                 planned_end=local_today() + timedelta(days=30))
    later = make_person(world["org"], name="还早")
    make_posting(later, world["org"], make_village(COUNTY, 2).code, start=local_today() - timedelta(days=100),
                 planned_end=local_today() + timedelta(days=630))
    home = world["session"].get("/").get_data(as_text=True)
    assert "90天内期满的选派" in home and "快到期" in home and "还早" not in home


# -- the demo data obeys the rules -----------------------------------------------------------

def test_demo_data_obeys_the_posting_and_pairing_rules(app, db):
    import random

    from registry.demo import DemoContext
    from registry.demo.base import villages
    from registry.organizations.demo import organizations
    from registry.organizations.models import Organization
    from registry.pairings.demo import pairings
    from registry.pairings.models import Pairing
    from registry.pairings.services import check_pairing
    from registry.people.demo import people_and_postings
    from registry.regions.models import Region

    from registry.dashboard.summary import rebuilt_later

    ctx = DemoContext(rng=random.Random(7), scale=0.05, echo=lambda _: None)
    # as demo.generate runs its steps: the summaries are left alone (the generator rebuilds
    # them at its end; nothing here reads them), which was a third of this test's time
    with rebuilt_later(db.session()):
        for step in (villages, organizations, people_and_postings, pairings):
            step(ctx)
            db.session.commit()
    kinds = set(db.session.scalars(select(Organization.kind)))
    assert kinds == {"backing_unit", "paired_unit", "mass_org", "party_federation", "army_unit", "enterprise", "charity", "other"}
    subtypes = set(db.session.scalars(select(Organization.subtype).where(Organization.subtype.is_not(None))))
    assert {"trade_union", "youth_league", "women_federation", "science_association", "disabled_federation",
            "democratic_party", "commerce_federation", "locality", "education", "culture", "health", "science_tech"} <= subtypes
    assert all("示例" in name for name in db.session.scalars(select(Organization.name)))
    for posting in db.session.scalars(select(Posting)):
        services.check_posting(
            person=posting.person, role=posting.role, region=posting.region, dispatch_level=posting.dispatch_level,
            start_date=posting.start_date, planned_end=posting.planned_end, post_held=posting.post_held,
            end_date=posting.end_date, end_reason=posting.end_reason, end_note=posting.end_note, posting_id=posting.id,
        )
    for pairing in db.session.scalars(select(Pairing)):
        check_pairing(organization=pairing.organization, region=pairing.region, kind=pairing.kind, sector=pairing.sector,
                      start_date=pairing.start_date, end_date=pairing.end_date, pairing_id=pairing.id)
    reasons = set(db.session.scalars(select(Posting.end_reason).where(Posting.end_reason.is_not(None))))
    assert {"term_completed", "recalled", "retained", "promoted"} <= reasons
    # the demo unit (first backing unit) has living data in the demo village (first of 吉首市)
    unit = db.session.scalars(select(Organization).where(Organization.kind == "backing_unit").order_by(Organization.id)).first()
    home = db.session.scalars(select(Region).where(Region.level == "village", Region.code.like("433101%")).order_by(Region.code)).first()
    assert db.session.scalar(select(Posting).where(Posting.organization_id == unit.id, Posting.region_code == home.code,
                                                   Posting.role == "first_secretary", Posting.end_date.is_(None)))
    assert db.session.scalar(select(Pairing).where(Pairing.organization_id == unit.id, Pairing.region_code == home.code,
                                                   Pairing.kind == "resident"))
    # and there are gaps: villages without a first secretary, teams under three
    villages_total = db.session.scalar(select(func.count()).select_from(Region).where(Region.level == "village"))
    with_fs = db.session.scalar(select(func.count(func.distinct(Posting.region_code))).where(
        Posting.role == "first_secretary", Posting.end_date.is_(None)))
    assert 0 < with_fs < villages_total



def test_cli_ends_a_round_all_or_nothing(db, world, runner, make_user):
    first = make_posting(make_person(world["org"]), world["org"], world["village"].code, start=date(2024, 9, 1), round="2024届")
    second = make_posting(make_person(world["org"]), world["org"], make_village(COUNTY, 2).code, start=date(2024, 10, 1),
                          round="2024届")
    make_user("admin", username="chen.admin")
    # one of them would end before it started: nothing is ended
    result = runner.invoke(args=["people", "end-round", "2024届", "--date", "2024-09-15", "--as", "chen.admin"])
    assert result.exit_code == 1 and "结束日期不能早于开始日期" in result.output and "未结束任何选派" in result.output
    db.session.expire_all()
    assert db.session.get(Posting, first.id).is_active and db.session.get(Posting, second.id).is_active
    result = runner.invoke(args=["people", "end-round", "2024届", "--date", "2026-09-30", "--as", "chen.admin"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert {p.end_reason for p in db.session.scalars(select(Posting))} == {"term_completed"}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "end")) == 2


def test_cli_says_when_no_active_posting_has_the_round(db, world, runner, make_user):
    # a round named wrong (or already ended) was reported as "已结束 … 0 条", as if done
    make_posting(make_person(world["org"]), world["org"], world["village"].code, start=date(2024, 9, 1), round="2024届")
    make_user("admin", username="chen.admin")
    result = runner.invoke(args=["people", "end-round", "2042届", "--date", "2026-09-30", "--as", "chen.admin"])
    assert result.exit_code == 1 and "没有届次为“2042届”的在岗选派" in result.output, result.output
    assert "在岗选派的届次有：2024届" in result.output
    db.session.expire_all()
    assert all(p.is_active for p in db.session.scalars(select(Posting)))


def test_a_start_too_far_ahead_for_a_planned_term_is_refused_not_a_server_error(db, world):
    """The default planned end (start + the term) of a start in year 9999 lies past the
    last date Python knows: the start is refused as implausible, with no 500 (the form
    fuzzer found it)."""
    person = make_person(world["org"])
    body = _refused(db, world["session"], person, _form(world["village"].code, start_date="9999-12-31"),
                    "开始日期", "开始日期不能晚于")
    assert "请填写计划结束日期" in body  # no default could be worked out: the planned end is asked for


def test_the_ending_soon_count_from_the_counts_by_day_is_that_of_the_postings(db, world, make_user, login_as):
    """A province's, city's or county's postings ending soon (or past their planned end,
    still active) are counted from the counts by day: the same number as counting them,
    as the panel on the staff's home shows it."""
    from registry.dashboard.coverage import ending_total
    from registry.people.postings import end_posting, ending_soon_limit
    from registry.regions.models import Region

    today = local_today()
    places = [world["village"].code, make_village(COUNTY, 2).code, COUNTY, make_village(OTHER_COUNTY, 3).code]
    for n, (place, ends_in) in enumerate(zip(places * 3, (-40, 0, 30, 89, 90, 91, 200, -1, 5, 60, 120, 10))):
        person = make_person(world["org"], name=f"期满{n}")
        posting = make_posting(person, world["org"], place, role="seconded_cadre" if place == COUNTY else "team_member",
                               start=today - timedelta(days=700), planned_end=today + timedelta(days=ends_in),
                               post_held="副县长" if place == COUNTY else None)
        if ends_in in (5, 200):  # ended: no longer counted
            end_posting(posting, end_date=today, end_reason="term_completed", end_note=None, version=posting.version,
                        actor=world["staff"])
    db.session.commit()
    limit = ending_soon_limit()
    for code in (PROVINCE, CITY, COUNTY, OTHER_COUNTY):
        region = db.session.get(Region, code)
        counted = db.session.scalar(select(func.count()).select_from(Posting).where(
            region.within(Posting.region_code), Posting.is_active, Posting.planned_end <= limit))
        assert ending_total(region, limit) == counted > 0, code
    county_home = world["session"].get("/").get_data(as_text=True)
    county_count = db.session.scalar(select(func.count()).select_from(Posting).where(
        db.session.get(Region, COUNTY).within(Posting.region_code), Posting.is_active, Posting.planned_end <= limit))
    assert f'90天内期满的选派 <span class="badge">{county_count}</span>' in county_home
