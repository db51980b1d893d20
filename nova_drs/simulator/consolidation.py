# SPDX-License-Identifier: Apache-2.0
"""The balancer's consolidation pass in simulated time.

The service runs a consolidation pass every ``[drs_balancer]
consolidation_interval`` seconds (0: never;
:meth:`~nova_drs.balancer.manager.BalancerManager.consolidation_cycle`),
the first one an interval after it starts, and plans nothing before its
peaks cover a whole ``consolidation_peak_window``. The engine drives the
same pass through :class:`Pass`:

* **Schedule.** A pass at every multiple of the interval of simulated
  time (the first one at one interval), at the end of the tick that
  reaches it, after that tick's agent and planning cycles.
* **The wait.** The simulated balancer starts watching at ``t = 0``: a
  pass before ``t = consolidation_peak_window`` plans nothing, as the
  service's (``waiting for the peak window``). A trace shorter than the
  window never consolidates: :meth:`Pass.metrics` says so
  (``consolidation_note``) rather than report nothing.
* **The peaks.** :class:`PeakRing` keeps what the agents published in
  the last window as the service's day-long
  :class:`~nova_drs.balancer.view.peaks.PeakTracker` keeps it: per
  instance, the largest smoothed load in each of
  :data:`~nova_drs.balancer.view.peaks.BUCKETS` slices aligned in time;
  the pass's model carries them (``instances.peak_slices`` and
  ``peak``), which is what the ``consolidate`` strategy packs by.
* **The plan** is the service's:
  :meth:`~nova_drs.balancer.planning.planner.Planner.
  decide_consolidation`, the code behind ``Planner.consolidate`` without
  the database, with the same skip rules (a hotspot open: the model
  carries the detector's hot flags, as the service's carries its
  agents'; a host in maintenance: none in a simulation), and the mode's:
  applied in ``full`` mode only, else counted as recommended.
* **Freed hosts** (``[drs_balancer] disable_freed_hosts``). As the
  service's ``handle_freed_hosts`` after every cycle: a host that a
  consolidation plan emptied, holding no guest and none on its way, is
  disabled (never a destination) once per plan that emptied it; when a
  hotspot's plan needs room, the planner enables one again
  (``CycleResult.enable_hosts``) and it takes guests. The simulation has
  no Nova scheduler (no server is booted), so disabling changes only the
  balancer's own destinations; and a disabled host counts as powered on
  for the planner (it is "reporting"), while the metrics count any host
  without a guest as off: powering a host back on takes no time here.
"""

import math

import numpy as np

from nova_drs.balancer.planning import consolidation as consolidation_mod
from nova_drs.balancer.view import peaks as peaks_mod

#: why a pass planned nothing, as :meth:`Pass.metrics` counts it: the
#: planner's ``skipped`` text up to the host names
WAITING = 'waiting for the peak window'
HOTSPOT_OPEN = 'hotspot open'
MAINTENANCE = 'host(s) in maintenance'
NOTHING = 'no host can be emptied'


def skip_kind(text):
    """The kind of a pass's ``CycleResult.skipped`` text."""
    for kind in (HOTSPOT_OPEN, MAINTENANCE, NOTHING):
        if text.startswith(kind):
            return kind
    return text


def settings(conf, options):
    """(interval s, peak window s, disable freed hosts) of a run.

    Each from :class:`~.engine.Options` when set there, else from
    ``[drs_balancer]``; interval 0: no pass.
    """
    opts = conf.drs_balancer
    interval = options.consolidation_interval_s
    window = options.consolidation_peak_window_s
    disable = options.disable_freed_hosts
    return (float(opts.consolidation_interval if interval is None
                  else interval),
            float(opts.consolidation_peak_window if window is None
                  else window),
            bool(opts.disable_freed_hosts if disable is None else disable))


class PeakRing:
    """Every instance's peak load per slice of the window, in one ring.

    As the balancer's :class:`~nova_drs.balancer.view.peaks.PeakTracker`
    with :data:`~nova_drs.balancer.view.peaks.MAX` slices, for all
    instances at once: the agents publish every instance in the same
    cycle, so one slice number per slot serves every instance.

    :param n: instances
    :param window_s: the peak window, seconds
    """

    def __init__(self, n, window_s):
        self.slice_s = float(window_s) / peaks_mod.BUCKETS
        self.slots = np.full(peaks_mod.BUCKETS, -1, dtype=np.int64)
        #: (instances, BUCKETS, 4) the largest published load per slot,
        #: in the agents' units (cores, MiB, MB/s, MB/s)
        self.values = np.zeros((n, peaks_mod.BUCKETS, 4))

    def record(self, now, demand):
        """The agents' smoothed loads ``demand`` published at ``now``."""
        number = int(math.floor(now / self.slice_s))
        pos = number % peaks_mod.BUCKETS
        if self.slots[pos] != number:
            # the slot held a slice that left the window: start afresh
            self.slots[pos] = number
            self.values[:, pos] = demand
        else:
            np.maximum(self.values[:, pos], demand,
                       out=self.values[:, pos])

    def apply(self, instances, now):
        """Set ``instances.peak_slices`` and ``peak`` as the host view.

        In the model's units, clamped as the host view clamps them (CPU
        a share of the vCPUs, 0-1; memory at most the flavor's).
        """
        n = len(instances)
        slots = np.broadcast_to(self.slots, (n, peaks_mod.BUCKETS))
        out = peaks_mod.read_slices(slots, self.values, None, now,
                                    self.slice_s).astype(float)
        vcpus = np.maximum(instances.vcpus, 1).astype(float)
        out[:, :, 0] = np.clip(out[:, :, 0] / vcpus[:, None], 0.0, 1.0)
        out[:, :, 1] = np.minimum(np.maximum(out[:, :, 1], 0.0),
                                  instances.memory_mb[:, None])
        out[:, :, 2:] = np.maximum(out[:, :, 2:], 0.0)
        instances.peak_slices = out
        with np.errstate(all='ignore'):
            # a slice never published stays NaN (no peak known)
            instances.peak = np.fmax.reduce(out, axis=1)


class Pass:
    """The consolidation pass of one simulated run.

    :param interval_s: seconds between two passes (> 0)
    :param window_s: ``consolidation_peak_window``, seconds
    :param disable: ``disable_freed_hosts``
    :param n: instances
    :param host_names: the hosts' names, in order
    """

    def __init__(self, interval_s, window_s, disable, n, host_names,
                 duration_s):
        self.interval_s = float(interval_s)
        self.window_s = float(window_s)
        self.disable = bool(disable)
        self.duration_s = float(duration_s)
        self.peaks = PeakRing(n, window_s)
        self.host_names = list(host_names)
        self.host_index = {h: i for i, h in enumerate(self.host_names)}
        #: hosts nova-drs disabled after a consolidation plan emptied them
        self.disabled = np.zeros(len(self.host_names), dtype=bool)
        # host -> number of the newest applied plan emptying it, and the
        # plan it was disabled for (once per plan, as the service)
        self._source = {}
        self._disabled_for = {}
        self._plans = 0
        self.last = 0
        # (destination, plan number) -> when filled, of consolidation
        # moves, for hotspots_created
        self._filled = {}
        self.stats = {
            'consolidation_passes': 0,
            'consolidation_plans': 0,
            'consolidation_migrations': 0,
            'consolidation_recommended': 0,
            'consolidation_hosts_emptied': 0,
            'consolidation_skipped': {},
            'consolidation_hotspots_created': 0,
            'hosts_disabled': 0,
            'hosts_enabled_again': 0,
            #: simulated time of the first plan applied (None: none)
            'consolidation_first_plan_s': None,
        }

    def due(self, now):
        """Is a pass due at ``now``? (Each multiple of the interval once.)"""
        turn = int(math.floor(now / self.interval_s + 1e-9))
        if turn <= self.last:
            return False
        self.last = turn
        return True

    def waiting(self, now):
        """Do the peaks not cover a whole window yet at ``now``?"""
        return now + 1e-6 < self.window_s

    def ran(self):
        """A pass ran (past the wait for the window)."""
        self.stats['consolidation_passes'] += 1

    def may_disable(self):
        """Could :meth:`handle_freed` disable a host? (Spares its input.)"""
        return self.disable and bool(self._source)

    def skipped(self, kind):
        counts = self.stats['consolidation_skipped']
        counts[kind] = counts.get(kind, 0) + 1

    def disabled_reasons(self):
        """host -> disabled reason, as Nova's view gives the planner."""
        return {self.host_names[h]: consolidation_mod.DISABLED_REASON
                for h in np.flatnonzero(self.disabled)}

    def planned(self, plan, applied, now):
        """A pass planned ``plan`` (applied or only recommended)."""
        if not applied:
            self.stats['consolidation_recommended'] += len(plan.migrations)
            return
        self._plans += 1
        if self.stats['consolidation_first_plan_s'] is None:
            self.stats['consolidation_first_plan_s'] = now
        self.stats['consolidation_plans'] += 1
        self.stats['consolidation_migrations'] += len(plan.migrations)
        self.stats['consolidation_hosts_emptied'] += len(plan.freed)
        for m in plan.migrations:
            self._source[m.source] = self._plans
            self._filled[self.host_index[m.target], self._plans] = now

    def enable(self, hosts):
        """The planner enabled ``hosts`` again for a hotspot."""
        for name in hosts:
            h = self.host_index[name]
            if self.disabled[h]:
                self.disabled[h] = False
                self.stats['hosts_enabled_again'] += 1

    def handle_freed(self, host, n_hosts, in_flight_targets):
        """Disable the empty hosts a consolidation plan emptied.

        :param host: every instance's host index now
        :param in_flight_targets: host indices migrations are going to
        """
        if not self.may_disable():
            return
        busy = np.bincount(host, minlength=n_hosts) > 0
        busy[list(in_flight_targets)] = True
        for name, plan in self._source.items():
            h = self.host_index[name]
            if busy[h] or self.disabled[h]:
                continue
            if self._disabled_for.get(name) == plan:
                # disabled once for this plan already, then enabled
                continue
            self.disabled[h] = True
            self._disabled_for[name] = plan
            self.stats['hosts_disabled'] += 1

    def hot(self, hot_host, now):
        """The detector's hot hosts at ``now``: hotspots created?

        A destination of a consolidation move that turns hot within the
        peak window after the plan was applied (its moves start then or
        later, as the executor admits them): consolidation packed it by the
        window's peaks, so a load that was seen should not make it hot.
        A destination counts once per plan that filled it.
        """
        if not self._filled:
            return
        for key, at in list(self._filled.items()):
            if hot_host[key[0]]:
                self.stats['consolidation_hotspots_created'] += 1
                del self._filled[key]
            elif now - at > self.window_s:
                del self._filled[key]

    def metrics(self):
        """The run's consolidation figures, and a note when none ran."""
        out = dict(self.stats)
        out['consolidation_skipped'] = dict(sorted(
            out['consolidation_skipped'].items()))
        out.update({
            'consolidation_interval_s': self.interval_s,
            'consolidation_peak_window_s': self.window_s,
            'disable_freed_hosts': self.disable,
        })
        first = self.interval_s * max(
            1, math.ceil(self.window_s / self.interval_s - 1e-9))
        if self.duration_s + 1e-6 < self.window_s:
            out['consolidation_note'] = (
                'consolidation never ran: its peak window (%g s, '
                '[drs_balancer] consolidation_peak_window) is longer than '
                'the trace (%g s), and the balancer waits until the '
                'guests\' peaks cover a whole window'
                % (self.window_s, self.duration_s))
        elif self.duration_s + 1e-6 < first:
            out['consolidation_note'] = (
                'consolidation never ran: the trace (%g s) ends before '
                'the first pass once the peak window is covered (%g s; '
                'a pass every %g s)'
                % (self.duration_s, first, self.interval_s))
        return out
