# SPDX-License-Identifier: Apache-2.0
"""Metrics of one simulated run, accumulated step by step.

A step is one tick of the engine's measurement grid (10 s, whatever the
agent interval: :mod:`.engine`); the history keeps one row per
``per_row`` steps (a trace sample): the mean of its steps for loads and
host counts, the sum for events and energy.

Within a step every host's load is piecewise constant: the instances on it
at the start of the step, plus, while a live migration runs, the
migrating instance's demand (CPU, memory, disk, network) on its target too
(it counts on both hosts until switchover) and
:attr:`Accumulator.migration_cpu_overhead` cores on both (QEMU's
migration thread and the copy), minus the instance on its source once the
migration completes, or on its target once it is aborted or fails. The
metrics integrate those pieces exactly.

* ``overload_time_fraction`` (SLATAH, Beloglazov & Buyya, with swap): the
  share of active host-time during which a host's CPU demand is at or
  above 100% of its physical cores, or its guests' backed memory is above
  its RAM (``ram_mb``: physical memory less the host's reserved memory),
  so that it swaps. Host-time is pooled over hosts (a host active for
  twice as long weighs twice as much). A host is active in a step when it
  holds an instance or receives one. Demand above capacity is not carried
  over: a trace's demand is what the guest asked for.
  ``cpu_overload_time_fraction`` is the CPU part alone (the literature's
  SLATAH).
* Swap: a host swaps ``max(0, backed - ram_mb)`` MiB. The penalty is
  binary and documented: guests fault swapped pages in from disk, some
  thousand times slower than from RAM, so a swapping host is in SLA
  violation for the whole time it swaps, however little it swaps.
  ``swap_gib_h`` integrates the swapped memory over time (GiB x hours,
  all hosts), ``swap_host_time_fraction`` is the share of active
  host-time with swap, ``swap_hosts`` the hosts that swapped at some
  point, ``max_host_swap_gib_h`` the worst host's ``swap_gib_h``; the
  history has the mean swapped GiB per host and step.
* ``hotspot_host_time_fraction``: the share of active host-time with the
  raw (unsmoothed) load of any tracked resource above its ``[drs]``
  threshold.
* ``pdm`` (performance degradation due to migrations): for each instance,
  10% of the CPU it used while being migrated, and all of it while paused
  for the switchover (downtime), in core-seconds, over the CPU it
  requested during the run (core-seconds); the mean over instances
  (instances that requested nothing count 0).
* ``slav``: ``overload_time_fraction x pdm``.
* ``migrations``, ``gib_moved``: migrations started and the data their
  rounds sent (those that failed or were aborted included), in GiB.
  ``migrations_completed``, ``migrations_aborted`` (Nova's completion
  timeout with ``abort``), ``migrations_failed`` (the failure rate),
  ``migrations_forced`` (completed by ``force_complete``),
  ``migrations_unsuccessful`` (aborted and failed);
  ``downtime_s`` and ``max_downtime_s``: the guests' pauses, summed and
  the longest.
* ``mean_active_hosts``: active hosts, mean over steps.
* ``energy_kwh``: energy of the hosts under a linear power model (Fan
  et al.; the one CloudSim uses): an active host draws ``idle_w + (full_w
  - idle_w) x its mean CPU load`` (load capped at 1), a host holding no
  instance is powered off and draws nothing (``[drs_balancer]
  host_power_idle_w`` and ``host_power_full_w``, 175 W and 250 W).
* ``hosts_freed``: hosts active at the first step that hold no instance
  at the end.
* ``retrigger_share``: of the sources relieved by a migration (cool at
  the end of the step the migration completed in), the share hot again
  within ``retrigger_s`` seconds (the engine's 300 s, a PlanetLab sample:
  the plan did not bring it far enough below its threshold);
  ``destination_retrigger_share``: the same for the destinations that
  were not hot before. ``retrigger_lone_share`` and
  ``destination_retrigger_lone_share``: the part of each (a share of the
  same hosts) that was hot again running a single guest above a
  threshold on its own, on any host of the cluster: no plan can keep
  such a host cool, wherever the guest goes (a guest caught on its way
  up, agents every 10 s, moved alone to an empty host).
* ``memory_reclaimed_gib``: host memory ballooning saved (see
  :mod:`.guests`), summed over guests, mean over steps.
* ``pressure_events``: guest-steps (ticks) whose working set exceeded the
  balloon.
"""

import numpy as np

from nova_drs.simulator import precopy

#: Share of an instance's CPU lost while it is being migrated.
PDM_SHARE = 0.1
EPS = 1e-9
#: MiB over the RAM before a host counts as swapping (float rounding).
SWAP_SLACK_MB = 0.5
OUTCOMES = (precopy.COMPLETED, precopy.ABORTED, precopy.FAILED)
#: history columns that are a row's mean over its steps
_ROW_MEANS = ('active_hosts', 'hot_hosts', 'overloaded_hosts',
              'detector_hot_hosts', 'reclaimed_gib', 'swapping_hosts')


def _swapped(backed_mb, ram_mb):
    """MiB a host swaps with ``backed_mb`` of guest memory in use."""
    over = np.asarray(backed_mb, dtype=float) - ram_mb
    return np.where(over > SWAP_SLACK_MB, over, 0.0)


def per_host(host, values, n_hosts):
    """Sum ``values`` (instances, k) per host, shape (hosts, k)."""
    k = values.shape[1]
    # NOTE: one bincount over (host, column) cells, not one per column:
    # the simulator calls this every 10 s tick
    cells = (np.asarray(host)[:, None] * k + np.arange(k)).ravel()
    return np.bincount(cells, weights=np.ravel(values),
                       minlength=n_hosts * k).reshape(n_hosts, k)


class Accumulator:
    """Collect the metrics and the per-step history of one run."""

    def __init__(self, n_instances, capacity, thresholds, interval_s, steps,
                 migration_cpu_overhead=0.0, power_w=(175.0, 250.0),
                 ram_mb=None, per_row=1, retrigger_s=None):
        self.capacity = np.asarray(capacity, dtype=float)
        self.tracked = self.capacity > 0
        self.inv_capacity = np.divide(
            1.0, self.capacity, out=np.zeros_like(self.capacity),
            where=self.tracked)
        self.thresholds = np.asarray(thresholds, dtype=float)
        self.interval = float(interval_s)
        #: steps per history row: the history is kept per trace sample
        #: whatever the measurement grid (the report's resolution)
        self.per_row = int(per_row)
        #: a relieved or filled host hot again within this many seconds
        #: is a re-trigger (one step when not given)
        self.retrigger_s = float(retrigger_s or interval_s)
        self.migration_cpu_overhead = float(migration_cpu_overhead)
        n_hosts = self.capacity.shape[0]
        self.n_hosts = n_hosts
        #: memory the guests of each host can use before it swaps
        self.ram = (np.full(n_hosts, np.inf) if ram_mb is None
                    else np.broadcast_to(np.asarray(ram_mb, dtype=float),
                                         (n_hosts,)).copy())
        self.cpu_overload_s = 0.0
        self.swap_s = 0.0
        self.swap_mb_s = np.zeros(n_hosts)
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.forced = 0
        self.downtime_s = 0.0
        self.max_downtime_s = 0.0
        self.overload_s = 0.0
        self.hot_s = 0.0
        self.active_s = 0.0
        self.active_host_steps = 0
        self.requested = np.zeros(n_instances)
        self.degraded = np.zeros(n_instances)
        self.migrations = 0
        self.moved_mb = 0.0
        self.reclaimed_mb = 0.0
        self.pressure = 0
        self.steps = 0
        self.idle_w, self.full_w = (float(w) for w in power_w)
        self.energy_j = 0.0
        self.first_active = None
        self.last_active = None
        # hosts relieved (sources) and filled (destinations), cool at
        # the end of the step their migration completed in: until when
        # a hotspot on them counts as a re-trigger (-inf: not watched)
        self._relieved_until = np.full(n_hosts, -np.inf)
        self._filled_until = np.full(n_hosts, -np.inf)
        self.relieved = self.relieved_again = 0
        self.filled = self.filled_again = 0
        # of those hot again, hosts running one guest that is above a
        # threshold on its own on any host (the largest limit)
        self.relieved_lone = self.filled_lone = 0
        self._any_host_limit = np.where(
            self.tracked, self.capacity * self.thresholds, -np.inf).max(
                axis=0, initial=-np.inf)
        self._any_host_limit = np.where(np.isfinite(self._any_host_limit),
                                        self._any_host_limit, np.inf)
        rows = -(-int(steps) // self.per_row)
        self._row_loads = np.zeros((3, n_hosts))
        self._row_counts = np.zeros(len(_ROW_MEANS))
        #: per row: the mean over its steps of the host counts and loads,
        #: the sum of the events and energy
        self.history = {
            'active_hosts': np.zeros(rows),
            'hot_hosts': np.zeros(rows),
            'overloaded_hosts': np.zeros(rows),
            'detector_hot_hosts': np.zeros(rows),
            'migrations': np.zeros(rows, dtype=np.int64),
            'reclaimed_gib': np.zeros(rows),
            'pressure_events': np.zeros(rows, dtype=np.int64),
            'energy_kwh': np.zeros(rows),
            'cpu_load': np.zeros((rows, n_hosts), dtype=np.float32),
            'memory_load': np.zeros((rows, n_hosts), dtype=np.float32),
            'swap_gib': np.zeros((rows, n_hosts), dtype=np.float32),
            'swapping_hosts': np.zeros(rows),
            'migrations_unmoved': np.zeros(rows, dtype=np.int64),
            #: hosts active during the row (holding or receiving one)
            'active': np.zeros((rows, n_hosts), dtype=bool),
        }

    def _state(self, demand, h):
        """(CPU overloaded, hot, MiB swapped) for ``demand`` on host ``h``."""
        over = demand[0] >= self.capacity[h, 0] - EPS
        load = demand * self.inv_capacity[h]
        hot = bool(((load > self.thresholds + EPS)
                    & self.tracked[h]).any())
        swapped = demand[1] - self.ram[h]
        return bool(over), hot, (swapped if swapped > SWAP_SLACK_MB else 0.0)

    def add_step(self, t, host, demand, windows, pressure=0, reclaimed_mb=0.0,
                 detector_hot=0):
        """Account for step ``t``.

        :param host: host index per instance at the start of the step.
        :param demand: (instances, 4) demand during the step: cores,
            backed MiB, disk and network MB/s.
        :param windows: :class:`~.migrations.Window` of the step.
        :param pressure: guests under memory pressure this step.
        :param reclaimed_mb: memory ballooning saved this step.
        :param detector_hot: hosts the detector reported hot.
        :returns: (hosts, 4) every host's demand, mean over the step, as
            its agent measures it (a migrating guest on both hosts, the
            migration's CPU on both).
        """
        T = self.interval
        n_hosts = self.n_hosts
        base = per_host(host, demand, n_hosts)
        guests = np.bincount(host, minlength=n_hosts)
        active = guests > 0
        load_sum = base * T
        over = base[:, 0] >= self.capacity[:, 0] - EPS
        hot = ((base * self.inv_capacity > self.thresholds + EPS)
               & self.tracked).any(axis=1)
        swapped = _swapped(base[:, 1], self.ram)
        cpu_s = over * T
        over_s = (over | (swapped > 0)) * T
        swap_s = (swapped > 0) * T
        swap_mb_s = swapped * T
        hot_s = hot * T

        events = {}
        overhead = np.array([self.migration_cpu_overhead, 0.0, 0.0, 0.0])
        sources = np.zeros(n_hosts, dtype=bool)
        targets = np.zeros(n_hosts, dtype=bool)
        for w in windows:
            if w.moved:
                sources[w.source] = True
                targets[w.target] = True
            x = demand[w.instance]
            active[w.target] = True
            dst = events.setdefault(w.target, [])
            dst.extend([(w.begin_s, x + overhead), (w.end_s, -overhead)])
            src = events.setdefault(w.source, [])
            src.extend([(w.begin_s, overhead), (w.end_s, -overhead)])
            if w.moved:
                src.append((w.end_s, -x))
            elif w.done:
                dst.append((w.end_s, -x))
            # a paused guest runs nothing: the rest of its CPU is lost
            self.degraded[w.instance] += x[0] * (
                PDM_SHARE * (w.end_s - w.begin_s)
                + (1.0 - PDM_SHARE) * w.paused_s)
            self.moved_mb += float(w.sent_mb)
            self._count(t // self.per_row, w)
        end = base.copy()
        for h, evs in events.items():
            evs.sort(key=lambda e: e[0])
            cur = base[h].copy()
            t0 = 0.0
            c_s = o_s = h_s = s_s = s_mb_s = 0.0
            integral = np.zeros_like(cur)
            for time, delta in evs + [(T, None)]:
                if time > t0:
                    dt = time - t0
                    o, hh, sw = self._state(cur, h)
                    c_s += o * dt
                    o_s += (o or sw > 0) * dt
                    h_s += hh * dt
                    s_s += (sw > 0) * dt
                    s_mb_s += sw * dt
                    integral += cur * dt
                    t0 = time
                if delta is not None:
                    cur = cur + delta
            cpu_s[h], over_s[h], hot_s[h] = c_s, o_s, h_s
            swap_s[h], swap_mb_s[h] = s_s, s_mb_s
            load_sum[h] = integral
            end[h] = cur

        self.requested += demand[:, 0] * T
        n_active = int(active.sum())
        self.active_s += n_active * T
        self.active_host_steps += n_active
        # one product for the four sums over the active hosts
        over, cpu, swap, hot = np.dot(
            np.vstack([over_s, cpu_s, swap_s, hot_s]), active).tolist()
        self.overload_s += over
        self.cpu_overload_s += cpu
        self.swap_s += swap
        self.swap_mb_s += swap_mb_s
        self.hot_s += hot
        self.pressure += int(pressure)
        self.reclaimed_mb += float(reclaimed_mb)
        self.steps += 1

        mean_demand = load_sum / T
        mean_load = mean_demand * self.inv_capacity
        # re-triggers: hosts relieved or filled within the last
        # retrigger_s seconds, hot now (each counted once)
        now = (t + 1) * T
        hot_now = hot_s > 0
        # a lone guest above a threshold on any host: no plan cools that
        lone = (guests == 1) & (base > self._any_host_limit + EPS).any(
            axis=1)
        again = hot_now & (self._relieved_until >= now - T + EPS)
        self.relieved_again += int(again.sum())
        self.relieved_lone += int((again & lone).sum())
        self._relieved_until[again] = -np.inf
        again = hot_now & (self._filled_until >= now - T + EPS)
        self.filled_again += int(again.sum())
        self.filled_lone += int((again & lone).sum())
        self._filled_until[again] = -np.inf
        end_hot = ((end * self.inv_capacity > self.thresholds + EPS)
                   & self.tracked).any(axis=1)
        relieved = sources & ~end_hot
        filled = targets & ~end_hot & ~hot_now
        self._relieved_until[relieved] = now + self.retrigger_s
        self._filled_until[filled] = now + self.retrigger_s
        self.relieved += int(relieved.sum())
        self.filled += int(filled.sum())
        # energy: active hosts on the linear model, the others off
        cpu = np.minimum(mean_load[:, 0], 1.0)
        watts = np.where(active, self.idle_w
                         + (self.full_w - self.idle_w) * cpu, 0.0)
        step_j = float(watts.sum()) * T
        self.energy_j += step_j
        if self.first_active is None:
            self.first_active = active.copy()
        self.last_active = np.bincount(host, minlength=n_hosts) > 0
        hist = self.history
        row, share = t // self.per_row, 1.0 / self.per_row
        hist['energy_kwh'][row] += step_j / 3.6e6
        counts = self._row_counts
        counts += (n_active, int(((hot_s > 0) & active).sum()),
                   int(((over_s > 0) & active).sum()), int(detector_hot),
                   reclaimed_mb / 1024.0, int((swap_s > 0).sum()))
        hist['pressure_events'][row] += int(pressure)
        # NOTE: the row's loads summed in float64, stored in float32 (the
        # history's size) when the row is complete
        buf = self._row_loads
        buf[0] += mean_load[:, 0] * share
        buf[1] += mean_load[:, 1] * share
        buf[2] += swap_mb_s / T / 1024.0 * share
        if (t + 1) % self.per_row == 0:
            hist['cpu_load'][row] = buf[0]
            hist['memory_load'][row] = buf[1]
            hist['swap_gib'][row] = buf[2]
            buf[:] = 0.0
            for key, value in zip(_ROW_MEANS, counts / self.per_row):
                hist[key][row] = value
            counts[:] = 0.0
        hist['active'][row] |= active
        return mean_demand

    def _count(self, row, w):
        """Count a window's migration: started, ended, paused."""
        if w.started:
            self.migrations += 1
            self.history['migrations'][row] += 1
        if not w.done:
            return
        self.outcomes[w.outcome] = self.outcomes.get(w.outcome, 0) + 1
        self.forced += bool(w.forced)
        if not w.moved:
            self.history['migrations_unmoved'][row] += 1
        self.downtime_s += float(w.downtime_s)
        self.max_downtime_s = max(self.max_downtime_s, float(w.downtime_s))

    def pdm(self):
        if self.requested.size == 0:
            return 0.0
        ratio = np.divide(self.degraded, self.requested,
                          out=np.zeros_like(self.degraded),
                          where=self.requested > 0)
        return float(ratio.mean())

    def result(self):
        """The metrics (the JSON keys of one strategy)."""
        slatah = self.overload_s / self.active_s if self.active_s else 0.0
        hot = self.hot_s / self.active_s if self.active_s else 0.0
        share = (lambda v: v / self.active_s) if self.active_s else (
            lambda v: 0.0)
        swap_gib_h = self.swap_mb_s / 1024.0 / 3600.0
        pdm = self.pdm()
        steps = max(self.steps, 1)
        return {
            'overload_time_fraction': slatah,
            'hotspot_host_time_fraction': hot,
            'pdm': pdm,
            'slav': slatah * pdm,
            'migrations': self.migrations,
            'gib_moved': self.moved_mb / 1024.0,
            'mean_active_hosts': self.active_host_steps / steps,
            'energy_kwh': self.energy_j / 3.6e6,
            'hosts_freed': (0 if self.first_active is None else int(
                (self.first_active & ~self.last_active).sum())),
            'retrigger_share': (self.relieved_again / self.relieved
                                if self.relieved else 0.0),
            'destination_retrigger_share': (
                self.filled_again / self.filled if self.filled else 0.0),
            'retrigger_lone_share': (self.relieved_lone / self.relieved
                                     if self.relieved else 0.0),
            'destination_retrigger_lone_share': (
                self.filled_lone / self.filled if self.filled else 0.0),
            'relieved_hosts': self.relieved,
            'filled_hosts': self.filled,
            'memory_reclaimed_gib': self.reclaimed_mb / 1024.0 / steps,
            'pressure_events': self.pressure,
            'cpu_overload_time_fraction': share(self.cpu_overload_s),
            'swap_gib_h': float(swap_gib_h.sum()),
            'swap_host_time_fraction': share(self.swap_s),
            'swap_hosts': int((self.swap_mb_s > 0).sum()),
            'max_host_swap_gib_h': float(swap_gib_h.max(initial=0.0)),
            'migrations_completed': self.outcomes[precopy.COMPLETED],
            'migrations_aborted': self.outcomes[precopy.ABORTED],
            'migrations_failed': self.outcomes[precopy.FAILED],
            'migrations_forced': self.forced,
            'migrations_unsuccessful': (self.outcomes[precopy.ABORTED]
                                        + self.outcomes[precopy.FAILED]),
            'downtime_s': self.downtime_s,
            'max_downtime_s': self.max_downtime_s,
        }
