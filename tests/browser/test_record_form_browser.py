"""The record form in a real browser (issue 15): the amount is shown back in 元 and 万元 as it
is typed; the village is found by typing part of its name and the only pairing covering it
is chosen; a photo chosen before a refused save is kept and attached on the next save."""
from __future__ import annotations

import re
import time
from pathlib import Path



def _photo(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "村道现场.jpg"
    Image.new("RGB", (640, 400), (90, 140, 70)).save(path, format="JPEG", quality=85)
    return path


def test_the_amount_is_shown_back_in_both_units_as_it_is_typed(page_as, live_server, shots):
    page = page_as("demo_unit", at="/records/new")
    hint = page.locator("[data-money-hint=amount]")
    page.fill("input[name=amount]", "5万")
    assert hint.inner_text() == "＝50,000.00 元＝5.00 万元"
    page.fill("input[name=amount]", "５２，０００元")
    assert hint.inner_text() == "＝52,000.00 元＝5.20 万元"
    page.fill("input[name=amount]", "1.2345678万")  # beyond the cent: the server says why on saving
    assert hint.inner_text() == ""
    page.fill("input[name=amount_in_kind]", "123456.7")
    assert page.locator("[data-money-hint=amount_in_kind]").inner_text() == "＝123,456.70 元＝12.35 万元"
    page.screenshot(path=str(shots / "record-form-money.png"), full_page=True)
    assert not page.console_errors, page.console_errors


def test_the_village_is_searched_and_the_only_pairing_chosen(page_as, live_server, demo):
    page = page_as("demo_unit", at="/records/new")
    name = page.eval_on_selector(
        "select[name=village_code]", "(s, code) => [...s.options].find(o => o.value === code).text", demo["village_code"])
    search = page.locator("#village_code-search")
    assert search.is_visible()
    search.fill(demo["village_code"][-6:])  # part of the division code
    option = page.locator("#village_code-options [role=option]", has_text=name)
    option.first.click()
    assert page.eval_on_selector("select[name=village_code]", "s => s.value") == demo["village_code"]
    assert search.input_value() == name
    day = page.input_value("input[name=record_date]")
    fitting = page.eval_on_selector_all(
        "select[name=pairing_id] option[data-region]",
        "(os, [code, day]) => os.filter(o => code.startsWith(o.dataset.region) && (!day || o.dataset.start <= day"
        " && (!o.dataset.end || day <= o.dataset.end))).map(o => o.value)", [demo["village_code"], day])
    chosen = page.eval_on_selector("select[name=pairing_id]", "s => s.value")
    assert chosen == (fitting[0] if len(fitting) == 1 else ""), (fitting, chosen)
    if chosen:  # a date before the pairing began: it is no longer offered, nor chosen
        start = page.eval_on_selector(f"select[name=pairing_id] option[value='{chosen}']", "o => o.dataset.start")
        page.fill("input[name=record_date]", "2021-01-01" if start > "2021-01-01" else "2020-12-31")
        page.dispatch_event("input[name=record_date]", "change")
        assert page.eval_on_selector("select[name=pairing_id]", "s => s.value") == ""
        assert page.eval_on_selector(f"select[name=pairing_id] option[value='{chosen}']", "o => o.disabled")
    # typing something else drops the choice
    search.fill("没有这个村")
    assert page.eval_on_selector("select[name=village_code]", "s => s.value") == ""
    assert "没有匹配的村" in page.locator(".combobox-note").first.inner_text()
    assert not page.console_errors, page.console_errors


def test_a_photo_chosen_before_a_refused_save_is_kept(page_as, live_server, demo, tmp_path, shots):
    page = page_as("demo_unit", at="/records/new")
    page.select_option("select[name=village_code]", demo["village_code"])
    page.select_option("select[name=category]", "infrastructure")
    page.fill("input[name=amount]", "3.5万")
    page.set_input_files("input[name=files]", str(_photo(tmp_path)))
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="保存草稿").click()  # no title: refused
    assert page.locator(".error", has_text="请填写标题").count() == 1
    kept = page.locator(".pending-files li")
    assert kept.count() == 1 and "已上传：村道现场.jpg（可移除）" in kept.inner_text()
    assert page.locator("[data-file-names]").inner_text() == "未选择新文件"  # beside the kept one
    assert page.locator("[data-money-hint=amount]").inner_text() == "＝35,000.00 元＝3.50 万元"
    page.screenshot(path=str(shots / "record-form-kept-evidence.png"), full_page=True)
    title = f"浏览器测试：保留佐证 {int(time.time())}"
    page.fill("input[name=title]", title)
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="保存草稿").click()
    assert "/records/new" not in page.url
    assert page.locator("h1", has_text=title).count() == 1
    assert page.get_by_text("村道现场.jpg").count() >= 1
    assert "35,000.00 元" in page.content()
    # the refused save answers 422, which Chromium logs; nothing else went wrong
    assert [e for e in page.console_errors if "status of 422" not in e] == [], page.console_errors


def test_a_record_form_pressed_twice_is_sent_once(page_as, live_server, demo):
    # a double press on a slow network filed the same record twice (two 编号s)
    page = page_as("demo_unit", at="/records/new")
    page.select_option("select[name=village_code]", demo["village_code"])
    page.select_option("select[name=category]", "infrastructure")
    page.fill("input[name=title]", f"浏览器测试：按两次 {int(time.time())}")
    page.fill("input[name=amount]", "1200")
    page.tainted = True  # its network is slowed below: not lent to a later test
    page.context.new_cdp_session(page).send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 600, "downloadThroughput": -1, "uploadThroughput": -1})
    sent = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    # pressed, then pressed again 150 ms later while the answer is still on its way
    page.eval_on_selector("form:has(input[name=title])", """form => {
        const button = [...form.querySelectorAll("button[type=submit]")].find(b => b.textContent.includes("保存草稿"));
        button.click(); setTimeout(() => button.click(), 150); }""")
    page.wait_for_url(re.compile(r"/records/\d+$"), wait_until="load")
    assert [url for url in sent if url.endswith("/records/new")] == [live_server["url"] + "/records/new"], sent
    assert "/records/new" not in page.url and page.locator("h1", has_text="按两次").count() == 1
    assert not page.console_errors, page.console_errors
