"""area_year: the postings of an area active in a year without a grade for it, and the
first secretaries among them (待考核), so that the province staff's home and the year
close page sum a few rows per area instead of looking at every posting of the province
and its grades (40,000 postings: 12-22 ms on SQLite, the largest statement of the
province's home page).

Filled here for every area and year up to the year the summaries were computed in, as
``dashboard.cuts.year_figures`` counts them (a rebuild writes the same rows); with no
summaries yet, nothing is filled and the pages count live until they are built.

Revision ID: c90fd02459df
Revises: c2e4a6b8d0f1
"""
import sqlalchemy as sa
from alembic import op

revision = "c90fd02459df"
down_revision = "c2e4a6b8d0f1"
branch_labels = None
depends_on = None

FIRST_YEAR = 1990  # core.parsing.EARLIEST_PLAUSIBLE: no posting begins before it

posting = sa.table("posting", sa.column("id", sa.Integer), sa.column("region_code", sa.String),
                   sa.column("role", sa.String), sa.column("start_date", sa.Date), sa.column("end_date", sa.Date))
assessment = sa.table("assessment", sa.column("id", sa.Integer), sa.column("posting_id", sa.Integer),
                      sa.column("year", sa.Integer))
area_summary = sa.table("area_summary", sa.column("area", sa.String), sa.column("settings", sa.String),
                        sa.column("computed_on", sa.Date))
area_year = sa.table("area_year", sa.column("year", sa.Integer), sa.column("area", sa.String),
                     sa.column("settings", sa.String), sa.column("trained_people", sa.Integer),
                     sa.column("months_under_min", sa.Integer), sa.column("ungraded_postings", sa.Integer),
                     sa.column("ungraded_first_secretaries", sa.Integer))


def upgrade():
    with op.batch_alter_table("area_year") as batch_op:
        batch_op.add_column(sa.Column("ungraded_postings", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("ungraded_first_secretaries", sa.Integer(), nullable=False,
                                      server_default="0"))
    _fill(op.get_bind())


def downgrade():
    with op.batch_alter_table("area_year") as batch_op:
        batch_op.drop_column("ungraded_first_secretaries")
        batch_op.drop_column("ungraded_postings")


def _fill(bind) -> None:
    settings = dict(bind.execute(sa.select(area_summary.c.area, area_summary.c.settings)).all())
    if not settings:
        return  # no summaries yet: every page counts live until they are built
    last = bind.execute(sa.select(sa.func.max(area_summary.c.computed_on))).scalar()
    last = last.year if hasattr(last, "year") else int(str(last)[:4])
    any_settings = next(iter(settings.values()))
    years = sa.select(sa.literal(FIRST_YEAR, sa.Integer).label("year")).cte("years", recursive=True)
    years = years.union_all(sa.select(years.c.year + 1).where(years.c.year < last))
    y, p = years.c.year, sa.func.substr(posting.c.region_code, 1, 9)
    graded = sa.select(assessment.c.id).where(assessment.c.posting_id == posting.c.id,
                                              assessment.c.year == y).exists()
    active = sa.and_(sa.extract("year", posting.c.start_date) <= y,
                     posting.c.end_date.is_(None) | (sa.extract("year", posting.c.end_date) >= y))
    rows = bind.execute(
        sa.select(p, y, sa.func.count(), sa.func.sum(sa.case((posting.c.role == "first_secretary", 1), else_=0)))
        .select_from(posting).join(years, active).where(~graded).group_by(p, y)).all()
    update = (area_year.update()
              .where(area_year.c.year == sa.bindparam("y"), area_year.c.area == sa.bindparam("a"))
              .values(ungraded_postings=sa.bindparam("n"), ungraded_first_secretaries=sa.bindparam("fs")))
    for prefix, year, count, first_secretaries in rows:
        if prefix is None or not count:
            continue
        area, values = prefix + "000", {"y": int(year), "n": int(count), "fs": int(first_secretaries or 0)}
        if bind.execute(update, {**values, "a": area}).rowcount == 0:
            bind.execute(area_year.insert().values(
                year=int(year), area=area, settings=settings.get(area, any_settings), trained_people=0,
                months_under_min=0, ungraded_postings=int(count), ungraded_first_secretaries=int(first_secretaries or 0)))
