# SPDX-License-Identifier: Apache-2.0
"""Pre-copy live migration, round by round, with Nova's limits.

One migration of a guest with ``M`` MiB of memory backed at its start
(``M`` is what the cost model of :mod:`nova_drs.balancer.planning.cost`
prices, and the planner's estimate is the limit of these rounds, see
below):

* **Round 0** sends ``M``. Every round ``k`` sends what the guest dirtied
  during round ``k - 1``: ``D x duration`` MiB, never more than ``M`` (a
  guest cannot dirty more distinct pages than it has). ``D`` is the
  guest's dirty rate (:func:`nova_drs.simulator.memory.dirty_rate`), read
  at every step, so a guest that gets busy mid-migration dirties faster.
* At the end of a round QEMU estimates the downtime of switching over now:
  the dirtied data over the bandwidth. When that is at most the allowed
  downtime, the guest is **paused** and the rest sent (stop-and-copy): the
  migration completes, the pause is its downtime. Otherwise another round
  starts.
* The allowed downtime follows Nova's libvirt driver
  (``[libvirt] live_migration_downtime``, ``_steps``, ``_delay``): with
  ``G = max(flavor memory in GiB, 2)`` (Nova's data size, no block
  migration), it starts at ``downtime / steps`` ms and rises by
  ``(downtime - downtime / steps) / steps`` ms every
  ``int(delay x G)`` seconds, up to ``downtime``.
* Nova's completion timeout (``[libvirt]
  live_migration_completion_timeout``, seconds per GiB, 0 disables) ends
  a migration still copying after ``int(timeout x G)`` seconds with
  ``live_migration_timeout_action``: ``abort`` (the guest stays on its
  source) or ``force_complete`` (libvirt pauses the guest: the rest of
  the current round and what it dirtied are sent while it is paused, all
  downtime). Post-copy and auto-converge are not modelled (Nova's
  defaults: off).
* With a failure rate ``p`` a migration fails with probability ``p``,
  after sending a uniformly drawn share of its first round (the guest
  stays on its source). Two draws per migration from a stream of the
  seed, whatever ``p``: a run is the same for a seed.

With a constant bandwidth ``B`` and ``r = D / B < 1`` the rounds send
``M (1 + r + r^2 + ...)``, the geometric series whose sum ``M / (1 - r)``
the planner's cost model uses; the rounds stop once ``r^k M / B`` fits
the allowed downtime, so the simulated transfer is that sum less the
tail it leaves. With ``r >= 1`` the rounds never shrink: the migration
runs until Nova's timeout (or forever with the timeout disabled, as with
Nova).

Bandwidth (:func:`shares`): every host has a migration link of
``host_link_mb_s`` (one value for every host, or one per host when hosts
differ) shared equally by the migrations running on it as
source or target, and the cluster may have a link of ``cluster_link_mb_s``
shared equally by all running migrations. A migration gets the smallest
of its source's, its target's and the cluster's share; shares are
recomputed whenever a migration starts or ends.
"""

import dataclasses
import math

import numpy as np

ABORT = 'abort'
FORCE_COMPLETE = 'force_complete'
TIMEOUT_ACTIONS = (ABORT, FORCE_COMPLETE)

COMPLETED = 'completed'
ABORTED = 'aborted'
FAILED = 'failed'

COPY = 'copy'
PAUSED = 'paused'

#: Nova counts a guest's RAM as at least this many GiB for its timeouts.
MIN_DATA_GIB = 2.0
EPS = 1e-9


@dataclasses.dataclass
class Config:
    """Live-migration settings; Nova's ``[libvirt]`` ones by their name.

    Defaults are Nova's.
    """

    #: MB/s of one host's migration link; 0: ``[drs_balancer]
    #: migration_bandwidth_mb_s``
    host_link_mb_s: float = 0.0
    #: MB/s shared by every migration of the cluster; 0: no such limit
    cluster_link_mb_s: float = 0.0
    #: seconds per GiB of guest memory (at least 2 GiB); 0 disables
    live_migration_completion_timeout: int = 800
    live_migration_timeout_action: str = ABORT
    #: ms, the largest downtime allowed at the end of the ramp
    live_migration_downtime: int = 500
    live_migration_downtime_steps: int = 10
    #: seconds per GiB between two downtime steps
    live_migration_downtime_delay: int = 75
    #: share of migrations that fail
    failure_rate: float = 0.0
    #: seed of the failure draws (the simulation's)
    seed: int = 0

    def __post_init__(self):
        if self.live_migration_timeout_action not in TIMEOUT_ACTIONS:
            raise ValueError('live_migration_timeout_action must be one of '
                             '%s' % ', '.join(TIMEOUT_ACTIONS))
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError('failure_rate must be within [0, 1]')
        if self.host_link_mb_s < 0 or self.cluster_link_mb_s < 0:
            raise ValueError('link bandwidths cannot be negative')

    def rng(self):
        """The failure draws' stream: child 3 of the seed.

        Children 0-2 are the workload's (:func:`~.workload.from_trace`).
        """
        return np.random.default_rng(
            np.random.SeedSequence(self.seed).spawn(4)[3])


def data_gib(flavor_mb):
    """Nova's migration data size for a guest without block migration."""
    return max(float(flavor_mb) / 1024.0, MIN_DATA_GIB)


def completion_timeout_s(config, flavor_mb):
    """Seconds after which Nova applies the timeout action (inf: never)."""
    per_gib = config.live_migration_completion_timeout
    if not per_gib:
        return math.inf
    return float(int(per_gib * data_gib(flavor_mb)))


def max_downtime_s(config, flavor_mb, elapsed_s):
    """Downtime Nova allows ``elapsed_s`` seconds into a migration."""
    downtime = float(config.live_migration_downtime)
    steps = int(config.live_migration_downtime_steps)
    delay = int(config.live_migration_downtime_delay * data_gib(flavor_mb))
    base = downtime / steps
    offset = (downtime - base) / steps
    # Nova moves to step i once more than delay x i seconds have passed
    step = steps if delay <= 0 else min(
        steps, int(math.ceil(elapsed_s / delay)) - 1 if elapsed_s > 0 else 0)
    return int(base + offset * max(step, 0)) / 1000.0


def shares(flights, host_link_mb_s, cluster_link_mb_s=0.0):
    """Bandwidth of every flight of ``flights`` (list, same order).

    :param host_link_mb_s: every host's link, MB/s, or a sequence of
        them indexed by host.
    """
    on_host = {}
    for f in flights:
        on_host[f.source] = on_host.get(f.source, 0) + 1
        on_host[f.target] = on_host.get(f.target, 0) + 1
    cluster = (cluster_link_mb_s / len(flights) if cluster_link_mb_s
               else math.inf)
    if np.ndim(host_link_mb_s):
        link = host_link_mb_s.__getitem__
    else:
        def link(_host):
            return host_link_mb_s
    return [min(link(f.source) / on_host[f.source],
                link(f.target) / on_host[f.target], cluster)
            for f in flights]


class Flight:
    """One migration's progress through its rounds."""

    def __init__(self, instance, source, target, start_s, mem_mb, flavor_mb,
                 config, fail_at_mb=math.inf):
        self.instance = instance
        self.source = source
        self.target = target
        self.start_s = float(start_s)
        self.mem_mb = float(mem_mb)
        self.flavor_mb = float(flavor_mb)
        self.config = config
        self.deadline_s = self.start_s + completion_timeout_s(
            config, flavor_mb)
        self.fail_at_mb = float(fail_at_mb)
        self.phase = COPY
        self.rounds = 1
        #: MiB left to send in the current round (or while paused)
        self.left_mb = self.mem_mb
        #: MiB dirtied since the current round started
        self.dirtied_mb = 0.0
        self.sent_mb = 0.0
        self.paused_s = None
        self.forced = False
        self.outcome = None
        self.end_s = None

    def time_to_event(self, now, bandwidth):
        """Seconds from ``now`` to this flight's next event."""
        dt = self.left_mb / bandwidth
        if self.phase == COPY:
            if self.fail_at_mb < math.inf:
                dt = min(dt, max(self.fail_at_mb - self.sent_mb, 0.0)
                         / bandwidth)
            dt = min(dt, max(self.deadline_s - now, 0.0))
        return dt

    def run(self, dt, bandwidth, dirty_mb_s):
        """Send at ``bandwidth`` for ``dt`` seconds."""
        sent = min(float(bandwidth) * dt, self.left_mb)
        self.left_mb -= sent
        self.sent_mb += sent
        if self.phase == COPY:
            self.dirtied_mb = min(self.dirtied_mb + float(dirty_mb_s) * dt,
                                  self.mem_mb)

    def _end(self, now, outcome):
        self.outcome = outcome
        self.end_s = now

    def on_event(self, now, bandwidth):
        """Handle what happens at ``now``; True when the flight ended."""
        if self.phase == PAUSED:
            if self.left_mb <= EPS:
                self._end(now, COMPLETED)
                return True
            return False
        if self.sent_mb >= self.fail_at_mb - EPS:
            self._end(now, FAILED)
            return True
        if now >= self.deadline_s - EPS:
            if self.config.live_migration_timeout_action == ABORT:
                self._end(now, ABORTED)
                return True
            self.forced = True
            self._pause(now, min(self.left_mb + self.dirtied_mb,
                                 self.mem_mb))
            return self.on_event(now, bandwidth)
        if self.left_mb <= EPS:
            rest = self.dirtied_mb
            allowed = max_downtime_s(self.config, self.flavor_mb,
                                     now - self.start_s)
            if rest / bandwidth <= allowed + EPS:
                self._pause(now, rest)
                return self.on_event(now, bandwidth)
            self.rounds += 1
            self.left_mb = rest
            self.dirtied_mb = 0.0
        return False

    def _pause(self, now, left_mb):
        self.phase = PAUSED
        self.paused_s = now
        self.left_mb = left_mb
        self.dirtied_mb = 0.0

    @property
    def downtime_s(self):
        if self.paused_s is None or self.end_s is None:
            return 0.0
        return self.end_s - self.paused_s
