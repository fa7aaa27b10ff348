"""实绩考核 as the province and a county use it: the province defines a two-indicator
scheme, scores a county (one indicator computed from the registry's figures, one entered
with a note), a second province user approves it, the province publishes it; the county
finds its scorecard in its navigation and prints it as a one-page report."""
from __future__ import annotations

import re

from registry.core.timeutil import local_today
from tests.browser.nav import open_nav_group

YEAR = local_today().year - 1  # the demo's scheme is this year's: the test's is last year's
NAME = f"{YEAR}年度浏览器测试考核方案"


def _no_errors(page):
    errors = [e for e in page.console_errors if "status of 422" not in e]
    assert not errors, errors
    assert not page.blocked, page.blocked


def _click(page, role, name, *, confirm=False):
    if confirm:  # a data-confirm form asks first
        page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation(wait_until="load"):
        page.get_by_role(role, name=name).click()


def _indicator(page, **fields):
    _click(page, "link", "添加指标")
    for name, value in fields.items():
        if page.locator(f"select[name={name}]").count():
            page.select_option(f"select[name={name}]", value=value)
        else:
            page.fill(f"[name={name}]", value)
    _click(page, "button", "添加指标")
    assert "已添加指标" in page.content(), page.content()[-3000:]


def test_the_province_scores_a_county_which_sees_and_prints_it(page_as, live_server, shots):
    province = page_as("demo_province")
    open_nav_group(province, "实绩考核")
    _click(province, "link", "实绩考核")
    _click(province, "link", "制定考核方案")
    province.fill("input[name=name]", NAME)
    province.fill("input[name=year]", str(YEAR))
    province.select_option("select[name=target_level]", value="county")
    _click(province, "button", "创建方案")
    assert re.search(r"/scorecards/schemes/\d+$", province.url), province.url
    _indicator(province, name="驻村第一书记覆盖", weight="60", source="computed", provider="first_secretary_share",
               rule="linear", better="higher", floor="0", target="100")
    _indicator(province, name="工作创新（人工）", weight="40", source="entered", rule="direct")
    assert province.locator("#weight-total").inner_text() == "100"
    _click(province, "button", "启用方案", confirm=True)
    province.select_option("select[name=region_code]", label="吉首市")
    _click(province, "button", "开始评分")
    card_url = province.url
    assert re.search(r"/scorecards/\d+$", card_url), card_url

    # one computed: the figures it came from are shown with it
    _click(province, "button", "按系统数据计分")
    computed = province.locator("#lines tbody tr").nth(0)
    assert "有在岗第一书记的村 / 全部村" in computed.inner_text()
    assert re.search(r"分子 \d+ · 分母 \d+ · 取数时间", computed.inner_text())
    # one entered, with a note
    _click(province, "link", "录入")
    province.fill("input[name=value]", "35")
    province.fill("textarea[name=note]", "据年度述职材料和现场核查评定")
    _click(province, "button", "保存评分")
    entered = province.locator("#lines tbody tr").nth(1)
    assert "35.00" in entered.inner_text() and "据年度述职材料" in entered.inner_text()
    _click(province, "button", "提交审核")
    assert province.locator("#card-state").inner_text() == "待审核"
    assert province.get_by_role("button", name="审核通过").count() == 0  # not by the one who scored it
    total = province.locator("#card-total").inner_text()
    province.screenshot(path=str(shots / "scorecards-1-submitted.png"), full_page=True)

    reviewer = page_as("demo_reviewer", at=card_url)
    _click(reviewer, "button", "审核通过")
    assert reviewer.locator("#card-state").inner_text() == "已审核（待发布）"

    province.goto(card_url)
    _click(province, "button", "发布", confirm=True)
    assert province.locator("#card-state").inner_text() == "已发布"
    # the scheme's scorecards ranked on a chart (Plotly served by the site itself)
    with province.expect_navigation(wait_until="load"):
        province.locator(".crumbs").get_by_role("link", name=NAME).click()
    province.wait_for_selector("#chart-ranking[data-rendered]")
    assert "吉首市" in province.locator("#ranking").inner_text()
    _no_errors(province)

    # the county: its own scorecard from its navigation, then the one-page report
    county = page_as("demo_county")
    open_nav_group(county, "考核结果")
    _click(county, "link", "考核结果")
    row = county.locator("#scorecards tbody tr", has_text=NAME)
    assert row.count() == 1
    with county.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="吉首市").click()
    assert county.url == card_url
    assert county.locator("#card-total").inner_text() == total
    _click(county, "link", "打印考核报告")
    assert NAME in county.locator(".score-report h1").inner_text()
    county.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    county.get_by_role("button", name="打印").click()
    assert county.evaluate("window.__printed") == 1

    county.emulate_media(media="print")
    assert county.locator(".print-header").is_visible()
    for hidden in (".topbar", ".mainnav", ".footer", "#print-button", ".crumbs"):
        assert not county.locator(hidden).first.is_visible(), hidden
    assert county.locator(".score-report").is_visible()
    pdf = county.pdf(format="A4", print_background=True)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 1, f"the report prints on {pages} pages"
    county.screenshot(path=str(shots / "scorecards-2-print.png"), full_page=True)
    county.emulate_media(media="screen")

    # the demo's six-indicator scorecard of the county prints on one page too
    county.goto(live_server["url"] + "/scorecards/")
    with county.expect_navigation(wait_until="load"):
        county.locator("#scorecards tbody tr", has_text="示例").get_by_role("link", name="吉首市").click()
    _click(county, "link", "打印考核报告")
    assert county.locator("#lines tbody tr").count() == 6
    county.emulate_media(media="print")
    pdf = county.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    county.screenshot(path=str(shots / "scorecards-3-print-demo.png"), full_page=True)
    county.emulate_media(media="screen")
    _no_errors(county)
