"""Courses and attendance. Services validate everything first, then write, audit and commit."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import Select, and_, func, or_, select

from ..audit.services import record, record_many, snapshot
from ..core.enums import TRAINING_KINDS, TRAINING_LEVELS, TRAINING_MODES
from ..core.paging import Key, count_up_to, order_by
from ..core.parsing import check_plausible_date, check_text, parse_hours, to_id
from ..core.queries import count, every
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import in_scope, scoped
from ..core.timeutil import local_today
from ..dashboard import gap_days
from ..dashboard.coverage import seen_whole
from ..extensions import db
from ..people.models import Person, Posting
from ..regions.models import Region
from . import checks
from .models import Attendance, Training

STALE_MESSAGE = "该记录已被他人修改，请刷新页面后重新填写"
MAX_HOURS = Decimal("999.9")


def can_manage(user, training: Training | None = None, region_code: str | None = None) -> bool:
    """Region staff manage the courses of their own jurisdiction (admins everything)."""
    if user.role == "admin":
        return True
    if user.role != "region" or user.region is None:
        return False
    code = training.region_code if training is not None else region_code
    return code is not None and user.region.contains(code)


def _hours(value, field: str, errors: Collector, maximum: Decimal = MAX_HOURS) -> Decimal | None:
    return parse_hours(value, field, "学时", errors, maximum=maximum)


@dataclass
class TrainingData:
    title: str
    organizer: str
    level: str
    kind: str
    mode: str
    region_code: str
    start_date: date | None
    end_date: date | None
    hours: object
    location: str | None = None
    note: str | None = None


def _check_training(data: TrainingData, user) -> dict:
    errors = Collector()
    title = (data.title or "").strip()
    organizer = (data.organizer or "").strip()
    errors.check(bool(title), "title", "请填写培训主题")
    errors.check(len(title) <= 200, "title", "培训主题最多200字")
    errors.check(bool(organizer), "organizer", "请填写主办单位")
    errors.check(len(organizer) <= 200, "organizer", "主办单位最多200字")
    check_text(title, "title", "培训主题", errors)
    check_text(organizer, "organizer", "主办单位", errors)
    errors.check(data.level in TRAINING_LEVELS, "level", "请选择培训层级")
    errors.check(data.kind in TRAINING_KINDS, "kind", "请选择培训类型")
    errors.check(data.mode in TRAINING_MODES, "mode", "请选择培训方式（线下或线上）")
    if data.start_date is None:
        errors.add("start_date", "请填写开始日期")
    if data.end_date is None:
        errors.add("end_date", "请填写结束日期")
    if data.start_date and data.end_date and data.end_date < data.start_date:
        errors.add("end_date", "结束日期不能早于开始日期")
    if data.start_date and data.start_date.year < 2000:
        errors.add("start_date", "开始日期不正确")
    elif check_plausible_date(data.start_date, "start_date", "开始日期", errors):
        check_plausible_date(data.end_date, "end_date", "结束日期", errors)
    hours = _hours(data.hours, "hours", errors)
    region = db.session.get(Region, data.region_code or "")
    if region is None or region.level == "village":
        errors.add("region_code", "组织地区应为省、市州、县市区或乡镇的区划代码")
    elif not can_manage(user, region_code=region.code):
        errors.add("region_code", "组织地区应在您的管辖范围内")
    location = (data.location or "").strip() or None
    errors.check(location is None or len(location) <= 200, "location", "培训地点最多200字")
    check_text(location, "location", "培训地点", errors)
    check_text(data.note, "note", "备注", errors, multiline=True)
    errors.raise_if_any()
    return dict(
        title=title, organizer=organizer, level=data.level, kind=data.kind, mode=data.mode,
        region_code=region.code, start_date=data.start_date, end_date=data.end_date, hours=hours,
        location=location, note=(data.note or "").strip() or None,
    )


def create_training(data: TrainingData, user) -> Training:
    values = _check_training(data, user)
    training = Training(**values, created_by_id=getattr(user, "id", None))
    db.session.add(training)
    db.session.flush()
    record("create", training, summary=f"新建培训：{training.title}（{training.kind_label}）")
    db.session.commit()
    return training


def _check_version(obj, version) -> None:
    if version is not None and str(version) != str(obj.version):
        raise RuleViolation({"": STALE_MESSAGE})


def update_training(training: Training, data: TrainingData, user, version=None) -> Training:
    if not can_manage(user, training):
        raise RuleViolation("只能修改本级或下级组织的培训", "")
    _check_version(training, version)
    values = _check_training(data, user)
    before = snapshot(training)
    for key, value in values.items():
        setattr(training, key, value)
    flush_or_refuse(STALE_MESSAGE)
    record("update", training, before=before, summary=f"修改培训：{training.title}")
    db.session.commit()
    return training


NOT_STARTED = "培训尚未开始，不能登记参训情况"
NOT_YOURS = "只能为本级或下级组织的培训登记参训人员"


def has_started(training: Training) -> bool:
    """Attendance is recorded once a course has begun."""
    return training.start_date <= local_today()


def attendance_terms(training: Training, hours, note: str | None, errors: Collector,
                     hours_field: str = "hours") -> tuple[Decimal | None, str | None]:
    """The credited hours (more than 0, at most the course's hours, one decimal) and the
    note (at most 200 characters) of an attendance at ``training``: the form's rule and
    the import's."""
    credited = _hours(hours, hours_field, errors, maximum=Decimal(training.hours))
    note = (note or "").strip() or None
    errors.check(note is None or len(note) <= 200, "note", "备注最多200字")
    check_text(note, "note", "备注", errors, multiline=True)  # a note may keep its line breaks
    return credited, note


@dataclass
class NewAttendance:
    training: Training
    person_id: int
    hours: Decimal
    passed: bool
    note: str | None = None


def write_attendances(items: list[NewAttendance], user, *, commit: bool = True) -> list[Attendance]:
    """Add checked attendances, each with its audit event (one batch, the same chain as
    one ``record`` each); one commit (or none: the caller's)."""
    made = [Attendance(training_id=item.training.id, person_id=item.person_id, hours=item.hours,
                       passed=bool(item.passed), note=item.note) for item in items]
    db.session.add_all(made)
    db.session.flush()
    people = {}
    ids = sorted({item.person_id for item in items})
    for i in range(0, len(ids), 900):
        people.update({row.id: row for row in db.session.execute(
            select(Person.id, Person.name, Person.organization_id).where(Person.id.in_(ids[i : i + 900])))})
    record_many([{
        "action": "create", "entity_type": "Attendance", "entity_id": attendance.id, "after": snapshot(attendance),
        "region_code": item.training.region_code, "organization_id": people[item.person_id].organization_id,
        "summary": f"登记参训：{people[item.person_id].name}，{item.training.title}，{item.hours}学时，"
                   f"{'合格' if item.passed else '不合格'}",
    } for attendance, item in zip(made, items)], actor=user)
    if commit:
        db.session.commit()
    return made


def add_attendances(training: Training, person_ids: list[int], hours, passed: bool, user, note: str | None = None) -> list[Attendance]:
    """Register several people at once: all or nothing."""
    errors = Collector()
    if not can_manage(user, training):
        raise RuleViolation(NOT_YOURS, "")
    if not has_started(training):
        errors.add("person_ids", NOT_STARTED)
    chosen = {to_id(i) for i in person_ids}
    ids = sorted(i for i in chosen if i is not None)
    if not chosen:
        errors.add("person_ids", "请选择参训人员")
    credited, note = attendance_terms(training, hours, note, errors)
    outside = [i for i in ids if not in_scope(Person, i, user)] + [None] * (None in chosen)
    if outside:
        errors.add("person_ids", "所选人员不在您的管辖范围内")
    existing = set(
        db.session.scalars(
            select(Attendance.person_id).where(Attendance.training_id == training.id, Attendance.person_id.in_(ids))
        )
    ) if ids else set()
    if existing:
        names = db.session.scalars(select(Person.name).where(Person.id.in_(existing)).order_by(Person.name)).all()
        errors.add("person_ids", f"已登记参加本次培训：{'、'.join(names)}")
    errors.raise_if_any()
    return write_attendances([NewAttendance(training, i, credited, bool(passed), note) for i in ids], user)


@dataclass
class AttendanceChange:
    attendance: Attendance
    hours: object
    passed: bool
    note: str | None = None
    version: object = None  # the version the user saw (None: not checked)


def change_attendances(changes: list[AttendanceChange], user, *, commit: bool = True) -> int:
    """Change stored attendances (the edit form's one, or an import's many): every change
    checked first, then one flush; each attendance that really changed gets its audit event
    (one batch). Returns how many changed."""
    checked = []
    for change in changes:
        attendance = change.attendance
        if not can_manage(user, attendance.training):
            raise RuleViolation("只能修改本级或下级组织的培训的参训记录", "")
        _check_version(attendance, change.version)
        errors = Collector()
        credited, note = attendance_terms(attendance.training, change.hours, change.note, errors)
        errors.raise_if_any()
        checked.append((attendance, credited, bool(change.passed), note))
    befores = []
    for attendance, credited, passed, note in checked:
        befores.append(snapshot(attendance))
        attendance.hours, attendance.passed, attendance.note = credited, passed, note
    flush_or_refuse(STALE_MESSAGE)
    events = []
    for (attendance, *_), before in zip(checked, befores):
        after = snapshot(attendance)
        if after != before:
            events.append({"action": "update", "entity_type": "Attendance", "entity_id": attendance.id,
                           "before": before, "after": after, "region_code": attendance.training.region_code,
                           "organization_id": attendance.person.organization_id,
                           "summary": f"修改参训记录：{attendance.person.name}，{attendance.training.title}"})
    record_many(events, actor=user)
    if commit:
        db.session.commit()
    return len(events)


def update_attendance(attendance: Attendance, hours, passed: bool, user, note: str | None = None, version=None) -> Attendance:
    change_attendances([AttendanceChange(attendance, hours, passed, note, version)], user)
    return attendance


def remove_attendance(attendance: Attendance, user) -> None:
    if not can_manage(user, attendance.training):
        raise RuleViolation("只能删除本级或下级组织的培训的参训记录", "")
    before = snapshot(attendance)
    record("delete", attendance, before=before, after=None,
           summary=f"删除参训记录：{attendance.person.name}，{attendance.training.title}")
    db.session.delete(attendance)
    db.session.commit()


def attendance_count(training_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Attendance).where(Attendance.training_id == training_id)) or 0


# -- queries: what the pages read --------------------------------------------------------------

GAP_KINDS = ("pre_posting", "yearly")


@dataclass
class CourseFilters:
    """The course list's filters: a year, a kind, words in the title or organizer."""

    year: int | None = None
    kind: str = ""
    q: str = ""


def courses_for(user, filters: CourseFilters | None = None) -> Select:
    """The courses ``user`` may see, filtered, newest first."""
    f = filters or CourseFilters()
    stmt = scoped(select(Training), Training, user)
    if f.year:
        stmt = stmt.where(Training.start_date.between(date(f.year, 1, 1), date(f.year, 12, 31)))
    if f.kind in TRAINING_KINDS:
        stmt = stmt.where(Training.kind == f.kind)
    if f.q:
        stmt = stmt.where(or_(Training.title.contains(f.q), Training.organizer.contains(f.q)))
    return stmt.order_by(*order_by(COURSE_ORDER))


COURSE_ORDER = (Key(Training.start_date, descending=True), Key(Training.id, descending=True))  # newest first
# the gaps worklist: by place and start (the id only orders a round's postings started on one day)
GAP_ORDER = (Key(Posting.region_code), Key(Posting.start_date), Key(Posting.id))


def attendance_counts(user, training_ids: list[int]) -> dict[int, int]:
    """{training id: attendances ``user`` may see} for the given courses."""
    if not training_ids:
        return {}
    # an attendance is as visible as its person (scopes.py): the person's rule is applied to
    # the joined person of each of the page's attendances, rather than as a list of every
    # person in scope (a province's 40,000, gathered for a page of 30 courses: 500 ms)
    stmt = (
        scoped(select(Attendance.training_id, func.count()).join(Person, Person.id == Attendance.person_id), Person, user)
        .where(Attendance.training_id.in_(training_ids))
        .group_by(Attendance.training_id)
    )
    return dict(db.session.execute(stmt).all())


def course_attendances(user, training_id: int) -> list[Attendance]:
    """The attendances of one course that ``user`` may see, by person name."""
    stmt = (
        scoped(select(Attendance), Attendance, user)
        .where(Attendance.training_id == training_id)
        .join(Person)
        .order_by(Person.name)
    )
    return every(stmt)


def attendance_candidates(user, training: Training, q: str, person_id: int | None = None) -> list[tuple[Person, str | None]]:
    """People in scope matching ``q`` (or the one person ``person_id``, whom a worklist
    chose) and not yet on the course, each with what ``user`` may see of their current
    posting (``people.services.active_labels``)."""
    from ..people.services import active_labels

    if not q and not person_id:
        return []
    registered = select(Attendance.person_id).where(Attendance.training_id == training.id)
    if q:
        match = Person.name.contains(q)
        if len(q) == 4 and q[:3].isdigit():  # the last four characters of an ID number
            match = or_(match, Person.id_number_masked.endswith(q.upper()))
    else:
        match = Person.id == person_id
    people = db.session.scalars(
        scoped(select(Person), Person, user)
        .where(match, Person.id.not_in(registered))
        .order_by(Person.name, Person.id)
        .limit(50)
    ).all()
    labels = active_labels(user, [p.id for p in people]) if people else {}
    return [(p, labels.get(p.id)) for p in people]


def person_attendances(user, person_id: int) -> list[Attendance]:
    """A person's attendances that ``user`` may see, latest course first."""
    stmt = (
        scoped(select(Attendance), Attendance, user)
        .where(Attendance.person_id == person_id)
        .join(Training)
        .order_by(Training.start_date.desc())
    )
    return every(stmt)


def _active_postings(user) -> Select:
    """Active postings in scope (unordered)."""
    return scoped(select(Posting), Posting, user).where(Posting.is_active)


def _gap_stmt(user, which: str, today: date) -> Select:
    """Active postings in scope with the gap ``which`` (unordered, for counting too)."""
    if which == "yearly":
        return checks.missing_yearly(_active_postings(user), today.year)
    return checks.missing_pre_posting(_active_postings(user), today)


def closing_courses_for(user, posting: Posting, which: str, today: date) -> list[tuple[Training, Attendance | None]]:
    """The courses ``user`` manages at which a passed attendance would close ``posting``'s
    training gap ``which`` (``checks.closing_courses``), newest first, each with the
    person's attendance there if there is one (registered, but not passed)."""
    stmt = checks.closing_courses(posting.start_date, which, today)
    if user.role != "admin":
        if user.role != "region" or user.region is None:
            return []
        stmt = stmt.where(user.region.within(Training.region_code))  # can_manage, in SQL
    stmt = (scoped(stmt, Training, user)
            .outerjoin(Attendance, and_(Attendance.training_id == Training.id, Attendance.person_id == posting.person_id))
            .add_columns(Attendance)
            .order_by(Training.start_date.desc(), Training.id.desc())
            .limit(100))
    return [(t, a) for t, a in db.session.execute(stmt)]


def training_gaps(user, which: str, today: date) -> Select:
    """Active postings in scope with the gap ``which`` (pre_posting or yearly), by place and start."""
    return _gap_stmt(user, which, today).order_by(*order_by(GAP_ORDER))


# the gaps worklist's kinds of the same lines (``dashboard.gap_days``)
WORKLIST_KINDS = {"pre_posting": "no_pre_posting_training", "yearly": "no_yearly_training"}


def training_gap_counts(user, today: date, limit: int | None = None) -> dict[str, int]:
    """{"pre_posting": n, "yearly": n}: active postings in scope with each gap. For the
    staff of a province, city or county (``dashboard.coverage.seen_whole``), the gaps
    worklist's counts by day of the same lines, while they hold (a province's 30,000
    active postings otherwise); else counted (with ``limit``: each up to ``limit`` + 1
    only, as the list's tabs and pager show them)."""
    area = seen_whole(user)
    whole = gap_days.counts(area, today) if area is not None else None
    if whole is not None:
        return {which: whole[kind] for which, kind in WORKLIST_KINDS.items()}
    if limit is not None:
        return {which: count_up_to(_gap_stmt(user, which, today), limit, Posting.id) for which in GAP_KINDS}
    return {which: count(_gap_stmt(user, which, today)) for which in GAP_KINDS}
