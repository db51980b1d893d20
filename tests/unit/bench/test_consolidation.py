# SPDX-License-Identifier: Apache-2.0
"""The consolidation benchmark's parts (not its figures)."""

import io
import types
from unittest import mock

import numpy as np
from oslotest import base

from nova_drs.bench import consolidation as bench
from tests.unit.bench import fixtures as f


class TestParts(base.BaseTestCase):

    def test_quiet_step_is_the_end_of_the_quietest_hour(self):
        demand = np.ones(48)
        demand[24:36] = 0.1           # the third hour
        self.assertEqual(35, bench.quiet_step(demand))

    def test_cyclic_window_wraps_around_the_day(self):
        series = np.arange(10)[None, :]
        np.testing.assert_array_equal([[8, 9, 0, 1]],
                                      bench.cyclic(series, 8, 4))
        np.testing.assert_array_equal([[8, 9, 0]],
                                      bench.cyclic(series, -2, 3))

    def test_ffd_packs_by_slice_and_allocation(self):
        # four guests of 4 busy cores; comfort 0.75 of 10 cores
        m = f.model(4, [f.vm(h, vcpus=4, util=1.0) for h in range(4)])
        comfort = np.array([0.75, 0.8, 0.8, 0.8])
        alloc = m.allocation_limit()[0]
        same = np.zeros((4, 2, 4))
        same[:, :, 0] = 4.0
        self.assertEqual(4, bench.ffd_bins(m, same, comfort, alloc))
        # busy at different slices: two per host
        apart = same.copy()
        apart[::2, 1, 0] = 1.0
        apart[1::2, 0, 0] = 1.0
        self.assertEqual(2, bench.ffd_bins(m, apart, comfort, alloc))
        # the allocation limit binds too (40 vCPUs per host)
        m.instances.vcpus[:] = 30
        self.assertEqual(4, bench.ffd_bins(m, apart, comfort, alloc))

    def test_one_case_on_a_synthetic_day(self):
        rng = np.random.default_rng(1)
        # light enough that the repack frees hosts too (at 0.15 it frees
        # none, and there would be no ratio to judge)
        cpu = np.clip(rng.normal(0.10, 0.05, size=(40, 288)), 0, 1)
        cpu[:, 100:112] = 0.02          # a quiet hour
        trace = types.SimpleNamespace(cpu=cpu)
        row = bench.run_case(trace, 'synthetic', 20, bench._conf(24), 24, 6)
        self.assertEqual(20, row['active'])
        self.assertGreater(row['freed'], 0)
        self.assertEqual(row['freed'], row['listed_freed'])
        self.assertEqual(0, row['created'])
        self.assertGreater(row['ffd_freed'], 0)
        self.assertGreaterEqual(row['ratio'], bench.TARGET_RATIO)


class TestMain(base.BaseTestCase):

    def row(self, freed, ffd_freed):
        return {'day': '20110303', 'hosts': 150, 'instances': 750,
                'quiet_hour': 23, 'relief_moves': 3, 'stuck': 1,
                'active': 150, 'freed': freed, 'ffd_freed': ffd_freed,
                'ratio': freed / ffd_freed if ffd_freed > 0 else None,
                'migrations': 70, 'gib_moved': 289.1, 'plan_s': 0.016,
                'created': 0, 'listed_freed': freed, 'blocked': False}

    def main(self, rows):
        out = io.StringIO()
        with mock.patch.object(bench, 'trace_root', return_value='/t'), \
                mock.patch.object(bench.traces, 'load_planetlab'), \
                mock.patch.object(bench, 'run_case', side_effect=rows), \
                mock.patch('sys.stdout', out):
            code = bench.main(['--days', '20110303',
                               '--sizes', ','.join('150' for _ in rows)])
        return code, out.getvalue()

    def test_a_repack_that_frees_nothing_has_no_ratio(self):
        code, out = self.main([self.row(19, -9), self.row(28, 6)])
        self.assertEqual(0, code, out)
        lines = out.splitlines()
        self.assertEqual(['19', '-9', '-'], lines[2].split()[7:10])
        self.assertEqual(['28', '6', '4.67'], lines[3].split()[7:10])

    def test_fewer_than_the_repack_is_a_miss(self):
        code, out = self.main([self.row(5, 6)])
        self.assertEqual(1, code)
        self.assertIn("freed 5 < 90% of the repack's 6", out)
