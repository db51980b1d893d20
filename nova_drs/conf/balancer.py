# SPDX-License-Identifier: Apache-2.0
"""Options of the planning engine: the ``[drs_balancer]`` group."""

from oslo_config import cfg

balancer_group = cfg.OptGroup(
    name='drs_balancer',
    title='nova-drs balancer options',
    help='How the balancer chooses live migrations: strategy, placement '
         'constraints, limits and the migration cost model.')

BALANCER_OPTS = [
    cfg.StrOpt(
        'strategy', default='hotspot',
        help='Name of the planning strategy, loaded from the '
             '``nova_drs.balancer.strategies`` entry point namespace. '
             'Shipped strategies: ``hotspot`` removes hotspots with as few '
             'migrations and as little memory moved as possible; '
             '``balance`` does the same and then lowers the spread of host '
             'load.'),
    cfg.BoolOpt(
        'same_availability_zone', default=True,
        help='Only choose destinations in the source host\'s availability '
             'zone. Turn off only when instances were not booted into a '
             'specific zone and Nova may move them between zones.'),
    cfg.BoolOpt(
        'same_aggregates', default=False,
        help='Only choose destinations that belong to exactly the same host '
             'aggregates as the source host. Useful when aggregates carry '
             'scheduling properties that Nova\'s filters enforce.'),
    cfg.IntOpt(
        'max_migrations_per_plan', default=100, min=1, max=100000,
        help='Upper bound on the number of live migrations in one plan.'),
    cfg.IntOpt(
        'max_migrations_per_source_host', default=4, min=1, max=1000,
        help='Upper bound on the number of instances one plan moves off a '
             'single host. A hotspot that needs more is left unresolved.'),
    cfg.IntOpt(
        'max_migrations_per_destination_host', default=4, min=1, max=1000,
        help='Upper bound on the number of instances one plan moves onto a '
             'single host.'),
    cfg.IntOpt(
        'instance_cooldown', default=3600, min=0, max=7 * 24 * 3600,
        help='Seconds after a live migration during which the instance is '
             'not moved again, so that instances do not ping-pong between '
             'hosts.'),
    cfg.StrOpt(
        'opt_out_metadata_key', default='drs:opt_out',
        help='Server metadata key that opts an instance out of automatic '
             'migration when its value is ``true`` (case-insensitive, '
             'also ``1``/``yes``/``on``).'),
    cfg.IntOpt(
        'max_chain_depth', default=1, min=0, max=1,
        help='When no destination has room for an instance that must leave '
             'a hotspot, the planner may first move one instance off a '
             'destination to make room (a chain of two migrations). 0 '
             'disables chains, 1 allows one make-room move per instance.'),
    cfg.IntOpt(
        'max_subset_size', default=4, min=1, max=6,
        help='Largest number of instances the hotspot strategy considers '
             'moving together off one host in its exhaustive search for the '
             'cheapest set; larger sets are found greedily.'),
    cfg.FloatOpt(
        'migration_bandwidth_mb_s', default=1000.0, min=1.0, max=100000.0,
        help='Bandwidth in MB/s available to one live migration, used by '
             'the cost model to estimate how long a migration takes.'),
    cfg.FloatOpt(
        'soft_affinity_penalty', default=0.5, min=0.0, max=100.0,
        help='Cost, in units of a host\'s full load, added to a '
             'destination that breaks a soft-affinity or soft-anti-affinity '
             'server group policy.'),
    cfg.FloatOpt(
        'balance_threshold', default=0.10, min=0.0, max=1.0,
        help='The ``balance`` strategy does nothing while the spread of '
             'host load (the largest, over resources, of the standard '
             'deviation of host load as a share of capacity) is below '
             'this value.'),
    cfg.FloatOpt(
        'balance_min_improvement', default=0.02, min=0.0, max=2.0,
        help='The ``balance`` strategy only makes a migration that lowers '
             'the sum over hosts and resources of squared load by at '
             'least this much, so that it does not churn. Moving load x '
             'from a host at load a to an identical host at load b lowers '
             'it by 2x(a - b - x): the default 0.02 is 10% of a host\'s '
             'capacity moved across a 20-point gap.'),
    # -- the nova-drs-balancer service --
    cfg.StrOpt(
        'mode', default='partial',
        choices=[
            ('manual', 'plans are stored as recommendations; nothing moves '
                       'until an operator applies a plan'),
            ('partial', 'only mandatory moves are applied automatically: '
                        'evacuating a host put in maintenance, and '
                        'hotspots above the severe thresholds; the rest '
                        'is stored as a recommendation'),
            ('full', 'every plan is applied as soon as it is made'),
        ],
        help='Automation level of nova-drs-balancer. ``partial`` is the '
             'default so that a new installation acts only where waiting '
             'hurts (a host about to run out of CPU or memory, a host '
             'being emptied for maintenance) and shows what else it would '
             'do. This is the default only: once an operator sets a mode '
             'for the cluster through the API (``openstack drs balancer '
             'set --mode``), every replica plans in that one until it is '
             'unset.'),
    cfg.FloatOpt(
        'severe_cpu_threshold', default=0.95, min=0.0, max=1.0,
        help='In ``partial`` mode, a CPU hotspot is mandatory (its moves '
             'are applied automatically) when the host\'s smoothed CPU '
             'load is above this share of its capacity. Must not be below '
             '``[drs] cpu_threshold``.'),
    cfg.FloatOpt(
        'severe_memory_threshold', default=0.95, min=0.0, max=1.0,
        help='In ``partial`` mode, a memory hotspot is mandatory when the '
             'host\'s smoothed memory load is above this share of its '
             'memory. Must not be below ``[drs] memory_threshold``.'),
    cfg.IntOpt(
        'planning_interval', default=60, min=5, max=3600,
        help='Seconds between two periodic planning cycles. A hotspot '
             'reported by an agent, a failed migration or a host put in '
             'maintenance starts a cycle at once.'),
    cfg.IntOpt(
        'inventory_refresh_interval', default=300, min=10, max=86400,
        help='Seconds after which the view of Nova (hosts, servers, '
             'flavors, server groups, aggregates, Placement inventories) '
             'is read again even when no Nova notification said it '
             'changed.'),
    cfg.FloatOpt(
        'inventory_min_interval', default=2.0, min=0.0, max=300.0,
        help='Least seconds between two reads of Nova\'s inventory, so '
             'that a burst of Nova notifications causes one read.'),
    cfg.IntOpt(
        'inventory_max_age', default=900, min=30, max=86400,
        help='When Nova cannot be read, the balancer keeps planning with '
             'its last view of Nova for at most this many seconds, then '
             'stops planning until Nova answers again.'),
    cfg.StrOpt(
        'maintenance_reason_prefix', default='maintenance',
        help='A compute service disabled with a reason that starts with '
             'this text (case-insensitive), e.g. ``openstack compute '
             'service set --disable --disable-reason "maintenance: new '
             'DIMMs" HOST nova-compute``, is in maintenance: nova-drs '
             'plans live migrations of all its instances away. Empty: '
             'never evacuate.'),
    cfg.IntOpt(
        'host_state_interval', default=10, min=1, max=600,
        help='Seconds between two writes of the owned hosts\' state '
             '(loads, hotspots, staleness) to the database, where the '
             'Nova scheduler filter and weigher and the API read it.'),
    cfg.FloatOpt(
        'request_poll_interval', default=2.0, min=0.2, max=60.0,
        help='Seconds between two looks at the plan requests operators '
             'made through the API (a dry-run plan, a host evacuation): '
             'how long such a request waits at most for a replica.'),
    cfg.IntOpt(
        'request_claim_timeout', default=120, min=10, max=3600,
        help='A plan request claimed by a replica that did not finish it '
             'within this many seconds (it died) is released for another '
             'replica to carry out.'),
    cfg.IntOpt(
        'history_days', default=30, min=1, max=3650,
        help='Finished plans, their actions and audit events older than '
             'this many days are purged from the database (once a day).'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(balancer_group.name, title=balancer_group.title,
                         help=balancer_group.help)
    conf.register_group(group)
    conf.register_opts(BALANCER_OPTS, group=group)


def list_opts():
    return {balancer_group: BALANCER_OPTS}
