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

It lasts what the production cost model says
(:mod:`nova_drs.balancer.planning.cost`): the memory backed for the guest when
it starts, inflated by its dirty rate, sent at ``[drs_balancer]
migration_bandwidth_mb_s``. A migration still running at the end of a step
carries on into the next. A new plan replaces the migrations still queued (they
were planned on an older view); running ones are never cancelled. A queued
migration whose instance is no longer on its source is dropped.
"""

import dataclasses

from nova_drs.balancer.planning import cost


@dataclasses.dataclass
class InFlight:
    instance: int
    source: int
    target: int
    start_s: float
    end_s: float
    transfer_mb: float


@dataclasses.dataclass
class Window:
    """A migration's share of one step (times relative to its start)."""

    instance: int
    source: int
    target: int
    #: running from ``begin_s`` to ``end_s`` within the step
    begin_s: float
    end_s: float
    #: completed at ``end_s`` (else still running at the end of the step)
    done: bool
    #: started in this step
    started: bool
    transfer_mb: float


class Scheduler:
    """Queue and in-flight migrations of one simulated cluster."""

    def __init__(self, max_total, max_per_host, bandwidth_mb_s):
        self.max_total = int(max_total)
        self.max_per_host = int(max_per_host)
        self.bandwidth = float(bandwidth_mb_s)
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

    def _start_ready(self, now, host, mem_mb, dirty_mb_s):
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
                transfer = float(cost.transfer_mb(mem_mb[i], dirty_mb_s[i],
                                                  self.bandwidth))
                duration = float(cost.duration_s(transfer, self.bandwidth))
                flight = InFlight(i, src, dst, now, now + duration, transfer)
                self.running.append(flight)
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
        migrations complete.

        :returns: list of :class:`Window`, one per migration that ran
            during the step.
        """
        end = now + interval_s
        seen = list(self.running)
        t = now
        while True:
            if t < end:
                before = len(self.running)
                self._start_ready(t, host, mem_mb, dirty_mb_s)
                seen.extend(self.running[before:])
            if not self.running:
                break
            t_next = min(m.end_s for m in self.running)
            if t_next > end:
                break
            t = t_next
            still = []
            for m in self.running:
                if m.end_s <= t:
                    host[m.instance] = m.target
                else:
                    still.append(m)
            self.running = still
        windows = []
        for m in seen:
            windows.append(Window(
                m.instance, m.source, m.target,
                max(m.start_s, now) - now, min(m.end_s, end) - now,
                m.end_s <= end, m.start_s >= now, m.transfer_mb))
        return windows
