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
    # Plain ALTER TABLE, not batch mode: SQLite adds these columns in place, where a batch copy of a table that
    # others reference would fail its foreign keys on a database holding data (and rewrite every row).
    op.add_column('opportunity', sa.Column('light', sqlmodel.sql.sqltypes.AutoString(length=16),
                                           server_default=sa.text("'green'"), nullable=False))
    op.add_column('opportunity', sa.Column('light_changes_at', store.types.UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_opportunity_light_changes_at'), 'opportunity', ['light_changes_at'], unique=False)
    op.add_column('paymentmilestone', sa.Column('next_due_at', store.types.UTCDateTime(), nullable=True))
    op.create_index(op.f('ix_paymentmilestone_next_due_at'), 'paymentmilestone', ['next_due_at'], unique=False)
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
    op.drop_index(op.f('ix_paymentmilestone_next_due_at'), table_name='paymentmilestone')
    op.drop_column('paymentmilestone', 'next_due_at')
    op.drop_index(op.f('ix_opportunity_light_changes_at'), table_name='opportunity')
    op.drop_column('opportunity', 'light_changes_at')
    op.drop_column('opportunity', 'light')
