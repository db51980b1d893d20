# SPDX-License-Identifier: Apache-2.0
"""host_states: each compute host's latest state, for the Nova scheduler.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The balancer replica that owns a host rewrites its row at each cycle; the
nova-drs filter and weigher in nova-scheduler read the table.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from oslo_db.sqlalchemy import types as db_types

# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'host_states',
        sa.Column('host', sa.String(255), nullable=False),
        sa.Column('reported_by', sa.String(255), nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.Column('sampled_at', DATETIME, nullable=True),
        sa.Column('stale', sa.Boolean(), nullable=False),
        sa.Column('hot', db_types.JsonEncodedList(), nullable=False),
        sa.Column('load', db_types.JsonEncodedDict(), nullable=False),
        sa.Column('smoothed', db_types.JsonEncodedDict(), nullable=False),
        sa.Column('cpu_count', sa.Integer(), nullable=False),
        sa.Column('memory_total_mb', sa.Double(), nullable=False),
        sa.Column('guest_count', sa.Integer(), nullable=False),
        sa.Column('balloon', db_types.JsonEncodedDict(), nullable=True),
        sa.PrimaryKeyConstraint('host', name='pk_host_states'),
        **TABLE_ARGS)
