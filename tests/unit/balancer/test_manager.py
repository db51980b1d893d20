# SPDX-License-Identifier: Apache-2.0
"""The balancer manager's planning cycle, destination check and events.

Nova is faked at the openstacksdk boundary (``nova_fakes``); the
database (SQLite), the coordination backend (tooz, file driver) and the
host view are real. Threads are not started except the coordinator's
heartbeat: cycles are run by calling :meth:`BalancerManager.cycle`.
"""

import dataclasses
import datetime
import os
import queue
import threading
import time
import types
from unittest import mock

import fixtures
import oslo_messaging
from oslotest import base

from nova_drs.balancer.intake import nova_events
from nova_drs.balancer import manager as manager_mod
from nova_drs.balancer import plan_states
from nova_drs.balancer.view import host_view as host_view_mod
from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.unit.balancer import nova_fakes
from tests.unit.balancer import test_host_view as docs
from tests.unit import clusters

HOSTS = ('compute-1', 'compute-2', 'compute-3')
SERVERS = {'11111111-0000-0000-0000-00000000000%d' % n: 'compute-1'
           for n in range(1, 4)}


class ManagerTestCase(base.BaseTestCase):

    mode = 'full'

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        url = self.url = 'sqlite:///' + os.path.join(tmp, 'drs.sqlite')
        migration.upgrade(None, connection=url)
        self.conf = clusters.conf(
            drs_balancer__mode=self.mode,
            drs_coordination__backend_url='file://' + tmp,
            drs_coordination__replica_id='replica-a',
            drs_coordination__heartbeat_interval=0.1,
            drs_coordination__member_timeout=2,
            drs_database__connection=url,
            drs_listener__nova_notifications=True,
            drs_listener__partitions=getattr(self, 'partitions', 0))
        self.conn = nova_fakes.FakeConnection()
        for host in HOSTS:
            # 12 cores: a 4-vCPU server at 100% is a third of the host
            self.conn.add_host(host, vcpus=12)
        for sid, host in SERVERS.items():
            self.conn.add_server(sid, host, vcpus=4, ram=2048)
        self.db = db_api.Database(connection=url)
        self.addCleanup(self.db.dispose)
        transport = oslo_messaging.get_notification_transport(
            self.conf, url='fake:/')
        self.manager = manager_mod.BalancerManager(
            self.conf, conn=self.conn, db=self.db, transport=transport,
            nova_transport=transport)
        self.manager.coordinator.start()
        self.addCleanup(self.manager.coordinator.stop)
        self.assertTrue(self.manager.coordinator.wait_active(10))

    def report(self, host, cpu_per_guest=0.1, load=None, hotspot=None,
               **kwargs):
        """A metrics report of ``host``, as its agent would send it.

        Its CPU load is its guests' unless ``load`` says otherwise, and
        its agent flags it hot as soon as that is above the [drs]
        threshold (1 of 1) unless ``hotspot`` says otherwise.
        """
        guests = [docs.guest_doc(sid, cpu=cpu_per_guest, mem=500.0, vcpus=4,
                                 max_mb=2048.0)
                  for sid, where in SERVERS.items() if where == host]
        load = load if load is not None else \
            cpu_per_guest * 4 * len(guests) / 12.0
        if hotspot is None:
            hotspot = ('cpu',) if load > self.conf.drs.cpu_threshold else ()
        doc = docs.metrics_doc(host, at=time.time(), guests=guests,
                               load=(load, 0.1, 0.0, 0.0), hotspot=hotspot,
                               **kwargs)
        self.manager.view.on_metrics([docs.report(doc, time.monotonic())])

    def report_all(self, hot_cpu=0.1):
        self.report('compute-1', cpu_per_guest=hot_cpu)
        self.report('compute-2')
        self.report('compute-3')


class CycleTest(ManagerTestCase):

    def test_no_metrics_no_plan(self):
        # every host is "never reported": nothing is planned
        self.manager.cycle()
        self.assertEqual([], self.db.list_plans())

    def test_hot_host_gets_an_applied_plan(self):
        # 3 x 4 vCPUs at 100% on 12 cores: CPU load 1.0
        self.report_all(hot_cpu=1.0)
        result = self.manager.cycle(models.ORIGIN_HOTSPOT)
        self.assertEqual(1, len(result.applied))
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual(plan_states.PLAN_APPLYING, plan.state)
        self.assertEqual({'compute-1'}, {a.source for a in plan.actions})
        # the next cycle counts the pending action as under way: no new plan
        again = self.manager.cycle()
        self.assertEqual([], again.applied)
        self.assertEqual(1, len(self.db.list_plans()))

    def test_stale_hosts_are_not_destinations(self):
        self.report('compute-1', cpu_per_guest=1.0)
        self.report('compute-2')
        # compute-3 never reports
        result = self.manager.cycle()
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'compute-2'}, {a.target for a in plan.actions})

    def test_nova_down_no_plan_and_no_exception(self):
        self.report_all(hot_cpu=1.0)
        self.conn.compute.services = _raise
        self.assertIsNone(self.manager.cycle())
        self.assertEqual([], self.db.list_plans())

    def test_bad_pairs_are_avoided(self):
        self.report_all(hot_cpu=1.0)
        for sid in SERVERS:
            self.db.mark_bad_pair(sid, 'compute-2', 3600, 'test')
        result = self.manager.cycle()
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'compute-3'}, {a.target for a in plan.actions})


class ManualTest(ManagerTestCase):

    mode = 'manual'

    def test_manual_mode_only_recommends(self):
        self.report_all(hot_cpu=1.0)
        result = self.manager.cycle()
        self.assertEqual([], result.applied)
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(result.recommended[0]).state)


class OperatorSettingsTest(ManagerTestCase):
    """What operators set through the API, read at each cycle."""

    def row(self):
        (row,) = self.db.list_replica_states()
        return row

    def test_operator_mode_at_the_next_cycle(self):
        self.report_all(hot_cpu=1.0)
        self.db.update_balancer_settings('alice', mode='manual',
                                         reason='audit week')
        result = self.manager.cycle(models.ORIGIN_HOTSPOT)
        self.assertEqual([], result.applied)
        self.assertEqual(1, len(result.recommended))
        self.assertEqual('manual', self.manager.mode)
        summary = self.manager.last_cycle
        self.assertEqual(('hotspot', 'manual', result.recommended, [], 1,
                          None, False),
                         (summary['origin'], summary['mode'],
                          summary['recommended'], summary['applied'],
                          summary['migrations'], summary['skipped'],
                          summary['failed']))
        # the cycle's report is in the database at once
        row = self.row()
        self.assertEqual(('replica-a', 'manual', 'operator', 'hotspot',
                          False, 1, 0),
                         (row.replica_id, row.mode, row.mode_source,
                          row.strategy, row.paused, row.cycles,
                          row.cycle_errors))
        self.assertEqual(summary, row.last_cycle)
        # with its counters: what it took in, owns, read and used
        work = row.work
        self.assertEqual(self.manager.intake.stats()['accepted'],
                         work['accepted'])
        self.assertEqual((self.manager.inventory.reads,
                          self.manager.inventory.calls),
                         (work['nova_reads'], work['nova_calls']))
        self.assertEqual(len(self.manager.executor.in_progress()),
                         work['migrations_following'])
        self.assertGreater(work['cpu_s'], 0)
        self.assertGreater(work['rss_mb'], 10)
        # back to [drs_balancer] mode
        self.db.update_balancer_settings('alice', mode=None)
        self.manager.refresh_and_report()
        self.assertEqual(('full', 'config'),
                         (self.row().mode, self.row().mode_source))

    def test_paused_cycle_plans_nothing(self):
        self.report_all(hot_cpu=1.0)
        self.db.update_balancer_settings('alice', paused=True)
        self.assertIsNone(self.manager.cycle())
        self.assertEqual([], self.db.list_plans())
        self.assertEqual('automatic balancing is paused',
                         self.manager.last_cycle['skipped'])
        self.assertTrue(self.row().paused)
        self.assertEqual(1, self.row().cycles)
        self.assertTrue(self.manager.status()['paused'])
        # resumed: the next cycle plans and applies
        self.db.update_balancer_settings('alice', paused=False)
        result = self.manager.cycle()
        self.assertEqual(1, len(result.applied))
        self.assertTrue(
            self.db.get_plan(result.applied[0]).applied_automatically)
        self.assertFalse(self.row().paused)

    def test_paused_host_is_left_alone(self):
        self.report_all(hot_cpu=1.0)
        self.db.set_host_paused('compute-1', True, 'alice')
        result = self.manager.cycle()
        self.assertEqual([], result.applied)
        self.assertEqual(['compute-1'], result.unresolved)
        self.assertEqual(['compute-1'], self.manager.status()['paused_hosts'])
        # and no destination: compute-1 resumed, compute-2 paused
        self.db.set_host_paused('compute-1', False, 'alice')
        self.db.set_host_paused('compute-2', True, 'alice')
        result = self.manager.cycle()
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'compute-3'}, {a.target for a in plan.actions})

    def test_plan_requests_are_carried_out_while_paused(self):
        self.report_all(hot_cpu=1.0)
        self.db.update_balancer_settings('alice', paused=True)
        request = self.db.create_plan_request('plan', 'alice')
        self.manager.process_requests()
        done = self.db.get_plan_request(request.uuid)
        self.assertEqual(models.REQUEST_DONE, done.state)
        plan = self.db.get_plan(done.plan_uuid)
        self.assertEqual(plan_states.PLAN_RECOMMENDED, plan.state)
        self.assertTrue(plan.actions)

    def test_failed_cycle_is_reported(self):
        self.report_all(hot_cpu=1.0)
        self.manager.planner.run = _raise
        self.assertIsNone(self.manager.cycle())
        self.assertTrue(self.manager.last_cycle['failed'])
        self.assertEqual((0, 1), (self.row().cycles, self.row().cycle_errors))

    def test_start_reports_and_clean_stop_forgets(self):
        self.db.update_balancer_settings('alice', mode='partial')
        self.manager.start()
        row = self.row()
        self.assertEqual(('partial', 'operator', os.getpid()),
                         (row.mode, row.mode_source, row.pid))
        self.assertEqual({}, row.last_cycle)
        started = self.db.list_events(kind='balancer.started')[0]
        self.assertEqual('operator', started.detail['mode_source'])
        self.manager.stop()
        self.assertEqual([], self.db.list_replica_states())

    def test_purge_forgets_silent_replicas(self):
        # a replica that died two days ago without removing its row
        then = self.db.now() - datetime.timedelta(days=2)
        past = db_api.Database(connection=self.url, clock=lambda: then)
        self.addCleanup(past.dispose)
        past.report_replica(
            'gone', host='x', pid=1, version='0', mode='full',
            mode_source='config', strategy='hotspot', paused=False,
            started_at=then)
        self.manager.refresh_and_report()
        self.manager.purge()
        self.assertEqual(['replica-a'], [
            r.replica_id for r in self.db.list_replica_states()])


class RoomCheckTest(ManagerTestCase):

    def action(self, instance, target):
        return types.SimpleNamespace(instance_uuid=instance, target=target,
                                     source='compute-1')

    def test_room_check(self):
        self.report_all(hot_cpu=1.0)
        self.manager.cycle()
        sids = sorted(SERVERS)
        ok, why = self.manager.room_check(self.action(sids[0], 'compute-2'),
                                          [])
        self.assertTrue(ok, why)
        # three 4-vCPU servers at 100% would put compute-2 above 1.0
        ok, why = self.manager.room_check(
            self.action(sids[0], 'compute-2'),
            [self.action(sids[1], 'compute-2'),
             self.action(sids[2], 'compute-2')])
        self.assertFalse(ok)
        self.assertIn('above its cpu threshold(s) with 3 incoming', why)
        ok, why = self.manager.room_check(self.action(sids[0], 'nowhere'),
                                          [])
        self.assertFalse(ok)
        self.assertIn('not a known compute host', why)
        ok, _ = self.manager.room_check(self.action(sids[0], None), [])
        self.assertTrue(ok)

    def test_room_check_judges_the_measured_host_load(self):
        # compute-2's guests are idle (it has none), but its own
        # processes use half of it: a 4-vCPU server at 100% (a third of
        # it) puts it at 0.83, under 0.85; at 0.6 it would be 0.93
        sid = sorted(SERVERS)[0]
        move = self.action(sid, 'compute-2')
        self.report_all(hot_cpu=1.0)
        self.report('compute-2', load=0.5)
        self.manager.cycle()
        self.assertEqual((True, ''), self.manager.room_check(move, []))
        self.report('compute-2', load=0.6)
        ok, why = self.manager.room_check(move, [])
        self.assertFalse(ok)
        self.assertIn('compute-2 would be above its cpu threshold(s) with '
                      '1 incoming', why)
        # judged by its agent's thresholds, not this balancer's
        self.report('compute-2', load=0.6, thresholds=(0.95, 0.9, 0.9, 0.9))
        self.assertEqual((True, ''), self.manager.room_check(move, []))

    def test_a_hot_destination_is_refused(self):
        # the end-to-end failure of issue 14: compute-2's guests are idle
        # but its host is at 1.0 and its agent flags it: Nova's filter
        # would refuse the move, and so does the room check
        sid = sorted(SERVERS)[0]
        self.report_all(hot_cpu=1.0)
        self.manager.cycle()
        self.report('compute-2', load=1.0)
        ok, why = self.manager.room_check(self.action(sid, 'compute-2'), [])
        self.assertFalse(ok)
        self.assertIn('compute-2 is hot (cpu)', why)
        # flagged hot while its load is back to 0.1 (cooling): refused too
        self.report('compute-2', load=0.1, hotspot=('cpu',))
        ok, why = self.manager.room_check(self.action(sid, 'compute-2'), [])
        self.assertFalse(ok)
        self.assertIn('is hot (cpu)', why)
        # not flagged (yet) but at 1.0: no room
        self.report('compute-2', load=1.0, hotspot=())
        ok, why = self.manager.room_check(self.action(sid, 'compute-2'), [])
        self.assertFalse(ok)
        self.assertIn('above its cpu threshold', why)

    def test_a_destination_busy_outside_its_guests_is_not_chosen(self):
        self.report('compute-1', cpu_per_guest=1.0)
        self.report('compute-2', load=1.0)
        self.report('compute-3', load=0.2)
        result = self.manager.cycle()
        plan = self.db.get_plan(result.applied[0])
        self.assertEqual({'compute-3'}, {a.target for a in plan.actions})
        self.assertIn('compute-2', result.unresolved)

    def test_stale_destination_is_refused(self):
        self.report('compute-1', cpu_per_guest=1.0)
        self.report('compute-2')
        self.manager.cycle()
        ok, why = self.manager.room_check(
            self.action(sorted(SERVERS)[0], 'compute-3'), [])
        self.assertFalse(ok)
        self.assertIn('sends no current metrics', why)


class EventsTest(ManagerTestCase):

    def setUp(self):
        super().setUp()
        # forget the wake-up of the membership change at start
        time.sleep(0.3)
        self.manager._take_reasons()

    def event(self, event_type, kind):
        return nova_events.NovaEvent(event_type=event_type, instance=None,
                                     host='compute-2',
                                     timestamp=time.time(), kind=kind)

    def test_service_update_invalidates_and_wakes(self):
        self.manager.on_nova_events([self.event('service.update',
                                                'inventory')])
        self.assertTrue(self.manager.inventory.dirty)
        self.assertEqual({manager_mod.WAKE_REPLAN},
                         self.manager._take_reasons())

    def test_instance_event_only_invalidates(self):
        self.manager.on_nova_events([self.event('instance.create.end',
                                                'inventory')])
        self.assertTrue(self.manager.inventory.dirty)
        self.assertEqual(set(), self.manager._take_reasons())

    def test_server_created_is_applied_without_a_read(self):
        self.manager.inventory.get()
        reads = self.manager.inventory.reads
        new = '22222222-0000-0000-0000-000000000001'
        facts = nova_events.ServerFacts(
            host='compute-3', vm_state='active', task_state=None, vcpus=2,
            ram_mb=1024, flavor_name='m1', metadata=(), name='new',
            project_id='p1')
        self.manager.on_nova_events([nova_events.NovaEvent(
            event_type='instance.create.end', instance=new,
            host='compute-3', timestamp=time.time() + 1, kind='inventory',
            server=facts)])
        self.assertFalse(self.manager.inventory.dirty)
        view = self.manager.inventory.get()
        self.assertEqual(reads, self.manager.inventory.reads)
        self.assertEqual('compute-3', view.servers[new].host)
        status = self.manager.status()['inventory']
        self.assertEqual(1, status['deltas'])
        self.assertEqual('full', status['last_read']['kind'])
        self.assertIn('inventories', status['last_read']['calls'])

    def test_urgent_hotspot_wakes_the_planner(self):
        doc = docs.hotspot_doc('compute-1', at=time.time())
        self.manager.view.on_hotspots([docs.report(doc, time.monotonic())])
        self.assertIn(manager_mod.WAKE_HOTSPOT,
                      self.manager._take_reasons())


class WakeTest(ManagerTestCase):
    """The main loop on real threads: woken cycles run at once."""

    def test_an_urgent_hotspot_is_planned_at_once(self):
        m = self.manager
        origins = queue.Queue()
        stop = threading.Event()
        thread = threading.Thread(target=m.run, args=(stop,))
        with mock.patch.object(m, 'cycle', side_effect=origins.put), \
                mock.patch.object(m, 'process_requests'), \
                mock.patch.object(m, 'write_host_states'), \
                mock.patch.object(m, 'refresh_and_report'), \
                mock.patch.object(m, 'purge'):
            thread.start()
            self.addCleanup(thread.join, 10)
            self.addCleanup(stop.set)
            # the first cycle at start
            origins.get(timeout=10)
            doc = docs.hotspot_doc('compute-1', at=time.time())
            m.view.on_hotspots([docs.report(doc, time.monotonic())])
            # long before the next periodic one (planning_interval: 60 s)
            while origins.get(timeout=10) != models.ORIGIN_HOTSPOT:
                pass
            stop.set()
            thread.join(10)
        self.assertFalse(thread.is_alive())
        self.assertIsNone(m._runner)
        # woken after the stop: nothing runs, nothing fails
        m.wake(manager_mod.WAKE_REPLAN)


def _raise(*args, **kwargs):
    raise nova_fakes.http_error(503, 'Service Unavailable')


class PartitionedIntakeTest(ManagerTestCase):
    """With [drs_listener] partitions, the replica reads its partitions."""

    def setUp(self):
        self.partitions = 4
        super().setUp()

    def test_a_single_replica_reads_every_partition(self):
        from nova_drs.balancer.intake import partitions
        self.assertIsInstance(self.manager.intake,
                              partitions.PartitionedIntake)
        self.manager.intake.start()
        self.addCleanup(self.manager.intake.stop)
        self.assertEqual(frozenset(range(4)), self.manager.intake.owned)
        self.assertEqual(set(HOSTS),
                         self.manager.coordinator.owned_hosts(HOSTS))

    def members(self, *names):
        """The coordination group as this replica saw it last."""
        patcher = mock.patch.object(
            type(self.manager.coordinator), 'members',
            new_callable=mock.PropertyMock, return_value=frozenset(names))
        patcher.start()
        self.addCleanup(patcher.stop)

    def shared_by_replica_b(self, host):
        """replica-b wrote ``host``'s state just now (its agent's report)."""
        other = host_view_mod.HostView(self.conf)
        doc = docs.metrics_doc(host, at=time.time(),
                               load=(0.2, 0.1, 0.0, 0.0))
        other.on_metrics([docs.report(doc, time.monotonic())])
        self.db.save_host_states(other.hosts(), 'replica-b')

    def test_rows_of_a_replica_gone_are_not_trusted(self):
        # replica-b wrote compute-2's state just now, then left the group
        self.shared_by_replica_b('compute-2')
        self.report_all()
        owned = {'compute-1'}
        for members, stale in ((('replica-a', 'replica-b'), False),
                               (('replica-a',), True)):
            self.members(*members)
            with mock.patch.object(
                    self.manager.coordinator, 'owned_hosts',
                    side_effect=lambda names: owned & set(names)):
                self.manager.prepare_cycle()
            self.assertEqual(stale, self.manager.view.host('compute-2')
                             is None or
                             self.manager.view.host('compute-2').stale,
                             members)
        self.assertEqual({'gone': 1}, {
            k: v for k, v in self.manager.status()[
                'host_states_left_out'].items() if v})

    def test_other_replicas_hosts_from_their_shared_state(self):
        # compute-2 is another replica's: its owner shared its state
        self.shared_by_replica_b('compute-2')
        # this replica still holds compute-2's metrics from before
        self.report_all()
        self.members('replica-a', 'replica-b')
        with mock.patch.object(
                self.manager.coordinator, 'owned_hosts',
                side_effect=lambda names: {'compute-1'} & set(names)):
            cycle = self.manager.prepare_cycle()
        model = cycle.model
        disabled = {n: bool(model.hosts.disabled[model.host_index[n]])
                    for n in HOSTS}
        # compute-3: neither owned nor shared by anyone: fenced off
        self.assertEqual({'compute-1': False, 'compute-2': False,
                          'compute-3': True}, disabled)
        # no raw metrics of hosts it does not own
        self.assertEqual(['compute-1'], sorted(self.manager.view.hosts()))
        self.assertFalse(self.manager.view.host('compute-2').stale)
        # it read the one row there is, and says so
        reads = self.manager.status()['host_states']
        self.assertEqual((1, 1, 1), (reads['reads'], reads['full_reads'],
                                     reads['rows']))
        self.assertGreater(reads['last']['bytes'], 0)
        # the next cycle reads what changed only: nothing
        with mock.patch.object(
                self.manager.coordinator, 'owned_hosts',
                side_effect=lambda names: {'compute-1'} & set(names)):
            self.manager.prepare_cycle()
        self.assertFalse(self.manager.view.host('compute-2').stale)
        work = self.manager.work()
        self.assertEqual((2, 1, 1), (work['host_state_reads'],
                                     work['host_state_full_reads'],
                                     work['host_state_rows']))
        self.assertEqual(reads['last']['bytes'], work['host_state_bytes'])

    def test_placement_read_for_the_owned_hosts_only(self):
        from nova_drs.balancer.view import nova_view
        # replica-b owns compute-2 and compute-3: it read them in
        # Placement and shared their capacity with their states
        other = host_view_mod.HostView(self.conf)
        reader = nova_view.NovaCollector(self.conn, self.conf)
        reader.read(full=True)
        caps = reader.own_capacities()
        for host in ('compute-2', 'compute-3'):
            doc = docs.metrics_doc(host, at=time.time(),
                                   load=(0.2, 0.1, 0.0, 0.0))
            other.on_metrics([docs.report(doc, time.monotonic())])
        states = [dataclasses.replace(s, capacity=caps[s.name].as_dict())
                  for s in other.hosts().values()]
        self.db.save_host_states(states, 'replica-b')
        rp = {hv.service_details['host']: hv.id
              for hv in self.conn.compute.hypervisor_list}
        mine = {'compute-1'}

        def inventories_read():
            read = sorted(c[1] for c in self.conn.placement.calls
                          if c[0] == 'inventories')
            self.conn.placement.calls.clear()
            return read

        self.conn.placement.calls.clear()
        self.report_all()
        with mock.patch.object(
                self.manager.coordinator, 'owned_hosts',
                side_effect=lambda names: mine & set(names)):
            cycle = self.manager.prepare_cycle()
            # the first read is full, yet reads only compute-1 in
            # Placement; the others' capacities are replica-b's
            self.assertEqual([rp['compute-1']], inventories_read())
            last = self.manager.inventory.stats()['last_read']
            self.assertEqual(('full', 1, 2),
                             (last['kind'], last['inventories_read'],
                              last['inventories_shared']))
            self.assertEqual(12, cycle.model.hosts.vcpus[
                cycle.model.host_index['compute-2']])
            # it shares what it read: compute-1's capacity, and only it
            self.manager.write_host_states()
            rows = {r.host: r for r in self.db.list_host_states()}
            self.assertEqual(rp['compute-1'],
                             rows['compute-1'].capacity['provider'])
            self.assertEqual(12, rows['compute-1'].capacity['vcpus'])
            # replica-b left: compute-2 is this replica's now, and is
            # read in Placement at the next cycle (not the next full read)
            mine.add('compute-2')
            self.manager.inventory.min_interval = 0
            self.manager._on_membership(None)
            self.manager.prepare_cycle()
            self.assertEqual([rp['compute-2']], inventories_read())
            self.assertEqual('incremental', self.manager.inventory.stats()[
                'last_read']['kind'])
