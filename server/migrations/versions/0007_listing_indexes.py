"""listing indexes: open requests, one assignee's open requests and unassigned ones, newest first

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'pending', 'in_progress')"
UNASSIGNED = "assignee_id IS NULL"
INDEXES = (
    ('ix_requests_open_id', ['company_id', 'id'], OPEN),
    ('ix_requests_open_assignee_id', ['company_id', 'assignee_id', 'id'], OPEN),
    ('ix_requests_unassigned_id', ['company_id', 'id'], UNASSIGNED),
)


def upgrade() -> None:
    for name, columns, where in INDEXES:
        op.create_index(name, 'service_requests', columns, unique=False,
                        sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name, _, _ in INDEXES:
        op.drop_index(name, table_name='service_requests')
