"""control loop: intent apart from observed state, node decommissioning, provider
failures as data, idle time

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import elmr.store.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clusters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('termination_requested_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('termination_requested_message', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('idle_since', elmr.store.models.UtcDateTime(), nullable=True))

    with op.batch_alter_table('instance_groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shrink_policy', sa.JSON(), nullable=True))

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('leaving_since', elmr.store.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('decommission_timeout_s', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('stop_requested_at', elmr.store.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('provider_attempts', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('provider_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('provider_failing_since', elmr.store.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', elmr.store.models.UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        for column in ('next_attempt_at', 'provider_failing_since', 'provider_error',
                       'provider_attempts', 'stop_requested_at', 'decommission_timeout_s',
                       'leaving_since'):
            batch_op.drop_column(column)

    with op.batch_alter_table('instance_groups', schema=None) as batch_op:
        batch_op.drop_column('shrink_policy')

    with op.batch_alter_table('clusters', schema=None) as batch_op:
        for column in ('idle_since', 'termination_requested_message', 'termination_requested_code'):
            batch_op.drop_column(column)
