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
        'max_migrations_per_source_host', default=0, min=0, max=1000,
        help='Upper bound on the number of instances one plan moves off a '
             'single host; 0 (the default): no bound. The executor runs '
             'the moves of one host one after the other anyway '
             '(``[drs_actuator] max_concurrent_migrations_per_host``), in '
             'plan order, each checked when it starts, so a bound here '
             'only limits what a plan may achieve: a hotspot that needs '
             'more moves is relieved partly and reported with this '
             'limit as its reason.'),
    cfg.IntOpt(
        'max_migrations_per_destination_host', default=0, min=0, max=1000,
        help='Upper bound on the number of instances one plan moves onto a '
             'single host; 0 (the default): no bound, the executor paces '
             'them (``[drs_actuator] max_concurrent_migrations_per_host``) '
             'and every move keeps the destination under its ceiling when '
             'it runs. Hosts left hot because of this bound say so in the '
             'plan\'s ``unresolved_reasons``.'),
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
        'max_chain_depth', default=2, min=0, max=3,
        help='When no destination has room for an instance that must leave '
             'a hotspot, the planner may first move one instance off a '
             'destination to make room (a chain of two migrations), and '
             'where that instance has no destination either, make room '
             'for it in turn: at most this many make-room moves in a row '
             'per instance. A deeper chain is tried only when every '
             'shallower one failed (each level is one more migration); '
             'the moves run deepest first, each with room when it runs. '
             '0 disables chains, 1 allows one make-room move per '
             'instance (the default of earlier releases).'),
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
    cfg.StrOpt(
        'destination_policy', default='pack',
        choices=[
            ('pack', 'best fit among hosts already running guests whose '
                     'load after the move stays at or below the comfort '
                     'level (see ``destination_headroom``); a host '
                     'running no guest only when no such host fits'),
            ('spread', 'the host whose highest load after the move is '
                       'lowest (empty hosts first): the rule of earlier '
                       'releases'),
        ],
        help='How every strategy chooses where an instance goes. '
             '``pack`` keeps the cluster packed, so hosts stay empty (they '
             'can be powered off) and large free slots stay for large '
             'flavors; ``spread`` keeps every host as far from its '
             'thresholds as possible at the price of running more hosts. '
             'Both obey every placement rule and ``relief_margin``.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_headroom``\n'
             '* ``[drs_balancer] relief_margin``'),
    cfg.IntOpt(
        'pack_extra_migrations', default=0, min=0, max=3,
        help='With ``destination_policy = pack``, how many migrations '
             'more than the fewest a hot host\'s relief may take so that '
             'it powers no host on: when the fewest instances that '
             'relieve it fit only an empty host (a large, busy guest, '
             'say), a set of up to this many more instances that fits the '
             'active hosts (under their comfort level) is taken instead: '
             'a host powered on for one guest runs, and draws its idle '
             'power, until consolidation empties it again. (Among the '
             'sets of the fewest instances, ``pack`` always prefers one '
             'that powers no host on to a cheaper one that does.) The '
             'default 0 keeps the fewest migrations, the '
             'bench target on slack clusters (``nova-drs bench``: 1 took '
             '68 migrations where the exact optimum takes 62 on 200 '
             'hosts, and some 15 % more planning time on 10,000). '
             'Measured on a PlanetLab day (20110303, 150 hosts, '
             '``nova-drs simulate --strategies hotspot:pack --mode '
             'full``): 1 ran 100.6 mean active hosts against 102.9 with '
             '0, for 9 % more migrations; 2 ran 99.6 but made relieved '
             'hosts hot again five minutes later twice as often (7.8 %: '
             'the busy guest stays on the host it made hot).\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_headroom``'),
    cfg.FloatOpt(
        'destination_headroom', default=0.30, min=0.0, max=0.5,
        help='The comfort level of a destination, as a share of capacity '
             'below each of its thresholds: with ``pack``, a host already '
             'running guests is preferred only while its load after the '
             'move stays at or below threshold minus this value (for the '
             'default ``[drs] cpu_threshold`` 0.85, a CPU load of 0.55). '
             'The default 0.30 leaves a packed host room for what its '
             'guests commonly gain in the next five minutes: on two '
             'PlanetLab days on 200 hosts (``nova-drs simulate '
             '--pack-bench``) 3.5-11% of the destinations were hot again '
             'five minutes later with 0.10, 0.5-2.5% with 0.20 and '
             '0-0.5% with 0.30, while the mean active hosts rose by 3-4% '
             'only (still a third fewer than ``spread``). Memory has a '
             'comfort level of its own, ``destination_memory_headroom``. '
             'Consolidation also fills hosts only up to this level. A '
             'value below ``relief_margin`` acts as ``relief_margin``.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_policy``\n'
             '* ``[drs_balancer] destination_memory_headroom``'),
    cfg.FloatOpt(
        'destination_memory_headroom', default=0.10, min=0.0, max=0.5,
        help='The comfort level of a destination for memory, as a share '
             'of capacity below ``[drs] memory_threshold`` (for the '
             'default threshold 0.90, 80 % of the host\'s memory); unset, '
             'memory takes ``destination_headroom`` as the other '
             'resources do. A guest\'s memory changes more slowly than its '
             'CPU load, so a packed host needs less room kept free for it: '
             'on five PlanetLab days on 150 hosts (``nova-drs simulate '
             '--pack-bench``, balloon off) 0.10 used 3-5 % fewer active '
             'hosts and energy than 0.30 where memory is what fills the '
             'hosts, with destinations hot again five minutes later on '
             '0.6-1.6 % of moves (0.0-1.0 % with 0.30) and some 20 % '
             'more migrations. Consolidation fills hosts up to this level '
             'too. A value below ``relief_margin`` acts as '
             '``relief_margin``.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_headroom``'),
    cfg.FloatOpt(
        'relief_margin', default=0.05, min=0.0, max=0.5,
        help='Hysteresis, as a share of capacity. A hot host is relieved '
             'to its threshold minus this margin (not just under its '
             'threshold), and no destination may end above its threshold '
             'minus this margin, so that neither is hot again a few '
             'minutes later and plans do not flap. 0 restores the '
             'behaviour of earlier releases (relief to the threshold, '
             'destinations up to it).\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_headroom``'),
    cfg.IntOpt(
        'relief_trend_horizon', default=300, min=0, max=1800,
        help='Seconds ahead a rising hot host is relieved for. A hot '
             'host whose guests\' load rose over the last five minutes '
             '(a least-squares slope through their load now and the '
             'newest slices of ``destination_peak_window`` covering '
             'five minutes) is '
             'relieved to its threshold minus ``relief_margin`` minus '
             'what that slope adds over this many seconds, at most 10% '
             'of its capacity more; a flat or falling host as before. '
             'The balancer sees a host cross its threshold within '
             'seconds, often on a ramp that goes on: relieved to just '
             'threshold minus ``relief_margin`` it is hot again minutes '
             'later. Where that is not reached the host is relieved to '
             'threshold minus ``relief_margin``, else to its threshold. '
             'Needs ``destination_peak_window`` (its slices); 0 turns '
             'it off (the rule of earlier releases).\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] relief_margin``\n'
             '* ``[drs_balancer] destination_peak_window``'),
    cfg.IntOpt(
        'destination_peak_window', default=3600, min=0, max=6 * 3600,
        help='Seconds of recent history a destination is judged on. A '
             'host\'s load after a move is taken as its guests\' worst '
             'recent time slice (their smoothed loads summed slice by '
             'slice, slices aligned in time, each slice a twelfth of the '
             'window and each guest at its mean load over it, so a burst '
             'shorter than a slice counts by its share of it) plus the '
             'moved guest at its '
             'load now, instead of its guests\' load now: a guest that '
             'dipped for a single sample makes its host look emptier '
             'than it is, and a host filled on that dip is hot again '
             'when the guest comes back, and a host whose guests were '
             'busy half an hour ago is filled before they are busy '
             'again (PlanetLab days, agents every 300 s: with 15 '
             'minutes of history, 0.6-3.1 % of the destinations were '
             'hot again five minutes later, most of them such hosts; '
             'with an hour, 0.0-1.7 %, for 1-2 % more active hosts). '
             'The hot '
             'host\'s own relief is still judged on its load now. Kept '
             'by the balancer in bounded memory (twelve slices per '
             'guest); where it has no history yet, the load now is '
             'used. 0 turns it off (destinations judged on the load '
             'now, the rule of earlier releases).\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] destination_headroom``\n'
             '* ``[drs_balancer] consolidation_peak_window``'),
    cfg.FloatOpt(
        'host_power_idle_w', default=175.0, min=0.0, max=100000.0,
        help='Power in watts of a powered-on host running at 0% CPU, for '
             'the energy the simulator and the bench report (linear power '
             'model: idle + (full - idle) x CPU load; hosts running no '
             'guest count as powered off, 0 W). nova-drs never powers '
             'hosts off itself.'),
    cfg.FloatOpt(
        'host_power_full_w', default=250.0, min=0.0, max=100000.0,
        help='Power in watts of a host at 100% CPU, for the linear power '
             'model of ``host_power_idle_w``. Must not be below '
             '``host_power_idle_w``.'),
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
             'changed. Such a read is incremental: servers changed since '
             'the last read (``changes-since``) and the Placement '
             'inventories of the resource providers whose generation '
             'changed: seven API calls (one per page of results) plus one '
             'per resource provider that changed, whatever the number of '
             'compute nodes.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] inventory_full_resync_interval``'),
    cfg.IntOpt(
        'inventory_full_resync_interval', default=3600, min=60,
        max=7 * 86400,
        help='Seconds after which the view of Nova is read in full again '
             '(every server, every compute node\'s Placement inventories: '
             'one call per resource provider), a safety net for what the '
             'incremental reads and Nova\'s notifications could miss: a '
             'deleted server archived from Nova\'s database before it was '
             'seen deleted, a change stamped by a Nova service whose clock '
             'is behind by more than two minutes. The first read is '
             'always full.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] inventory_refresh_interval``'),
    cfg.FloatOpt(
        'inventory_min_interval', default=2.0, min=0.0, max=300.0,
        help='Least seconds between two reads of Nova\'s inventory, so '
             'that a burst of Nova notifications causes one read.'),
    cfg.IntOpt(
        'inventory_max_age', default=900, min=30, max=86400,
        help='When Nova cannot be read, the balancer keeps planning with '
             'its last view of Nova for at most this many seconds, then '
             'stops planning until Nova answers again.'),
    cfg.IntOpt(
        'placement_read_concurrency', default=8, min=1, max=64,
        help='Requests to Placement in flight at once while the balancer '
             'reads resource providers\' inventories. Placement has no '
             'request for several providers\' inventories, so a full read '
             'of Nova (at start, then every '
             '``inventory_full_resync_interval``) makes one request per '
             'compute host this replica reads: 10,000 of them for a '
             'region of 10,000 hosts read by one replica. They are made '
             'this many at a time, in threads of the balancer sharing '
             'its Placement connection (whose pool of HTTP connections '
             'is sized to match). 1: one after the other, in the thread '
             'that reads. Each request still has the timeout and retries '
             'of ``[drs_nova]``; the first that fails ends the read (the '
             'requests not started are not made), and a provider deleted '
             'during the read (404) is left out of the view.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] inventory_full_resync_interval``\n'
             '* ``[drs_balancer] shared_capacity_max_age``'),
    cfg.IntOpt(
        'shared_capacity_max_age', default=900, min=0, max=86400,
        help='With partitioned intake (``[drs_listener] partitions``), '
             'each replica reads from Placement the inventories of the '
             'hosts it owns only, on full reads too, and writes them with '
             'its hosts\' state; for another replica\'s host it uses the '
             'capacity that replica wrote, as long as it was confirmed '
             'against Placement at most this many seconds ago (otherwise '
             'it reads the host itself). The replicas together then make '
             'one full read\'s Placement requests instead of one each. '
             '0: every replica reads every host.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] inventory_refresh_interval``\n'
             '* ``[drs_balancer] host_state_interval``'),
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
    cfg.IntOpt(
        'host_state_full_read_interval', default=300, min=0, max=86400,
        help='With partitioned intake each replica reads the other '
             'replicas\' hosts from the database at every cycle: only the '
             'rows written since its previous read, and the whole table '
             'once every this many seconds. The full read bounds how long '
             'a row written under a writer clock stepped back by more than '
             'a few seconds can stay unseen (deleted hosts are seen at the '
             'next read anyway). 0 reads the whole table at every cycle.\n'
             '\n'
             'Related options:\n\n'
             '* ``[drs_listener] partitions``\n'
             '* ``[drs_scheduler] full_refresh_interval``'),
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
    # -- consolidation (the ``consolidate`` strategy) --
    cfg.IntOpt(
        'consolidation_interval', default=0, min=0, max=7 * 24 * 3600,
        help='Seconds between two consolidation passes of '
             'nova-drs-balancer; 0 (the default) turns them off. A pass '
             'plans with the ``consolidate`` strategy: it empties the '
             'least loaded hosts when every guest fits on hosts already '
             'running guests below their comfort level (``[drs_balancer] '
             'destination_headroom``) at the guests\' recent peak load '
             '(``consolidation_peak_window``), and never while a host is '
             'hot. Its plan follows the mode like every other plan: '
             '``manual`` and ``partial`` store it as a recommendation '
             '(consolidation is never mandatory), ``full`` applies it. '
             'The first pass waits until the balancer has watched the '
             'guests\' load for a whole peak window.\n\n'
             'Related options:\n\n'
             '* ``[drs_balancer] consolidation_peak_window``\n'
             '* ``[drs_balancer] disable_freed_hosts``\n'
             '* ``[drs_balancer] destination_headroom``'),
    cfg.IntOpt(
        'consolidation_peak_window', default=24 * 3600, min=300,
        max=7 * 24 * 3600,
        help='Seconds of history behind each instance\'s recent peak '
             'load, which consolidation packs guests by: the largest of '
             'the agent\'s smoothed loads of the guest in each twelfth '
             'of this window, kept by the balancer in bounded memory '
             '(slices line up in time across guests, so guests busy at '
             'different hours share a host). The default, one day, '
             'covers the daily cycle: a host packed at night stays '
             'below its comfort level at the next day\'s busy hours '
             'if the day repeats (on the PlanetLab traces, 6 hours '
             'frees about twice as many hosts but creates hotspots in '
             'the next hours). Shorter windows free more hosts, longer '
             'ones are safer against weekly cycles.'),
    cfg.BoolOpt(
        'disable_freed_hosts', default=False,
        help='When a consolidation plan has emptied a host (no guest '
             'left, none on its way), disable its nova-compute service '
             'with the reason ``nova-drs: freed by consolidation`` so '
             'that the Nova scheduler does not fill it again and it can '
             'be powered off. When a hotspot cannot be relieved for lack '
             'of room, the balancer enables one such host again (only '
             'hosts disabled with that reason, never one an operator '
             'disabled). nova-drs never powers hosts off or on: that is '
             'the operator\'s (or Ironic\'s) business, see '
             'doc/source/consolidation.rst. Off by default: with it, new '
             'servers only go to hosts already running guests.'),
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
