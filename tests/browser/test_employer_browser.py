"""The person form's 工作单位 as the province's staff use it: hundreds of organizations,
so a text input with suggestions instead of a select. Typing part of a name offers the
matches; a click (or ↑ ↓ and Enter) picks one; the person is saved with it."""
from __future__ import annotations

import random
import re

from registry.core.identity import id_check_char


def _id_number() -> str:
    # born 1998 (outside the demo generator's range, so never a duplicate)
    body = f"433101199805{random.randint(10, 28)}{random.randint(100, 999)}"
    return body + id_check_char(body)


def _suggest(page, text: str):
    field = page.locator("input[name=organization_id_text]")
    field.fill("")
    field.press_sequentially(text, delay=30)
    # the answer to the whole text, not to a part typed on the way
    page.wait_for_function(
        """text => {
            const names = [...document.querySelectorAll("#organization_id-options [role=option] span")].map(s => s.textContent);
            return names.length > 0 && names.every(name => name.includes(text));
        }""",
        arg=text,
    )
    options = page.get_by_role("listbox", name="候选单位").get_by_role("option")
    assert field.get_attribute("aria-expanded") == "true"
    return field, options


def test_province_picks_an_employer_from_suggestions(page_as, live_server, shots):
    page = page_as("demo_province", at="/people/new")
    assert page.locator("select[name=organization_id]").count() == 0  # no select of every organization
    name = f"彭晓{random.randint(100, 999)}"
    page.fill("input[name=name]", name)
    page.fill("input[name=id_number]", _id_number())

    # part of a name: only matching organizations are offered, with kind and place
    field, options = _suggest(page, "吉首市人力")
    assert options.count() >= 1
    labels = options.all_inner_texts()
    assert all("吉首市人力" in label for label in labels), labels
    assert "后盾单位" in labels[0] and "吉首市" in labels[0]
    page.screenshot(path=str(shots / "employer-1-suggestions.png"), full_page=True)
    employer = options.first.locator("span").inner_text()
    options.first.click()
    assert field.input_value() == employer
    assert page.locator("input[name=organization_id]").input_value().isdigit()
    assert page.locator("#organization_id-options").is_hidden()
    assert page.locator(".combobox-note").inner_text().startswith("已选择：后盾单位 · 吉首市 · ")
    page.screenshot(path=str(shots / "employer-2-picked.png"), full_page=True)

    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="登记").click()
    assert re.search(r"/people/\d+$", page.url), page.url
    assert name in page.content() and employer in page.content()
    person_url = page.url

    # editing shows the current employer; another one is chosen with the keyboard only
    page.goto(person_url + "/edit")
    field = page.locator("input[name=organization_id_text]")
    assert field.input_value() == employer
    field, options = _suggest(page, "吉首市农业")
    second = options.count() > 1
    field.press("ArrowDown")
    if second:
        field.press("ArrowDown")
    active = page.locator("#organization_id-options [role=option][aria-selected=true]")
    assert field.get_attribute("aria-activedescendant") == active.get_attribute("id")
    chosen = active.locator("span").inner_text()
    field.press("Enter")  # picks; does not submit
    assert "/edit" in page.url and field.input_value() == chosen
    page.screenshot(path=str(shots / "employer-3-edit-keyboard.png"), full_page=True)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="保存").click()
    assert page.url == person_url and chosen in page.content()
    assert not page.console_errors, page.console_errors
    assert not page.blocked, page.blocked
