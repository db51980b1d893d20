# SPDX-License-Identifier: Apache-2.0
"""Working placement state shared by the strategies, and its constraints.

A strategy never changes the :class:`~nova_drs.model.cluster.ClusterModel`
it is given. It plans on a :class:`PlacementState`: per-host demand and
allocation that follow each tentative move, and the checks every move must
pass, the same in every strategy:

* the destination has room under Placement's allocation ratios (vCPUs and
  flavor memory, less reserved);
* the destination's load stays at or below its *ceiling*, every
  threshold minus ``relief_margin`` (a plan never creates a hotspot, nor
  a host that is hot again at the next busy minute): its measured load,
  the model's ``base_load`` plus its guests' demand, plus what moves in,
  against its own thresholds (``model.host_thresholds``: those its agent
  judges it by). With ``destination_peak_window`` its guests count at
  their worst recent time slice (``model.instances.recent_slices``, each
  guest's mean load per slice, summed slice by slice: a burst shorter
  than a slice counts by its share of it), what moves in at its load
  now; the hot host's relief is judged on its load now, lowered further
  when those slices show it climbing (:mod:`.trend`);
* the destination is enabled, not in maintenance, not hot, and was not hot
  when planning began, unless the plan cooled it and its agent does not
  flag it (offline models): such a host receives only under its comfort
  level;
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
  ``max_migrations_per_destination_host`` moves onto any host (0, the
  default: no cap, the executor paces them), and
  ``max_migrations_per_plan`` in all.

Which destination, among those allowed: ``[drs_balancer]
destination_policy``, see :mod:`nova_drs.balancer.planning.destinations`.

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

from nova_drs.balancer.planning import cost
from nova_drs.balancer.planning import destinations as dest_mod
from nova_drs.balancer.planning import trend
from nova_drs.balancer.view import peaks
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
        #: destination policy, comfort level and relief margin
        self.rules = dest_mod.Rules.from_conf(conf)
        #: (hosts, 4): each host's own, ``thresholds`` where it has none
        self.thresholds = model.host_thresholds(thresholds)
        # 0: no cap (the executor paces the moves of one host)
        self.max_out_unbounded = np.iinfo(np.int64).max
        self.max_out = (opts.max_migrations_per_source_host
                        or self.max_out_unbounded)
        self.max_in = (opts.max_migrations_per_destination_host
                       or self.max_out_unbounded)
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
        tracked = cap > 0
        #: (hosts, 4) demand a destination may reach and a hot host is
        #: relieved to: each threshold less the relief margin
        self.ceiling = np.where(
            tracked, np.maximum(cap * (self.thresholds - self.rules.margin),
                                0.0), np.inf)
        # the comfort level lies this far below the ceiling (>= 0)
        self.comfort_gap = np.where(
            tracked, np.minimum(
                cap * (self.rules.comfort_shares - self.rules.margin),
                self.ceiling), 0.0)
        self.demand = model.host_demand()
        self.alloc = model.host_allocation()
        self.alloc_limit = model.allocation_limit()
        # room under the ceiling (4 load columns) and under Placement's
        # limits (2 allocation columns), kept up to date incrementally in
        # one array so that a destination check is one comparison;
        # ``headroom`` and ``alloc_headroom`` are views of it
        self.room = np.concatenate([self.ceiling - self.demand,
                                    self.alloc_limit - self.alloc], axis=1)
        self.headroom = self.room[:, :4]
        self.alloc_headroom = self.room[:, 4:]
        # a destination is judged on its guests' recent peak
        # (``destination_peak_window``), not their load now: a guest that
        # dipped for one sample makes its host look emptier than it is,
        # and a host filled on that dip is hot again when the guest comes
        # back. Each host's room under its ceiling is less by how far its
        # guests' worst recent slice (summed slice by slice) is above
        # their load now; what moves in counts at its load now, and the
        # hot host's relief (``demand``) stays judged on the load now.
        # No recent slices in the model (offline models, option off):
        # no extra, the rule of earlier releases.
        self.window_s = opts.destination_peak_window
        # only the resources some host tracks (a capacity above 0): the
        # room of the others is infinite whatever their peak
        tracked_any = np.flatnonzero(tracked.any(axis=0)).tolist()
        #: (instances, slices, 4) float32, each instance's excess per
        #: recent slice over its demand now, 0 on untracked resources
        #: (None: off)
        self.inst_excess = (model.recent_excess(columns=tracked_any)
                            if self.window_s > 0 else None)
        #: (hosts, slices, 4) the original residents' excess per recent
        #: slice over their demand now, summed, kept up to date as they
        #: leave and come back; None: off
        self.recent = (None if self.inst_excess is None
                       else model.host_recent_excess(self.inst_excess,
                                                     columns=tracked_any))
        #: (hosts, 4) the recent peak's excess over the load now (>= 0)
        self.peak_extra = None
        if self.recent is not None:
            self.peak_extra = self.recent.max(axis=1)
            self.headroom -= self.peak_extra
        # room under the comfort level, kept beside ``room`` (the gap is
        # fixed per host; none on the allocation columns) so that a
        # comfort check costs no subtraction
        self.room_comfort = self.room - np.concatenate(
            [self.comfort_gap, np.zeros((len(cap), 2))], axis=1)
        # the pack rule's weights: a share of each limit (0 where a
        # resource is not tracked), and each host's weighted room under
        # its comfort level, kept up to date, so that a best-fit score is
        # one dot product per host (see fit_scores)
        self.fit_weight = np.concatenate(
            [self.inv_limit, 1.0 / np.maximum(self.alloc_limit, 1.0)],
            axis=1)
        finite_room = np.where(np.isfinite(self.room_comfort),
                               self.room_comfort, 0.0)
        self.fit_base = (finite_room * self.fit_weight).sum(axis=1)

        #: (hosts, 4) how much further than its ceiling each hot host
        #: is relieved for its rising trend (0 on the others, and when
        #: the option is off or the model has no ordered slices), see
        #: :mod:`nova_drs.balancer.planning.trend`
        self.trend_extra = np.zeros_like(self.demand)
        hot = np.flatnonzero(self._over())
        if (opts.relief_trend_horizon > 0 and self.window_s > 0
                and model.instances.recent_newest is not None
                and hot.size):
            self.trend_extra[hot] = trend.rising_extra(
                model, hot, self.window_s / peaks.BUCKETS,
                opts.relief_trend_horizon, cap[hot])

        self.inst_demand = model.instance_demand()
        self.inst_alloc = model.instance_allocation()
        #: (instances, 6): demand and allocation, as ``room``'s columns
        self.inst_size = np.concatenate([self.inst_demand, self.inst_alloc],
                                        axis=1)
        # what a destination's room is compared with (float tolerance)
        self.inst_need = self.inst_size - EPS
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
        #: guests per host (a host running none is empty: pack avoids it)
        self.guests = np.bincount(self.inst_host, minlength=len(hosts))

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
        # the zone and aggregate rules only bite when hosts differ in them
        self.zoned = bool(self.same_az and len(hosts)
                          and (hosts.availability_zone
                               != hosts.availability_zone[0]).any())
        self.aggregated = bool(self.same_aggregates and len(hosts)
                               and (hosts.aggregates
                                    != hosts.aggregates[0]).any())
        #: hosts cooled by this plan that now receive (comfort level only)
        self.reused = np.zeros(len(hosts), dtype=bool)
        self.n_reused = 0
        self.n_groups = len(model.groups)
        self.index = dest_mod.Index(self)
        self._zone_masks = {}
        self._aggregate_masks = {}
        # host -> its instances, made on first use from the instances
        # sorted by host (most hosts are never asked for), then kept up
        # to date; None: not asked yet
        self._members = None
        self._member_order = self._member_bounds = None
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

    def relief_need(self, host, margin=True, trend=False):
        """(hot resources, demand to move off ``host`` on each).

        With ``margin`` the host is relieved to its ceiling (threshold
        less ``relief_margin``: hysteresis), else just to its thresholds;
        with ``trend`` also by its rising trend (:attr:`trend_extra`).
        """
        hot_r = (self.excess(host) > EPS).nonzero()[0]
        target = self.ceiling[host] if margin else self.limit[host]
        if trend:
            target = target - self.trend_extra[host]
        return hot_r, np.maximum(self.demand[host, hot_r] - target[hot_r],
                                 0.0)

    def severity(self, host):
        """How far over its thresholds a host is (max relative excess)."""
        return float(np.maximum.reduce(self.excess(host)
                                       * self.inv_limit[host]))

    def members(self, host):
        """Instance indices currently on ``host`` (kept up to date)."""
        if self._members is None:
            order = np.argsort(self.inst_host, kind='stable')
            bounds = np.searchsorted(self.inst_host[order],
                                     np.arange(len(self.model.hosts) + 1))
            self._member_order = order
            self._member_bounds = bounds.tolist()
            self._members = {}
        members = self._members.get(host)
        if members is None:
            start, end = self._member_bounds[host:host + 2]
            members = self._members[host] = (
                self._member_order[start:end].tolist())
        return members

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

        A full scan, for the ``balance`` leveller and for diagnostics;
        the hotspot search asks :meth:`choose_destination`, which uses
        the destination index. Only the pool of hosts that had room when
        planning began is searched (room only shrinks while a plan is
        built), plus the hosts the plan cooled and reuses.
        """
        pool = self.pool
        if self.reused.any():
            pool = np.concatenate([pool, np.flatnonzero(self.reused)])
        return self.feasible(i, pool, False)

    def feasible(self, i, hosts, comfort=False, same_partition=False,
                 receivable=False):
        """The hosts of ``hosts`` that may receive ``i`` now.

        :param comfort: the load after the move must stay under the
            comfort level, not only under the ceiling
        :param same_partition: ``hosts`` are known to be in ``i``'s zone
            (and aggregates, when that option is on)
        :param receivable: ``hosts`` are known to receive (the
            destination index's: pool hosts and reused ones; a host
            never stops receiving during a plan)
        """
        need = self.inst_need[i]
        # take(): the rows of a few dozen hosts several times faster than
        # fancy indexing; logical_and.reduce: .all() without numpy's
        # Python-level wrapper (this is the planner's innermost call)
        room = (self.room_comfort if comfort else self.room).take(hosts,
                                                                  axis=0)
        ok = np.logical_and.reduce(room >= need, axis=1)
        source = self.inst_host[i]
        if not receivable:
            ok &= self.receivable.take(hosts)
            ok &= hosts != source
        elif self.receivable[source]:
            # known receiving hosts cannot hold a source that does not
            # receive (a hot host): the check only matters otherwise
            ok &= hosts != source
        if self.max_in < self.max_out_unbounded:
            ok &= self.moves_in.take(hosts) < self.max_in
        hosts = hosts[ok]
        if hosts.size and not comfort and self.n_reused:
            # a host cooled earlier in the plan receives only under its
            # comfort level
            reused = self.reused.take(hosts)
            if np.logical_or.reduce(reused):
                fit = np.logical_and.reduce(
                    self.room_comfort.take(hosts, axis=0) >= need, axis=1)
                hosts = hosts[~reused | fit]
        if hosts.size and (self.n_groups
                           or (not same_partition
                               and (self.zoned or self.aggregated))
                           or i in self.model.excluded_targets):
            hosts = self.rule_filter(i, hosts)
        return hosts

    def rule_filter(self, i, hosts):
        """Zone, aggregates, server groups and failed targets."""
        source = self.inst_host[i]
        model_hosts = self.model.hosts
        ok = np.ones(hosts.size, dtype=bool)
        if self.zoned:
            ok &= (model_hosts.availability_zone[hosts]
                   == model_hosts.availability_zone[source])
        if self.aggregated:
            ok &= (model_hosts.aggregates[hosts]
                   == model_hosts.aggregates[source])
        full = self._full_group_hosts(i)
        if full:
            ok &= ~np.isin(hosts, full)
        excluded = self.model.excluded_targets.get(i)
        if excluded:
            ok &= ~np.isin(hosts, list(excluded))
        return hosts[ok]

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

    def _soft_penalty(self, i, hosts):
        group = self.model.instances.group[i]
        if group != cluster.NO_GROUP and self.soft_penalty:
            sg = self.model.groups[group]
            if sg.policy == 'soft-anti-affinity':
                present = self.group_hosts[group]
                return self.soft_penalty * np.array(
                    [present.get(int(h), 0) > 0 for h in hosts])
        return 0.0

    def destination_scores(self, i, hosts):
        """Lower is better: the destination's highest load after the move.

        The ``spread`` rule: choosing the least-loaded destination keeps
        every host as far from its thresholds as possible. Soft
        anti-affinity adds a penalty where the group already has
        members.
        """
        demand = self.demand[hosts]
        if self.peak_extra is not None:
            demand = demand + self.peak_extra[hosts]
        after = (demand + self.inst_demand[i]) * self.inv_limit[hosts]
        return after.max(axis=1) + self._soft_penalty(i, hosts)

    def least_loaded(self, i, hosts):
        """The host of ``hosts`` with the lowest highest load after."""
        return int(hosts[np.argmin(self.destination_scores(i, hosts))])

    def fit_scores(self, i, hosts):
        """Lower is better: room left on ``hosts`` after receiving ``i``.

        The ``pack`` rule (best fit): the sum over tracked resources and
        the two allocation columns of the room left, as a share of the
        limit, so the host that ``i`` fills most tightly wins and the
        large free slots stay for large guests.
        """
        # sum over c of (room_comfort[h, c] - size[i, c]) * weight[h, c],
        # the first term kept per host in fit_base
        scores = (self.fit_base.take(hosts)
                  - self.fit_weight.take(hosts, axis=0) @ self.inst_size[i])
        if self.n_groups:
            scores = scores + self._soft_penalty(i, hosts)
        return scores

    def best_fit(self, i, hosts):
        return int(hosts[self.fit_scores(i, hosts).argmin()])

    def choose_destination(self, i):
        """(host, how it was chosen) for ``i`` now; (-1, None): none."""
        return self.index.choose(i)

    def best_destination(self, i):
        """The best host for ``i`` now, or -1 when none is allowed."""
        return self.index.choose(i)[0]

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
        self.index.moved(src, dest)
        return src

    def undo(self, i, src):
        """Reverse :meth:`apply` of instance ``i`` that came from ``src``."""
        dest = int(self.inst_host[i])
        self._shift(i, dest, src)
        self.moved[i] = False
        self.moves_out[src] -= 1
        self.moves_in[dest] -= 1
        self.n_moves -= 1
        self.index.moved(dest, src)

    def reuse(self, host):
        """Let ``host``, cooled by this plan, receive under its comfort level.

        Only without the agents' flags: a host its agent flags hot is
        refused by the Nova scheduler filter until the flag clears.
        """
        if (self.flagged is not None or self.model.hosts.disabled[host]
                or np.logical_or.reduce(self.demand[host]
                                        > self.limit[host] + EPS)):
            return
        if not self.reused[host]:
            self.reused[host] = True
            self.n_reused += 1
            self.receivable[host] = True
            self.index.grew(host)

    def _shift(self, i, src, dest):
        d, a = self.inst_demand[i], self.inst_alloc[i]
        size = self.inst_size[i]
        # in place on each row's view: ``a[h] -= x`` would also write the
        # row back onto itself (a __setitem__ per update)
        for table, leaving in ((self.demand, d), (self.alloc, a)):
            row = table[src]
            row -= leaving
            row = table[dest]
            row += leaving
        for table in (self.room, self.room_comfort):
            row = table[src]
            row += size
            row = table[dest]
            row -= size
        weight = self.fit_weight
        self.fit_base[src] += weight[src] @ size
        self.fit_base[dest] -= weight[dest] @ size
        if self.recent is not None:
            home = self.model.instances.host[i]
            if home == src:
                self._resident(i, src, -1.0)
            elif home == dest:
                self._resident(i, dest, 1.0)
        self.inst_host[i] = dest
        self.guests[src] -= 1
        self.guests[dest] += 1
        if self._members is not None:
            self.members(src).remove(i)
            self.members(dest).append(i)
        group = self.model.instances.group[i]
        if group != cluster.NO_GROUP:
            counts = self.group_hosts[int(group)]
            counts[src] -= 1
            if counts[src] <= 0:
                del counts[src]
            counts[dest] += 1

    def _resident(self, i, host, sign):
        """An original resident ``i`` left ``host`` (-1) or came back (+1).

        Its recent slices leave (or rejoin) the host's, and the host's
        room follows the change of its recent peak's excess. The room
        never shrinks when a resident leaves (its excess, at least 0,
        leaves with its demand), so the destination index's invariant
        holds; a return restores the room exactly.
        """
        # in place on the views (see _shift)
        recent = self.recent[host]
        if sign > 0:
            recent += self.inst_excess[i]
        else:
            recent -= self.inst_excess[i]
        # float rounding must not leave a negative excess
        extra = np.maximum(np.maximum.reduce(recent, axis=0), 0.0)
        delta = extra - self.peak_extra[host]
        self.peak_extra[host] = extra
        row = self.room[host, :4]
        row -= delta
        row = self.room_comfort[host, :4]
        row -= delta
        # untracked resources weigh 0 (their room stays infinite)
        self.fit_base[host] -= self.fit_weight[host, :4] @ delta

    def peak_note(self, i, dest):
        """Reason text when ``dest`` is judged on its recent peak, or ''.

        Before ``i`` moves there: the load the destination is judged on
        after the move, where its guests' recent peak adds to it.
        """
        if self.peak_extra is None:
            return ''
        extra = self.peak_extra[dest] * self.inv_capacity[dest]
        shown = (extra > 0.005).nonzero()[0]
        if not shown.size:
            return ''
        after = (self.demand[dest] + self.peak_extra[dest]
                 + self.inst_demand[i]) * self.inv_capacity[dest]
        return ('; judged on its guests\' %d-min peak: %s' % (
            round(self.window_s / 60.0),
            ', '.join('%s %.2f' % (cluster.RESOURCES[r], after[r])
                      for r in shown.tolist())))

    # -- reporting ----------------------------------------------------------

    def explain(self, i):
        """Why ``i`` has no destination: how many hosts each rule rules out.

        A full scan: only for hosts left hot, so only a few per plan.
        """
        hosts = self.model.hosts
        source = self.inst_host[i]
        cand = np.flatnonzero(~hosts.disabled)
        cand = cand[cand != source]
        parts = []
        if self.same_az:
            same = (hosts.availability_zone[cand]
                    == hosts.availability_zone[source])
            cand = cand[same]
        if self.same_aggregates:
            cand = cand[hosts.aggregates[cand] == hosts.aggregates[source]]
        total = cand.size
        if total == 0:
            return ('no other enabled host%s (the others are disabled, '
                    'paused or in maintenance)'
                    % (' in its zone' if self.same_az else ''))
        hot = ~self.receivable[cand]
        if hot.any():
            parts.append('%d hot or cooling' % hot.sum())
        cand = cand[~hot]
        names = ('CPU load', 'memory load', 'disk load', 'network load')
        for r, name in enumerate(names):
            short = self.headroom[cand, r] < self.inst_demand[i, r] - EPS
            if short.any():
                parts.append('%d lack %s room under threshold - %.2f'
                             % (short.sum(), name, self.rules.margin))
        for c, name in enumerate(('vCPU', 'flavor memory')):
            short = self.alloc_headroom[cand, c] < self.inst_alloc[i, c] - EPS
            if short.any():
                parts.append('%d lack %s allocation room' % (short.sum(),
                                                             name))
        capped = self.moves_in[cand] >= self.max_in
        if capped.any():
            parts.append('%d reached max_migrations_per_destination_host '
                         '(%d)' % (capped.sum(), self.max_in))
        full = self._full_group_hosts(i)
        if full:
            group = self.model.groups[self.model.instances.group[i]]
            parts.append('%d hold max_server_per_host members of '
                         'anti-affinity server group %s'
                         % (np.isin(cand, full).sum(), group.name))
        excluded = self.model.excluded_targets.get(i)
        if excluded:
            parts.append('%d failed recently for it'
                         % np.isin(cand, list(excluded)).sum())
        return ('of %d host(s)%s, for %s (%s): %s' % (
            total, ' in its zone' if self.same_az else '',
            self.model.instances.names[i], self.describe_demand(i),
            '; '.join(parts) or 'none fits'))

    def describe_demand(self, i):
        return '%.1f cores, %.0f MiB used, %d vCPU, %d MiB flavor' % (
            self.inst_demand[i, 0], self.inst_demand[i, 1],
            self.inst_alloc[i, 0], self.inst_alloc[i, 1])

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
