"""People 帮扶干部 and postings 选派: their rules, in one place each.

``check_posting`` is *the* posting rule of DESIGN.md section 5: the form, the end
action, any import and the CLI call it (through ``create_posting`` / ``end_posting``),
so a posting the registry holds has always passed it.
"""
from __future__ import annotations

import unicodedata
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Select, case, false, func, or_, select

from ..audit.services import record, snapshot
from ..core import crypto
from ..core.enums import DISPATCH_LEVELS, EDUCATION, END_REASONS, GENDERS, POSTING_ROLES, VILLAGE_ROLES
from ..core.formatting import date_cn
from ..core.identity import birth_date_from_id, gender_from_id, normalize_id_number, normalize_phone
from ..core.rules import Collector, RuleViolation, flush_or_refuse
from ..core.scope import region_clause, scoped
from ..core.timeutil import local_today
from ..extensions import db
from ..organizations.models import Organization
from ..organizations.services import STALE, in_jurisdiction
from ..regions.models import Region
from .models import Person, Posting
from .privacy import may_see_full_identity

# 56 ethnic groups (GB/T 3304) and the two catch-alls of the civil registry.
ETHNICITIES = (
    "汉族", "蒙古族", "回族", "藏族", "维吾尔族", "苗族", "彝族", "壮族", "布依族", "朝鲜族", "满族", "侗族", "瑶族",
    "白族", "土家族", "哈尼族", "哈萨克族", "傣族", "黎族", "傈僳族", "佤族", "畲族", "高山族", "拉祜族", "水族",
    "东乡族", "纳西族", "景颇族", "柯尔克孜族", "土族", "达斡尔族", "仫佬族", "羌族", "布朗族", "撒拉族", "毛南族",
    "仡佬族", "锡伯族", "阿昌族", "普米族", "塔吉克族", "怒族", "乌孜别克族", "俄罗斯族", "鄂温克族", "德昂族",
    "保安族", "裕固族", "京族", "塔塔尔族", "独龙族", "鄂伦春族", "赫哲族", "门巴族", "珞巴族", "基诺族",
    "其他", "外国血统中国籍人士",
)
PERSON_FIELDS = (
    "name", "id_number", "gender", "ethnicity", "birth_date", "phone", "is_party_member", "education",
    "organization_id", "post", "rank", "is_reserve_cadre", "is_veteran", "expertise",
)
TEXT_LIMITS = {"name": 50, "post": 100, "rank": 50, "expertise": 200}
TEXT_LABELS = {"name": "姓名", "post": "职务", "rank": "职级", "expertise": "专长"}
DUPLICATE_ID = "该身份证号已登记，同一人不能重复登记"


# -- people ------------------------------------------------------------------------------

def employers_query(actor) -> Select:
    """The organizations ``actor`` may register people for: *the* employer rule, used by
    the form's choices, the lookup, the text resolution and ``_clean_person``.

    A unit its own organization; region staff organizations based in their
    jurisdiction; the admin any; other roles none."""
    if actor.role == "unit":
        rule = Organization.id == actor.organization_id
    elif actor.role in ("admin", "region"):
        rule = region_clause(Organization.region_code, actor)
    else:
        rule = false()
    return scoped(select(Organization).where(rule), Organization, actor)


def employer(actor, org_id) -> Organization | None:
    """The organization ``org_id`` if ``actor`` may register people for it, else None."""
    try:
        org_id = int(org_id)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(employers_query(actor).where(Organization.id == org_id))


def employer_allowed(actor, org: Organization | None) -> bool:
    return org is not None and employer(actor, org.id) is not None


EMPLOYER_LOOKUP_LIMIT = 20


def _as_code(text: str) -> str:
    """``text`` as a 统一社会信用代码 would be stored: half-width, upper case, no spaces."""
    return unicodedata.normalize("NFKC", text).upper().replace(" ", "")


def employer_lookup(actor, q: str, *, limit: int = EMPLOYER_LOOKUP_LIMIT) -> tuple[list[Organization], bool]:
    """Up to ``limit`` employers of ``actor`` whose name contains ``q`` or whose credit
    code starts with it, best first (exact, then prefix, then shorter names); and
    whether there were more."""
    q = (q or "").strip()[:100]
    if not q:
        return [], False
    code = _as_code(q)
    matches = or_(Organization.name.icontains(q, autoescape=True), Organization.credit_code.startswith(code, autoescape=True))
    rank = case(
        (or_(Organization.name == q, Organization.credit_code == code), 0),
        (Organization.name.istartswith(q, autoescape=True), 1),
        else_=2,
    )
    stmt = employers_query(actor).where(matches).order_by(rank, func.length(Organization.name), Organization.name, Organization.id)
    rows = db.session.scalars(stmt.limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


def employer_by_text(actor, text: str, field: str = "organization_id") -> Organization:
    """The employer named by ``text`` — an exact 统一社会信用代码 or an exact name among
    those ``actor`` may register people for (what a form without JavaScript sends).
    Unknown, out of scope or ambiguous: a ``RuleViolation`` on ``field``."""
    text = (text or "").strip()
    if not text:
        raise RuleViolation("请选择工作单位", field)
    by_code = db.session.scalar(employers_query(actor).where(Organization.credit_code == _as_code(text)))
    if by_code is not None:
        return by_code
    named = db.session.scalars(employers_query(actor).where(Organization.name == text).order_by(Organization.id).limit(6)).all()
    if len(named) == 1:
        return named[0]
    if named:
        codes = "、".join(org.credit_code for org in named[:5] if org.credit_code)
        raise RuleViolation(
            f"有多个单位名为“{text}”，请从候选列表中选择，或填写其统一社会信用代码" + (f"（{codes}）" if codes else ""), field
        )
    message = f"在您的管辖范围内没有名称或统一社会信用代码为“{text}”的单位，请从候选列表中选择"
    similar, _ = employer_lookup(actor, text, limit=3)
    if similar:  # without JavaScript there is no list: name the nearest ones
        message += "。相近的单位：" + "、".join(org.name for org in similar)
    raise RuleViolation(message, field)


def can_edit_person(user, person: Person) -> bool:
    if user.role == "unit":
        return person.organization_id == user.organization_id
    return in_jurisdiction(user, person.organization.region_code if person.organization else None)


def _clean_person(values: dict, *, actor, person: Person | None) -> dict:
    errors = Collector()
    data = {key: values.get(key) for key in PERSON_FIELDS}
    for key, value in data.items():
        if isinstance(value, str):
            data[key] = value.strip() or None
    for key in ("is_party_member", "is_reserve_cadre", "is_veteran"):
        data[key] = bool(data[key])

    if not data["name"]:
        errors.add("name", "请填写姓名")
    for key, limit in TEXT_LIMITS.items():
        if data[key] and len(data[key]) > limit:
            errors.add(key, f"{TEXT_LABELS[key]}最多{limit}字")

    number = None
    if not data["id_number"]:
        errors.add("id_number", "请填写身份证号")
    else:
        try:
            number = normalize_id_number(data["id_number"])
        except RuleViolation as violation:
            errors.add("id_number", violation.message)
        else:
            clash = select(Person.id).where(Person.id_number_index == crypto.blind_index(number))
            if person is not None:
                clash = clash.where(Person.id != person.id)
            if db.session.scalar(clash) is not None:
                errors.add("id_number", DUPLICATE_ID)
            data["id_number"] = number

    if data["gender"] is not None and data["gender"] not in GENDERS:
        errors.add("gender", "性别无效")
    elif number:
        derived = gender_from_id(number)
        if data["gender"] is None:
            data["gender"] = derived
        elif data["gender"] != derived:
            errors.add("gender", f"性别与身份证号不符（身份证号显示为{GENDERS[derived]}性）")
    if number:
        born = birth_date_from_id(number)
        if data["birth_date"] is None:
            data["birth_date"] = born
        elif data["birth_date"] != born:
            errors.add("birth_date", f"出生日期与身份证号不符（身份证号显示为{date_cn(born)}）")

    if data["ethnicity"] is not None and data["ethnicity"] not in ETHNICITIES:
        errors.add("ethnicity", "民族无效")
    if data["education"] is not None and data["education"] not in EDUCATION:
        errors.add("education", "学历无效")
    if data["phone"]:
        try:
            data["phone"] = normalize_phone(data["phone"])
        except RuleViolation as violation:
            errors.add("phone", violation.message)

    org = employer(actor, data["organization_id"])
    if org is None:
        errors.add("organization_id", "请选择您管辖范围内的工作单位")
    data["organization_id"] = org.id if org is not None else None
    errors.raise_if_any()
    return data


def _apply(person: Person, data: dict) -> None:
    for key, value in data.items():
        if key == "id_number":
            if person.id_number_index != crypto.blind_index(value):
                person.set_id_number(value)
        elif key == "phone":
            if (value or "") != person.phone:
                person.set_phone(value)
        else:
            setattr(person, key, value)


def _flush_person() -> None:
    flush_or_refuse(STALE, duplicate=("id_number", DUPLICATE_ID))


def create_person(values: dict, *, actor, commit: bool = True) -> Person:
    if actor.role not in ("admin", "region", "unit"):
        raise RuleViolation("您不能登记帮扶干部")
    data = _clean_person(values, actor=actor, person=None)
    person = Person(name=data["name"])
    _apply(person, data)
    db.session.add(person)
    _flush_person()
    record("create", person, before=None, summary=f"登记帮扶干部：{person.name}（{person.organization.name}）", actor=actor)
    if commit:
        db.session.commit()
    return person


def update_person(person: Person, values: dict, *, version, actor, commit: bool = True) -> Person:
    if not can_edit_person(actor, person):
        raise RuleViolation("您不能修改此帮扶干部的信息")
    if str(version) != str(person.version):
        raise RuleViolation(STALE)
    values = dict(values)
    if actor.role == "unit":
        values["organization_id"] = person.organization_id
    data = _clean_person(values, actor=actor, person=person)
    before = snapshot(person)
    _apply(person, data)
    if not db.session.is_modified(person):
        return person
    _flush_person()
    db.session.refresh(person, ["organization"])
    record("update", person, before=before, summary=f"修改帮扶干部信息：{person.name}", actor=actor)
    if commit:
        db.session.commit()
    return person


def may_search_by_id(user) -> bool:
    """Finding a person by a full ID number is only for roles that see full numbers: a
    masked role must not be able to test whether a number is registered."""
    return getattr(user, "role", None) in ("admin", "region", "unit")


def people_query(user, *, q: str = "", organization_id: int | None = None, posted: str = "") -> Select:
    """People ``user`` may see, by name or (for roles allowed) by exact ID number."""
    stmt = scoped(select(Person), Person, user)
    q = (q or "").strip()
    if q:
        by_id = None
        if may_search_by_id(user):
            try:
                by_id = normalize_id_number(q)
            except RuleViolation:
                by_id = None
        if by_id:
            stmt = stmt.where(Person.id_number_index == crypto.blind_index(by_id))
        else:
            stmt = stmt.where(Person.name.contains(q))
    if organization_id:
        stmt = stmt.where(Person.organization_id == organization_id)
    active = select(Posting.person_id).where(Posting.end_date.is_(None))
    if posted == "active":
        stmt = stmt.where(Person.id.in_(active))
    elif posted == "idle":
        stmt = stmt.where(Person.id.not_in(active))
    return stmt.order_by(Person.name, Person.id)


def active_postings_of(person_ids) -> dict[int, Posting]:
    """The active posting of each person (at most one by the rules), in or out of scope:
    callers show only what ``visible_postings`` allows."""
    ids = list(person_ids)
    if not ids:
        return {}
    rows = db.session.scalars(select(Posting).where(Posting.person_id.in_(ids), Posting.end_date.is_(None)))
    return {p.person_id: p for p in rows}


def visible_postings(user, postings) -> set[int]:
    ids = [p.id for p in postings]
    if not ids:
        return set()
    return set(db.session.scalars(scoped(select(Posting.id), Posting, user).where(Posting.id.in_(ids))))


def active_labels(user, person_ids) -> dict[int, str]:
    """What a list says about each person's current posting: the place and role when the
    user may see that posting, otherwise only that the person is posted elsewhere."""
    active = active_postings_of(person_ids)
    visible = visible_postings(user, active.values())
    return {
        person_id: f"{p.region.name}{p.role_label}" if p.id in visible else "在其他地区在岗"
        for person_id, p in active.items()
    }


def organization_in_scope(user, organization_id: int | None) -> Organization | None:
    if not organization_id:
        return None
    return db.session.scalar(scoped(select(Organization).where(Organization.id == organization_id), Organization, user))


def postings_of_person(user, person_id: int) -> list[Posting]:
    """A person's posting history as far as ``user`` may see it, newest first."""
    stmt = scoped(select(Posting), Posting, user).where(Posting.person_id == person_id)
    return db.session.scalars(stmt.order_by(Posting.start_date.desc())).all()


# -- postings ----------------------------------------------------------------------------

def default_planned_end(start: date) -> date:
    """Start + the planned term (*setting* REGISTRY_PLANNED_TERM_YEARS); 29 February
    falls back to the 28th."""
    years = int(current_app.config["REGISTRY_PLANNED_TERM_YEARS"])
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _overlap(stmt: Select, start: date, end: date | None) -> Select:
    """Postings (half-open periods [start, end), end None = still active) that share a
    day with [start, end). A posting ending on D and another starting on D do not."""
    stmt = stmt.where(or_(Posting.end_date.is_(None), Posting.end_date > start))
    if end is not None:
        stmt = stmt.where(Posting.start_date < end)
    return stmt


def _describe(p: Posting) -> str:
    until = f"至{date_cn(p.end_date)}" if p.end_date else "至今"
    return f"{p.region.name}{p.role_label}，{date_cn(p.start_date)}{until}"


def check_posting(
    *,
    person: Person | None,
    role: str | None,
    region: Region | None,
    dispatch_level: str | None,
    start_date: date | None,
    planned_end: date | None,
    post_held: str | None = None,
    end_date: date | None = None,
    end_reason: str | None = None,
    end_note: str | None = None,
    posting_id: int | None = None,
) -> None:
    """Every posting rule of DESIGN.md section 5; raises one ``RuleViolation``.

    - the role exists; first secretary and work team go to a village, a seconded cadre
      to a county or township (and names the post held);
    - dispatch level exists; planned end after the start; actual end not before the
      start and not in the future; an end has a reason; a recall has its grounds;
    - a person holds at most one active posting and their postings never overlap;
    - a village has at most one active first secretary (first-secretary periods of a
      village never overlap).
    """
    errors = Collector()
    if person is None:
        errors.add("person_id", "请选择选派干部")
    if role not in POSTING_ROLES:
        errors.add("role", "请选择选派类型")
    if region is None:
        errors.add("region_code", "派驻地不存在，请填写有效的12位区划代码")
    elif role in VILLAGE_ROLES and region.level != "village":
        errors.add("region_code", f"{POSTING_ROLES[role]}只能派驻到村（社区），“{region.name}”不是村")
    elif role == "seconded_cadre" and region.level not in ("county", "township"):
        errors.add("region_code", f"挂职干部只能派往县市区或乡镇，不能派往{region.level_label}（“{region.name}”）")
    if role == "seconded_cadre" and not (post_held or "").strip():
        errors.add("post_held", "挂职干部须填写挂职职务（如副县长、县长助理）")
    if dispatch_level not in DISPATCH_LEVELS:
        errors.add("dispatch_level", "请选择选派层级")
    if start_date is None:
        errors.add("start_date", "请填写开始日期")
    if planned_end is None:
        errors.add("planned_end", "请填写计划结束日期")
    elif start_date is not None and planned_end <= start_date:
        errors.add("planned_end", "计划结束日期须晚于开始日期")
    if end_date is not None:
        if start_date is not None and end_date < start_date:
            errors.add("end_date", f"结束日期不能早于开始日期（{date_cn(start_date)}）")
        if end_date > local_today():
            errors.add("end_date", "结束日期不能晚于今天；到期后再办理结束")
        if end_reason not in END_REASONS:
            errors.add("end_reason", "请选择结束原因")
        elif end_reason == "recalled" and not (end_note or "").strip():
            errors.add("end_note", "召回须写明召回事由")
    elif end_reason or (end_note or "").strip():
        errors.add("end_date", "填写结束原因时须同时填写结束日期")

    if person is not None and start_date is not None and not errors.errors.get("end_date"):
        others = select(Posting).where(Posting.person_id == person.id)
        if posting_id is not None:
            others = others.where(Posting.id != posting_id)
        if end_date is None:
            active = db.session.scalars(others.where(Posting.end_date.is_(None)).limit(1)).first()
            if active is not None:
                errors.add("person_id", f"{person.name}已有在岗选派（{_describe(active)}），一人同时只能有一个在岗选派，请先结束原选派")
        if not errors.errors.get("person_id"):
            clash = db.session.scalars(_overlap(others, start_date, end_date).order_by(Posting.start_date).limit(1)).first()
            if clash is not None:
                errors.add("start_date", f"任职时间与{person.name}的另一选派重叠（{_describe(clash)}）")
    if role == "first_secretary" and region is not None and region.level == "village" and start_date is not None:
        secretaries = select(Posting).where(Posting.region_code == region.code, Posting.role == "first_secretary")
        if posting_id is not None:
            secretaries = secretaries.where(Posting.id != posting_id)
        clash = db.session.scalars(_overlap(secretaries, start_date, end_date).order_by(Posting.start_date).limit(1)).first()
        if clash is not None:
            if clash.end_date is None:
                message = f"{region.name}已有在岗第一书记{clash.person.name}（{date_cn(clash.start_date)}起），一个村同时只能有一名第一书记"
            else:
                message = f"任职时间与{region.name}的另一任第一书记{clash.person.name}重叠（{_describe(clash)}）"
            errors.add("region_code", message)
    errors.raise_if_any()


def _lock(*rows) -> None:
    """Serialise concurrent postings of one person or to one place (PostgreSQL row
    locks; SQLite already serialises writers with BEGIN IMMEDIATE)."""
    for model, key in rows:
        if key is not None:
            pk = model.__mapper__.primary_key[0]
            db.session.execute(select(pk).where(pk == key).with_for_update())


POSTING_FIELDS = ("region_code", "role", "post_held", "dispatch_level", "round", "start_date", "planned_end")


def create_posting(person: Person, values: dict, *, actor, commit: bool = True, demo: bool = False) -> Posting:
    """Post ``person`` (sent by their employer) as ``values['role']`` to a place in the
    actor's jurisdiction. ``planned_end`` defaults to start + the planned term."""
    data = {key: values.get(key) for key in POSTING_FIELDS}
    for key in ("region_code", "post_held", "round"):
        data[key] = (data[key] or "").strip() or None
    if data["role"] in VILLAGE_ROLES:
        data["post_held"] = None
    if data["start_date"] is not None and data["planned_end"] is None:
        data["planned_end"] = default_planned_end(data["start_date"])
    if actor.role not in ("admin", "region"):
        raise RuleViolation("只有行政区工作人员可以办理选派")
    errors = Collector()
    errors.check(not data["round"] or len(data["round"]) <= 20, "round", "届次最多20字")
    errors.check(not data["post_held"] or len(data["post_held"]) <= 100, "post_held", "挂职职务最多100字")
    if data["region_code"] and not in_jurisdiction(actor, data["region_code"]):
        errors.add("region_code", "派驻地不在您的管辖范围内")
        errors.raise_if_any()
    _lock((Person, person.id), (Region, data["region_code"]))
    region = db.session.get(Region, data["region_code"] or "")
    try:
        check_posting(
            person=person, role=data["role"], region=region, dispatch_level=data["dispatch_level"],
            start_date=data["start_date"], planned_end=data["planned_end"], post_held=data["post_held"],
        )
    except RuleViolation as violation:
        for field, messages in violation.errors.items():
            for message in messages:
                errors.add(field, message)
    errors.raise_if_any()
    posting = Posting(person_id=person.id, organization_id=person.organization_id, is_demo=demo, **data)
    db.session.add(posting)
    db.session.flush()
    db.session.refresh(posting, ["person", "organization", "region"])
    record(
        "create", posting, before=None, actor=actor,
        summary=f"选派：{person.name}任{posting.region.name}{posting.role_label}（{date_cn(posting.start_date)}起）",
    )
    if commit:
        db.session.commit()
    return posting


def can_manage_posting(user, posting: Posting) -> bool:
    return user.role in ("admin", "region") and in_jurisdiction(user, posting.region_code)


def end_posting(posting: Posting, *, end_date: date | None, end_reason: str | None, end_note: str | None,
                version, actor, commit: bool = True) -> Posting:
    """Ending is an action with a reason (a recall with its grounds), never a date edit."""
    if not can_manage_posting(actor, posting):
        raise RuleViolation("只有派驻地所在行政区的工作人员可以结束选派")
    if posting.end_date is not None:
        raise RuleViolation("该选派已于" + date_cn(posting.end_date) + "结束")
    if str(version) != str(posting.version):
        raise RuleViolation(STALE)
    end_note = (end_note or "").strip() or None
    _lock((Person, posting.person_id), (Region, posting.region_code))
    check_posting(
        person=posting.person, role=posting.role, region=posting.region, dispatch_level=posting.dispatch_level,
        start_date=posting.start_date, planned_end=posting.planned_end, post_held=posting.post_held,
        end_date=end_date, end_reason=end_reason, end_note=end_note, posting_id=posting.id,
    )
    before = snapshot(posting)
    posting.end_date, posting.end_reason, posting.end_note = end_date, end_reason, end_note
    flush_or_refuse(STALE)
    record(
        "end", posting, before=before, actor=actor,
        summary=f"结束选派：{posting.person.name}（{posting.region.name}{posting.role_label}），{posting.end_reason_label}，{date_cn(end_date)}",
    )
    if commit:
        db.session.commit()
    return posting


def posting_query(user, *, q: str = "", role: str = "", status: str = "", region_code: str = "",
                  organization_id: int | None = None) -> Select:
    """Postings ``user`` may see, filtered; the list and the export share it."""
    stmt = scoped(select(Posting), Posting, user).join(Posting.person)
    q = (q or "").strip()
    if q:
        stmt = stmt.where(Person.name.contains(q))
    if role:
        stmt = stmt.where(Posting.role == role)
    if status == "active":
        stmt = stmt.where(Posting.end_date.is_(None))
    elif status == "ended":
        stmt = stmt.where(Posting.end_date.is_not(None))
    elif status == "ending":
        stmt = stmt.where(Posting.end_date.is_(None), Posting.planned_end <= ending_soon_limit())
    if region_code:
        region = db.session.get(Region, region_code)
        if region is not None:
            lo, hi = region.range()
            stmt = stmt.where(Posting.region_code.between(lo, hi))
    if organization_id:
        stmt = stmt.where(Posting.organization_id == organization_id)
    if status == "ending":
        return stmt.order_by(Posting.planned_end, Posting.id)
    return stmt.order_by(Posting.end_date.is_not(None), Posting.start_date.desc(), Posting.id.desc())


def ending_soon_limit() -> date:
    return local_today() + timedelta(days=int(current_app.config["REGISTRY_ENDING_SOON_DAYS"]))


def ending_soon(user, limit: int = 8) -> tuple[int, list[Posting]]:
    """Active postings in scope whose planned end is within the ending-soon window
    (*setting* REGISTRY_ENDING_SOON_DAYS) or already past."""
    stmt = scoped(select(Posting), Posting, user).where(
        Posting.end_date.is_(None), Posting.planned_end <= ending_soon_limit()
    )
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.session.scalars(stmt.order_by(Posting.planned_end, Posting.id).limit(limit)).all()
    return total, rows


# -- choosing where to post someone ------------------------------------------------------

def target_query(user, *, levels: tuple[str, ...], q: str = "", without_first_secretary: bool = False) -> Select:
    """Places in the user's jurisdiction a posting or pairing may target."""
    stmt = select(Region).where(Region.level.in_(levels), region_clause(Region.code, user))
    if user.role not in ("admin", "region"):
        stmt = stmt.where(Region.code.is_(None))
    q = (q or "").strip()
    if q:
        stmt = stmt.where(or_(Region.name.contains(q), Region.code.startswith(q)))
    if without_first_secretary:
        stmt = stmt.where(
            Region.level == "village",
            Region.code.not_in(
                select(Posting.region_code).where(Posting.role == "first_secretary", Posting.end_date.is_(None))
            ),
        )
    return stmt.order_by(Region.code)


def active_first_secretaries(codes) -> dict[str, Posting]:
    codes = list(codes)
    if not codes:
        return {}
    rows = db.session.scalars(
        select(Posting).where(Posting.region_code.in_(codes), Posting.role == "first_secretary", Posting.end_date.is_(None))
    )
    return {p.region_code: p for p in rows}


__all__ = [
    "ETHNICITIES", "check_posting", "create_person", "create_posting", "end_posting", "may_see_full_identity",
    "people_query", "posting_query", "update_person",
]
