"""hadoop layer: the master's endpoints as data, the cluster's own credentials

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:00:00
"""
from alembic import op
import sqlalchemy as sa
import elmr.store.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_credentials',
    sa.Column('access_key_id', sa.String(length=32), nullable=False),
    sa.Column('cluster_id', sa.String(length=32), nullable=False),
    sa.Column('secret_access_key', sa.String(length=64), nullable=False),
    sa.Column('session_token', sa.String(length=128), nullable=False),
    sa.Column('endpoint_token', sa.String(length=128), nullable=False),
    sa.Column('created_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ),
    sa.PrimaryKeyConstraint('access_key_id'),
    sa.UniqueConstraint('cluster_id'),
    sa.UniqueConstraint('endpoint_token')
    )
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endpoints', sa.JSON(), nullable=True))
        batch_op.drop_column('spark_master_url')
        batch_op.drop_column('spark_master_ui_url')
        batch_op.drop_column('spark_history_ui_url')


def downgrade() -> None:
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spark_history_ui_url', sa.VARCHAR(length=256), nullable=True))
        batch_op.add_column(sa.Column('spark_master_ui_url', sa.VARCHAR(length=256), nullable=True))
        batch_op.add_column(sa.Column('spark_master_url', sa.VARCHAR(length=256), nullable=True))
        batch_op.drop_column('endpoints')
    op.drop_table('cluster_credentials')
