"""Indexes in the order of the lists that page by key (core/paging.py): the audit trail by
entity type, the e-mail outbox (all, or of one status), enterprise projects, care records,
inspections and their findings (latest year first), fault-tolerance cases

Revision ID: b8d2f4a6c1e3
Revises: f4a6c8e0b2d5
"""
import sqlalchemy as sa
from alembic import op

revision = "b8d2f4a6c1e3"
down_revision = "f4a6c8e0b2d5"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_audit_event_type_id", "audit_event", ["entity_type", "id"]),
    ("ix_email_outbox_created", "email_outbox", ["created_at", "id"]),
    ("ix_email_outbox_status_created", "email_outbox", ["status", "created_at", "id"]),
    ("ix_project_signed_id", "project", ["signed_on", "id"]),
    ("ix_care_record_start_id", "care_record", ["start_date", "id"]),
    ("ix_inspection_list", "inspection", [sa.text("year DESC"), "inspector_region_code", "id"]),
    ("ix_inspection_finding_list", "inspection_finding", [sa.text("year DESC"), "deadline", "id"]),
    ("ix_fault_tolerance_case_applied_id", "fault_tolerance_case", ["applied_at", "id"]),
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
