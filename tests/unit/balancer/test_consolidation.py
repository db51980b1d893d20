# SPDX-License-Identifier: Apache-2.0
"""Consolidation in the balancer: peaks, the pass, freed hosts' services.

Nova is faked at the openstacksdk boundary (``nova_fakes``); the
database (SQLite), the host view and the planner are real.
"""

import threading
import time
import types
from unittest import mock

import numpy as np
from oslotest import base as test_base

from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import consolidation
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.balancer.planning import planner
from nova_drs.balancer.view import host_view
from nova_drs.balancer.view import peaks
from nova_drs.db import models
from tests.unit.balancer import test_host_view as docs
from tests.unit.balancer import test_manager
from tests.unit import clusters as c
from tests.unit.db import base
from tests.unit import fake_time

DRS = consolidation.DISABLED_REASON


class PeakTrackerTest(test_base.BaseTestCase):

    def test_peak_over_the_window_only(self):
        t = peaks.PeakTracker(window_s=1200)     # slices of 100 s
        t.record('i', (0.2, 100, 0, 0), now=0)
        t.record('i', (0.9, 50, 1, 0), now=150)
        t.record('i', (0.1, 300, 0, 2), now=450)
        np.testing.assert_allclose([0.9, 300, 1, 2], t.peak('i', now=500))
        # the 150 s sample leaves the window after 1,200 s more
        np.testing.assert_allclose([0.1, 300, 0, 2], t.peak('i', now=1350))
        self.assertIsNone(t.peak('i', now=10000))
        self.assertIsNone(t.peak('other', now=0))
        self.assertEqual(1200, t.history_s(5000))
        self.assertEqual(450, t.history_s(450))

    def test_slices_line_up_across_instances(self):
        t = peaks.PeakTracker(window_s=1200)     # slices of 100 s
        t.record('a', (0.9, 1, 0, 0), now=250)
        t.record('b', (0.3, 1, 0, 0), now=260)
        t.record('b', (0.7, 1, 0, 0), now=1150)
        a, b = t.slices('a', 1200), t.slices('b', 1200)
        self.assertEqual((peaks.BUCKETS, 4), a.shape)
        self.assertEqual(0.9, a[2, 0])
        self.assertEqual(0.3, b[2, 0])
        self.assertEqual(0.7, b[11, 0])
        self.assertTrue(np.isnan(a[11]).all())
        self.assertIsNone(t.slices('c', 1200))

    def test_slices_never_filled_are_no_sample_on_a_young_clock(self):
        # a monotonic clock younger than the window (a host booted less
        # than a window ago): the ring's empty slots are not maxima of 0
        t = peaks.PeakTracker(window_s=1200)
        t.record('a', (0.9, 1, 0, 0), now=150)
        rows = t.slices('a', 200)
        self.assertEqual(0.9, rows[1, 0])
        self.assertEqual(1, int((~np.isnan(rows[:, 0])).sum()))

    def test_bulk_copy_is_the_same_as_per_key(self):
        t = peaks.PeakTracker(window_s=1200)
        # more keys than the first allocation: the arrays grow
        keys = ['k%d' % n for n in range(peaks.INITIAL_ROWS * 3)]
        for n, key in enumerate(keys):
            t.record(key, (n / 1000.0, n, 0, 1), now=n % 1300)
        t.record(keys[0], (0.9, 0, 0, 0), now=1250)
        now = 1300
        bulk = t.slices_of(*t.copy_rows(keys + ['unknown']), now,
                           dtype=float)
        for n, key in enumerate(keys):
            one = t.slices(key, now)
            if one is None:
                self.assertTrue(np.isnan(bulk[n]).all())
            else:
                np.testing.assert_array_equal(one, bulk[n])
        self.assertTrue(np.isnan(bulk[-1]).all())

    def test_bounded_memory_and_prune(self):
        t = peaks.PeakTracker(window_s=1200)
        for n in range(10000):
            t.record('i', (n % 7, 0, 0, 0), now=n)
        # one row of BUCKETS slices, whatever the samples
        self.assertEqual(peaks.BUCKETS, t._values.shape[1])
        self.assertEqual(1, t._used)
        t.record('gone', (1, 1, 1, 1), now=0)
        self.assertEqual(1, t.prune(now=10000))
        self.assertEqual(1, len(t))
        # its row is reused, not added
        t.record('new', (1, 1, 1, 1), now=10000)
        self.assertEqual(2, t._used)
        self.assertEqual([1.0] * 4, t.peak('new', now=10000).tolist())
        t.forget('new')
        self.assertIsNone(t.peak('new', now=10000))
        # a bad sample is ignored
        t.record('i', (np.nan, 0, 0, 0), now=10000)
        t.record('i', (1, 2), now=10000)
        self.assertEqual(6, t.peak('i', now=10000)[0])
        self.assertRaises(ValueError, peaks.PeakTracker, 0)

    def test_a_slice_keeps_one_of_two_things(self):
        self.assertEqual(peaks.MAX, peaks.PeakTracker(1200).per_slice)
        self.assertRaises(ValueError, peaks.PeakTracker, 1200, 'median')

    def test_host_view_keeps_and_applies_peaks(self):
        now = [1000.0]
        view = host_view.HostView(c.conf(), clock=lambda: now[0],
                                  wall_clock=time.time, peak_window_s=3600)
        uuid = '11111111-0000-0000-0000-000000000001'

        def sample(cpu):
            doc = docs.metrics_doc('compute-1', at=time.time(),
                                   guests=[docs.guest_doc(uuid, cpu=cpu)])
            view.on_metrics([docs.report(doc, now[0])])
        sample(0.9)
        now[0] += 60
        sample(0.1)
        m = c.model([c.host('compute-1')],
                    [c.vm(uuid, 'compute-1', vcpus=2, memory_mb=4096),
                     c.vm('unknown', 'compute-1')])
        view.apply(m)
        self.assertAlmostEqual(0.1, m.instances.cpu_util[0])
        self.assertAlmostEqual(0.9, m.instances.peak[0, 0])
        self.assertTrue(np.isnan(m.instances.peak[1]).all())
        self.assertEqual((2, peaks.BUCKETS, 4), m.instances.peak_slices.shape)
        self.assertAlmostEqual(1.8, m.instance_peak_demand()[0, 0])


class SliceMeanTest(test_base.BaseTestCase):
    """The short window's slices: time-weighted means (issue 15)."""

    def _tracker(self):
        return peaks.PeakTracker(window_s=1200, per_slice=peaks.MEAN)

    def test_a_burst_counts_by_its_share_of_the_slice(self):
        t = self._tracker()                     # slices of 100 s
        # 0.1 every 10 s, 0.9 for the 20 s up to 90 s, 0.1 again
        for at in range(10, 210, 10):
            t.record('i', (0.9 if at in (80, 90) else 0.1, 100, 0, 0),
                     now=at)
        s = t.slices('i', 200)
        # slice 0: 80 s at 0.1, 20 s at 0.9; slice 1: 0.1 throughout
        self.assertAlmostEqual(0.26, s[0, 0])
        self.assertAlmostEqual(0.1, s[1, 0])
        self.assertAlmostEqual(0.26, t.peak('i', 200)[0])
        # the maxima of the same samples: the burst's whole value
        m = peaks.PeakTracker(window_s=1200)
        for at in range(10, 210, 10):
            m.record('i', (0.9 if at in (80, 90) else 0.1, 100, 0, 0),
                     now=at)
        self.assertAlmostEqual(0.9, m.slices('i', 200)[0, 0])

    def test_a_load_held_over_a_slice_counts_whole(self):
        t = self._tracker()
        for at in range(10, 310, 10):
            t.record('i', (0.9 if 100 < at <= 200 else 0.1, 0, 0, 0),
                     now=at)
        s = t.slices('i', 300)
        np.testing.assert_allclose([0.1, 0.9, 0.1], s[:3, 0])

    def test_samples_weigh_the_time_they_stand_for(self):
        # an agent that reports every second while busy: 20 samples of
        # 1 s at 0.9 weigh 20 s, not 20 of the slice's 28 samples
        t = self._tracker()
        times = list(range(10, 80, 10)) + list(range(71, 91)) + [100]
        for at in times:
            t.record('i', (0.9 if at > 70 and at <= 90 else 0.1, 0, 0, 0),
                     now=at)
        self.assertAlmostEqual(0.26, t.slices('i', 150)[0, 0])

    def test_a_sample_spans_the_slices_it_stands_for(self):
        t = self._tracker()
        t.record('i', (0.2, 0, 0, 0), now=50)
        # covers 50-130 s: 50 s of slice 0, 30 s of slice 1
        t.record('i', (0.6, 0, 0, 0), now=130)
        t.record('i', (0.2, 0, 0, 0), now=200)
        s = t.slices('i', 210)
        # the first sample stands for its slice from its start
        self.assertAlmostEqual((50 * 0.2 + 50 * 0.6) / 100, s[0, 0])
        self.assertAlmostEqual((30 * 0.6 + 70 * 0.2) / 100, s[1, 0])

    def test_the_current_slice_is_read_over_a_whole_slice(self):
        t = self._tracker()
        for at in range(10, 110, 10):
            t.record('i', (0.1, 0, 0, 0), now=at)
        # a burst at the start of slice 1: its 10 s are 10 s of the
        # last 100, not the whole of the 10 s slice 1 has had yet
        t.record('i', (0.9, 0, 0, 0), now=110)
        self.assertAlmostEqual(0.18, t.slices('i', 110)[1, 0])
        # at the end of the slice, its own mean
        for at in range(120, 200, 10):
            t.record('i', (0.1, 0, 0, 0), now=at)
        self.assertAlmostEqual(0.18, t.slices('i', 199)[1, 0])
        # a first slice has nothing before it to read: its own mean
        t.record('j', (0.9, 0, 0, 0), now=110)
        self.assertAlmostEqual(0.9, t.slices('j', 110)[1, 0])

    def test_bulk_read_and_reuse_of_rows(self):
        t = self._tracker()
        keys = ['k%d' % n for n in range(peaks.INITIAL_ROWS * 2)]
        for at in (10, 20, 30):
            for n, key in enumerate(keys):
                t.record(key, (n / 1000.0 * at, n, 0, 1), now=at)
        bulk = t.slices_of(*t.copy_rows(keys + ['unknown']), 30,
                           dtype=float)
        for n, key in enumerate(keys):
            np.testing.assert_array_equal(t.slices(key, 30), bulk[n])
        self.assertAlmostEqual(keys.index('k7') / 1000.0 * 20,
                               bulk[7, 0, 0])
        self.assertTrue(np.isnan(bulk[-1]).all())
        # a forgotten key's row is reused without its history
        t.forget('k1')
        t.record('new', (0.5, 0, 0, 0), now=40)
        self.assertAlmostEqual(0.5, t.slices('new', 40)[0, 0])


class HelpersTest(test_base.BaseTestCase):

    def _model(self):
        m = c.model([c.host('a'), c.host('b'), c.host('c'),
                     c.host('d', availability_zone='z2')],
                    [c.vm('v', 'a')])
        return m

    def test_empty_and_states(self):
        m = self._model()
        owned = {'a', 'b', 'c', 'd'}
        going = [types.SimpleNamespace(target='c')]
        self.assertEqual(['b', 'd'],
                         consolidation.empty_hosts(m, owned, going))
        self.assertEqual(
            {'b': models.CONSOLIDATION_DISABLED,
             'd': models.CONSOLIDATION_EMPTY},
            consolidation.host_states(m, owned, going, {'b': DRS,
                                                        'd': 'fan'}))
        # only the hosts this replica owns
        self.assertEqual(['b'], consolidation.empty_hosts(m, {'a', 'b'}))

    def test_to_disable_only_what_consolidation_emptied(self):
        m = self._model()
        owned = {'a', 'b', 'c', 'd'}
        self.assertEqual(['b'], consolidation.to_disable(
            m, owned, (), {}, sources={'a', 'b'}))
        # already disabled (by anyone): left alone
        self.assertEqual([], consolidation.to_disable(
            m, owned, (), {'b': 'operator'}, sources={'b'}))

    def test_room_candidates_only_what_nova_drs_disabled(self):
        m = self._model()
        reasons = {'b': DRS, 'c': 'maintenance: DIMMs', 'd': DRS + ' x'}
        self.assertTrue(consolidation.freed_by_drs(DRS))
        self.assertFalse(consolidation.freed_by_drs('maintenance'))
        self.assertFalse(consolidation.freed_by_drs(None))
        fresh = {'a', 'b', 'c', 'd'}
        self.assertEqual(['b', 'd'], consolidation.room_candidates(
            m, set(fresh), reasons, fresh, near=['a']))
        # a candidate in the hot host's zone first
        m.hosts.availability_zone[0] = m.hosts.availability_zone[3]
        self.assertEqual(['d', 'b'], consolidation.room_candidates(
            m, set(fresh), reasons, fresh, near=['a']))
        # not reporting: wanted, not a candidate
        self.assertEqual(['d'], consolidation.room_candidates(
            m, set(fresh), reasons, {'a', 'd'}))
        self.assertEqual(['b'], consolidation.waiting_hosts(
            reasons, set(fresh), {'a', 'd'}))


def two_hosts_busy():
    """a and b run guests that fit on one host; c is empty."""
    return c.model([c.host('a'), c.host('b'), c.host('c')],
                   [c.vm('v1', 'a', vcpus=2, util=50.0, mem=1000),
                    c.vm('w', 'b', vcpus=1, util=50.0, mem=500)])


def cycle_input(model, **kw):
    kw.setdefault('owned', frozenset(model.hosts.names))
    return planner.CycleInput(model=model, **kw)


class PlannerConsolidateTest(base.SqliteTestCase):

    def planner(self, mode):
        return planner.Planner(c.conf(drs_balancer__mode=mode), self.db,
                               'r1')

    def test_modes(self):
        for mode, applied in (('manual', False), ('partial', False),
                              ('full', True)):
            result = self.planner(mode).consolidate(
                cycle_input(two_hosts_busy()))
            self.assertEqual(['b'], result.plan.freed)
            self.assertIsNone(result.skipped)
            uuid = (result.applied or result.recommended)[0]
            row = self.db.get_plan(uuid)
            self.assertEqual('consolidate', row.strategy)
            self.assertEqual(plan_states.PLAN_APPLYING if applied
                             else plan_states.PLAN_RECOMMENDED,
                             row.state, mode)
            self.assertEqual([('w', 'b', 'a')],
                             [(a.instance_uuid, a.source, a.target)
                              for a in row.actions])
            self.db.cancel_plan(uuid, 'test')

    def test_same_recommendation_is_not_stored_again(self):
        p = self.planner('manual')
        first = p.consolidate(cycle_input(two_hosts_busy()))
        again = p.consolidate(cycle_input(two_hosts_busy()))
        self.assertEqual(first.recommended, again.unchanged)

    def test_not_while_a_hotspot_is_open(self):
        m = two_hosts_busy()
        m.hosts.hot = np.zeros((3, 4), dtype=bool)
        m.hosts.hot[1, 0] = True
        result = self.planner('full').consolidate(cycle_input(m))
        self.assertEqual('hotspot open on b', result.skipped)
        self.assertEqual([], self.db.list_plans())

    def test_not_while_a_host_is_in_maintenance(self):
        result = self.planner('full').consolidate(cycle_input(
            two_hosts_busy(), disabled_reasons={'c': 'maintenance: x'}))
        self.assertIn('maintenance', result.skipped)

    def test_only_owned_hosts_are_emptied(self):
        # b belongs to another replica: its guest stays, a is emptied
        result = self.planner('full').consolidate(cycle_input(
            two_hosts_busy(), owned=frozenset({'a'})))
        self.assertEqual(['a'], result.plan.freed)
        self.assertEqual({'v1'}, {m.instance for m in result.plan.migrations})
        result = self.planner('full').consolidate(cycle_input(
            two_hosts_busy(), owned=frozenset({'c'})))
        self.assertEqual('no host can be emptied', result.skipped)

    def _hot_and_freed(self):
        # a is hot (CPU 0.9); b is full; c was emptied and disabled
        m = c.model([c.host('a'), c.host('b'), c.host('c')],
                    [c.vm('v1', 'a', vcpus=5, util=100.0, mem=500),
                     c.vm('v2', 'a', vcpus=4, util=100.0, mem=500),
                     c.vm('x', 'b', vcpus=8, util=100.0, mem=500)])
        m.hosts.disabled[2] = True
        return m

    def test_hotspot_enables_a_host_nova_drs_disabled(self):
        loads = {h: {} for h in ('a', 'b', 'c')}
        result = self.planner('full').run(cycle_input(
            self._hot_and_freed(), loads=loads,
            disabled_reasons={'c': DRS}))
        self.assertEqual(['c'], result.enable_hosts)
        self.assertEqual([], result.unresolved)
        self.assertEqual({'c'}, {m.target for m in result.plan.migrations})

    def test_a_recommendation_enables_nothing(self):
        loads = {h: {} for h in ('a', 'b', 'c')}
        result = self.planner('manual').run(cycle_input(
            self._hot_and_freed(), loads=loads,
            disabled_reasons={'c': DRS}))
        self.assertEqual([], result.enable_hosts)
        self.assertEqual(1, len(result.recommended))
        plan = self.db.get_plan(result.recommended[0])
        self.assertEqual({'c'}, {a.target for a in plan.actions})

    def test_never_a_host_an_operator_disabled_or_a_silent_one(self):
        loads = {h: {} for h in ('a', 'b', 'c')}
        result = self.planner('full').run(cycle_input(
            self._hot_and_freed(), loads=loads,
            disabled_reasons={'c': 'fan broken'}))
        self.assertEqual([], result.enable_hosts)
        self.assertEqual(['a'], result.unresolved)
        # nova-drs disabled it, but its agent does not report
        result = self.planner('full').run(cycle_input(
            self._hot_and_freed(), loads={'a': {}, 'b': {}},
            disabled_reasons={'c': DRS}))
        self.assertEqual([], result.enable_hosts)
        self.assertEqual(['c'], result.hosts_wanted)


class ManagerConsolidationTest(test_manager.ManagerTestCase):

    EXTRA = '22222222-0000-0000-0000-000000000001'

    def setUp(self):
        super().setUp()
        self.conn.add_server(self.EXTRA, 'compute-2', vcpus=4, ram=2048)

    def report_guests(self, host, sids, cpu=0.1):
        guests = [docs.guest_doc(sid, cpu=cpu, mem=500.0, vcpus=4,
                                 max_mb=2048.0) for sid in sids]
        load = cpu * 4 * len(sids) / 12.0
        doc = docs.metrics_doc(host, at=time.time(), guests=guests,
                               load=(load, 0.1, 0, 0),
                               hotspot=('cpu',) if load > 0.85 else ())
        self.manager.view.on_metrics([docs.report(doc, time.monotonic())])

    def report_cluster(self):
        self.report_guests('compute-1', list(test_manager.SERVERS))
        self.report_guests('compute-2', [self.EXTRA])
        self.report_guests('compute-3', [])

    def service(self, host):
        return next(s for s in self.conn.compute.service_list
                    if s.host == host)

    def test_the_view_keeps_both_windows_for_the_model(self):
        # consolidation's day-long window and the destinations' short one
        view = self.manager.view
        self.assertEqual(self.conf.drs_balancer.consolidation_peak_window,
                         view.peaks.window_s)
        self.assertEqual(self.conf.drs_balancer.destination_peak_window,
                         view.recent.window_s)
        self.report_cluster()
        self.manager.prepare_cycle()
        inst = self.manager._model.instances
        row = inst.names.index(self.EXTRA)
        self.assertAlmostEqual(0.1, np.nanmax(inst.recent_slices[row, :, 0]),
                               places=6)
        self.assertAlmostEqual(0.1, np.nanmax(inst.peak_slices[row, :, 0]),
                               places=6)

    def test_pass_waits_for_a_whole_peak_window(self):
        self.report_cluster()
        self.assertIsNone(self.manager.consolidation_cycle())
        self.assertEqual([], self.db.list_plans())
        self.manager.view.peaks.since -= \
            self.conf.drs_balancer.consolidation_peak_window
        result = self.manager.consolidation_cycle()
        self.assertEqual(['compute-2'], result.plan.freed)
        # full mode: applied
        self.assertEqual(1, len(result.applied))

    def test_freed_host_disabled_and_reported(self):
        self.conf.set_override('disable_freed_hosts', True, 'drs_balancer')
        self.report_cluster()
        # a consolidation plan emptied compute-3 (applied)
        done = plan_mod.Plan('consolidate', migrations=[plan_mod.Migration(
            instance='33333333-0000-0000-0000-000000000001',
            source='compute-3', target='compute-1', reason='test')])
        row = self.db.create_plan(done, models.ORIGIN_PERIODIC, 'replica-a')
        self.db.transition_plan(row.uuid, plan_states.PLAN_RECOMMENDED,
                                plan_states.PLAN_APPLYING, 'replica-a')
        self.manager.cycle()
        self.assertIn(('disable_service', 'compute-3', DRS),
                      self.conn.compute.calls)
        self.assertEqual(('disabled', DRS),
                         (self.service('compute-3').status,
                          self.service('compute-3').disabled_reason))
        self.assertEqual({'compute-3': models.CONSOLIDATION_DISABLED},
                         self.manager.consolidation_states)
        self.manager.write_host_states()
        states = {r.host: r.consolidation
                  for r in self.db.list_host_states()}
        self.assertEqual({'compute-1': None, 'compute-2': None,
                          'compute-3': 'disabled'}, states)
        # the next cycle does not disable it again
        self.manager.cycle()
        self.assertEqual(1, self.conn.compute.call_names().count(
            'disable_service'))
        (event,) = self.db.list_events(kind='consolidation.host_disabled')
        self.assertEqual((row.uuid, {'host': 'compute-3'}),
                         (event.object_uuid, event.detail))
        # an operator enables it again: nova-drs leaves it so
        self.service('compute-3').status = 'enabled'
        self.service('compute-3').disabled_reason = None
        self.manager._disabled_at.clear()
        self.manager.inventory.invalidate('test')
        self.manager.cycle()
        self.assertEqual(1, self.conn.compute.call_names().count(
            'disable_service'))

    def test_empty_host_without_the_option_is_only_reported(self):
        self.report_cluster()
        self.manager.cycle()
        self.assertNotIn('disable_service', self.conn.compute.call_names())
        self.assertEqual({'compute-3': models.CONSOLIDATION_EMPTY},
                         self.manager.consolidation_states)

    def test_hotspot_enables_the_freed_host(self):
        svc = self.service('compute-3')
        svc.status, svc.disabled_reason = 'disabled', DRS
        svc2 = self.service('compute-2')
        svc2.status, svc2.disabled_reason = 'disabled', 'operator: fan'
        self.report_guests('compute-1', list(test_manager.SERVERS), cpu=1.0)
        self.report_guests('compute-2', [self.EXTRA])
        self.report_guests('compute-3', [])
        result = self.manager.cycle()
        self.assertEqual(['compute-3'], result.enable_hosts)
        self.assertEqual([('enable_service', 'compute-3')],
                         [call for call in self.conn.compute.calls
                          if call[0] == 'enable_service'])
        self.assertEqual('enabled', svc.status)
        self.assertEqual('disabled', svc2.status)
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'compute-3'}, {a.target for a in plan.actions})
        # the executor's destination check sees it enabled at once
        model = self.manager._model
        self.assertFalse(model.hosts.disabled[model.host_index['compute-3']])
        events = self.db.list_events(kind='consolidation.host_enabled')
        self.assertEqual(1, len(events))


class MainLoopTest(test_manager.ManagerTestCase):
    """The timers of the main loop (their work mocked), on a fake clock."""

    UNTIL = 3600.0

    def _run(self, interval):
        """An hour of the main loop; the times each timer ran at."""
        self.conf.set_override('consolidation_interval', interval,
                               'drs_balancer')
        clock = self.useFixture(fake_time.FakeTime())
        m = self.manager
        stop = threading.Event()
        calls = {}

        def record(name):
            def call(*args):
                calls.setdefault(name, []).append(clock.now)
                if name == 'requests' and clock.now >= self.UNTIL:
                    # nothing runs after this one
                    m._runner.stop()
                    stop.set()
            return call
        # _woken_cycle: the coordinator's membership changes may wake the
        # manager; on the fake clock that cycle would run in its thread
        with mock.patch.object(m, 'cycle', record('cycle')), \
                mock.patch.object(m, 'consolidation_cycle',
                                  record('consolidation')), \
                mock.patch.object(m, 'process_requests',
                                  record('requests')), \
                mock.patch.object(m, 'write_host_states',
                                  record('states')), \
                mock.patch.object(m, 'refresh_and_report',
                                  record('report')), \
                mock.patch.object(m, 'purge', record('purge')), \
                mock.patch.object(m, '_woken_cycle'):
            thread = threading.Thread(target=m.run, args=(stop,))
            thread.start()
            thread.join(10)
        self.assertFalse(thread.is_alive())
        return calls

    def test_timers(self):
        calls = self._run(0)
        # [drs_balancer] planning_interval, request_poll_interval and
        # host_state_interval: 60, 2 and 10 s; the first two at start,
        # and at 3600 s the requests came first (in the order of the
        # timers)
        self.assertEqual([60.0 * n for n in range(61)], calls['cycle'])
        self.assertEqual([2.0 * n for n in range(1801)], calls['requests'])
        self.assertEqual([10.0 * n for n in range(1, 360)], calls['states'])
        self.assertEqual(calls['states'], calls['report'])
        # at start, then daily
        self.assertEqual([0.0], calls['purge'])
        # consolidation off by default
        self.assertNotIn('consolidation', calls)

    def test_a_pass_every_interval(self):
        calls = self._run(600)
        self.assertEqual([600.0, 1200.0, 1800.0, 2400.0, 3000.0],
                         calls['consolidation'])
        self.assertEqual(61, len(calls['cycle']))
