"""Notifications seen as people see them: the unit files a record, the village on a phone
(375 px) sees the bell's count, opens the notification to the record and disputes it; the
unit finds the dispute in its notifications."""
from __future__ import annotations

import time

from tests.browser.test_records_browser import _file, _no_trouble



def _bell(page) -> int:
    badge = page.locator("#bell .badge")
    return int(badge.inner_text().rstrip("+")) if badge.count() else 0


def test_the_village_is_told_on_a_phone_and_the_unit_hears_of_the_dispute(page_as, live_server, demo, shots):
    base = live_server["url"]
    title = f"浏览器测试：通知 {int(time.time())}"
    village = page_as("demo_village", viewport={"width": 375, "height": 812}, at="/notifications/")
    if village.get_by_role("button", name="全部标为已读").count():
        with village.expect_navigation(wait_until="load"):
            village.get_by_role("button", name="全部标为已读").click()
    assert _bell(village) == 0

    unit = page_as("demo_unit")
    _file(unit, base, demo, title)
    offered = unit.eval_on_selector_all(
        "select[name=pairing_id] option[data-region]", "options => options.map(o => [o.dataset.region, o.disabled])")
    unit.select_option("select[name=pairing_id]", index=[i for i, (_, d) in enumerate(offered) if not d][0] + 1)
    with unit.expect_navigation(wait_until="load"):
        unit.click("button[value=submit]")
    assert unit.locator("#record-status").inner_text() == "待确认"

    village.goto(base + "/")
    assert _bell(village) == 1
    assert village.locator("#bell").is_visible()  # in the header, not inside the phone's menu
    village.screenshot(path=str(shots / "notifications-phone-bell.png"), full_page=True)
    village.goto(base + "/notifications/?state=unread")
    row = village.locator("#notifications tr.unread", has_text=title)
    assert row.count() == 1
    village.screenshot(path=str(shots / "notifications-phone-list.png"), full_page=True)
    with village.expect_navigation(wait_until="load"):
        row.get_by_role("button", name=f"待确认的帮扶记录：{title}").click()
    assert "/records/" in village.url and _bell(village) == 0
    village.goto(village.url + "/dispute")
    village.fill("textarea[name=reason]", "金额与村账不符")
    with village.expect_navigation(wait_until="load"):
        village.locator("form button[type=submit]", has_text="提出异议").click()

    unit.goto(base + "/notifications/?kind=record_disputed")
    assert _bell(unit) >= 1
    row = unit.locator("#notifications tr", has_text=title)
    assert row.count() == 1 and "金额与村账不符" in row.inner_text()
    unit.screenshot(path=str(shots / "notifications-unit-disputed.png"), full_page=True)

    # the unit opens the notification, corrects the amount and submits again: the village is told anew
    with unit.expect_navigation(wait_until="load"):
        row.get_by_role("button").first.click()
    assert "/records/" in unit.url and unit.locator("#record-status").inner_text() == "有异议"
    with unit.expect_navigation(wait_until="load"):
        unit.get_by_role("link", name="修改").click()
    unit.fill("input[name=amount]", "4.5万")
    with unit.expect_navigation(wait_until="load"):
        unit.click("button[value=submit]")  # 保存并提交村确认
    assert unit.locator("#record-status").inner_text() == "待确认"
    village.goto(base + "/notifications/?state=unread")
    assert _bell(village) >= 1
    assert village.locator("#notifications tr.unread", has_text=title).count() == 1

    village.goto(base + "/account")
    with village.expect_navigation(wait_until="load"):
        village.get_by_role("link", name="通知设置").click()
    village.fill("input[name=email]", "cun@example.gov.cn")
    village.select_option("select[name=mode_record_submitted]", "digest")
    with village.expect_navigation(wait_until="load"):
        village.get_by_role("button", name="保存").click()
    assert "通知设置已保存" in village.content()
    assert village.locator("select[name=mode_record_submitted]").input_value() == "digest"
    village.screenshot(path=str(shots / "notifications-phone-preferences.png"), full_page=True)
    _no_trouble(unit, village)
