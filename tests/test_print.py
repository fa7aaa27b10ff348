"""Printing (issue 15): every signed-in page carries a header for paper (title, date
printed as 2026年12月04日, the user), shown only by the print stylesheet, which hides the
navigation, buttons and forms. tests/browser/test_print_browser.py prints the pages."""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from registry.core.formatting import date_padded
from tests.factories_records import world  # noqa: F401

CSS = Path(__file__).resolve().parents[1] / "static" / "css" / "print.css"


def test_a_printed_date_has_two_digit_month_and_day():
    assert date_padded(date(2026, 12, 4)) == "2026年12月04日"
    assert date_padded(date(2027, 1, 15)) == "2027年01月15日"


def test_the_ledger_carries_the_print_header_with_title_date_and_user(db, world, login_as):
    page = login_as(world.unit).get("/records/?status=submitted").get_data(as_text=True)
    header = re.search(r'<div class="print-header">(.*?)</div>\s*</div>', page, re.S).group(1)
    assert "帮扶记录" in header and re.search(r"打印日期：\d{4}年\d{2}月\d{2}日", header)
    assert f"打印人：{world.unit.display_name or world.unit.username}" in header and "帮扶单位" in header
    assert "data-print-filters" in page and "css/print.css" in page


def test_the_print_stylesheet_hides_navigation_buttons_and_forms_and_shows_the_header():
    css = CSS.read_text(encoding="utf-8")
    body = css[css.index("@media print"):]
    hidden = body[:body.index("display: none !important")]
    for selector in (".topbar", ".mainnav", ".footer", ".btn", "button", "form.filters", "form[method=post]", ".pager"):
        assert selector in hidden, selector
    assert ".print-header { display: block !important;" in body
    assert css.rstrip().endswith(".print-header { display: none; }")  # never on screen


def test_login_page_has_no_print_header(client):
    assert "print-header" not in client.get("/login").get_data(as_text=True)
