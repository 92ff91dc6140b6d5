"""scans.pixel_pitch_mm: the pitch the station declared with the scan (issue 19.9)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scans') as batch:
        batch.add_column(sa.Column('pixel_pitch_mm', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scans') as batch:
        batch.drop_column('pixel_pitch_mm')
