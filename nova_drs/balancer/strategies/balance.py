# SPDX-License-Identifier: Apache-2.0
"""The ``balance`` strategy: resolve hotspots, then even out host load.

*Description*

First exactly what the ``hotspot`` strategy does. Then it evens out load
across the enabled hosts that are not hot, also when a hotspot is left
that cannot be relieved (its reason is in the plan): one such host does
not stop the rest of the cluster from being levelled. Each step moves
one instance off one of the most loaded hosts to the destination that
lowers the sum, over hosts and tracked resources, of squared load (load =
demand as a share of capacity) the most. Moving load ``x`` from a host at
load ``a`` to an identical host at load ``b`` lowers that sum by
``2x(a - b - x)``: the gain is local to the two hosts, so the same setting
means the same on 10 hosts and on 10,000.

*Churn control*

It does nothing while the spread of load (the largest, over resources, of
the standard deviation of host load) is below ``balance_threshold``, and
makes a migration only when its gain is at least
``balance_min_improvement`` (0.02 by default: moving 10% of a host's
capacity across a 20-point gap). The per-plan and per-host migration
limits and every placement constraint of
:mod:`nova_drs.balancer.planning.placement` apply; destinations never exceed a
threshold.
"""

import time

import numpy as np

from nova_drs.balancer.planning import placement
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer import strategies
from nova_drs.balancer.strategies import hotspot

#: Most loaded hosts considered as sources in each step.
SOURCES_PER_STEP = 4


class BalanceStrategy(strategies.Strategy):
    """Resolve hotspots, then lower the spread of host load."""

    def plan(self, model):
        started = time.perf_counter()
        opts = self.conf.drs_balancer
        state = placement.PlacementState(model, self.conf, self.thresholds)
        result = plan_mod.Plan(self.name or 'balance')
        hotspot.HotspotResolver(state, self.conf).resolve_all(result)
        _Leveller(state, opts.balance_threshold,
                  opts.balance_min_improvement).run(result)
        hotspot.finish(result, state)
        result.decision_s = time.perf_counter() - started
        return result


class _Leveller:
    def __init__(self, state, threshold, min_improvement):
        self.state = state
        self.threshold = threshold
        self.min_improvement = min_improvement
        # hosts left hot are neither levelled nor counted: the hotspot
        # pass did what it could for them
        self.active = ~state.model.hosts.disabled & ~state.hot_mask()
        # only resources tracked on every active host are levelled
        self.cols = np.flatnonzero(
            (state.capacity[self.active] > 0).all(axis=0))

    def _loads(self):
        s = self.state
        return (s.demand * s.inv_capacity)[:, self.cols]

    def spread(self, loads=None):
        """Largest standard deviation of host load over resources."""
        loads = self._loads() if loads is None else loads
        return float(loads[self.active].std(axis=0).max())

    def run(self, result):
        state = self.state
        if self.active.sum() < 2 or self.cols.size == 0:
            return
        while state.n_moves < state.max_total:
            loads = self._loads()
            before = self.spread(loads)
            if before < self.threshold:
                return
            best = self._best_move(loads)
            if best is None:
                return
            i, dest = best
            peak = state.peak_note(i, dest)
            src = state.apply(i, dest)
            result.migrations.append(
                self._migration(i, src, dest, before, self.spread(), peak))

    def _best_move(self, loads):
        """(instance, destination) of the best move, or None."""
        state = self.state
        act = self.active
        peak = np.where(act, loads.max(axis=1), -np.inf)
        best = None
        for src in np.argsort(-peak, kind='stable')[:SOURCES_PER_STEP]:
            if state.moves_out[src] >= state.max_out:
                continue
            for i in state.members(int(src)):
                if not state.can_move(i):
                    continue
                dests = state.destinations(i)
                dests = dests[act[dests]]
                if dests.size == 0:
                    continue
                x = state.inst_demand[i][self.cols]
                ls = loads[src]
                ls_new = ls - x * state.inv_capacity[src][self.cols]
                ld = loads[dests]
                if state.peak_extra is not None:
                    # a destination counts its guests' recent peak
                    # (destination_peak_window), the source its load now
                    ld = ld + (state.peak_extra[dests]
                               * state.inv_capacity[dests])[:, self.cols]
                ld_new = ld + x * state.inv_capacity[dests][:, self.cols]
                gains = ((ls ** 2 - ls_new ** 2).sum()
                         + (ld ** 2 - ld_new ** 2).sum(axis=1))
                pos = int(np.argmax(gains))
                gain = float(gains[pos])
                if gain < self.min_improvement:
                    continue
                # among similar gains prefer the cheaper migration
                score = gain / (1.0 + state.inst_cost[i] / 65536.0)
                if best is None or score > best[0]:
                    best = (score, i, int(dests[pos]))
        return None if best is None else best[1:]

    def _migration(self, i, src, dest, before, after, peak=''):
        state = self.state
        names = state.model.hosts.names
        transfer = float(state.inst_transfer[i])
        reason = ('balance: spread of host load %.3f -> %.3f; source %s '
                  '(%s), target %s (%s)%s' % (
                      before, after, names[src], state.describe_load(src),
                      names[dest], state.describe_load(dest), peak))
        return plan_mod.Migration(
            instance=state.model.instances.names[i], source=names[src],
            target=names[dest], reason=reason, transfer_mb=transfer,
            duration_s=transfer / state.bandwidth)
