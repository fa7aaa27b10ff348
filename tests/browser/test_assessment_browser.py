"""Assessment and summons as the county officer and the summoned unit use them:
the assessment form of a first secretary with the year's evidence beside the grade, and a
summons followed from 待整改 through 整改中 to 已销号."""
from __future__ import annotations

import re

from tests.browser.nav import open_nav_group


def _no_errors(page):
    # a refused form answers 422 on purpose; Chromium logs that as a failed resource
    errors = [e for e in page.console_errors if "status of 422" not in e]
    assert not errors, errors
    assert not page.blocked, page.blocked


def test_assessment_form_shows_the_evidence_beside_the_grade(page_as, live_server, shots):
    base = live_server["url"]
    page = page_as("demo_county")
    open_nav_group(page, "考核奖惩")
    page.get_by_role("link", name="考核奖惩").click()
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("link", name="待考核干部").click()
    row = page.locator("tbody tr", has_text="第一书记").first
    name = row.locator("td").first.inner_text().strip()
    with page.expect_navigation(wait_until="load"):
        row.get_by_role("link", name="考核").click()
    assert re.search(r"/assessment/posting/\d+", page.url), page.url
    assert name in page.locator("h1").inner_text()

    # the evidence: days by month with flags, absences, training, support, village results
    for section, heading in (("#evidence-duty", "驻村纪实"), ("#evidence-absences", "无故缺勤"), ("#evidence-training", "培训情况"),
                             ("#evidence-support", "派出单位帮扶"), ("#evidence-results", "村帮扶实效")):
        assert heading in page.locator(section).inner_text(), section
    assert page.locator("#evidence-duty .months .m").count() >= 1
    assert "岗前培训" in page.locator("#evidence-training").inner_text()
    # ... beside the grade (side by side on a desktop screen)
    grade_box = page.locator("#grade-form").bounding_box()
    duty_box = page.locator("#evidence-duty").bounding_box()
    assert grade_box["x"] > duty_box["x"] + duty_box["width"] - 1
    assert abs(grade_box["y"] - duty_box["y"]) < 40
    page.screenshot(path=str(shots / "assessment-1-form.png"), full_page=True)

    options = [o for o in page.locator("select[name=grade] option").all_inner_texts() if o != "请选择"]
    allowed = [o for o in options if "不可选" not in o]
    capped = [o for o in options if "不可选" in o]
    page.fill("textarea[name=comment]", "驻村在岗，走访到位，群众认可")
    if capped:  # unexcused absences cap the grade: a better one is refused, the input kept
        page.select_option("select[name=grade]", label=capped[0])
        with page.expect_navigation(wait_until="load"):
            page.get_by_role("button", name="保存考核结果").click()
        assert "考核等次：本年度无故缺勤" in page.content()
        assert page.input_value("textarea[name=comment]") == "驻村在岗，走访到位，群众认可"
        page.screenshot(path=str(shots / "assessment-1b-capped.png"), full_page=True)
    # a grade within what the absences allow
    page.select_option("select[name=grade]", label=allowed[0])
    page.fill("input[name=document_number]", "吉组通〔2026〕15号")
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="保存考核结果").click()
    assert re.search(r"/assessment/\d+$", page.url), page.url
    assert f"年度考核：{allowed[0]}" in page.locator("h1").inner_text()
    assert "吉组通〔2026〕15号" in page.content()
    page.screenshot(path=str(shots / "assessment-2-saved.png"), full_page=True)
    _no_errors(page)


def test_a_summons_is_followed_to_closure(page_as, live_server, shots):
    unit = page_as("demo_unit")
    org_name = unit.locator("header .who small").inner_text().split("·", 1)[1].strip()

    county = page_as("demo_county", at="/duty/postings")
    row = county.locator("tbody tr", has_text=org_name).first
    person = row.locator("td").first.inner_text().strip()

    # 1. the county summons one of the unit's people posted in the county
    open_nav_group(county, "考核奖惩")
    county.get_by_role("link", name="考核奖惩").click()
    county.get_by_role("link", name="表扬激励与约谈").click()
    county.get_by_role("link", name="登记表扬激励或约谈").click()
    county.fill("input[name=q]", person)
    county.get_by_role("button", name="查找").click()
    with county.expect_navigation(wait_until="load"):
        county.get_by_role("link", name=person, exact=True).first.click()
    county.select_option("select[name=kind]", "summons")
    county.fill("textarea[name=reason]", "驻村纪实显示在村天数不足，群众反映走访不到位")
    county.fill("input[name=document_number]", "吉乡振约〔2026〕9号")
    with county.expect_navigation(wait_until="load"):
        county.get_by_role("button", name="登记").click()
    assert re.search(r"/incentives/\d+$", county.url), county.url
    url = county.url
    assert county.locator(".followup .step.current").inner_text() == "待整改"
    county.screenshot(path=str(shots / "summons-1-open.png"), full_page=True)

    # 2. the unit reports its rectification (a note is required)
    unit.goto(url)
    with unit.expect_navigation(wait_until="load"):
        unit.get_by_role("button", name="提交整改情况").click()
    assert "说明：请填写整改措施" in unit.content()
    unit.fill("textarea[name=note]", "制定驻村考勤制度，每周向乡镇报备在岗情况")
    with unit.expect_navigation(wait_until="load"):
        unit.get_by_role("button", name="提交整改情况").click()
    assert unit.locator(".followup .step.current").inner_text() == "整改中"
    assert unit.get_by_role("button", name="整改到位，销号").count() == 0  # only the county closes
    unit.screenshot(path=str(shots / "summons-2-rectifying.png"), full_page=True)

    # 3. the county closes it (a closing note is required)
    county.goto(url)
    with county.expect_navigation(wait_until="load"):
        county.get_by_role("button", name="整改到位，销号").click()
    assert "说明：销号须填写整改结果说明" in county.content()
    county.fill("textarea[name=note]", "经乡镇核查，连续三个月在村天数达标，整改到位")
    with county.expect_navigation(wait_until="load"):
        county.get_by_role("button", name="整改到位，销号").click()
    assert county.locator(".followup .step.current").inner_text() == "已销号"
    history = county.locator("section", has_text="处理记录").locator("li")
    assert history.count() == 3
    county.screenshot(path=str(shots / "summons-3-closed.png"), full_page=True)
    _no_errors(county)
    _no_errors(unit)
