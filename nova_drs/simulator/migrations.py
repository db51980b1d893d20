# SPDX-License-Identifier: Apache-2.0
"""Live migrations in flight: queue, concurrency limits and timing.

A plan's migrations join a queue in plan order. Within a step the queue is
worked through in continuous time: a migration starts as soon as

* fewer than ``max_total`` migrations run in the cluster,
* fewer than ``max_per_host`` run with its source or its target as source
  or target (Nova's ``max_concurrent_live_migrations`` is per compute
  host), and
* no migration queued before it, and not started yet, involves its source
  or its target (so a make-room move runs before the move it makes room
  for).

It runs pre-copy rounds (:mod:`.precopy`): the memory backed for the guest
when it starts, then what the guest dirtied meanwhile, over a bandwidth
shared by the migrations running on its source, on its target and in the
cluster, until the rest fits Nova's allowed downtime, or Nova's completion
timeout aborts or force-completes it, or it fails (``failure_rate``). A
migration still running at the end of a step carries on into the next. A
new plan replaces the migrations still queued (they were planned on an
older view); running ones are never cancelled. A queued migration whose
instance is no longer on its source is dropped. Only a completed migration
moves its instance; an aborted or failed one leaves it on its source.
"""

import dataclasses
import math

import numpy as np

from nova_drs.simulator import precopy


@dataclasses.dataclass
class Window:
    """A migration's share of one step (times relative to its start)."""

    instance: int
    source: int
    target: int
    #: running from ``begin_s`` to ``end_s`` within the step
    begin_s: float
    end_s: float
    #: ended at ``end_s`` (else still running at the end of the step)
    done: bool
    #: started in this step
    started: bool
    #: MiB sent within the window
    sent_mb: float
    #: :data:`~.precopy.COMPLETED`, ``ABORTED`` or ``FAILED`` once done
    outcome: str = None
    #: completed by Nova's force_complete
    forced: bool = False
    #: seconds of the window the guest was paused (downtime)
    paused_s: float = 0.0
    #: the migration's whole downtime, once done
    downtime_s: float = 0.0

    @property
    def moved(self):
        """The instance switched over to the target at ``end_s``."""
        return self.done and self.outcome == precopy.COMPLETED


def _links(bandwidth_mb_s):
    if np.ndim(bandwidth_mb_s):
        return np.asarray(bandwidth_mb_s, dtype=float)
    return float(bandwidth_mb_s)


class Scheduler:
    """Queue and in-flight migrations of one simulated cluster.

    :param bandwidth_mb_s: host link when ``config.host_link_mb_s`` is 0
        (``[drs_balancer] migration_bandwidth_mb_s``): one value for
        every host or an array of one per host.
    :param flavor_mb: flavor memory of every instance (Nova's timeouts
        scale with it); None: every guest counts as the 2 GiB minimum.
    :param config: :class:`~.precopy.Config` (Nova's defaults if None).
    """

    def __init__(self, max_total, max_per_host, bandwidth_mb_s,
                 config=None, flavor_mb=None):
        self.max_total = int(max_total)
        self.max_per_host = int(max_per_host)
        self.config = config or precopy.Config()
        # NOTE: a per-host array when hosts have links of their own
        self.host_link = (float(self.config.host_link_mb_s)
                          if self.config.host_link_mb_s
                          else _links(bandwidth_mb_s))
        self.cluster_link = float(self.config.cluster_link_mb_s)
        self.flavor_mb = flavor_mb
        self.rng = self.config.rng()
        self.running = []
        self.queue = []
        self.dropped = 0

    def replace_queue(self, moves):
        """Queue ``[(instance, source, target)]``, dropping what was left."""
        self.queue = list(moves)

    def busy_instances(self):
        """Instances running or queued."""
        return {m.instance for m in self.running} | {
            m[0] for m in self.queue}

    def _flight(self, now, i, src, dst, mem_mb):
        # two draws whatever the rate: the stream is the same for a seed
        fails, where = self.rng.random(2)
        mem = float(mem_mb[i])
        fail_at = (where * mem if fails < self.config.failure_rate
                   else math.inf)
        flavor = 0.0 if self.flavor_mb is None else self.flavor_mb[i]
        return precopy.Flight(i, src, dst, now, mem, flavor, self.config,
                              fail_at)

    def _start_ready(self, now, host, mem_mb):
        busy = {}
        for m in self.running:
            busy[m.source] = busy.get(m.source, 0) + 1
            busy[m.target] = busy.get(m.target, 0) + 1
        running = {m.instance for m in self.running}
        blocked = set()
        left = []
        for move in self.queue:
            i, src, dst = move
            if host[i] != src or i in running:
                self.dropped += 1
                continue
            if (len(self.running) < self.max_total
                    and busy.get(src, 0) < self.max_per_host
                    and busy.get(dst, 0) < self.max_per_host
                    and src not in blocked and dst not in blocked):
                self.running.append(self._flight(now, i, src, dst, mem_mb))
                running.add(i)
                busy[src] = busy.get(src, 0) + 1
                busy[dst] = busy.get(dst, 0) + 1
            else:
                left.append(move)
                blocked.add(src)
                blocked.add(dst)
        self.queue = left

    def advance(self, now, interval_s, host, mem_mb, dirty_mb_s):
        """Run migrations over the step ``[now, now + interval_s)``.

        ``host`` (instance -> host index) is updated in place as
        migrations complete. ``dirty_mb_s`` is every instance's dirty rate
        during the step; ``mem_mb`` the memory a migration starting now
        sends in its first round.

        :returns: list of :class:`Window`, one per migration that ran
            during the step.
        """
        end = now + interval_s
        seen = list(self.running)
        sent_before = {id(f): f.sent_mb for f in seen}
        t = now
        while True:
            if t < end:
                before = len(self.running)
                self._start_ready(t, host, mem_mb)
                seen.extend(self.running[before:])
            if not self.running:
                break
            bandwidth = precopy.shares(self.running, self.host_link,
                                       self.cluster_link)
            dts = [f.time_to_event(t, b)
                   for f, b in zip(self.running, bandwidth)]
            dt = min(dts)
            stop = t + dt > end
            if stop:
                dt = end - t
            for f, b in zip(self.running, bandwidth):
                f.run(dt, b, dirty_mb_s[f.instance])
            if stop:
                break
            t += dt
            still = []
            for f, b, f_dt in zip(self.running, bandwidth, dts):
                if f_dt <= dt + precopy.EPS and f.on_event(t, b):
                    if f.outcome == precopy.COMPLETED:
                        host[f.instance] = f.target
                    continue
                still.append(f)
            self.running = still
        return [self._window(f, now, end, sent_before.get(id(f), 0.0))
                for f in seen]

    @staticmethod
    def _window(f, now, end, sent_before):
        done = f.end_s is not None
        stop = f.end_s if done else end
        paused = 0.0
        if f.paused_s is not None:
            paused = max(stop - max(f.paused_s, now), 0.0)
        return Window(
            f.instance, f.source, f.target, max(f.start_s, now) - now,
            stop - now, done, f.start_s >= now, f.sent_mb - sent_before,
            f.outcome, f.forced, paused, f.downtime_s)
