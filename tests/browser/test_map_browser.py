"""The coverage map with a deployment's own GeoJSON (tests/browser/fixtures/townships.geojson:
four made-up squares keyed by township codes of 吉首市), drawn with no request leaving the site."""
from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout


def test_map_draws_from_the_sites_own_files(page_as, live_server, shots):
    page = page_as("demo_county")
    site = live_server["url"]
    off_site, csp = [], []
    # page_as notes the off-site requests the browser refuses; a request the CSP refuses is
    # never sent, so every request the page attempts and every CSP complaint is watched too
    page.on("request", lambda r: off_site.append(r.url) if not r.url.startswith(site) and not r.url.startswith("data:") else None)
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    assert page.goto(site + "/coverage/433101000000").status == 200
    try:
        page.wait_for_selector("#chart-map[data-rendered='1']", timeout=15000)
    except PlaywrightTimeout:
        pytest.fail(f"the map was not drawn; off-site requests {off_site}, CSP {csp}, errors {page.console_errors}")
    drawn = page.eval_on_selector_all(
        "#chart-map svg path.choroplethlocation", "ps => ps.filter(p => (p.getAttribute('d') || '').length > 10).length")
    assert drawn == 4  # the four townships the fixture has boundaries for
    box = page.locator("#chart-map .geo").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    assert not off_site, off_site
    assert not page.blocked, page.blocked
    assert not csp, csp
    assert not page.console_errors, page.console_errors
    page.locator("#chart-map").screenshot(path=str(shots / "coverage-map.png"))
