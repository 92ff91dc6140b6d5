"""initial schema: scans, detections, reviews, api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-26

UTC times are stored as DateTime(timezone=True); on SQLite the app writes naive UTC (records.UTCDateTime).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('station', sa.String(length=128), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_keys_key_id'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_station'), ['station'], unique=False)

    op.create_table('scans',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('station', sa.String(length=128), nullable=False),
    sa.Column('item_ref', sa.String(length=256), nullable=True),
    sa.Column('declared_contents', sa.Text(), nullable=True),
    sa.Column('origin', sa.String(length=128), nullable=True),
    sa.Column('view', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=128), nullable=False),
    sa.Column('image_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('image_kind', sa.String(length=32), nullable=False),
    sa.Column('model_name', sa.String(length=128), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=False),
    sa.Column('policy_version', sa.String(length=128), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scans'))
    )
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scans_image_sha256'), ['image_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_scans_item_ref'), ['item_ref'], unique=False)
        batch_op.create_index(batch_op.f('ix_scans_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_scans_station'), ['station'], unique=False)
        batch_op.create_index(batch_op.f('ix_scans_verdict'), ['verdict'], unique=False)

    op.create_table('detections',
    sa.Column('scan_id', sa.String(length=128), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('class_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('x0', sa.Float(), nullable=False),
    sa.Column('y0', sa.Float(), nullable=False),
    sa.Column('x1', sa.Float(), nullable=False),
    sa.Column('y1', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_detections_scan_id_scans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('scan_id', 'index', name=op.f('pk_detections'))
    )
    with op.batch_alter_table('detections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_detections_class_id'), ['class_id'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('scan_id', sa.String(length=128), nullable=False),
    sa.Column('station', sa.String(length=128), nullable=False),
    sa.Column('officer', sa.String(length=128), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=False),
    sa.Column('class_ids', sa.JSON(), nullable=False),
    sa.Column('boxes', sa.JSON(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['scan_id'], ['scans.id'], name=op.f('fk_reviews_scan_id_scans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews'))
    )
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reviews_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reviews_scan_id'), ['scan_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reviews_scan_id'))
        batch_op.drop_index(batch_op.f('ix_reviews_created_at'))

    op.drop_table('reviews')
    with op.batch_alter_table('detections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_detections_class_id'))

    op.drop_table('detections')
    with op.batch_alter_table('scans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scans_verdict'))
        batch_op.drop_index(batch_op.f('ix_scans_station'))
        batch_op.drop_index(batch_op.f('ix_scans_received_at'))
        batch_op.drop_index(batch_op.f('ix_scans_item_ref'))
        batch_op.drop_index(batch_op.f('ix_scans_image_sha256'))

    op.drop_table('scans')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_station'))

    op.drop_table('api_keys')
