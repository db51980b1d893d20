# SPDX-License-Identifier: Apache-2.0
"""The balancer as a whole: its replicas, the hosts each owns, counts."""

from nova_drs.api.controllers import hosts
from nova_drs.api import replicas as replicas_mod
from nova_drs.db import models


def show(call):
    db = call.db
    rows = db.list_host_states()
    now = db.now()
    stale_after = call.conf.drs_api.host_stale_after
    members = call.replicas.members()
    owned = replicas_mod.owners(
        members, [r.host for r in rows], call.conf.drs_coordination.mode,
        reported_by={r.host: r.reported_by for r in rows})
    counts = db.count_states()
    return 200, {'status': {
        'mode': call.conf.drs_balancer.mode,
        'strategy': call.conf.drs_balancer.strategy,
        'replicas': [{'id': member, 'hosts': owned[member]}
                     for member in members],
        'hosts': len(rows),
        'hot_hosts': sum(1 for r in rows if r.hot),
        'stale_hosts': sum(1 for r in rows
                           if hosts.is_stale(r, now, stale_after)),
        'migrations_running': counts['actions'].get(
            models.ACTION_RUNNING, 0),
        'plans_recommended': counts['plans'].get(
            models.PLAN_RECOMMENDED, 0),
    }}
