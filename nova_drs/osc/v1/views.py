# SPDX-License-Identifier: Apache-2.0
"""What each command shows of the API's objects, and under which title.

Loads are shares of capacity: percentages in tables, the API's numbers
in json/yaml (``nova_drs.osc.columns``).
"""

from nova_drs.osc import columns as col
from nova_drs.osc.fields import field

HOST_LIST = (
    field('Name', 'name'),
    field('Hot', 'hot', col.ListColumn),
    field('CPU', 'load.cpu', col.PercentColumn),
    field('Memory', 'load.memory', col.PercentColumn),
    field('Disk', 'load.disk', col.PercentColumn),
    field('Network', 'load.network', col.PercentColumn),
    field('Guests', 'guest_count'),
    field('Reserved', 'reserved_migrations'),
    field('Stale', 'stale'),
    field('Paused', 'paused'),
    field('Consolidation', 'consolidation', col.ConsolidationColumn),
    field('Updated At', 'updated_at'),
)

HOST_SHOW = (
    field('Name', 'name'),
    field('Hot', 'hot', col.ListColumn),
    field('Load', 'load', col.LoadColumn),
    field('Smoothed', 'smoothed', col.LoadColumn),
    field('Stale', 'stale'),
    field('CPU Count', 'cpu_count'),
    field('Memory Total MB', 'memory_total_mb'),
    field('Guests', 'guest_count'),
    field('Balloon', 'balloon', col.DictColumn),
    field('Reserved Migrations', 'reserved_migrations'),
    field('Paused', 'paused'),
    field('Pause Reason', 'pause_reason'),
    field('Paused By', 'paused_by'),
    field('Paused At', 'paused_at'),
    field('Libvirt Connected', 'libvirt_connected'),
    field('Consolidation', 'consolidation', col.ConsolidationColumn),
    field('Reported By', 'reported_by'),
    field('Sampled At', 'sampled_at'),
    field('Updated At', 'updated_at'),
)

PLAN_LIST = (
    field('UUID', 'uuid'),
    field('Strategy', 'strategy'),
    field('Origin', 'origin'),
    field('State', 'state'),
    field('Unresolved', 'unresolved', col.ListColumn),
    field('Created By', 'created_by'),
    field('Created At', 'created_at'),
)

PLAN_SHOW = (
    field('UUID', 'uuid'),
    field('Strategy', 'strategy'),
    field('Origin', 'origin'),
    field('State', 'state'),
    field('State Reason', 'state_reason'),
    field('Decision (s)', 'decision_s'),
    field('Unresolved', 'unresolved', col.ListColumn),
    field('Actions', 'actions', col.ActionsColumn),
    field('Created By', 'created_by'),
    field('Created At', 'created_at'),
    field('Updated At', 'updated_at'),
    field('Finished At', 'finished_at'),
)

PLAN_REQUEST_SHOW = (
    field('UUID', 'uuid'),
    field('Kind', 'kind'),
    field('Strategy', 'strategy'),
    field('Host', 'host'),
    field('Apply', 'apply'),
    field('State', 'state'),
    field('Plan UUID', 'plan_uuid'),
    field('Error', 'error'),
    field('Created By', 'created_by'),
    field('Created At', 'created_at'),
    field('Updated At', 'updated_at'),
)

MIGRATION_LIST = (
    field('UUID', 'uuid'),
    field('Instance', 'instance_uuid'),
    field('Source', 'source'),
    field('Target', 'target'),
    field('State', 'state'),
    field('Duration (s)', 'duration_s'),
)

MIGRATION_LIST_LONG = MIGRATION_LIST + (
    field('Reason', 'reason'),
    field('Plan', 'plan_uuid'),
    field('Created At', 'created_at'),
    field('Finished At', 'finished_at'),
)

EVENT_LIST = (
    field('ID', 'id'),
    field('Time', 'created_at'),
    field('Actor', 'actor'),
    field('Kind', 'kind'),
    field('Object', 'object_uuid'),
    field('Message', 'message'),
)

EVENT_LIST_LONG = EVENT_LIST + (
    field('Detail', 'detail', col.DictColumn),
)

MIGRATION_SHOW = (
    field('UUID', 'uuid'),
    field('Plan', 'plan_uuid'),
    field('Instance', 'instance_uuid'),
    field('Source', 'source'),
    field('Target', 'target'),
    field('Reason', 'reason'),
    field('State', 'state'),
    field('Owner', 'owner'),
    field('Transfer MB', 'transfer_mb'),
    field('Estimated (s)', 'estimated_s'),
    field('Duration (s)', 'duration_s'),
    field('Nova Migration ID', 'migration_id'),
    field('Nova Migration UUID', 'migration_uuid'),
    field('Nova Status', 'nova_status'),
    field('Error', 'error'),
    field('Created At', 'created_at'),
    field('Started At', 'started_at'),
    field('Finished At', 'finished_at'),
)

INSTANCE_SHOW = (
    field('UUID', 'uuid'),
    field('Host', 'host'),
    field('Opt Out', 'opt_out'),
    field('Balloon Floor MB', 'balloon_floor_mb'),
    field('Balloon', 'balloon', col.DictColumn),
)

STATUS_SHOW = (
    field('Mode', 'mode'),
    field('Mode Source', 'mode_source'),
    field('Paused', 'paused'),
    field('Paused Hosts', 'paused_hosts', col.ListColumn),
    field('Strategy', 'strategy'),
    field('Hosts', 'hosts'),
    field('Hot Hosts', 'hot_hosts'),
    field('Stale Hosts', 'stale_hosts'),
    field('Migrations Running', 'migrations_running'),
    field('Plans Recommended', 'plans_recommended'),
    field('Replicas', 'replicas', col.ReplicasColumn),
)

BALANCER_SHOW = (
    field('Mode', 'mode'),
    field('Mode Source', 'mode_source'),
    field('Paused', 'paused'),
    field('Reason', 'reason'),
    field('Updated By', 'updated_by'),
    field('Updated At', 'updated_at'),
    field('Paused Hosts', 'paused_hosts', col.PausedHostsColumn),
)
