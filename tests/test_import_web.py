"""The import page: template, all-or-nothing upload, errors by row, the marked workbook."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import func, select

from registry.audit.models import AuditEvent
from registry.regions.models import Region
from tests.sheets import upload

TOWNSHIP = "433101005000"
HEADER = "村代码,村名称,乡镇代码,脱贫村,重点帮扶村,易地扶贫搬迁安置点\n"


def _villages(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Region).where(Region.level == "village"))


def _upload(session, text: str, update: bool = False, name: str = "villages.csv"):
    data = {"file": (io.BytesIO(text.encode("gb18030")), name)}
    if update:
        data["update"] = "y"
    return session.post("/import/villages", data=data, content_type="multipart/form-data")


def test_template_has_headers_example_dropdowns_and_a_guide(make_user, login_as):
    admin = login_as(make_user("admin"))
    response = admin.get("/import/villages/template.xlsx")
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.data))
    sheet = wb.worksheets[0]
    assert [c.value for c in sheet[1]] == ["村代码", "村名称", "乡镇代码", "脱贫村", "重点帮扶村", "易地扶贫搬迁安置点"]
    assert sheet["A2"].value == "430102001201"
    lists = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert lists["D2:D5001"] == '"是,否"'
    assert [c.value for c in wb["填写说明"]["A"]][1:4] == ["村代码", "村名称", "乡镇代码"]


def test_bad_rows_are_listed_and_nothing_is_written(db, make_user, login_as):
    admin = login_as(make_user("admin"))
    response = _upload(admin, HEADER + f"433101005201,甲村,{TOWNSHIP},是,否,否\n433101005202,,{TOWNSHIP},也许,否,否\n")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "1 行有 2 处错误" in page and "第3行" in page and "村名称不能为空" in page and "B3" in page
    assert _villages(db) == 0
    token = page.split("/import/errors/")[1].split(".xlsx")[0]
    marked = admin.get(f"/import/errors/{token}.xlsx")
    assert marked.status_code == 200
    sheet = load_workbook(io.BytesIO(marked.data)).active
    assert sheet["D3"].comment.text == "应填“是”或“否”"
    assert "村名称：村名称不能为空" in sheet["G3"].value
    other = login_as(make_user("admin"))
    assert other.get(f"/import/errors/{token}.xlsx").status_code == 404


def test_good_file_imports_once_and_updates_only_when_asked(db, make_user, login_as):
    admin = login_as(make_user("admin"))
    good = HEADER + f"433101005201,甲村,{TOWNSHIP},是,否,否\n433101005202,乙村,{TOWNSHIP},否,否,否\n"
    response = _upload(admin, good)
    assert response.status_code == 302
    assert _villages(db) == 2
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "import_villages")) == 1
    again = _upload(admin, good)
    assert again.status_code == 422 and "系统中已有这条数据" in again.get_data(as_text=True)
    renamed = good.replace("乙村", "乙新村")
    assert _upload(admin, renamed, update=True).status_code == 302
    db.session.expire_all()
    assert db.session.get(Region, "433101005202").name == "乙新村" and _villages(db) == 2


def test_an_unchanged_village_list_imported_as_an_update_writes_nothing_but_its_event(db, make_user, login_as):
    """The villages a file leaves as they are are not touched, so their areas' summaries
    are not recomputed (the province's 24,000 villages imported back unchanged took 6.6 s,
    all of it recomputing; now 0.8 s)."""
    from sqlalchemy import event

    admin = login_as(make_user("admin"))
    good = HEADER + f"433101005201,甲村,{TOWNSHIP},是,否,否\n433101005202,乙村,{TOWNSHIP},否,否,否\n"
    assert _upload(admin, good).status_code == 302
    written = []

    def note(conn, cursor, statement, *args):
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            written.append(statement.split("(")[0].strip())

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert _upload(admin, good, update=True).status_code == 302
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert written and all(w.startswith("INSERT INTO audit_event") for w in written), written


def test_a_bad_file_is_refused_with_its_reason(db, make_user, login_as):
    admin = login_as(make_user("admin"))
    response = admin.post("/import/villages", data={"file": (io.BytesIO(b"MZ\x90\x00" * 100), "v.xlsx")},
                          content_type="multipart/form-data")
    assert response.status_code == 422
    assert "内容不是 Excel 工作簿" in response.get_data(as_text=True)
    assert admin.post("/import/villages", data={}, content_type="multipart/form-data").status_code == 400


def test_roles_that_may_not_create_villages_do_not_see_the_import(make_user, login_as):
    county = login_as(make_user("region", region_code="433101000000"))
    assert county.get("/import/villages").status_code == 404
    assert county.get("/import/villages/template.xlsx").status_code == 404
    assert county.get("/import/nothing").status_code == 404


def test_organizations_import_uses_the_registration_rules(db, make_user, login_as):
    from registry.organizations.models import Organization
    from tests.factories import valid_credit_code

    county = login_as(make_user("region", region_code="433101000000"))
    assert "/import/organizations" in county.get("/organizations/").get_data(as_text=True)
    header = "单位名称,主体类型,所在行政区,统一社会信用代码,民营企业\n"
    bad = header + "甲公司,企业,433101000000,,是\n乙单位,后盾单位,湖南省（430000000000）,,否\n丙,飞船,433101000000,,否\n"
    response = county.post("/import/organizations", data={"file": (io.BytesIO(bad.encode()), "o.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "企业须填写统一社会信用代码" in page  # the form's own rule
    assert "不存在或不在您的范围内" in page  # the province is outside a county's jurisdiction
    assert "“飞船”不是可选的值" in page
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 0
    good = header + f"甲公司,企业,433101000000,{valid_credit_code(3)},是\n乙单位,后盾单位,433101000000,,否\n"
    response = county.post("/import/organizations", data={"file": (io.BytesIO(good.encode()), "o.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302 and response.headers["Location"].endswith("/organizations/")
    kinds = dict(db.session.execute(select(Organization.name, Organization.kind)).all())
    assert kinds == {"甲公司": "enterprise", "乙单位": "backing_unit"}


def test_a_large_file_runs_as_a_job_with_progress_and_its_report(db, make_user, login_as, monkeypatch):
    from registry.transfer import jobs, views

    monkeypatch.setattr(views, "INLINE_LIMIT_BYTES", 100)
    admin = login_as(make_user("admin"))
    rows = "".join(f"433101005{n:03d},村{n},{TOWNSHIP},否,否,否\n" for n in range(201, 231))
    response = _upload(admin, HEADER + rows)
    assert response.status_code == 302 and "/import/jobs/" in response.headers["Location"]
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "排队中" in page and 'http-equiv="refresh"' in page
    assert _villages(db) == 0
    assert jobs.work(once=True) == 1
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "已完成" in page and "导入成功：共 30 行，新增 30 条" in page
    assert _villages(db) == 30
    job_url = response.headers["Location"]
    assert login_as(make_user("region", region_code="433101000000")).get(job_url).status_code == 404  # not theirs
    other_admin = login_as(make_user("admin"))  # nor another administrator's, nor in their list
    assert other_admin.get(job_url).status_code == 404
    assert job_url not in other_admin.get("/import/jobs").get_data(as_text=True)
    assert job_url in admin.get("/import/jobs").get_data(as_text=True)

    bad = _upload(admin, HEADER + rows.replace("村205", ""))
    jobs.work(once=True)
    page = admin.get(bad.headers["Location"]).get_data(as_text=True)
    assert "第6行" in page and "村名称不能为空" in page and "系统中已有这条数据" in page
    assert '<dd id="job-status">有错误，未导入</dd>' in page  # not 已完成 beside 导入未完成
    assert "有错误，未导入" in admin.get("/import/jobs").get_data(as_text=True)
    assert admin.get(bad.headers["Location"] + "/errors.xlsx").status_code == 200
    assert _villages(db) == 30


def test_rows_text_joins_runs_of_rows():
    from registry.transfer.importing import rows_text

    assert rows_text([2]) == "第2行"
    assert rows_text([2, 3, 4, 5, 9, 11, 12]) == "第2–5、9、11–12行"
    assert rows_text(list(range(2, 30002))) == "第2–30001行"
    assert rows_text([2, 4, 6, 8, 10, 12, 14], runs=5) == "第2、4、6、8、10行等"


def test_a_mistake_many_rows_share_is_stated_once_above_the_list(db, make_user, login_as, runner, tmp_path):
    """One mistake down a column (here the same wrong 乡镇代码 on every row) is named once,
    with how many rows and which, on the page, in a job's report and at the CLI; a few
    unrelated mistakes are only listed."""
    from registry.transfer import cli, jobs, views

    admin = login_as(make_user("admin"))
    wrong = "".join(f"433101005{n:03d},村{n},433101999000,否,否,否\n" for n in range(201, 231))
    odd = "433101005231,,433101005000,否,否,否\n433101005232,村232,433101005000,也许,否,否\n"
    response = _upload(admin, HEADER + wrong + odd)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    shared = page.split('id="common-problems"')[1].split("</div>")[0]
    assert "乡镇代码" in shared and "30 行：第2–31行" in shared
    assert "村名称不能为空" not in shared  # one row's mistake stays in the list only
    assert "第32行" in page and "村名称不能为空" in page
    assert _villages(db) == 0

    few = _upload(admin, HEADER + odd).get_data(as_text=True)
    assert 'id="common-problems"' not in few and "村名称不能为空" in few

    path = tmp_path / "villages.csv"
    path.write_text(HEADER + wrong, encoding="utf-8")
    result = runner.invoke(args=["import", "villages", str(path)])
    assert result.exit_code == 1
    assert "多行相同的问题：[乡镇代码]" in result.output and "（30 行：第2–31行）" in result.output

    # a long report: the first errors by row, the rest in the marked file when asked for
    many = "".join(f"433101005{n:03d},村{n},433101999000,否,否,否\n" for n in range(300, 420))
    path.write_text(HEADER + many, encoding="utf-8")
    result = runner.invoke(args=["import", "villages", str(path)])
    lines = [line for line in result.output.splitlines() if line.startswith("第")]
    assert len(lines) == cli.CONSOLE_ERRORS and lines[0].startswith("第2行") and "第51行" in lines[-1]
    assert "……另有 70 处错误未列出（共 120 处），加 --errors 文件名.xlsx 可保存标注了全部错误的文件" in result.output
    assert "（120 行：第2–121行）" in result.output
    marked = tmp_path / "marked.xlsx"
    result = runner.invoke(args=["import", "villages", str(path), "--errors", str(marked)])
    assert result.exit_code == 1 and "全部错误见标注文件" in result.output and f"标注了错误的文件已保存：{marked}" in result.output
    sheet = load_workbook(marked).active
    assert sheet.max_row == 121 and sheet["C121"].comment is not None and sheet["C121"].fill.fgColor.rgb.endswith("FFC7CE")
    assert _villages(db) == 0

    views_limit = views.INLINE_LIMIT_BYTES
    try:
        views.INLINE_LIMIT_BYTES = 100
        queued = _upload(admin, HEADER + wrong + odd)
    finally:
        views.INLINE_LIMIT_BYTES = views_limit
    assert jobs.work(once=True) == 1
    page = admin.get(queued.headers["Location"]).get_data(as_text=True)
    shared = page.split('id="common-problems"')[1].split("</div>")[0]
    assert "乡镇代码" in shared and "30 行：第2–31行" in shared


def test_the_cli_imports_people_and_updates_only_when_asked(db, make_user, runner, tmp_path):
    from registry.people.models import Person
    from tests.factories import make_org

    org = make_org("backing_unit", "433101000000", name="县农业农村局")
    user = make_user("region", region_code="433101000000")
    path = tmp_path / "people.csv"
    path.write_text(f"姓名,身份证号,工作单位,职务\n张三,430101198503150018,{org.name},科员\n", encoding="utf-8")
    result = runner.invoke(args=["import", "people", str(path), "--as", user.username])
    assert result.exit_code == 0 and "新增 1 条" in result.output
    path.write_text(f"姓名,身份证号,工作单位,职务\n张三,430101198503150018,{org.name},副科长\n", encoding="utf-8")
    refused = runner.invoke(args=["import", "people", str(path), "--as", user.username])
    assert refused.exit_code == 1 and "第2行 [身份证号]：身份证号已登记（张三）" in refused.output
    updated = runner.invoke(args=["import", "people", str(path), "--as", user.username, "--update"])
    assert updated.exit_code == 0 and "更新 1 条" in updated.output
    db.session.expire_all()
    assert db.session.scalar(select(Person.post)) == "副科长"
    assert runner.invoke(args=["import", "people", str(path)]).exit_code == 1  # --as is required here


def test_every_templates_example_id_number_is_valid(app):
    """An example row a user leaves in must not be refused for its 身份证号."""
    from registry.core.identity import EXAMPLE_ID_NUMBER, normalize_id_number
    from registry.transfer.kinds import kinds

    assert normalize_id_number(EXAMPLE_ID_NUMBER) == EXAMPLE_ID_NUMBER
    examples = [f.example for kind in kinds().values() for f in kind.fields if f.key == "id_number"]
    assert len(examples) >= 4 and set(examples) == {EXAMPLE_ID_NUMBER}


def test_a_countys_own_export_comes_back_in_an_update_with_only_its_edits(db, make_user, login_as):
    """A county exports its list of units (a provincial unit paired with one of its
    villages among them, whose phone it sees masked), edits one of its own units and
    imports the file back as an update: the rows left alone are counted as unchanged,
    not refused for the masked number or the province it may not register in; an edit
    to the provincial unit's row is still refused."""
    from registry.organizations.models import Organization
    from tests.factories import COUNTY, make_org, make_pairing, make_village

    village = make_village(COUNTY, 1)
    provincial = make_org("backing_unit", "430000000000", name="省示例厅", contact_phone="13912345678",
                          contact_name="王主任")
    make_pairing(provincial, village.code)
    own = make_org("backing_unit", COUNTY, name="县示例局", contact_phone="13812345678", address="吉首市")
    make_org("backing_unit", COUNTY, name="县示例站")
    county = login_as(make_user("region", region_code=COUNTY))
    for query in ("?purpose=核对本县帮扶单位", "?masked=1"):  # phones in full where the county may see them, or all masked
        exported = county.get(f"/organizations/export.xlsx{query}")
        assert exported.status_code == 200
        sheet = load_workbook(io.BytesIO(exported.data)).worksheets[0]
        names = [row[0].value for row in sheet.iter_rows(min_row=2)]
        assert sorted(names) == ["县示例局", "县示例站", "省示例厅"]
        assert sheet.cell(names.index("省示例厅") + 2, 10).value == "139****5678"
        buf = io.BytesIO()
        sheet.parent.save(buf)
        response = county.post("/import/organizations", data={"file": (io.BytesIO(buf.getvalue()), "o.xlsx"),
                                                              "update": "y"}, content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)
        assert "导入成功：共 3 行，新增 0 条，更新 0 条，3 条与已登记的相同，未改动" in county.get("/organizations/").get_data(as_text=True)
    sheet.cell(names.index("县示例局") + 2, 11).value = "吉首市人民路1号"
    sheet.cell(names.index("省示例厅") + 2, 11).value = "长沙市"
    buf = io.BytesIO()
    sheet.parent.save(buf)
    response = county.post("/import/organizations", data={"file": (io.BytesIO(buf.getvalue()), "o.xlsx"),
                                                          "update": "y"}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "不存在或不在您的范围内" in page
    sheet.cell(names.index("省示例厅") + 2, 11).value = None
    buf = io.BytesIO()
    sheet.parent.save(buf)
    response = county.post("/import/organizations", data={"file": (io.BytesIO(buf.getvalue()), "o.xlsx"),
                                                          "update": "y"}, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    assert "更新 1 条，2 条与已登记的相同，未改动" in county.get("/organizations/").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Organization, own.id).address == "吉首市人民路1号"
    assert db.session.get(Organization, provincial.id).address is None


def test_every_templates_guide_explains_every_column_and_lists_the_values_of_each_choice(app, make_user):
    """The 填写说明 sheet gives each column a rule; a column with a drop-down also names
    the values it takes there (帮扶类别 said nothing at all)."""
    from registry.transfer.kinds import kinds
    from registry.transfer.workbooks import template_workbook

    admin = make_user("admin")
    for name, kind in kinds().items():
        guide = load_workbook(io.BytesIO(template_workbook(kind, admin)))["填写说明"]
        rules = {row[0]: row[3] for row in guide.iter_rows(min_row=2, max_row=len(kind.fields) + 1, values_only=True)}
        for f in kind.fields:
            assert rules[f.header], f"{name}: {f.header} has no rule"
            if f.codes:
                assert all(label in rules[f.header] for label in f.codes.values()), (name, f.header, rules[f.header])
    records = kinds()["records"]
    guide = load_workbook(io.BytesIO(template_workbook(records, admin)))["填写说明"]
    category = next(row[3] for row in guide.iter_rows(values_only=True) if row[0] == "帮扶类别")
    assert category.startswith("可选：资金、项目、产业、")


def test_every_kind_names_the_columns_of_its_natural_key(app):
    """A duplicate row is reported on its key's cell: each kind says which columns those are."""
    from registry.transfer.importing import ImportKind
    from registry.transfer.kinds import kinds

    for name, kind in kinds().items():
        if type(kind).key_columns is ImportKind.key_columns:
            assert kind.key_fields, f"{name} names no key column"
            assert set(kind.key_fields) <= set(kind.by_key), (name, kind.key_fields)


def test_a_file_imported_twice_says_once_that_its_rows_are_registered(db, make_user, login_as, runner, tmp_path):
    """Each person registered already is named in their row's message, so no two messages
    are alike; the mistake the rows share (the same file again, without 更新已有数据) is
    stated once, with its rows, as one mistake down a column is: above the list on the
    page, under it at the console."""
    from registry.core.identity import id_check_char
    from tests.factories import make_org

    org = make_org("backing_unit", "433101000000", name="县农业农村局")
    user = make_user("region", region_code="433101000000")
    numbers = [(body := f"43310119850315{n:03d}") + id_check_char(body) for n in range(101, 111)]
    rows = "".join(f"干部{n},{number},{org.name}\n" for n, number in enumerate(numbers))
    path = tmp_path / "people.csv"
    path.write_text("姓名,身份证号,工作单位\n" + rows, encoding="utf-8")
    assert runner.invoke(args=["import", "people", str(path), "--as", user.username]).exit_code == 0
    path.write_text("姓名,身份证号,工作单位\n" + rows + rows.splitlines(keepends=True)[0] * 3, encoding="utf-8")
    again = upload(login_as(user), "people", path.read_bytes(), "people.csv")
    assert again.status_code == 422
    page = again.get_data(as_text=True)
    assert "身份证号已登记（干部0）" in page and "身份证号已登记（干部9）" in page  # each row's own
    shared = page.split('id="common-problems"')[1].split("</div>")[0]
    assert "系统中已登记；如需用文件内容修改，请选择“更新已有数据”" in shared and "（10 行：第2–11行）" in shared
    assert "与文件中前面的行重复" in shared and "（3 行：第12–14行）" in shared
    console = runner.invoke(args=["import", "people", str(path), "--as", user.username])
    assert "多行相同的问题：[身份证号] 系统中已登记" in console.output and "（10 行：第2–11行）" in console.output
    assert console.output.rstrip().endswith("未写入任何数据；请改正后重新导入")  # not 上传, at a console
    assert "（命令行的“更新已有数据”：加 --update）" in console.output and "--update" not in page  # the page's own words


def test_the_import_button_and_the_import_page_agree_for_every_kind_and_role(app, db, make_user, login_as):
    """Whoever sees 导入 on a kind's list may open its import page, and whoever may open the
    page sees the button (``ImportKind.may``: the permission, and something to import):
    a township, which records no care, is not given a template whose every row would be
    refused."""
    from flask import url_for

    from registry.transfer.kinds import kinds
    from tests.factories import COUNTY, PROVINCE, make_org, make_village

    village = make_village()
    unit, enterprise = make_org("backing_unit", COUNTY), make_org("enterprise", COUNTY)
    users = [make_user("admin"), *(make_user("region", region_code=code) for code in (PROVINCE, COUNTY, TOWNSHIP)),
             make_user("unit", organization_id=unit.id), make_user("unit", organization_id=enterprise.id),
             make_user("village", village_code=village.code), make_user("viewer", region_code=PROVINCE)]
    seen = 0
    for user in users:
        session = login_as(user)
        for name, spec in sorted(kinds().items()):
            if not user.can(spec.permission):
                continue
            with app.test_request_context():
                listing = url_for(spec.list_endpoint, **spec.list_args(user))
            page = session.get(listing)
            if page.status_code != 200:
                continue  # a list the role does not read (its own pages link elsewhere)
            button = f'href="/import/{name}"' in page.get_data(as_text=True)
            opened = session.get(f"/import/{name}").status_code
            assert button == (opened == 200) == spec.may(user), (user.role, user.username, name, button, opened)
            seen += 1
    assert seen >= 30


def test_no_header_names_two_columns_of_a_kind(app):
    """Every header, code name and alias a kind accepts names one column (an alias added
    for one column must not take another's), and none is a column the export adds."""
    from registry.transfer.importing import normalise_header
    from registry.transfer.kinds import kinds

    for name, spec in kinds().items():
        owner: dict[str, str] = {}
        for f in (*spec.fields, *spec.extra_fields):
            for header in (f.header, f.key, *f.aliases):
                assert owner.setdefault(normalise_header(header), f.key) == f.key, (name, header)
        assert not set(owner) & {normalise_header(c.header) for c in spec.derived}, name


def test_a_templates_date_columns_take_any_date_a_birth_date_included(make_user, login_as):
    """The date columns' validation asks for a date, not a recent one: a cadre born in 1975
    is not warned about (the kind's own rule says how early a date may be)."""
    county = login_as(make_user("region", region_code="433101000000"))
    sheet = load_workbook(io.BytesIO(county.get("/import/people/template.xlsx").data)).worksheets[0]
    birth = next(c.column_letter for c in sheet[1] if c.value == "出生日期")
    rule = next(v for v in sheet.data_validations.dataValidation if str(v.sqref).startswith(f"{birth}2"))
    assert rule.type == "date" and rule.operator == "greaterThanOrEqual"
    assert float(rule.formula1) <= 2  # Excel's first date (1900), not 2000's 36526
