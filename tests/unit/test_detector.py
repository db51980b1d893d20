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
