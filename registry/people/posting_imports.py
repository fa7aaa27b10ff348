"""选派 from a spreadsheet: first secretaries, work-team members and seconded cadres.

A row names the person by 身份证号 (the person must be registered and visible to the
importer) and is checked by ``postings.clean_posting``, the rule the posting form uses:
who may post, the place in the importer's jurisdiction, the role's kind of place, one
active posting a person, one first secretary a village, no overlapping terms, dates. A
posting that has already ended may be registered with its end (checked as ending it is).
New postings are written together by ``create_postings`` (one flush, the rule checked once
more against the file's other rows, the audit events of ``create_posting`` in one batch).

The natural key is the person and the start date. A posting, once registered, is only
ever *ended* (the form has no edit): with "update", a row that ends a posting still active
ends it through ``end_posting`` (audited as the end form is); a row that would change
anything else is an error saying so.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field as dataclass_field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import joinedload, lazyload

from ..core import crypto
from ..core.enums import DISPATCH_LEVEL_SYNONYMS, DISPATCH_LEVELS, END_REASONS, POSTING_ROLE_SYNONYMS, POSTING_ROLES
from ..core.formatting import date_cn
from ..core.identity import EXAMPLE_ID_NUMBER, normalize_id_number
from ..core.parsing import to_date
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..regions.imports import place_lookup
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, resolve
from ..transfer.references import labelled
from ..transfer.writing import Column
from .models import Person, Posting
from .privacy import prime
from .postings import (
    MAY_POST,
    POSTING_FIELDS,
    can_manage_posting,
    check_end,
    clean_posting,
    create_postings,
    end_posting,
    may_post,
    posting_values,
)

PLACE_LEVELS = ("county", "township", "village")
DATES = (("start_date", "开始日期"), ("planned_end", "计划结束日期"), ("end_date", "结束日期"))
TEXTS = ("post_held", "round", "end_note")


@dataclass
class PostingRow:
    person: Person
    values: dict  # as ``clean_posting`` returns them
    existing: Posting | None = None
    ends: bool = False  # the row ends ``existing``
    visible: bool = False  # the user may see ``existing`` (a message may name its place)


@dataclass
class PostingContext:
    user: object
    update: bool
    people: dict[str, int]  # blind index of the ID number -> id, people the user may see
    places: object
    # an update's look-ups of the rows the export wrote, read once (``prefetch``, ``stored_rows``)
    visible: object | None = None  # privacy.VisiblePeople: people by masked number and name
    postings: dict[tuple[int, date], int] | None = None  # (person, start) -> id, postings the user may see
    loaded: list = dataclass_field(default_factory=list)  # the postings the file names, read ahead (and held)


def blanks(spec: ImportKind, values: dict) -> Collector:
    """A collector holding an error for each required cell left blank."""
    errors = Collector()
    for f in spec.fields:
        if f.required and values[f.key] is None:
            errors.add(f.key, f"请填写{f.header}")
    return errors


def _visible(ctx: PostingContext):
    """The people the importing user may see (``privacy.VisiblePeople``), read once for the file."""
    from .privacy import VisiblePeople

    if ctx.visible is None:
        ctx.visible = VisiblePeople(scoped(select(Person.id), Person, ctx.user))
    return ctx.visible


def _postings(ctx: PostingContext) -> dict:
    """The postings the importing user may see, by person and start date, read once for the file."""
    if ctx.postings is None:
        ctx.postings = {(person, begun): posting_id for posting_id, person, begun in db.session.execute(
            scoped(select(Posting.id, Posting.person_id, Posting.start_date), Posting, ctx.user))}
    return ctx.postings


def find_person(text, people: dict[str, int], field: str = "id_number") -> int:
    """The id of the visible person whose ID number ``text`` is; RuleViolation if none."""
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    if "*" in raw:
        raise RuleViolation("身份证号已遮蔽，请填写完整的18位身份证号", field)
    number = normalize_id_number(raw)  # RuleViolation naming what is wrong with it
    person_id = people.get(crypto.blind_index(number))
    if person_id is None:
        raise RuleViolation(f"身份证号为{number[:6]}…{number[-4:]}的干部未登记或不在您的范围内，请先登记帮扶干部", field)
    return person_id


class PostingImport(ImportKind):
    name = "postings"
    title = "选派"
    entity = "Posting"
    permission = "manage_postings"
    list_endpoint = "people.postings"
    hint = ("干部须已登记。驻村工作队花名册可先在“帮扶干部”中导入干部，再用同一文件在此导入选派："
            "驻村职务（第一书记、队长、队员）、派驻村、选派层级（省直、市直、县直）、派驻时间等列即可识别。")
    fields = (
        Field("干部姓名", "name", width=10, aliases=("姓名",), example="张三",
              note="可空；填写时须与身份证号登记的姓名一致"),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="已登记的帮扶干部的18位身份证号；须是您能看到的干部"),
        Field("选派类型", "role", width=12, required=True, codes=POSTING_ROLES, synonyms=POSTING_ROLE_SYNONYMS,
              aliases=("驻村职务", "驻村身份", "选派身份"), example="第一书记",
              note="第一书记、工作队长、工作队员派驻到村（社区）；挂职干部派往县市区或乡镇"),
        Field("派驻地", "region_code", width=30, required=True, aliases=("派驻村", "所驻村", "驻村地点", "帮扶村"),
              choices=lambda user: place_lookup(user, PLACE_LEVELS).labels(), example="示例村（430102001201）",
              note="“名称（12位代码）”或12位区划代码；须在您的管辖范围内"),
        Field("挂职职务", "post_held", width=14, note="挂职干部必填（如副县长、县长助理），驻村干部留空"),
        Field("选派层级", "dispatch_level", width=10, required=True, codes=DISPATCH_LEVELS, synonyms=DISPATCH_LEVEL_SYNONYMS,
              aliases=("选派级别", "派出层级"), example="省派"),
        Field("届次", "round", width=10, example="2024届", note="最多20字"),
        Field("开始日期", "start_date", "date", 12, required=True, example=date(2024, 1, 1),
              aliases=("派驻时间", "驻村时间", "选派时间", "进驻时间"),
              note="如 2024-01-01；同一干部同一开始日期视为同一选派"),
        Field("计划结束日期", "planned_end", "date", 12, note="不填则按规定任期自动计算"),
        Field("结束日期", "end_date", "date", 12, note="已结束的选派填写；不能晚于今天"),
        Field("结束原因", "end_reason", width=10, codes=END_REASONS, note="填写结束日期时必填"),
        Field("结束说明", "end_note", width=30, aliases=("说明",), note="召回须写明召回事由"),
    )
    derived = (Column("派出单位", "organization", width=26), Column("状态", "status", width=8))

    def context(self, user, *, update: bool) -> PostingContext:
        people = dict(db.session.execute(scoped(select(Person.id_number_index, Person.id), Person, user)).all())
        return PostingContext(user=user, update=update, people=people, places=place_lookup(user, PLACE_LEVELS))

    prefetch_fields = ("id_number", "name", "start_date")

    def prefetch(self, rows, ctx: PostingContext) -> None:
        """The postings the file names (person and start date), the user may see, read a
        batch at a time with their people."""
        people = _visible(ctx).named_in(rows, lambda raw: find_person(raw, ctx.people))
        postings = _postings(ctx)
        wanted = sorted({postings[key] for key in zip(people, (to_date(row.get("start_date")) for row in rows))
                         if key in postings})
        for start in range(0, len(wanted), 900):
            found = db.session.scalars(select(Posting).where(Posting.id.in_(wanted[start:start + 900]))
                                       .options(joinedload(Posting.person))).all()
            prime((p.person for p in found), ctx.user)
            ctx.loaded.extend(found)

    def stored_rows(self, values, ctx: PostingContext) -> list[list]:
        """The export's rows for the registered posting the row names (the person by the
        full ID number, or by the masked one and the name; the start date), if the user may
        see it: the ID number as the rules show it to the user, and masked."""
        from .privacy import shown_id_number

        start = to_date(values.get("start_date"))
        if start is None:
            return []
        person_id = _visible(ctx).named(values, lambda raw: find_person(raw, ctx.people))
        posting_id = _postings(ctx).get((person_id, start))
        posting = db.session.get(Posting, posting_id) if posting_id is not None else None
        if posting is None:
            return []
        return [export_row(posting, shown_id_number(posting.person, ctx.user)),
                export_row(posting, posting.person.id_number_masked)]

    def check(self, values, ctx: PostingContext) -> PostingRow:
        if not may_post(ctx.user):
            raise RuleViolation(MAY_POST)
        errors = blanks(self, values)
        person_id = None
        if values["id_number"] is not None:
            try:
                person_id = find_person(values["id_number"], ctx.people)
            except RuleViolation as broken:
                errors.errors.update(broken.errors)
        data = {"role": values["role"], "dispatch_level": values["dispatch_level"],
                "end_reason": values["end_reason"]}
        data["region_code"] = resolve(ctx.places, values, "region_code", errors)
        for key, label in DATES:
            data[key] = to_date(values[key])
            if values[key] is not None and data[key] is None:
                errors.add(key, f"{label}格式应为 年-月-日，如 2024-01-01")
        for key in TEXTS:
            data[key] = str(values[key]) if values[key] is not None else None
        return errors.then(lambda: self._checked(person_id, data, values, ctx), needs=("id_number",))

    def _checked(self, person_id: int, data: dict, values, ctx: PostingContext) -> PostingRow:
        """The posting rule on the row's values, for the person found by the ID number: a
        new posting, or the one registered already with the same start."""
        person = db.session.get(Person, person_id)
        name = unicodedata.normalize("NFKC", str(values["name"] or "")).strip()
        if name and name != unicodedata.normalize("NFKC", person.name):
            raise RuleViolation(f"姓名与身份证号不符：该身份证号登记的干部是{person.name}", "name")
        # one the user may see was read with the file's others (``prefetch``); else any, unseen
        seen = _postings(ctx).get((person.id, data["start_date"]))
        existing = db.session.get(Posting, seen) if seen is not None else db.session.scalar(
            select(Posting).options(lazyload("*")).where(Posting.person_id == person.id,
                                                          Posting.start_date == data["start_date"]))
        if existing is None:
            try:
                return PostingRow(person=person, values=clean_posting(person, data, actor=ctx.user))
            except RuleViolation as broken:  # the rule speaks of the person as the form's field
                broken.errors = {"id_number" if k == "person_id" else k: v for k, v in broken.errors.items()}
                raise
        # _postings holds the postings the user's scope rule lets them see
        row = PostingRow(person=person, values=data, existing=existing, visible=seen is not None)
        if ctx.update:
            row.ends = self._update(row, ctx)
        return row

    def _update(self, row: PostingRow, ctx: PostingContext) -> bool:
        """Whether the row ends the posting already registered; RuleViolation if it asks
        for any other change (a posting is ended, never edited)."""
        posting, data = row.existing, row.values
        if not can_manage_posting(ctx.user, posting):
            raise RuleViolation("该选派不在您的管辖范围内，不能修改", "")
        wanted, end = posting_values(data)
        errors = Collector()
        for key in POSTING_FIELDS:
            if key != "start_date" and wanted[key] != getattr(posting, key):
                errors.add(key, f"选派登记后不能修改{self.by_key[key].header}（系统中为“{_shown(posting, key)}”）；"
                                "只能办理结束，如登记有误请联系管理员")
        errors.raise_if_any()
        if posting.end_date is not None:
            if any(end[key] != getattr(posting, key) for key in end):
                raise RuleViolation(f"该选派已于{date_cn(posting.end_date)}结束（{posting.end_reason_label}），结束信息不能修改", "end_date")
            return False
        if end["end_date"] is None and end["end_reason"] is None and end["end_note"] is None:
            return False
        check_end(posting, **end, version=posting.version, actor=ctx.user)
        return True

    key_fields = ("id_number", "start_date")

    def key(self, clean: PostingRow) -> tuple:
        return (clean.person.id, clean.values["start_date"])

    def existing(self, clean: PostingRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: PostingRow) -> str:
        p = clean.existing
        where = f"（{p.region.name}{p.role_label}）" if clean.visible else ""
        return (f"{clean.person.name}自{date_cn(p.start_date)}起的选派{where}已登记；"
                f"如需用文件办理结束，{UPDATE_HINT.removeprefix('如需用文件内容修改，')}")

    def write(self, rows, ctx: PostingContext, user) -> tuple[int, int]:
        new = [(clean.person, clean.values) for clean, existing in rows if existing is None]
        create_postings(new, actor=user, commit=False)  # one flush: the summaries refresh once
        ended = 0
        for clean, existing in rows:
            if existing is not None and clean.ends:
                end_posting(existing, end_date=clean.values["end_date"], end_reason=clean.values["end_reason"],
                            end_note=clean.values["end_note"], version=existing.version, actor=user, commit=False)
                ended += 1
        return len(new), ended


def _shown(posting: Posting, key: str) -> str:
    value = getattr(posting, key)
    if key == "role":
        return posting.role_label
    if key == "dispatch_level":
        return posting.dispatch_level_label
    if key == "region_code":
        return labelled(posting.region.name, posting.region_code)
    if isinstance(value, date):
        return value.isoformat()
    return value or "（空）"


def export_row(p: Posting, id_number: str) -> list:
    """A posting as the import reads it, then the derived columns."""
    return [p.person.name, id_number, p.role_label, labelled(p.region.name, p.region_code), p.post_held,
            p.dispatch_level_label, p.round, p.start_date, p.planned_end, p.end_date,
            p.end_reason_label or None, p.end_note, p.organization.name, "在岗" if p.is_active else "已结束"]
