# SPDX-License-Identifier: Apache-2.0

import unittest

from nova_drs.bench import evaluate
from nova_drs.bench import greedy
from tests.unit.bench import fixtures as fx


def plan(model):
    return greedy.GreedyBaseline(fx.THRESHOLDS).plan(model)


def hot_host():
    """h0 at 9 busy cores (hot above 8.5); vm1 has most CPU per GiB."""
    return [fx.vm(0, vcpus=4, util=1.0, mem=4000),     # 1.0 core / GiB
            fx.vm(0, vcpus=1, util=1.0, mem=500),      # 2.0 cores / GiB
            fx.vm(0, vcpus=4, util=1.0, mem=3000)]     # 1.4 cores / GiB


class GreedyTest(unittest.TestCase):

    def test_moves_highest_load_per_gib_to_coolest_host(self):
        model = fx.model(3, hot_host() + [fx.vm(2, vcpus=4, util=0.5)])
        result = plan(model)
        self.assertEqual({'vm1': ('h0', 'h1')}, fx.moves(result))
        self.assertEqual([], result.unresolved)
        score = evaluate.score(model, result.migrations, fx.THRESHOLDS)
        self.assertEqual((1, 1, 0), (score.resolvable, score.resolved,
                                     score.violations))

    def test_respects_allocation_and_thresholds(self):
        vms = hot_host() + [
            # h1: coolest, but all 40 vCPUs allocated
            fx.vm(1, vcpus=40, util=0.01, mem=100),
            # h2: 7.8 cores, one more core would make it hot
            fx.vm(2, vcpus=10, util=0.78, mem=500),
            # h3: 6 cores, fits
            fx.vm(3, vcpus=6, util=1.0, mem=500),
            # h4: 7 cores, fits but warmer than h3
            fx.vm(4, vcpus=7, util=1.0, mem=500),
            # h5: idle, but 14,800 of 15,000 flavor MiB allocated
            fx.vm(5, vcpus=1, util=0.0, mem=100, flavor_mb=14800),
        ]
        model = fx.model(6, vms)
        result = plan(model)
        self.assertEqual({'vm1': ('h0', 'h3')}, fx.moves(result))
        score = evaluate.score(model, result.migrations, fx.THRESHOLDS)
        self.assertEqual(0, score.violations)
        self.assertEqual(0, score.step_violations)

    def test_loops_until_cool(self):
        # 10 busy cores: moving one 1-core VM is not enough
        model = fx.model(3, [fx.vm(0, vcpus=1, util=1.0)] * 10)
        result = plan(model)
        self.assertEqual([('h0', 'h1'), ('h0', 'h2')],
                         [(m.source, m.target) for m in result.migrations])
        self.assertEqual([], result.unresolved)

    def test_leaves_host_hot_when_nothing_fits(self):
        model = fx.model(2, [fx.vm(0, vcpus=1, util=1.0)] * 9
                         + [fx.vm(1, vcpus=8, util=1.0)])
        result = plan(model)
        self.assertEqual([], result.migrations)
        self.assertEqual(['h0'], result.unresolved)

    def test_never_moves_onto_a_host_that_was_hot(self):
        vms = [fx.vm(0, vcpus=6, util=1.0, mem=1000),    # moves first
               fx.vm(0, vcpus=4, util=0.8, mem=3000),    # h0: 9.2 cores
               fx.vm(1, vcpus=3, util=1.0, mem=1000),
               fx.vm(1, vcpus=6, util=1.0, mem=6000)]    # h1: 9 cores
        model = fx.model(3, vms)
        result = plan(model)
        # after vm0 left, only h0 (hot at the start) has room for h1's VMs
        self.assertEqual({'vm0': ('h0', 'h2')}, fx.moves(result))
        self.assertEqual(['h1'], result.unresolved)

    def test_does_not_move_opted_out_instances(self):
        model = fx.model(3, hot_host())
        model.instances.opt_out[1] = True
        self.assertEqual({'vm2': ('h0', 'h1')}, fx.moves(plan(model)))

    def test_does_not_change_the_model(self):
        model = fx.model(3, hot_host())
        before = model.instances.host.copy()
        plan(model)
        self.assertEqual(before.tolist(), model.instances.host.tolist())
