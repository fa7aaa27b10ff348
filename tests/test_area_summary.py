"""The areas' summaries behind the default coverage view: kept current in the same
transaction as each change, never used once time or a setting has outdated them, and
rebuilt by the daily refresh."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, func, select, text

from registry.core.timeutil import local_today
from registry.dashboard.coverage import AREA_FIGURES, Filters, area_figures, compute
from registry.dashboard.models import AreaSummary
from registry.dashboard.recompute import refresh_stale
from registry.regions.models import Region
from tests.factories import COUNTY, make_org, make_pairing
from tests.factories_assessment import attend, make_duty, make_support, make_training, posted_secretary


def _row(db, area: str) -> AreaSummary:
    db.session.expire_all()
    return db.session.get(AreaSummary, area)


def _assert_row_is_live(db, area: str, today: date | None = None) -> AreaSummary:
    today = today or local_today()
    row = _row(db, area)
    assert row is not None, area
    live = area_figures(db.session, [area], today, today.year).get(area, dict.fromkeys(AREA_FIGURES, 0))
    assert {k: getattr(row, k) for k in AREA_FIGURES} == live
    return row


def _county_total(db, today: date | None = None):
    today = today or local_today()
    return compute(db.session.get(Region, COUNTY), Filters(today.year), today).total


def test_each_change_updates_its_area_in_the_same_transaction(db, app):
    today = local_today()
    village, org, person, posting = posted_secretary()
    area = village.code[:9] + "000"
    row = _assert_row_is_live(db, area)
    assert (row.villages, row.first_secretary, row.backing_unit, row.posted_people, row.teams_under_min) == (1, 1, 1, 1, 1)

    make_pairing(make_org("enterprise", credit_code=None), village.code, kind="enterprise_village")
    assert _assert_row_is_live(db, area).enterprise == 1

    make_support(org, village.code, today - timedelta(days=10))
    assert _assert_row_is_live(db, area).support_12m == 1

    make_duty(posting, date(today.year, 1, 1), days=5)
    assert _assert_row_is_live(db, area).months_under_min == 1

    attend(make_training(start=date(today.year, 1, 5), kind="rotation"), person)
    assert _assert_row_is_live(db, area).trained_people == 1

    village.is_key = True
    db.session.commit()
    row = _assert_row_is_live(db, area)
    assert (row.key_villages, row.first_secretary_key, row.support_12m_key) == (1, 1, 1)

    posting.end_date, posting.end_reason = today, "term_completed"
    db.session.commit()
    row = _assert_row_is_live(db, area)
    assert (row.first_secretary, row.posted_people, row.trained_people) == (0, 0, 0)
    total = _county_total(db)
    assert (total.villages, total.first_secretary, total.enterprise, total.support_12m) == (1, 0, 1, 1)


def test_a_rolled_back_change_leaves_the_area_as_it_was(db, app):
    village, org, person, posting = posted_secretary()
    area = village.code[:9] + "000"
    before = {k: getattr(_row(db, area), k) for k in AREA_FIGURES}
    posting.end_date, posting.end_reason = local_today(), "term_completed"
    from registry.core.database import settle

    settle(db.session)  # the summaries are written just before commit (once per transaction)
    assert _row(db, area).first_secretary == 0
    db.session.rollback()
    assert {k: getattr(_row(db, area), k) for k in AREA_FIGURES} == before


def test_time_outdates_a_row_and_the_page_computes_that_area_live(db, app):
    today = local_today()
    tomorrow = today + timedelta(days=1)
    village, org, person, posting = posted_secretary()
    area = village.code[:9] + "000"
    make_pairing(make_org(), village.code, kind="resident", start=tomorrow)
    make_pairing(make_org("enterprise", credit_code=None), village.code, kind="enterprise_village",
                 start=today - timedelta(days=30), end_date=today)
    make_support(org, village.code, today - timedelta(days=365))
    row = _assert_row_is_live(db, area)
    assert row.valid_until == tomorrow
    assert (row.enterprise, row.support_12m) == (1, 1)

    later = _county_total(db, tomorrow)  # the row no longer holds tomorrow: computed live
    assert (later.enterprise, later.support_12m) == (0, 0)
    assert (later.villages, later.first_secretary) == (1, 1)

    assert refresh_stale(tomorrow) == 1
    db.session.commit()
    row = _assert_row_is_live(db, area, tomorrow)
    assert (row.computed_on, row.enterprise, row.support_12m) == (tomorrow, 0, 0)
    assert refresh_stale(tomorrow) == 0


def test_a_changed_setting_is_not_answered_from_old_rows(db, app, monkeypatch):
    posted_secretary()
    assert _county_total(db).teams_under_min == 1
    monkeypatch.setitem(app.config, "REGISTRY_MIN_TEAM_SIZE", 1)
    assert _county_total(db).teams_under_min == 0
    assert refresh_stale() == 1


def test_without_rows_the_page_computes_live_and_the_refresh_builds_them(db, app, runner):
    today = local_today()
    for n in (1, 2):
        village, org, _person, _posting = posted_secretary(n=n)
        make_support(org, village.code, today - timedelta(days=3))
    before = compute(db.session.get(Region, "430000000000"), Filters(today.year), today).to_dict()
    db.session.execute(delete(AreaSummary))
    db.session.commit()
    assert compute(db.session.get(Region, "430000000000"), Filters(today.year), today).to_dict() == before
    result = runner.invoke(args=["dashboard", "refresh"])
    assert result.exit_code == 0, result.output
    assert "已更新 1 个" in result.output
    assert "ANALYZE" in result.output
    if db.engine.dialect.name == "sqlite":  # the planner now has statistics to choose indexes by
        assert db.session.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar() > 0
    assert db.session.scalar(select(func.count()).select_from(AreaSummary)) == 1
    assert compute(db.session.get(Region, "430000000000"), Filters(today.year), today).to_dict() == before


def test_an_emptied_area_keeps_a_row_of_zeros(db, app):
    from tests.factories import make_village

    village = make_village()
    area = village.code[:9] + "000"
    assert _row(db, area).villages == 1
    db.session.delete(village)
    db.session.commit()
    row = _assert_row_is_live(db, area)
    assert row.villages == 0


def test_the_support_window_is_a_setting_and_old_rows_do_not_answer_for_another(db, app, monkeypatch):
    today = local_today()
    village, org, _person, _posting = posted_secretary()
    make_support(org, village.code, today - timedelta(days=100))
    assert _county_total(db).support_12m == 1
    monkeypatch.setitem(app.config, "REGISTRY_SUPPORT_WINDOW_DAYS", 90)
    assert _county_total(db).support_12m == 0
    assert refresh_stale() == 1
    db.session.commit()
    row = _assert_row_is_live(db, village.code[:9] + "000")
    assert row.support_12m == 0
    assert row.valid_until == date(today.year + 1, 1, 1)  # nothing left to leave the window


def test_flask_dashboard_rebuild_leaves_the_summaries_exact_and_analyzed(db, app, runner):
    """The command rebuilds every summary, commits, and (PostgreSQL) vacuums and analyzes
    the tables it rewrote: the rows are the rebuild's and the planner has their statistics."""
    from tests.summaries import assert_summaries_exact

    village, org, person, posting = posted_secretary()
    make_support(org, village.code, local_today() - timedelta(days=10))
    result = runner.invoke(args=["dashboard", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "覆盖统计已重建" in result.output
    db.session.expire_all()
    row = _assert_row_is_live(db, village.code[:9] + "000")
    assert (row.villages, row.first_secretary, row.support_12m) == (1, 1, 1)
    assert_summaries_exact()
    if db.engine.dialect.name == "postgresql":
        analyzed = db.session.execute(text(
            "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relname = 'support_rollup'")).scalar()
        assert analyzed
