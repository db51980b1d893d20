# SPDX-License-Identifier: Apache-2.0
"""The simulation clock: agents, detector, planner and migrations in time.

Time is simulated seconds from the start of the trace. Several clocks run
on it, all in simulated time:

* **The trace.** Sample ``k`` of a trace is the mean load of the
  ``[k T, (k + 1) T)`` seconds of its interval ``T`` (:mod:`.traces`).
  The load the guests put on their hosts (the *truth*) is rebuilt from
  the samples by linear interpolation anchored at the *ends* of their
  intervals: at ``t = (k + 1) T`` it is sample ``k``, between two ends it
  moves in a straight line to the next sample, before the first end it is
  the first sample. The truth at ``t`` so reads only samples whose
  interval has begun by ``t``: nothing is read early. (It lags the trace
  by half a sample and smooths it slightly.) ``Options.interpolate``
  False holds each sample for its own interval instead (hand-made traces
  in tests).
* **The measurement grid.** SLA and hotspot metrics integrate the truth on
  one fine grid, ticks of :data:`MEASURE_S` (10 s) whatever the agent
  interval (the trace interval divided into equal ticks of at most that,
  or of at most the agent interval when it is shorter), so runs at 300,
  60 and 10 s agent intervals measure the same thing; within a tick the
  load is the tick's mean (exact for the linear truth) and migrations are
  integrated exactly (:mod:`.metrics`). The history the report plots is
  kept per trace sample (the mean of its ticks).
* **The agents** (``Options.agent_interval_s``, by default the trace's
  interval; the production agent's ``[drs_agent] interval`` is 10 s) run
  a cycle at the end of each interval, on what they measured during it:
  every host's mean load (a migrating guest counts on both hosts, the
  migration's CPU on both) goes to the production
  :class:`~nova_drs.detector.HotspotDetector` (``from_conf``; its rules
  are in seconds and it is told the seconds the sample covers), every
  guest's mean load to the same EWMA (the per-instance view the planner
  gets, :class:`AgentView`), and the production balloon policy runs on
  every host (:mod:`.ballooning`); its targets apply from the next tick.
* **The balancer** plans every ``Options.planning_interval_s`` (default
  ``[drs_balancer] planning_interval``, 60 s) of simulated time, and at
  once, at the end of an agent cycle, when a host became hot (as a
  hotspot notification starts a cycle in the service): ``hotspot`` when
  the detector holds a host hot; ``balance`` then and every
  ``balance_every`` planning cycles; ``none`` never. A periodic cycle
  whose input did not change since the last plan (no agent cycle, no
  instance cool-down over) is skipped: it would make the same plan (a
  migration that ended shows in the agents' next cycle). Each cycle goes
  through the service's
  :class:`~nova_drs.balancer.planning.planner.Planner`
  (:meth:`~nova_drs.balancer.planning.planner.Planner.decide`: everything
  but the database writes) with the strategy, the production class loaded
  by name from the ``nova_drs.balancer.strategies`` namespace, as one
  replica owning every host: the working model pins the actions pending
  or running (counted on their targets), leaves out the pairs whose
  migration failed (``[drs_actuator] bad_pair_duration``), and the mode
  (``Options.mode``, as an operator's mode set through the API; default
  ``[drs_balancer] mode``) decides what is applied: ``full`` the whole
  plan, ``partial`` only the moves off hosts whose agents' smoothed load
  is above ``[drs_balancer] severe_cpu_threshold`` /
  ``severe_memory_threshold`` (with the moves making room for them),
  ``manual`` nothing; the rest is counted as recommended, never applied
  (no operator applies it). In ``partial`` mode a cycle in which no host
  is above a severe threshold would apply nothing whatever the strategy
  plans: it is not planned (``cycles_without_severe``), which spares the
  strategy's cost. The model is what the agents published: every
  instance's smoothed load; ``last_migrated_s`` is the time since its
  last migration completed, so ``[drs_balancer] instance_cooldown``
  applies in simulated seconds. The model also carries each instance's
  recent slices
  (``instances.recent_slices``): what the agents published in the last
  ``[drs_balancer] destination_peak_window`` seconds, as the live
  balancer's host view keeps them (:func:`recent_slices`), so
  destinations are judged on their guests' recent peak as in production.
* **The consolidation pass** (``Options.consolidation_interval_s``,
  default ``[drs_balancer] consolidation_interval``; off by default) runs
  as the service's runs it, beside the strategy (never with ``none``):
  :mod:`.consolidation`.
* **Migrations** of applied plans start at the decision at the earliest
  (the next tick) by the executor's rules (plan order, make-room chains,
  ``[drs_actuator] max_concurrent_migrations`` and
  ``max_concurrent_migrations_per_host``, out-of-date plans cancelled,
  the rest of a plan cancelled after a failure:
  :mod:`nova_drs.balancer.execution.admission`), and take what the
  pre-copy model gives in place of Nova (:mod:`.migrations`,
  :mod:`.precopy`), carrying on over ticks.

Nothing acts on data from its own future: an agent publishes a load at
the end of the interval it measured, the detector and the planner see it
then, and what they decide starts after.
"""

import collections
import dataclasses
import math
import time

import numpy as np

from nova_drs.balancer.planning import planner as planner_mod
from nova_drs.balancer import strategies
from nova_drs.balancer.view import peaks as peaks_mod
from nova_drs.db import models
from nova_drs import detector as detector_mod
from nova_drs.model import cluster
from nova_drs.simulator import ballooning
from nova_drs.simulator import consolidation
from nova_drs.simulator import guests as guests_mod
from nova_drs.simulator import maintenance as maintenance_mod
from nova_drs.simulator import memory
from nova_drs.simulator import metrics
from nova_drs.simulator import migrations
from nova_drs.simulator import precopy

NONE = 'none'

#: the simulated balancer's replica id (it owns every host)
REPLICA = 'simulator'


class InFlight(collections.namedtuple('InFlight',
                                      'instance_uuid target')):
    """An action pending or running, as the planner is told of it."""


#: the balancer's modes (``[drs_balancer] mode``)
MODES = (planner_mod.MANUAL, planner_mod.PARTIAL, planner_mod.FULL)
#: every plan applied (the simulator's only mode before issue 17)
FULL = planner_mod.FULL


def mode_of(conf, options):
    """The mode a simulation plans in."""
    return options.mode or conf.drs_balancer.mode


def check_conf(conf):
    """Options the service refuses at start, refused here too.

    :raises ValueError: with the options named
    """
    planner_mod.check_conf(conf)


@dataclasses.dataclass
class Options:
    """Simulator settings that are not in the configuration files."""

    balloon: bool = True
    free_page_reporting: bool = False
    #: page cache growth, share of flavor memory per hour
    page_cache_growth: float = 0.02
    #: live migrations running at once, cluster-wide (None:
    #: [drs_actuator] max_concurrent_migrations)
    max_migrations: int = None
    #: live migrations running at once per host, as source or target
    #: (None: [drs_actuator] max_concurrent_migrations_per_host)
    max_host_migrations: int = None
    #: the balancer's mode, as an operator sets it through the API (None:
    #: [drs_balancer] mode)
    mode: str = None
    #: physical cores a running migration costs its source and its target
    migration_cpu_overhead: float = 0.5
    #: the balance strategy plans every this many planning cycles
    balance_every: int = 1
    #: seconds between two agent cycles (None: the trace's interval)
    agent_interval_s: float = None
    #: seconds between two periodic planning cycles (None: [drs_balancer]
    #: planning_interval)
    planning_interval_s: float = None
    #: seconds between two consolidation passes, 0 none (None:
    #: [drs_balancer] consolidation_interval; :mod:`.consolidation`)
    consolidation_interval_s: float = None
    #: the consolidation peak window, seconds (None: [drs_balancer]
    #: consolidation_peak_window)
    consolidation_peak_window_s: float = None
    #: disable the hosts consolidation emptied (None: [drs_balancer]
    #: disable_freed_hosts)
    disable_freed_hosts: bool = None
    #: maintenance windows (:class:`.maintenance.Window`), hosts the
    #: balancer evacuates as an operator's disabled service asks
    maintenance: list = dataclasses.field(default_factory=list)
    #: linear interpolation between the ends of the trace's sample
    #: intervals (False: each sample held for its own interval)
    interpolate: bool = True
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


#: the measurement grid, seconds: ticks of at most this
MEASURE_S = 10.0
#: a relieved or filled host hot again within this many seconds after
#: its migration is a re-trigger (a PlanetLab sample, as before the grid)
RETRIGGER_S = 300.0
#: float slack when comparing simulated times
_EPS = 1e-6


def tick_seconds(trace_interval_s, agent_interval_s):
    """The measurement grid's tick, seconds.

    The trace interval in equal parts of at most :data:`MEASURE_S` (or
    of the agent interval when that is shorter).
    """
    longest = min(MEASURE_S, agent_interval_s)
    return trace_interval_s / math.ceil(trace_interval_s / longest - _EPS)


class Truth:
    """What the guests demand at any time, rebuilt from the trace.

    :param workload: :class:`~.workload.Workload`, samples every
        ``interval_s``.
    :param interpolate: linear between the ends of the sample intervals
        (see the module docstring); False: each sample held for its own
        interval.
    """

    def __init__(self, workload, interpolate=True):
        self.interval_s = float(workload.interval_s)
        self.steps = workload.steps
        self.interpolate = bool(interpolate)
        # (samples, instances, 4): one sample of every instance is one
        # contiguous block
        self.series = np.ascontiguousarray(np.stack(
            [workload.cpu, workload.mem, workload.disk, workload.net],
            axis=2).transpose(1, 0, 2))

    def mean(self, t0, t1):
        """(instances, 4) mean demand over ``[t0, t1)``.

        Exact for a span within one piece of the truth (the tick grid
        divides the trace interval): the value at its middle.
        """
        mid = 0.5 * (t0 + t1) / self.interval_s
        last = self.steps - 1
        if not self.interpolate:
            return self.series[min(int(mid), last)]
        # sample k is anchored at (k + 1) T
        pos = mid - 1.0
        if pos <= 0.0:
            return self.series[0]
        j = int(pos)
        if j >= last:
            return self.series[last]
        frac = pos - j
        return (1.0 - frac) * self.series[j] + frac * self.series[j + 1]


class AgentView:
    """What the agents published: per instance, the smoothed loads.

    Every agent cycle adds each instance's mean demand over the cycle,
    smoothed with the detector's EWMA (its weight for the seconds the
    cycle covered). The strategies' model is built from it; kept apart
    from the loop so that more of what agents publish (a recent peak per
    time slice, ``ClusterModel`` ``instances.peak``/``peak_slices``) can
    be kept here and given to the model.
    """

    def __init__(self, detector, keep_s=0.0):
        self.detector = detector
        #: (instances, 4) smoothed demand; None before the first cycle
        self.smoothed = None
        #: simulated time of the latest cycle
        self.time = None
        #: seconds of published cycles kept in :attr:`recent`
        self.keep_s = float(keep_s)
        #: (start, end time, (instances, 4) smoothed demand) of the
        #: cycles that ended within the last ``keep_s`` seconds, oldest
        #: first: what the recent mean per time slice is computed from
        self.recent = collections.deque()

    def publish(self, now, mean, dt):
        """The agents' cycle ending at ``now``: ``mean`` over ``dt`` s."""
        w = self.detector.weight(dt)
        self.smoothed = mean.copy() if self.smoothed is None else (
            w * mean + (1.0 - w) * self.smoothed)
        self.time = now
        if self.keep_s > 0.0:
            # the agents publish smoothed loads; the balancer's short peak
            # tracker keeps those (destination_peak_window)
            self.recent.append((now - dt, now, self.smoothed))
            while self.recent and self.recent[0][1] <= now - self.keep_s:
                self.recent.popleft()


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
        self.balance = base == 'balance'
        self.mode = mode_of(conf, opts)
        # the service's planner, as one replica owning every host, with
        # no database: decide() stores nothing
        self.planner = None if base == NONE else planner_mod.Planner(
            conf, None, REPLICA, strategy=strategies.load(base, conf))
        self.owned = frozenset(sim.hosts.names)
        self.detector = detector_mod.HotspotDetector.from_conf(conf)
        self.view = AgentView(
            self.detector,
            keep_s=float(conf.drs_balancer.destination_peak_window))
        self.truth = Truth(w, opts.interpolate)
        T = float(w.interval_s)
        self.agent_s = float(opts.agent_interval_s or T)
        self.plan_s = float(opts.planning_interval_s
                            or conf.drs_balancer.planning_interval)
        self.tick_s = tick_seconds(T, self.agent_s)
        self.per_row = int(round(T / self.tick_s))
        self.ticks = w.steps * self.per_row
        self.cooldown = float(conf.drs_balancer.instance_cooldown)
        self.guests = guests_mod.GuestMemory(
            w.memory_mb, opts.page_cache_growth, opts.free_page_reporting)
        self.driver = ballooning.BalloonDriver(
            conf, w.names, sim.hosts, opts.free_page_reporting,
            interval_s=self.agent_s) \
            if opts.balloon else None
        actuator = conf.drs_actuator
        self.scheduler = migrations.Scheduler(
            opts.max_migrations or actuator.max_concurrent_migrations,
            (opts.max_host_migrations
             or actuator.max_concurrent_migrations_per_host),
            conf.drs_balancer.migration_bandwidth_mb_s, opts.migration,
            w.memory_mb, bad_pair_s=actuator.bad_pair_duration)
        # what a host's guests can use before it swaps
        self.ram = (sim.hosts.memory_mb
                    - sim.hosts.reserved_host_memory_mb).astype(float)
        self.acc = metrics.Accumulator(
            self.n, sim.capacity, cluster.thresholds_from_conf(conf),
            self.tick_s, self.ticks, opts.migration_cpu_overhead,
            power_w=(conf.drs_balancer.host_power_idle_w,
                     conf.drs_balancer.host_power_full_w),
            ram_mb=self.ram, per_row=self.per_row, retrigger_s=RETRIGGER_S)
        self.migrated_at = np.full(self.n, -math.inf)
        self.dirty = np.zeros(self.n)
        self.host_index = {h: i for i, h in enumerate(sim.hosts.names)}
        self.inst_index = {v: i for i, v in enumerate(w.names)}
        self.runs = 0
        self.planning_cycles = 0
        self.decision_s = 0.0
        self.unresolved = 0
        self.recommended = 0
        self.unplanned = 0
        self.conf = conf
        self.plans_applied = 0
        self.balloon_changes = 0
        self.agent_cycles = 0
        # what changed since the last plan (see _changed)
        self.last_plan_s = None
        self.plan_cycle = -1
        #: the detector's hot flags, (hosts, 4), as of the latest cycle
        self.hot_flags = np.zeros((self.n_hosts, 4), dtype=bool)
        interval, window, disable = consolidation.settings(conf, opts)
        # the consolidation pass runs beside the balancer's strategy
        # (none balances nothing: no pass either)
        self.consol = None if self.planner is None or interval <= 0 else \
            consolidation.Pass(interval, window, disable, self.n,
                               sim.hosts.names, w.steps * T)
        # fresh windows per run: each records what its run did
        self.maint = None if not opts.maintenance or self.planner is None \
            else \
            maintenance_mod.Maintenance(
                [dataclasses.replace(m, left={}) for m in opts.maintenance],
                sim.hosts.names,
                conf.drs_balancer.maintenance_reason_prefix)
        #: migrations left to Nova's scheduler that found no host
        self.no_valid_host = 0

    # -- helpers

    def _members(self):
        order = np.argsort(self.host, kind='stable')
        bounds = np.searchsorted(self.host[order],
                                 np.arange(self.n_hosts + 1))
        return [order[bounds[h]:bounds[h + 1]].tolist()
                for h in range(self.n_hosts)]

    def _model(self, now, hot=None):
        """The cluster as the agents published it.

        What is in flight is pinned and counted on its target by the
        planner (``working_model``), as in the service. ``hot``: the
        hosts' hot flags to carry (None: none, the strategies judge hosts
        by their load).
        """
        w = self.sim.workload
        host = self.host.copy()
        opt_out = np.zeros(self.n, dtype=bool)
        layout = self.sim.layout
        group = np.full(self.n, cluster.NO_GROUP, dtype=np.int64)
        if layout is not None:
            group = layout.instances.group
            opt_out |= layout.instances.opt_out
        s = self.view.smoothed
        vcpus = w.vcpus.astype(float)
        hosts = self.sim.hosts
        if self.consol is not None and self.consol.disabled.any():
            # hosts nova-drs disabled after consolidation emptied them
            hosts = dataclasses.replace(
                hosts, disabled=hosts.disabled | self.consol.disabled)
        if self.maint is not None and self.maint.hosts(now):
            hosts = dataclasses.replace(
                hosts, disabled=hosts.disabled
                | self.maint.disabled(now, self.n_hosts))
        if hot is not None:
            hosts = dataclasses.replace(hosts, hot=hot)
        instances = cluster.Instances(
            names=w.names, host=host, vcpus=w.vcpus,
            memory_mb=w.memory_mb,
            cpu_util=np.clip(s[:, 0] / vcpus, 0.0, 1.0),
            mem_used_mb=np.minimum(s[:, 1], w.memory_mb),
            disk_mb_s=s[:, 2].copy(), net_mb_s=s[:, 3].copy(),
            dirty_rate_mb_s=memory.dirty_rate(s[:, 0]),
            group=group, opt_out=opt_out,
            last_migrated_s=np.maximum(now - self.migrated_at, 0.0),
            recent_slices=recent_slices(self.view.recent, now,
                                        self.view.keep_s, w.vcpus,
                                        w.memory_mb),
            # the time order of those rows (the hot hosts' trend), as
            # the live host view gives it
            recent_newest=(peaks_mod.newest_row(
                now, self.view.keep_s / peaks_mod.BUCKETS)
                if self.view.keep_s > 0 else None))
        if layout is None:
            return cluster.ClusterModel(hosts, instances)
        return cluster.ClusterModel(hosts, instances, layout.groups,
                                    layout.zones, layout.aggregate_sets)

    def _changed(self, now):
        """Has the planner's input changed since its last plan?"""
        if self.last_plan_s is None:
            return True
        if self.view.time is not None and self.view.time > self.last_plan_s:
            return True
        # an instance whose cool-down ended may now be moved
        free_at = self.migrated_at + self.cooldown
        return bool(((free_at > self.last_plan_s)
                     & (free_at <= now + _EPS)).any())

    def _loads(self):
        """The agents' smoothed loads, as the severe check reads them."""
        hosts = self.sim.hosts.names
        rows = np.asarray(self.detector.smoothed(hosts), dtype=float)
        return {name: dict(zip(cluster.RESOURCES, row))
                for name, row in zip(hosts, rows.tolist())}

    def _cycle_input(self, now, loads, hot=None):
        """What the service's planner is given at ``now``."""
        names = self.sim.workload.names
        hosts = self.sim.hosts.names
        in_flight = [InFlight(names[a.instance_uuid], hosts[a.target])
                     for a in self.scheduler.in_flight()]
        bad = {(names[i], hosts[h]): until for (i, h), until
               in self.scheduler.bad_pairs(now).items()}
        disabled = ({} if self.consol is None
                    else self.consol.disabled_reasons())
        evacuating = None
        if self.maint is not None:
            disabled.update(self.maint.reasons(now))
            evacuating = frozenset(hosts[h] for h in self._evacuating())
        return planner_mod.CycleInput(
            model=self._model(now, hot), owned=self.owned,
            in_flight=in_flight,
            bad_pairs=bad, loads=loads, mode=self.mode,
            disabled_reasons=disabled, evacuating=evacuating)

    def _evacuating(self):
        """Hosts with a migration off them pending or running.

        Only hosts in maintenance are looked up in it (the planner's
        evacuations, ``pending``), for which that is their evacuation
        under way.
        """
        if self.maint is None:
            return set()
        # NOTE: the service reads its evacuation plans; here a plan's
        # pending or running moves off a host in maintenance are its
        # evacuation (nothing else moves off it: it is a source only of
        # its evacuation, and a destination of nothing)
        return {int(self.host[a.instance_uuid])
                for a in self.scheduler.in_flight()}

    def _plan(self, now, origin):
        loads = self._loads()
        self.last_plan_s = now
        if (self.mode == planner_mod.PARTIAL
                and not planner_mod.severe_hosts(loads, self.conf)
                and not self._evacuation_due(now)):
            # NOTE: with no host above a severe threshold the planner's
            # applied part is empty (split_mandatory) but for the
            # evacuations of hosts in maintenance, whatever the strategy
            # plans: the cycle is not planned. Exact for what moves, and
            # it spares the strategy's cost: balance, never applied,
            # plans ~100 moves a cycle on 200 hosts (1 s each)
            self.unplanned += 1
            return
        result, decisions = self.planner.decide(
            self._cycle_input(now, loads), origin)
        self.runs += 1
        if self.maint is not None:
            self.maint.left_behind(result.left_behind)
        if result.plan is not None:
            self.decision_s += result.plan.decision_s
        self.unresolved += len(result.unresolved)
        if self.consol is not None:
            # the service enables the host before the moves start
            self.consol.enable(result.enable_hosts)
        for decision in decisions:
            moves = decision.plan.migrations
            if not decision.apply:
                # stored as a recommendation: no operator applies it
                self.recommended += len(moves)
                continue
            self.plans_applied += 1
            self._apply(moves, now)
        self._handle_freed()

    def _evacuation_due(self, now):
        """Whether a host in maintenance needs its evacuation planned.

        It holds guests and no evacuation of it is under way.
        """
        return self.maint is not None and self.maint.pending(
            now, self.host, self._evacuating())

    def _apply(self, moves, now):
        applied = []
        for m in moves:
            i, src = self.inst_index[m.instance], self.host_index[m.source]
            if m.target is None:
                # an evacuation's move without a target: Nova's
                # scheduler picks the host
                dest = self._nova_choice(i, src, now)
                if dest is None:
                    self.no_valid_host += 1
                    continue
            else:
                dest = self.host_index[m.target]
            applied.append((i, src, dest))
        self.scheduler.apply(applied)

    def _nova_choice(self, i, src, now):
        incoming = [[] for _ in range(self.n_hosts)]
        for a in self.scheduler.in_flight():
            incoming[a.target].append(a.instance_uuid)
        # disabled there: by the snapshot, for maintenance, by
        # consolidation; Nova's scheduler skips them all
        model = self._model(now)
        return maintenance_mod.nova_choice(model, i, src, incoming,
                                           model.hosts.disabled)

    def _handle_freed(self):
        """The service's handle_freed_hosts after each of its cycles."""
        if self.consol is not None and self.consol.may_disable():
            self.consol.handle_freed(
                self.host, self.n_hosts,
                {a.target for a in self.scheduler.in_flight()})

    def _consolidate(self, now):
        """The consolidation pass at ``now``, when one is due."""
        if not self.consol.due(now) or self.view.smoothed is None:
            return
        if self.consol.waiting(now):
            # the service's consolidation_cycle: no plan before the
            # peaks cover a whole window of its watch
            self.consol.skipped(consolidation.WAITING)
            return
        self.consol.ran()
        # what the service's model carries and a planning cycle's here
        # need not: the agents' hot flags (what "a hotspot open" reads),
        # the peaks of the window
        cycle = self._cycle_input(now, self._loads(),
                                  hot=self.hot_flags.copy())
        self.consol.peaks.apply(cycle.model.instances, now)
        result, decisions = self.planner.decide_consolidation(cycle)
        if result.plan is not None:
            self.decision_s += result.plan.decision_s
        if result.skipped:
            self.consol.skipped(consolidation.skip_kind(result.skipped))
        for decision in decisions:
            self.consol.planned(decision.plan, decision.apply, now)
            if decision.apply:
                self._apply(decision.plan.migrations, now)
        self._handle_freed()

    def _agent_cycle(self, now, dt, host_sum, inst_sum, hot_before):
        """The agents' cycle at ``now`` on the ``dt`` seconds before it."""
        self.agent_cycles += 1
        cap = self.sim.capacity
        loads = np.divide(host_sum / dt, cap, out=np.zeros_like(host_sum),
                          where=cap > 0)
        hot = np.asarray(self.detector.update(self.sim.hosts.names, loads,
                                              dt=dt), dtype=bool)
        self.view.publish(now, inst_sum / dt, dt)
        if self.driver is not None:
            migrating = np.zeros(self.n, dtype=bool)
            incoming = [[] for _ in range(self.n_hosts)]
            for m in self.scheduler.running:
                migrating[m.instance] = True
                incoming[m.target].append(m.instance)
            self.balloon_changes += self.driver.step(
                self._members(), self.guests, migrating, incoming,
                now_s=now)
        hot_host = hot.any(axis=1)
        self.hot_flags = hot
        if self.consol is not None:
            self.consol.peaks.record(now, self.view.smoothed)
            self.consol.hot(hot_host, now)
        return hot_host, bool((hot_host & ~hot_before).any())

    def _planning(self, now, new_hotspot, hot_any):
        """The balancer at ``now``: a periodic cycle and/or an event."""
        cycle = int(math.floor(now / self.plan_s + _EPS))
        periodic = cycle > self.plan_cycle
        if periodic:
            self.plan_cycle = cycle
            self.planning_cycles += 1
            # the service handles freed hosts after every cycle, planned
            # or not (the skipped ones here would plan the same)
            self._handle_freed()
        if self.planner is None or self.view.smoothed is None:
            # nothing published yet: nothing to plan on
            return
        if new_hotspot:
            # a hotspot notification starts a cycle at once
            self._plan(now, models.ORIGIN_HOTSPOT)
            return
        if not periodic:
            return
        if self._evacuation_due(now):
            # a host went into maintenance: its owner's next cycle plans
            # the evacuation, whatever else changed
            self._plan(now, models.ORIGIN_PERIODIC)
            return
        if not self._changed(now):
            return
        if hot_any or (self.balance and self.planning_cycles
                       % max(1, self.sim.options.balance_every) == 0):
            self._plan(now, models.ORIGIN_PERIODIC)

    # -- the loop

    def run(self):
        G = self.tick_s
        truth = self.truth
        n_hosts = self.n_hosts
        host_sum = np.zeros((n_hosts, 4))
        inst_sum = np.zeros((self.n, 4))
        since = 0.0
        next_agent = self.agent_s
        hot_host = np.zeros(n_hosts, dtype=bool)
        per_row = self.per_row
        self.plan_cycle = 0
        for k in range(self.ticks):
            t0, t1 = k * G, (k + 1) * G
            x = truth.mean(t0, t1)
            pressure = self.guests.observe(x[:, 1], G)
            self.dirty = memory.dirty_rate(x[:, 0])
            start_host = self.host.copy()
            windows = self.scheduler.advance(t0, G, self.host,
                                             self.guests.backed, self.dirty)
            for win in windows:
                if win.moved:
                    self.migrated_at[win.instance] = t0 + win.end_s
                    if self.driver is not None:
                        self.driver.forget(win.source, win.instance)
            demand = x.copy()
            demand[:, 1] = self.guests.backed
            # without balloons nothing is reclaimed: no need to count it
            reclaimed = 0.0 if self.driver is None else float(
                self.guests.host_reclaimed(start_host, self.ram).sum())
            host_mean = self.acc.add_step(
                k, start_host, demand, windows, pressure=int(pressure.sum()),
                reclaimed_mb=reclaimed, detector_hot=int(hot_host.sum()))
            # NOTE: what the agents measure during the tick, published at
            # the end of their interval; the detector, the balloon and the
            # planner act on it then, and what they decide runs after
            host_sum += host_mean * G
            inst_sum += demand * G
            since += G
            new_hotspot = False
            if t1 >= next_agent - _EPS:
                hot_host, new_hotspot = self._agent_cycle(
                    t1, since, host_sum, inst_sum, hot_host)
                host_sum[:] = 0.0
                inst_sum[:] = 0.0
                since = 0.0
                while next_agent <= t1 + _EPS:
                    next_agent += self.agent_s
            self._planning(t1, new_hotspot, bool(hot_host.any()))
            if self.consol is not None:
                self._consolidate(t1)
            if self.maint is not None:
                self.maint.observe(t1, self.host)
            if self.progress is not None and (k + 1) % per_row == 0:
                self.progress(1)
        result = self.acc.result()
        result.update({
            'strategy_runs': self.runs,
            'decision_s': self.decision_s,
            'unresolved_hotspots': self.unresolved,
            'migrations_dropped': self.scheduler.dropped,
            'mode': self.mode,
            'plans_applied': self.plans_applied,
            'plans_cancelled': self.scheduler.plans_cancelled,
            'recommended_migrations': self.recommended,
            'cycles_without_severe': self.unplanned,
            'balloon_changes': self.balloon_changes,
            'agent_cycles': self.agent_cycles,
        })
        if self.consol is not None:
            result.update(self.consol.metrics())
        if self.maint is not None:
            result['maintenance'] = self.maint.metrics()
            result['migrations_no_valid_host'] = self.no_valid_host
        return RunResult(self.name, result, self.acc.history)


def recent_slices(published, now, window_s, vcpus, memory_mb):
    """The model's ``instances.recent_slices`` from published loads.

    As the balancer's short :class:`~nova_drs.balancer.view.peaks.
    PeakTracker` would hold them at ``now``: the window cut into
    :data:`~nova_drs.balancer.view.peaks.BUCKETS` slices aligned in time
    (slice ``k`` in row ``k`` modulo BUCKETS), each the time-weighted
    mean of what was published over it (a cycle's load over the interval
    it measured; the current slice read as :func:`~nova_drs.balancer.
    view.peaks.read_slices` reads it), NaN where none; in the model's
    units (CPU as a share of the vCPUs, 0-1; memory at most the
    flavor's).

    :param published: (start, end time, (instances, 4) smoothed demand
        in cores, MiB, MB/s, MB/s), oldest first
    :returns: (instances, BUCKETS, 4) float32, or None when the window is
        off or nothing was published in it
    """
    if window_s <= 0:
        return None
    slice_s = window_s / peaks_mod.BUCKETS
    current = int(np.floor(now / slice_s))
    oldest = current - peaks_mod.BUCKETS + 1
    sums = weights = numbers = None
    for start, at, demand in published:
        spans = [(number, seconds) for number, seconds in
                 peaks_mod.covered(max(start, oldest * slice_s),
                                   min(at, now), slice_s)
                 if oldest <= number <= current and seconds > 0.0]
        if not spans:
            continue
        if sums is None:
            n = len(demand)
            sums = np.zeros((n, peaks_mod.BUCKETS, 4))
            weights = np.zeros((n, peaks_mod.BUCKETS))
            numbers = np.full(peaks_mod.BUCKETS, -1, dtype=np.int64)
        values = np.column_stack([
            np.clip(demand[:, 0] / np.maximum(vcpus, 1), 0.0, 1.0),
            np.minimum(demand[:, 1], memory_mb), demand[:, 2],
            demand[:, 3]])
        # an instance without a load (NaN) adds no time to the slice
        known = np.isfinite(values).all(axis=1)
        values = np.where(known[:, None], values, 0.0)
        for number, seconds in spans:
            pos = number % peaks_mod.BUCKETS
            numbers[pos] = number
            sums[:, pos] += values * seconds
            weights[:, pos] += np.where(known, seconds, 0.0)
    if sums is None:
        return None
    filled = weights > 0.0
    slots = np.where(filled, numbers[None, :], -1)
    with np.errstate(invalid='ignore', divide='ignore'):
        means = sums / weights[:, :, None]
    return peaks_mod.read_slices(slots, means, weights, now, slice_s)
