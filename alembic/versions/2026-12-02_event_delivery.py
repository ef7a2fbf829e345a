"""event delivery: webhook subscriptions, one delivery row per (subscription or contact, event), contacts (issue #10)

Revision ID: 0004e
Revises: 0004r
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0004e'
down_revision = '0004r'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'subscription',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=True),
        sa.Column('token_id', sa.Integer(), nullable=True),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('event_types', sa.Text(), nullable=False),
        sa.Column('dataflow', sa.String(length=300), nullable=True),
        sa.Column('partner', sa.String(length=64), nullable=True),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('disabled_reason', sa.Text(), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription')),
    )
    op.create_table(
        'delivery',
        sa.Column('id', ID, autoincrement=True, nullable=False),
        sa.Column('event_id', ID, nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('subscription_id', sa.String(length=40), nullable=True),
        sa.Column('provider', sa.String(length=64), nullable=True),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['event.id'], name=op.f('fk_delivery_event_id_event')),
        sa.ForeignKeyConstraint(['subscription_id'], ['subscription.id'],
                                name=op.f('fk_delivery_subscription_id_subscription')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    )
    op.create_index('ix_delivery_due', 'delivery', ['state', 'next_attempt_at'])
    op.create_index('uq_delivery_subscription_event', 'delivery', ['subscription_id', 'event_id'], unique=True)
    op.create_index('ix_delivery_event', 'delivery', ['event_id'])
    op.create_table(
        'provider_contact',
        sa.Column('provider', sa.String(length=64), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('provider', name=op.f('pk_provider_contact')),
    )


def downgrade() -> None:
    op.drop_table('provider_contact')
    op.drop_index('ix_delivery_event', table_name='delivery')
    op.drop_index('uq_delivery_subscription_event', table_name='delivery')
    op.drop_index('ix_delivery_due', table_name='delivery')
    op.drop_table('delivery')
    op.drop_table('subscription')
