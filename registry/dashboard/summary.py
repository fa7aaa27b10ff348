"""Keeping the support summaries current.

Every flush that adds, changes or deletes a ``SupportRecord`` updates ``SupportRollup``
and ``VillageSupportLast`` in the same transaction (an ``after_flush`` listener), so no
service can forget it and a rolled-back change rolls its summary back too. Bulk loads
that bypass the ORM (the benchmark) call ``rebuild_all``; so does ``flask dashboard
rebuild``, which also repairs summaries after village flags change.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import Integer, delete, event, extract, func, inspect, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..extensions import db
from .models import ANY, SupportRollup, VillageSupportLast

LEVEL_CUTS = (("township", 9), ("county", 6), ("city", 4), ("province", 2))
YEAR_TOTAL = 0  # the month of a row that holds the whole year's figures
_FIELDS = ("village_code", "record_date", "category", "organization_id", "status",
           "amount", "amount_attracted", "amount_in_kind")
ZERO = Decimal("0")


def _record_model():
    try:
        from ..records.models import SupportRecord
    except ImportError:  # the records feature is not installed
        return None
    return SupportRecord


def _current(obj) -> dict:
    return {name: getattr(obj, name) for name in _FIELDS}


def _committed(obj) -> dict:
    state = inspect(obj)
    out = {}
    for name in _FIELDS:
        hist = state.attrs[name].history
        if hist.deleted:
            out[name] = hist.deleted[0]
        elif hist.unchanged:
            out[name] = hist.unchanged[0]
        else:
            out[name] = getattr(obj, name)
    return out


def _insert(session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


@event.listens_for(Session, "after_flush")
def _after_flush(session, _ctx):
    model = _record_model()
    if model is None:
        return
    changes: list[tuple[dict, int]] = []
    for obj in session.new:
        if isinstance(obj, model):
            changes.append((_current(obj), 1))
    for obj in session.dirty:
        if isinstance(obj, model) and session.is_modified(obj, include_collections=False):
            old, new = _committed(obj), _current(obj)
            if old != new:
                changes += [(old, -1), (new, 1)]
    for obj in session.deleted:
        if isinstance(obj, model):
            changes.append((_committed(obj), -1))
    if changes:
        apply_changes(session, changes)


def apply_changes(session, changes: list[tuple[dict, int]]) -> None:
    from ..organizations.models import Organization
    from ..regions.models import Region

    conn = session.connection()
    villages = {c["village_code"] for c, _ in changes}
    orgs = {c["organization_id"] for c, _ in changes}
    flags = {
        row.code: (bool(row.is_key), bool(row.is_poor), bool(row.is_relocation))
        for row in conn.execute(select(Region.code, Region.is_key, Region.is_poor, Region.is_relocation).where(Region.code.in_(villages)))
    }
    kinds = dict(conn.execute(select(Organization.id, Organization.kind).where(Organization.id.in_(orgs))).all())

    cells: dict[tuple, list] = defaultdict(lambda: [0, ZERO, ZERO, ZERO])
    touched_confirmed: set[str] = set()
    for values, sign in changes:
        code = values["village_code"]
        day = values["record_date"]
        if code is None or day is None:
            continue
        if values["status"] == "confirmed":
            touched_confirmed.add(code)
        key_flags = flags.get(code, (False, False, False))
        for level, n in LEVEL_CUTS:
            region_code = code[:n] + "0" * (12 - n)
            for month in (day.month, YEAR_TOTAL):
                key = (region_code, level, day.year, month, values["category"],
                       kinds.get(values["organization_id"], "other"), *key_flags, values["status"])
                cell = cells[key]
                cell[0] += sign
                cell[1] += sign * Decimal(values["amount"] or 0)
                cell[2] += sign * Decimal(values["amount_attracted"] or 0)
                cell[3] += sign * Decimal(values["amount_in_kind"] or 0)

    table = SupportRollup.__table__
    insert = _insert(session)
    for key, (count, amount, attracted, in_kind) in cells.items():
        if count == 0 and amount == attracted == in_kind == ZERO:
            continue
        region_code, level, year, month, category, kind, is_key, is_poor, is_relocation, status = key
        stmt = insert(table).values(
            region_code=region_code, level=level, year=year, month=month, category=category, org_kind=kind,
            is_key=is_key, is_poor=is_poor, is_relocation=is_relocation, status=status,
            record_count=count, amount=amount, amount_attracted=attracted, amount_in_kind=in_kind,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["region_code", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation", "status"],
            set_={
                "record_count": table.c.record_count + stmt.excluded.record_count,
                "amount": table.c.amount + stmt.excluded.amount,
                "amount_attracted": table.c.amount_attracted + stmt.excluded.amount_attracted,
                "amount_in_kind": table.c.amount_in_kind + stmt.excluded.amount_in_kind,
            },
        )
        conn.execute(stmt)
    if touched_confirmed:
        refresh_last_confirmed(conn, touched_confirmed)


def _last_confirmed_select(village_filter=None):
    """Latest confirmed record date per village, overall and per category/kind."""
    from ..organizations.models import Organization

    model = _record_model()
    base = (
        select(model.village_code, model.category, Organization.kind.label("kind"), model.record_date)
        .join(Organization, Organization.id == model.organization_id)
        .where(model.status == "confirmed")
    )
    if village_filter is not None:
        base = base.where(village_filter(model.village_code))
    sub = base.subquery()
    parts = []
    for category, kind in ((literal(ANY), literal(ANY)), (sub.c.category, literal(ANY)),
                           (literal(ANY), sub.c.kind), (sub.c.category, sub.c.kind)):
        parts.append(
            select(sub.c.village_code, category.label("category"), kind.label("org_kind"),
                   func.max(sub.c.record_date).label("last_confirmed_on"))
            .group_by(sub.c.village_code, category, kind)
        )
    return union_all(*parts)


def refresh_last_confirmed(conn, villages: set[str]) -> None:
    table = VillageSupportLast.__table__
    codes = sorted(villages)
    conn.execute(delete(table).where(table.c.village_code.in_(codes)))
    conn.execute(
        table.insert().from_select(
            ["village_code", "category", "org_kind", "last_confirmed_on"],
            _last_confirmed_select(lambda col: col.in_(codes)),
        )
    )


def rebuild_all() -> None:
    """Recompute every summary from the records (after a bulk load or a flag change)."""
    from ..organizations.models import Organization
    from ..regions.models import Region

    model = _record_model()
    conn = db.session.connection()
    conn.execute(delete(SupportRollup.__table__))
    conn.execute(delete(VillageSupportLast.__table__))
    if model is None:
        return
    year = extract("year", model.record_date).cast(Integer)
    for (level, n), whole_year in ((cut, whole) for cut in LEVEL_CUTS for whole in (False, True)):
        region_code = func.substr(model.village_code, 1, n).concat("0" * (12 - n))
        month = literal(YEAR_TOTAL) if whole_year else extract("month", model.record_date).cast(Integer)
        stmt = (
            select(
                region_code.label("region_code"), literal(level).label("level"), year.label("year"), month.label("month"),
                model.category, Organization.kind, Region.is_key, Region.is_poor, Region.is_relocation, model.status,
                func.count().label("record_count"),
                func.coalesce(func.sum(model.amount), 0), func.coalesce(func.sum(model.amount_attracted), 0),
                func.coalesce(func.sum(model.amount_in_kind), 0),
            )
            .join(Organization, Organization.id == model.organization_id)
            .join(Region, Region.code == model.village_code)
            .group_by(region_code, year, month, model.category, Organization.kind, Region.is_key, Region.is_poor,
                      Region.is_relocation, model.status)
        )
        conn.execute(
            SupportRollup.__table__.insert().from_select(
                ["region_code", "level", "year", "month", "category", "org_kind", "is_key", "is_poor", "is_relocation",
                 "status", "record_count", "amount", "amount_attracted", "amount_in_kind"],
                stmt,
            )
        )
    conn.execute(
        VillageSupportLast.__table__.insert().from_select(
            ["village_code", "category", "org_kind", "last_confirmed_on"], _last_confirmed_select()
        )
    )
