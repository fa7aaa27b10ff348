"""Support records seen as people see them: the demo unit files a record with a photo for
the demo village, the village confirms it, and both sides see it confirmed; a dispute
reaches the unit's home page with the village's reason."""
from __future__ import annotations

import time
from pathlib import Path





def _photo(tmp_path: Path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 500), (70, 140, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 360, 800, 500), fill=(160, 130, 90))
    draw.ellipse((600, 50, 700, 150), fill=(250, 220, 110))
    path = tmp_path / "现场照片.jpg"
    image.save(path, format="JPEG", quality=85)
    return path


def _file(page, base: str, demo, title: str, photo: Path | None = None, amount: str = "88000.50"):
    page.goto(base + "/records/new")
    page.select_option("select[name=village_code]", demo["village_code"])
    page.select_option("select[name=category]", "industry")
    page.fill("input[name=title]", title)
    page.fill("input[name=amount]", amount)
    page.fill("input[name=amount_in_kind]", "5000")
    page.fill("input[name=households]", "12")
    page.fill("input[name=persons]", "40")
    page.fill("textarea[name=description]", "为村茶叶合作社购置揉捻机两台，已安装调试。")
    if photo:
        page.set_input_files("input[name=files]", str(photo))


def _no_trouble(*pages):
    for page in pages:
        assert not page.console_errors, page.console_errors
        assert not page.blocked, page.blocked


def test_unit_files_with_a_photo_and_the_village_confirms(page_as, live_server, demo, shots, tmp_path):
    base = live_server["url"]
    title = f"浏览器测试：购置茶叶揉捻机 {int(time.time())}"

    unit = page_as("demo_unit")
    _file(unit, base, demo, title, _photo(tmp_path))
    offered = unit.eval_on_selector_all(
        "select[name=pairing_id] option[data-region]", "options => options.map(o => [o.dataset.region, o.disabled])")
    assert offered and all(disabled != demo["village_code"].startswith(prefix) for prefix, disabled in offered)
    assert any(not disabled for _, disabled in offered)  # the demo unit's pairing with the village is offered
    unit.select_option("select[name=pairing_id]", index=[i for i, (_, d) in enumerate(offered) if not d][0] + 1)
    unit.screenshot(path=str(shots / "records-new-filled.png"), full_page=True)
    with unit.expect_navigation(wait_until="load"):  # its images loaded; networkidle idled 500 ms more
        unit.click("button[value=submit]")
    assert "/records/" in unit.url and unit.locator("#record-status").inner_text() == "待确认"
    record_url = unit.url
    image = unit.locator("ul.evidence img").first
    # a lazy image is not part of the load event: wait for it to arrive (on a busy machine
    # it came after the page's load, and the check below saw it incomplete)
    unit.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.complete && img.naturalWidth") == 800  # the photo is served back
    unit.screenshot(path=str(shots / "records-unit-submitted.png"), full_page=True)

    village = page_as("demo_village")
    badge = village.locator("nav.mainnav a", has_text="待确认").locator(".badge")
    assert int(badge.inner_text()) >= 1
    village.goto(base + "/records/inbox")
    card = village.locator("section.inbox-item", has_text=title)
    assert card.count() == 1
    village.screenshot(path=str(shots / "records-village-inbox.png"), full_page=True)
    with village.expect_navigation(wait_until="load"):
        card.get_by_role("button", name="确认属实").click()
    _second_step(village)
    assert "已确认该帮扶记录" in village.content()
    assert village.locator("section.inbox-item", has_text=title).count() == 0
    village.goto(record_url)
    assert village.locator("#record-status").inner_text() == "已确认"
    village.screenshot(path=str(shots / "records-village-confirmed.png"), full_page=True)

    unit.goto(record_url)
    assert unit.locator("#record-status").inner_text() == "已确认"
    history = unit.locator("#history").inner_text()
    assert "村确认" in history and "demo_village" in history and "上传佐证材料" in history
    assert unit.get_by_role("link", name="提交更正").count() == 1  # corrections, never edits
    assert unit.get_by_role("link", name="修改", exact=True).count() == 0
    unit.screenshot(path=str(shots / "records-unit-confirmed.png"), full_page=True)
    _no_trouble(unit, village)


def _second_step(village):
    """确认属实 asks once more: tick that the figures and evidence were checked, confirm."""
    assert "第 2 步" in village.content()
    village.check("input[name=attest]")
    with village.expect_navigation(wait_until="load"):
        village.get_by_role("button", name="确认属实", exact=True).click()


def test_the_village_sees_a_corrections_old_and_new_amounts_and_its_evidence_on_a_phone(
        page_as, live_server, demo, shots, tmp_path):
    base = live_server["url"]
    title = f"浏览器测试：捐赠化肥 {int(time.time())}"
    unit = page_as("demo_unit")
    _file(unit, base, demo, title, _photo(tmp_path), amount="0")
    unit.fill("input[name=amount_in_kind]", "12000")
    with unit.expect_navigation(wait_until="load"):
        unit.click("button[value=submit]")
    original_url = unit.url

    village = page_as("demo_village", viewport={"width": 375, "height": 812}, at=original_url)
    with village.expect_navigation(wait_until="load"):
        village.locator("#decide").get_by_role("button", name="确认属实").click()
    _second_step(village)

    unit.goto(original_url + "/correct")  # the form starts from the confirmed record's values
    unit.fill("input[name=amount_in_kind]", "7200")
    with unit.expect_navigation(wait_until="load"):
        unit.click("button[value=submit]")
    correction_url = unit.url
    reference = unit.locator("#record-reference").inner_text()

    village.goto(correction_url)
    changed = village.locator("#changes tr.changed")
    assert changed.count() == 1 and changed.get_attribute("data-field") == "amount_in_kind"
    row = changed.inner_text()
    assert "7,200.00 元" in row and "12,000.00 元" in row  # new and old, the old one struck through
    thumb = village.locator("#decide ul.thumbs img").first  # the photo came over with the correction
    thumb.scroll_into_view_if_needed()
    assert thumb.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0  # a thumbnail, not the photo
    assert thumb.evaluate("img => img.naturalWidth") <= 320
    width = village.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the record scrolls sideways on a phone ({width}px)"
    village.screenshot(path=str(shots / "records-correction-phone.png"), full_page=True)

    with village.expect_navigation(wait_until="load"):
        village.locator("#decide").get_by_role("button", name="确认属实").click()
    assert "12,000.00 元" in village.content() and village.locator("ul.thumbs img").count() >= 1
    assert village.evaluate("document.documentElement.scrollWidth") <= 375
    village.screenshot(path=str(shots / "records-confirm-step-phone.png"), full_page=True)
    _second_step(village)
    flash = village.locator(".flash-success").inner_text()
    assert "已确认该帮扶记录" in flash and reference in flash
    assert village.locator("#record-status").inner_text() == "已确认"
    _no_trouble(unit, village)


def test_a_dispute_reaches_the_units_home_with_the_reason(page_as, live_server, demo, shots):
    base = live_server["url"]
    title = f"浏览器测试：捐赠农资 {int(time.time())}"
    unit = page_as("demo_unit")
    _file(unit, base, demo, title, amount="12000")
    with unit.expect_navigation(wait_until="load"):
        unit.click("button[value=submit]")

    village = page_as("demo_village", at="/records/inbox")
    card = village.locator("section.inbox-item", has_text=title)
    card.locator("summary").click()
    with village.expect_navigation(wait_until="load"):
        card.get_by_role("button", name="提出异议").click()  # without a reason: refused, nothing changed
    assert "请填写异议理由" in village.content()
    assert village.console_errors == ["Failed to load resource: the server responded with a status of 422 (UNPROCESSABLE ENTITY)"]
    village.console_errors.clear()  # that refusal (422) was the point
    village.fill("textarea[name=reason]", "实际只收到化肥20袋，金额需核实")
    with village.expect_navigation(wait_until="load"):
        village.get_by_role("button", name="提出异议").click()
    assert "已提出异议" in village.content()

    unit.goto(base + "/")
    panel = unit.locator("section.panel", has_text="村有异议的记录")
    assert title in panel.inner_text() and "实际只收到化肥20袋" in panel.inner_text()
    unit.screenshot(path=str(shots / "records-unit-home.png"), full_page=True)
    _no_trouble(unit, village)


def test_phone_layout_of_the_inbox(page_as, live_server, demo, shots):
    village = page_as("demo_village", viewport={"width": 390, "height": 844}, at="/records/inbox")
    village.screenshot(path=str(shots / "records-village-inbox-phone.png"), full_page=True)
    width = village.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the inbox scrolls sideways on a phone ({width}px)"


def test_township_and_county_see_the_overdue_worklist(page_as, live_server, demo, shots):
    for username in ("demo_township", "demo_county"):
        page = page_as(username)
        panel = page.locator("section.panel", has_text="天未确认的记录")
        assert panel.count() == 1 and int(panel.locator(".badge").inner_text()) >= 1
        page.goto(live_server["url"] + "/records/overdue")
        assert page.locator("table.table tbody tr").count() >= 1
        assert "援建村级农产品冷库" in page.content()  # the demo unit's record, 75 days without an answer
        page.screenshot(path=str(shots / f"records-overdue-{username}.png"), full_page=True)
        _no_trouble(page)
    village = page_as("demo_village", at=f"/regions/{demo['village_code']}")
    assert village.locator("section.card", has_text="已确认直接投入").count() == 1
    village.screenshot(path=str(shots / "records-village-page.png"), full_page=True)
