"""money columns become 64-bit: a deal past 2.1 billion yuan overflowed PostgreSQL's INTEGER

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

COLUMNS = {
    'opportunity': [('budget', True), ('amount', True)],
    'paymentmilestone': [('amount', False), ('received_amount', False)],
    'payment': [('amount', False)],
    'forecastitem': [('amount', True)],
}


def _retype(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, nullable in columns:
                batch_op.alter_column(name, existing_type=old, type_=new, existing_nullable=nullable)


def upgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())
