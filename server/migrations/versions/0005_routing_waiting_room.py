"""routing and the waiting room: request topics and timings, group thresholds

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'pending', 'in_progress')"


def upgrade() -> None:
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unassigned_alert_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('unjoined_alert_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reassign_on_lapse', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topic', sa.String(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('first_joined_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('lapsed_by', sa.JSON(), nullable=False, server_default='[]'))
    # Existing requests: their first join by a supporter and their assignee's last change, from their history.
    op.execute("UPDATE service_requests SET first_joined_at = (SELECT min(e.created_at) FROM request_events e "
               "WHERE e.request_id = service_requests.id AND e.type = 'joined' AND e.actor LIKE 'user:%')")
    op.execute("UPDATE service_requests SET assigned_at = (SELECT max(e.created_at) FROM request_events e "
               "WHERE e.request_id = service_requests.id AND e.type = 'assigned')")
    # The defaults only fill existing rows; the application sets every value from now on.
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.alter_column('reassign_on_lapse', server_default=None)
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.alter_column('topic', server_default=None)
        batch_op.alter_column('lapsed_by', server_default=None)
        batch_op.create_index('ix_requests_open_group_id', ['company_id', 'group_id', 'id'], unique=False,
                              sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
        batch_op.create_index('ix_requests_group_first_joined', ['company_id', 'group_id', 'first_joined_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_requests_group_first_joined')
        batch_op.drop_index('ix_requests_open_group_id', sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
        for column in ('lapsed_by', 'escalated_at', 'first_joined_at', 'assigned_at', 'topic'):
            batch_op.drop_column(column)
    with op.batch_alter_table('groups', schema=None) as batch_op:
        for column in ('reassign_on_lapse', 'unjoined_alert_minutes', 'unassigned_alert_minutes'):
            batch_op.drop_column(column)
