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
    # The server default stays: dropping it would make SQLite copy the whole table (and rebuild its
    # indexes in another order, which its planner, without statistics, then follows).


def downgrade() -> None:
    with op.batch_alter_table('service_requests') as batch:
        for name in COLUMNS:
            batch.drop_column(name)
