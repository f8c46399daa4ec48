"""scaling: the one-minute cluster metrics indexed by minute, so the control loop
prunes every cluster's minutes past the retention period without reading the table

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:30:00
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cluster_metric_minutes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cluster_metric_minutes_minute'), ['minute'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('cluster_metric_minutes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cluster_metric_minutes_minute'))
