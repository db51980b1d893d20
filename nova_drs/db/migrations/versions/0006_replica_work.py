# SPDX-License-Identifier: Apache-2.0
"""What each balancer replica does.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

* ``replica_states.work``: the replica's own counters (JSON): metrics
  notifications taken in and dropped, intake partitions and hosts owned,
  Nova and Placement reads and API calls, its CPU time and resident
  memory. They show whether the replicas divide the work (the status
  API from 1.4, ``openstack drs status``, the load test). NULL: a replica
  older than this revision wrote the row.
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('replica_states',
                  sa.Column('work', db_types.JsonEncodedDict(),
                            nullable=True))
