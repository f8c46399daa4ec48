"""fleets and scaling: instance fleets (targets in units, instance types with
weights, launch and resize specifications) and their nodes (weight, spot maximum
price, spot block end); managed scaling's and automatic scaling's own records;
the clusters' one-minute metrics that automatic scaling rules read

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa
import elmr.store.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cluster_metric_minutes',
    sa.Column('cluster_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('minute', elmr.store.models.UtcDateTime(), nullable=False),
    sa.Column('sample_count', sa.Integer(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('minimum', sa.Float(), nullable=False),
    sa.Column('maximum', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ),
    sa.PrimaryKeyConstraint('cluster_id', 'name', 'minute')
    )
    op.create_table('instance_fleets',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('cluster_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('target_on_demand', sa.Integer(), nullable=False),
    sa.Column('target_spot', sa.Integer(), nullable=False),
    sa.Column('instance_type_configs', sa.JSON(), nullable=False),
    sa.Column('launch_specifications', sa.JSON(), nullable=True),
    sa.Column('resize_specifications', sa.JSON(), nullable=True),
    sa.Column('context', sa.String(length=256), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('state_reason_code', sa.String(length=64), nullable=True),
    sa.Column('state_reason_message', sa.Text(), nullable=True),
    sa.Column('created_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.Column('ready_at', elmr.store.models.UtcDateTime(), nullable=True),
    sa.Column('ended_at', elmr.store.models.UtcDateTime(), nullable=True),
    sa.Column('spot_short_since', elmr.store.models.UtcDateTime(), nullable=True),
    sa.Column('spot_gave_up_at', elmr.store.models.UtcDateTime(), nullable=True),
    sa.Column('spot_units_at_give_up', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['clusters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('instance_fleets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_fleets_cluster_id'), ['cluster_id'], unique=False)

    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scaling_state', sa.JSON(), nullable=True))
    with op.batch_alter_table('instance_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('auto_scaling_state', sa.JSON(), nullable=True))

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fleet_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('weighted_capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('spot_max_price', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('spot_block_ends_at', elmr.store.models.UtcDateTime(), nullable=True))
        batch_op.alter_column('group_id',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)
        batch_op.create_index(batch_op.f('ix_instances_fleet_id'), ['fleet_id'], unique=False)
        batch_op.create_foreign_key('fk_instances_fleet_id', 'instance_fleets', ['fleet_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_constraint('fk_instances_fleet_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_instances_fleet_id'))
        batch_op.alter_column('group_id',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)
        batch_op.drop_column('spot_block_ends_at')
        batch_op.drop_column('spot_max_price')
        batch_op.drop_column('weighted_capacity')
        batch_op.drop_column('fleet_id')
    with op.batch_alter_table('instance_groups', schema=None) as batch_op:
        batch_op.drop_column('auto_scaling_state')

    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.drop_column('scaling_state')

    with op.batch_alter_table('instance_fleets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_fleets_cluster_id'))

    op.drop_table('instance_fleets')
    op.drop_table('cluster_metric_minutes')
