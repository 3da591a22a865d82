"""change instants: each opportunity's light and when it next changes, each milestone's next due instant

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Existing rows are backfilled as a bulk import would leave them: every opportunity is to be judged from its last
update, every unpaid milestone at once, and no sweep has recorded its rules yet, so the first tick recomputes all.
"""
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import store.types

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('light', sqlmodel.sql.sqltypes.AutoString(length=16),
                                      server_default=sa.text("'green'"), nullable=False))
        batch_op.add_column(sa.Column('light_changes_at', store.types.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_opportunity_light_changes_at'), ['light_changes_at'], unique=False)
    with op.batch_alter_table('paymentmilestone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_due_at', store.types.UTCDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_paymentmilestone_next_due_at'), ['next_due_at'], unique=False)
    op.create_table('sweeprules',
    sa.Column('sweep', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('fingerprint', sa.Text(), nullable=False),
    sa.Column('applied_at', store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sweep')
    )
    op.execute("UPDATE opportunity SET light_changes_at = last_update_at")
    judge_now = sa.bindparam('judge_now', datetime(2000, 1, 1, tzinfo=UTC), type_=store.types.UTCDateTime())
    op.execute(sa.text("UPDATE paymentmilestone SET next_due_at = :judge_now WHERE received_amount < amount")
               .bindparams(judge_now))


def downgrade() -> None:
    op.drop_table('sweeprules')
    with op.batch_alter_table('paymentmilestone', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_paymentmilestone_next_due_at'))
        batch_op.drop_column('next_due_at')
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_opportunity_light_changes_at'))
        batch_op.drop_column('light_changes_at')
        batch_op.drop_column('light')
