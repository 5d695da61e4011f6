"""shared rate limits: every process's creations and login attempts counted in one table

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limits',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('full_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name', 'key_hash')
    )


def downgrade() -> None:
    op.drop_table('rate_limits')
