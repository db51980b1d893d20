# SPDX-License-Identifier: Apache-2.0
"""The states and origins the list filters accept.

Kept here rather than imported from ``nova_drs.db.models`` so that the
command line does not load SQLAlchemy; a unit test checks that both
agree.
"""

PLAN_STATES = ('recommended', 'applying', 'applied', 'cancelled', 'failed',
               'superseded')
PLAN_ORIGINS = ('periodic', 'hotspot', 'operator', 'evacuation')
MIGRATION_STATES = ('pending', 'running', 'completed', 'failed', 'aborted',
                    'cancelled')
