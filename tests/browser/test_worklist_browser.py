"""The gaps worklist as a county officer works it: 选派第一书记 on a village lacking one,
the posting form opens with the village and the role chosen, and saving it returns to
the list, where that village is no longer listed."""
from __future__ import annotations


def test_county_closes_a_first_secretary_gap_from_the_worklist(page_as, live_server, shots):
    page = page_as("demo_county")
    worklist = live_server["url"] + "/gaps/433101000000?kind=no_first_secretary"
    page.goto(worklist)
    row = page.locator("table.gaps tbody tr").first
    village = row.locator("td").first.inner_text().strip()
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="选派第一书记").click()
    assert village in page.locator("h1").inner_text()
    page.select_option("select[name=posted]", "idle")  # only someone without a posting can be posted
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="查询").click()
    with page.expect_navigation(wait_until="load"):
        page.locator("table.table tbody").get_by_role("link", name="选择").first.click()
    assert page.input_value("select[name=role]") == "first_secretary"
    assert village in page.locator("main").inner_text()
    page.select_option("select[name=dispatch_level]", "county")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="确认选派").click()
    assert page.url == worklist
    assert village in page.locator(".flash-success").inner_text()
    assert village not in page.locator("section.card").first.inner_text()
    page.screenshot(path=str(shots / "worklist-after-posting.png"), full_page=True)
    assert not page.console_errors, page.console_errors
    assert not page.blocked, page.blocked
