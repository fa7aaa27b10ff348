"""Postings awaiting a grade (待考核), counted from the summaries (``dashboard.ungraded``):
for a province, city or county the counts of every year and role equal counting the
postings, also where an area's rows no longer hold or an area has rows of the year but no
area row; the province staff's home, the year close page and the list of postings to
grade show them."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import delete, func, select, update

from registry.assessment.services import GradeData, assess_posting
from registry.core.timeutil import local_today
from registry.dashboard import ungraded as module
from registry.dashboard.models import AreaSummary
from registry.dashboard.ungraded import FIRST_SECRETARY, ungraded, ungraded_count
from registry.extensions import db
from registry.people.models import Posting
from registry.people.postings import end_posting
from registry.regions.models import Region
from tests.factories import CITY, COUNTY, OTHER_COUNTY, PROVINCE, make_org, make_person, make_posting, make_village

THIS_YEAR = local_today().year
YEARS = range(THIS_YEAR - 4, THIS_YEAR + 2)


@pytest.fixture()
def world(app, make_user):
    """Postings in two townships of the county, at the county itself (ended: its area has
    no village) and in another county; begun in different years, some ended, some graded."""
    province = make_user("region", region_code=PROVINCE)
    townships = db.session.scalars(select(Region).where(Region.parent_code == COUNTY, Region.level == "township")
                                   .order_by(Region.code).limit(2)).all()
    org = make_org()
    villages = [make_village(COUNTY, n, township=t) for n, t in enumerate(townships * 2, start=1)]
    postings = []
    for n, (place, role, start) in enumerate([
        (villages[0].code, FIRST_SECRETARY, date(THIS_YEAR - 3, 3, 1)),
        (villages[1].code, FIRST_SECRETARY, date(THIS_YEAR - 1, 12, 31)),
        (villages[2].code, "team_member", date(THIS_YEAR - 2, 1, 1)),
        (villages[3].code, FIRST_SECRETARY, date(THIS_YEAR, 1, 1)),
        (COUNTY, "seconded_cadre", date(THIS_YEAR - 3, 6, 1)),
        (make_village(OTHER_COUNTY, 1).code, FIRST_SECRETARY, date(THIS_YEAR - 2, 1, 1)),
    ]):
        held = {"post_held": "副县长"} if role == "seconded_cadre" else {}
        postings.append(make_posting(make_person(org), org, place, role=role, start=start, **held))
    # graded: the first for two years, the team member for last year
    for posting, year in ((postings[0], THIS_YEAR - 3), (postings[0], THIS_YEAR - 1), (postings[2], THIS_YEAR - 1)):
        assess_posting(posting, GradeData(year=year, grade="称职"), province)
    # ended: the county's seconded cadre last year, a first secretary the year before
    for posting, end in ((postings[4], date(THIS_YEAR - 1, 5, 1)), (postings[1], date(THIS_YEAR - 1, 12, 31))):
        end_posting(posting, end_date=end, end_reason="term_completed", end_note=None, version=posting.version,
                    actor=province)
    db.session.commit()
    return {"province": province, "postings": postings, "townships": townships}


def _counted(region: Region, year: int, role: str | None) -> int:
    return db.session.scalar(select(func.count()).select_from(Posting)
                             .where(region.within(Posting.region_code), ungraded(year, role))) or 0


def _regions(world) -> list[Region]:
    return [db.session.get(Region, code) for code in (PROVINCE, CITY, COUNTY, OTHER_COUNTY)] + world["townships"]


def _assert_all_counted(world) -> None:
    for region in _regions(world):
        for year in YEARS:
            for role in (None, FIRST_SECRETARY):
                assert ungraded_count(region, year, role) == _counted(region, year, role), (region.code, year, role)


def test_the_counts_from_the_summaries_are_those_of_the_postings(world, monkeypatch):
    province = db.session.get(Region, PROVINCE)
    assert [_counted(province, year, None) for year in YEARS] == [0, 1, 4, 3, 4, 4]
    assert [_counted(province, year, FIRST_SECRETARY) for year in YEARS] == [0, 0, 2, 2, 3, 3]
    # this year's are the summaries' alone: no posting is looked at
    looked: list = []
    live = module._live
    monkeypatch.setattr(module, "_live", lambda *args: looked.append(args) or live(*args))
    assert ungraded_count(province, THIS_YEAR) == 4 and ungraded_count(province, THIS_YEAR - 1, FIRST_SECRETARY) == 2
    assert looked == []
    _assert_all_counted(world)


def test_areas_whose_rows_do_not_hold_are_counted_live(world):
    township = world["townships"][0]
    # time has outdated one area's row; the county's own area has no row at all
    db.session.execute(update(AreaSummary).where(AreaSummary.area == township.code)
                       .values(valid_until=local_today()))
    db.session.execute(delete(AreaSummary).where(AreaSummary.area == COUNTY))
    _assert_all_counted(world)
    # and a grade moves the count at once
    posting = world["postings"][3]
    before = ungraded_count(db.session.get(Region, PROVINCE), THIS_YEAR, FIRST_SECRETARY)
    assess_posting(posting, GradeData(year=THIS_YEAR, grade="优秀"), world["province"])
    assert ungraded_count(db.session.get(Region, PROVINCE), THIS_YEAR, FIRST_SECRETARY) == before - 1
    _assert_all_counted(world)


def test_without_summaries_everything_is_counted(world):
    db.session.execute(delete(AreaSummary))
    _assert_all_counted(world)


def test_the_pages_show_them(world, login_as, monkeypatch):
    """The province's home (first secretaries of the assessment year), the list of postings
    to grade (its total) and the year close page (every posting) of last year."""
    from registry.assessment import views

    year = THIS_YEAR - 1
    monkeypatch.setattr(views, "default_year", lambda: year)
    province = login_as(world["province"])
    home = province.get("/").get_data(as_text=True)
    assert re.search(rf'{year}年度第一书记待考核 <span class="badge">2</span>', home)
    assert "共 2 人尚未评定" in home
    todo = province.get(f"/assessment/todo?year={year}").get_data(as_text=True)
    assert "共 3 条" in todo and todo.count('href="/assessment/posting/') == 3
    close = province.get(f"/closing/close?year={year}").get_data(as_text=True)
    assert re.search(r"未考核的选派干部</a>：3 人", close)
