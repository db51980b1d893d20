# SPDX-License-Identifier: Apache-2.0

import itertools
import unittest

import numpy as np

from nova_drs.bench import evaluate
from nova_drs.bench import optimum
from tests.unit.bench import fixtures as fx


def solve(model):
    return optimum.solve(model, fx.THRESHOLDS, time_limit=20)


def big_or_small():
    """h0 at 9.5 busy cores, 1.0 above its 8.5 limit.

    Moving ``big`` (2 cores) or ``filler`` (6.3 cores) alone is enough;
    ``s1`` and ``s2`` (0.6 cores each) are enough together, with less
    memory than either single move.
    """
    return [fx.vm(0, vcpus=4, util=0.5, mem=3000),      # vm0 big
            fx.vm(0, vcpus=1, util=0.6, mem=500),       # vm1 s1
            fx.vm(0, vcpus=1, util=0.6, mem=500),       # vm2 s2
            fx.vm(0, vcpus=7, util=0.9, mem=4500)]      # vm3 filler


def brute_force(model, thresholds):
    """(unresolved, migrations, MiB) of the best plan by enumeration."""
    thresholds = np.asarray(thresholds)
    hot, resolvable = evaluate.resolvable_hot_hosts(model, thresholds)
    cands = np.flatnonzero(resolvable[model.instances.host])
    dests = np.flatnonzero(~hot)
    cap = model.capacity()
    limit = np.where(cap > 0, cap * thresholds, np.inf)
    alloc_limit = model.allocation_limit()
    demand0, alloc0 = model.host_demand(), model.host_allocation()
    idem, ialloc = model.instance_demand(), model.instance_allocation()
    mem = model.instances.mem_used_mb
    best = None
    for choice in itertools.product([-1] + dests.tolist(),
                                    repeat=cands.size):
        demand, alloc = demand0.copy(), alloc0.copy()
        for i, d in zip(cands, choice):
            if d >= 0:
                src = model.instances.host[i]
                demand[src] -= idem[i]
                demand[d] += idem[i]
                alloc[src] -= ialloc[i]
                alloc[d] += ialloc[i]
        if ((demand[dests] > limit[dests] + 1e-9).any()
                or (alloc[dests] > alloc_limit[dests] + 1e-9).any()):
            continue
        still_hot = (demand > limit + 1e-9).any(axis=1) & resolvable
        moved = [i for i, d in zip(cands, choice) if d >= 0]
        key = (int(still_hot.sum()), len(moved),
               float(mem[moved].sum()) if moved else 0.0)
        if best is None or key < best:
            best = key
    return best


class OptimumTest(unittest.TestCase):

    def test_one_big_move_beats_two_small_ones(self):
        model = fx.model(2, big_or_small())
        result = solve(model)
        self.assertEqual('optimal', result.status)
        # one move; of the two single moves, the one with less memory
        self.assertEqual({'vm0': ('h0', 'h1')}, fx.moves(result))
        self.assertEqual((1, 1), (result.resolvable, result.resolved))
        self.assertAlmostEqual(3000 / 1024, result.moved_gib)

    def test_memory_breaks_ties_between_equal_counts(self):
        vms = [fx.vm(0, vcpus=2, util=1.0, mem=2000),
               fx.vm(0, vcpus=2, util=1.0, mem=1500)]
        # eleven half-core VMs at 100 MiB: two of them would also do,
        # but that is two migrations
        vms += [fx.vm(0, vcpus=1, util=0.5, mem=100)] * 11
        result = solve(fx.model(2, vms))
        self.assertEqual({'vm1': ('h0', 'h1')}, fx.moves(result))

    def test_small_moves_when_big_ones_do_not_fit(self):
        # h1 has 1.7 cores of headroom: big (2) and filler (6.3) do not fit
        model = fx.model(2, big_or_small()
                         + [fx.vm(1, vcpus=8, util=0.85, mem=500)])
        result = solve(model)
        self.assertEqual({'vm1': ('h0', 'h1'), 'vm2': ('h0', 'h1')},
                         fx.moves(result))

    def test_respects_allocation_limits(self):
        # h1 idle but with 38 of 40 vCPUs allocated: only a 1-vCPU VM fits,
        # and h2 takes one more core before it gets hot
        model = fx.model(3, big_or_small()
                         + [fx.vm(1, vcpus=38, util=0.0, mem=100),
                            fx.vm(2, vcpus=8, util=0.95, mem=100)])
        result = solve(model)
        self.assertEqual(2, result.n_migrations)
        score = evaluate.score(model, result.migrations, fx.THRESHOLDS)
        self.assertEqual((0, 0, 1), (score.violations, score.step_violations,
                                     score.resolved))

    def test_unresolvable_hotspot_needs_no_move(self):
        model = fx.model(2, [fx.vm(0, vcpus=10, util=0.9),
                             fx.vm(0, vcpus=1, util=0.5)])
        result = solve(model)
        self.assertEqual('optimal', result.status)
        self.assertEqual((0, 0, 0), (result.resolvable, result.resolved,
                                     result.n_migrations))

    def test_reports_resolvable_hotspot_it_cannot_resolve(self):
        # nothing fits on h1
        model = fx.model(2, [fx.vm(0, vcpus=1, util=1.0)] * 9
                         + [fx.vm(1, vcpus=8, util=1.0)])
        result = solve(model)
        self.assertEqual((1, 0, 0), (result.resolvable, result.resolved,
                                     result.n_migrations))

    def test_matches_brute_force_on_random_clusters(self):
        rng = np.random.default_rng(7)
        checked = 0
        while checked < 10:
            vms = []
            for h, count in ((0, 3), (1, 3), (2, 3), (3, 2)):
                for _ in range(count):
                    vms.append(fx.vm(h, vcpus=int(rng.integers(1, 6)),
                                     util=float(rng.uniform(0.6, 1.0)),
                                     mem=int(rng.integers(5, 40)) * 100))
            model = fx.model(4, vms)
            _hot, resolvable = evaluate.resolvable_hot_hosts(
                model, fx.THRESHOLDS)
            if not resolvable.any():
                continue
            checked += 1
            result = solve(model)
            self.assertEqual('optimal', result.status)
            got = (result.resolvable - result.resolved,
                   result.n_migrations, result.moved_gib * 1024)
            want = brute_force(model, fx.THRESHOLDS)
            self.assertEqual(want[:2], got[:2])
            self.assertAlmostEqual(want[2], got[2])
            score = evaluate.score(model, result.migrations, fx.THRESHOLDS)
            self.assertEqual(0, score.violations + score.step_violations)
            self.assertEqual(result.resolved, score.resolved)
