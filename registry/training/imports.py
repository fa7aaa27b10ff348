"""参训情况 (training attendance) from a spreadsheet: the 培训台账 read back in.

A row names a course (its 培训主题, and its 开始日期 when the title alone is not unique
among the courses the user may see) and a person (身份证号), and gives the credited hours,
whether they passed, and a note. Each row passes the attendance rules of the course page
(``services.attendance_terms``, ``has_started``, ``can_manage``; the person within the
user's scope) and is written by ``services.write_attendances``, audited like the form's
save; an attendance already registered is refused, or changed through
``change_attendances`` (the edit form's service) when the user chose to update.
"""
from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from ..core import crypto
from ..core.enums import TRAINING_KINDS, TRAINING_LEVELS, TRAINING_MODES
from ..core.formatting import date_cn
from ..core.identity import EXAMPLE_ID_NUMBER, normalize_id_number
from ..core.parsing import to_date
from ..core.rules import Collector, RuleViolation
from ..core.scope import scoped
from ..extensions import db
from ..people.models import Person
from ..transfer.importing import UPDATE_HINT, Field, ImportKind, yes_no
from ..transfer.writing import Column
from .models import Attendance, Training
from .services import (
    NOT_STARTED,
    NOT_YOURS,
    AttendanceChange,
    NewAttendance,
    attendance_terms,
    can_manage,
    change_attendances,
    has_started,
    write_attendances,
)

YES_NO = ("是", "否")


def _norm(text) -> str:
    return "".join(unicodedata.normalize("NFKC", str(text or "")).split())


def _manageable_titles(user) -> list[str]:
    """The titles of the courses ``user`` may record attendance for (started ones): the
    template's drop-down."""
    courses = db.session.scalars(scoped(select(Training), Training, user)
                                 .order_by(Training.start_date.desc(), Training.id.desc())).all()
    return list(dict.fromkeys(t.title for t in courses if can_manage(user, t) and has_started(t)))


# 是否合格 as an attendance list writes a 考核结果
_PASSED = {"合格": True, "结业": True, "通过": True, "优秀": True, "良好": True,
           "不合格": False, "未结业": False, "未通过": False, "缺考": False}


def _passed(value) -> bool | None:
    """是/否, or a 考核结果 (合格, 结业, 不合格…); None when it is neither."""
    flag = yes_no(value)
    return flag if flag is not None else _PASSED.get(str(value).strip())


@dataclass
class Courses:
    """The courses a user may see, by normalised title, fetched once per file."""

    by_title: dict[str, list[Training]]

    @classmethod
    def load(cls, user) -> Courses:
        by_title: dict[str, list[Training]] = defaultdict(list)
        for course in db.session.scalars(scoped(select(Training), Training, user).order_by(Training.start_date)):
            by_title[_norm(course.title)].append(course)
        return cls(by_title)

    def find(self, title, start, errors: Collector) -> Training | None:
        """The one course called ``title`` (starting on ``start``, when given)."""
        if title is None:
            errors.add("training", "请填写培训主题")
            return None
        found = self.by_title.get(_norm(title), [])
        if start is not None:
            found = [c for c in found if c.start_date == start]
        if len(found) == 1:
            return found[0]
        if not found:
            when = f"、开始日期为{date_cn(start)}" if start is not None else ""
            errors.add("training", f"找不到主题为“{title}”{when}的培训（或不在您的范围内）；请先在业务培训中登记该培训")
        else:
            errors.add("start_date", f"名为“{title}”的培训不止一个，请填写开始日期以区分")
        return None


@dataclass
class AttendanceContext:
    user: object
    update: bool
    courses: Courses
    people: dict[str, tuple[int, str]]  # blind index of the ID number -> (person id, name), in scope
    stored: dict[int, dict[int, Attendance]]  # course id -> {person id: attendance}, filled as needed
    visible: set[int] | None = None  # the ids of ``people``, made when needed

    def attendances(self, training_id: int) -> dict[int, Attendance]:
        if training_id not in self.stored:
            self.stored[training_id] = {a.person_id: a for a in db.session.scalars(
                select(Attendance).where(Attendance.training_id == training_id))}
        return self.stored[training_id]

    def attendance(self, training_id: int, person_id: int) -> Attendance | None:
        return self.attendances(training_id).get(person_id)


@dataclass
class AttendanceRow:
    training: Training
    person_id: int
    hours: Decimal
    passed: bool
    note: str | None
    existing: Attendance | None


class AttendanceImport(ImportKind):
    name = "training"
    title = "参训情况"
    entity = "Attendance"
    permission = "manage_trainings"
    list_endpoint = "training.index"
    fields = (
        Field("培训主题", "training", width=30, required=True, aliases=("培训", "培训班", "培训班名称", "培训名称"),
              choices=_manageable_titles,
              example="2026年驻村干部岗前培训",
              note="已在业务培训中登记、由您本级或下级组织且已开始的培训；可从下拉列表选择"),
        Field("开始日期", "start_date", "date", 12, example=date(2026, 3, 2),
              note="培训的开始日期；同名培训不止一个时必填，如 2026-03-02"),
        Field("姓名", "name", width=10, example="张三", note="可空；填写时须与身份证号登记的姓名一致"),
        Field("认定学时", "hours", "amount", 10, example=16, aliases=("学时", "培训学时"),
              note="大于0、不超过该培训的学时，最多1位小数；空白为该培训的学时"),
        Field("是否合格", "passed", width=8, choices=lambda user: YES_NO, example="是", note="是/否；空白为是（考核合格）",
              aliases=("考核结果", "是否结业")),
        Field("备注", "note", width=24, note="最多200字"),
        Field("身份证号", "id_number", width=22, required=True, example=EXAMPLE_ID_NUMBER,
              note="18位；须是已登记、在您管辖范围内的帮扶干部（按身份证号识别）"),
    )
    derived = (
        Column("主办单位", "organizer", width=22), Column("层级", "level", width=8), Column("类型", "kind", width=10),
        Column("方式", "mode", width=6), Column("结束日期", "end_date", "date", 12),
        Column("课程学时", "course_hours", "amount", 10), Column("工作单位", "organization", width=26),
    )
    # the 培训台账's column order (its first layout, with 身份证号 added at the end)
    EXPORT_ORDER = ("training", "organizer", "level", "kind", "mode", "start_date", "end_date", "course_hours",
                    "name", "organization", "hours", "passed", "note", "id_number")

    @classmethod
    def export_columns(cls) -> list[Column]:
        by_key = {c.key: c for c in (*cls.fields, *cls.derived)}
        return [by_key[key] for key in cls.EXPORT_ORDER]

    def context(self, user, *, update: bool) -> AttendanceContext:
        people = {row.id_number_index: (row.id, row.name) for row in db.session.execute(
            scoped(select(Person.id_number_index, Person.id, Person.name), Person, user))}
        return AttendanceContext(user=user, update=update, courses=Courses.load(user), people=people, stored={})

    def stored_rows(self, values, ctx: AttendanceContext) -> list[list]:
        """The export's rows for the attendance the row names (the course by title and
        start, the person by the full ID number, or by the masked one and the name), if the
        user may see both: a course run above the user (which it may not register people
        for) or a masked number is no error in a row left as exported."""
        from ..people.privacy import id_cell, shown_id_number

        start = to_date(values["start_date"])
        course = ctx.courses.find(values["training"], start, Collector()) if values["training"] is not None else None
        raw = id_cell(values.get("id_number"))
        if course is None or not raw:
            return []
        if "*" in raw:
            named = _norm(values.get("name") or "")
            if ctx.visible is None:
                ctx.visible = {person_id for person_id, _ in ctx.people.values()}
            stored = [a for a in ctx.attendances(course.id).values() if a.person_id in ctx.visible
                      and (a.person.id_number_masked or "").upper() == raw and _norm(a.person.name) == named]
            attendance = stored[0] if len(stored) == 1 else None
        else:
            try:
                found = ctx.people.get(crypto.blind_index(normalize_id_number(raw)))
            except RuleViolation:
                return []
            attendance = ctx.attendance(course.id, found[0]) if found is not None else None
        if attendance is None:
            return []
        return [export_row(attendance, shown_id_number(attendance.person, ctx.user)),
                export_row(attendance, attendance.person.id_number_masked)]

    def check(self, values, ctx: AttendanceContext) -> AttendanceRow:
        errors = Collector()
        start, course = to_date(values["start_date"]), None
        if values["start_date"] is not None and start is None:
            errors.add("start_date", "开始日期格式应为 年-月-日，如 2026-03-02")
        else:
            course = ctx.courses.find(values["training"], start, errors)
        if course is not None:
            if not can_manage(ctx.user, course):
                errors.add("training", NOT_YOURS)
            elif not has_started(course):
                errors.add("training", NOT_STARTED)
        person = self._person(values, ctx, errors)
        passed = _passed(values["passed"]) if values["passed"] is not None else True
        errors.check(passed is not None, "passed", "应填“是”或“否”")
        hours, note = None, None
        if course is not None:
            given = values["hours"] if values["hours"] is not None else course.hours
            note = str(values["note"]) if values["note"] is not None else None
            hours, note = attendance_terms(course, given, note, errors)
        errors.raise_if_any()
        existing = ctx.attendance(course.id, person)
        return AttendanceRow(training=course, person_id=person, hours=hours, passed=bool(passed), note=note,
                             existing=existing)

    def _person(self, values, ctx: AttendanceContext, errors: Collector) -> int | None:
        if values["id_number"] is None:
            errors.add("id_number", "请填写身份证号")
            return None
        if "*" in str(values["id_number"]):
            errors.add("id_number", "身份证号已遮蔽（含*），请填写完整的18位身份证号")
            return None
        try:
            number = normalize_id_number(str(values["id_number"]))
        except RuleViolation as broken:
            errors.errors.update(broken.errors)
            return None
        found = ctx.people.get(crypto.blind_index(number))
        if found is None:
            errors.add("id_number", "该身份证号未登记为帮扶干部，或该人员不在您的管辖范围内")
            return None
        person_id, name = found
        given = values["name"]
        if given is not None and _norm(given) != _norm(name):
            errors.add("name", f"姓名与身份证号不符（该身份证号登记的姓名为“{name}”）")
        return person_id

    key_fields = ("training", "id_number")

    def key(self, clean: AttendanceRow) -> tuple:
        return (clean.training.id, clean.person_id)

    def existing(self, clean: AttendanceRow, ctx):
        return clean.existing

    def duplicate_message(self, clean: AttendanceRow) -> str:
        return f"该人员已登记参加“{clean.training.title}”；{UPDATE_HINT}"

    def write(self, rows, ctx, user) -> tuple[int, int]:
        new = [NewAttendance(c.training, c.person_id, c.hours, c.passed, c.note) for c, existing in rows if existing is None]
        write_attendances(new, user, commit=False)
        changes = [AttendanceChange(existing, c.hours, c.passed, c.note, existing.version)
                   for c, existing in rows if existing is not None]
        return len(new), change_attendances(changes, user, commit=False)


def export_row(a: Attendance, id_number: str) -> list:
    """An attendance as a row of the 培训台账 (``AttendanceImport.export_columns()``)."""
    t = a.training
    values = {"training": t.title, "organizer": t.organizer, "level": TRAINING_LEVELS.get(t.level, t.level),
              "kind": TRAINING_KINDS.get(t.kind, t.kind), "mode": TRAINING_MODES.get(t.mode, t.mode),
              "start_date": t.start_date, "end_date": t.end_date, "course_hours": t.hours, "name": a.person.name,
              "organization": a.person.organization.name, "hours": a.hours, "passed": a.passed, "note": a.note,
              "id_number": id_number or None}
    return [values[key] for key in AttendanceImport.EXPORT_ORDER]


KINDS = (AttendanceImport,)
