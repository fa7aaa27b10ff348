"""The registry as a county officer uses it: register an enterprise, a person employed
there, post the person as first secretary of a village that has none, then find all of
it on the village page. Also: the demo unit and village see living data, and a viewer
never sees a full ID number."""
from __future__ import annotations

import random
import re

from registry.core.identity import credit_code_check_char, id_check_char
from tests.browser.nav import open_nav_group


def _credit_code() -> str:
    body = f"91433101MA{random.randint(0, 9_999_999):07d}"
    return body + credit_code_check_char(body)


def _id_number() -> str:
    # born 1999 (outside the demo generator's range, so never a duplicate)
    body = f"433101199903{random.randint(10, 28)}{random.randint(100, 999)}"
    return body + id_check_char(body)


def test_county_registers_enterprise_person_and_first_secretary(page_as, live_server, shots):
    base = live_server["url"]
    page = page_as("demo_county")
    suffix = random.randint(100, 999)
    firm = f"吉首市峒河茶业{suffix}有限公司"
    person_name = f"龙晓{suffix}"

    # 1. the enterprise
    open_nav_group(page, "帮扶主体")
    page.get_by_role("link", name="帮扶主体").click()
    page.get_by_role("link", name="登记帮扶主体").click()
    page.fill("input[name=name]", firm)
    page.select_option("select[name=kind]", "enterprise")
    page.select_option("select[name=region_code]", "433101000000")
    page.fill("input[name=credit_code]", _credit_code().lower())  # lower case is normalised
    page.check("input[name=is_private]")
    page.fill("input[name=contact_name]", "龙经理")
    page.fill("input[name=contact_phone]", "13907431234")
    page.screenshot(path=str(shots / "registry-1-enterprise-form.png"), full_page=True)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="登记").click()
    assert re.search(r"/organizations/\d+$", page.url), page.url
    assert firm in page.locator("h1").inner_text()
    assert "民营" in page.content()

    # 2. a person employed there (a bad check digit first: refused, input kept)
    page.get_by_role("link", name="登记帮扶干部").click()
    number = _id_number()
    page.fill("input[name=name]", person_name)
    page.fill("input[name=id_number]", number[:17] + ("0" if number[17] != "0" else "1"))
    page.fill("input[name=phone]", "13807439876")
    page.select_option("select[name=ethnicity]", "苗族")
    page.check("input[name=is_party_member]")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="登记").click()
    assert "身份证号：身份证号校验位不正确" in page.content()
    assert page.input_value("input[name=name]") == person_name
    page.screenshot(path=str(shots / "registry-2-person-refused.png"), full_page=True)
    page.console_errors.clear()  # the browser logs the 422 of the refused form; that was the point
    page.fill("input[name=id_number]", number.lower())
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="登记").click()
    assert re.search(r"/people/\d+$", page.url), page.url
    body = page.content()
    assert number in body and firm in body  # county staff see the full number
    assert "男" in body or "女" in body  # gender from the ID number

    # 3. post them as first secretary of a village without one
    page.locator("main").get_by_role("link", name="选派", exact=True).click()
    page.select_option("select[name=gap]", "1")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="查找").click()
    page.screenshot(path=str(shots / "registry-3-choose-village.png"), full_page=True)
    row = page.locator("table.table tbody tr").first
    village_name = row.locator("td").first.inner_text().split(" ")[0].strip()
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="选择").click()
    assert page.input_value("select[name=role]") == "first_secretary"
    page.select_option("select[name=dispatch_level]", "county")
    page.fill("input[name=round]", "2026届")
    page.fill("input[name=start_date]", "2026-11-01")
    page.screenshot(path=str(shots / "registry-4-posting-form.png"), full_page=True)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="确认选派").click()
    assert re.search(r"/postings/\d+$", page.url), page.url
    assert "2028年11月1日" in page.content()  # planned end: start + 2 years

    # 4. the village page shows them
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name=village_name).first.click()
    forces = page.locator("#forces")
    assert person_name in forces.inner_text()
    assert firm in forces.inner_text()
    assert "缺第一书记" not in forces.inner_text()
    page.screenshot(path=str(shots / "registry-5-village.png"), full_page=True)
    assert not page.console_errors, page.console_errors
    assert not page.blocked, page.blocked


def test_demo_unit_and_village_see_living_data(page_as, live_server, shots):
    unit = page_as("demo_unit")
    home = unit.locator("main").inner_text()
    assert "本单位帮扶干部" in home and "本单位在岗选派" in home and "第一书记" in home
    unit.screenshot(path=str(shots / "registry-unit-home.png"), full_page=True)
    open_nav_group(unit, "帮扶干部")
    with unit.expect_navigation(wait_until="load"):
        unit.get_by_role("link", name="帮扶干部").first.click()
    assert unit.locator("table.table tbody tr").count() >= 3

    village = page_as("demo_village")
    village.get_by_role("link", name="本村", exact=True).click()
    forces = village.locator("#forces").inner_text()
    assert "第一书记" in forces and "湖南省农业农村厅（示例）" in forces
    assert not re.search(r"\d{17}[\dX]", village.content())  # masked numbers only
    village.screenshot(path=str(shots / "registry-village-page.png"), full_page=True)


def test_viewer_sees_masked_numbers(page_as, live_server):
    page = page_as("demo_viewer", at="/people/")
    assert page.locator("table.table tbody tr").count() > 0
    assert not re.search(r"\b\d{17}[\dX]\b", page.content())
    assert "**********" in page.content()
