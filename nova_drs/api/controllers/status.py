# SPDX-License-Identifier: Apache-2.0
"""The balancer as a whole: its replicas, the hosts each owns, counts.

The replicas are the members of the tooz group (the hosts each owns are
computed as they compute them, :mod:`nova_drs.api.replicas`). From
microversion 1.2 each replica also shows what it reports of itself
(``replica_states``: the mode it plans in, its strategy, its heartbeat and
latest cycle), replicas that stopped without leaving the group's view
included until their row is purged; the status shows where the cluster's
mode comes from and what is paused (``balancer_settings``).

``mode`` is the cluster's mode: the one an operator set, else the one the
live replicas report from their configuration (when they agree), else
the API's own ``[drs_balancer] mode``. The API's configuration is never
what a replica is said to run: that is its own report.
"""

from nova_drs.api.controllers import balancer
from nova_drs.api.controllers import hosts
from nova_drs.api import fields
from nova_drs.api import microversion
from nova_drs.api import replicas as replicas_mod
from nova_drs.balancer import plan_states

#: the first version with the replicas' own reports
REPORTS_VERSION = balancer.VERSION
#: the first version with each replica's work counters
WORK_VERSION = microversion.Version(1, 4)

#: what a replica that never reported (an older nova-drs) shows
NO_REPORT = {
    'host': None, 'pid': None, 'version': None, 'mode': None,
    'mode_source': None, 'strategy': None, 'paused': None,
    'started_at': None, 'updated_at': None, 'cycles': None,
    'cycle_errors': None, 'last_cycle': None,
}


def replica_report(row, now, stale_after):
    """A replica's own report (1.2); ``row`` None: it never reported."""
    if row is None:
        return dict(NO_REPORT, stale=True)
    return {
        'host': row.host, 'pid': row.pid, 'version': row.version,
        'mode': row.mode, 'mode_source': row.mode_source,
        'strategy': row.strategy, 'paused': bool(row.paused),
        'started_at': fields.isotime(row.started_at),
        'updated_at': fields.isotime(row.updated_at),
        'stale': balancer.is_stale(row, now, stale_after),
        'cycles': row.cycles, 'cycle_errors': row.cycle_errors,
        # NOTE: oslo.db stores "no cycle yet" as an empty object
        'last_cycle': dict(row.last_cycle) if row.last_cycle else None,
    }


def _replicas(call, members, owned, reports, now):
    if call.version < REPORTS_VERSION:
        return [{'id': member, 'hosts': owned[member]}
                for member in members]
    stale_after = call.conf.drs_api.host_stale_after
    out = []
    # the group's members, then the replicas that left it without a word
    for replica_id in members + sorted(set(reports) - set(members)):
        entry = {'id': replica_id, 'hosts': owned.get(replica_id, []),
                 'member': replica_id in owned}
        entry.update(replica_report(reports.get(replica_id), now,
                                    stale_after))
        if call.version >= WORK_VERSION:
            row = reports.get(replica_id)
            entry['work'] = (dict(row.work) if row is not None and row.work
                             else None)
        out.append(entry)
    return out


def show(call):
    db = call.db
    rows = db.list_host_states()
    now = db.now()
    # the host rows are stamped with the server's clock (server_now)
    server_now = db.server_now()
    stale_after = call.conf.drs_api.host_stale_after
    members = call.replicas.members()
    owned = replicas_mod.owners(
        members, [r.host for r in rows], call.conf.drs_coordination.mode,
        reported_by={r.host: r.reported_by for r in rows},
        partitions=call.conf.drs_listener.partitions)
    counts = db.count_states()
    settings = db.balancer_settings()
    reports = db.list_replica_states()
    mode, strategy = balancer.configured(call, reports, now)
    body = {
        'mode': settings.mode or mode,
        'strategy': strategy,
        'replicas': _replicas(call, members, owned,
                              {r.replica_id: r for r in reports}, now),
        'hosts': len(rows),
        'hot_hosts': sum(1 for r in rows if r.hot),
        'stale_hosts': sum(1 for r in rows
                           if hosts.is_stale(r, server_now, stale_after)),
        'migrations_running': counts['actions'].get(
            plan_states.ACTION_RUNNING, 0),
        'plans_recommended': counts['plans'].get(
            plan_states.PLAN_RECOMMENDED, 0),
    }
    if call.version >= REPORTS_VERSION:
        body.update(mode_source=settings.mode_source,
                    paused=settings.paused,
                    paused_hosts=sorted(settings.paused_hosts))
    return 200, {'status': body}
