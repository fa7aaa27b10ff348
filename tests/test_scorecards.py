"""实绩考核 of cities and counties: a scheme's rules (weights sum to 100, entered lines need
evidence or a note, who may score, review and publish), computed scores equal to an
independent recount at the time of scoring and frozen afterwards, and who sees what."""
from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from registry.core.rules import RuleViolation
from registry.core.timeutil import local_today
from registry.extensions import db
from registry.scorecards import services
from registry.scorecards.models import Indicator, Scheme, ScoreFile, ScoreLine, Scorecard
from registry.scorecards.rules import score_of
from tests.factories import (
    CITY, COUNTY, OTHER_COUNTY, PROVINCE, first_township, make_org, make_person, make_posting, make_village)
from tests.factories_assessment import attend, make_duty, make_support, make_training
from tests.factories_records import png_bytes

YEAR = local_today().year


def _audits(entity_type: str) -> int:
    from registry.audit.models import AuditEvent

    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.entity_type == entity_type))


@pytest.fixture()
def people(make_user):
    return {
        "province": make_user("region", "sc_province", region_code=PROVINCE),
        "reviewer": make_user("region", "sc_reviewer", region_code=PROVINCE),
        "city": make_user("region", "sc_city", region_code=CITY),
        "county": make_user("region", "sc_county", region_code=COUNTY),
        "other_county": make_user("region", "sc_other", region_code=OTHER_COUNTY),
        "township": make_user("region", "sc_township", region_code=first_township(COUNTY).code),
        "viewer": make_user("viewer", "sc_viewer", region_code=PROVINCE),
    }


def _scheme(user, *indicators, activate=True) -> Scheme:
    scheme = services.create_scheme(user, {"name": "示例考核方案", "year": str(YEAR), "target_level": "county"})
    for data in indicators:
        services.add_indicator(user, scheme, data)
    if activate:
        services.activate(user, scheme)
    return scheme


FIRST_SECRETARY = {"name": "第一书记覆盖", "weight": "60", "source": "computed", "provider": "first_secretary_share",
                   "rule": "linear", "better": "higher", "floor": "0", "target": "100"}
ENTERED = {"name": "工作创新", "weight": "40", "source": "entered", "rule": "direct"}


def _png(name="材料.png"):
    return FileStorage(io.BytesIO(png_bytes()), filename=name, content_type="image/png")


# -- the scoring rules ---------------------------------------------------------------------------

def test_a_value_scores_by_its_rule(app):
    linear = Indicator(weight=Decimal(20), rule="linear", better="higher", floor=Decimal(50), target=Decimal(90))
    assert score_of(linear, Decimal(70)) == Decimal("10.00")
    assert score_of(linear, Decimal(40)) == Decimal("0.00")
    assert score_of(linear, Decimal(95)) == Decimal("20.00")
    assert score_of(linear, None) == Decimal("20.00")  # nothing to fall short in
    lower = Indicator(weight=Decimal(10), rule="linear", better="lower", floor=Decimal(10), target=Decimal(0))
    assert score_of(lower, Decimal(2)) == Decimal("8.00")
    steps = Indicator(weight=Decimal(10), rule="steps", better="higher", steps='[["90", "100"], ["80", "60"]]')
    assert [score_of(steps, Decimal(v)) for v in (95, 85, 79)] == [Decimal("10.00"), Decimal("6.00"), Decimal("0.00")]
    fewer = Indicator(weight=Decimal(10), rule="steps", better="lower", steps='[["0", "100"], ["2", "50"]]')
    assert [score_of(fewer, Decimal(v)) for v in (0, 2, 3)] == [Decimal("10.00"), Decimal("5.00"), Decimal("0.00")]


def test_weights_must_sum_to_100_before_scoring(db, people):
    province = people["province"]
    scheme = _scheme(province, FIRST_SECRETARY, activate=False)
    with pytest.raises(RuleViolation, match="权重之和须为100分（现为60分）"):
        services.activate(province, scheme)
    db.session.rollback()
    with pytest.raises(RuleViolation, match="不能超过100分"):
        services.add_indicator(province, scheme, {**ENTERED, "weight": "41"})
    db.session.rollback()
    with pytest.raises(RuleViolation, match="尚未启用"):
        services.start_scorecard(province, scheme, COUNTY)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Indicator)) == 1
    assert db.session.scalar(select(func.count()).select_from(Scorecard)) == 0
    services.add_indicator(province, scheme, ENTERED)
    services.activate(province, scheme)
    assert scheme.state == "active"
    with pytest.raises(RuleViolation, match="方案已启用"):
        services.add_indicator(province, scheme, {**ENTERED, "name": "再加一项", "weight": "1"})


def test_an_indicator_is_refused_with_the_field_named(db, people):
    province = people["province"]
    scheme = _scheme(province, activate=False)
    cases = [
        ({**FIRST_SECRETARY, "provider": "nope"}, "provider"),
        ({**FIRST_SECRETARY, "floor": "90", "target": "50"}, "target"),
        ({**FIRST_SECRETARY, "weight": "0"}, "weight"),
        ({**FIRST_SECRETARY, "rule": "direct"}, "rule"),
        ({**FIRST_SECRETARY, "rule": "steps", "steps": "九十 100"}, "steps"),
        ({**ENTERED, "scorer_id": str(people["county"].id)}, "scorer_id"),
        ({**ENTERED, "name": ""}, "name"),
    ]
    for data, field in cases:
        with pytest.raises(RuleViolation) as refused:
            services.add_indicator(province, scheme, data)
        db.session.rollback()
        assert field in refused.value.errors, (data, refused.value.errors)
    assert db.session.scalar(select(func.count()).select_from(Indicator)) == 0


# -- computed indicators: equal to a recount, then frozen ----------------------------------------

def _county_world():
    """Three villages of the county: two with a first secretary; a posting started this year
    with pre-posting training, one without; duty months, one short; support records in every
    state; a summons."""
    township = first_township(COUNTY)
    villages = [make_village(COUNTY, n, township=township) for n in (1, 2, 3)]
    make_village(OTHER_COUNTY, 1)  # elsewhere: counted nowhere here
    org = make_org("backing_unit", name="示例后盾单位")
    people = [make_person(org, f"示例干部{n}") for n in range(4)]
    start = date(YEAR, 1, 10)
    p1 = make_posting(people[0], org, villages[0].code, start=start)
    make_posting(people[1], org, villages[1].code, start=date(YEAR - 1, 3, 1))
    make_posting(people[2], org, villages[1].code, role="team_member", start=start)
    course = make_training(PROVINCE, "pre_posting", start=date(YEAR, 1, 5))
    attend(course, people[0])
    make_duty(p1, date(YEAR, 1, 1), days=22)
    make_duty(p1, date(YEAR, 2, 1), days=12)
    day = date(YEAR, 1, 20)
    for status in ("confirmed", "confirmed", "submitted", "disputed", "draft"):
        make_support(org, villages[0].code, day, status=status,
                     submitted_at=None if status == "draft" else day)
    from registry.assessment.services import IncentiveData, issue_to_person
    from registry.accounts.models import User

    issuer = db.session.scalar(select(User).where(User.username == "sc_county"))
    issue_to_person(people[0], IncentiveData("summons", local_today() - timedelta(days=1), "county", "在村天数不足"),
                    issuer)
    return villages, people, org


def _recount(code: str) -> dict[str, tuple]:
    """The figures each provider should give, counted straight from the tables."""
    from registry.assessment.models import Incentive
    from registry.duty.models import DutyMonth
    from registry.people.models import Posting
    from registry.records.models import SupportRecord
    from registry.regions.models import Region
    from registry.training.models import Attendance, Training

    prefix = code[:6]
    villages = [r.code for r in db.session.scalars(select(Region).where(Region.level == "village"))
                if r.code.startswith(prefix)]
    postings = list(db.session.scalars(select(Posting)))
    mine = [p for p in postings if p.region_code.startswith(prefix)]
    with_secretary = {p.region_code for p in mine if p.role == "first_secretary" and p.end_date is None}
    started = [p for p in mine if p.start_date.year == YEAR]
    trained = 0
    for p in started:
        for a, t in db.session.execute(select(Attendance, Training).join(Training, Training.id == Attendance.training_id)
                                       .where(Attendance.person_id == p.person_id)):
            if a.passed and t.kind == "pre_posting" and abs((t.start_date - p.start_date).days) <= 90:
                trained += 1
                break
    months = [d for d in db.session.scalars(select(DutyMonth)) if d.region_code.startswith(prefix)
              and d.month.year == YEAR]
    records = [r for r in db.session.scalars(select(SupportRecord)) if r.village_code.startswith(prefix)
               and r.record_date.year == YEAR]
    confirmed = sum(1 for r in records if r.status == "confirmed")
    decided = sum(1 for r in records if r.status in ("confirmed", "submitted", "disputed"))
    summons = sum(1 for i in db.session.scalars(select(Incentive)) if i.kind == "summons"
                  and i.subject_region_code.startswith(prefix) and i.issued_on.year == YEAR)
    from registry.core.timeutil import utcnow

    waiting = [r for r in db.session.scalars(select(SupportRecord)) if r.village_code.startswith(prefix)
               and r.status == "submitted" and r.submitted_at < utcnow() - timedelta(days=30)]
    return {
        "overdue_records": (len(waiting), None),
        "first_secretary_share": (len(with_secretary), len(villages)),
        "pre_posting_training": (trained, len(started)),
        "duty_days": (sum(1 for d in months if d.days_in_village >= 20), len(months)),
        "confirmation_rate": (confirmed, decided),
        "summons": (summons, None),
    }


def test_each_provider_equals_an_independent_recount(db, people):
    from registry.scorecards.providers import PROVIDERS, share

    _county_world()
    expected = _recount(COUNTY)
    assert expected["first_secretary_share"] == (2, 3)
    assert expected["pre_posting_training"] == (1, 2)
    assert expected["duty_days"] == (1, 2)
    assert expected["confirmation_rate"] == (2, 4)
    assert expected["summons"] == (1, None)
    assert expected["overdue_records"] == (1, None)
    for code, (numerator, denominator) in expected.items():
        figures = PROVIDERS[code].compute(COUNTY, YEAR)
        assert (figures.numerator, figures.denominator) == (numerator, denominator), code
        value = share(numerator, denominator) if denominator is not None else Decimal(numerator)
        assert figures.value == value, code
    assert PROVIDERS["backing_unit_share"].compute(COUNTY, YEAR).numerator == 2


def test_a_computed_score_is_frozen_with_its_figures(db, people):
    province = people["province"]
    villages, persons, org = _county_world()
    scheme = _scheme(province, FIRST_SECRETARY, ENTERED)
    card = services.start_scorecard(province, scheme, COUNTY)
    indicator = scheme.indicators[0]
    line = services.compute_line(province, card, indicator)
    assert (line.numerator, line.denominator, line.value) == (2, 3, Decimal("66.6667"))
    assert line.score == Decimal("40.00")  # 60 × 2/3
    assert "有在岗第一书记的村" in line.basis and line.as_of is not None
    assert _audits("ScoreLine") == 1

    # the figures change: a third village gets its first secretary
    make_posting(make_person(org, "示例干部新"), org, villages[2].code, start=date(YEAR, 6, 1))
    db.session.expire_all()
    line = db.session.get(ScoreLine, line.id)
    assert (line.numerator, line.denominator, line.score) == (2, 3, Decimal("40.00"))
    client_page = services.lines_by_indicator(db.session.get(Scorecard, card.id))
    assert client_page[0][1].score == Decimal("40.00")

    services.enter_line(province, card, scheme.indicators[1], {"value": "35", "note": "创新做法经核实"})
    services.submit(province, card)
    assert card.total == Decimal("75.00")
    with pytest.raises(RuleViolation, match="不能再评分"):
        services.compute_line(province, card, indicator)
    db.session.rollback()
    assert db.session.get(ScoreLine, line.id).score == Decimal("40.00")

    # while it is being scored, a new scoring takes the figures as they are then (audited)
    services.send_back(people["reviewer"], card, "请按最新数据重新计分")
    line = services.compute_line(province, card, indicator)
    assert (line.numerator, line.denominator, line.score) == (3, 3, Decimal("60.00"))
    assert _audits("ScoreLine") == 3  # computed, entered, recomputed


# -- entered indicators --------------------------------------------------------------------------

def test_an_entered_line_needs_evidence_or_a_note(app, db, people):
    province = people["province"]
    scheme = _scheme(province, FIRST_SECRETARY, ENTERED)
    card = services.start_scorecard(province, scheme, COUNTY)
    entered = scheme.indicators[1]
    with pytest.raises(RuleViolation) as refused:
        services.enter_line(province, card, entered, {"value": "30"})
    assert "评分依据或上传佐证材料" in refused.value.errors["note"][0]
    db.session.rollback()
    with pytest.raises(RuleViolation) as refused:
        services.enter_line(province, card, entered, {"value": "41", "note": "超过权重"})
    assert "value" in refused.value.errors
    db.session.rollback()
    with pytest.raises(RuleViolation) as refused:
        bad = FileStorage(io.BytesIO(b"<html>not a photo</html>"), filename="x.png")
        services.enter_line(province, card, entered, {"value": "30"}, [bad])
    assert "files" in refused.value.errors
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ScoreLine)) == 0

    line = services.enter_line(province, card, entered, {"value": "30"}, [_png()])
    assert line.score == Decimal("30.00") and len(line.files) == 1
    from registry.core.storage import store
    from registry.records.evidence import key_of

    assert store().exists(key_of(line.files[0].stored_name))  # kept by the records' evidence storage
    assert _audits("ScoreLine") == 2  # the entry and its file


def test_a_named_scorer_alone_enters_the_indicator(db, people):
    province, reviewer = people["province"], people["reviewer"]
    scheme = _scheme(province, FIRST_SECRETARY, {**ENTERED, "scorer_id": str(reviewer.id)})
    card = services.start_scorecard(province, scheme, COUNTY)
    with pytest.raises(RuleViolation, match="指定的评分人"):
        services.enter_line(province, card, scheme.indicators[1], {"value": "30", "note": "依据"})
    db.session.rollback()
    services.enter_line(reviewer, card, scheme.indicators[1], {"value": "30", "note": "依据"})


# -- review, publication and who sees what -------------------------------------------------------

def _scored(people) -> Scorecard:
    province = people["province"]
    scheme = _scheme(province, FIRST_SECRETARY, ENTERED)
    card = services.start_scorecard(province, scheme, COUNTY)
    services.compute_line(province, card, scheme.indicators[0])
    services.enter_line(province, card, scheme.indicators[1], {"value": "30", "note": "依据"})
    return card


def test_review_is_by_a_second_user_and_publication_follows_it(db, people):
    province, reviewer = people["province"], people["reviewer"]
    card = _scored(people)
    with pytest.raises(RuleViolation, match="只有待审核"):
        services.approve(reviewer, card)
    db.session.rollback()
    services.submit(province, card)
    with pytest.raises(RuleViolation, match="另一名工作人员"):
        services.approve(province, card)
    db.session.rollback()
    with pytest.raises(RuleViolation, match="只有已审核"):
        services.publish(province, card)
    db.session.rollback()
    for outsider in ("county", "city"):
        with pytest.raises(RuleViolation, match="考核单位"):
            services.approve(people[outsider], card)
        db.session.rollback()
    with pytest.raises(RuleViolation, match="退回原因"):
        services.send_back(reviewer, card, " ")
    db.session.rollback()
    services.approve(reviewer, card)
    services.publish(province, card)
    assert card.state == "published" and card.published_by_id == province.id
    from registry.notifications.models import Notification

    told = db.session.scalars(select(Notification.user_id).where(Notification.kind == "scorecard_published")).all()
    assert told == [people["county"].id]
    assert _audits("Scorecard") == 4  # started, submitted, approved, published


def test_the_assessed_see_only_their_own_published_scorecard(db, people, login_as):
    card = _scored(people)
    other = services.start_scorecard(people["province"], card.scheme, OTHER_COUNTY)
    url = f"/scorecards/{card.id}"
    assert login_as(people["county"]).get(url).status_code == 404  # not yet published
    assert login_as(people["county"]).get(f"/scorecards/{card.id}/print").status_code == 404
    assert login_as(people["province"]).get(url).status_code == 200
    assert login_as(people["viewer"]).get(url).status_code == 200
    services.submit(people["province"], card)
    services.approve(people["reviewer"], card)
    services.publish(people["province"], card)
    county = login_as(people["county"])
    page = county.get(url)
    assert page.status_code == 200 and "吉首市" in page.get_data(as_text=True)
    text = page.get_data(as_text=True)
    assert "审核通过</button>" not in text and "按系统数据计分</button>" not in text
    assert "提交审核：" not in text  # the assessor's audit trail is the province's
    assert county.get(f"/scorecards/{other.id}").status_code == 404
    assert county.get(f"/scorecards/schemes/{card.scheme_id}").status_code == 404
    index = county.get("/scorecards/").get_data(as_text=True)
    assert f"/scorecards/{card.id}" in index and f"/scorecards/{other.id}" not in index
    assert login_as(people["city"]).get(url).status_code == 200  # the county lies in the city
    assert login_as(people["township"]).get(url).status_code == 404
    assert login_as(people["other_county"]).get(url).status_code == 404
    printed = county.get(f"/scorecards/{card.id}/print").get_data(as_text=True)
    assert "data-print" in printed and "scorecards.js" in printed and "第一书记覆盖" in printed


def test_only_province_staff_define_score_and_publish(db, people, login_as, make_user):
    card = _scored(people)
    county = login_as(people["county"])
    assert county.get("/scorecards/schemes/new").status_code == 403
    assert county.post("/scorecards/schemes/new", data={"name": "县方案", "year": str(YEAR),
                                                         "target_level": "county"}).status_code == 403
    viewer = login_as(people["viewer"])
    assert viewer.post(f"/scorecards/{card.id}/submit", data={}).status_code == 403
    assert viewer.get(f"/scorecards/{card.id}").status_code == 200
    unit = login_as(make_user("unit", organization_id=make_org("backing_unit").id))
    assert unit.get(f"/scorecards/{card.id}").status_code == 403
    province = login_as(people["province"])
    response = province.post(f"/scorecards/{card.id}/submit", data={"version": str(card.version)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Scorecard, card.id).state == "submitted"
    response = province.post(f"/scorecards/{card.id}/approve", data={"version": str(card.version)},
                             follow_redirects=True)
    assert "另一名工作人员" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Scorecard, card.id).state == "submitted"


def test_the_scheme_page_ranks_the_scorecards_on_a_chart(db, people, login_as):
    card = _scored(people)
    services.submit(people["province"], card)
    page = login_as(people["province"]).get(f"/scorecards/schemes/{card.scheme_id}").get_data(as_text=True)
    assert 'id="figure-ranking"' in page and "plotly" in page and "吉首市" in page
    assert "</script>" not in page.split('id="figure-ranking">')[1].split("</script>")[0]


def test_evidence_files_are_served_to_those_who_see_the_scorecard(db, people, login_as):
    province = people["province"]
    scheme = _scheme(province, FIRST_SECRETARY, ENTERED)
    card = services.start_scorecard(province, scheme, COUNTY)
    line = services.enter_line(province, card, scheme.indicators[1], {"value": "30"}, [_png()])
    url = f"/scorecards/{card.id}/files/{line.files[0].id}"
    response = login_as(province).get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.get_data() == png_bytes()
    response.close()
    assert login_as(people["county"]).get(url).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(ScoreFile)) == 1


def test_the_forms_define_a_scheme_and_score_a_county(db, people, login_as):
    province = login_as(people["province"])
    assert province.get("/scorecards/schemes/new").status_code == 200
    response = province.post("/scorecards/schemes/new", data={"name": "表单方案", "year": str(YEAR),
                                                              "target_level": "county"})
    assert response.status_code == 302
    scheme = db.session.scalar(select(Scheme))
    url = f"/scorecards/schemes/{scheme.id}/indicators/new"
    assert province.get(url).status_code == 200
    refused = province.post(url, data={**FIRST_SECRETARY, "weight": "120"})
    assert refused.status_code == 422 and "权重（分值）应在0.01至100之间" in refused.get_data(as_text=True)
    assert province.post(url, data=FIRST_SECRETARY).status_code == 302
    assert province.post(url, data={**ENTERED, "note": "看材料"}).status_code == 302
    assert province.post(f"/scorecards/schemes/{scheme.id}/activate", data={}).status_code == 302
    response = province.post(f"/scorecards/schemes/{scheme.id}/scorecards", data={"region_code": COUNTY})
    card = db.session.scalar(select(Scorecard))
    assert response.headers["Location"].endswith(f"/scorecards/{card.id}")
    entered = scheme.indicators[1]
    page = province.get(f"/scorecards/{card.id}/enter/{entered.id}")
    assert page.status_code == 200 and "得分（0—40分）" in page.get_data(as_text=True)
    response = province.post(f"/scorecards/{card.id}/enter/{entered.id}",
                             data={"value": "36", "note": "", "files": [(io.BytesIO(png_bytes()), "现场.png")]},
                             content_type="multipart/form-data")
    assert response.status_code == 302
    assert province.post(f"/scorecards/{card.id}/compute/{scheme.indicators[0].id}", data={}).status_code == 302
    page = province.get(f"/scorecards/{card.id}").get_data(as_text=True)
    assert "现场.png" in page and "36.00" in page


def test_every_change_to_a_scheme_is_audited(db, people):
    from registry.audit.models import AuditEvent

    province = people["province"]
    scheme = _scheme(province, FIRST_SECRETARY, activate=False)
    extra = services.add_indicator(province, scheme, {**ENTERED, "weight": "10"})
    services.remove_indicator(province, scheme, extra)
    services.add_indicator(province, scheme, ENTERED)
    services.activate(province, scheme)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type.in_(("Scheme", "Indicator")))
                                .order_by(AuditEvent.id)).all()
    assert [(e.entity_type, e.action) for e in events] == [
        ("Scheme", "create"), ("Indicator", "create"), ("Indicator", "create"), ("Indicator", "delete"),
        ("Indicator", "create"), ("Scheme", "activate")]
    assert all(e.region_code == PROVINCE and e.actor == "sc_province" for e in events)
    deleted = events[3]
    assert "工作创新" in deleted.before and deleted.after is None  # what was removed stays in the trail


def test_the_scheme_exports_its_ranked_scorecards(db, people, login_as):
    from registry.transfer.reading import read_grid

    card = _scored(people)
    services.submit(people["province"], card)
    response = login_as(people["province"]).get(f"/scorecards/schemes/{card.scheme_id}/export.xlsx")
    assert response.status_code == 200
    rows = read_grid(response.get_data(), "export.xlsx").rows
    assert [str(c) for c in rows[0][:6]] == ["排名", "被考核地区", "状态", "总分", "第一书记覆盖：指标值", "第一书记覆盖：得分"]
    assert str(rows[1][1]) == f"吉首市（{COUNTY}）" and str(rows[1][0]) == "1"
    assert login_as(people["county"]).get(f"/scorecards/schemes/{card.scheme_id}/export.csv").status_code == 404


def test_the_results_list_exports_as_it_shows(db, people, login_as):
    from registry.transfer.reading import read_grid

    card = _scored(people)
    services.start_scorecard(people["province"], card.scheme, OTHER_COUNTY)
    rows = read_grid(login_as(people["province"]).get("/scorecards/export.xlsx").get_data(), "export.xlsx").rows
    assert [str(c) for c in rows[0]] == ["年度", "方案", "被考核地区", "总分", "状态", "发布日期"]
    assert sorted(str(r[2]) for r in rows[1:]) == sorted([f"吉首市（{COUNTY}）", f"宁乡市（{OTHER_COUNTY}）"])
    # the assessed county: nothing until its own scorecard is published, then that one only
    county = login_as(people["county"])
    assert "吉首市" not in county.get("/scorecards/export.csv").get_data(as_text=True)
    services.submit(people["province"], card)
    services.approve(people["reviewer"], card)
    services.publish(people["province"], card)
    text = county.get("/scorecards/export.csv").get_data(as_text=True)
    assert f"吉首市（{COUNTY}）" in text and "宁乡市" not in text and "已发布" in text
    assert county.get("/scorecards/export.pdf").status_code == 404


def test_inspection_findings_and_tolerated_summons_count_as_recounted(db, people):
    """The two indicators wired at merge: findings rectified (督查) equals a recount of the
    county's findings of the year; a summons covered by a 容错 decision no longer counts."""
    from registry.assessment.models import Incentive
    from registry.inspections import services as inspections
    from registry.inspections.models import Finding
    from registry.scorecards.providers import PROVIDERS
    from registry.tolerance.services import Application, Decision, apply, decide

    _county_world()
    province = people["province"]
    plan = inspections.create_plan(province, YEAR, "示例督查计划")
    inspection = inspections.add_inspection(plan, province, f"region:{COUNTY}")
    due = (local_today() + timedelta(days=30)).isoformat()
    found = [inspections.add_finding(inspection, province, inspections.FindingData("funds", f"示例问题{n}", due))
             for n in range(3)]
    inspections.rectify(found[0], "已整改到位", people["county"])
    inspections.close(found[0], "核实销号", province)
    rows = [f for f in db.session.scalars(select(Finding)) if f.target_region_code == COUNTY and f.year == YEAR]
    expected = (sum(1 for f in rows if f.status == "closed"), len(rows))
    figures = PROVIDERS["findings_rectified"].compute(COUNTY, YEAR)
    assert (figures.numerator, figures.denominator) == expected == (1, 3)

    summons = db.session.scalar(select(Incentive).where(Incentive.kind == "summons"))
    assert PROVIDERS["summons"].compute(COUNTY, YEAR).numerator == 1
    case = apply("summons", summons, Application("objective", "山洪致道路中断，未能返村"), people["county"])
    decide(case, Decision("tolerated", "情况属实"), people["city"])
    figures = PROVIDERS["summons"].compute(COUNTY, YEAR)
    assert figures.numerator == 0 and "予以容错" in figures.basis
