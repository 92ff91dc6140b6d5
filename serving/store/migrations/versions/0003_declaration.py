"""scans.hs_code, scans.declared_value: the rest of the declaration the policy's declaration rules read (issue 22)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('scans') as batch:
        batch.add_column(sa.Column('hs_code', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('declared_value', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scans') as batch:
        batch.drop_column('declared_value')
        batch.drop_column('hs_code')
