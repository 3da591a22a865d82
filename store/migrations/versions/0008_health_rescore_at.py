"""health rescore instant: the health tick reads only opportunities whose score can have changed

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

import store.types

revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The server default fills every existing row: all are due at the first tick, as in a fresh database,
    # which rescores them once and stores each one's next instant.
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health_rescore_at', store.types.UTCDateTime(), nullable=True,
                                      server_default=sa.text("'1970-01-01 00:00:00'")))
        batch_op.create_index(batch_op.f('ix_opportunity_health_rescore_at'), ['health_rescore_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunity_health_rescore_at'))
        batch_op.drop_column('health_rescore_at')
