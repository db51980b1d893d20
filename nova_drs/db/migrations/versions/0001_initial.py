# SPDX-License-Identifier: Apache-2.0
"""Initial schema: plans, actions, audit_events, failed_pairs.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Like every migration, this one does not import nova_drs.db.models: it is
the schema as it was at this revision, whatever the models become.
Downgrades are not supported (as in OpenStack projects): restore a backup.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from oslo_db.sqlalchemy import types as db_types

# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}

PLAN_STATES = ('recommended', 'applying', 'applied', 'cancelled', 'failed',
               'superseded')
ORIGINS = ('periodic', 'hotspot', 'operator', 'evacuation')
ACTION_STATES = ('pending', 'running', 'completed', 'failed', 'aborted',
                 'cancelled')


def _in(column, values):
    return '%s IN (%s)' % (column, ', '.join("'%s'" % v for v in values))


def upgrade():
    op.create_table(
        'plans',
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('strategy', sa.String(64), nullable=False),
        sa.Column('origin', sa.String(16), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('state_reason', sa.Text(), nullable=True),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.Column('finished_at', DATETIME, nullable=True),
        sa.Column('decision_s', sa.Double(), nullable=False),
        sa.Column('unresolved', db_types.JsonEncodedList(), nullable=False),
        sa.Column('created_by', sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint('uuid', name='pk_plans'),
        sa.CheckConstraint(_in('state', PLAN_STATES), name='ck_plans_state'),
        sa.CheckConstraint(_in('origin', ORIGINS), name='ck_plans_origin'),
        **TABLE_ARGS)
    op.create_index('ix_plans_state_created_at', 'plans',
                    ['state', 'created_at'])
    op.create_index('ix_plans_created_at', 'plans', ['created_at'])

    op.create_table(
        'actions',
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('plan_uuid', sa.String(36), nullable=False),
        sa.Column('order_index', sa.Integer(), nullable=False),
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('source', sa.String(255), nullable=False),
        sa.Column('target', sa.String(255), nullable=True),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('transfer_mb', sa.Double(), nullable=False),
        sa.Column('estimated_s', sa.Double(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('owner', sa.String(255), nullable=True),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.Column('started_at', DATETIME, nullable=True),
        sa.Column('finished_at', DATETIME, nullable=True),
        sa.Column('heartbeat_at', DATETIME, nullable=True),
        sa.Column('migration_id', sa.Integer(), nullable=True),
        sa.Column('migration_uuid', sa.String(36), nullable=True),
        sa.Column('nova_status', sa.String(32), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('uuid', name='pk_actions'),
        sa.ForeignKeyConstraint(['plan_uuid'], ['plans.uuid'],
                                name='fk_actions_plan_uuid_plans'),
        sa.UniqueConstraint('plan_uuid', 'order_index',
                            name='uq_actions_plan_uuid_order_index'),
        sa.CheckConstraint(_in('state', ACTION_STATES),
                           name='ck_actions_state'),
        **TABLE_ARGS)
    op.create_index('ix_actions_state_source', 'actions',
                    ['state', 'source'])
    op.create_index('ix_actions_state_target', 'actions',
                    ['state', 'target'])
    op.create_index('ix_actions_instance_uuid', 'actions',
                    ['instance_uuid'])

    op.create_table(
        'audit_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('actor', sa.String(255), nullable=False),
        sa.Column('kind', sa.String(64), nullable=False),
        sa.Column('object_uuid', sa.String(36), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('detail', db_types.JsonEncodedDict(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_audit_events'),
        **TABLE_ARGS)
    op.create_index('ix_audit_events_object_uuid', 'audit_events',
                    ['object_uuid'])
    op.create_index('ix_audit_events_created_at', 'audit_events',
                    ['created_at'])

    op.create_table(
        'failed_pairs',
        sa.Column('instance_uuid', sa.String(36), nullable=False),
        sa.Column('target', sa.String(255), nullable=False),
        sa.Column('until', DATETIME, nullable=False),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('instance_uuid', 'target',
                                name='pk_failed_pairs'),
        **TABLE_ARGS)
    op.create_index('ix_failed_pairs_until', 'failed_pairs', ['until'])
