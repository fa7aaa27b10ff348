"""The coverage page in a real browser with no network: every chart renders, nothing
is fetched off-site, the CSP reports no violation; downloads work; a county officer is
kept inside the county."""
from __future__ import annotations

import re

CHARTS = ("coverage", "amounts", "funnel", "training", "hierarchy")


def test_charts_render_offline(page_as, live_server, shots):
    page = page_as("demo_province")
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    response = page.goto(live_server["url"] + "/coverage/430000000000")
    assert response.status == 200
    for name in CHARTS:
        page.wait_for_selector(f"#chart-{name}[data-rendered='1']", timeout=20000)
        assert page.locator(f"#chart-{name} .main-svg").count() >= 1
    assert not page.blocked, page.blocked
    assert not violations, violations
    assert not page.console_errors, page.console_errors
    # the charts' tool bar speaks Chinese (Plotly's zh-CN locale, served by the site), and no
    # button of it sends a chart off the site (Plotly 3's "Share chart...": Plotly Cloud)
    titles = set(page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title'))"))
    assert {"下载图表为PNG格式", "缩放", "重置轴"} <= titles, titles
    assert not [t for t in titles if re.search(r"[A-Za-z]{3}", t.replace("PNG", ""))], titles
    # a link in running text is underlined, not told apart by its colour alone; a chart holds
    # Plotly's buttons, so it is a figure (role img would hide them from a screen reader)
    assert page.locator(".crumbs a").first.evaluate("el => getComputedStyle(el).textDecorationLine") == "underline"
    assert page.locator("#chart-coverage").get_attribute("role") == "figure"
    page.screenshot(path=str(shots / "coverage-province.png"), full_page=True)
    # the numbers as a table, and as downloads
    page.locator("details.datatable summary").first.click()
    assert page.locator("details.datatable table").first.is_visible()
    with page.expect_download() as info:
        page.get_by_role("link", name="Excel").first.click()
    assert info.value.suggested_filename.endswith(".xlsx")


def test_filters_and_drill_down(page_as, live_server, shots):
    page = page_as("demo_city", at="/coverage/433100000000")
    page.select_option("select[name=flag]", "key")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="应用").click()
    assert "flag=key" in page.url
    page.get_by_role("link", name="吉首市").first.click()
    page.wait_for_selector("#chart-coverage[data-rendered='1']", timeout=20000)
    assert "/coverage/433101000000" in page.url and "flag=key" in page.url
    page.screenshot(path=str(shots / "coverage-county.png"), full_page=True)


def test_county_officer_stays_in_the_county(page_as, live_server):
    page = page_as("demo_county")
    assert page.goto(live_server["url"] + "/coverage/430000000000").status == 404
    assert page.goto(live_server["url"] + "/api/v1/coverage/433100000000").status == 404
    # only the answer's status is asserted: the page is left once it arrives, before its five
    # Plotly charts draw (~0.7 s of Chromium's CPU; test_filters_and_drill_down draws them)
    assert page.goto(live_server["url"] + "/coverage/433101000000", wait_until="commit").status == 200
    page.goto(live_server["url"] + "/gaps/433101000000")
    assert page.locator("section.card h2").count() >= 5
