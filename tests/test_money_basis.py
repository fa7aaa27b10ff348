"""Every money figure says its basis (issue 12, point 5): the period (a year, or all years)
and which parts of a record's value it counts (直接投入资金, 引进资金, 实物折价)."""
from __future__ import annotations

from registry.core.formatting import money_basis
from tests.factories import COUNTY
from tests.factories_records import file_record, world  # noqa: F401  (fixture)


def test_the_words_of_a_basis():
    assert money_basis(2026) == "2026年；直接投入资金、引进资金、实物折价合计"
    assert money_basis(None, "amount") == "历年累计；仅直接投入资金，不含引进资金、实物折价"
    assert money_basis(2025, "amount", "in_kind") == "2025年；仅直接投入资金、实物折价，不含引进资金"


def test_village_and_coverage_figures_say_which_is_which(db, login_as, world):  # noqa: F811
    from registry.core.timeutil import local_today

    file_record(world.unit, world.village.code, status="confirmed", village_user=world.village_user)
    county = login_as(world.county)
    village_page = county.get(f"/regions/{world.village.code}").get_data(as_text=True)
    assert "已确认直接投入" in village_page and money_basis(None, "amount") in village_page
    assert money_basis(None, "in_kind") in village_page
    year = local_today().year
    coverage = county.get(f"/coverage/{COUNTY}?year={year}").get_data(as_text=True)
    assert money_basis(year) in coverage
