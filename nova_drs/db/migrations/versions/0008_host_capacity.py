# SPDX-License-Identifier: Apache-2.0
"""Hosts' Placement capacity, shared by their owning replica.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

* ``host_states.capacity``: the VCPU and MEMORY_MB inventories of the
  host's resource provider as its owning replica last read them from
  Placement, with their age (JSON; :mod:`nova_drs.balancer.view.capacity`):
  the other replicas use them instead of reading every host's inventories
  themselves. NULL (read as empty): not known, or written by a replica
  older than this revision; readers then read the host from Placement.
"""

from alembic import op
from oslo_db.sqlalchemy import types as db_types
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('host_states', sa.Column(
        'capacity', db_types.JsonEncodedDict(), nullable=True))
