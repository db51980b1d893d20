# SPDX-License-Identifier: Apache-2.0
"""Options shared by every nova-drs component: the ``[drs]`` group.

The hotspot detector runs in the agent, the balancer and the simulator with
these same settings, so they are defined once here.
"""

from oslo_config import cfg

drs_group = cfg.OptGroup(
    name='drs',
    title='nova-drs common options',
    help='Hotspot thresholds and smoothing shared by the nova-drs agent, '
         'balancer and simulator.')

DRS_OPTS = [
    cfg.FloatOpt(
        'cpu_threshold', default=0.85, min=0.05, max=1.0,
        help='A host is a CPU hotspot when the CPU its instances use '
             '(sum of vCPUs x utilisation) exceeds this share of its '
             'physical cores.\n\n'
             'Possible values:\n\n'
             '* A fraction between 0.05 and 1.0.\n\n'
             'Related options:\n\n'
             '* ``[drs] memory_threshold``'),
    cfg.FloatOpt(
        'memory_threshold', default=0.90, min=0.05, max=1.0,
        help='A host is a memory hotspot when the memory its instances use '
             'exceeds this share of its physical memory.\n\n'
             'Possible values:\n\n'
             '* A fraction between 0.05 and 1.0.'),
    cfg.FloatOpt(
        'disk_threshold', default=0.90, min=0.05, max=1.0,
        help='A host is a disk I/O hotspot when its instances\' disk '
             'throughput exceeds this share of the host\'s disk bandwidth. '
             'Ignored for hosts whose disk bandwidth is not known.'),
    cfg.FloatOpt(
        'network_threshold', default=0.90, min=0.05, max=1.0,
        help='A host is a network hotspot when its instances\' network '
             'throughput exceeds this share of the host\'s network '
             'bandwidth. Ignored for hosts whose bandwidth is not known.'),
    cfg.FloatOpt(
        'ewma_alpha', default=0.5, min=0.01, max=1.0,
        help='Weight of the newest sample in the exponentially weighted '
             'moving average applied to every load before it is compared '
             'with the thresholds. 1.0 disables smoothing.'),
    cfg.IntOpt(
        'persistence_window', default=3, min=1, max=32,
        help='Number of most recent smoothed samples (n in k-of-n) '
             'considered by the hotspot detector.\n\n'
             'Related options:\n\n'
             '* ``[drs] persistence_count``'),
    cfg.IntOpt(
        'persistence_count', default=2, min=1, max=32,
        help='A load must be above its threshold in at least this many '
             '(k in k-of-n) of the last ``persistence_window`` smoothed '
             'samples before a hotspot is declared, so that a single spike '
             'moves nothing. Must not exceed ``persistence_window``.'),
]


def register_opts(conf):
    # NOTE: a fresh OptGroup per ConfigOpts; oslo.config keeps option
    # state (overrides) in the group object, which must not be shared
    # between configurations.
    group = cfg.OptGroup(drs_group.name, title=drs_group.title,
                         help=drs_group.help)
    conf.register_group(group)
    conf.register_opts(DRS_OPTS, group=group)


def list_opts():
    return {drs_group: DRS_OPTS}
