# SPDX-License-Identifier: Apache-2.0

import unittest
from unittest import mock

from nova_drs import machine_speed


class SpeedFactorTest(unittest.TestCase):

    def test_median_over_the_quiet_reference(self):
        base = machine_speed.REFERENCE_BASE_MS
        # one slow moment does not count: the median does
        self.assertAlmostEqual(2.0, machine_speed.speed_factor(
            [2 * base, 2 * base, 9 * base]))

    def test_a_faster_machine_is_not_credited(self):
        self.assertEqual(1.0, machine_speed.speed_factor(
            [machine_speed.REFERENCE_BASE_MS / 2] * 3))

    def test_reference_is_cpu_time_of_real_work(self):
        ms = machine_speed.reference_ms()
        # a few milliseconds of real work on any machine that runs CI
        self.assertGreater(ms, 0.1)
        self.assertLess(ms, 1000.0)


class SamplerTest(unittest.TestCase):

    def test_samples_spread_over_the_steps(self):
        sampler = machine_speed.Sampler(every=10)
        for _ in range(25):
            sampler(1)
        self.assertEqual(2, len(sampler.samples))
        sampler(20)                 # a jump past two more boundaries
        self.assertEqual(4, len(sampler.samples))
        self.assertGreater(sampler.spent_s, 0.0)

    def test_a_sample_is_the_fastest_of_a_burst(self):
        # the first call of a burst, caches cold, does not count
        times = iter([9.0, 4.0, 6.0])
        sampler = machine_speed.Sampler()
        with mock.patch.object(machine_speed, 'reference_ms',
                               lambda: next(times)):
            sampler.sample()
        self.assertEqual([4.0], sampler.samples)

    def test_no_sample_no_credit(self):
        self.assertEqual(1.0, machine_speed.Sampler().factor())


class JudgedTimeTest(unittest.TestCase):

    def test_simulator_bench_divides_by_the_factor(self):
        from nova_drs.simulator import bench
        sampler = machine_speed.Sampler()
        sampler.samples = [2 * machine_speed.REFERENCE_BASE_MS] * 3
        sampler.spent_s = 1.0
        judged, text = bench._judged(81.0, sampler)
        self.assertAlmostEqual(40.0, judged)
        self.assertEqual('40.0 s (80.0 s measured / machine-speed factor '
                         '2.00)', text)


class NumpyReferenceTest(unittest.TestCase):

    def test_numpy_reference_is_cpu_time_of_real_work(self):
        ms = machine_speed.numpy_reference_ms()
        self.assertGreater(ms, 0.1)
        self.assertLess(ms, 5000.0)

    def test_numpy_factor_is_over_its_own_base(self):
        base = machine_speed.NUMPY_REFERENCE_BASE_MS
        self.assertAlmostEqual(1.5, machine_speed.numpy_speed_factor(
            [1.5 * base] * 3))
        # its base, not the JSON reference's
        self.assertNotEqual(base, machine_speed.REFERENCE_BASE_MS)
        self.assertEqual(1.0, machine_speed.numpy_speed_factor(
            [base / 2] * 3))

    def test_numpy_sampler_times_the_numpy_reference(self):
        calls = []
        sampler = machine_speed.Sampler(numpy=True)
        with mock.patch.object(
                machine_speed, 'numpy_reference_ms',
                lambda: calls.append(1) or
                2 * machine_speed.NUMPY_REFERENCE_BASE_MS), \
                mock.patch.object(machine_speed, 'reference_ms',
                                  lambda: self.fail('JSON reference timed')):
            sampler.sample()
        self.assertEqual(machine_speed.BURST, len(calls))
        self.assertAlmostEqual(2.0, sampler.factor())
