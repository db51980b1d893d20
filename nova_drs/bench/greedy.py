# SPDX-License-Identifier: Apache-2.0
"""A simple greedy hotspot remover: the benchmark's baseline.

Written for the benchmark only, as the straightforward approach a planner
has to beat: Sandpiper's greedy hotspot migration (Wood et al., NSDI
2007), with its volume-to-size ordering:

* hot hosts are handled hottest first (highest demand relative to the
  threshold on any resource);
* on a hot host, the instance with the highest load per GiB of memory in
  use moves first. Its load is Sandpiper's *volume*,
  ``1 / ((1 - cpu) (1 - memory) (1 - network))`` with each term the
  instance's demand as a share of the host's capacity (capped at 0.99;
  untracked resources count 0), and its size is its memory in use: the
  volume-to-size ratio (VSR) favours moving much load per byte copied;
* it goes to the coolest host that fits (lowest highest-resource load
  relative to the threshold). Fits means: room under the allocation ratios
  for its vCPUs and flavor memory, and no resource of the destination
  pushed above its threshold. A host that was hot when planning began, a
  disabled host or one in another availability zone never receives;
* this repeats, in VSR order, until the host is cool or every instance
  was tried. Moves already made for a host that stays hot are kept (no
  rollback), as a naive greedy would.

Opted-out instances and instances in their cool-down are not moved.
Server groups are ignored.
"""

import time

import numpy as np

from nova_drs.balancer.planning import cost
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.model import cluster

EPS = 1e-9
NAME = 'greedy'
#: Sandpiper's volume is defined on CPU, memory and network.
VOLUME_RESOURCES = [cluster.CPU, cluster.MEMORY, cluster.NETWORK]


class GreedyBaseline:
    """Plan like a strategy: ``plan(model)`` returns a :class:`Plan`."""

    name = NAME

    def __init__(self, thresholds, cooldown_s=0.0, bandwidth_mb_s=1000.0):
        self.thresholds = np.asarray(thresholds, dtype=float)
        self.cooldown_s = cooldown_s
        self.bandwidth = bandwidth_mb_s

    def plan(self, model):
        started = time.perf_counter()
        result = plan_mod.Plan(self.name)
        _Greedy(model, self.thresholds, self.cooldown_s,
                self.bandwidth).run(result)
        result.decision_s = time.perf_counter() - started
        return result


class _Greedy:

    def __init__(self, model, thresholds, cooldown_s, bandwidth):
        self.model = model
        self.bandwidth = bandwidth
        cap = model.capacity()
        self.limit = np.where(cap > 0, cap * thresholds, np.inf)
        self.inv_limit = np.where(cap > 0,
                                  1.0 / np.where(cap > 0, self.limit, 1.0),
                                  0.0)
        self.demand = model.host_demand()
        self.alloc = model.host_allocation()
        self.alloc_limit = model.allocation_limit()
        self.inv_capacity = np.where(cap > 0,
                                     1.0 / np.where(cap > 0, cap, 1.0), 0.0)
        self.inst_demand = model.instance_demand()
        self.inst_alloc = model.instance_allocation()
        self.inst_host = model.instances.host.copy()
        mem_gib = model.instances.mem_used_mb / 1024.0
        self.inv_gib = 1.0 / np.maximum(mem_gib, 1.0 / 1024)
        self.movable = model.movable(cooldown_s)
        self.hot0 = self._hot(slice(None))
        self.receivable = ~self.hot0 & ~model.hosts.disabled
        self.relative = (self.demand * self.inv_limit).max(axis=1)
        order = np.argsort(self.inst_host, kind='stable')
        bounds = np.searchsorted(self.inst_host[order],
                                 np.arange(len(model.hosts) + 1))
        self.members = {int(h): order[bounds[h]:bounds[h + 1]]
                        for h in np.flatnonzero(self.hot0)}

    def _hot(self, hosts):
        return (self.demand[hosts] > self.limit[hosts] + EPS).any(axis=-1)

    def run(self, result):
        hot = np.flatnonzero(self.hot0)
        for h in hot[np.argsort(-self.relative[hot], kind='stable')]:
            self._cool(int(h), result)
        result.unresolved = [self.model.hosts.names[h]
                             for h in np.flatnonzero(self._hot(slice(None)))]

    def _volume_to_size(self, instances, h):
        share = np.minimum(self.inst_demand[instances]
                           * self.inv_capacity[h], 0.99)
        volume = 1.0 / np.prod(1.0 - share[:, VOLUME_RESOURCES], axis=1)
        return volume * self.inv_gib[instances]

    def _cool(self, h, result):
        zone = self.model.hosts.availability_zone
        allowed = self.receivable & (zone == zone[h])
        left = [int(i) for i in self.members[h] if self.movable[i]]
        if not left:
            return
        # highest volume-to-size first; static for the host's instances
        order = np.argsort(-self._volume_to_size(left, h), kind='stable')
        for pos in order:
            if not self._hot(h):
                return
            i = left[pos]
            dest = self._coolest_fit(i, allowed)
            if dest >= 0:
                self._move(i, h, dest, result)

    def _coolest_fit(self, i, allowed):
        fits = (allowed
                & (self.demand + self.inst_demand[i]
                   <= self.limit + EPS).all(axis=1)
                & (self.alloc + self.inst_alloc[i]
                   <= self.alloc_limit + EPS).all(axis=1))
        hosts = np.flatnonzero(fits)
        if hosts.size == 0:
            return -1
        return int(hosts[np.argmin(self.relative[hosts])])

    def _move(self, i, src, dest, result):
        for h, sign in ((src, -1.0), (dest, 1.0)):
            self.demand[h] += sign * self.inst_demand[i]
            self.alloc[h] += sign * self.inst_alloc[i]
            self.relative[h] = (self.demand[h] * self.inv_limit[h]).max()
        self.inst_host[i] = dest
        names = self.model.hosts.names
        inst = self.model.instances
        transfer = float(cost.transfer_mb(inst.mem_used_mb[i],
                                          inst.dirty_rate_mb_s[i],
                                          self.bandwidth))
        result.migrations.append(plan_mod.Migration(
            instance=inst.names[i], source=names[src], target=names[dest],
            reason='greedy: hotspot on %s' % names[src],
            transfer_mb=transfer, duration_s=transfer / self.bandwidth))
