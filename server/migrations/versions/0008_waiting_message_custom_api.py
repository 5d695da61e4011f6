"""a request's waiting message (shown to the waiting customer) and an integration's own data

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COLUMNS = ('waiting_message', 'custom_api')


def upgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=''))
    # The default only fills existing rows; the application sets every value from now on.
    with op.batch_alter_table('service_requests') as batch:
        for name in COLUMNS:
            batch.alter_column(name, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        for name in COLUMNS:
            batch.drop_column(name)
