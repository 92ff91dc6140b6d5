"""officers and their sessions; reviews record the officer who made them (issue 21)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

reviews.station becomes nullable: it named the station key that posted a review, and reviews now come from
signed-in officers (officer_id). Older reviews keep their station.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('officers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officers')),
    sa.UniqueConstraint('name', name=op.f('uq_officers_name')),
    )
    op.create_table('officer_sessions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_sessions_officer_id_officers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officer_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_officer_sessions_token_hash')),
    )
    op.create_index(op.f('ix_officer_sessions_officer_id'), 'officer_sessions', ['officer_id'], unique=False)
    with op.batch_alter_table('reviews') as batch:
        batch.add_column(sa.Column('officer_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_reviews_officer_id'), ['officer_id'], unique=False)
        batch.create_foreign_key(batch.f('fk_reviews_officer_id_officers'), 'officers', ['officer_id'], ['id'])
        batch.alter_column('station', existing_type=sa.String(length=128), nullable=True)


def downgrade() -> None:
    # Reviews made by officers have no station; they take the scan's, so the column can be NOT NULL again.
    op.execute("UPDATE reviews SET station = (SELECT scans.station FROM scans WHERE scans.id = reviews.scan_id) WHERE station IS NULL")
    with op.batch_alter_table('reviews') as batch:
        batch.drop_constraint(batch.f('fk_reviews_officer_id_officers'), type_='foreignkey')
        batch.drop_index(batch.f('ix_reviews_officer_id'))
        batch.drop_column('officer_id')
        batch.alter_column('station', existing_type=sa.String(length=128), nullable=False)
    op.drop_index(op.f('ix_officer_sessions_officer_id'), table_name='officer_sessions')
    op.drop_table('officer_sessions')
    op.drop_table('officers')
