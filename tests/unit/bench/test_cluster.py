# SPDX-License-Identifier: Apache-2.0
"""The bench cluster's first-fit placement, and the optimum's margin."""

import unittest

import numpy as np

from nova_drs.bench import cluster as bench_cluster
from nova_drs.bench import optimum
from tests.unit.bench import fixtures


def brute_first_fit(n_hosts, vcpus, memory, vcpu_cap, mem_cap):
    alloc_v = np.zeros(n_hosts)
    alloc_m = np.zeros(n_hosts)
    out = []
    for v, m in zip(vcpus, memory):
        fit = np.flatnonzero((alloc_v + v <= vcpu_cap)
                             & (alloc_m + m <= mem_cap))
        if fit.size == 0:
            out.append(-1)
            continue
        h = int(fit[0])
        alloc_v[h] += v
        alloc_m[h] += m
        out.append(h)
    return out


class FirstFitTest(unittest.TestCase):

    def test_same_as_scanning_every_host(self):
        rng = np.random.default_rng(3)
        for n_hosts, n_inst in ((5, 80), (20, 150), (50, 200)):
            vcpus = rng.choice([1, 2, 4, 8], size=n_inst).tolist()
            memory = [v * int(rng.choice([2048, 4096])) for v in vcpus]
            got = bench_cluster._first_fit(n_hosts, vcpus, memory, 32.0,
                                           96000.0).tolist()
            self.assertEqual(brute_first_fit(n_hosts, vcpus, memory, 32.0,
                                             96000.0), got)

    def test_region_sized_cluster_builds(self):
        model, unplaced = bench_cluster.build(2000, np.full(10, 50.0),
                                              seed=1)
        self.assertEqual(0, unplaced)
        self.assertEqual(20000, len(model.instances))


class RecentSlicesTest(unittest.TestCase):

    def test_each_guest_carries_its_vms_recent_samples(self):
        rng = np.random.default_rng(5)
        recent = rng.uniform(0.0, 100.0, size=(40, 3))
        now = recent[:, -1]
        plain, _ = bench_cluster.build(30, now, seed=4)
        model, _ = bench_cluster.build(30, now, seed=4,
                                       recent_percent=recent)
        inst = model.instances
        # the same cluster, with slices
        np.testing.assert_array_equal(plain.instances.cpu_util,
                                      inst.cpu_util)
        np.testing.assert_array_equal(plain.instances.mem_used_mb,
                                      inst.mem_used_mb)
        self.assertIsNone(plain.instances.recent_slices)
        slices = inst.recent_slices
        self.assertEqual((len(inst), 12, 4), slices.shape)
        # four slices per sample, the last four the load now
        for k in range(8, 12):
            np.testing.assert_allclose(inst.cpu_util, slices[:, k, 0],
                                       rtol=1e-6)
            np.testing.assert_allclose(inst.mem_used_mb, slices[:, k, 1],
                                       rtol=1e-6)
        # each guest's earlier slices are one of the VMs' histories
        rows = {tuple(np.float32(r / 100.0)) for r in recent}
        for i in range(len(inst)):
            self.assertIn(tuple(slices[i, ::4, 0]), rows)
        self.assertRaises(ValueError, bench_cluster.build, 30, now,
                          seed=4, recent_percent=recent[:, :0])


class OptimumMarginTest(unittest.TestCase):

    def test_margin_is_the_planners_problem(self):
        # h0: 7.6 + 0.5 + 0.5 = 8.6 cores of 10 (threshold 8.5). To the
        # threshold one small VM does; to 8.0 (margin 0.05) it takes the
        # big one (one move) or both small ones (two)
        model = fixtures.model(2, [fixtures.vm(0, vcpus=8, util=0.95,
                                               mem=4000),
                                   fixtures.vm(0, util=0.5, mem=100),
                                   fixtures.vm(0, util=0.5, mem=100)])
        plain = optimum.solve(model, fixtures.THRESHOLDS, time_limit=30)
        self.assertEqual(1, plain.n_migrations)
        self.assertIn(plain.migrations[0].instance, ('vm1', 'vm2'))
        margin = optimum.solve(model, fixtures.THRESHOLDS, time_limit=30,
                               margin=0.05)
        self.assertEqual(['vm0'], [m.instance for m in margin.migrations])

    def test_threshold_when_the_margin_cannot_be_reached(self):
        # h0: 8.1 + 0.5 = 8.6 cores; h1 (7.4 cores) has room for 0.6 under
        # its 8.0 ceiling: only the small VM can move, which reaches the
        # threshold (8.1 <= 8.5) but not 8.0: the planner's fallback
        model = fixtures.model(2, [fixtures.vm(0, vcpus=9, util=0.9),
                                   fixtures.vm(0, util=0.5, mem=100),
                                   fixtures.vm(1, vcpus=8, util=0.925)])
        result = optimum.solve(model, fixtures.THRESHOLDS, time_limit=30,
                               margin=0.05)
        self.assertEqual(['vm1'], [m.instance for m in result.migrations])
        self.assertEqual((1, 1), (result.resolvable, result.resolved))
