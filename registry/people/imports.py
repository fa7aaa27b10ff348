"""帮扶干部 from a spreadsheet.

Every row passes ``services.clean_person``, the person rule the form uses, with what it
looks up (registered ID numbers, the employers the user may register people for)
fetched once for the file. New people are written in one batch insert and their audit
events in one batch (``audit.services.open_chain``: the same chain as one ``record`` per
person); people already registered are updated through ``update_person`` when the user
chose to update.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select

from ..audit.services import ITEM, FlatCanonical, open_chain
from ..core import crypto
from ..core.enums import EDUCATION, EDUCATION_SYNONYMS, GENDERS
from ..core.identity import EXAMPLE_ID_NUMBER, mask_id_number, mask_phone
from ..core.parsing import to_date
from ..core.rules import Collector, RuleViolation
from ..organizations.services import INDIVIDUAL_ELSEWHERE
from ..core.timeutil import utcnow
from ..core.bulk_load import large_page_cache
from ..extensions import db
from ..transfer.bulk import insert_many, inserting_many
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, read_flags, resolve, save_updates, yes_no
from ..transfer.references import Lookup, labelled
from ..transfer.writing import Column
from . import services
from .models import Person
from .privacy import may_see_full_identity

# an ID number registered for someone the uploader may not edit: say so, name nobody
NOT_YOURS = "该身份证号已由其他单位或地区登记，您无权修改该人员（请联系其登记机关）"

YES_NO = ("是", "否")
FLAGS = ("is_reserve_cadre", "is_veteran")

# 政治面貌 as a roster writes it, for the 中共党员 column: a member of the Communist Party
# (full or probationary) is one; every other status is not. Rosters of cadres carry
# 政治面貌 rather than a 是/否 column, and come back in unchanged.
PARTY_MEMBERS = frozenset({"中共党员", "中国共产党党员", "共产党员", "党员", "中共预备党员", "预备党员"})
NOT_PARTY_MEMBERS = frozenset({"群众", "共青团员", "团员", "中国共产主义青年团团员", "无党派人士", "无党派", "民主党派",
                               "民革党员", "民盟盟员", "民建会员", "民进会员", "农工党党员", "致公党党员", "九三学社社员",
                               "台盟盟员"})


def ethnicity(value) -> str:
    """The 民族 cell: blank is 汉族; rosters often leave off the 族 (汉, 土家, 苗)."""
    text = "" if value is None else unicodedata.normalize("NFKC", str(value)).strip()
    if not text:
        return "汉族"
    return f"{text}族" if text not in services.ETHNICITIES and f"{text}族" in services.ETHNICITIES else text


def party_member_field() -> Field:
    """The 中共党员 column of the people and individual helpers' imports."""
    return Field("中共党员", "is_party_member", width=10, aliases=("政治面貌", "是否党员", "是否中共党员"),
                 choices=lambda user: YES_NO,
                 note="是/否，空白为否；也可用“政治面貌”列：中共党员、中共预备党员为是，群众、共青团员、民主党派等为否")


def read_party_member(values: dict, errors: Collector) -> bool:
    """The 中共党员 cell: 是/否, or a 政治面貌; a value that is neither is an error on it."""
    value = values["is_party_member"]
    flag = yes_no(value)
    if flag is None:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "")
        flag = True if text in PARTY_MEMBERS else False if text in NOT_PARTY_MEMBERS else None
    errors.check(flag is not None, "is_party_member", "应填“是”或“否”，或政治面貌（如中共党员、中共预备党员、群众、共青团员）")
    return bool(flag)


def read_person_cells(values: dict, flags, errors: Collector, texts: tuple[str, ...]) -> dict:
    """A row's cells about a person, as the person rule takes them: the yes/no ``flags``,
    政治面貌 as Party membership, the birth date, 民族 with or without 族, and the ``texts``
    as text (a number typed in a text column: an ID number, a phone). The people's and
    the individual helpers' imports read the same cells the same way."""
    data = dict(values)
    data.update(read_flags(values, flags, errors))
    data["is_party_member"] = read_party_member(values, errors)
    if values["birth_date"] is not None:
        data["birth_date"] = to_date(values["birth_date"])
        errors.check(data["birth_date"] is not None, "birth_date", "出生日期格式应为 年-月-日，如 1990-01-01")
    data["ethnicity"] = ethnicity(values["ethnicity"])
    for key in texts:
        if data[key] is not None:
            data[key] = str(data[key])
    return data


def employer_lookup(known: services.KnownPeople) -> Lookup:
    orgs = known.employers.values()
    return Lookup({o.id: o.name for o in orgs}, "工作单位",
                  aliases={o.credit_code: o.id for o in orgs if o.credit_code})


def _employer_labels(user) -> list[str]:
    orgs = db.session.scalars(services.employers_query(user)).all()
    return [labelled(o.name, o.credit_code) if o.credit_code else o.name for o in orgs]


@dataclass
class PersonRow:
    data: dict
    index: str  # blind index of the ID number: the natural key
    existing: Person | None


class PersonImport(ImportKind):
    name = "people"
    title = "帮扶干部"
    entity = "Person"
    permission = "manage_people"
    list_endpoint = "people.index"
    hint = ("驻村工作队花名册可直接导入，不必改成模板的样子：表头为姓名、身份证号、政治面貌、学历、工作单位等即可识别，"
            "其余列会被忽略；导入干部后，再用同一文件在“选派”中导入选派。")
    fields = (
        Field("姓名", "name", width=10, required=True, example="张三", note="最多50字"),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="18位，末位X大小写均可；校验位须正确；同一人只能登记一次（按身份证号识别）"),
        Field("性别", "gender", width=6, codes=GENDERS, synonyms={"男性": "male", "女性": "female"},
              note="可空，按身份证号；填写时须与身份证号一致"),
        Field("民族", "ethnicity", width=10, choices=lambda user: services.ETHNICITIES, example="汉族",
              note="空白为汉族；“汉”“土家”“苗”等也可"),
        Field("出生日期", "birth_date", "date", 12, note="可空，按身份证号；填写时须与身份证号一致"),
        Field("联系电话", "phone", width=16, example="13800000000", note="11位手机号或带区号的固定电话"),
        party_member_field(),
        Field("学历", "education", width=12, codes=EDUCATION, synonyms=EDUCATION_SYNONYMS, aliases=("最高学历", "文化程度"),
              note="可空"),
        Field("工作单位", "organization_id", width=30, required=True, choices=_employer_labels, aliases=("派出单位", "所在单位"),
              example="湖南省示例厅", note="单位名称，或“名称（统一社会信用代码）”；须是您可以为其登记干部的单位"),
        Field("职务", "post", width=14, note="最多100字"),
        Field("职级", "rank", width=10, note="最多50字"),
        Field("后备干部", "is_reserve_cadre", width=10, choices=lambda user: YES_NO, note="是/否，空白为否"),
        Field("退役军人", "is_veteran", width=10, choices=lambda user: YES_NO, note="是/否，空白为否"),
        Field("专长", "expertise", width=20, note="最多200字"),
    )
    derived = (Column("当前选派", "posting", width=24),)

    def context(self, user, *, update: bool):
        known = services.KnownPeople.load(user)
        return {"user": user, "known": known, "employers": employer_lookup(known), "employer_of": {}}

    prefetch_fields = ("id_number", "name")

    def prefetch(self, rows, ctx) -> None:
        """The people the file names, the user may see, read a batch at a time."""
        visible = _visible(ctx)
        visible.load(visible.named_in(rows, _find(ctx)), ctx["user"])

    def stored_rows(self, values, ctx) -> list[list]:
        """The export's rows for the registered person the row names, if the user may see
        them: by the full ID number, or by the masked one and the name (one person so
        shown); the ID number and phone as the rules show them to the user, and masked."""
        from .privacy import shown_id_number, shown_phone

        visible = _visible(ctx)
        person = visible.get(visible.named(values, _find(ctx)))
        if person is None:
            return []
        user = ctx["user"]
        return [export_row(person, shown_id_number(person, user), shown_phone(person, user), ""),
                export_row(person, person.id_number_masked, person.phone_masked, "")]

    def check(self, values, ctx) -> PersonRow:
        errors = Collector()
        data = read_person_cells(values, FLAGS, errors, ("name", "id_number", "phone", "post", "rank", "expertise"))
        data["organization_id"] = _employer(values["organization_id"], ctx, errors)
        return errors.then(lambda: self._checked(data, ctx))

    def _checked(self, data: dict, ctx) -> PersonRow:
        """The person rule on the row's values (``clean_person``), as a new person or, when
        the ID number is registered already, as an edit of that person."""
        known = ctx["known"]
        try:
            clean = services.clean_person(data, actor=ctx["user"], known=known)
            existing = None
        except RuleViolation as broken:
            if broken.errors.get("id_number") != [services.DUPLICATE_ID]:
                raise
            # already registered: the same person again, checked as an edit of that person —
            # only by whom the form lets edit them (who sees their full number); to anyone
            # else the row names nobody and changes nothing
            existing = db.session.get(Person, known.ids[known.index(_number(data))])
            if not (services.can_edit_person(ctx["user"], existing) and may_see_full_identity(ctx["user"], existing)):
                raise RuleViolation(NOT_YOURS, "id_number") from None
            if services.is_individual(existing):  # kept with its helper row
                raise RuleViolation(INDIVIDUAL_ELSEWHERE, "id_number") from None
            clean = services.clean_person(data, actor=ctx["user"], person=existing, known=known)
        return PersonRow(data=clean, index=known.index(clean["id_number"]), existing=existing)

    key_fields = ("id_number",)

    def key(self, clean: PersonRow) -> tuple:
        return (clean.index,)

    def existing(self, clean: PersonRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: PersonRow) -> str:
        return f"身份证号已登记（{clean.existing.name}）；{UPDATE_HINT}"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        with large_page_cache():
            created = _insert([clean for clean, existing in rows if existing is None], ctx["known"], user)
        return created, save_updates(rows, lambda clean, person: services.update_person(
            person, clean.data, version=person.version, actor=user, commit=False))


def _employer(cell, ctx, errors: Collector) -> int | None:
    """The employer the 工作单位 cell names (None, with the error collected, if none); a
    file names few employers, so each distinct cell is resolved once."""
    memo = ctx["employer_of"]
    if cell not in memo:
        found = Collector()
        memo[cell] = resolve(ctx["employers"], {"organization_id": cell}, "organization_id", found), found.errors
    org_id, problems = memo[cell]
    for key, messages in problems.items():
        for message in messages:
            errors.add(key, message)
    return org_id


def _number(data: dict) -> str:
    from ..core.identity import normalize_id_number

    return normalize_id_number(data["id_number"])


PUBLIC = ("name", "gender", "ethnicity", "birth_date", "is_party_member", "education", "organization_id", "post",
          "rank", "is_reserve_cadre", "is_veteran", "expertise")


def _insert(rows: list[PersonRow], known: services.KnownPeople, user) -> int:
    """One insert for all new people, then one batch of audit events. On SQLite the
    events are made and hashed onto their chains (``Chain.ahead``) while the database
    copies the people into the table and its indexes (``bulk.inserting_many``), as the
    records import does."""
    if not rows:
        return 0
    now = utcnow()
    seal = crypto.encrypter()
    values, public = [], []
    for row in rows:
        d = row.data
        number, phone = d["id_number"], d["phone"] or None
        # what the audit event records (with the id added), in _AFTER order
        shown = (*[d[key] for key in PUBLIC], mask_id_number(number), mask_phone(phone) if phone else None)
        public.append(shown)
        values.append((*shown, seal(number), row.index, seal(phone)))
    table = Person.__table__
    fixed = {"is_demo": False, "created_at": now, "version": 1}
    # the employers' names and regions read before the copy, which has the connection meanwhile
    employers = {org.id: (org.name, org.region_code) for org in known.employers.values()}
    conn = db.session.connection()
    chain = open_chain(user)
    if conn.dialect.name == "sqlite":
        # one writer at a time (the transaction began IMMEDIATE): the new ids are the
        # table's next ones, given in the insert, and need not be read back
        first = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar() + 1
        ids = range(first, first + len(values))
        # the events, hashed onto their chains while the people are copied in
        events = chain.ahead(conn, {region for _, region in employers.values()})
        with inserting_many(table, ("id", *_COLUMNS), [(i, *v) for i, v in zip(ids, values)], fixed):
            events.add(_events(rows, public, ids, employers))
    else:
        insert_many(table, _COLUMNS, values, fixed)
        # the new ids are read back by blind index (unique) among the rows written at this
        # import's own timestamp (a row another transaction wrote then has another index)
        by_index = dict(db.session.execute(select(table.c.id_number_index, table.c.id)
                                           .where(table.c.created_at == now)).tuples().all())
        events = _events(rows, public, [by_index[row.index] for row in rows], employers)
    if any(row.data.get("is_veteran") for row in rows):  # the coverage's veteran view counts them
        from ..dashboard.summary import raise_everywhere_later

        raise_everywhere_later(db.session)
    chain.write(events)
    return len(values)


def _events(rows: list[PersonRow], public: list[tuple], ids, employers: dict[int, tuple[str, str]]) -> list[tuple]:
    """The audit events of the new people (Python only: no database), as the rows
    ``Chain.write`` takes (``audit.services.ITEM``); ``employers``: id -> (name, region)."""
    after = FlatCanonical({}, (*_AFTER, "id")).make
    events = []
    for row, shown, person_id in zip(rows, public, ids):
        org_id = row.data["organization_id"]
        org_name, region_code = employers[org_id]
        fields = dict(zip(_AFTER, shown))
        fields["id"] = person_id
        if fields["birth_date"] is not None:
            fields["birth_date"] = fields["birth_date"].isoformat()  # as canonical writes a date
        events.append(("create", "Person", str(person_id), f"登记帮扶干部：{row.data['name']}（{org_name}）（批量导入）"[:300],
                       region_code, org_id, None, after(fields)))
    return events


if ITEM != ("action", "entity_type", "entity_id", "summary", "region_code", "organization_id", "before", "after"):
    raise ImportError("_events makes its rows in another order than audit.services.ITEM")


_AFTER = (*PUBLIC, "id_number_masked", "phone_masked")
_COLUMNS = (*_AFTER, "id_number_encrypted", "id_number_index", "phone_encrypted")


def _visible(ctx):
    """The people the importing user may see (``privacy.VisiblePeople``), read once for the file."""
    from ..core.scope import scoped
    from .privacy import VisiblePeople

    if ctx.get("visible") is None:
        ctx["visible"] = VisiblePeople(scoped(select(Person.id), Person, ctx["user"]))
    return ctx["visible"]


def _find(ctx):
    """A full ID number -> the id of the registered person who has it (None if nobody)."""
    from ..core.identity import normalize_id_number

    known = ctx["known"]
    return lambda raw: known.ids.get(known.index(normalize_id_number(raw)))


def export_row(person: Person, id_number: str, phone: str, posting: str) -> list:
    org = person.organization
    return [person.name, id_number, GENDERS.get(person.gender or "", None), person.ethnicity, person.birth_date,
            phone or None, "是" if person.is_party_member else "否", EDUCATION.get(person.education or "", None),
            labelled(org.name, org.credit_code) if org.credit_code else org.name, person.post, person.rank,
            "是" if person.is_reserve_cadre else "否", "是" if person.is_veteran else "否", person.expertise,
            posting or None]


from .posting_imports import PostingImport  # noqa: E402  (its own module; listed here for transfer.kinds)
KINDS = (PersonImport, PostingImport)
