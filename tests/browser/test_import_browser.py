"""A county's staff bring their cadres in from a spreadsheet: download the template,
fill two rows (one wrong), upload, read the error on its row, fix it, upload again."""
from __future__ import annotations

import io
import random

from openpyxl import load_workbook

from registry.core.identity import id_check_char


def _id_number() -> str:
    body = f"433101199806{random.randint(10, 28)}{random.randint(100, 999)}"
    return body + id_check_char(body)


def _employers(wb, sheet) -> list[str]:
    column = next(c.column_letter for c in sheet[1] if c.value == "工作单位")
    for validation in sheet.data_validations.dataValidation:
        if str(validation.sqref).startswith(column):
            formula = validation.formula1
            if formula.startswith('"'):
                return formula.strip('"').split(",")
            ref = formula.split("!")[1].replace("$", "")
            return [c.value for row in wb["选项"][ref] for c in row]
    raise AssertionError("no drop-down for 工作单位")


def _upload(page, base, body: bytes):
    page.goto(base + "/import/people")
    # a click on our 选择文件 button opens the file chooser: it is one on the input over it.
    # Playwright clicks the middle of the control (button and input) once it is in view and
    # still, and refuses if anything outside the control would take the click
    with page.expect_file_chooser() as chooser:
        page.locator(".file-pick-control").click()
    chooser.value.set_files(files=[{"name": "干部.xlsx", "buffer": body,
                                    "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    # the chosen file is named beside our 选择文件 button, not by the browser's own input
    picked = page.locator("[data-file-names]").inner_text()
    assert picked == f"干部.xlsx（{max(1, int(len(body) / 1024 + 0.5))} KB）", picked
    field, button = page.locator("input[name=file]"), page.locator(".file-pick-button")
    assert field.evaluate("el => getComputedStyle(el).opacity") == "0"  # over the button, unseen
    assert field.bounding_box() == button.bounding_box()  # a click on the button is one on the input
    with page.expect_navigation(wait_until="load"):
        page.get_by_role("button", name="上传并导入").click()


def test_county_imports_people_from_the_template(page_as, live_server, shots):
    base = live_server["url"]
    page = page_as("demo_county", at="/people/")
    page.get_by_role("link", name="导入", exact=True).click()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载导入模板").click()
    template = download.value.path().read_bytes()
    wb = load_workbook(io.BytesIO(template))
    sheet = wb.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["姓名", "身份证号"] and "填写说明" in wb.sheetnames
    employer = _employers(wb, sheet)[0]
    names = [f"导入甲{random.randint(100, 999)}", f"导入乙{random.randint(100, 999)}"]
    good, bad = _id_number(), _id_number()
    wrong = bad[:-1] + ("0" if bad[-1] != "0" else "1")  # a broken check digit
    sheet.delete_rows(2)  # the example row
    for name, number in ((names[0], good), (names[1], wrong)):
        row = dict.fromkeys(header)
        row.update({"姓名": name, "身份证号": number, "工作单位": employer, "联系电话": "13800001111"})
        sheet.append([row[h] for h in header])
    buf = io.BytesIO()
    wb.save(buf)

    _upload(page, base, buf.getvalue())
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1
    assert errors.first.inner_text().startswith("第3行\t身份证号\tB3")
    assert "未写入任何数据" in page.locator("#report-title").inner_text()
    page.screenshot(path=str(shots / "import-1-error.png"), full_page=True)

    sheet["B3"] = bad
    buf = io.BytesIO()
    wb.save(buf)
    _upload(page, base, buf.getvalue())
    assert page.url.rstrip("/").endswith("/people")
    assert "导入成功：共 2 行，新增 2 条" in page.locator(".flash").first.inner_text()
    for name in names:
        page.goto(base + f"/people/?q={name}")
        assert page.get_by_role("link", name=name).count() == 1
    page.screenshot(path=str(shots / "import-2-done.png"), full_page=True)
