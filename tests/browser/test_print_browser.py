"""Printing (issue 15): a record, the village page, the coverage page and the ledger print
without navigation, buttons or forms, under a header with the page's title, the date printed
(2026年12月04日), who printed it and the filters the page shows."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import SCREENSHOTS

DATE = re.compile(r"打印日期：\d{4}年\d{2}月\d{2}日")


@pytest.fixture(scope="module")
def village_code(live_server):
    path = live_server["tmp"] / "instance" / "demo-accounts.txt"
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        role, scope, username, _ = line.split("\t")
        if username == "demo_village":
            return scope
    raise AssertionError("no demo village")


def _printed(page, shots, name: str) -> str:
    """The page as print media shows it: checks what is hidden and what the header says;
    keeps a screenshot and a PDF (SCREENSHOTS=1) for a human to look at."""
    page.emulate_media(media="print")
    header = page.locator(".print-header")
    assert header.is_visible()
    for hidden in (".topbar", ".footer", "form[method=post]", "form.filters", ".btn"):
        for element in page.locator(hidden).all():
            assert not element.is_visible(), (name, hidden)
    text = header.inner_text()
    assert DATE.search(text), text
    page.screenshot(path=str(shots / f"print-{name}.png"), full_page=True)
    if SCREENSHOTS:
        page.pdf(path=str(shots / f"print-{name}.pdf"), format="A4", print_background=True)
    page.emulate_media(media="screen")
    assert not header.is_visible()
    return text


def test_the_ledger_and_a_record_print_with_their_header(page_as, live_server, shots):
    unit = page_as("demo_unit", at="/records/?status=submitted&category=industry")
    text = _printed(unit, shots, "ledger")
    assert "帮扶记录" in text and "打印人：" in text and "帮扶单位" in text
    assert "筛选条件：状态：待确认；类别：产业" in text
    unit.goto(live_server["url"] + "/records/")
    link = unit.locator("table a[href*='/records/']").first
    link.click()
    unit.wait_for_load_state()
    text = _printed(unit, shots, "record")
    assert "筛选条件" not in text
    assert not unit.console_errors, unit.console_errors


def test_the_village_page_and_the_coverage_page_print(page_as, live_server, shots, village_code):
    county = page_as("demo_province", at=f"/regions/{village_code}")
    text = _printed(county, shots, "village")
    assert "打印人：" in text
    county.goto(live_server["url"] + "/coverage/430000000000?flag=key")
    for name in ("coverage", "amounts"):
        county.wait_for_selector(f"#chart-{name}[data-rendered='1']", timeout=20000)
    text = _printed(county, shots, "coverage")
    assert "覆盖情况" in text and "村标识：" in text and "年度：" in text
    assert not county.console_errors, county.console_errors
