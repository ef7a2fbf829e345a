"""reconciliation cases: policy versions, cases, case periods and the append-only timeline (issue #10)

Revision ID: 0004r
Revises: 0003
Create Date: 2026-12-02 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = '0004r'
down_revision = '0003'
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'recon_policy',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('dataflow', sa.String(300), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('settings', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recon_policy')),
        sa.UniqueConstraint('dataflow', 'version', name='uq_recon_policy_version'),
    )
    op.create_table(
        'recon_case',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('dataflow', sa.String(300), nullable=False),
        sa.Column('origin', sa.String(64), nullable=False),
        sa.Column('destination', sa.String(64), nullable=False),
        sa.Column('breakdown', sa.String(200), nullable=False),
        sa.Column('basis', sa.String(20), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('policy_version', sa.Integer(), nullable=False),
        sa.Column('opened_by_submission', sa.String(36)),
        sa.Column('requested_by', sa.String(64)),
        sa.Column('resolved_by_submission', sa.String(36)),
        sa.Column('reason', sa.String(40)),
        sa.Column('close_agreed', sa.String(200), nullable=False),
        sa.Column('opened_at', TZ, nullable=False),
        sa.Column('updated_at', TZ, nullable=False),
        sa.Column('resolved_at', TZ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recon_case')),
    )
    op.create_index('ix_recon_case_pair', 'recon_case', ['dataflow', 'origin', 'destination'])
    open_ = sa.text("state NOT IN ('resolved', 'closed')")
    op.create_index('uq_recon_case_open', 'recon_case', ['dataflow', 'origin', 'destination', 'breakdown', 'basis'],
                    unique=True, sqlite_where=open_, postgresql_where=open_)
    op.create_table(
        'recon_period',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('period', sa.String(40), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('rule', sa.String(20), nullable=False),
        *[sa.Column(name, sa.Float()) for name in ('e_open', 'i_open')],
        sa.Column('flag_open', sa.String(16)),
        *[sa.Column(name, sa.Float()) for name in ('e_now', 'i_now')],
        sa.Column('flag_now', sa.String(16)),
        sa.Column('ln_ratio_now', sa.Float()),
        *[sa.Column(name, sa.String(40)) for name in ('e_dur_crit', 'i_dur_crit', 'e_source_type', 'i_source_type')],
        *[sa.Column(name, sa.String(36)) for name in ('e_submission', 'i_submission')],
        sa.Column('updated_at', TZ, nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['recon_case.id'], name=op.f('fk_recon_period_case_id_recon_case')),
        sa.PrimaryKeyConstraint('case_id', 'period', name=op.f('pk_recon_period')),
    )
    op.create_table(
        'recon_timeline',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('at', TZ, nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('action', sa.String(40), nullable=False),
        sa.Column('submission', sa.String(36)),
        sa.Column('reason', sa.String(40)),
        sa.Column('text', sa.Text()),
        sa.Column('before', sa.Text()),
        sa.Column('after', sa.Text()),
        sa.ForeignKeyConstraint(['case_id'], ['recon_case.id'], name=op.f('fk_recon_timeline_case_id_recon_case')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recon_timeline')),
    )
    op.create_index(op.f('ix_recon_timeline_case_id'), 'recon_timeline', ['case_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_recon_timeline_case_id'), table_name='recon_timeline')
    op.drop_table('recon_timeline')
    op.drop_table('recon_period')
    op.drop_index('uq_recon_case_open', table_name='recon_case')
    op.drop_index('ix_recon_case_pair', table_name='recon_case')
    op.drop_table('recon_case')
    op.drop_table('recon_policy')
