# SPDX-License-Identifier: Apache-2.0
"""Options of autoballooning: the ``[drs_balloon]`` group.

The agent and the simulator read the same group, so a simulation shows
what a setting would do on real hosts.
"""

from oslo_config import cfg

balloon_group = cfg.OptGroup(
    name='drs_balloon',
    title='nova-drs autoballoon options',
    help='How the agent sizes guest memory balloons (virtio-balloon).')

BALLOON_OPTS = [
    cfg.StrOpt(
        'policy', default='adaptive',
        help='Balloon policy, loaded from the ``nova_drs.balloon.policies`` '
             'entry point namespace. ``adaptive`` (the default) reclaims '
             'idle guest memory only while the host is short of free '
             'memory and returns it at once to guests under pressure.'),
    cfg.BoolOpt(
        'dry_run', default=False,
        help='Compute and report balloon targets without applying them.'),
    cfg.FloatOpt(
        'host_free_target', default=0.10, min=0.0, max=0.9,
        help='Share of host memory to keep available. Idle guest memory is '
             'reclaimed only while the host has less available than this.'),
    cfg.FloatOpt(
        'host_free_hysteresis', default=0.05, min=0.0, max=0.9,
        help='Once the host has this share of its memory available above '
             '``host_free_target``, ballooned guests are given memory '
             'back gradually, so they have headroom before they need it.'),
    cfg.FloatOpt(
        'floor', default=0.5, min=0.05, max=1.0,
        help='Share of flavor memory below which a balloon never shrinks '
             'a guest. Overridable per instance by the server metadata '
             'key named by ``floor_metadata_key`` (read from Nova when '
             '``[drs_agent] nova_metadata`` is on) or by the domain\'s '
             'libvirt metadata, which wins (doc/agent.rst).'),
    cfg.StrOpt(
        'floor_metadata_key', default='drs:balloon_floor_mb',
        help='Server metadata key whose value (MiB) overrides the floor '
             'of one instance. Set it to the flavor memory to keep an '
             'instance from being ballooned at all. The agent reads it '
             'from Nova only when ``[drs_agent] nova_metadata`` is on.'),
    cfg.FloatOpt(
        'guest_margin', default=0.10, min=0.0, max=0.9,
        help='Share of flavor memory a guest always keeps usable (free or '
             'reclaimable cache) after its balloon shrinks.'),
    cfg.IntOpt(
        'guest_margin_min_mb', default=128, min=0, max=65536,
        help='Lower bound in MiB of the memory a guest keeps usable.'),
    cfg.FloatOpt(
        'major_fault_rate', default=50.0, min=0.0, max=1e6,
        help='Major page faults per second above which a guest counts as '
             'under memory pressure.'),
    cfg.FloatOpt(
        'pressure_drop', default=0.10, min=0.0, max=1.0,
        help='A guest whose usable memory fell by more than this share of '
             'its flavor memory since the last cycle counts as under '
             'pressure (it is allocating fast).'),
    cfg.FloatOpt(
        'shrink_step', default=0.05, min=0.0, max=1.0,
        help='Largest share of flavor memory taken from one guest in one '
             'cycle.'),
    cfg.FloatOpt(
        'grow_step', default=0.25, min=0.01, max=1.0,
        help='Smallest share of flavor memory given back to a guest under '
             'pressure in one cycle; more when its shortfall is larger.'),
    cfg.IntOpt(
        'shrink_holdoff', default=3, min=0, max=1000,
        help='Cycles during which a guest that needed memory is not '
             'shrunk again, even if it looks idle: its usable memory rose '
             'only because it was just given some, and shrinking it back '
             'while it is still allocating would make its balloon flap.'),
    cfg.IntOpt(
        'min_change_mb', default=16, min=0, max=65536,
        help='Balloon changes smaller than this many MiB are not made.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts, see nova_drs.conf.drs
    group = cfg.OptGroup(balloon_group.name, title=balloon_group.title,
                         help=balloon_group.help)
    conf.register_group(group)
    conf.register_opts(BALLOON_OPTS, group=group)


def list_opts():
    return {balloon_group: BALLOON_OPTS}
