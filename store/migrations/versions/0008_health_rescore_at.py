"""health rescore instant: the health tick reads only opportunities whose score can have changed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import store.types

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills every existing row: all are due at the first tick, as in a fresh database,
    # which rescores them once and stores each one's next instant. Plain ALTER TABLE, not a batch copy: copying
    # the table on SQLite fails the foreign keys of a database holding data (alerts, milestones).
    op.add_column('opportunity', sa.Column('health_rescore_at', store.types.UTCDateTime(), nullable=True,
                                           server_default=sa.text("'1970-01-01 00:00:00'")))
    op.create_index(op.f('ix_opportunity_health_rescore_at'), 'opportunity', ['health_rescore_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_opportunity_health_rescore_at'), table_name='opportunity')
    op.drop_column('opportunity', 'health_rescore_at')
