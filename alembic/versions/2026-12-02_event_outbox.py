"""event outbox: events written in the transaction of the change that causes them (issue #10)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'event',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('uid', sa.String(length=40), nullable=False),
        sa.Column('type', sa.String(length=64), nullable=False),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('providers', sa.Text(), nullable=False),
        sa.Column('dataflow', sa.String(length=300), nullable=True),
        sa.Column('subject', sa.String(length=300), nullable=True),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('txid', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_event')),
        sa.UniqueConstraint('uid', name=op.f('uq_event_uid')),
    )
    op.create_index(op.f('ix_event_type'), 'event', ['type'])


def downgrade() -> None:
    op.drop_index(op.f('ix_event_type'), table_name='event')
    op.drop_table('event')
