# SPDX-License-Identifier: Apache-2.0
"""plan_requests: operators' requests for a plan, through the API.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

The API stores a request (a dry-run plan, or a host's evacuation); a
balancer replica claims it with a compare-and-set, plans, and records the
result (doc/source/database.rst, "Plan requests").
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), 'mysql',
                                      'mariadb')
TABLE_ARGS = {'mysql_engine': 'InnoDB', 'mysql_charset': 'utf8mb4'}


def upgrade():
    op.create_table(
        'plan_requests',
        sa.Column('uuid', sa.String(36), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('strategy', sa.String(64), nullable=True),
        sa.Column('host', sa.String(255), nullable=True),
        sa.Column('apply', sa.Boolean(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('plan_uuid', sa.String(36), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', DATETIME, nullable=False),
        sa.Column('updated_at', DATETIME, nullable=False),
        sa.Column('created_by', sa.String(255), nullable=False),
        sa.Column('claimed_by', sa.String(255), nullable=True),
        sa.Column('claimed_at', DATETIME, nullable=True),
        sa.CheckConstraint("kind IN ('plan', 'evacuation')",
                           name='ck_plan_requests_kind'),
        sa.CheckConstraint(
            "state IN ('pending', 'claimed', 'done', 'failed')",
            name='ck_plan_requests_state'),
        sa.PrimaryKeyConstraint('uuid', name='pk_plan_requests'),
        **TABLE_ARGS)
    op.create_index('ix_plan_requests_state_created_at', 'plan_requests',
                    ['state', 'created_at'])
