# SPDX-License-Identifier: Apache-2.0
"""Working placement state shared by the strategies, and its constraints.

A strategy never changes the :class:`~nova_drs.model.cluster.ClusterModel`
it is given. It plans on a :class:`PlacementState`: per-host demand and
allocation that follow each tentative move, and the checks every move must
pass, the same in every strategy:

* the destination has room under Placement's allocation ratios (vCPUs and
  flavor memory, less reserved);
* the destination's load stays at or below every threshold (a plan never
  creates a hotspot): its measured load, the model's ``base_load`` plus
  its guests' demand, plus what moves in, against its own thresholds
  (``model.host_thresholds``: those its agent judges it by);
* the destination is enabled, not in maintenance, not hot, and was not hot
  when planning began (hosts being relieved do not receive load);
* same availability zone as the source (``same_availability_zone``) and,
  optionally, the same aggregates;
* server groups: members of a hard-affinity group with other members do not
  move; an anti-affinity member never joins a host that already holds
  ``max_server_per_host`` members of its group; soft policies cost a
  penalty instead;
* opted-out instances and instances in their cool-down do not move;
* an instance is never planned onto a host its migration to failed
  recently (``model.excluded_targets``);
* at most ``max_migrations_per_source_host`` moves off and
  ``max_migrations_per_destination_host`` moves onto any host, and
  ``max_migrations_per_plan`` in all.

Which hosts are hot. When the model carries its agents' hot flags
(``model.hosts.hot``, the live balancer's), a host is a *source* when its
agent flags it hot and some resource of it is above its threshold; the
moves bring every resource of it back to its threshold. A host flagged
hot whose smoothed load is already back under every threshold is
*cooling*: its agent's k-of-n rule has not cleared it yet, it needs no
move (:meth:`PlacementState.cooling_mask`), and, like every flagged host,
it receives nothing: the Nova scheduler filter rejects it too. A host
above a threshold that its agent does not flag (one spike) is neither a
source nor a destination. Without flags (offline models) a host is hot
when its load is above a threshold, as it always was.
"""

import collections

import numpy as np

from nova_drs.balancer import cost
from nova_drs.model import cluster

# Loads are compared with a small tolerance so that float rounding never
# turns an exact fit into a refusal or an exact threshold into a hotspot.
EPS = 1e-9


class PlacementState:
    """Per-host demand and allocation under a plan being built."""

    def __init__(self, model, conf, thresholds):
        self.model = model
        self.conf = conf
        opts = conf.drs_balancer
        #: (hosts, 4): each host's own, ``thresholds`` where it has none
        self.thresholds = model.host_thresholds(thresholds)
        self.max_out = opts.max_migrations_per_source_host
        self.max_in = opts.max_migrations_per_destination_host
        self.max_total = opts.max_migrations_per_plan
        self.same_az = opts.same_availability_zone
        self.same_aggregates = opts.same_aggregates
        self.soft_penalty = opts.soft_affinity_penalty
        self.bandwidth = opts.migration_bandwidth_mb_s

        hosts, inst = model.hosts, model.instances
        cap = model.capacity()
        self.capacity = cap
        # a resource with no known capacity is not tracked on that host
        self.limit = np.where(cap > 0, cap * self.thresholds, np.inf)
        self.inv_limit = np.where(np.isfinite(self.limit),
                                  1.0 / np.where(cap > 0, self.limit, 1.0),
                                  0.0)
        self.inv_capacity = np.where(cap > 0, 1.0 / np.where(cap > 0, cap, 1),
                                     0.0)
        self.demand = model.host_demand()
        self.alloc = model.host_allocation()
        self.alloc_limit = model.allocation_limit()
        # headroom is kept up to date incrementally: destination checks are
        # then one comparison over all hosts
        self.headroom = self.limit - self.demand
        self.alloc_headroom = self.alloc_limit - self.alloc

        self.inst_demand = model.instance_demand()
        self.inst_alloc = model.instance_allocation()
        self.inst_host = inst.host.copy()
        self.inst_transfer = cost.transfer_mb(inst.mem_used_mb,
                                              inst.dirty_rate_mb_s,
                                              self.bandwidth)
        self.inst_cost = self._instance_costs()
        self.movable = model.movable(opts.instance_cooldown)
        self.moved = np.zeros(len(inst), dtype=bool)
        self.moves_out = np.zeros(len(hosts), dtype=np.int64)
        self.moves_in = np.zeros(len(hosts), dtype=np.int64)
        self.n_moves = 0

        # the agents' flags (None: offline model, hot is over threshold)
        self.flagged = (None if hosts.hot is None
                        else np.asarray(hosts.hot, dtype=bool).any(axis=1))
        self.initially_over = self._over()
        # neither what its agent flags (the scheduler filter rejects it)
        # nor what is over a threshold receives
        self.receivable = ~hosts.disabled & ~self.initially_over
        if self.flagged is not None:
            self.receivable &= ~self.flagged
        self.pool = np.flatnonzero(
            self.receivable & (self.headroom > 0).all(axis=1)
            & (self.alloc_headroom > 0).all(axis=1))
        self.pool_zone = hosts.availability_zone[self.pool]
        self.pool_aggregates = hosts.aggregates[self.pool]
        self._zone_masks = {}
        self._aggregate_masks = {}
        self._members = None
        # server group -> Counter(host -> members there)
        self.group_hosts = collections.defaultdict(collections.Counter)
        for i in np.nonzero(inst.group != cluster.NO_GROUP)[0]:
            self.group_hosts[int(inst.group[i])][int(self.inst_host[i])] += 1

    # -- queries ------------------------------------------------------------

    def _over(self):
        return (self.demand > self.limit + EPS).any(axis=1)

    def hot_mask(self):
        """Hosts to relieve: above a threshold (and flagged, with flags)."""
        over = self._over()
        return over if self.flagged is None else over & self.flagged

    def cooling_mask(self):
        """Hosts flagged hot that were under every threshold to begin with.

        Their agent has not cleared them yet (k-of-n): no move needed.
        """
        if self.flagged is None:
            return np.zeros(len(self.model.hosts), dtype=bool)
        return self.flagged & ~self.initially_over

    def excess(self, host):
        """Demand above the limit on ``host``, per resource (>= 0)."""
        return np.maximum(self.demand[host] - self.limit[host], 0.0)

    def severity(self, host):
        """How far over its thresholds a host is (max relative excess)."""
        return float((self.excess(host) * self.inv_limit[host]).max())

    def members(self, host):
        """Instance indices currently on ``host`` (kept up to date)."""
        if self._members is None:
            order = np.argsort(self.inst_host, kind='stable')
            bounds = np.searchsorted(self.inst_host[order],
                                     np.arange(len(self.model.hosts) + 1))
            self._members = [order[bounds[h]:bounds[h + 1]].tolist()
                             for h in range(len(self.model.hosts))]
        return self._members[host]

    def can_move(self, i):
        return bool(self.movable[i] and not self.moved[i])

    def _zone_mask(self, zone):
        mask = self._zone_masks.get(zone)
        if mask is None:
            mask = self.model.hosts.availability_zone == zone
            self._zone_masks[zone] = mask
        return mask

    def _aggregate_mask(self, aggs):
        mask = self._aggregate_masks.get(aggs)
        if mask is None:
            mask = self.model.hosts.aggregates == aggs
            self._aggregate_masks[aggs] = mask
        return mask

    def placement_mask(self, i, source=None):
        """Hosts that may receive instance ``i``, capacity aside.

        Zone, aggregates, enabled state, per-host move limits and hard
        server-group rules.
        """
        source = self.inst_host[i] if source is None else source
        hosts = self.model.hosts
        mask = self.receivable & (self.moves_in < self.max_in)
        if self.same_az:
            mask = mask & self._zone_mask(hosts.availability_zone[source])
        if self.same_aggregates:
            mask = mask & self._aggregate_mask(hosts.aggregates[source])
        full = self._full_group_hosts(i)
        if full:
            mask[full] = False
        excluded = self.model.excluded_targets.get(i)
        if excluded:
            mask[list(excluded)] = False
        # every '&' above made a new array, so this does not leak
        mask[source] = False
        return mask

    def destinations(self, i):
        """Indices of every host instance ``i`` may move to now.

        Only the pool of hosts that had room when planning began is
        searched: room only shrinks while a plan is built (sources are
        hot, so never receive), so the pool stays a superset of the
        answer and keeps each search short on large regions.
        """
        pool = self.pool
        ok = ((self.headroom[pool] >= self.inst_demand[i] - EPS).all(axis=1)
              & (self.alloc_headroom[pool]
                 >= self.inst_alloc[i] - EPS).all(axis=1)
              & (self.moves_in[pool] < self.max_in)
              & (pool != self.inst_host[i]))
        source = self.inst_host[i]
        hosts = self.model.hosts
        if self.same_az:
            ok &= self.pool_zone == hosts.availability_zone[source]
        if self.same_aggregates:
            ok &= self.pool_aggregates == hosts.aggregates[source]
        full = self._full_group_hosts(i)
        if full:
            ok &= ~np.isin(pool, full)
        excluded = self.model.excluded_targets.get(i)
        if excluded:
            ok &= ~np.isin(pool, list(excluded))
        return pool[ok]

    def _full_group_hosts(self, i):
        """Hosts an anti-affinity member of ``i``'s group may not join."""
        group = self.model.instances.group[i]
        if group == cluster.NO_GROUP:
            return []
        sg = self.model.groups[group]
        if sg.policy != 'anti-affinity':
            return []
        return [h for h, count in self.group_hosts[group].items()
                if count >= sg.max_server_per_host]

    def destination_scores(self, i, hosts):
        """Lower is better: the destination's highest load after the move.

        Choosing the least-loaded destination keeps every host as far from
        its thresholds as possible, so a plan does not seed the next
        hotspot. Soft-anti-affinity adds a penalty where the group already
        has members.
        """
        after = (self.demand[hosts] + self.inst_demand[i]) * \
            self.inv_limit[hosts]
        score = after.max(axis=1)
        group = self.model.instances.group[i]
        if group != cluster.NO_GROUP and self.soft_penalty:
            sg = self.model.groups[group]
            if sg.policy == 'soft-anti-affinity':
                present = self.group_hosts[group]
                score = score + self.soft_penalty * np.array(
                    [present.get(int(h), 0) > 0 for h in hosts])
        return score

    def best_destination(self, i):
        """The best host for ``i`` now, or -1 when none is allowed."""
        candidates = self.destinations(i)
        if candidates.size == 0:
            return -1
        scores = self.destination_scores(i, candidates)
        return int(candidates[np.argmin(scores)])

    def _instance_costs(self):
        """Planner cost of moving each instance: data sent, plus penalties.

        A soft-affinity member may leave its peers, but that is dearer.
        """
        costs = self.inst_transfer.copy()
        if self.soft_penalty:
            for g, group in enumerate(self.model.groups):
                if group.policy == 'soft-affinity':
                    members = self.model.instances.group == g
                    costs[members] *= 1.0 + self.soft_penalty
        return costs

    # -- changes ------------------------------------------------------------

    def apply(self, i, dest):
        """Move instance ``i`` to ``dest`` in the working state."""
        src = int(self.inst_host[i])
        self._shift(i, src, dest)
        self.moved[i] = True
        self.moves_out[src] += 1
        self.moves_in[dest] += 1
        self.n_moves += 1
        return src

    def undo(self, i, src):
        """Reverse :meth:`apply` of instance ``i`` that came from ``src``."""
        dest = int(self.inst_host[i])
        self._shift(i, dest, src)
        self.moved[i] = False
        self.moves_out[src] -= 1
        self.moves_in[dest] -= 1
        self.n_moves -= 1

    def _shift(self, i, src, dest):
        d, a = self.inst_demand[i], self.inst_alloc[i]
        self.demand[src] -= d
        self.demand[dest] += d
        self.alloc[src] -= a
        self.alloc[dest] += a
        self.headroom[src] += d
        self.headroom[dest] -= d
        self.alloc_headroom[src] += a
        self.alloc_headroom[dest] -= a
        self.inst_host[i] = dest
        if self._members is not None:
            self._members[src].remove(i)
            self._members[dest].append(i)
        group = self.model.instances.group[i]
        if group != cluster.NO_GROUP:
            counts = self.group_hosts[int(group)]
            counts[src] -= 1
            if counts[src] <= 0:
                del counts[src]
            counts[dest] += 1

    # -- reporting ----------------------------------------------------------

    def load(self, host):
        """Load of ``host`` as shares of capacity, per resource."""
        return self.demand[host] * self.inv_capacity[host]

    def describe_load(self, host, resources=None):
        load = self.load(host)
        cols = range(len(cluster.RESOURCES)) if resources is None \
            else resources
        return ', '.join('%s %.2f' % (cluster.RESOURCES[r], load[r])
                         for r in cols
                         if self.capacity[host, r] > 0)
