"""个人帮扶者 from a spreadsheet. Each row passes ``services.clean_individual``, the rule
the form uses (the person rule with the ID number unique among all people, and the
helper's home region and way of helping), and is saved by ``create_individual`` or (when
the user chose to update, and may edit that helper) ``update_individual``. The natural
key is the ID number."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..core import crypto
from ..core.enums import EDUCATION, EDUCATION_SYNONYMS, GENDERS, INDIVIDUAL, INDIVIDUAL_WAYS
from ..core.identity import EXAMPLE_ID_NUMBER, normalize_id_number
from ..core.rules import Collector, RuleViolation
from ..extensions import db
from ..organizations.forms import home_region_choices
from ..organizations.models import Organization
from ..people.models import Person
from ..people.privacy import may_see_full_identity
from ..people.imports import party_member_field, read_person_cells
from ..people.services import ETHNICITIES
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, resolve, save_updates
from ..transfer.references import Lookup, labelled
from . import services

YES_NO = ("是", "否")
FLAGS = ("is_veteran",)
NOT_YOURS = "该身份证号已由其他单位或地区登记，您无权修改该人员（请联系其登记机关）"


def _regions(user) -> Lookup:
    return Lookup({code: label.strip("\u3000") for code, label in home_region_choices(user)}, "行政区")


@dataclass
class IndividualRow:
    values: dict
    index: str  # blind index of the ID number: the natural key
    existing: Organization | None


class IndividualImport(ImportKind):
    name = "individuals"
    title = "个人帮扶者"
    entity = "Organization"
    permission = "manage_organizations"
    list_endpoint = "individuals.index"
    fields = (
        Field("姓名", "name", width=10, required=True, example="张三", note="最多50字"),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="18位，末位X大小写均可；校验位须正确；同一人只能登记一次（按身份证号识别）"),
        Field("性别", "gender", width=6, codes=GENDERS, note="可空，按身份证号；填写时须与身份证号一致"),
        Field("民族", "ethnicity", width=10, choices=lambda user: ETHNICITIES, example="汉族", note="空白为汉族"),
        Field("出生日期", "birth_date", "date", 12, note="可空，按身份证号；填写时须与身份证号一致"),
        Field("联系电话", "phone", width=16, example="13800000000", note="11位手机号或带区号的固定电话"),
        party_member_field(),
        Field("学历", "education", width=12, codes=EDUCATION, synonyms=EDUCATION_SYNONYMS, aliases=("最高学历", "文化程度"),
              note="可空"),
        Field("退役军人", "is_veteran", width=10, choices=lambda user: YES_NO, note="是/否，空白为否"),
        Field("参与方式", "way", width=12, required=True, codes=INDIVIDUAL_WAYS, example="返乡创业",
              note="捐款捐物、志愿服务、返乡创业或其他"),
        Field("所在行政区", "region_code", width=26, required=True,
              choices=lambda user: _regions(user).labels(), example="湖南省（430000000000）",
              note="户籍或常住地；从下拉列表选择，或填12位行政区代码；须在您的管辖范围内"),
        Field("地址", "address", width=30, note="最多200字"),
        Field("专长", "expertise", width=20, note="最多200字"),
        Field("备注", "note", width=30, note="最多2000字"),
    )

    def context(self, user, *, update: bool):
        return {"user": user, "regions": _regions(user)}

    prefetch_fields = ("id_number", "name")

    def prefetch(self, rows, ctx) -> None:
        """The helpers the file names by masked numbers, the user may see, read a batch at
        a time (a full number is looked up by its blind index as the row is read)."""
        helpers = _helpers(ctx)
        helpers.load(helpers.named_in(rows, lambda raw: None), ctx["user"])

    def stored_rows(self, values, ctx) -> list[list]:
        """The export's rows for the registered helper the row names (by the full ID
        number, or by the masked one and the name), if the user may see the helper: the
        numbers as the rules show them to the user, and masked."""
        from ..people.privacy import shown_id_number, shown_phone

        helpers = _helpers(ctx)
        person = helpers.get(helpers.named(values, lambda raw: db.session.scalar(select(Person.id).where(
            Person.id_number_index == crypto.blind_index(normalize_id_number(raw))))))
        if person is None:
            return []
        user = ctx["user"]
        return [export_row(person, shown_id_number(person, user), shown_phone(person, user)),
                export_row(person, person.id_number_masked, person.phone_masked)]

    def check(self, values, ctx) -> IndividualRow:
        errors = Collector()
        data = read_person_cells(values, FLAGS, errors, ("name", "id_number", "phone", "address", "expertise", "note"))
        data["region_code"] = resolve(ctx["regions"], values, "region_code", errors)
        return errors.then(lambda: self._checked(data, ctx))

    def _checked(self, data: dict, ctx) -> IndividualRow:
        """The helper rule on the row's values (``clean_individual``), as a new helper or,
        when the ID number is registered already, as an edit of that helper."""
        existing = _registered(data["id_number"])
        user = ctx["user"]
        if existing is not None:
            # already registered: an edit of that helper, by whom the form lets edit it;
            # to anyone else (or for a cadre's number) the row names nobody
            person, org = existing
            if not (org.is_individual and services.can_edit_individual(user, org)
                    and may_see_full_identity(user, person)):
                raise RuleViolation(NOT_YOURS, "id_number")
            helper, person_data = services.clean_individual(data, actor=user, org=org, person=person)
            return IndividualRow({**data, **helper, **person_data, "way": helper["subtype"]},
                                 person.id_number_index, org)
        helper, person_data = services.clean_individual(data, actor=user)
        return IndividualRow({**data, **person_data, "way": helper["subtype"],
                              "region_code": helper["region_code"]},
                             crypto.blind_index(person_data["id_number"]), None)

    key_fields = ("id_number",)

    def key(self, clean: IndividualRow) -> tuple:
        return (clean.index,)

    def existing(self, clean: IndividualRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: IndividualRow) -> str:
        return f"身份证号已登记（{clean.existing.name}）；{UPDATE_HINT}"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        created = 0
        for clean, existing in rows:
            if existing is None:
                services.create_individual(clean.values, actor=user, commit=False)
                created += 1
        return created, save_updates(rows, lambda clean, org: services.update_individual(
            org, clean.values, version=services.version_of(org, services.person_of(org)), actor=user, commit=False))


def _registered(number) -> tuple[Person, Organization] | None:
    """The person registered under ``number`` and their employer (None: a new number, or
    not a valid one: the person rule says why)."""
    try:
        number = normalize_id_number(number or "")
    except RuleViolation:
        return None
    row = db.session.execute(select(Person, Organization).join(Organization, Organization.id == Person.organization_id)
                             .where(Person.id_number_index == crypto.blind_index(number))).first()
    return (row[0], row[1]) if row is not None else None


def _helpers(ctx):
    """The individual helpers the importing user may see (``privacy.VisiblePeople``), read
    once for the file."""
    from ..core.scope import scoped
    from ..people.privacy import VisiblePeople

    if ctx.get("helpers") is None:
        ctx["helpers"] = VisiblePeople(
            scoped(select(Person.id).join(Organization, Organization.id == Person.organization_id), Organization,
                   ctx["user"]).where(Organization.kind == INDIVIDUAL))
    return ctx["helpers"]


def export_row(person: Person, id_number: str, phone: str) -> list:
    """A helper's person as a row of the import template (what the export writes)."""
    org = person.organization
    return [person.name, id_number, GENDERS.get(person.gender or "", None), person.ethnicity, person.birth_date,
            phone or None, "是" if person.is_party_member else "否", EDUCATION.get(person.education or "", None),
            "是" if person.is_veteran else "否", INDIVIDUAL_WAYS.get(org.subtype or "", None),
            labelled(org.region.name, org.region_code), org.address, person.expertise, org.note]


KINDS = (IndividualImport,)
