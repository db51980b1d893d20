# SPDX-License-Identifier: Apache-2.0
"""Destinations judged on their guests' recent peak (issue 15).

Hosts have 10 cores (tests.unit.clusters). With the default thresholds
and margins (CPU 0.85, relief_margin 0.05, destination_headroom 0.30) a
host is hot above 8.5 cores, no destination may end above 8.0 cores (its
ceiling) and the comfort level is 5.5 cores. Host a holds a pinned
7-core guest and a movable 2-core one, m: 9 cores, hot; m must go.
"""

import numpy as np
from oslotest import base

from nova_drs.balancer.planning import destinations
from nova_drs.balancer.planning import placement
from nova_drs.balancer import strategies
from nova_drs.balancer.view import peaks
from nova_drs.model import cluster
from tests.unit.balancer.test_hotspot import busy
from tests.unit.balancer.test_hotspot import moves
from tests.unit import clusters as c


def _model():
    """b: 3.5 cores now, c: 3.0; m (2 cores) fits both, b tighter."""
    return c.model(
        [c.host('a'), c.host('b'), c.host('c')],
        [busy('pinned', 'a', 7, opt_out=True),
         c.vm('m', 'a', vcpus=2, util=100.0, mem=100),
         # 8 vCPUs: 3.5 cores now
         c.vm('r-b', 'b', vcpus=8, util=43.75),
         c.vm('r-c', 'c', vcpus=8, util=37.5)])


def _recent(model, **cpu):
    """Give instances recent slices: CPU shares (one per slice).

    Slices line up across instances; the other resources are their load
    now; NaN: no sample in that slice; instances not named: none at all.
    """
    inst = model.instances
    width = max(len(v) for v in cpu.values())
    out = np.full((len(inst), width, 4), np.nan, dtype=np.float32)
    for name, shares in cpu.items():
        i = model.instance_index[name]
        out[i, :len(shares), 0] = shares
        out[i, :len(shares), 1] = inst.mem_used_mb[i]
        out[i, :len(shares), 2] = inst.disk_mb_s[i]
        out[i, :len(shares), 3] = inst.net_mb_s[i]
    inst.recent_slices = out
    return model


def _plan(model, window=900, strategy='hotspot'):
    return strategies.load(strategy, c.conf(
        drs_balancer__destination_peak_window=window)).plan(model)


class TestDestinationPeak(base.BaseTestCase):

    def test_without_recent_slices_the_load_now(self):
        # b ends at 5.5 cores, c at 5.0: b is the tighter fit
        p = _plan(_model())
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertNotIn('peak', p.migrations[0].reason)

    def test_a_resident_that_dipped_rules_its_host_out(self):
        # r-b was at 6 cores (0.75 of 8 vCPUs) a minute ago and dipped
        # to 3.5 in the last sample: b would be at 8 cores, over its
        # comfort level; c, steady, is the fit
        m = _recent(_model(), **{'r-b': (0.75, 0.75, 0.4375),
                                 'r-c': (0.375, 0.375, 0.375)})
        p = _plan(m)
        self.assertEqual([('m', 'a', 'c')], moves(p))
        self.assertIn(destinations.TIER_FIT, p.migrations[0].reason)
        # c was judged on its peak too, which is its load now: no note
        self.assertNotIn('peak', p.migrations[0].reason)

    def test_the_reason_says_when_the_peak_counted(self):
        # c's resident peaked at 3.2 cores: c is judged at 3.2 + 2 = 5.2
        m = _recent(_model(), **{'r-b': (0.75, 0.4375),
                                 'r-c': (0.4, 0.375)})
        p = _plan(m)
        self.assertEqual([('m', 'a', 'c')], moves(p))
        self.assertIn("judged on its guests' 15-min peak: cpu 0.52",
                      p.migrations[0].reason)

    def test_chosen_with_the_peak_counted_when_nothing_else_fits(self):
        # c is gone: b, judged at 6 + 2 = 8 cores, is above its comfort
        # level but at its ceiling: the warm tier takes it, and says so
        m = _recent(c.model(
            [c.host('a'), c.host('b')],
            [busy('pinned', 'a', 7, opt_out=True),
             c.vm('m', 'a', vcpus=2, util=100.0, mem=100),
             c.vm('r-b', 'b', vcpus=8, util=43.75)]),
            **{'r-b': (0.75, 0.4375)})
        p = _plan(m)
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_WARM, p.migrations[0].reason)
        self.assertIn("15-min peak: cpu 0.80", p.migrations[0].reason)
        # a peak above the ceiling: no destination at all
        _recent(m, **{'r-b': (0.8, 0.4375)})
        self.assertEqual([], moves(_plan(m)))

    def test_option_off_is_the_old_rule(self):
        m = _recent(_model(), **{'r-b': (0.75, 0.4375),
                                 'r-c': (0.375, 0.375)})
        p = _plan(m, window=0)
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertNotIn('peak', p.migrations[0].reason)

    def test_no_sample_in_the_window_falls_back_to_the_load_now(self):
        m = _recent(_model(), **{'r-b': (np.nan, np.nan)})
        self.assertEqual([('m', 'a', 'b')], moves(_plan(m)))

    def test_a_peak_below_the_load_now_does_not_lower_it(self):
        # r-c was at 1 core; it is at 3 now: c stays at 3 + 2 = 5
        m = _recent(_model(), **{'r-b': (0.75, 0.4375),
                                 'r-c': (0.125, 0.375)})
        state = placement.PlacementState(m, c.conf(),
                                         cluster.thresholds_from_conf(
                                             c.conf()))
        np.testing.assert_allclose(
            [0.0, 2.5, 0.0], state.peak_extra[:, cluster.CPU], atol=1e-6)

    def test_the_hot_host_is_relieved_on_its_load_now(self):
        # a's guests were higher a minute ago (10 cores): the relief
        # still needs only m (9 -> 7 cores, under 8)
        m = _recent(_model(), pinned=(1.0, 1.0), m=(1.0, 1.0),
                    **{'r-c': (0.375, 0.375)})
        p = _plan(m)
        self.assertEqual([('m', 'a', 'b')], moves(p))


class TestBursts(base.BaseTestCase):
    """Slices as the live view keeps them: time-weighted means.

    Reports every 10 s, slices of 75 s; comfort level 6.5 cores
    (destination_headroom 0.20). b (r-b steady at 3 cores) is m's
    tighter fit (5 cores after the move) against c (r-c at 2.5: 4.5).
    """

    NOW = 900.0

    def _model(self, r_b, per_slice=peaks.MEAN):
        """r_b(t): r-b's CPU share at time t; the others steady."""
        m = c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [busy('pinned', 'a', 7, opt_out=True),
             c.vm('m', 'a', vcpus=2, util=100.0, mem=100),
             c.vm('r-b', 'b', vcpus=8, util=37.5),
             c.vm('r-c', 'c', vcpus=8, util=31.25)])
        inst = m.instances
        tracker = peaks.PeakTracker(900.0, per_slice=per_slice)
        for at in np.arange(10.0, self.NOW + 1, 10.0):
            for i, name in enumerate(inst.names):
                share = r_b(at) if name == 'r-b' else inst.cpu_util[i]
                tracker.record(name, (share, inst.mem_used_mb[i],
                                      inst.disk_mb_s[i], inst.net_mb_s[i]),
                               now=at)
        inst.recent_slices = tracker.slices_of(
            *tracker.copy_rows(inst.names), self.NOW)
        return m

    def _plan(self, model):
        return strategies.load('hotspot', c.conf(
            drs_balancer__destination_peak_window=900,
            drs_balancer__destination_headroom=0.2)).plan(model)

    @staticmethod
    def _burst(at):
        # 20 s at 5 cores (0.625 of 8 vCPUs) within one 75-s slice
        return 0.625 if 400.0 < at <= 420.0 else 0.375

    @staticmethod
    def _sustained(at):
        # 5 cores over two whole slices (300-450 s), then back
        return 0.625 if 300.0 < at <= 450.0 else 0.375

    def test_a_burst_shorter_than_a_slice_does_not_refuse_the_host(self):
        # b judged at 3 + 2 x 20/75 + 2 = 5.53 cores: under its comfort
        p = self._plan(self._model(self._burst))
        self.assertEqual([('m', 'a', 'b')], moves(p))
        self.assertIn(destinations.TIER_FIT, p.migrations[0].reason)
        # the slices' maxima (before this release) held the burst's
        # whole 5 cores: 7 after the move, over the comfort level
        p = self._plan(self._model(self._burst, per_slice=peaks.MAX))
        self.assertEqual([('m', 'a', 'c')], moves(p))

    def test_a_rise_held_over_a_slice_refuses_it(self):
        # slices at 5 cores: b judged at 7 after the move; c fits
        p = self._plan(self._model(self._sustained))
        self.assertEqual([('m', 'a', 'c')], moves(p))


class TestAlignedSlices(base.BaseTestCase):

    def _two_residents(self):
        # r1 and r2 (4 vCPUs each) on b: 1.5 + 2 cores now; r1 was at
        # 2.5 cores in slice 0, r2 at 3 in slice 1: never together
        m = c.model([c.host('a'), c.host('b')],
                    [c.vm('r1', 'b', vcpus=4, util=37.5),
                     c.vm('r2', 'b', vcpus=4, util=50.0)])
        return _recent(m, r1=(0.625, 0.375), r2=(0.5, 0.75))

    def test_peaks_at_different_times_do_not_add_up(self):
        m = self._two_residents()
        excess = m.host_recent_excess()
        # slice 0: r1 +1, r2 0; slice 1: r1 0, r2 +1
        np.testing.assert_allclose([[1.0, 0, 0, 0], [1.0, 0, 0, 0]],
                                   excess[1], atol=1e-6)
        thresholds = cluster.thresholds_from_conf(c.conf())
        state = placement.PlacementState(m, c.conf(), thresholds)
        # worst slice: 4.5 cores, not 3.5 now and not 2.5 + 3 = 5.5
        self.assertAlmostEqual(1.0, state.peak_extra[1, cluster.CPU],
                               places=6)
        self.assertAlmostEqual(8.0 - 4.5, state.headroom[1, cluster.CPU],
                               places=6)

    def test_a_resident_leaving_takes_its_peak_and_comes_back(self):
        m = self._two_residents()
        thresholds = cluster.thresholds_from_conf(c.conf())
        state = placement.PlacementState(m, c.conf(), thresholds)
        room = state.room.copy()
        comfort = state.room_comfort.copy()
        fit = state.fit_base.copy()
        r2 = m.instance_index['r2']
        src = state.apply(r2, 0)
        # r1 alone: 1.5 now, 2.5 at its peak
        self.assertAlmostEqual(1.0, state.peak_extra[1, cluster.CPU],
                               places=6)
        self.assertAlmostEqual(8.0 - 2.5, state.headroom[1, cluster.CPU],
                               places=6)
        # a, which received it, counts it at its load now
        self.assertAlmostEqual(0.0, state.peak_extra[0, cluster.CPU])
        self.assertAlmostEqual(8.0 - 2.0, state.headroom[0, cluster.CPU],
                               places=6)
        state.undo(r2, src)
        np.testing.assert_allclose(room, state.room, atol=1e-6)
        np.testing.assert_allclose(comfort, state.room_comfort, atol=1e-6)
        np.testing.assert_allclose(fit, state.fit_base, atol=1e-6)


class TestExcessSums(base.BaseTestCase):

    def test_the_same_as_summing_guest_by_guest(self):
        rng = np.random.default_rng(11)
        hosts = [c.host('h%d' % h) for h in range(4)]
        vms = [c.vm('v%d' % i, 'h%d' % rng.integers(4),
                    vcpus=int(rng.integers(1, 5)),
                    util=float(rng.uniform(0, 100)),
                    mem=int(rng.integers(100, 1500)),
                    disk_mb_s=float(rng.uniform(0, 5)))
               for i in range(30)]
        m = c.model(hosts, vms)
        inst = m.instances
        slices = rng.uniform(0.0, 1.2, size=(len(inst), 12, 4))
        slices[:, :, 1] *= 2000.0
        slices[:, :, 2] *= 5.0
        slices[rng.uniform(size=slices.shape) < 0.2] = np.nan
        inst.recent_slices = slices.astype(np.float32)
        now = m.instance_demand()
        want = np.zeros((4, 12, 4))
        for i in range(len(inst)):
            for k in range(12):
                s = slices[i, k].copy()
                s[0] = min(s[0], 1.0) * inst.vcpus[i]
                extra = np.where(np.isnan(s), 0.0, np.maximum(s - now[i], 0))
                want[inst.host[i], k] += extra
        np.testing.assert_allclose(want, m.host_recent_excess(), rtol=1e-5,
                                   atol=1e-4)
        # only the resources asked for
        cpu_only = m.host_recent_excess(columns=[cluster.CPU])
        np.testing.assert_allclose(want[:, :, 0], cpu_only[:, :, 0],
                                   rtol=1e-5, atol=1e-4)
        self.assertEqual(0.0, np.abs(cpu_only[:, :, 1:]).max())
        one = m.recent_excess(rows=[3])
        np.testing.assert_allclose(m.recent_excess()[3], one[0])


class TestBalance(base.BaseTestCase):

    def test_levelling_counts_the_destinations_peak(self):
        # a at 8 cores, b at 2.2, c at 2: c levels best on the load
        # now; but c's resident peaked at 5 cores, so b
        m = c.model(
            [c.host('a'), c.host('b'), c.host('c')],
            [c.vm('x1', 'a', vcpus=4, util=100.0),
             c.vm('x2', 'a', vcpus=2, util=100.0),
             c.vm('x3', 'a', vcpus=2, util=100.0),
             c.vm('rb', 'b', vcpus=8, util=27.5),
             c.vm('rc', 'c', vcpus=8, util=25.0)])
        _recent(m, rc=(0.625, 0.25))
        p = _plan(m, strategy='balance')
        self.assertTrue(p.migrations)
        self.assertEqual('b', p.migrations[0].target)
        p = _plan(m, strategy='balance', window=0)
        self.assertEqual('c', p.migrations[0].target)
