"""Dates on the pages read as 2026年12月5日 (DESIGN: the UI's dates), and a moment is the
day it was in Hunan: the home panels, the record form's pairings and the inspection
messages once wrote 2026-12-05, and a record submitted after 16:00 UTC showed the day
before."""
from __future__ import annotations

import re
from datetime import date, datetime

from tests.factories_records import file_record, world  # noqa: F401  (the fixture)

ISO_DAY = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def _visible(html: str) -> str:
    """The page's text, without its scripts, styles and the values of its inputs."""
    html = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_home_panels_and_the_pairing_choices_write_dates_in_chinese(login_as, db, world):  # noqa: F811
    submitted = file_record(world.unit, world.village.code, status="submitted", title="晚上提交的记录",
                            record_date=date(2026, 11, 3).isoformat())
    submitted.submitted_at = datetime(2026, 12, 4, 17, 30)  # 01:30 on the 5th in Hunan
    file_record(world.unit, world.village.code, title="一条草稿", record_date=date(2026, 11, 3).isoformat())
    db.session.commit()

    village_home = login_as(world.village_user).get("/").get_data(as_text=True)
    assert "提交于 2026年12月5日" in village_home
    unit = login_as(world.unit)
    unit_home = unit.get("/").get_data(as_text=True)
    assert "2026年11月3日" in unit_home  # the draft's date in the drafts panel
    form = unit.get("/records/new").get_data(as_text=True)
    assert "（2023年1月1日起）" in form  # the pairing a record may name
    for page in (village_home, unit_home, form):
        assert not ISO_DAY.search(_visible(page)), ISO_DAY.findall(_visible(page))
