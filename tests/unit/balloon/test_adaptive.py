# SPDX-License-Identifier: Apache-2.0
from oslotest import base

from nova_drs import balloon
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
        self.policy = balloon.load('adaptive', self.conf)
        # 100 GiB host: target 10 GiB available, give back above 15 GiB
        self.short = balloon.HostMemory(total_mb=100 * GIB,
                                        available_mb=5 * GIB)
        self.fine = balloon.HostMemory(total_mb=100 * GIB,
                                       available_mb=12 * GIB)
        self.plenty = balloon.HostMemory(total_mb=100 * GIB,
                                         available_mb=40 * GIB)

    def by_name(self, host, guests):
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
        # a small shortfall is met by the non-FPR guest alone
        small = balloon.HostMemory(total_mb=100 * GIB,
                                   available_mb=10 * GIB - 100)
        out = self.by_name(small, [guest('fpr', free_page_reporting=True),
                                   guest('plain')])
        self.assertEqual({'plain'}, set(out))
        self.assertAlmostEqual(4 * GIB - 100, out['plain'].target_mb)

    def test_memory_is_given_back_when_plentiful(self):
        out = self.by_name(self.plenty, [guest(actual=2 * GIB)])
        self.assertEqual('grow', out['g'].action)
        self.assertAlmostEqual(3 * GIB, out['g'].target_mb)

    def test_small_changes_are_not_made(self):
        small = balloon.HostMemory(total_mb=100 * GIB,
                                   available_mb=10 * GIB - 8)
        self.assertEqual({}, self.by_name(small, [guest()]))

    def test_unknown_policy(self):
        self.assertRaises(balloon.PolicyNotFound, balloon.load, 'x',
                          self.conf)
