# SPDX-License-Identifier: Apache-2.0
"""Hosts freed by consolidation.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

* ``host_states.consolidation``: ``empty`` (no guest on the host, none
  on its way: it can be powered off) or ``disabled`` (the same, and its
  nova-compute service disabled by nova-drs so the scheduler does not
  fill it again); NULL: the host runs guests, or a replica older than
  this revision wrote the row.
"""

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('host_states', sa.Column('consolidation', sa.String(16),
                                           nullable=True))
