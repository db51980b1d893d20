# SPDX-License-Identifier: Apache-2.0

import unittest

from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.bench import evaluate
from tests.unit.bench import fixtures as fx


def mig(instance, source, target):
    return plan_mod.Migration(instance, source, target, reason='test')


class ScoreTest(unittest.TestCase):

    def test_counts_over_allocated_host(self):
        model = fx.model(2, [fx.vm(0, vcpus=1, util=0.1),
                             fx.vm(1, vcpus=40, util=0.01)])
        s = evaluate.score(model, [mig('vm0', 'h0', 'h1')], fx.THRESHOLDS)
        self.assertEqual(1, s.over_allocated)
        self.assertEqual(0, s.new_hotspots)
        self.assertEqual(1, s.violations)
        self.assertEqual(1, s.step_violations)

    def test_counts_over_allocated_flavor_memory(self):
        model = fx.model(2, [fx.vm(0, mem=100, flavor_mb=2000),
                             fx.vm(1, mem=100, flavor_mb=14000)])
        s = evaluate.score(model, [mig('vm0', 'h0', 'h1')], fx.THRESHOLDS)
        self.assertEqual(1, s.over_allocated)

    def test_counts_new_hotspot(self):
        model = fx.model(2, [fx.vm(0, vcpus=1, util=1.0),
                             fx.vm(1, vcpus=8, util=1.0)])
        s = evaluate.score(model, [mig('vm0', 'h0', 'h1')], fx.THRESHOLDS)
        self.assertEqual((0, 1, 1), (s.over_allocated, s.new_hotspots,
                                     s.violations))

    def test_resolved_and_memory_moved(self):
        model = fx.model(2, [fx.vm(0, vcpus=2, util=1.0, mem=2048),
                             fx.vm(0, vcpus=8, util=0.9, mem=1024)])
        s = evaluate.score(model, [mig('vm0', 'h0', 'h1')], fx.THRESHOLDS)
        self.assertEqual((1, 1, 1, 0), (s.hot_before, s.resolvable,
                                        s.resolved, s.hot_after))
        self.assertEqual(1, s.migrations)
        self.assertAlmostEqual(2.0, s.moved_gib)
        self.assertEqual(0, s.violations)
        self.assertEqual(1.0, s.resolved_share)

    def test_step_violation_depends_on_order(self):
        vms = [fx.vm(0, vcpus=1, util=1.0), fx.vm(0, vcpus=8, util=1.0),
               fx.vm(1, vcpus=2, util=1.0), fx.vm(1, vcpus=6, util=1.0)]
        model = fx.model(3, vms)
        bad = [mig('vm0', 'h0', 'h1'), mig('vm2', 'h1', 'h2')]
        s = evaluate.score(model, bad, fx.THRESHOLDS)
        self.assertEqual((0, 1), (s.violations, s.step_violations))
        s = evaluate.score(model, bad[::-1], fx.THRESHOLDS)
        self.assertEqual((0, 0), (s.violations, s.step_violations))

    def test_host_with_oversized_instance_is_unresolvable(self):
        model = fx.model(3, [fx.vm(0, vcpus=10, util=0.9),      # 9 cores
                             fx.vm(1, vcpus=8, util=1.0),
                             fx.vm(1, vcpus=1, util=1.0)])     # 9 cores
        hot, resolvable = evaluate.resolvable_hot_hosts(model,
                                                        fx.THRESHOLDS)
        self.assertEqual([True, True, False], hot.tolist())
        self.assertEqual([False, True, False], resolvable.tolist())
        s = evaluate.score(model, [mig('vm0', 'h0', 'h2')], fx.THRESHOLDS)
        self.assertEqual(1, s.off_unresolvable)
        self.assertEqual(['h1'], s.unresolved_resolvable)

    def test_rejects_inconsistent_plan(self):
        model = fx.model(2, [fx.vm(0)])
        with self.assertRaises(evaluate.PlanError):
            evaluate.score(model, [mig('vm0', 'h1', 'h0')], fx.THRESHOLDS)
        with self.assertRaises(evaluate.PlanError):
            evaluate.score(model, [mig('nope', 'h0', 'h1')], fx.THRESHOLDS)

    def test_does_not_change_the_model(self):
        model = fx.model(2, [fx.vm(0)])
        evaluate.score(model, [mig('vm0', 'h0', 'h1')], fx.THRESHOLDS)
        self.assertEqual([0], model.instances.host.tolist())
