# SPDX-License-Identifier: Apache-2.0
"""Reading only the host states that changed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08

* ``ix_host_states_reported_by_updated_at``: the balancer replicas and the
  Nova scheduler plugin read the rows each replica wrote since their last
  read (``Database.list_host_states_since``), a range of this index per
  replica, instead of the whole table every cycle.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_host_states_reported_by_updated_at', 'host_states',
                    ['reported_by', 'updated_at'])
