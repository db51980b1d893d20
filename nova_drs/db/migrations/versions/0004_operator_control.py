# SPDX-License-Identifier: Apache-2.0
"""Operator control and replica reports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

* ``balancer_settings``: the mode and the pause an operator set for the
  whole cluster through the API (one row);
* ``host_settings``: the hosts an operator paused;
* ``replica_states``: each balancer replica's own report (mode in effect,
  strategy, heartbeat, latest cycle);
* ``plans.applied_automatically``: the balancer applied the plan by
  itself (a pause holds such plans' pending actions);
* ``host_states.libvirt_connected``: the host's agent reaches its
  libvirtd (NULL: not known, a replica older than this revision wrote
  the row).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from oslo_db.sqlalchemy import types as db_types

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}
MODES = "('manual', 'partial', 'full')"


def upgrade():
    op.add_column('host_states', sa.Column('libvirt_connected', sa.Boolean(),
                                           nullable=True))
    op.add_column('plans', sa.Column('applied_automatically', sa.Boolean(),
                                     server_default=sa.false(),
                                     nullable=False))
    op.create_table(
        'balancer_settings',
        sa.Column('name', sa.String(32), nullable=False),
        sa.Column('mode', sa.String(16), nullable=True),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('updated_by', sa.String(255), nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.CheckConstraint('mode IN %s' % MODES,
                           name='ck_balancer_settings_mode'),
        sa.PrimaryKeyConstraint('name', name='pk_balancer_settings'),
        **TABLE_ARGS)
    op.create_table(
        'host_settings',
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('updated_by', sa.String(255), nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.PrimaryKeyConstraint('host', name='pk_host_settings'),
        **TABLE_ARGS)
    op.create_table(
        'replica_states',
        sa.Column('replica_id', sa.String(255), nullable=False),
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(64), nullable=False),
        sa.Column('mode', sa.String(16), nullable=False),
        sa.Column('mode_source', sa.String(16), nullable=False),
        sa.Column('strategy', sa.String(64), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('started_at', DATETIME, nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.Column('cycles', sa.Integer(), nullable=False),
        sa.Column('cycle_errors', sa.Integer(), nullable=False),
        sa.Column('last_cycle', db_types.JsonEncodedDict(), nullable=True),
        sa.CheckConstraint('mode IN %s' % MODES,
                           name='ck_replica_states_mode'),
        sa.CheckConstraint("mode_source IN ('config', 'operator')",
                           name='ck_replica_states_mode_source'),
        sa.PrimaryKeyConstraint('replica_id', name='pk_replica_states'),
        **TABLE_ARGS)
