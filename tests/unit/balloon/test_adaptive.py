# SPDX-License-Identifier: Apache-2.0
import itertools

from oslotest import base

from nova_drs import balloon
from nova_drs.balloon import demand
from tests.unit import clusters

GIB = 1024.0


def guest(name='g', max_mb=4 * GIB, actual=None, usable=2 * GIB, **kw):
    return balloon.GuestMemory(name=name, max_mb=max_mb,
                               actual_mb=max_mb if actual is None else actual,
                               usable_mb=usable, **kw)


class TestAdaptivePolicy(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf()
        # a fake clock: every cycle is 10 s after the last
        self.now = 0.0
        self.policy = balloon.load('adaptive', self.conf,
                                   clock=lambda: self.now, interval_s=10.0)
        # 100 GiB host: target 10 GiB available, give back above 15 GiB
        self.short = balloon.HostMemory(total_mb=100 * GIB,
                                        available_mb=5 * GIB)
        self.fine = balloon.HostMemory(total_mb=100 * GIB,
                                       available_mb=12 * GIB)
        self.plenty = balloon.HostMemory(total_mb=100 * GIB,
                                         available_mb=40 * GIB)

    def by_name(self, host, guests, elapsed=10.0):
        self.now += elapsed
        return {t.name: t for t in self.policy.targets(host, guests)}

    def test_idle_guest_shrinks_when_host_is_short(self):
        t = self.by_name(self.short, [guest()])['g']
        self.assertEqual('shrink', t.action)
        # one step: 5% of 4 GiB
        self.assertAlmostEqual(4 * GIB - 0.05 * 4 * GIB, t.target_mb)

    def test_nothing_happens_when_host_is_fine(self):
        self.assertEqual({}, self.by_name(self.fine, [guest()]))

    def test_shrink_keeps_margin_and_floor(self):
        # usable 500 MiB, margin 409.6 MiB: only ~90 MiB may go
        t = self.by_name(self.short, [guest(usable=500)])['g']
        self.assertAlmostEqual(4 * GIB - (500 - 409.6), t.target_mb)
        # at the floor (50%) nothing goes
        self.assertEqual({}, self.by_name(self.short,
                                          [guest(actual=2 * GIB)]))
        # a per-instance floor is honoured
        self.assertEqual({}, self.by_name(self.short,
                                          [guest(floor_mb=4 * GIB)]))

    def test_pressure_grows_fast_and_never_shrinks(self):
        g = guest(actual=2 * GIB, usable=100)
        t = self.by_name(self.short, [g])['g']
        self.assertEqual('grow', t.action)
        # at least 25% of flavor memory at once, even with the host short
        self.assertGreaterEqual(t.target_mb, 2 * GIB + GIB)
        self.assertIn('pressure', t.reason)

    def test_major_faults_and_swap_in_are_pressure(self):
        for kw in ({'major_fault_rate': 500.0}, {'swap_in_rate': 1.0}):
            t = self.by_name(self.short, [guest(actual=3 * GIB, **kw)])['g']
            self.assertEqual('grow', t.action, kw)

    def test_falling_usable_memory_is_pressure(self):
        self.by_name(self.fine, [guest(actual=3 * GIB, usable=2 * GIB)])
        t = self.by_name(self.fine, [guest(actual=3 * GIB, usable=GIB)])
        self.assertEqual('grow', t['g'].action)
        self.assertIn('fell', t['g'].reason)

    def test_grow_is_capped_at_flavor_memory(self):
        t = self.by_name(self.short, [guest(actual=3.9 * GIB,
                                            usable=10)])['g']
        self.assertEqual(4 * GIB, t.target_mb)

    def test_skips(self):
        out = self.by_name(self.short, [
            guest('nob', has_balloon=False), guest('mig', migrating=True),
            guest('nostats', usable=None)])
        self.assertEqual({'hold'}, {t.action for t in out.values()})
        self.assertIn('no balloon device', out['nob'].reason)
        self.assertIn('migrated', out['mig'].reason)
        self.assertIn('statistics', out['nostats'].reason)

    def test_free_page_reporting_guests_are_inflated_last(self):
        # the shortfall (5 GiB) exceeds what non-FPR guests give: both go
        out = self.by_name(self.short, [guest('fpr',
                                              free_page_reporting=True),
                                        guest('plain')])
        self.assertEqual({'fpr', 'plain'}, set(out))
        # a small shortfall is met by the non-FPR guest alone, by its
        # whole step (5 % of 4 GiB), not just the 100 MiB
        small = balloon.HostMemory(total_mb=100 * GIB,
                                   available_mb=10 * GIB - 100)
        out = self.by_name(small, [guest('fpr', free_page_reporting=True),
                                   guest('plain')])
        self.assertEqual({'plain'}, set(out))
        self.assertAlmostEqual(4 * GIB - 204.8, out['plain'].target_mb)

    def test_shortfall_is_met_by_the_fewest_guests(self):
        # 300 MiB short; each guest's step is 5 % of its flavor: the
        # 8 GiB guest (409.6 MiB) covers it alone, the others keep theirs
        small = balloon.HostMemory(total_mb=100 * GIB,
                                   available_mb=10 * GIB - 300)
        out = self.by_name(small, [guest('a', max_mb=2 * GIB, usable=GIB),
                                   guest('b', max_mb=8 * GIB, usable=6 * GIB),
                                   guest('c', usable=3 * GIB)])
        self.assertEqual(['b'], list(out))
        self.assertAlmostEqual(8 * GIB - 409.6, out['b'].target_mb)
        # 500 MiB short: b, then c (204.8 MiB), the largest first
        small = balloon.HostMemory(total_mb=100 * GIB,
                                   available_mb=10 * GIB - 500)
        out = self.by_name(small, [guest('a', max_mb=2 * GIB, usable=GIB),
                                   guest('b', max_mb=8 * GIB, usable=6 * GIB),
                                   guest('c', usable=3 * GIB)])
        self.assertEqual({'b', 'c'}, set(out))

    def test_memory_is_given_back_when_plentiful(self):
        # usable 1 GiB: less than 3 x its headroom (its margin, 409.6 MiB)
        out = self.by_name(self.plenty, [guest(actual=2 * GIB, usable=GIB)])
        self.assertEqual('grow', out['g'].action)
        self.assertAlmostEqual(3 * GIB, out['g'].target_mb)

    def test_memory_is_given_back_only_to_guests_short_of_headroom(self):
        # usable 1.5 GiB, more than 3 x 409.6 MiB: safe as it is; memory
        # given to it would fill with page cache and be taken back
        self.assertEqual({}, self.by_name(self.plenty, [guest(
            actual=2 * GIB, usable=1.5 * GIB)]))
        self.conf.set_override('give_back_headroom', 0.0, 'drs_balloon')
        out = self.by_name(self.plenty, [guest(actual=2 * GIB,
                                               usable=1.5 * GIB)])
        self.assertEqual('grow', out['g'].action)

    def test_small_changes_are_not_made(self):
        # the guest may give 8 MiB (usable above its 409.6 MiB margin)
        self.assertEqual({}, self.by_name(self.short, [guest(
            usable=409.6 + 8)]))

    def test_unknown_policy(self):
        self.assertRaises(balloon.PolicyNotFound, balloon.load, 'x',
                          self.conf)


def replay(conf, interval_s, duration_s=3600.0, sample_s=60.0):
    """Run the policy on a toy host at ``interval_s``; balloon sizes.

    Four 4 GiB guests on a 10 GiB host, each using 512 MiB; at 20 min
    guest 0 starts using 3 GiB, at 40 min it is back to 512 MiB. The
    host is short (the guests' 16 GiB do not fit), so the policy
    reclaims, grows guest 0 when it needs memory, and reclaims again.
    Returns the balloon sizes every ``sample_s`` seconds, shape
    (samples, guests).
    """
    now = [0.0]
    policy = balloon.load('adaptive', conf, clock=lambda: now[0],
                          interval_s=interval_s)
    actual = [4 * GIB] * 4
    out = []
    steps = int(duration_s / interval_s)
    every = int(round(sample_s / interval_s))
    for k in range(steps):
        now[0] = k * interval_s
        ws = [512.0] * 4
        if 1200 <= now[0] < 2400:
            ws[0] = 3 * GIB
        if k % every == 0:
            out.append(list(actual))
        host = balloon.HostMemory(total_mb=10 * GIB,
                                  available_mb=10 * GIB - sum(actual))
        records = [guest('g%d' % i, actual=actual[i],
                         usable=actual[i] - ws[i],
                         swap_in_rate=max(ws[i] - actual[i], 0.0)
                         / interval_s)
                   for i in range(4)]
        for t in policy.targets(host, records):
            if t.action != 'hold':
                actual[int(t.name[1:])] = t.target_mb
    return out


class TestStepsBelowMinChange(base.BaseTestCase):
    """A small guest at a short interval.

    Each cycle's step is below ``min_change_mb`` (512 MiB x 0.005/s x
    2 s = 5 MiB < 16 MiB); the time accrues until a step is worth
    sending, at the same rate.
    """

    def run_cycles(self, conf, direction, cycles):
        now = [0.0]
        policy = balloon.load('adaptive', conf, clock=lambda: now[0],
                              interval_s=2.0)
        actual = 512.0 if direction == 'shrink' else 256.0
        host = balloon.HostMemory(
            total_mb=8 * GIB,
            available_mb=0.0 if direction == 'shrink' else 8 * GIB)
        changes = []
        for k in range(cycles):
            now[0] = 2.0 * k
            for t in policy.targets(host, [guest(
                    'g', max_mb=512.0, actual=actual,
                    usable=actual - 64.0)]):
                if t.action == direction:
                    changes.append(abs(t.target_mb - actual))
                    actual = t.target_mb
        return actual, changes

    def test_small_steps_accrue_into_one_worth_sending(self):
        conf = clusters.conf(drs_balloon__shrink_rate=0.005)
        actual, changes = self.run_cycles(conf, 'shrink', 31)
        # every change sent is at least min_change_mb, none bigger than
        # what one min_change_mb takes at the rate
        self.assertTrue(changes)
        for change in changes:
            self.assertGreaterEqual(change, 16.0)
            self.assertLess(change, 16.0 + 0.005 * 512 * 2.0 + 1e-6)
        # 60 s at 0.005 of 512 MiB a second: 154 MiB, in 16 MiB steps
        self.assertGreater(512.0 - actual, 154.0 - 16.0 - 1e-6)
        self.assertLessEqual(512.0 - actual, 154.0 + 1e-6)

    def test_give_back_too(self):
        conf = clusters.conf(drs_balloon__give_back_rate=0.005)
        actual, changes = self.run_cycles(conf, 'grow', 31)
        self.assertTrue(changes)
        self.assertTrue(all(c >= 16.0 for c in changes), changes)
        self.assertGreater(actual - 256.0, 154.0 - 16.0 - 1e-6)


class TestSecondsNotCycles(base.BaseTestCase):

    def max_gap(self, conf):
        fast = replay(conf, 5.0)
        slow = replay(conf, 60.0)
        self.assertEqual(len(fast), len(slow))
        return max(abs(a - b) for row_f, row_s in zip(fast, slow)
                   for a, b in zip(row_f, row_s))

    def test_same_trajectory_at_5_and_60_s(self):
        conf = clusters.conf(drs_balloon__shrink_rate=0.001,
                             drs_balloon__give_back_rate=0.002)
        # within two of what one 60 s cycle of reclaim takes from a guest
        # (246 MiB): one because a sample may fall before the 60 s run's
        # cycle and after the 5 s run's twelve, one because which guests
        # give is chosen each cycle (the fewest that cover the shortfall,
        # 287 MiB at most here); a cycle-counted step would differ by a
        # whole reclaim (below)
        self.assertLessEqual(self.max_gap(conf), 2 * 0.001 * 60 * 4 * GIB)

    def test_cycle_counted_steps_would_differ(self):
        # the deprecated per-cycle option, converted with one interval
        # for both runs: it behaves as before, 12 times faster at 5 s
        conf = clusters.conf(drs_balloon__shrink_step=0.01)
        self.assertGreater(self.max_gap(conf), 1000)

    def test_deprecated_options_are_converted(self):
        conf = clusters.conf(drs_balloon__shrink_step=0.1,
                             drs_balloon__shrink_holdoff=2,
                             drs_agent__interval=20.0)
        policy = balloon.load('adaptive', conf)
        opts = policy._opts
        self.assertAlmostEqual(0.005, opts.shrink_rate)
        self.assertAlmostEqual(40.0, opts.shrink_holdoff_s)

    def allocating(self, conf, interval_s, mb_per_s):
        """The policy's verdict on a guest allocating ``mb_per_s``.

        A 16 GiB guest holding 15 GiB on a host with memory enough (no
        balloon change explains the fall), sampled twice, ``interval_s``
        seconds apart: the targets of the second cycle (the first has
        nothing to compare with), as (action, reason).
        """
        now = [0.0]
        policy = balloon.load('adaptive', conf, clock=lambda: now[0],
                              interval_s=interval_s)
        fine = balloon.HostMemory(total_mb=100 * GIB, available_mb=12 * GIB)
        out = []
        for t in (0.0, interval_s):
            now[0] = t
            out = policy.targets(fine, [guest(
                max_mb=16 * GIB, actual=15 * GIB,
                usable=14 * GIB - mb_per_s * t)])
        return [(t.action, t.reason) for t in out]

    def test_same_allocation_speed_is_pressure_at_5_and_60_s(self):
        # the default: 1 % of flavor memory a second, 163.8 MiB/s here
        conf = clusters.conf()
        for interval_s in (5.0, 60.0):
            (action, reason), = self.allocating(conf, interval_s, 200.0)
            self.assertEqual('grow', action)
            fell = 'fell %.0f MiB in %.0f s' % (200.0 * interval_s,
                                                interval_s)
            self.assertIn(fell, reason)
            # slower than the rate, and less than the guest's margin
            # (1,638 MiB) between two samples: pressure at neither
            self.assertEqual([], self.allocating(conf, interval_s, 20.0))

    def test_a_fall_beyond_the_margin_is_pressure_however_slow(self):
        # 100 MiB/s is below the rate (163.8 MiB/s), but 60 s of it use up
        # 6,000 MiB, more than the guest's whole margin (1,638 MiB): it
        # could run short before the next sample. 5 s of it (500 MiB)
        # could not.
        conf = clusters.conf()
        self.assertEqual([], self.allocating(conf, 5.0, 100.0))
        (action, reason), = self.allocating(conf, 60.0, 100.0)
        self.assertEqual('grow', action)
        self.assertIn('more than its headroom', reason)

    def test_cycle_counted_pressure_drop_would_differ(self):
        # the deprecated per-cycle option, converted with each run's
        # interval, keeps its per-cycle meaning: 10 % of flavor memory a
        # cycle is 327.7 MiB/s at 5 s but 27.3 MiB/s at 60 s, so 100 MiB/s
        # is pressure at 60 s only
        conf = clusters.conf(drs_balloon__pressure_drop=0.1)
        self.assertEqual([], self.allocating(conf, 5.0, 100.0))
        self.assertEqual(['grow'], [a for a, _r in self.allocating(
            conf, 60.0, 100.0)])

    def test_deprecated_pressure_drop_is_converted(self):
        conf = clusters.conf(drs_balloon__pressure_drop=0.2,
                             drs_agent__interval=20.0)
        policy = balloon.load('adaptive', conf)
        self.assertAlmostEqual(0.01, policy._opts.pressure_drop_rate)
        # the default interval when none is given to the policy
        policy = balloon.load('adaptive', clusters.conf(
            drs_balloon__pressure_drop=0.1))
        self.assertAlmostEqual(0.01, policy._opts.pressure_drop_rate)
        self.assertAlmostEqual(
            0.01, clusters.conf().drs_balloon.pressure_drop_rate)

    def test_holdoff_is_in_seconds(self):
        now = [0.0]
        conf = clusters.conf(drs_balloon__shrink_holdoff_s=30.0)
        short = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        policy = balloon.load('adaptive', conf, clock=lambda: now[0],
                              interval_s=10.0)
        # needs memory at t=0
        self.assertEqual('grow', policy.targets(short, [guest(
            actual=2 * GIB, usable=100)])[0].action)
        # idle from then on: held until 30 s have passed
        for t, expect in ((25.0, []), (29.0, []), (31.0, ['shrink'])):
            now[0] = t
            out = policy.targets(short, [guest(usable=3 * GIB)])
            self.assertEqual(expect, [x.action for x in out], t)

    def test_elapsed_time_is_capped(self):
        # an agent stalled for an hour takes at most three intervals'
        # worth of memory in its next cycle
        now = [0.0]
        conf = clusters.conf(drs_balloon__demand_window_s=0.0,
                             drs_balloon__floor=0.05)
        short = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        policy = balloon.load('adaptive', conf, clock=lambda: now[0],
                              interval_s=10.0)
        policy.targets(short, [guest(usable=3.5 * GIB)])
        now[0] = 3600.0
        t = policy.targets(short, [guest(usable=3.5 * GIB)])[0]
        self.assertAlmostEqual(4 * GIB * (1 - 0.005 * 30), t.target_mb)


class TestDemandFloors(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.now = 0.0
        self.conf = clusters.conf(drs_balloon__floor=0.1,
                                  drs_balloon__demand_window_s=3600.0,
                                  drs_balloon__shrink_rate=1.0)
        self.policy = self.make()
        # short (target 10 GiB), not near pressure (above 5 GiB): the
        # demand floors hold
        self.short = balloon.HostMemory(total_mb=100 * GIB,
                                        available_mb=8 * GIB)

    def make(self):
        return balloon.load('adaptive', self.conf, clock=lambda: self.now,
                            interval_s=10.0)

    def cycle(self, at, **kw):
        self.now = at
        out = self.policy.targets(self.short, [guest(**kw)])
        return out[0] if out else None

    def test_floor_is_peak_demand_plus_margin(self):
        # used 3 GiB 10 minutes ago
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        t = self.cycle(600.0, actual=4 * GIB, usable=3.5 * GIB)
        # peak 3 GiB + margin 409.6 MiB, not usable - margin (3.1 GiB)
        self.assertAlmostEqual(3 * GIB + 409.6, t.target_mb)

    def test_floor_gives_way_when_the_host_nears_pressure(self):
        # 1 GiB available, less than half the 10 GiB target, and the
        # guest's room above its demand floor (none) cannot cover the
        # 9 GiB shortfall: down to what it uses (0.5 GiB) plus its
        # headroom (its margin), above the flat 10 % floor
        self.short = balloon.HostMemory(total_mb=100 * GIB,
                                        available_mb=GIB)
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        t = self.cycle(600.0, actual=4 * GIB, usable=3.5 * GIB)
        self.assertAlmostEqual(512 + 409.6, t.target_mb)
        # never below the flat floor
        self.conf.set_override('floor', 0.5, 'drs_balloon')
        t = self.cycle(610.0, actual=4 * GIB, usable=3.5 * GIB)
        self.assertAlmostEqual(2 * GIB, t.target_mb)

    def test_floor_holds_while_others_cover_or_when_told(self):
        # 0.8 % of flavor a second: 983 MiB of g, 7,864 of big in 30 s
        # (the most a cycle accrues), less than the 9 GiB shortfall
        self.conf.set_override('shrink_rate', 0.008, 'drs_balloon')
        near = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        self.now = 0.0
        self.policy.targets(near, [guest(usable=GIB, actual=4 * GIB)])
        self.now = 600.0
        # big's backed room (12.8 GiB above its floor) will cover the
        # shortfall over the next cycles: g keeps its demand floor
        out = {t.name: t for t in self.policy.targets(near, [
            guest(usable=3.5 * GIB, actual=4 * GIB),
            guest('big', max_mb=32 * GIB, usable=16 * GIB)])}
        self.assertAlmostEqual(32 * GIB - 0.008 * 32 * GIB * 30,
                               out['big'].target_mb)
        self.assertAlmostEqual(3 * GIB + 409.6, out['g'].target_mb)
        # alone, it gives its whole step (30 s accrued), below its
        # demand floor: the floor gives way
        self.now = 640.0
        t = self.policy.targets(near, [guest(usable=3.5 * GIB,
                                             actual=4 * GIB)])[0]
        self.assertAlmostEqual(4 * GIB - 0.008 * 4 * GIB * 30, t.target_mb)
        self.assertLess(t.target_mb, 3 * GIB + 409.6)
        # demand_floor_yield 0: the floors never give way
        self.conf.set_override('demand_floor_yield', 0.0, 'drs_balloon')
        self.now = 670.0
        t = self.policy.targets(near, [guest(usable=3.5 * GIB,
                                             actual=4 * GIB)])[0]
        self.assertAlmostEqual(3 * GIB + 409.6, t.target_mb)

    def test_peak_leaves_the_window(self):
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        # 1 h 10 min later the 3 GiB peak is out of the window (and its
        # bucket): only the flat 10 % floor and the margin are left
        t = self.cycle(4200.0, actual=4 * GIB, usable=3.5 * GIB)
        self.assertAlmostEqual(512 + 409.6, t.target_mb)

    def test_swap_in_counts_as_demand(self):
        # 2 GiB used, and 10 s x 50 MiB/s swapped in: 2.5 GiB wanted
        self.cycle(0.0, actual=3 * GIB, usable=GIB, swap_in_rate=50.0)
        self.assertAlmostEqual(2 * GIB + 500,
                               self.policy.demand.peak('g'))

    def test_flat_floor_is_a_lower_bound(self):
        self.conf.set_override('floor', 0.9, 'drs_balloon')
        t = self.cycle(0.0, actual=4 * GIB, usable=3.9 * GIB)
        self.assertAlmostEqual(0.9 * 4 * GIB, t.target_mb)

    def test_metadata_floor_wins(self):
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        t = self.cycle(10.0, actual=4 * GIB, usable=3.5 * GIB,
                       floor_mb=1024)
        # down to the operator's floor, below the demand floor
        self.assertAlmostEqual(1024, t.target_mb)

    def test_off(self):
        self.conf.set_override('demand_window_s', 0.0, 'drs_balloon')
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        t = self.cycle(600.0, actual=4 * GIB, usable=3.5 * GIB)
        self.assertAlmostEqual(0.5 * GIB + 409.6, t.target_mb)
        self.assertIsNone(self.policy.demand.peak('g'))

    def test_survives_a_restart(self):
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        self.now = 100.0
        state = self.policy.export_state()
        # a new agent, whose monotonic clock starts anew, 5 min later
        self.now = 7.0
        policy = self.make()
        self.assertEqual(1, policy.restore_state(state, elapsed_s=300.0))
        self.assertAlmostEqual(3 * GIB, policy.demand.peak('g'))
        self.assertAlmostEqual(400.0, policy.demand.history_s('g', 7.0))
        # saved too long ago: the estimate is out of its window
        policy = self.make()
        self.assertEqual(0, policy.restore_state(state, elapsed_s=7200.0))

    def test_restore_skips_bad_entries(self):
        policy = self.make()
        self.assertEqual(1, policy.restore_state({'demand': {
            'a': [[10, 100]], 'b': 'x', 'c': [['?', 1]], 'd': [[1, -5]]}}))
        self.assertEqual(0, policy.restore_state(['not', 'a', 'dict']))

    def test_forget(self):
        self.cycle(0.0, actual=4 * GIB, usable=GIB)
        self.policy.forget('g')
        self.assertIsNone(self.policy.demand.peak('g'))


class _RiseCase(base.BaseTestCase):
    """One guest that rises, on a host short of memory or not."""

    def setUp(self):
        super().setUp()
        self.now = 0.0
        # no demand floor, a low flat one: the headroom alone shows
        self.conf = clusters.conf(drs_balloon__floor=0.05,
                                  drs_balloon__demand_window_s=0.0,
                                  drs_balloon__shrink_rate=1.0)
        self.policy = self.make(300.0)
        self.short = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        self.fine = balloon.HostMemory(total_mb=100 * GIB,
                                       available_mb=12 * GIB)

    def make(self, interval_s):
        return balloon.load('adaptive', self.conf, clock=lambda: self.now,
                            interval_s=interval_s)

    def cycle(self, at, host, used, actual=4 * GIB, policy=None):
        self.now = at
        out = (policy or self.policy).targets(host, [guest(
            actual=actual, usable=actual - used)])
        return out[0] if out else None

    def rise_once(self, policy=None, interval_s=300.0):
        # 200 MiB, then 1,736 MiB one cycle later: a rise of 1.5 GiB,
        # more than its margin (409.6 MiB); the host has memory enough
        self.cycle(0.0, self.fine, 200, policy=policy)
        self.cycle(interval_s, self.fine, 200 + 1.5 * GIB, policy=policy)


class TestRiseHeadroom(_RiseCase):
    """A guest keeps usable the largest rise it made over one cycle."""

    def test_shrink_keeps_the_largest_rise_usable(self):
        self.rise_once()
        # back to 200 MiB used, the host short: the guest keeps 1.5 GiB
        # usable, not its 409.6 MiB margin
        t = self.cycle(600.0, self.short, 200)
        self.assertEqual('shrink', t.action)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, places=3)

    def test_off(self):
        self.conf.set_override('rise_window_s', 0.0, 'drs_balloon')
        self.rise_once()
        t = self.cycle(600.0, self.short, 200)
        self.assertAlmostEqual(200 + 409.6, t.target_mb, places=3)

    def test_a_rise_within_the_headroom_is_not_pressure(self):
        self.rise_once()
        self.cycle(600.0, self.fine, 200, 3 * GIB)
        # 1,000 MiB more in a cycle: beyond the margin, within the learned
        # headroom, and plenty usable left: nothing to do
        self.assertIsNone(self.cycle(900.0, self.fine, 1200, 3 * GIB))
        self.cycle(1200.0, self.fine, 200, 3 * GIB)
        # 1,600 MiB more: beyond the headroom, pressure
        t = self.cycle(1500.0, self.fine, 1800, 3 * GIB)
        self.assertEqual('grow', t.action)
        self.assertIn('more than its headroom', t.reason)

    def test_a_guest_below_its_margin_grows_to_its_headroom(self):
        self.rise_once()
        self.cycle(600.0, self.fine, 200, 2 * GIB)
        # 1,500 MiB more (within its headroom): 348 MiB usable, below its
        # margin: it grows to keep its headroom (1.5 GiB) usable, not
        # just its margin
        t = self.cycle(900.0, self.fine, 1700, 2 * GIB)
        self.assertEqual('grow', t.action)
        self.assertIn('below its margin', t.reason)
        self.assertAlmostEqual(1700 + 1.5 * GIB, t.target_mb, places=3)

    def test_scaled_to_the_interval(self):
        # a rise of 1.5 GiB in 75 s counts for twice that at 300 s
        # (per square root of the seconds): a rise seen at one interval
        # counts at another for what it would be there
        self.rise_once(interval_s=75.0)
        t = self.cycle(375.0, self.short, 200)
        self.assertAlmostEqual(200 + 3 * GIB, t.target_mb, places=3)

    def test_a_rise_across_a_gap_is_not_learned(self):
        # 1.5 GiB over 20 min (the guest was off, the agent stalled): no
        # one cycle's rise
        self.cycle(0.0, self.fine, 200)
        self.cycle(1200.0, self.fine, 200 + 1.5 * GIB)
        t = self.cycle(1500.0, self.short, 200)
        self.assertAlmostEqual(200 + 409.6, t.target_mb, places=3)

    def test_the_rise_leaves_its_window(self):
        self.conf.set_override('rise_window_s', 3600.0, 'drs_balloon')
        self.rise_once()
        self.cycle(2000.0, self.fine, 200)
        t = self.cycle(5000.0, self.short, 200)
        self.assertAlmostEqual(200 + 409.6, t.target_mb, places=3)

    def test_survives_a_restart(self):
        self.rise_once()
        state = self.policy.export_state()
        self.assertIn('rise', state)
        policy = self.make(300.0)
        self.now = 0.0
        self.assertEqual(1, policy.restore_state(state, elapsed_s=60.0))
        t = self.cycle(600.0, self.short, 200, policy=policy)
        # (saved to a tenth of a MiB per square root of a second)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, delta=2.0)
        # a state saved before rises were learned still restores
        policy = self.make(300.0)
        self.assertEqual(0, policy.restore_state({'demand': {}}))
        self.assertIsNone(policy.rises.peak('g'))

    def test_forget(self):
        self.rise_once()
        self.policy.forget('g')
        self.assertIsNone(self.policy.rises.peak('g'))


class TestRiseTravels(_RiseCase):
    """The rise estimate comes along with a live-migrated guest."""

    #: 1.5 GiB over one 300 s cycle, per square root of a second
    RISE = 1.5 * GIB / 300.0 ** 0.5

    def carried(self, rise=RISE, rise_history_s=600.0):
        return balloon.DemandEstimate(peak_mb=200.0, history_s=600.0,
                                      rise_mb_per_sqrt_s=rise,
                                      rise_history_s=rise_history_s)

    def test_exported_with_the_demand(self):
        self.conf.set_override('demand_window_s', 3600.0, 'drs_balloon')
        policy = self.make(300.0)
        self.rise_once(policy=policy)
        self.now = 600.0
        estimate = policy.guest_estimate('g')
        self.assertAlmostEqual(200 + 1.5 * GIB, estimate.peak_mb)
        self.assertAlmostEqual(self.RISE, estimate.rise_mb_per_sqrt_s)
        # its first rise was learnt at 300 s
        self.assertAlmostEqual(300.0, estimate.rise_history_s)
        # no rise learnt yet (one sample): none
        self.cycle(600.0, self.fine, 200, policy=policy)
        policy.targets(self.fine, [guest('h', usable=3 * GIB)])
        estimate = policy.guest_estimate('h')
        self.assertEqual((None, None), (estimate.rise_mb_per_sqrt_s,
                                        estimate.rise_history_s))
        # rises off: none either
        self.conf.set_override('rise_window_s', 0.0, 'drs_balloon')
        policy.targets(self.fine, [guest('g', usable=3 * GIB)])
        self.assertIsNone(policy.guest_estimate('g').rise_mb_per_sqrt_s)

    def test_headroom_from_the_first_cycle(self):
        self.assertTrue(self.policy.adopt_estimate('g', self.carried(),
                                                   60.0))
        # its first cycle here, the host short: it keeps the 1.5 GiB it
        # rose by on the source usable, not its margin (409.6 MiB)
        t = self.cycle(0.0, self.short, 200)
        self.assertEqual('shrink', t.action)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, places=3)
        # without it: its margin alone
        policy = self.make(300.0)
        t = self.cycle(0.0, self.short, 200, policy=policy)
        self.assertAlmostEqual(200 + 409.6, t.target_mb, places=3)

    def test_scaled_to_this_hosts_interval(self):
        # learnt at 300 s, here at 75 s: half the headroom (a quarter
        # of the time, per square root)
        policy = self.make(75.0)
        self.assertTrue(policy.adopt_estimate('g', self.carried(), 0.0))
        t = self.cycle(0.0, self.short, 200, policy=policy)
        self.assertAlmostEqual(200 + 0.75 * GIB, t.target_mb, places=3)

    def test_aged_like_the_peak(self):
        self.conf.set_override('rise_window_s', 3600.0, 'drs_balloon')
        policy = self.make(300.0)
        # made 50 min ago: in the window 10 min more (plus up to a
        # bucket's span, 5 min), as it would have been on the source
        self.assertTrue(policy.adopt_estimate('g', self.carried(),
                                              3000.0))
        t = self.cycle(0.0, self.short, 200, policy=policy)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, places=3)
        self.cycle(300.0, self.fine, 200, policy=policy)
        t = self.cycle(600.0, self.short, 200, policy=policy)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, places=3)
        t = self.cycle(900.0, self.short, 200, policy=policy)
        t = self.cycle(1200.0, self.short, 200, policy=policy)
        self.assertAlmostEqual(200 + 409.6, t.target_mb, places=3)
        # older than the window: not adopted
        policy = self.make(300.0)
        self.assertFalse(policy.adopt_estimate('g', self.carried(),
                                               4000.0))
        self.assertIsNone(policy.rises.peak('g'))

    def test_only_ever_raises(self):
        self.rise_once()
        # a smaller carried rise: the guest keeps its own
        self.assertTrue(self.policy.adopt_estimate(
            'g', self.carried(rise=self.RISE / 2), 60.0))
        self.assertAlmostEqual(self.RISE, self.policy.rises.peak('g'))
        t = self.cycle(600.0, self.short, 200)
        self.assertAlmostEqual(200 + 1.5 * GIB, t.target_mb, places=3)
        # a larger one: the larger
        self.assertTrue(self.policy.adopt_estimate(
            'g', self.carried(rise=self.RISE * 1.5), 60.0))
        self.assertAlmostEqual(self.RISE * 1.5,
                               self.policy.rises.peak('g'))
        t = self.cycle(900.0, self.short, 200, actual=4 * GIB)
        self.assertAlmostEqual(200 + 2.25 * GIB, t.target_mb, places=3)

    def test_an_estimate_without_a_rise(self):
        # an older agent's: nothing to adopt here (no demand window)
        self.assertFalse(self.policy.adopt_estimate(
            'g', balloon.DemandEstimate(200.0, 600.0), 60.0))
        self.assertIsNone(self.policy.rises.peak('g'))
        # rises off: not adopted
        self.conf.set_override('rise_window_s', 0.0, 'drs_balloon')
        policy = self.make(300.0)
        self.assertFalse(policy.adopt_estimate('g', self.carried(), 60.0))
        self.assertIsNone(policy.rises.peak('g'))


class TestUnbackedMemory(base.BaseTestCase):
    """A balloon over never-touched memory gives the host nothing."""

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_balloon__demand_window_s=0.0)
        # a cycle every 10 s
        clock = itertools.count(0.0, 10.0).__next__
        self.policy = balloon.load('adaptive', self.conf, clock=clock,
                                   interval_s=10.0)

    def test_untouched_memory_is_taken_first_and_not_counted(self):
        # host 100 MiB short; guest 4 GiB, 1 GiB of it never touched
        host = balloon.HostMemory(total_mb=100 * GIB,
                                  available_mb=10 * GIB - 100)
        t = self.policy.targets(host, [guest(
            usable=3 * GIB, unused_mb=2 * GIB, rss_mb=3 * GIB)])[0]
        # 1 GiB that gives nothing, then its whole step (204.8 MiB in
        # 10 s), more than the 100 MiB the host needs
        self.assertAlmostEqual(4 * GIB - GIB - 204.8, t.target_mb)
        # and no more than shrink_rate (204.8 MiB in 10 s) beyond it
        host = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        t = self.policy.targets(host, [guest(
            usable=3 * GIB, unused_mb=2 * GIB, rss_mb=3 * GIB)])[0]
        self.assertAlmostEqual(4 * GIB - GIB - 204.8, t.target_mb)

    def test_guest_with_nothing_backed_is_left_alone(self):
        # 100 MiB short: b covers it
        host = balloon.HostMemory(total_mb=100 * GIB,
                                  available_mb=10 * GIB - 100)
        # a's room above its floor (2 GiB) is all untouched memory: a
        # balloon change on it gives the host nothing now; it is taken
        # once its page cache has filled that memory
        out = {t.name: t for t in self.policy.targets(host, [
            guest('a', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=GIB),
            guest('b', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=4 * GIB)])}
        self.assertEqual({'b'}, set(out))
        # b, all backed, gives at most shrink_rate (204.8 MiB in 10 s)
        self.assertAlmostEqual(4 * GIB - 204.8, out['b'].target_mb)

    def test_untouched_memory_kept_when_backed_room_will_cover(self):
        # 1 GiB short: b's step (204.8 MiB) does not cover it this cycle,
        # but b's backed room (2 GiB) will over the next ones: a's
        # untouched memory is not capped (a change that buys nothing)
        host = balloon.HostMemory(total_mb=100 * GIB,
                                  available_mb=9 * GIB)
        out = {t.name: t for t in self.policy.targets(host, [
            guest('a', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=GIB),
            guest('b', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=4 * GIB)])}
        self.assertEqual({'b'}, set(out))

    def _short_host(self, total_mb, available_mb, guests):
        # outside the guests: what the host uses less their RSS, as the
        # agent and the simulator compute it
        return balloon.HostMemory(
            total_mb=total_mb, available_mb=available_mb,
            outside_mb=balloon.outside_mb(total_mb, available_mb,
                                          [g.rss_mb for g in guests]))

    def _two_guests(self):
        return [guest('a', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=GIB),
                guest('b', usable=3 * GIB, unused_mb=3 * GIB,
                      rss_mb=4 * GIB)]

    def test_untouched_memory_capped_while_a_process_holds_the_host(self):
        # 9 GiB short: more than b's whole backed room (2 GiB) can cover;
        # the guests hold 5 GiB of a 100 GiB host, 94 GiB are used
        # outside them: the shortage is not theirs and will last, so a's
        # untouched room (down to its floor, 2 GiB) is capped too, at no
        # cost to a
        guests = self._two_guests()
        host = self._short_host(100 * GIB, GIB, guests)
        self.assertEqual(94 * GIB, host.outside_mb)
        out = {t.name: t for t in self.policy.targets(host, guests)}
        self.assertEqual({'a', 'b'}, set(out))
        self.assertAlmostEqual(2 * GIB, out['a'].target_mb)
        self.assertAlmostEqual(4 * GIB - 204.8, out['b'].target_mb)

    def _busy_pair(self):
        # a: idle, its room all untouched; c: 16 GiB, 14 GiB of it backed,
        # using all but its margin (1.6 GiB) and 100 MiB
        return [guest('a', usable=3 * GIB, unused_mb=3 * GIB, rss_mb=GIB),
                guest('c', max_mb=16 * GIB, usable=1.6 * GIB + 100,
                      unused_mb=0.0, rss_mb=14 * GIB)]

    def test_untouched_memory_kept_when_the_guests_demand_is_short(self):
        # a 16 GiB host, 0.5 GiB available (target 1.6 GiB): 1.1 GiB
        # short, more than the guests' backed room (c's 100 MiB). Their
        # 15 GiB are more than the host can hold (14.4 GiB with its free
        # target), only 0.5 GiB is used outside them: the guests' own
        # demand makes the shortage; a's untouched memory is not capped
        # (a change that buys nothing now, undone at its next rise)
        guests = self._busy_pair()
        host = self._short_host(16 * GIB, 0.5 * GIB, guests)
        self.assertEqual(0.5 * GIB, host.outside_mb)
        out = {t.name: t for t in self.policy.targets(host, guests)}
        self.assertNotIn('a', out)
        self.assertEqual('shrink', out['c'].action)
        # the same guests on a 32 GiB host 0.5 GiB available: 16.5 GiB
        # used outside them hold it short, and a is capped
        self.policy = balloon.load(
            'adaptive', self.conf, interval_s=10.0,
            clock=itertools.count(0.0, 10.0).__next__)
        host = self._short_host(32 * GIB, 0.5 * GIB, guests)
        out = {t.name: t for t in self.policy.targets(host, guests)}
        self.assertAlmostEqual(2 * GIB, out['a'].target_mb)

    def test_untouched_memory_kept_when_the_cause_is_unknown(self):
        # no outside_mb (a caller that cannot tell): nothing capped
        host = balloon.HostMemory(total_mb=100 * GIB, available_mb=GIB)
        out = {t.name: t for t in self.policy.targets(
            host, self._two_guests())}
        self.assertEqual({'b'}, set(out))

    def test_outside_mb(self):
        self.assertEqual(1.5 * GIB, balloon.outside_mb(
            16 * GIB, 4 * GIB, [10 * GIB, 0.5 * GIB]))
        # never below 0 (RSS read at another instant than MemAvailable)
        self.assertEqual(0.0, balloon.outside_mb(16 * GIB, 4 * GIB,
                                                 [13 * GIB]))


class TestDemandTracker(base.BaseTestCase):

    def test_peak_over_a_sliding_window(self):
        t = demand.DemandTracker(1200.0)     # 12 buckets of 100 s
        for now, mb in ((0, 500), (50, 900), (150, 300), (700, 400)):
            t.add('g', float(now), float(mb))
        self.assertEqual(900.0, t.peak('g'))
        # the 900 MiB bucket (0-100 s) ends its window at 1300 s
        t.add('g', 1250.0, 100.0)
        self.assertEqual(900.0, t.peak('g'))
        t.add('g', 1360.0, 100.0)
        self.assertEqual(400.0, t.peak('g'))
        t.add('g', 2100.0, 50.0)
        self.assertEqual(100.0, t.peak('g'))
        self.assertIsNone(t.peak('other'))

    def test_seeded_from_an_estimate_made_elsewhere(self):
        t = demand.DemandTracker(1200.0)     # 12 buckets of 100 s
        # made 300 s ago from 2000 s of samples: 1200 s of them kept
        self.assertTrue(t.seed('g', 5000.0, 700.0, 2000.0, 300.0))
        self.assertEqual(700.0, t.peak('g'))
        self.assertEqual(1200.0, t.history_s('g', 5000.0))
        # what the guest shows here only adds to it
        t.add('g', 5010.0, 100.0)
        self.assertEqual(700.0, t.peak('g'))
        # the peak leaves the window 1200 s after it was made (to a
        # bucket's span)
        t.add('g', 6000.0, 100.0)
        self.assertEqual(700.0, t.peak('g'))
        t.add('g', 6000.0 + 1200.0, 100.0)
        self.assertEqual(100.0, t.peak('g'))
        # a guest with a history of its own, an estimate out of the window
        self.assertFalse(t.seed('g', 7200.0, 900.0, 60.0, 0.0))
        self.assertFalse(t.seed('h', 7200.0, 900.0, 60.0, 1300.0))
        self.assertIsNone(t.peak('h'))
        # a short history: one bucket, as long in the window
        self.assertTrue(t.seed('s', 7200.0, 900.0, 20.0, 100.0))
        self.assertEqual(120.0, t.history_s('s', 7200.0))
        t.add('s', 7200.0 + 1150.0, 1.0)
        self.assertEqual(900.0, t.peak('s'))

    def test_merged_into_a_history(self):
        t = demand.DemandTracker(1200.0)     # 12 buckets of 100 s
        for now in range(1000, 1600, 100):
            t.add('g', float(now), 300.0)
        # no history: as seed
        self.assertTrue(t.merge('h', 1500.0, 700.0, 2000.0, 300.0))
        self.assertEqual(700.0, t.peak('h'))
        self.assertEqual(1200.0, t.history_s('h', 1500.0))
        # smaller than its own: nothing changes
        self.assertTrue(t.merge('g', 1550.0, 200.0, 60.0, 420.0))
        self.assertEqual(300.0, t.peak('g'))
        self.assertEqual(550.0, t.history_s('g', 1550.0))
        # larger, made 430 s ago (1120 s) from 800 s of samples: in the
        # bucket starting at 1100 s, the history back to 320 s, cut to
        # the window (350 s)
        self.assertTrue(t.merge('g', 1550.0, 900.0, 800.0, 430.0))
        self.assertEqual(900.0, t.peak('g'))
        self.assertEqual(1200.0, t.history_s('g', 1550.0))
        # it leaves the window with that bucket (a window and a span
        # after 1100 s), not with the newest
        t.add('g', 2350.0, 100.0)
        self.assertEqual(900.0, t.peak('g'))
        t.add('g', 2460.0, 100.0)
        self.assertEqual(300.0, t.peak('g'))
        # made after its newest bucket's span: a bucket of its own
        u = demand.DemandTracker(1200.0)
        u.add('g', 0.0, 100.0)
        self.assertTrue(u.merge('g', 1000.0, 400.0, 10.0, 0.0))
        self.assertEqual(400.0, u.peak('g'))
        u.add('g', 1050.0, 50.0)
        u.add('g', 1400.0, 50.0)
        # the 0 s bucket out (the history starts at 1000 s), the 1000 s
        # one in
        self.assertEqual(400.0, u.peak('g'))
        self.assertAlmostEqual(400.0, u.history_s('g', 1400.0))
        # out of the window: not merged
        self.assertFalse(u.merge('g', 1400.0, 999.0, 10.0, 1300.0))
        self.assertEqual(400.0, u.peak('g'))
