"""The person grades whose evidence moved after grading (依据已变化), kept with every
audited change (``closing.evidence.flag_moved_grades``): the year close page finds a
province's few among its tens of thousands of grades by year and region, instead of
looking up every grade's duty months, results and records with their events (0.8-5 s at
province scale). Filled here from the trail as ``closing.evidence.moved_after_grading``
defines it (``flask closing reflag`` does the same later).

Revision ID: b8d2f4a6c0e1
Revises: 97e72fcf6170
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "b8d2f4a6c0e1"
down_revision = "97e72fcf6170"
branch_labels = None
depends_on = None


def _moved(kind: str, id_column: str, actions: str) -> str:
    return (f"EXISTS (SELECT 1 FROM audit_event e WHERE e.entity_type = '{kind}' "
            f"AND e.entity_id = CAST({id_column} AS VARCHAR(40)) AND e.at > a.assessed_at AND e.action IN ({actions}))")


FILING = "'create', 'update', 'refile'"
GRADES = "SELECT a.id, '{kind}', a.year, a.region_code, :now FROM assessment a " \
         "WHERE a.year = :year AND a.subject_kind = 'person' AND a.posting_id IS NOT NULL AND "
REACHED = {
    "DutyMonth": f"""(
  a.absences != (SELECT COALESCE(SUM(d.absences), 0) FROM duty_month d
                 WHERE d.posting_id = a.posting_id AND d.month BETWEEN :first AND :last)
  OR EXISTS (SELECT 1 FROM duty_month d WHERE d.posting_id = a.posting_id AND d.month BETWEEN :first AND :last
             AND {_moved('DutyMonth', 'd.id', FILING)}))""",
    "VillageResult": f"""EXISTS (SELECT 1 FROM village_result r WHERE r.village_code = a.region_code AND r.year = :year
             AND {_moved('VillageResult', 'r.id', FILING)})""",
    "SupportRecord": f"""EXISTS (SELECT 1 FROM support_record s
             WHERE s.village_code = a.region_code AND s.organization_id = a.organization_id
             AND s.status IN ('confirmed', 'superseded', 'withdrawn') AND s.record_date BETWEEN :first AND :last
             AND {_moved('SupportRecord', 's.id', "'confirm', 'supersede', 'withdraw'")})""",
}


def upgrade():
    op.create_table(
        "evidence_moved",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("moved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"], name=op.f("fk_evidence_moved_assessment_id_assessment")),
        sa.PrimaryKeyConstraint("assessment_id", "kind", name=op.f("pk_evidence_moved")),
    )
    op.create_index("ix_evidence_moved_year_region", "evidence_moved", ["year", "region_code"])
    bind = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    years = [year for (year,) in bind.execute(sa.text("SELECT DISTINCT year FROM assessment WHERE subject_kind = 'person'"))]
    for kind, reached in REACHED.items():
        sql = "INSERT INTO evidence_moved (assessment_id, kind, year, region_code, moved_at) " + GRADES.format(kind=kind) + reached
        types = {"now": sa.DateTime(), "year": sa.Integer(), "first": sa.Date(), "last": sa.Date()}
        backfill = sa.text(sql).bindparams(*(sa.bindparam(name, type_=t) for name, t in types.items() if f":{name}" in sql))
        for year in years:
            values = {"now": now, "year": year, "first": date(year, 1, 1), "last": date(year, 12, 31)}
            bind.execute(backfill, {name: value for name, value in values.items() if f":{name}" in sql})


def downgrade():
    op.drop_index("ix_evidence_moved_year_region", table_name="evidence_moved")
    op.drop_table("evidence_moved")
