# SPDX-License-Identifier: Apache-2.0
"""The clock offset of a host, learned from its samples."""

import math

from oslotest import base

from nova_drs.balancer.view import host_clock

STALE_AFTER = 30.0
SKEW = 60.0
INTERVAL = 10.0


class TestHostClock(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.clock = host_clock.HostClock(STALE_AFTER, SKEW)

    def feed(self, ahead, count, start=0.0, every=INTERVAL):
        """``count`` samples stamped ``ahead``, one every ``every`` s."""
        return [self.clock.judge(ahead, start + n * every)
                for n in range(count)]

    def test_clocks_in_sync_are_judged_as_before(self):
        for ahead, age in ((0.0, 0.0), (-29.0, 29.0), (59.0, 0.0)):
            verdict = self.clock.judge(ahead, 0.0)
            self.assertEqual((host_clock.CURRENT, age),
                             (verdict.kind, verdict.age_s))
        self.assertIsNone(self.clock.offset)
        self.assertEqual(host_clock.BEHIND,
                         self.clock.judge(-31.0, 0.0).kind)
        self.assertEqual(host_clock.AHEAD, self.clock.judge(61.0, 0.0).kind)

    def test_a_clock_behind_is_learned_after_stale_after(self):
        verdicts = self.feed(-600.0, 5)
        # 0, 10, 20 s: not current; at 30 s the offset is adopted
        self.assertEqual([host_clock.BEHIND] * 3 + [host_clock.CURRENT] * 2,
                         [v.kind for v in verdicts])
        self.assertEqual(-600.0, verdicts[3].adopted_s)
        self.assertEqual(30.0, verdicts[3].confirmed_after_s)
        self.assertEqual(-600.0, self.clock.offset)
        self.assertEqual(0.0, verdicts[4].age_s)
        # a delay of 5 s more is an age of 5 s
        self.assertEqual(5.0, self.clock.judge(-605.0, 60.0).age_s)

    def test_a_clock_ahead_is_learned_after_stale_after(self):
        verdicts = self.feed(900.0, 4)
        self.assertEqual([host_clock.AHEAD] * 3 + [host_clock.CURRENT],
                         [v.kind for v in verdicts])
        self.assertEqual(900.0, self.clock.offset)

    def test_the_smallest_delay_makes_the_offset(self):
        self.feed(-600.0, 4)
        self.clock.judge(-598.0, 40.0)
        self.assertEqual(-598.0, self.clock.offset)
        self.assertEqual(3.0, self.clock.judge(-601.0, 50.0).age_s)

    def test_a_backlog_burst_is_never_current(self):
        # an outage of 10 minutes, then the buffer in one batch, then
        # current samples: nothing old is taken for current
        self.feed(0.0, 3)
        backlog = [self.clock.judge(-600.0 + 10 * n, 100.0)
                   for n in range(55)]
        self.assertEqual({host_clock.BEHIND}, {v.kind for v in backlog})
        self.assertEqual(host_clock.CURRENT,
                         self.clock.judge(-2.0, 100.5).kind)
        self.assertIsNone(self.clock.offset)

    def test_a_backlog_catching_up_slowly_is_not_a_clock(self):
        # delivered over two minutes, each sample 40 s fresher than the
        # one before: they never agree with each other for stale_after
        verdicts = [self.clock.judge(-600.0 + 40 * n, 10.0 * n)
                    for n in range(12)]
        self.assertEqual({host_clock.BEHIND}, {v.kind for v in verdicts})

    def test_a_forged_sample_among_real_ones_teaches_nothing(self):
        self.feed(0.0, 2)
        for n in range(10):
            forged = self.clock.judge(86400.0, 20.0 + 10 * n)
            real = self.clock.judge(0.0, 25.0 + 10 * n)
            self.assertEqual((host_clock.AHEAD, host_clock.CURRENT),
                             (forged.kind, real.kind))
        self.assertIsNone(self.clock.offset)

    def test_ntp_fixing_the_clock_forgets_the_offset(self):
        self.feed(-600.0, 4)
        self.assertEqual(host_clock.CURRENT, self.clock.judge(0.0, 50.0).kind)
        self.assertIsNone(self.clock.offset)

    def test_a_clock_stepped_again_is_learned_again(self):
        self.feed(-600.0, 4)
        verdicts = self.feed(-1200.0, 4, start=40.0)
        self.assertEqual([host_clock.BEHIND] * 3 + [host_clock.CURRENT],
                         [v.kind for v in verdicts])
        self.assertEqual(-1200.0, self.clock.offset)

    def test_peek_learns_nothing(self):
        self.assertEqual(math.inf, self.clock.peek(-600.0))
        self.assertEqual(5.0, self.clock.peek(-5.0))
        self.feed(-600.0, 4)
        self.assertEqual(2.0, self.clock.peek(-602.0))
        self.assertEqual(math.inf, self.clock.peek(-700.0))
        self.assertEqual(-600.0, self.clock.offset)
