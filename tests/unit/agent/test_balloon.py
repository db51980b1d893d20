# SPDX-License-Identifier: Apache-2.0
import itertools
from unittest import mock

from oslotest import base

from nova_drs.agent import balloon
from nova_drs.agent import inspector
from nova_drs.agent import metrics
from nova_drs import balloon as policies
from tests.unit.agent import fakes
from tests.unit import clusters

GIB = fakes.GIB_KIB


def guest(uuid, t=1.0, prev=None, state='running', migrating=False,
          **config_and_stats):
    config = inspector.GuestConfig(
        has_balloon=config_and_stats.pop('has_balloon', True),
        autodeflate=config_and_stats.pop('autodeflate', True),
        free_page_reporting=config_and_stats.pop('fpr', False),
        floor_mb=config_and_stats.pop('floor_mb', None))
    s = fakes.sample(t, uuid, config=config, **config_and_stats)
    s.state = state
    s.migrating = migrating
    return metrics.guest_metrics(prev, s)


def host(available_mb, total_mb=100 * 1024):
    return metrics.HostMetrics(name='h', wallclock=0, interval_s=10,
                               cpu_count=8, total_mb=total_mb,
                               available_mb=available_mb)


def stepping_clock(step=10.0):
    """A fake monotonic clock: each reading is ``step`` s after the last."""
    return itertools.count(step, step).__next__


SHORT = host(5 * 1024)       # 5 % available: reclaim
PLENTY = host(40 * 1024)     # give memory back


def actuator():
    """(conf, inspector, actuator): libvirt faked, no migration running."""
    conf = clusters.conf()
    fake = mock.Mock(spec=inspector.LibvirtInspector)
    fake.job_active.return_value = False
    return conf, fake, balloon.BalloonActuator(conf, fake,
                                               clock=stepping_clock())


class TestBalloonActuator(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf, self.inspector, self.actuator = actuator()

    def test_idle_guest_is_shrunk_in_kib(self):
        # every page backed by the host (RSS = balloon size)
        report = self.actuator.cycle(SHORT, [guest('g', rss=4 * GIB)])
        # 5 % of 4 GiB per cycle
        target = 4096 - 0.05 * 4096
        self.inspector.set_memory.assert_called_once_with(
            'g', round(target * 1024))
        b = report.guests['g']
        self.assertEqual(('shrink', True, target),
                         (b.action, b.applied, b.target_mb))
        self.assertAlmostEqual(0.05 * 4096, report.shrunk_mb)
        self.assertEqual(0.0, report.grown_mb)
        self.assertAlmostEqual(0.05 * 4096,
                               self.actuator.totals['shrunk_mb'])
        self.assertEqual('adaptive', self.actuator.policy.name)

    def test_guest_under_pressure_grows(self):
        report = self.actuator.cycle(SHORT, [guest(
            'g', current=2 * GIB, usable=50 * 1024)])
        self.assertEqual('grow', report.guests['g'].action)
        self.assertGreater(report.grown_mb, 1000)

    def test_dry_run(self):
        self.conf.set_override('dry_run', True, 'drs_balloon')
        actuator = balloon.BalloonActuator(self.conf, self.inspector)
        report = actuator.cycle(SHORT, [guest('g')])
        self.inspector.set_memory.assert_not_called()
        b = report.guests['g']
        self.assertEqual('shrink', b.action)
        self.assertFalse(b.applied)
        self.assertIn('dry run', b.reason)
        self.assertEqual(0.0, report.shrunk_mb)

    def test_nothing_to_do(self):
        report = self.actuator.cycle(PLENTY, [guest('g')])
        self.inspector.set_memory.assert_not_called()
        self.assertEqual('none', report.guests['g'].action)

    def test_migrating_guests_are_left_alone(self):
        # known from events: the policy holds it
        report = self.actuator.cycle(SHORT, [guest('g', migrating=True)])
        self.assertEqual('hold', report.guests['g'].action)
        self.assertIn('migrated', report.guests['g'].reason)
        # a job seen right before the resize
        self.inspector.job_active.return_value = True
        report = self.actuator.cycle(SHORT, [guest('h')])
        self.inspector.set_memory.assert_not_called()
        self.assertEqual('hold', report.guests['h'].action)
        self.assertIn('job', report.guests['h'].reason)

    def test_not_running_and_no_balloon(self):
        report = self.actuator.cycle(SHORT, [
            guest('p', state='paused'), guest('n', has_balloon=False),
            guest('s', usable=None)])
        self.inspector.set_memory.assert_not_called()
        self.assertIn('paused', report.guests['p'].reason)
        self.assertIn('no balloon', report.guests['n'].reason)
        self.assertIn('statistics', report.guests['s'].reason)

    def test_guest_gone_or_error_is_not_fatal(self):
        self.inspector.set_memory.side_effect = [
            inspector.GuestGone('gone'), inspector.InspectorError('boom')]
        report = self.actuator.cycle(SHORT, [guest('a'), guest('b')])
        self.assertFalse(report.guests['a'].applied)
        self.assertFalse(report.guests['b'].applied)
        self.assertEqual({'guest went away', 'failed: boom'},
                         {report.guests['a'].reason,
                          report.guests['b'].reason})
        self.assertEqual(0.0, report.shrunk_mb)

    def test_balloon_features_reported(self):
        guests = [guest('full', fpr=True),
                  guest('plain', autodeflate=False),
                  guest('none', has_balloon=False)]
        with self.assertLogs('nova_drs.agent.balloon', 'WARNING') as logs:
            report = self.actuator.cycle(PLENTY, guests)
            self.actuator.cycle(PLENTY, guests)
        self.assertEqual(['plain'], report.without_autodeflate)
        self.assertEqual(['plain'], report.without_free_page_reporting)
        # warned once per guest and feature, not every cycle
        self.assertEqual(2, len(logs.records))

    def test_free_page_reporting_reclaim_is_counted(self):
        self.actuator.cycle(PLENTY, [guest('f', fpr=True, rss=3 * GIB),
                                     guest('p', rss=3 * GIB)])
        report = self.actuator.cycle(PLENTY, [
            guest('f', fpr=True, rss=2 * GIB), guest('p', rss=2 * GIB)])
        # only the guest with free page reporting, whose balloon held
        self.assertEqual(1024.0, report.fpr_reclaimed_mb)
        self.assertEqual(1024.0, self.actuator.totals['fpr_reclaimed_mb'])

    def test_forget(self):
        self.actuator.cycle(PLENTY, [guest('f', fpr=True, rss=3 * GIB)])
        with mock.patch.object(self.actuator.policy, 'forget') as forget:
            self.actuator.cycle(PLENTY, [], gone=['f'])
        forget.assert_called_once_with('f')
        report = self.actuator.cycle(PLENTY, [
            guest('f', fpr=True, rss=GIB)])
        self.assertEqual(0.0, report.fpr_reclaimed_mb)


class TestShortageOutsideTheGuests(base.BaseTestCase):
    """Untouched memory is capped when the host is short from outside."""

    def setUp(self):
        super().setUp()
        self.conf, self.inspector, self.actuator = actuator()

    def guests(self):
        # idle: 4 GiB balloon, 1 GiB of it ever touched (QEMU's RSS);
        # busy: 16 GiB, 14 GiB backed, all but ~1.7 GiB in use
        return [guest('idle', rss=GIB, usable=3 * GIB, unused=3 * GIB),
                guest('busy', current=16 * GIB, maximum=16 * GIB,
                      rss=14 * GIB, usable=1.7 * GIB,
                      available=16 * GIB, unused=0)]

    def test_memory_hog_outside_the_guests_caps_untouched_memory(self):
        # 32 GiB host, 0.5 GiB available: the guests hold 15 GiB, a
        # process outside them 16.5 GiB
        self.actuator.cycle(host(0.5 * 1024, total_mb=32 * 1024),
                            self.guests())
        # the idle guest's untouched room, down to its floor (2 GiB)
        self.assertIn(mock.call('idle', 2 * GIB),
                      self.inspector.set_memory.call_args_list)

    def test_guests_own_demand_caps_nothing(self):
        # 16 GiB host, 0.5 GiB available: the guests' 15 GiB are beyond
        # what it holds with its free target (14.4 GiB); 0.5 GiB outside
        self.actuator.cycle(host(0.5 * 1024, total_mb=16 * 1024),
                            self.guests())
        self.assertNotIn('idle', [c.args[0] for c in
                                  self.inspector.set_memory.call_args_list])

    def test_outside_memory_given_to_the_policy(self):
        with mock.patch.object(self.actuator.policy, 'targets',
                               return_value=[]) as targets:
            gs = self.guests()
            # a paused guest's QEMU holds memory too; one without RSS
            # counts its balloon size (4 GiB)
            gs.append(guest('paused', state='paused', rss=GIB))
            gs.append(guest('norss'))
            gs[-1].rss_mb = None
            self.actuator.cycle(host(0.5 * 1024, total_mb=32 * 1024), gs)
        sent = targets.call_args.args[0]
        self.assertEqual((32 * 1024, 0.5 * 1024, 32 * 1024 - 512 - 20 * 1024),
                         (sent.total_mb, sent.available_mb, sent.outside_mb))


class TestAdaptivePolicyInTheAgent(base.BaseTestCase):
    """Policy behaviour found with real guests (tests/functional/agent)."""

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_balloon__shrink_step=0.1,
                                  drs_balloon__pressure_drop_rate=0.005)
        self.policy = policies.load('adaptive', self.conf,
                                    clock=stepping_clock())
        self.short = policies.HostMemory(total_mb=100 * 1024,
                                         available_mb=1024)
        self.fine = policies.HostMemory(total_mb=100 * 1024,
                                        available_mb=12 * 1024)

    def targets(self, host=None, **kw):
        g = policies.GuestMemory(name='g', max_mb=512, **kw)
        return {t.name: t
                for t in self.policy.targets(host or self.short, [g])}

    def test_own_shrink_is_not_pressure(self):
        # a 51 MiB shrink lowers usable by 51 MiB (> 25.6 MiB, 0.005 x 10 s);
        # libvirt may report the new balloon size only a cycle later
        t = self.targets(actual_mb=512, usable_mb=430)['g']
        self.assertEqual('shrink', t.action)
        t = self.targets(actual_mb=511, usable_mb=379)['g']
        self.assertEqual('shrink', t.action)

    def _inflating(self, beyond_mb):
        """The target after a 256 MiB shrink's usable fall, and more.

        Usable memory falls by the shrink in flight, 20 % of it more,
        and ``beyond_mb``.
        """
        conf = clusters.conf(drs_balloon__shrink_step=0.5,
                             drs_balloon__shrink_rate=0.05,
                             drs_balloon__pressure_drop_rate=0.005,
                             drs_balloon__floor=0.1)
        policy = policies.load('adaptive', conf, clock=stepping_clock())

        def targets(**kw):
            g = policies.GuestMemory(name='g', max_mb=512, **kw)
            return {t.name: t for t in policy.targets(self.short, [g])}
        targets(actual_mb=512, usable_mb=480)
        shrink = targets(actual_mb=512, usable_mb=480)['g']
        self.assertEqual(('shrink', 256.0), (shrink.action, shrink.target_mb))
        # half inflated so far, libvirt says; the guest's MemAvailable
        # already lost the whole shrink and a little more
        return targets(actual_mb=400,
                       usable_mb=480 - 256 * 1.2 - beyond_mb).get('g')

    def test_inflation_overshoot_is_not_pressure(self):
        # 51 MiB beyond the shrink in 10 s is more than the rate allows
        # (25.6 MiB), but within a quarter of the 256 MiB in flight: the
        # balloon's doing (seen on the lab's guests), not the guest's
        self.assertIsNone(self._inflating(0))

    def test_fall_beyond_the_inflation_slack_is_pressure(self):
        t = self._inflating(60)
        self.assertEqual('grow', t.action)
        self.assertIn('pressure: usable memory fell 47 MiB', t.reason)

    def test_guest_consuming_fast_is_pressure(self):
        self.assertEqual({}, self.targets(self.fine, actual_mb=400,
                                          usable_mb=300))
        t = self.targets(actual_mb=400, usable_mb=260)['g']
        self.assertEqual('grow', t.action)
        self.assertIn('fell 40 MiB', t.reason)

    def test_no_shrink_right_after_growth(self):
        self.targets(self.fine, actual_mb=400, usable_mb=300)
        self.assertEqual('grow', self.targets(actual_mb=400,
                                              usable_mb=260)['g'].action)
        # given memory, it looks idle: not shrunk for shrink_holdoff cycles
        for _cycle in range(3):
            self.assertEqual({}, self.targets(actual_mb=512,
                                              usable_mb=370))
        self.assertEqual('shrink', self.targets(actual_mb=512,
                                                usable_mb=370)['g'].action)
