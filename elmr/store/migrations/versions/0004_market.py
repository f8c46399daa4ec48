"""spot market: seed epochs, prices and capacities set by hand, interruption notices

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import elmr.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('spot_market_epochs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('starts_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('price_period_s', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('spot_market_epochs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_market_epochs_starts_at'), ['starts_at'], unique=False)

    op.create_table('spot_overrides',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('instance_type', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=32), nullable=True),
    sa.Column('set_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('spot_overrides', schema=None) as batch_op:
        batch_op.create_index('ix_spot_overrides_pool', ['instance_type', 'zone', 'kind', 'set_at'], unique=False)

    op.create_table('spot_interruption_notices',
    sa.Column('instance_id', sa.String(length=32), nullable=False),
    sa.Column('cluster_id', sa.String(length=32), nullable=False),
    sa.Column('instance_type', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('announced_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.Column('takes_effect_at', elmr.store.models.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.id'], ),
    sa.PrimaryKeyConstraint('instance_id')
    )
    with op.batch_alter_table('spot_interruption_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spot_interruption_notices_cluster_id'), ['cluster_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('spot_interruption_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_interruption_notices_cluster_id'))
    op.drop_table('spot_interruption_notices')
    with op.batch_alter_table('spot_overrides', schema=None) as batch_op:
        batch_op.drop_index('ix_spot_overrides_pool')
    op.drop_table('spot_overrides')
    with op.batch_alter_table('spot_market_epochs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spot_market_epochs_starts_at'))
    op.drop_table('spot_market_epochs')
