# SPDX-License-Identifier: Apache-2.0
import numpy as np
from oslotest import base

from nova_drs import detector


def _row(cpu, mem=0.0):
    return [[cpu, mem, 0.0, 0.0]]


def _any(flags):
    return any(any(row) for row in flags)


class TestHotspotDetector(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.det = detector.HotspotDetector([0.85, 0.9, 0.9, 0.9],
                                            alpha=0.5, k=2, n=3)

    def test_single_spike_moves_nothing(self):
        for load in (0.3, 1.0, 0.3, 0.3, 0.3):
            hot = self.det.update(['h'], _row(load))
            self.assertFalse(_any(hot), load)

    def test_persistent_load_is_hot_on_second_sample(self):
        self.assertFalse(self.det.update(['h'], _row(0.95))[0][0])
        self.assertTrue(self.det.update(['h'], _row(0.95))[0][0])
        self.assertFalse(self.det.update(['h'], _row(0.95))[0][1])

    def test_ewma_by_hand(self):
        self.det.update(['h'], _row(0.2))
        self.det.update(['h'], _row(0.6))        # 0.5 x 0.6 + 0.5 x 0.2
        self.det.update(['h'], _row(1.0))        # 0.5 x 1.0 + 0.5 x 0.4
        self.assertAlmostEqual(0.7, self.det.smoothed(['h'])[0][0])
        self.assertEqual([[0.0] * 4], self.det.smoothed(['x']))

    def test_cools_down_when_load_drops(self):
        for _ in range(4):
            self.det.update(['h'], _row(1.0))
        self.assertTrue(self.det.hot(['h'])[0][0])
        hot = [self.det.update(['h'], _row(0.1))[0][0] for _ in range(4)]
        # ewma 0.55, 0.325...: two samples below leave only one above of 3
        self.assertEqual([True, False, False, False], hot)

    def test_hosts_are_independent_and_vectorised(self):
        loads = np.array([[0.95, 0, 0, 0], [0.1, 0.95, 0, 0]])
        self.det.update(['a', 'b'], loads)
        hot = self.det.update(['b', 'a'], loads[::-1])
        self.assertEqual([[False, True, False, False],
                          [True, False, False, False]], hot)

    def test_forget_recycles_rows(self):
        self.det.update(['a', 'b', 'c'], np.full((3, 4), 0.95))
        self.det.update(['a', 'b', 'c'], np.full((3, 4), 0.95))
        self.det.forget('a')
        self.det.forget('missing')
        self.assertEqual([[True] * 4] * 2, self.det.hot(['b', 'c']))
        self.assertFalse(_any(self.det.hot(['a'])))
        # a comes back with no history
        self.assertFalse(_any(self.det.update(['a'], np.full((1, 4), 0.95))))
        np.testing.assert_allclose(self.det.smoothed(['c']), 0.95)

    def test_no_smoothing_and_one_of_one(self):
        det = detector.HotspotDetector([0.85, 0.9, 0.9, 0.9], alpha=1.0,
                                       k=1, n=1)
        self.assertTrue(det.update(['h'], _row(0.86))[0][0])
        self.assertFalse(det.update(['h'], _row(0.84))[0][0])

    def test_bad_arguments(self):
        self.assertRaises(ValueError, detector.HotspotDetector, [0.8])
        self.assertRaises(ValueError, detector.HotspotDetector,
                          [0.8] * 4, alpha=0)
        self.assertRaises(ValueError, detector.HotspotDetector,
                          [0.8] * 4, k=4, n=3)
        self.assertRaises(ValueError, self.det.update, ['h'],
                          _row(float('nan')))
        self.assertRaises(ValueError, self.det.update, ['h'], [[0.5] * 3])
        self.assertRaises(ValueError, self.det.update, ['h', 'i'], _row(0.5))

    def test_bad_sample_changes_nothing(self):
        self.det.update(['a', 'b'], [[0.2] * 4, [0.4] * 4])
        self.assertRaises(ValueError, self.det.update, ['a', 'b'],
                          [[1.0] * 4, [float('inf')] * 4])
        self.assertEqual([[0.2] * 4, [0.4] * 4],
                         self.det.smoothed(['a', 'b']))

    def test_arrays_and_lists_agree(self):
        other = detector.HotspotDetector([0.85, 0.9, 0.9, 0.9],
                                         alpha=0.5, k=2, n=3)
        for load in (0.3, 0.95, 0.99, 0.2):
            loads = [[load, 1.0 - load, 0.0, 0.5], [0.9, load, 0.1, 0.0]]
            self.assertEqual(
                self.det.update(['a', 'b'], np.array(loads)),
                other.update(['a', 'b'], loads))
        self.assertEqual(self.det.smoothed(['a', 'b']),
                         other.smoothed(['a', 'b']))

    def test_from_conf(self):
        from tests.unit import clusters
        conf = clusters.conf(drs__cpu_threshold=0.7,
                             drs__persistence_count=1,
                             drs__persistence_window=1, drs__ewma_alpha=1.0)
        det = detector.HotspotDetector.from_conf(conf)
        self.assertTrue(det.update(['h'], _row(0.75))[0][0])


class TestRulesInSeconds(base.BaseTestCase):
    """Half-life and persistence in seconds: the same at any interval."""

    THRESHOLDS = [0.85, 0.9, 0.9, 0.9]

    def _det(self, **kw):
        return detector.HotspotDetector(self.THRESHOLDS, **kw)

    def test_defaults_are_the_former_rule_at_10_s(self):
        # 0.5 and 2 of 3 at the agent's 10 s: same verdicts, same numbers
        new, old = self._det(), self._det(alpha=0.5, k=2, n=3)
        self.assertEqual((10.0, 20.0, 30.0), (
            new.half_life_s, new.persistence_s, new.window_s))
        for load in (0.3, 1.0, 0.3, 0.95, 0.95, 0.3, 0.3, 0.9, 0.1):
            self.assertEqual(old.update(['h'], _row(load)),
                             new.update(['h'], _row(load), dt=10.0))
        self.assertEqual(old.smoothed(['h']), new.smoothed(['h']))

    def test_weight_follows_the_elapsed_time(self):
        self.assertEqual(0.5, detector.ewma_weight(10.0, 10.0))
        self.assertEqual(0.75, detector.ewma_weight(20.0, 10.0))
        self.assertEqual(1.0, detector.ewma_weight(5.0, 0.0))
        self.assertAlmostEqual(
            10.0, detector.half_life_from_alpha(0.5, 10.0))
        self.assertEqual(0.0, detector.half_life_from_alpha(1.0, 10.0))
        det = self._det()
        det.update(['h'], _row(0.0), dt=10.0)
        det.update(['h'], _row(1.0), dt=20.0)
        self.assertEqual(0.75, det.smoothed(['h'])[0][0])

    def test_same_seconds_same_verdict_at_any_interval(self):
        # 25 s above then cool: hot after 20 s at 5 s and at 10 s cycles
        for dt in (5.0, 10.0):
            det = self._det(half_life_s=0.0)
            hot_at = None
            for i in range(int(60 / dt)):
                load = 0.95 if i * dt < 25 else 0.1
                hot = det.update(['h'], _row(load), dt=dt)[0][0]
                if hot and hot_at is None:
                    hot_at = (i + 1) * dt
            self.assertEqual(20.0, hot_at, dt)

    def test_a_sample_longer_than_the_window_fills_it(self):
        det = self._det()
        self.assertTrue(det.update(['h'], _row(0.95), dt=300.0)[0][0])
        # and its successor, cool, covers the whole window again
        self.assertFalse(det.update(['h'], _row(0.1), dt=300.0)[0][0])

    def test_late_and_early_cycles_keep_2_of_3(self):
        det = self._det(half_life_s=0.0)
        det.update(['h'], _row(0.95), dt=10.4)
        det.update(['h'], _row(0.1), dt=9.7)
        # 10.4 s above, 9.7 below, then 9.6 s above: 20.0 s above in
        # the last 29.7 s; the cycles' jitter changes nothing
        self.assertTrue(det.update(['h'], _row(0.95), dt=9.6)[0][0])
        # a third cycle: the first one has left the 30 s window
        self.assertFalse(det.update(['h'], _row(0.1), dt=10.2)[0][0])

    def test_clock_measures_the_elapsed_time(self):
        now = [100.0]
        det = self._det(clock=lambda: now[0], half_life_s=0.0)
        # the first sample covers the nominal interval (10 s)
        self.assertFalse(det.update(['h'], _row(0.95))[0][0])
        now[0] += 15.0
        self.assertTrue(det.update(['h'], _row(0.95))[0][0])
        self.assertEqual([[True, False, False, False]], det.hot(['h']))

    def test_bad_rules(self):
        self.assertRaises(ValueError, self._det, persistence_s=40.0)
        self.assertRaises(ValueError, self._det, half_life_s=-1.0)
        self.assertRaises(ValueError, self._det, persistence_s=0.0)
        self.assertRaises(ValueError, self._det, interval_s=0.0)
        det = self._det()
        self.assertRaises(ValueError, det.update, ['h'], _row(0.5), dt=-1)

    def test_deprecated_options_converted_with_the_agent_interval(self):
        from tests.unit import clusters
        conf = clusters.conf(drs__ewma_alpha=0.75, drs__persistence_count=1,
                             drs_agent__interval=60.0)
        self.assertEqual((30.0, 60.0, 180.0), detector.rules_from_conf(conf))
        det = detector.HotspotDetector.from_conf(conf)
        self.assertEqual(60.0, det.interval_s)
        conf = clusters.conf(drs__ewma_half_life_s=5.0,
                             drs__persistence_s=12.0,
                             drs__persistence_window_s=60.0)
        self.assertEqual((5.0, 12.0, 60.0), detector.rules_from_conf(conf))
