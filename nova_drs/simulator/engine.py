# SPDX-License-Identifier: Apache-2.0
"""The step loop: one strategy replayed over the whole workload.

Every step of ``interval_s`` seconds, in this order:

1. Every instance's demand is set from the trace: CPU, working set, disk
   and network (:mod:`.workload`).
2. Guest memory moves on and the production balloon policy runs on every
   host (:mod:`.guests`, :mod:`.ballooning`); its targets apply at once
   and change the memory the hosts back.
3. The production :class:`~nova_drs.detector.HotspotDetector`, built with
   ``from_conf``, is fed every host's load (an instance being migrated
   counts on both hosts).
4. Migrations planned at the end of earlier steps run (:mod:`.migrations`)
   and the step's metrics are taken (:mod:`.metrics`).
5. At the step's end, from what it observed, the strategy plans, if it is
   due (what it plans starts in the next step: a step's loads are its
   mean over the step, known only when it ends; planning from them at
   its start would act on data from the future): ``hotspot`` whenever
   the detector reports a hotspot; ``balance`` whenever the detector
   reports a hotspot and otherwise every ``balance_every`` steps; ``none``
   never. It is the production class, loaded by name from the
   ``nova_drs.balancer.strategies`` namespace, given a
   :class:`~nova_drs.model.cluster.ClusterModel` whose loads are the
   *smoothed* view: every instance's demand smoothed with the detector's
   EWMA weight (``[drs] ewma_alpha``). The EWMA is linear, so a host's
   load in that model is the detector's smoothed load for it as long as
   its instances did not change. An instance already migrating or queued
   is opted out; ``last_migrated_s`` is the time since its last
   migration completed, so ``[drs_balancer] instance_cooldown`` applies.
   The model also carries each instance's recent slices
   (``instances.recent_slices``): the smoothed loads of the last
   ``[drs_balancer] destination_peak_window`` seconds, as the live
   balancer's host view keeps them from what the agents publish
   (:func:`recent_slices`), so destinations are judged on their guests'
   recent peak as they are in production.
"""

import collections
import dataclasses
import math
import time

import numpy as np

from nova_drs.balancer import strategies
from nova_drs.balancer.view import peaks as peaks_mod
from nova_drs import detector as detector_mod
from nova_drs.model import cluster
from nova_drs.simulator import ballooning
from nova_drs.simulator import guests as guests_mod
from nova_drs.simulator import metrics
from nova_drs.simulator import migrations
from nova_drs.simulator import precopy

NONE = 'none'


@dataclasses.dataclass
class Options:
    """Simulator settings that are not in the configuration files."""

    balloon: bool = True
    free_page_reporting: bool = False
    #: page cache growth, share of flavor memory per hour
    page_cache_growth: float = 0.02
    #: live migrations running at once, cluster-wide
    max_migrations: int = 10
    #: live migrations running at once per host (as source or target)
    max_host_migrations: int = 1
    #: physical cores a running migration costs its source and its target
    migration_cpu_overhead: float = 0.5
    #: the balance strategy plans every this many steps
    balance_every: int = 1
    #: pre-copy, bandwidth, Nova's timeouts, failures (:mod:`.precopy`)
    migration: precopy.Config = dataclasses.field(
        default_factory=precopy.Config)


@dataclasses.dataclass
class RunResult:
    strategy: str
    metrics: dict
    history: dict


class Simulation:
    """The input shared by every strategy: hosts, workload, placement.

    :param workload: :class:`~.workload.Workload` of the placed instances.
    :param hosts: :class:`~nova_drs.model.cluster.Hosts`.
    :param placement: initial host index of every instance.
    :param layout: a :class:`~nova_drs.model.cluster.ClusterModel` of the
        same hosts and instances (a snapshot's) whose server groups,
        zones, aggregates and instance opt-outs the strategies see; None:
        none of them.

    Hosts may differ in size: every capacity is per host (the rows of
    :attr:`capacity`, the RAM guests can use, the balloon policy's host
    memory).
    """

    def __init__(self, workload, hosts, placement, conf, options=None,
                 layout=None):
        self.workload = workload
        self.hosts = hosts
        self.layout = layout
        self.placement = np.asarray(placement, dtype=np.int64)
        if (self.placement < 0).any():
            raise ValueError('every simulated instance must be placed')
        self.conf = conf
        self.options = options or Options()
        self.capacity = np.column_stack([
            hosts.vcpus.astype(float), hosts.memory_mb.astype(float),
            hosts.disk_capacity_mb_s.astype(float),
            hosts.net_capacity_mb_s.astype(float)])

    def run(self, name, progress=None):
        """Replay the workload with strategy ``name`` (or ``none``).

        ``name`` may carry a destination policy, ``hotspot:spread``: the
        run uses it instead of ``[drs_balancer] destination_policy``, so
        that one simulation compares packing and spreading.
        """
        started = time.perf_counter()
        _, _, policy = name.partition(':')
        if policy:
            self.conf.set_override('destination_policy', policy,
                                   'drs_balancer')
        try:
            result = _Run(self, name, progress).run()
        finally:
            if policy:
                self.conf.clear_override('destination_policy',
                                         'drs_balancer')
        result.metrics['wall_s'] = time.perf_counter() - started
        return result


class _Run:
    def __init__(self, sim, name, progress):
        self.sim = sim
        self.name = name
        self.progress = progress
        conf = sim.conf
        opts = sim.options
        w = sim.workload
        self.n = len(w)
        self.n_hosts = len(sim.hosts)
        self.host = sim.placement.copy()
        base = name.partition(':')[0]
        self.strategy = None if base == NONE else strategies.load(base, conf)
        self.detector = detector_mod.HotspotDetector.from_conf(conf)
        self.alpha = conf.drs.ewma_alpha
        self.guests = guests_mod.GuestMemory(
            w.memory_mb, opts.page_cache_growth, opts.free_page_reporting)
        self.driver = ballooning.BalloonDriver(
            conf, w.names, sim.hosts, opts.free_page_reporting,
            interval_s=w.interval_s) \
            if opts.balloon else None
        self.scheduler = migrations.Scheduler(
            opts.max_migrations, opts.max_host_migrations,
            conf.drs_balancer.migration_bandwidth_mb_s, opts.migration,
            w.memory_mb)
        # what a host's guests can use before it swaps
        self.ram = (sim.hosts.memory_mb
                    - sim.hosts.reserved_host_memory_mb).astype(float)
        self.acc = metrics.Accumulator(
            self.n, sim.capacity, cluster.thresholds_from_conf(conf),
            w.interval_s, w.steps, opts.migration_cpu_overhead,
            power_w=(conf.drs_balancer.host_power_idle_w,
                     conf.drs_balancer.host_power_full_w),
            ram_mb=self.ram)
        self.migrated_at = np.full(self.n, -math.inf)
        self.smoothed = None
        #: (time, smoothed demand) published in the last
        #: destination_peak_window seconds, oldest first
        self.published = collections.deque()
        self.recent_window_s = float(
            conf.drs_balancer.destination_peak_window)
        self.dirty = np.zeros(self.n)
        self.host_index = {h: i for i, h in enumerate(sim.hosts.names)}
        self.inst_index = {v: i for i, v in enumerate(w.names)}
        self.runs = 0
        self.decision_s = 0.0
        self.unresolved = 0
        self.balloon_changes = 0

    # -- helpers

    def _members(self):
        order = np.argsort(self.host, kind='stable')
        bounds = np.searchsorted(self.host[order],
                                 np.arange(self.n_hosts + 1))
        return [order[bounds[h]:bounds[h + 1]].tolist()
                for h in range(self.n_hosts)]

    def _model(self, now):
        """The cluster as the strategy sees it: smoothed, in-flight moved."""
        w = self.sim.workload
        host = self.host.copy()
        opt_out = np.zeros(self.n, dtype=bool)
        for m in self.scheduler.running:
            host[m.instance] = m.target
            opt_out[m.instance] = True
        for i, _src, _dst in self.scheduler.queue:
            opt_out[i] = True
        layout = self.sim.layout
        group = np.full(self.n, cluster.NO_GROUP, dtype=np.int64)
        if layout is not None:
            group = layout.instances.group
            opt_out |= layout.instances.opt_out
        s = self.smoothed
        vcpus = w.vcpus.astype(float)
        instances = cluster.Instances(
            names=w.names, host=host, vcpus=w.vcpus,
            memory_mb=w.memory_mb,
            cpu_util=np.clip(s[:, 0] / vcpus, 0.0, 1.0),
            mem_used_mb=np.minimum(s[:, 1], w.memory_mb),
            disk_mb_s=s[:, 2].copy(), net_mb_s=s[:, 3].copy(),
            dirty_rate_mb_s=self.dirty,
            group=group, opt_out=opt_out,
            last_migrated_s=np.maximum(now - self.migrated_at, 0.0),
            recent_slices=recent_slices(self.published, now,
                                        self.recent_window_s, w.vcpus,
                                        w.memory_mb))
        if layout is None:
            return cluster.ClusterModel(self.sim.hosts, instances)
        return cluster.ClusterModel(self.sim.hosts, instances, layout.groups,
                                    layout.zones, layout.aggregate_sets)

    def _publish(self, at):
        """What the agents publish at ``at``: the smoothed loads.

        Kept for the last ``destination_peak_window`` seconds only.
        """
        if self.recent_window_s <= 0:
            return
        self.published.append((at, self.smoothed))
        while self.published and \
                self.published[0][0] <= at - self.recent_window_s:
            self.published.popleft()

    def _due(self, t, hot_any):
        if self.strategy is None:
            return False
        if hot_any:
            return True
        return (self.name.partition(':')[0] == 'balance'
                and t % max(1, self.sim.options.balance_every) == 0)

    def _plan(self, now):
        plan = self.strategy.plan(self._model(now))
        self.runs += 1
        self.decision_s += plan.decision_s
        self.unresolved += len(plan.unresolved)
        self.scheduler.replace_queue(
            [(self.inst_index[m.instance], self.host_index[m.source],
              self.host_index[m.target]) for m in plan.migrations])

    # -- the loop

    def run(self):
        w = self.sim.workload
        T = w.interval_s
        names = self.sim.hosts.names
        for t in range(w.steps):
            now = t * T
            pressure = self.guests.observe(w.mem[:, t], T)
            self.dirty = w.dirty_rate(t)
            running = self.scheduler.running
            if self.driver is not None:
                migrating = np.zeros(self.n, dtype=bool)
                incoming = np.zeros(self.n_hosts)
                for m in running:
                    migrating[m.instance] = True
                    incoming[m.target] += self.guests.backed[m.instance]
                self.balloon_changes += self.driver.step(
                    self._members(), self.guests, migrating, incoming,
                    now_s=now)
            demand = np.column_stack([w.cpu[:, t], self.guests.backed,
                                      w.disk[:, t], w.net[:, t]])
            # what the hosts report: a migrating instance on both hosts
            host_demand = metrics.per_host(self.host, demand, self.n_hosts)
            for m in running:
                host_demand[m.target] += demand[m.instance]
            loads = np.divide(host_demand, self.sim.capacity,
                              out=np.zeros_like(host_demand),
                              where=self.sim.capacity > 0)
            hot = np.asarray(self.detector.update(names, loads))
            self.smoothed = demand.copy() if self.smoothed is None else (
                self.alpha * demand + (1.0 - self.alpha) * self.smoothed)
            self._publish(now + T)
            start_host = self.host.copy()
            windows = self.scheduler.advance(now, T, self.host,
                                             self.guests.backed, self.dirty)
            for win in windows:
                if win.moved:
                    self.migrated_at[win.instance] = now + win.end_s
                    if self.driver is not None:
                        self.driver.forget(win.source, win.instance)
            self.acc.add_step(
                t, start_host, demand, windows, pressure=int(pressure.sum()),
                reclaimed_mb=float(self.guests.host_reclaimed(
                    start_host, self.ram).sum()),
                detector_hot=int(hot.any(axis=1).sum()))
            # NOTE: causal: the step's loads are its mean, known at its
            # end; what is planned from them starts in the next step
            if self._due(t, bool(hot.any())):
                self._plan(now + T)
            if self.progress is not None:
                self.progress(1)
        result = self.acc.result()
        result.update({
            'strategy_runs': self.runs,
            'decision_s': self.decision_s,
            'unresolved_hotspots': self.unresolved,
            'migrations_dropped': self.scheduler.dropped,
            'balloon_changes': self.balloon_changes,
        })
        return RunResult(self.name, result, self.acc.history)


def recent_slices(published, now, window_s, vcpus, memory_mb):
    """The model's ``instances.recent_slices`` from published loads.

    As the balancer's short :class:`~nova_drs.balancer.view.peaks.
    PeakTracker` would hold them at ``now``: the window cut into
    :data:`~nova_drs.balancer.view.peaks.BUCKETS` slices aligned in time
    (slice ``k`` in row ``k`` modulo BUCKETS), each the maximum of the
    samples in it, NaN where none; in the model's units (CPU as a share
    of the vCPUs, 0-1; memory at most the flavor's).

    :param published: (time, (instances, 4) smoothed demand in cores,
        MiB, MB/s, MB/s), oldest first
    :returns: (instances, BUCKETS, 4) float32, or None when the window is
        off or nothing was published in it
    """
    if window_s <= 0:
        return None
    slice_s = window_s / peaks_mod.BUCKETS
    current = int(np.floor(now / slice_s))
    out = None
    for at, demand in published:
        number = int(np.floor(at / slice_s))
        if number <= current - peaks_mod.BUCKETS or number > current:
            continue
        if out is None:
            out = np.full((len(demand), peaks_mod.BUCKETS, 4), np.nan,
                          dtype=np.float32)
        values = np.column_stack([
            np.clip(demand[:, 0] / np.maximum(vcpus, 1), 0.0, 1.0),
            np.minimum(demand[:, 1], memory_mb), demand[:, 2],
            demand[:, 3]])
        row = out[:, number % peaks_mod.BUCKETS]
        out[:, number % peaks_mod.BUCKETS] = np.fmax(row, values)
    return out
