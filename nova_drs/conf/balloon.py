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
             'a guest: the lower safety bound. With ``demand_window_s`` '
             'the floor of each guest is its peak demand over that window '
             'plus its margin, and never below this share. Overridable '
             'per instance by the server metadata key named by '
             '``floor_metadata_key`` (read from Nova when ``[drs_agent] '
             'nova_metadata`` is on) or by the domain\'s libvirt metadata, '
             'which wins over both (doc/source/agent.rst).'),
    cfg.FloatOpt(
        'demand_window_s', default=3600.0, min=0.0, max=30 * 86400.0,
        help='Seconds of history behind each guest\'s demand estimate: '
             'the peak, over this window, of the memory it used (balloon '
             'size less usable memory) plus what it swapped in. A guest '
             'is never shrunk below that peak plus its margin. The '
             'estimates are saved in ``[drs_agent] state_path`` and '
             'survive restarts of the agent. 0 turns demand-aware floors '
             'off: ``floor`` alone is the floor.'),
    cfg.FloatOpt(
        'demand_floor_yield', default=0.5, min=0.0, max=1.0,
        help='Share of ``host_free_target``: while the host has less than '
             'this share of that target available and the idle guests\' '
             'memory above their demand floors cannot cover its '
             'shortfall, the demand floors give way: idle guests are '
             'shrunk down to the flat ``floor`` share (or their '
             'per-instance floor), never below what they use plus their '
             'headroom. The demand floor keeps what a guest needed over '
             '``demand_window_s`` so as not to shrink it again before a '
             'repeat of its peak; a host near pressure needs that memory '
             'now. 0: the demand floors never give way.'),
    cfg.FloatOpt(
        'rise_window_s', default=86400.0, min=0.0, max=30 * 86400.0,
        help='Seconds of history behind each guest\'s rise estimate: the '
             'largest rise of its demand seen between two samples (one '
             'agent interval), over this window. A guest keeps at least '
             'that much usable, never less than its margin '
             '(``guest_margin``), so that a rise like it finds the memory '
             'there before the next cycle can grow the guest: at a long '
             'agent interval a guest can take a large share of its flavor '
             'memory between two samples. Learned per square root of the '
             'seconds between the samples and scaled to the agent '
             'interval. Saved in ``[drs_agent] state_path`` with the '
             'demand estimates, and carried with a live-migrated guest '
             '(``demand_metadata``). 0 turns it off: the margin alone is '
             'kept usable.'),
    cfg.FloatOpt(
        'give_back_headroom', default=3.0, min=0.0, max=1000.0,
        help='Memory is given back (``give_back_rate``) only to ballooned '
             'guests with less than this many times their headroom (their '
             'margin, or their largest rise when larger) usable: one with '
             'more is safe until its next sample, and memory given to it '
             'fills with page cache and is taken back at the next '
             'shortage, two balloon changes for nothing. 0 gives back to '
             'every ballooned guest.'),
    cfg.BoolOpt(
        'demand_metadata', default=True,
        help='Carry each guest\'s demand estimate, and its rise estimate '
             '(``rise_window_s``), in its libvirt domain '
             'metadata (a ``<drs:demand>`` child of the ``<drs:balloon>`` '
             'element, live definition only), which a live migration '
             'takes to the destination host: the agent there starts the '
             'guest\'s history from it rather than from nothing. The '
             'agent writes it rarely (``demand_metadata_change``, '
             '``demand_metadata_interval_s``), never in ``dry_run``, and '
             'reads it for any guest it has no history of.'),
    cfg.FloatOpt(
        'demand_metadata_interval_s', default=300.0, min=10.0,
        max=86400.0,
        help='Seconds after which a guest\'s estimate is written into its '
             'metadata again even if it hardly changed, so that what a '
             'migration carries is at most this old (plus the time the '
             'migration takes).'),
    cfg.FloatOpt(
        'demand_metadata_change', default=0.05, min=0.0, max=1.0,
        help='Share of flavor memory by which a guest\'s estimate must '
             'differ from the one last written to be written at once, '
             'before ``demand_metadata_interval_s`` is over: its peak, '
             'or the headroom its rise gives at the agent interval (the '
             'rise times the square root of ``[drs_agent] interval``).'),
    cfg.FloatOpt(
        'demand_metadata_max_age_s', default=1800.0, min=0.0,
        max=30 * 86400.0,
        help='Seconds after it was written beyond which an estimate read '
             'from a guest\'s metadata is not trusted (and never older '
             'than ``demand_window_s``): a guest that ran that long '
             'without an agent writing it (paused, saved, on a host '
             'whose agent was down) may need something else now. 0 never '
             'trusts one.'),
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
        'pressure_drop_rate', default=0.01, min=0.0, max=1.0,
        help='A guest whose usable memory falls faster than this share of '
             'its flavor memory per second (0.01: a tenth of it in a 10 s '
             'cycle), not counting what balloon changes took, counts as '
             'under pressure: it is allocating fast. '
             'Measured over the time since the guest\'s last sample, so '
             'the same allocation speed is pressure at any agent '
             'interval. A guest whose usable memory fell by more than its '
             'whole margin (guest_margin) between two samples is under '
             'pressure too, however slowly it fell.'),
    cfg.FloatOpt(
        'pressure_drop', default=None, min=0.0, max=1.0,
        deprecated_for_removal=True,
        deprecated_reason='Counted per cycle, so the same allocation speed '
                          'was pressure at one agent interval and not at '
                          'another; use ``pressure_drop_rate`` (per '
                          'second).',
        deprecated_since='2026.2',
        help='Share of flavor memory by which a guest\'s usable memory '
             'must fall in one cycle to count as pressure. When set, it '
             'replaces ``pressure_drop_rate`` with ``pressure_drop / '
             '[drs_agent] interval``.'),
    cfg.FloatOpt(
        'shrink_rate', default=0.005, min=0.0, max=1.0,
        help='Largest share of flavor memory taken from one guest per '
             'second of time (0.005: 5%% in a 10 s cycle, 30%% in a 60 s '
             'one), so that reclaim runs at the same speed whatever the '
             'agent interval.'),
    cfg.FloatOpt(
        'shrink_step', default=None, min=0.0, max=1.0,
        deprecated_for_removal=True,
        deprecated_reason='Counted per cycle, so it behaved differently at '
                          'each agent interval; use ``shrink_rate`` (per '
                          'second).',
        deprecated_since='2026.2',
        help='Largest share of flavor memory taken from one guest in one '
             'cycle. When set, it replaces ``shrink_rate`` with '
             '``shrink_step / [drs_agent] interval``.'),
    cfg.FloatOpt(
        'grow_step', default=0.25, min=0.01, max=1.0,
        help='Smallest share of flavor memory given at once to a guest '
             'under pressure; more when its shortfall is larger.'),
    cfg.FloatOpt(
        'give_back_rate', default=0.025, min=0.0, max=1.0,
        help='Share of flavor memory per second of time given back to a '
             'ballooned guest while the host has memory to spare '
             '(``host_free_target`` plus ``host_free_hysteresis``).'),
    cfg.FloatOpt(
        'shrink_holdoff_s', default=30.0, min=0.0, max=86400.0,
        help='Seconds during which a guest that needed memory is not '
             'shrunk again, even if it looks idle: its usable memory rose '
             'only because it was just given some, and shrinking it back '
             'while it is still allocating would make its balloon flap.'),
    cfg.IntOpt(
        'shrink_holdoff', default=None, min=0, max=1000,
        deprecated_for_removal=True,
        deprecated_reason='Counted in cycles, so it lasted differently at '
                          'each agent interval; use ``shrink_holdoff_s``.',
        deprecated_since='2026.2',
        help='Cycles during which a guest that needed memory is not '
             'shrunk again. When set, it replaces ``shrink_holdoff_s`` '
             'with ``shrink_holdoff x [drs_agent] interval`` seconds.'),
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
