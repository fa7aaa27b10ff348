"""The base seen as a user sees it: each demo account logs in; a county account is
kept inside its county; nothing is fetched off the site."""
from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError


def test_every_demo_account_logs_in(page_as, live_server):
    for username in live_server["accounts"]:
        page = page_as(username, through_form=True)
        assert page.locator("header .who").inner_text().strip() != ""
        assert not page.console_errors, page.console_errors
        assert not page.blocked, page.blocked


def test_province_page_lists_14_cities(page_as, live_server, shots):
    page = page_as("demo_province", at="/regions/430000000000")
    rows = page.locator("table.table tbody tr")
    assert rows.count() == 14
    assert page.get_by_role("link", name="湘西土家族苗族自治州").count() == 1
    page.screenshot(path=str(shots / "province.png"), full_page=True)


def test_county_account_is_kept_inside_its_county(page_as, live_server):
    page = page_as("demo_county")
    assert page.goto(live_server["url"] + "/regions/430000000000").status == 404
    assert "页面不存在" in page.content()
    assert page.goto(live_server["url"] + "/regions/430102000000").status == 404
    assert page.goto(live_server["url"] + "/regions/433101000000").status == 200


def test_phone_layout_has_a_menu(page_as, live_server, shots):
    page = page_as("demo_unit", viewport={"width": 390, "height": 844})
    assert page.locator(".nav-toggle-label").is_visible()
    page.screenshot(path=str(shots / "phone-home.png"), full_page=True)


def test_a_request_off_the_site_is_refused_and_noted(page_as):
    """No page reaches the internet: the browser resolves no host but the test server's, and
    page_as notes what was asked for, so a test asserting ``not page.blocked`` sees it."""
    page = page_as("demo_unit")
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
        page.goto("https://cdn.example.com/plotly.min.js")
    with pytest.raises(PlaywrightError, match="ERR_NAME_NOT_RESOLVED"):
        page.goto("http://1.1.1.1/")
    assert page.blocked == ["https://cdn.example.com/plotly.min.js", "http://1.1.1.1/"]
