"""An import names every wrong cell of a row in one pass: the cells the import reads itself
(an enumeration's label, a date, a unit or place it looks up) and the cells the shared
rule of the kind checks (an ID number, a phone, a pairing's dates) are reported together,
so that a file is corrected in one round rather than one stage at a time."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from registry.core.rules import Collector, RuleViolation
from registry.organizations.imports import OrganizationImport
from registry.organizations.models import Organization
from registry.pairings.imports import PairingImport
from registry.pairings.models import Pairing
from registry.people.imports import PersonImport
from registry.people.models import Person
from registry.transfer.importing import run_import
from tests.factories import COUNTY, make_org, valid_id_number


def _errors(spec, user, text: str) -> dict[int, dict[str, str]]:
    report = run_import(spec, text.encode("utf-8"), "file.csv", user)
    assert not report.ok
    found: dict[int, dict[str, str]] = {}
    for error in report.errors:
        found.setdefault(error.row, {})[error.column] = error.message
    return found


def test_then_runs_the_rule_and_reports_both_stages():
    errors = Collector({"birth_date": ["出生日期格式不对"]})

    def rule():
        raise RuleViolation({"birth_date": "请填写出生日期", "id_number": "身份证号校验位不正确"})

    with pytest.raises(RuleViolation) as raised:
        errors.then(rule)
    # the rule's message about a cell already reported is left out
    assert raised.value.errors == {"birth_date": ["出生日期格式不对"], "id_number": ["身份证号校验位不正确"]}


def test_then_skips_the_rule_without_what_it_needs_and_returns_its_result_when_all_is_well():
    ran = []
    with pytest.raises(RuleViolation) as raised:
        Collector({"id_number": ["未登记"]}).then(lambda: ran.append(1), needs=("id_number",))
    assert ran == [] and raised.value.errors == {"id_number": ["未登记"]}
    assert Collector().then(lambda: 7) == 7


def test_a_persons_row_names_its_bad_label_date_employer_id_number_and_phone_at_once(db, make_user):
    make_org("backing_unit", COUNTY, name="县农业农村局")
    user = make_user("region", region_code=COUNTY)
    good = valid_id_number(1)
    text = ("姓名,身份证号,性别,出生日期,联系电话,学历,工作单位\n"
            f"张三,{good},男,,13800000000,大学本科,县农业农村局\n"
            "李四,12345,女,1990年13月1日,1380000000x,博士后,火星局\n")
    errors = _errors(PersonImport(), user, text)
    assert list(errors) == [3]  # the good row has nothing to say
    assert set(errors[3]) == {"id_number", "birth_date", "phone", "education", "organization_id"}, errors
    assert "博士后" in errors[3]["education"] and "火星局" in errors[3]["organization_id"]
    assert db.session.scalar(select(func.count()).select_from(Person)) == 0


def test_an_organizations_row_names_its_bad_kind_unknown_place_and_bad_credit_code(db, make_user):
    user = make_user("region", region_code=COUNTY)
    text = ("单位名称,主体类型,所在行政区,统一社会信用代码\n"
            "某某公司,外星企业,不存在的县,12345\n")
    errors = _errors(OrganizationImport(), user, text)
    assert set(errors[2]) == {"kind", "region_code", "credit_code"}, errors
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 0


def test_a_pairings_row_names_its_unknown_unit_and_its_dates_the_wrong_way_round(db, make_user):
    user = make_user("region", region_code=COUNTY)
    text = ("帮扶主体,结对地,结对类型,开始日期,结束日期\n"
            f"不存在的单位,{COUNTY},对口帮扶,2025-03-01,2024-01-01\n")
    errors = _errors(PairingImport(), user, text)
    assert "organization" in errors[2] and "end_date" in errors[2], errors
    assert db.session.scalar(select(func.count()).select_from(Pairing)) == 0


# rows of every kind each role may import (as the page, the CLI and the job allow): one cell
# filled and the rest blank, then every cell filled with text no rule accepts; each is
# answered with errors by row, never an exception (a blank 企业 cell of a project was one)
ODD_CELLS = ["", "？？", "0", "-1", "1e308", "2024-02-30", "是否", "（000000000000）"]


@pytest.mark.parametrize("update", [False, True], ids=["new", "update"])
@pytest.mark.parametrize("role", ["admin", "county", "township", "unit", "enterprise", "village"])
def test_every_kind_answers_rows_of_blanks_and_nonsense_with_errors(db, make_user, role, update):
    from registry.transfer.kinds import kinds
    from tests.factories import first_township, make_pairing, make_village
    from tests.sheets import csv_bytes

    unit = make_org("backing_unit", COUNTY, name="县农业农村局")
    enterprise = make_org("enterprise", COUNTY, name="县农业开发有限公司", level="county")
    village = make_village(COUNTY, 1)
    for org in (unit, enterprise):
        make_pairing(org, village.code, "resident" if org is unit else "enterprise_village")
    user = {"admin": lambda: make_user("admin"),
            "county": lambda: make_user("region", region_code=COUNTY),
            "township": lambda: make_user("region", region_code=first_township(COUNTY).code),
            "unit": lambda: make_user("unit", organization_id=unit.id),
            "enterprise": lambda: make_user("unit", organization_id=enterprise.id),
            "village": lambda: make_user("village", village_code=village.code)}[role]()
    tried = []
    for name, spec in kinds().items():
        if not user.can(spec.permission):  # the page, the CLI and the job refuse it first
            continue
        tried.append(name)
        header = [f.header for f in spec.fields_for(user)]
        rows = [[("？？" if n == i else "") for n in range(len(header))] for i in range(len(header))]
        rows += [[ODD_CELLS[(n + k) % len(ODD_CELLS)] or "？" for n in range(len(header))] for k in range(len(ODD_CELLS))]
        report = run_import(spec, csv_bytes([header, *rows]), f"{name}.csv", user, update=update)
        assert not report.ok and report.errors, name
        assert all(e.row >= 2 for e in report.errors), (name, [e for e in report.errors if e.row < 2][:3])
        db.session.rollback()
    assert len(tried) >= {"admin": 9, "county": 9, "township": 9}.get(role, 2), tried
