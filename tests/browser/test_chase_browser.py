"""催办 and 督办升级 as people see them (issue 14): the demo township chases the demo unit's
overdue record from its overdue list; after the escalation period (time moved forward by
running the daily ``flask chase escalate`` as of a later day) the county finds it on its
own list, marked 已升级至县级, and can narrow the list to what was escalated to it."""
from __future__ import annotations

import subprocess
from datetime import datetime, timedelta

from tests.browser.conftest import BIN, ROOT

TITLE = "援建村级农产品冷库"  # the demo unit's record, 75 days without the village's answer


def test_the_township_chases_an_overdue_record_and_the_county_sees_it_escalated(page_as, live_server, shots):
    township = page_as("demo_township", at="/records/overdue")
    row = township.locator("table.overdue tbody tr", has_text=TITLE).first
    assert "未催办" in row.locator("td.chase").inner_text()
    with township.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="催办").click()
    assert TITLE in township.locator("main").inner_text()
    township.fill("textarea[name=note]", "请村里本周内核实冷库建设情况，确认或提出异议")
    with township.expect_navigation(wait_until="load"):
        township.get_by_role("button", name="催办").click()
    assert "/records/overdue" in township.url  # back on the list it came from
    assert "已催办" in township.locator(".flash-success").inner_text()
    row = township.locator("table.overdue tbody tr", has_text=TITLE).first
    assert "已催办 1 次，最近：" in row.locator("td.chase").inner_text()
    township.screenshot(path=str(shots / "chase-township-overdue.png"), full_page=True)

    # the escalation period passes: the daily run, as of that day
    later = (datetime.now() + timedelta(days=15)).date().isoformat()
    run = subprocess.run([str(BIN / "flask"), "chase", "escalate", "--today", later], cwd=ROOT, env=live_server["env"],
                         capture_output=True, text=True, check=True)
    assert "升级至县级" in run.stdout, run.stdout + run.stderr

    county = page_as("demo_county", at="/records/overdue")
    with county.expect_navigation(wait_until="load"):
        county.locator("p.overdue-chase a[data-chase=county]").click()
    row = county.locator("table.overdue tbody tr", has_text=TITLE).first
    assert row.locator("[data-escalated=county]").inner_text() == "已升级至县级"
    assert county.locator("table.overdue tbody tr").count() == 1
    with county.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="查看记录").click()
    card = county.locator("#chase")
    assert "已升级至县级" in card.inner_text() and "请村里本周内核实冷库建设情况" in card.inner_text()
    county.screenshot(path=str(shots / "chase-county-escalated.png"), full_page=True)
    # the township that chased sees it gone up, on its own list, and the county was told
    township.reload()
    row = township.locator("table.overdue tbody tr", has_text=TITLE).first
    assert row.locator("[data-escalated=county]").inner_text() == "已升级至县级"
    county.goto(live_server["url"] + "/notifications/?kind=item_escalated")
    assert county.locator("#notifications tr", has_text="已升级至县级督办").count() >= 1
    for page in (township, county):
        assert not page.console_errors, page.console_errors
        assert not page.blocked, page.blocked
