"""A cadre (驻村干部) on a phone (issue 14): the township opens the account of a first
secretary or team member whose November is not filed and reads out the one-time code;
the cadre activates the account on a 375 px screen and files November's days there; the
township verifies the month, and the gap 驻村天数不足 gains it."""
from __future__ import annotations

import re
from datetime import date, timedelta

PHONE = {"width": 375, "height": 740}
PASSWORD = "Zhucun-Ganbu-2026"


def _last_month() -> date:
    return date.today().replace(day=1) - timedelta(days=1)


def _fits(page) -> None:
    """Nothing wider than the phone's screen: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide on a {PHONE['width']}px screen"


def _low_days_count(page, url: str) -> int:
    page.goto(url)
    return int(page.locator('a[data-kind="low_days"] .badge').inner_text())


def test_a_cadre_activates_files_november_on_a_phone_and_the_township_verifies(
        browser, page_as, live_server, shots):
    base = live_server["url"]
    november = _last_month()
    label = f"{november.year}年{november.month}月"

    # the township: a village posting whose last month is not filed yet
    township = page_as("demo_township", at="/duty/postings?missing=1")
    rows = township.locator("table.table tbody tr")
    target = None
    for n in range(rows.count()):
        cells = rows.nth(n).locator("td")
        # last month's column: 未填 (and, for the township, its 催办 button)
        if cells.count() > 5 and cells.nth(cells.count() - 3).inner_text().strip().startswith("未填"):
            target = rows.nth(n)
            break
    assert target is not None, "the demo data has no village posting with last month unfiled in the township"
    name = target.locator("td").first.inner_text().strip()
    posting_path = target.locator("td a").first.get_attribute("href")  # /duty/posting/<id>
    posting_id = int(posting_path.rstrip("/").rsplit("/", 1)[1])
    gaps_url = base + "/gaps/?kind=low_days"
    before = _low_days_count(township, gaps_url)
    assert f"{label}在村15天" not in township.locator("main").inner_text()

    # ... opens the cadre's account from the person's page: name and masked phone, the code once
    township.goto(f"{base}/postings/{posting_id}")
    with township.expect_navigation(wait_until="load"):
        township.locator("dl.facts").get_by_role("link", name=name).click()
    with township.expect_navigation(wait_until="load"):
        township.get_by_role("link", name="驻村干部账号").click()
    assert township.locator("#cadre-name").inner_text() == name
    shown = township.locator("#cadre-phone").inner_text().strip()
    assert re.fullmatch(r"1\d{2}\*{4}\d{4}", shown) or shown.startswith("未登记"), shown  # masked, never in full
    township.fill("input[name=username]", "browser_cadre")
    with township.expect_navigation(wait_until="load"):
        township.get_by_role("button", name="开通账号并发放激活码").click()
    code = township.locator("#activation-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{4}(-[A-Z0-9]{4}){3}", code), code

    # the cadre, on a phone: activates from the login page
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        errors = []
        phone.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        phone.on("pageerror", lambda exc: errors.append(str(exc)))
        phone.goto(base + "/login")
        with phone.expect_navigation(wait_until="load"):
            phone.get_by_role("link", name="用激活码激活账号").click()
        _fits(phone)
        phone.fill("input[name=identifier]", "browser_cadre")
        phone.fill("input[name=code]", code.lower())  # as typed on a phone keyboard
        phone.fill("input[name=password]", PASSWORD)
        phone.fill("input[name=confirm]", PASSWORD)
        with phone.expect_navigation(wait_until="load"):
            phone.get_by_role("button", name="激活并登录").click()
        assert phone.url == base + "/", phone.locator("main").inner_text()
        assert name in phone.locator("h1").inner_text()
        _fits(phone)
        phone.screenshot(path=str(shots / "cadre-home-phone.png"), full_page=True)

        # ... files November: 15 days in the village, 3 days' leave approved by the township
        with phone.expect_navigation(wait_until="load"):
            phone.get_by_role("link", name=f"填报{november.month}月驻村天数").click()
        assert "填报：" in phone.locator("#duty-who").inner_text() and "核实：乡镇" in phone.locator("#duty-who").inner_text()
        assert phone.input_value("select[name=month]") == november.strftime("%Y-%m")
        _fits(phone)
        phone.fill("input[name=days_in_village]", "15")
        phone.fill("input[name=leave_days]", "3")
        phone.fill("input[name=leave_approved_by]", "乡党委书记")
        phone.fill("input[name=absences]", "0")
        phone.fill("textarea[name=summary]", "走访脱贫户12户，协调产业项目用地")
        with phone.expect_navigation(wait_until="load"):
            phone.get_by_role("button", name="提交").click()
        assert "等待乡镇核实" in phone.locator(".flash-success").inner_text()
        phone.goto(base + "/")
        month_row = phone.locator(f'.cadre-month[data-month="{november:%Y-%m}"]')
        assert "待核实" in month_row.inner_text() and "15" in month_row.inner_text()
        _fits(phone)
        phone.screenshot(path=str(shots / "cadre-filed-phone.png"), full_page=True)
        assert not errors, errors
    finally:
        context.close()

    # a claim is not a gap yet: the township verifies it
    assert _low_days_count(township, gaps_url) == before
    township.goto(f"{base}/duty/posting/{posting_id}")
    row = township.locator("table.table tbody tr", has_text=label)
    assert "待核实" in row.inner_text() and "不足" in row.inner_text()
    with township.expect_navigation(wait_until="load"):
        row.get_by_role("button", name="核实").click()
    assert "已核实" in township.locator("table.table tbody tr", has_text=label).inner_text()

    # ... and the gap 驻村天数不足 now lists that month
    assert _low_days_count(township, gaps_url) == before + 1
    assert f"{label}在村15天" in township.locator("main").inner_text()
    township.screenshot(path=str(shots / "cadre-gap-after-check.png"), full_page=True)
    assert not township.console_errors, township.console_errors
    assert not township.blocked, township.blocked
