"""submission progress: the phase and counters of pushes sent with Prefer: respond-async (issue #15)

Revision ID: 0004d
Revises: 0004e
Create Date: 2026-12-02 16:15:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0004d'
down_revision = '0004e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'submission_progress',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('provider', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('phase', sa.String(length=16), nullable=False),
        sa.Column('observations_read', sa.BigInteger(), nullable=False),
        sa.Column('observations_validated', sa.BigInteger(), nullable=False),
        sa.Column('observations_written', sa.BigInteger(), nullable=False),
        sa.Column('bytes_read', sa.BigInteger(), nullable=False),
        sa.Column('bytes_total', sa.BigInteger(), nullable=False),
        sa.Column('owner', sa.String(length=200), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=True),
        sa.Column('result', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_progress')),
    )


def downgrade() -> None:
    op.drop_table('submission_progress')
