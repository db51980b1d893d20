# SPDX-License-Identifier: Apache-2.0
"""The ``hotspot`` strategy: remove hotspots with the fewest migrations.

*Description*

Hot hosts are handled one at a time, most overloaded first. For a hot host
the strategy looks for the smallest set of its instances whose removal
brings every hot resource back to its threshold, and among sets of that
size the one that costs least to migrate (the cost model in
:mod:`nova_drs.balancer.cost`: memory in use, dirty rate, bandwidth). It
searches exhaustively over sets of up to ``max_subset_size`` instances,
starting from the smallest size that can cover the excess, and tries the
cheapest covering sets in order until all members of one find a
destination. Beyond that size, or when no set of those sizes can be
placed, it adds instances greedily (the most excess covered per unit of
cost first).

Destinations satisfy every constraint of
:mod:`nova_drs.balancer.placement`; among them the instance goes where the
highest load after the move is lowest.

*Chains*

When an instance that must leave has no destination, the strategy may
first move one instance off a candidate destination to make room
(``max_chain_depth = 1``): a chain of exactly two migrations, make-room
move first. The make-room instance must itself go directly to a host with
room; chains are never nested. Chains are tried only after direct
placements of every set of the same size failed.

*Which hosts*

The hosts to relieve are those the model says are hot: with the agents'
hot flags (the live balancer), a host its agent flags whose measured load
is above a threshold; a flagged host already back under its thresholds
is *cooling* and gets no move (``Plan.cooling``). Loads are measured
loads: each host's ``base_load`` (its own processes) plus its guests'
demand, against each host's own thresholds; see
:mod:`nova_drs.balancer.placement`.

*Limitations*

A hotspot that cannot be resolved within ``max_migrations_per_source_host``
moves is left as it is (no partial moves) and reported as unresolved, as is
one where an instance that would have to move fits nowhere.
"""

import collections
import itertools
import math
import time

import numpy as np

from nova_drs.balancer import placement
from nova_drs.balancer import plan as plan_mod
from nova_drs.balancer import strategies
from nova_drs.model import cluster

EPS = placement.EPS

#: Upper bound on the sets of one size scored for one hot host; larger
#: hosts search among their most useful instances only.
COMBINATION_LIMIT = 20000
#: Covering sets of one size tried for placement, cheapest first.
PLACEMENT_TRIES = 48
#: Destinations examined for a make-room move.
CHAIN_HOSTS = 16

_combinations_cache = {}


class _Move(collections.namedtuple(
        '_Move', 'instance source target for_instance target_before '
                 'target_after')):
    """A tentative move; ``for_instance`` is set on make-room moves."""


def _combinations(n, k):
    key = (n, k)
    combos = _combinations_cache.get(key)
    if combos is None:
        combos = np.array(list(itertools.combinations(range(n), k)),
                          dtype=np.int64).reshape(-1, k)
        _combinations_cache[key] = combos
    return combos


def _pool_size(n, k):
    """Largest m <= n with C(m, k) <= COMBINATION_LIMIT."""
    m = n
    while m > k and math.comb(m, k) > COMBINATION_LIMIT:
        m -= 1
    return m


class HotspotResolver:
    """Resolve the hotspots of a :class:`PlacementState` in place."""

    def __init__(self, state, conf):
        self.state = state
        self.max_subset = conf.drs_balancer.max_subset_size
        self.chains = conf.drs_balancer.max_chain_depth > 0
        # Instances known to have no direct destination, and no chain
        # either. Room only shrinks while planning, except after a
        # make-room move, which clears both.
        self._no_direct = set()
        self._no_chain = set()

    # -- the whole cluster

    def resolve_all(self, plan):
        state = self.state
        hot = np.flatnonzero(state.hot_mask())
        order = sorted(hot, key=state.severity, reverse=True)
        for h in order:
            if state.n_moves >= state.max_total:
                break
            moves = self.resolve_host(int(h))
            if moves:
                plan.migrations.extend(moves)

    # -- one host

    def resolve_host(self, h):
        """Make ``h`` cool; return its migrations, or [] leaving it hot."""
        state = self.state
        excess = state.excess(h)
        hot_r = np.flatnonzero(excess > EPS)
        if hot_r.size == 0:
            return []
        need = excess[hot_r]
        budget = min(state.max_out - state.moves_out[h],
                     state.max_total - state.n_moves)
        cands = np.array([i for i in state.members(h) if state.can_move(i)],
                         dtype=np.int64)
        if budget <= 0 or cands.size == 0:
            return []
        dem = state.inst_demand[cands][:, hot_r]
        useful = (dem > EPS).any(axis=1)
        cands, dem = cands[useful], dem[useful]
        if cands.size == 0:
            return []
        k_lb = 1
        for col in range(need.size):
            top = np.cumsum(np.sort(dem[:, col])[::-1])
            if top[-1] < need[col] - EPS:
                return []        # even moving everything would not do
            k_lb = max(k_lb, int(np.searchsorted(top, need[col] - EPS)) + 1)
        if k_lb > budget:
            return []
        before = state.load(h)
        done = None
        for k in range(k_lb, min(self.max_subset, budget, cands.size) + 1):
            done = self._search_sets(cands, dem, need, k, chains=False)
            if done is None and self.chains:
                done = self._search_sets(cands, dem, need, k, chains=True)
            if done is not None:
                break
        if done is None:
            done = self._greedy(h, cands, dem, need, hot_r, budget)
        if done is None:
            return []
        return self._describe(h, hot_r, before, done)

    def _search_sets(self, cands, dem, need, k, chains):
        state = self.state
        pool = _pool_size(cands.size, k)
        if pool < cands.size:
            # keep the instances that cover most of the excess
            value = np.minimum(dem / need, 1.0).sum(axis=1)
            keep = np.sort(np.argsort(-value, kind='stable')[:pool])
        else:
            keep = np.arange(cands.size)
        combos = keep[_combinations(keep.size, k)]
        covers = (dem[combos].sum(axis=1) >= need - EPS).all(axis=1)
        combos = combos[covers]
        if combos.size == 0:
            return None
        known_bad = self._no_chain if chains else self._no_direct
        if known_bad:
            bad = np.array([int(i) in known_bad for i in cands])
            if bad.any():
                combos = combos[~bad[combos].any(axis=1)]
                if combos.size == 0:
                    return None
        costs = state.inst_cost[cands][combos].sum(axis=1)
        if costs.size > PLACEMENT_TRIES:
            first = np.argpartition(costs, PLACEMENT_TRIES)[:PLACEMENT_TRIES]
            order = first[np.argsort(costs[first], kind='stable')]
        else:
            order = np.argsort(costs, kind='stable')
        for row in order:
            moves = self._place(cands[combos[row]], chains)
            if moves is not None:
                return moves
        return None

    def _place(self, members, chains):
        """Place every instance of ``members``; all or nothing."""
        state = self.state
        # the largest first: they are the hardest to place
        size = (state.inst_demand[members] * state.inv_limit[
            state.inst_host[members]]).max(axis=1)
        done = []
        for i in members[np.argsort(-size, kind='stable')]:
            i = int(i)
            dest = state.best_destination(i)
            if dest >= 0:
                done.append(self._move(i, dest))
                continue
            self._no_direct.add(i)
            chain = self._make_room(i) if chains else None
            if chain is None:
                if chains:
                    self._no_chain.add(i)
                self._rollback(done)
                return None
            j, j_dest, dest = chain
            done.append(self._move(j, j_dest, for_instance=i))
            done.append(self._move(i, dest))
            # a make-room move frees space: known failures may fit now
            self._no_direct.clear()
            self._no_chain.clear()
        return done

    def _move(self, i, dest, for_instance=None):
        """Apply one move; remember what the reason will need."""
        state = self.state
        target_before = state.load(dest)
        src = state.apply(i, dest)
        return _Move(i, src, dest, for_instance, target_before,
                     state.load(dest))

    def _rollback(self, done):
        for move in reversed(done):
            self.state.undo(move.instance, move.source)

    def _make_room(self, i):
        """Find (j, j_dest, dest): moving j off dest lets i go there."""
        state = self.state
        allowed = state.placement_mask(i)
        deficit = np.maximum(state.inst_demand[i] - state.headroom, 0.0)
        alloc_deficit = np.maximum(state.inst_alloc[i]
                                   - state.alloc_headroom, 0.0)
        hosts = np.flatnonzero(allowed)
        if hosts.size == 0:
            return None
        # smallest normalised deficit first: cheapest to clear
        gap = (deficit[hosts] * state.inv_limit[hosts]).sum(axis=1) + (
            alloc_deficit[hosts] / np.maximum(state.alloc_limit[hosts], 1.0)
        ).sum(axis=1)
        options = []
        for d in hosts[np.argsort(gap, kind='stable')[:CHAIN_HOSTS]]:
            for j in state.members(int(d)):
                if not state.can_move(j):
                    continue
                if ((state.inst_demand[j] >= deficit[d] - EPS).all()
                        and (state.inst_alloc[j]
                             >= alloc_deficit[d] - EPS).all()):
                    options.append((state.inst_cost[j], j, int(d)))
        for _cost, j, d in sorted(options):
            j_dest = state.best_destination(j)
            if j_dest >= 0:
                return j, j_dest, d
        return None

    def _greedy(self, h, cands, dem, need, hot_r, budget):
        """Add instances by excess covered per cost until ``h`` is cool."""
        state = self.state
        done = []
        remaining = need.copy()
        left = list(range(cands.size))
        while (remaining > EPS).any() and len(done) < budget and left:
            value = np.minimum(dem[left] / np.maximum(remaining, EPS),
                               1.0)[:, remaining > EPS].sum(axis=1)
            value = value / np.maximum(state.inst_cost[cands[left]], 1.0)
            placed = False
            for pos in np.argsort(-value, kind='stable'):
                i = int(cands[left[pos]])
                dest = state.best_destination(i)
                if dest >= 0:
                    done.append(self._move(i, dest))
                    remaining = remaining - dem[left[pos]]
                    del left[pos]
                    placed = True
                    break
            if not placed:
                break
        if (remaining > EPS).any():
            self._rollback(done)
            return None
        return done

    # -- reasons

    def _describe(self, h, hot_r, before, done):
        state = self.state
        names = self.state.model.hosts.names
        inst_names = self.state.model.instances.names
        after = state.load(h)
        hot_text = ', '.join(
            '%s %.2f > %.2f -> %.2f' % (
                cluster.RESOURCES[r], before[r], state.thresholds[h, r],
                after[r]) for r in hot_r)
        moves = []
        for move in done:
            target_text = ', '.join(
                '%s %.2f -> %.2f' % (cluster.RESOURCES[r],
                                     move.target_before[r],
                                     move.target_after[r])
                for r in range(len(cluster.RESOURCES))
                if state.capacity[move.target, r] > 0)
            if move.for_instance is None:
                reason = ('hotspot on %s (%s) after %d migration(s); '
                          'target %s: %s' % (names[h], hot_text, len(done),
                                             names[move.target],
                                             target_text))
            else:
                reason = ('make room on %s for %s leaving hotspot %s; '
                          'target %s: %s' % (
                              names[move.source],
                              inst_names[move.for_instance], names[h],
                              names[move.target], target_text))
            transfer = float(state.inst_transfer[move.instance])
            moves.append(plan_mod.Migration(
                instance=inst_names[move.instance],
                source=names[move.source], target=names[move.target],
                reason=reason, transfer_mb=transfer,
                duration_s=transfer / state.bandwidth))
        return moves


class HotspotStrategy(strategies.Strategy):
    """Remove hotspots with the fewest migrations, then least memory.

    See the module documentation.
    """

    def plan(self, model):
        started = time.perf_counter()
        state = placement.PlacementState(model, self.conf, self.thresholds)
        result = plan_mod.Plan(self.name or 'hotspot')
        HotspotResolver(state, self.conf).resolve_all(result)
        finish(result, state)
        result.decision_s = time.perf_counter() - started
        return result


def finish(result, state):
    """Name the hosts left hot, and those cooling, in ``result``."""
    names = state.model.hosts.names
    result.unresolved = [names[h] for h in np.flatnonzero(state.hot_mask())]
    result.cooling = [names[h] for h in np.flatnonzero(state.cooling_mask())]
