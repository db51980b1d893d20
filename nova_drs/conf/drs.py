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
        'ewma_half_life_s', default=10.0, min=0.0, max=86400.0,
        help='Half-life, in seconds, of the exponentially weighted moving '
             'average applied to every load before it is compared with the '
             'thresholds: a sample covering this many seconds weighs half '
             'of the average (10 s: the weight 0.5 of the former '
             '``ewma_alpha`` at the agent\'s default 10 s interval). In '
             'seconds, so the smoothing is the same at any agent interval '
             'and in the simulator. 0 disables smoothing.\n\n'
             'Related options:\n\n'
             '* ``[drs_agent] interval``'),
    cfg.FloatOpt(
        'persistence_window_s', default=30.0, min=0.5, max=86400.0,
        help='Seconds of the most recent smoothed load the hotspot '
             'detector considers (30 s: the former 3 samples at the '
             'agent\'s 10 s interval).\n\n'
             'Related options:\n\n'
             '* ``[drs] persistence_s``'),
    cfg.FloatOpt(
        'persistence_s', default=20.0, min=0.5, max=86400.0,
        help='A load must be above its threshold for at least this many '
             'seconds of the last ``persistence_window_s`` before a '
             'hotspot is declared, so that a single spike moves nothing '
             '(20 s of 30 s: the former 2 of 3 samples at the agent\'s 10 '
             's interval). A sample counts for the time it covers; a '
             'cycle late or early by up to a tenth of the interval '
             'changes nothing. Must not exceed ``persistence_window_s``.'),
    cfg.FloatOpt(
        'ewma_alpha', default=None, min=0.01, max=1.0,
        deprecated_for_removal=True,
        deprecated_reason='Counted per sample, so the smoothing lasted '
                          'differently at each agent interval; use '
                          '``ewma_half_life_s`` (seconds).',
        deprecated_since='2026.2',
        help='Weight of the newest sample in the moving average. When '
             'set, it replaces ``ewma_half_life_s`` with the half-life that '
             'gives this weight every ``[drs_agent] interval`` seconds '
             '(1.0: no smoothing).'),
    cfg.IntOpt(
        'persistence_window', default=None, min=1, max=32,
        deprecated_for_removal=True,
        deprecated_reason='Counted in samples, so it lasted differently at '
                          'each agent interval; use '
                          '``persistence_window_s``.',
        deprecated_since='2026.2',
        help='Number of most recent samples (n in k-of-n) the detector '
             'considered. When this or ``persistence_count`` is set, '
             'both replace ``persistence_window_s`` and ``persistence_s`` '
             'with ``persistence_window x [drs_agent] interval`` and '
             '``persistence_count x [drs_agent] interval`` seconds (3 and '
             '2 when only the other is set).'),
    cfg.IntOpt(
        'persistence_count', default=None, min=1, max=32,
        deprecated_for_removal=True,
        deprecated_reason='Counted in samples, so it lasted differently at '
                          'each agent interval; use ``persistence_s``.',
        deprecated_since='2026.2',
        help='Samples (k in k-of-n) of the last ``persistence_window`` a '
             'load had to be above its threshold. When set, see '
             '``persistence_window`` for the conversion.'),
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
