"""forecast: the similarity engine's index of closed deals

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26
"""
from alembic import op

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.create_index('ix_opportunity_similar', ['status', 'industry', 'budget_band', 'closed_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.drop_index('ix_opportunity_similar')
