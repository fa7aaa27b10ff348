"""A grade's or a care record's posting (with the posting's own person, organization and
region) comes by a second statement by id (``selectin``), not joined into the statement
of the list: PostgreSQL plans the joins of a statement it has not prepared yet on every
run, and the fourteen tables of the joined form cost it 3-7 ms to plan against well
under 1 ms to run (the cadre's home page reads both lists)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, select

from registry.assessment.models import Assessment
from registry.care.models import CareRecord
from registry.care.services import add_care
from registry.core.timeutil import local_today
from tests.test_care import care_world, insurance


@pytest.mark.parametrize("model", [Assessment, CareRecord])
def test_the_statement_of_a_list_does_not_join_the_postings(db, model):
    sql = str(select(model).compile(db.engine))
    assert "JOIN posting " not in sql
    assert sql.count(" JOIN ") <= 7


def test_care_records_load_their_postings_in_one_more_statement(db, make_user):
    world = care_world(make_user, local_today() - timedelta(days=400))
    for posting in ("county_posting", "province_posting"):
        add_care(world[posting].person, insurance(world[posting]), world["province"])
    db.session.commit()
    db.session.expunge_all()
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        records = db.session.scalars(select(CareRecord).order_by(CareRecord.id)).all()
        names = [record.posting.person.name for record in records]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert names == ["县派张三", "省派李四"]
    assert len(statements) == 2  # the records, then their postings by id (with person and unit joined)
