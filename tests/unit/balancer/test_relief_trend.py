# SPDX-License-Identifier: Apache-2.0
"""A rising hot host is relieved further (``relief_trend_horizon``).

Hosts have 10 cores (tests.unit.clusters). Host a runs nine guests of
two vCPUs at 50 %, one core each: 9 cores, hot (CPU threshold 0.85:
8.5 cores); its ceiling (threshold less relief_margin 0.05) is 8.0
cores, so a flat a needs one core moved. The guests' recent slices
(75 s each with a 900-s destination_peak_window) say whether
a climbed there.
"""

import numpy as np
from oslotest import base

from nova_drs.balancer.planning import placement
from nova_drs.balancer.planning import trend
from nova_drs.balancer import strategies
from nova_drs.balancer.view import peaks
from nova_drs.model import cluster
from tests.unit.balancer.test_hotspot import busy
from tests.unit.balancer.test_hotspot import moves
from tests.unit import clusters as c

GUESTS = ['g%d' % k for k in range(9)]


def _guests():
    # memory in use differs, so that the cheapest guests are known
    return [c.vm(g, 'a', vcpus=2, util=50.0, mem=100 + 10 * k)
            for k, g in enumerate(GUESTS)]


def _model(newest_first=None, newest=0):
    """Host a hot at 9 cores, b and c empty.

    :param newest_first: each guest's CPU share per slice, newest slice
        first (None: no slices); written to the rows before ``newest``,
        cyclically, as the balancer's tracker holds them
    """
    m = c.model([c.host('a'), c.host('b'), c.host('c')], _guests())
    if newest_first is None:
        return m
    inst = m.instances
    out = np.full((len(inst), peaks.BUCKETS, 4), np.nan, dtype=np.float32)
    for j, share in enumerate(newest_first):
        row = (newest - j) % peaks.BUCKETS
        out[:, row, cluster.CPU] = share
        out[:, row, cluster.MEMORY] = inst.mem_used_mb
        out[:, row, 2:] = 0.0
    inst.recent_slices = out
    inst.recent_newest = newest
    return m


def _conf(**overrides):
    # 75-s slices, four of them over the trend's five minutes
    overrides.setdefault('drs_balancer__destination_peak_window', 900)
    return c.conf(**overrides)


def _plan(model, **overrides):
    return strategies.load('hotspot', _conf(**overrides)).plan(model)


def _cores_left(p, model):
    # one core each
    return float(len(set(GUESTS) - {m.instance for m in p.migrations}))


# shares of the two vCPUs, newest slice first (now: 0.5). Rising: 0.025
# of them (0.05 cores) per slice, per guest: nine guests, 0.45 cores per
# 75 s, about 1.8 cores in 300 s
RISING = (0.475, 0.45, 0.425, 0.40)
FLAT = (0.5, 0.5, 0.5, 0.5)
FALLING = (0.525, 0.55, 0.575, 0.60)


class TestReliefTrend(base.BaseTestCase):

    def test_a_flat_host_is_relieved_to_its_ceiling(self):
        m = _model(FLAT)
        p = _plan(m)
        self.assertEqual(1, len(p.migrations))
        self.assertEqual(8.0, _cores_left(p, m))
        self.assertNotIn('trend', p.migrations[0].reason)

    def test_a_rising_host_is_relieved_further(self):
        flat = _plan(_model(FLAT))
        m = _model(RISING)
        p = _plan(m)
        self.assertGreater(len(p.migrations), len(flat.migrations))
        # 1.8 cores of climb in 300 s, bounded to 10 % of 10 cores: to
        # 8.0 - 1.0 cores
        self.assertEqual(7.0, _cores_left(p, m))
        self.assertEqual({'a'}, {source for _, source, _ in moves(p)})
        self.assertIn('rising trend over 300 s (cpu 0.10)',
                      p.migrations[0].reason)

    def test_a_falling_host_is_relieved_as_a_flat_one(self):
        m = _model(FALLING)
        p = _plan(m)
        self.assertEqual(8.0, _cores_left(p, m))

    def test_the_order_of_the_rows_counts(self):
        # the same slices with the newest at row 5: rows 6-11 are empty,
        # rows 5, 4, 3, 2 newest first
        m = _model(RISING, newest=5)
        self.assertEqual(7.0, _cores_left(_plan(m), m))
        # read in the wrong order (newest taken as row 2, the oldest),
        # the same slices fall: no extra relief
        m = _model(RISING, newest=5)
        m.instances.recent_newest = 2
        self.assertEqual(8.0, _cores_left(_plan(m), m))

    def test_no_trend_without_the_slices_order_or_option(self):
        m = _model(RISING)
        m.instances.recent_newest = None
        self.assertEqual(8.0, _cores_left(_plan(m), m))
        m = _model(RISING)
        p = _plan(m, drs_balancer__relief_trend_horizon=0)
        self.assertEqual(8.0, _cores_left(p, m))
        m = _model(RISING)
        p = _plan(m, drs_balancer__destination_peak_window=0)
        self.assertEqual(8.0, _cores_left(p, m))

    def test_a_shorter_horizon_relieves_less(self):
        # 60 s of the climb (about 0.006 cores/s): about 0.36 cores,
        # under the bound; the need, 1.36 cores, still takes two guests
        m = _model(RISING)
        p = _plan(m, drs_balancer__relief_trend_horizon=60)
        self.assertEqual(7.0, _cores_left(p, m))
        state = placement.PlacementState(
            m, _conf(drs_balancer__relief_trend_horizon=60),
            cluster.thresholds_from_conf(_conf()))
        extra = state.trend_extra[0, cluster.CPU]
        self.assertGreater(extra, 0.2)
        self.assertLess(extra, 0.6)

    def test_falls_back_to_the_ceiling_without_room(self):
        # b and c can take one guest between them under their ceilings
        # (7.5 cores of pinned load each, comfort aside): the trend's
        # target cannot be reached, the ceiling can
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    _guests() + [busy('pb', 'b', 7, opt_out=True),
                                 busy('pc', 'c', 8, opt_out=True)])
        inst = m.instances
        out = np.full((len(inst), peaks.BUCKETS, 4), np.nan,
                      dtype=np.float32)
        for j, share in enumerate(RISING):
            out[:9, (0 - j) % peaks.BUCKETS, cluster.CPU] = share
        inst.recent_slices = out
        inst.recent_newest = 0
        p = _plan(m)
        self.assertEqual(1, len(p.migrations))
        self.assertNotIn('trend', p.migrations[0].reason)


class TestHostSlopes(base.BaseTestCase):

    def test_slope_of_a_linear_climb(self):
        m = _model(RISING)
        slope = trend.host_slopes(m, [0], 75.0)
        # each guest's points lie on a line but the load now (1 core at
        # 0 s; the line through the slices reaches 0.975 there): the
        # fit's slope is between 0.05 cores / 75 s and the chord from
        # the oldest slice to now
        per_guest = slope[0, cluster.CPU] / 9
        self.assertGreater(per_guest, 0.05 / 75)
        self.assertLess(per_guest, 0.2 / 262.5)
        self.assertEqual(0.0, slope[0, cluster.DISK])

    def test_hosts_without_guests_have_no_slope(self):
        m = _model(RISING)
        np.testing.assert_array_equal(
            np.zeros((2, 4)), trend.host_slopes(m, [1, 2], 75.0))

    def test_hosts_must_be_sorted(self):
        self.assertRaises(ValueError, trend.host_slopes, _model(RISING),
                          [2, 0], 75.0)

    def test_the_fit_covers_five_minutes_whatever_the_slices(self):
        self.assertEqual(4, trend.slice_count(75.0, peaks.BUCKETS))
        self.assertEqual(1, trend.slice_count(300.0, peaks.BUCKETS))
        self.assertEqual(2, trend.slice_count(150.0, peaks.BUCKETS))
        # never fewer than one slice, never more than the window has
        self.assertEqual(1, trend.slice_count(1800.0, peaks.BUCKETS))
        self.assertEqual(peaks.BUCKETS, trend.slice_count(5.0,
                                                          peaks.BUCKETS))

    def test_slope_from_one_300s_slice(self):
        # the default 3600-s window: 300-s slices, the newest one only.
        # Each guest at 0.45 of its two vCPUs over the last slice (its
        # middle 150 s back), one core now: 0.1 core over 150 s. The
        # older slices (a steep fall) are outside the five minutes.
        m = _model((0.45, 0.9, 0.9, 0.9))
        slope = trend.host_slopes(m, [0], 300.0)
        self.assertAlmostEqual(9 * 0.1 / 150.0, slope[0, cluster.CPU])


class TestDefaultWindow(base.BaseTestCase):

    def test_a_rising_host_is_relieved_further_with_300s_slices(self):
        # the default destination_peak_window (3600 s): the newest slice
        # 0.45 against 0.5 now, 0.9 cores of climb per 150 s for the
        # host: bounded to 10 % of 10 cores, relieved to 7.0
        self.assertEqual(3600, c.conf().drs_balancer.destination_peak_window)
        m = _model((0.45, 0.45, 0.45, 0.45))
        p = strategies.load('hotspot', c.conf()).plan(m)
        self.assertEqual(7.0, _cores_left(p, m))
        self.assertIn('rising trend over 300 s', p.migrations[0].reason)
