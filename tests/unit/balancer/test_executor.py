# SPDX-License-Identifier: Apache-2.0
"""The executor: a real SQLite database, real tooz coordinators (file
backend), and a fake actuator standing in for Nova.
"""

import collections
import datetime
import itertools
import threading
import time
import types
import uuid

import fixtures
from oslo_db import exception as db_exc

from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.execution import actuator
from nova_drs.balancer.execution import executor as executor_mod
from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs import config
from nova_drs.db import models
from tests import polling
from tests.unit.balancer import nova_fakes
from tests.unit.db import base as db_base
from tests.unit import fake_time

INTERVAL = 0.1
MEMBER_TIMEOUT = 2
POLL = 0.02
TAKEOVER_AFTER = 30.0


wait_for = polling.wait_for


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class FakeActuator(object):
    """Nova's side of a migration, scripted per instance.

    A migration reports ``running`` at each poll and ends after ``polls``
    polls, or when its gate (``gate(instance)``) opens, with the status
    given to :meth:`behave`. Records which migrations ran at once.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.behaviours = {}
        self.gates = collections.defaultdict(threading.Event)
        self.calls = []
        #: instance -> (source, target) of the migrations running now
        self.active = {}
        self.peak_total = 0
        self.peak_per_host = collections.Counter()
        #: instance -> its source host (set by the tests)
        self.sources = {}
        #: instance -> where Nova says it is now (tests set it; unknown:
        #: None, which the executor does not hold against the action)
        self.where = {}
        self._ids = itertools.count(100)

    def behave(self, instance, status='completed', polls=3, gated=False,
               http_status=400, error=None, record=True):
        self.behaviours[instance] = dict(
            status=status, polls=polls, gated=gated,
            http_status=http_status, error=error, record=record)

    def gate(self, instance):
        return self.gates[instance]

    def started(self, kind='live_migrate'):
        with self.lock:
            return [c[1] for c in self.calls if c[0] == kind]

    def _enter(self, server, target):
        with self.lock:
            self.active[server] = (self.sources.get(server), target)
            self.peak_total = max(self.peak_total, len(self.active))
            per_host = collections.Counter()
            for source, dest in self.active.values():
                per_host.update(h for h in (source, dest) if h)
            for host, n in per_host.items():
                self.peak_per_host[host] = max(self.peak_per_host[host], n)

    def _leave(self, server):
        with self.lock:
            self.active.pop(server, None)

    def server_host(self, server):
        if self.where.get(server) == 'gone':
            raise nova_fakes.http_error(404, 'Instance could not be found')
        return self.where.get(server)

    def live_migrate(self, server, target=None, on_record=None,
                     on_poll=None):
        with self.lock:
            self.calls.append(('live_migrate', server, target))
        b = self.behaviours.get(server, {})
        result = actuator.MigrationResult(
            server=server, target=target, source=self.sources.get(server),
            started_at=_utcnow())
        self._enter(server, target)
        try:
            if b.get('status') == actuator.REJECTED:
                result.status = actuator.REJECTED
                result.http_status = b.get('http_status')
                result.error = b.get('error') or 'No valid host was found.'
                on_record(result)
                return result
            if b.get('record', True):
                result.migration_id = next(self._ids)
                result.migration_uuid = str(uuid.uuid4())
            on_record(result)
            return self._run(result, b, on_poll)
        finally:
            self._leave(server)

    def follow(self, server, migration_id=None, since=None, target=None,
               on_poll=None):
        with self.lock:
            self.calls.append(('follow', server, migration_id, since,
                               target))
        b = self.behaviours.get(server, {})
        result = actuator.MigrationResult(
            server=server, target=target, source=self.sources.get(server),
            started_at=since, migration_id=migration_id or 777)
        return self._run(result, b, on_poll)

    def _run(self, result, b, on_poll):
        gate = self.gates[result.server] if b.get('gated') else None
        polls = 0
        while True:
            if on_poll is not None and on_poll('running') is False:
                result.status = actuator.UNKNOWN
                result.given_up = True
                result.error = 'given up'
                return result
            polls += 1
            if gate is not None:
                if gate.is_set():
                    break
            elif polls >= b.get('polls', 3):
                break
            time.sleep(POLL)
        result.status = b.get('status', 'completed')
        if result.status != 'completed':
            result.error = b.get('error') or 'migration ended %s' % (
                result.status)
        result.host = (result.target if result.succeeded
                       else result.source)
        result.finished_at = _utcnow()
        return result


class ExecutorTestCase(db_base.SqliteTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.group = 'drs-test-%s' % uuid.uuid4().hex[:8]
        self.nova = FakeActuator()
        self.finished = []

    def conf(self, replica_id, **actuator_opts):
        conf = config.load(groups=['drs', 'actuator', 'coordination'])
        for name, value in {'backend_url': 'file://%s' % self.dir,
                            'group': self.group,
                            'replica_id': replica_id,
                            'heartbeat_interval': INTERVAL,
                            'member_timeout': MEMBER_TIMEOUT}.items():
            conf.set_override(name, value, 'drs_coordination')
        values = {'poll_interval': 0.1, 'takeover_after': TAKEOVER_AFTER,
                  'scan_interval': 0.05, 'pending_timeout': 60,
                  'max_concurrent_migrations': 8,
                  'max_concurrent_migrations_per_host': 1}
        values.update(actuator_opts)
        for name, value in values.items():
            conf.set_override(name, value, 'drs_actuator')
        return conf

    def coordinator(self, replica_id, group=None):
        conf = self.conf(replica_id)
        if group is not None:
            # same backend (so the same locks), but sharing no hosts
            conf.set_override('group', group, 'drs_coordination')
        coord = coordination.Coordinator(conf).start()
        self.addCleanup(coord.stop)
        self.assertTrue(coord.wait_active(10))
        return coord

    def executor(self, replica_id='replica-a', coord=None, db=None,
                 room_check=None, clock=time.monotonic, start=False,
                 sleep=time.sleep, **opts):
        coord = coord or self.coordinator(replica_id)
        ex = executor_mod.Executor(
            self.conf(replica_id, **opts), db or self.db, self.nova, coord,
            replica_id, room_check=room_check,
            on_finished=lambda a, r: self.finished.append((a, r)),
            clock=clock, sleep=sleep)
        self.addCleanup(ex.stop, 10)
        if start:
            ex.start()
        return ex

    def applying_plan(self, moves, origin=models.ORIGIN_PERIODIC,
                      automatic=False):
        """A plan being applied; moves: (instance, source, target).

        :param automatic: applied by the balancer itself (else by an
            operator)
        """
        migrations = []
        for instance, source, target in moves:
            self.nova.sources[instance] = source
            migrations.append(plan_mod.Migration(
                instance=instance, source=source, target=target,
                reason='test'))
        plan = self.db.create_plan(
            plan_mod.Plan(strategy='hotspot', migrations=migrations),
            origin, 'planner', supersede=False)
        self.assertTrue(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'planner', automatic=automatic))
        return self.db.get_plan(plan.uuid)

    def action(self, action_uuid):
        return self.db.get_action(action_uuid)

    def wait_state(self, action_uuid, state, timeout=10.0):
        return wait_for(lambda: self.action(action_uuid).state == state,
                        timeout, 'action %s %s' % (action_uuid, state))

    def wait_plan(self, plan_uuid, state, timeout=10.0):
        wait_for(lambda: self.db.get_plan(plan_uuid, False).state == state,
                 timeout, 'plan %s %s' % (plan_uuid, state))

    def wait_idle(self, ex, timeout=10.0):
        wait_for(lambda: not ex._workers, timeout, 'workers to end')


class TestStartAndFinish(ExecutorTestCase):

    def test_action_completes(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        ex = self.executor()
        ex.scan()
        action = plan.actions[0]
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)
        stored = self.action(action.uuid)
        self.assertEqual('replica-a', stored.owner)
        self.assertEqual(100, stored.migration_id)
        self.assertIsNotNone(stored.migration_uuid)
        self.assertEqual('completed', stored.nova_status)
        self.assertIsNone(stored.error)
        self.assertEqual([('live_migrate', 'vm-1', 'host-2')],
                         self.nova.calls)
        wait_for(lambda: self.finished, 5, 'on_finished')
        done, result = self.finished[0]
        self.assertEqual(action.uuid, done.uuid)
        self.assertTrue(result.succeeded)
        self.wait_idle(ex)
        self.assertEqual({}, ex.in_progress())
        stats = ex.stats()
        self.assertEqual((1, 1), (stats['started'], stats['completed']))
        kinds = [e.kind for e in self.db.list_events(
            object_uuid=action.uuid)]
        self.assertEqual(['action.running', 'action.migration',
                          'action.completed'], kinds)

    def test_instance_moved_since_planned_cancels_the_plan(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2'),
                                   ('vm-2', 'host-1', 'host-3')])
        # another replica's plan moved vm-1 meanwhile
        self.nova.where['vm-1'] = 'host-3'
        ex = self.executor()
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_CANCELLED)
        self.assertEqual([], self.nova.started())
        stored = self.db.get_plan(plan.uuid)
        self.assertIn('out of date: instance vm-1 is on host-3 now, not on '
                      'host-1', stored.state_reason)
        self.assertEqual({plan_states.ACTION_CANCELLED},
                         {a.state for a in stored.actions})
        wait_for(lambda: self.finished, 5, 'on_finished')
        self.assertEqual(executor_mod.NOT_STARTED,
                         self.finished[0][1].status)
        self.assertEqual(1, ex.stats()['out_of_date'])

    def test_deleted_instance_cancels_the_plan(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.where['vm-1'] = 'gone'
        ex = self.executor()
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_CANCELLED)
        self.assertIn('instance vm-1 no longer exists',
                      self.db.get_plan(plan.uuid).state_reason)
        self.assertEqual([], self.nova.started())

    def test_in_progress_and_heartbeats(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', gated=True)
        ex = self.executor()
        ex.scan()
        action = plan.actions[0]
        wait_for(lambda: ex.in_progress(), 5, 'the action to run')
        self.assertEqual({action.uuid: 'vm-1'}, ex.in_progress())
        self.clock.advance(10)

        def heartbeat_with_status():
            # NOTE: the first heartbeat after the advance may come from a
            # poll that had not seen Nova's status yet (a loaded machine):
            # wait for the one that carries it
            row = self.action(action.uuid)
            return (row.heartbeat_at == self.clock.now
                    and row.nova_status == 'running')
        wait_for(heartbeat_with_status, 5,
                 'a heartbeat carrying Nova\'s status "running"')
        self.nova.gate('vm-1').set()
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)

    def test_scan_thread_and_poke(self):
        ex = self.executor(start=True, scan_interval=300)
        wait_for(lambda: ex.stats().get('scans'), 5, 'the first scan')
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        ex.poke()
        self.wait_state(plan.actions[0].uuid, plan_states.ACTION_COMPLETED)
        self.assertTrue(ex.stop(10))

    def test_scans_back_off_after_failures(self):
        # the coordinator's heartbeat on the real clock
        ex = self.executor()
        clock = self.useFixture(fake_time.FakeTime())
        times = []

        def scan():
            times.append(round(clock.now, 6))
            if len(times) <= 3:
                raise db_exc.DBConnectionError('database down (test)')
            ex._runner.stop()
        ex.scan = scan
        with self.assertLogs('nova_drs.balancer.execution.executor',
                             'WARNING') as logs:
            ex.start()
            self.assertTrue(ex._runner.wait(10))
        # scan_interval 0.05 s: twice as long after each failure
        self.assertEqual([0.0, 0.1, 0.3, 0.7], times)
        self.assertEqual(3, ex.stats()['scan_errors'])
        self.assertIn('scan failed (3 in a row): database down (test); '
                      'next try in 0.4 s', logs.output[-1])

    def test_plan_not_applying_is_not_started(self):
        plan = self.db.create_plan(
            plan_mod.Plan(strategy='hotspot', migrations=[
                plan_mod.Migration('vm-1', 'host-1', 'host-2', 'x')]),
            models.ORIGIN_PERIODIC, 'planner')
        ex = self.executor()
        ex.scan()
        time.sleep(0.2)
        self.assertEqual([], self.nova.calls)
        self.assertEqual(plan_states.ACTION_PENDING,
                         self.action(plan.actions[0].uuid).state)

    def test_nothing_without_a_lease(self):
        self.applying_plan([('vm-1', 'host-1', 'host-2')])
        coord = self.coordinator('replica-a')
        ex = self.executor(coord=coord)
        coord.stop()
        ex.scan()
        self.assertEqual([], self.nova.calls)
        self.assertEqual(0, ex.stats().get('scans', 0))

    def test_takeover_after_must_exceed_polls(self):
        conf = self.conf('replica-a', poll_interval=2.0, takeover_after=5)
        e = self.assertRaises(ValueError, executor_mod.Executor, conf,
                              self.db, self.nova, None, 'replica-a')
        self.assertIn('takeover_after (5.0 s) must be at least 5 times '
                      'poll_interval (2.0 s)', str(e))


class TestFailures(ExecutorTestCase):

    def test_failure_marks_the_pair_and_fails_the_plan(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', status='error',
                         error='pre-check: CPU does not match')
        ex = self.executor()
        ex.scan()
        action = plan.actions[0]
        self.wait_state(action.uuid, plan_states.ACTION_FAILED)
        self.wait_plan(plan.uuid, plan_states.PLAN_FAILED)
        stored = self.action(action.uuid)
        self.assertEqual('pre-check: CPU does not match', stored.error)
        self.assertEqual('error', stored.nova_status)
        self.assertIn(('vm-1', 'host-2'), self.db.bad_pairs())
        until = self.db.bad_pairs()[('vm-1', 'host-2')]
        self.assertEqual(datetime.timedelta(seconds=3600),
                         until - self.clock.now)
        wait_for(lambda: self.finished, 5, 'on_finished')
        self.assertEqual('error', self.finished[0][1].status)
        self.assertEqual(1, ex.stats()['failed'])

    def test_refused_and_aborted(self):
        plan1 = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        plan2 = self.applying_plan([('vm-2', 'host-3', 'host-4')])
        self.nova.behave('vm-1', status=actuator.REJECTED)
        self.nova.behave('vm-2', status='cancelled', error='aborted after '
                         'migration_timeout (10 s)')
        self.executor(bad_pair_duration=600, start=True)
        first, second = plan1.actions[0], plan2.actions[0]
        self.wait_state(first.uuid, plan_states.ACTION_FAILED)
        self.wait_state(second.uuid, plan_states.ACTION_ABORTED)
        self.assertEqual({('vm-1', 'host-2'), ('vm-2', 'host-4')},
                         set(self.db.bad_pairs()))
        self.assertEqual('No valid host was found.',
                         self.action(first.uuid).error)
        self.assertEqual('rejected', self.action(first.uuid).nova_status)
        self.wait_plan(plan1.uuid, plan_states.PLAN_FAILED)
        self.wait_plan(plan2.uuid, plan_states.PLAN_FAILED)

    def test_failure_cancels_the_rest_of_the_plan(self):
        # vm-2 was to go where vm-1 made room: it must not start
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2'),
                                   ('vm-2', 'host-3', 'host-1')])
        self.nova.behave('vm-1', status='failed')
        ex = self.executor()
        ex.scan()
        first, second = plan.actions
        self.wait_state(first.uuid, plan_states.ACTION_FAILED)
        self.wait_plan(plan.uuid, plan_states.PLAN_CANCELLED)
        self.assertEqual(plan_states.ACTION_CANCELLED,
                         self.action(second.uuid).state)
        self.assertIn('planned assuming it would succeed',
                      self.db.get_plan(plan.uuid, False).state_reason)
        ex.scan()
        self.wait_idle(ex)
        self.assertEqual(['vm-1'], self.nova.started())

    def test_no_bad_pair_when_nova_never_answered(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', status=actuator.REJECTED, http_status=None,
                         error='cannot read the server: connection refused')
        self.executor().scan()
        self.wait_state(plan.actions[0].uuid, plan_states.ACTION_FAILED)
        self.assertEqual({}, self.db.bad_pairs())

    def test_callback_errors_are_counted(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        ex = self.executor()

        def broken(action, result):
            raise RuntimeError('bug')

        ex.on_finished = broken
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)
        wait_for(lambda: ex.stats().get('callback_errors'), 5,
                 'the error to be counted')
        self.wait_idle(ex)
        # and the executor goes on
        plan2 = self.applying_plan([('vm-2', 'host-1', 'host-2')])
        ex.scan()
        self.wait_plan(plan2.uuid, plan_states.PLAN_APPLIED)


class TestLimits(ExecutorTestCase):

    def test_cluster_limit_across_two_executors(self):
        moves = [('vm-%d' % n, 'src-%d' % n, 'dst-%d' % n)
                 for n in range(12)]
        for instance, _s, _t in moves:
            self.nova.behave(instance, polls=8)
        plan = self.applying_plan(moves)
        a = self.executor('replica-a', start=True,
                          max_concurrent_migrations=3)
        b = self.executor('replica-b', start=True,
                          max_concurrent_migrations=3)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED, timeout=30)
        self.assertEqual(3, self.nova.peak_total)
        self.assertEqual(sorted(m[0] for m in moves),
                         sorted(self.nova.started()))
        owners = {self.action(x.uuid).owner for x in plan.actions}
        self.assertEqual({'replica-a', 'replica-b'}, owners)
        self.assertEqual(12, a.stats()['started'] + b.stats()['started'])

    def test_per_host_limit(self):
        # three from one source, two to one destination
        moves = [('vm-1', 'busy', 'dst-1'), ('vm-2', 'busy', 'dst-2'),
                 ('vm-3', 'busy', 'dst-3'), ('vm-4', 'src-4', 'full'),
                 ('vm-5', 'src-5', 'full')]
        for instance, _s, _t in moves:
            self.nova.behave(instance, polls=6)
        plan = self.applying_plan(moves)
        self.executor('replica-a', start=True)
        self.executor('replica-b', start=True)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED, timeout=30)
        self.assertEqual(1, self.nova.peak_per_host['busy'])
        self.assertEqual(1, self.nova.peak_per_host['full'])
        self.assertEqual(5, len(self.nova.started()))

    def test_two_per_host(self):
        moves = [('vm-%d' % n, 'busy', 'dst-%d' % n) for n in range(4)]
        for instance, _s, _t in moves:
            self.nova.behave(instance, polls=8)
        plan = self.applying_plan(moves)
        self.executor(start=True, max_concurrent_migrations_per_host=2)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED, timeout=30)
        self.assertEqual(2, self.nova.peak_per_host['busy'])

    def test_make_room_chain_waits(self):
        # vm-2 goes where vm-1 leaves; vm-3 is independent
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2'),
                                   ('vm-2', 'host-3', 'host-1'),
                                   ('vm-3', 'host-4', 'host-5')])
        self.nova.behave('vm-1', gated=True)
        ex = self.executor(max_concurrent_migrations_per_host=5)
        ex.scan()
        wait_for(lambda: len(self.nova.started()) == 2, 5, '2 starts')
        ex.scan()
        time.sleep(0.2)
        self.assertEqual(['vm-1', 'vm-3'], sorted(self.nova.started()))
        self.assertEqual(plan_states.ACTION_PENDING,
                         self.action(plan.actions[1].uuid).state)
        self.nova.gate('vm-1').set()
        self.wait_state(plan.actions[0].uuid, plan_states.ACTION_COMPLETED)
        # the end of vm-1 pokes the scan thread only when started: scan
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)
        started = self.nova.started()
        self.assertEqual((['vm-1', 'vm-3'], 'vm-2'),
                         (sorted(started[:2]), started[2]))

    def test_oldest_plan_first(self):
        first = self.applying_plan([('vm-1', 'busy', 'dst-1')])
        self.clock.advance(1)
        second = self.applying_plan([('vm-2', 'busy', 'dst-2')])
        ex = self.executor()
        ex.scan()
        self.wait_plan(first.uuid, plan_states.PLAN_APPLIED)
        ex.scan()
        self.wait_plan(second.uuid, plan_states.PLAN_APPLIED)
        self.assertEqual(['vm-1', 'vm-2'], self.nova.started())


class TestLocks(ExecutorTestCase):

    def test_instance_locked_elsewhere_waits(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        other = self.coordinator('replica-b', group='elsewhere')
        ex = self.executor('replica-a')
        name = coordination.instance_lock_name('vm-1')
        with other.lock(name):
            ex.scan()
            self.wait_idle(ex)
            self.assertEqual([], self.nova.calls)
            self.assertEqual(plan_states.ACTION_PENDING,
                             self.action(plan.actions[0].uuid).state)
            self.assertEqual(1, ex.stats()['lock_busy'])
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)

    def test_destination_locked_elsewhere_waits(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        other = self.coordinator('replica-b', group='elsewhere')
        ex = self.executor('replica-a')
        with other.lock(coordination.host_lock_name('host-2')):
            ex.scan()
            self.wait_idle(ex)
            self.assertEqual([], self.nova.calls)
        ex.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)

    def test_destination_lock_released_once_recorded(self):
        self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', gated=True)
        other = self.coordinator('replica-b', group='elsewhere')
        ex = self.executor('replica-a')
        ex.scan()
        wait_for(lambda: ex.in_progress(), 5, 'the migration')
        # the instance stays locked, the destination is free again
        wait_for(lambda: self._can_lock(
            other, coordination.host_lock_name('host-2')), 5,
            'the destination lock')
        self.assertFalse(self._can_lock(
            other, coordination.instance_lock_name('vm-1')))
        self.nova.gate('vm-1').set()

    @staticmethod
    def _can_lock(coord, name):
        try:
            with coord.lock(name):
                return True
        except coordination.LockNotAcquired:
            return False

    def test_two_executors_never_run_one_action_twice(self):
        moves = [('vm-%d' % n, 'src-%d' % n, 'dst-%d' % n)
                 for n in range(10)]
        plan = self.applying_plan(moves)
        a = self.executor('replica-a')
        b = self.executor('replica-b', db=self.replica())
        for _ in range(5):
            db_base.race(a.scan, b.scan)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED, timeout=30)
        started = self.nova.started()
        self.assertEqual(sorted(m[0] for m in moves), sorted(started))
        self.assertEqual(len(started), len(set(started)))

    def test_two_plans_same_instance(self):
        # two replicas, two plans moving one instance: one at a time
        first = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        second = self.applying_plan([('vm-1', 'host-1', 'host-3')])
        self.nova.behave('vm-1', gated=True)
        a = self.executor('replica-a', max_concurrent_migrations_per_host=5)
        b = self.executor('replica-b', max_concurrent_migrations_per_host=5)
        db_base.race(a.scan, b.scan)
        wait_for(lambda: self.nova.started(), 5, 'a start')
        a.scan()
        b.scan()
        time.sleep(0.2)
        self.assertEqual(1, len(self.nova.started()))
        states = sorted(self.action(p.actions[0].uuid).state
                        for p in (first, second))
        self.assertEqual(
            [plan_states.ACTION_PENDING, plan_states.ACTION_RUNNING], states)
        self.nova.gate('vm-1').set()


class TestPause(ExecutorTestCase):
    """What operators pause holds the balancer's own plans only."""

    def test_cluster_pause_holds_automatic_plans_only(self):
        auto = self.applying_plan([('vm-1', 'host-1', 'host-2')],
                                  automatic=True)
        by_operator = self.applying_plan([('vm-2', 'host-3', 'host-4')])
        self.db.update_balancer_settings('alice', paused=True)
        ex = self.executor()
        ex.scan()
        self.wait_state(by_operator.actions[0].uuid,
                        plan_states.ACTION_COMPLETED)
        self.wait_idle(ex)
        ex.scan()
        self.assertEqual(['vm-2'], self.nova.started())
        self.assertEqual(plan_states.ACTION_PENDING,
                         self.action(auto.actions[0].uuid).state)
        self.assertLessEqual(2, ex.stats()['held'])
        # resumed: it starts at the next scan
        self.db.update_balancer_settings('alice', paused=False)
        ex.scan()
        self.wait_state(auto.actions[0].uuid, plan_states.ACTION_COMPLETED)
        self.assertEqual(['vm-2', 'vm-1'], self.nova.started())

    def test_paused_source_or_destination_holds_automatic_plans(self):
        to_paused = self.applying_plan([('vm-1', 'host-1', 'host-2')],
                                       automatic=True)
        from_paused = self.applying_plan([('vm-2', 'host-2', 'host-3')],
                                         automatic=True)
        elsewhere = self.applying_plan([('vm-3', 'host-4', 'host-5')],
                                       automatic=True)
        self.db.set_host_paused('host-2', True, 'alice')
        ex = self.executor()
        ex.scan()
        self.wait_state(elsewhere.actions[0].uuid,
                        plan_states.ACTION_COMPLETED)
        self.wait_idle(ex)
        self.assertEqual(['vm-3'], self.nova.started())
        for plan in (to_paused, from_paused):
            self.assertEqual(plan_states.ACTION_PENDING,
                             self.action(plan.actions[0].uuid).state)
        self.assertEqual('host host-2 is paused',
                         ex._blocked[to_paused.actions[0].uuid][1])

    def test_a_long_pause_cancels_the_plan(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')],
                                  automatic=True)
        self.db.update_balancer_settings('alice', paused=True)
        clock = db_base.FakeClock(start=0)
        clock.now = 1000.0
        ex = self.executor(pending_timeout=120, clock=lambda: clock.now)
        ex.scan()
        clock.now += 121
        ex.scan()
        stored = self.db.get_plan(plan.uuid, False)
        self.assertEqual(plan_states.PLAN_CANCELLED, stored.state)
        self.assertIn('blocked for 121 s: automatic balancing is paused',
                      stored.state_reason)
        self.assertEqual([], self.nova.calls)

    def test_pause_between_the_scan_and_the_start(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')],
                                  automatic=True)

        def room_check(action, incoming):
            # the operator pauses while the worker takes its locks
            self.db.update_balancer_settings('alice', paused=True)
            return True, ''

        ex = self.executor(room_check=room_check)
        ex.scan()
        self.assertEqual(plan_states.ACTION_PENDING,
                         self.action(plan.actions[0].uuid).state)
        self.assertEqual([], self.nova.started())
        self.assertEqual(executor_mod.PAUSED,
                         ex._blocked[plan.actions[0].uuid][1])

    def test_hold_reason(self):
        settings = self.db.balancer_settings()
        action = types.SimpleNamespace(source='a', target=None)
        self.assertIsNone(executor_mod.hold_reason(settings, action, True))
        self.db.set_host_paused('a', True, 'alice')
        settings = self.db.balancer_settings()
        self.assertEqual('host a is paused',
                         executor_mod.hold_reason(settings, action, True))
        self.assertIsNone(executor_mod.hold_reason(settings, action, False))


class TestRoomCheck(ExecutorTestCase):

    def test_refusal_then_pending_timeout(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        asked = []

        def room_check(action, incoming):
            asked.append((action.uuid, [a.uuid for a in incoming]))
            return False, 'memory of host-2 over its threshold'

        clock = db_base.FakeClock(start=0)
        clock.now = 1000.0
        ex = self.executor(room_check=room_check, pending_timeout=120,
                           clock=lambda: clock.now)
        ex.scan()
        self.assertEqual([(plan.actions[0].uuid, [])], asked)
        self.assertEqual(1, ex.stats()['refused'])
        clock.now += 100
        ex.scan()
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(plan.uuid, False).state)
        clock.now += 21
        ex.scan()
        stored = self.db.get_plan(plan.uuid, False)
        self.assertEqual(plan_states.PLAN_CANCELLED, stored.state)
        self.assertIn('blocked for 121 s: no room on host-2: memory of '
                      'host-2 over its threshold', stored.state_reason)
        self.assertEqual(plan_states.ACTION_CANCELLED,
                         self.action(plan.actions[0].uuid).state)
        self.assertEqual([], self.nova.calls)
        self.assertEqual(1, ex.stats()['plans_cancelled'])
        action, result = self.finished[0]
        self.assertEqual(executor_mod.NOT_STARTED, result.status)
        self.assertFalse(result.succeeded)

    def test_incoming_migrations_are_given(self):
        self.applying_plan([('vm-1', 'host-1', 'host-9')])
        self.nova.behave('vm-1', gated=True)
        self.clock.advance(1)
        second = self.applying_plan([('vm-2', 'host-3', 'host-9')])
        seen = {}

        def room_check(action, incoming):
            seen[action.instance_uuid] = [a.instance_uuid for a in incoming]
            return True, ''

        # the second waits for the first's destination lock: the scan
        # thread looks again once the first has its record
        self.executor(room_check=room_check, start=True,
                      max_concurrent_migrations_per_host=2)
        wait_for(lambda: len(self.nova.started()) == 2, 5, 'both')
        self.assertEqual({'vm-1': [], 'vm-2': ['vm-1']}, seen)
        self.nova.gate('vm-1').set()
        self.wait_plan(second.uuid, plan_states.PLAN_APPLIED)

    def test_room_check_error_is_a_refusal(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])

        def room_check(action, incoming):
            raise KeyError('bug')

        ex = self.executor(room_check=room_check)
        ex.scan()
        self.assertEqual([], self.nova.calls)
        self.assertEqual(1, ex.stats()['callback_errors'])
        self.assertEqual(plan_states.ACTION_PENDING,
                         self.action(plan.actions[0].uuid).state)


class TestTakeover(ExecutorTestCase):

    def start_as(self, owner, moves, migration_id=55):
        """Actions started by ``owner``, which then went silent."""
        plan = self.applying_plan(moves)
        for action in plan.actions:
            self.assertTrue(self.db.start_action(action.uuid, owner))
            if migration_id is not None:
                self.assertTrue(self.db.set_migration(
                    action.uuid, owner, migration_id))
        return plan

    def test_dead_owner(self):
        plan = self.start_as('dead-replica', [('vm-1', 'host-1', 'host-2')])
        action = plan.actions[0]
        ex = self.executor()
        ex.scan()
        # its heartbeat is fresh: not yet
        self.assertEqual([], self.nova.calls)
        self.clock.advance(TAKEOVER_AFTER + 1)
        ex.scan()
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)
        call = self.nova.calls[0]
        self.assertEqual(('follow', 'vm-1', 55), call[:3])
        self.assertEqual('host-2', call[4])
        self.assertEqual('replica-a', self.action(action.uuid).owner)
        self.assertEqual(1, ex.stats()['taken_over'])
        kinds = [e.kind for e in self.db.list_events(
            object_uuid=action.uuid)]
        self.assertIn('action.takeover', kinds)
        self.assertEqual('action.completed', kinds[-1])
        wait_for(lambda: self.finished, 5, 'on_finished')

    def test_migration_id_never_stored(self):
        plan = self.start_as('dead-replica', [('vm-1', 'host-1', 'host-2')],
                             migration_id=None)
        action = plan.actions[0]
        ex = self.executor()
        self.clock.advance(TAKEOVER_AFTER + 1)
        ex.scan()
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)
        call = self.nova.calls[0]
        self.assertEqual(('follow', 'vm-1', None), call[:3])
        self.assertEqual(self.action(action.uuid).started_at, call[3])
        # what follow found is stored
        self.assertEqual(777, self.action(action.uuid).migration_id)

    def test_other_replicas_hosts_are_not_taken(self):
        # with two members, each owns part of the hosts
        a = self.executor('replica-a')
        b_coord = self.coordinator('replica-b')
        wait_for(lambda: len(a.coordinator.members) == 2
                 and a.coordinator.is_active() and b_coord.is_active(),
                 10, 'two members')
        hosts = ['host-%d' % n for n in range(20)]
        theirs = sorted(set(hosts) - a.coordinator.owned_hosts(hosts))
        self.assertGreaterEqual(len(theirs), 2)
        plan = self.start_as('dead-replica', [('vm-1', theirs[0],
                                               theirs[1])])
        self.clock.advance(TAKEOVER_AFTER + 1)
        a.scan()
        time.sleep(0.2)
        self.assertEqual([], self.nova.calls)
        self.assertEqual(plan_states.ACTION_RUNNING,
                         self.action(plan.actions[0].uuid).state)

    def test_target_owner_takes_over(self):
        a = self.executor('replica-a')
        b_coord = self.coordinator('replica-b')
        wait_for(lambda: len(a.coordinator.members) == 2
                 and a.coordinator.is_active() and b_coord.is_active(),
                 10, 'two members')
        hosts = ['host-%d' % n for n in range(20)]
        mine = sorted(a.coordinator.owned_hosts(hosts))
        theirs = sorted(set(hosts) - set(mine))
        plan = self.start_as('dead-replica', [('vm-1', theirs[0], mine[0])])
        self.clock.advance(TAKEOVER_AFTER + 1)
        a.scan()
        self.wait_plan(plan.uuid, plan_states.PLAN_APPLIED)

    def test_unknown_stays_running_then_is_taken_over(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', status=actuator.UNKNOWN,
                         error='migration 100 still running 120 s after '
                               'abort; no longer followed')
        ex = self.executor()
        ex.scan()
        action = plan.actions[0]
        wait_for(lambda: ex.stats().get('unknown'), 5, 'the unknown end')
        self.wait_idle(ex)
        stored = self.action(action.uuid)
        self.assertEqual(plan_states.ACTION_RUNNING, stored.state)
        self.assertEqual('replica-a', stored.owner)
        self.assertEqual([], self.finished)
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(plan.uuid, False).state)
        # not before takeover_after
        ex.scan()
        self.assertEqual(['vm-1'], self.nova.started())
        self.assertEqual([], self.nova.started('follow'))
        # then by this same replica, which follows it to its end
        self.nova.behave('vm-1')
        self.clock.advance(TAKEOVER_AFTER + 1)
        ex.scan()
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)
        self.assertEqual(['vm-1'], self.nova.started('follow'))
        self.assertEqual(100, self.nova.calls[-1][2])

    def test_taken_over_elsewhere_stops_following(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', gated=True)
        ex = self.executor()
        ex.scan()
        action = plan.actions[0]
        wait_for(lambda: ex.in_progress(), 5, 'the migration')
        # another replica decided this one was dead
        self.assertTrue(self.db.take_over(action.uuid, 'replica-b',
                                          'replica-a'))
        wait_for(lambda: ex.stats().get('given_up'), 5, 'giving up')
        self.wait_idle(ex)
        stored = self.action(action.uuid)
        self.assertEqual((plan_states.ACTION_RUNNING, 'replica-b'),
                         (stored.state, stored.owner))
        self.assertEqual([], self.finished)

    def test_restart_with_the_same_replica_id(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2')])
        self.nova.behave('vm-1', gated=True)
        coord = self.coordinator('replica-a')
        first = self.executor('replica-a', coord=coord)
        first.scan()
        action = plan.actions[0]
        wait_for(lambda: first.in_progress(), 5, 'the migration')
        self.assertTrue(first.stop(5))
        coord.stop()
        self.assertEqual(plan_states.ACTION_RUNNING,
                         self.action(action.uuid).state)
        # the same replica again, in a new process
        again = self.executor('replica-a', db=self.replica())
        self.nova.behave('vm-1')
        again.scan()
        self.assertEqual([], self.nova.started('follow'))
        self.clock.advance(TAKEOVER_AFTER + 1)
        again.scan()
        self.wait_state(action.uuid, plan_states.ACTION_COMPLETED)
        self.assertEqual(['vm-1'], self.nova.started('follow'))
        self.assertEqual(['vm-1'], self.nova.started())

    def test_stop_leaves_actions_running(self):
        plan = self.applying_plan([('vm-1', 'host-1', 'host-2'),
                                   ('vm-2', 'host-3', 'host-4')])
        self.nova.behave('vm-1', gated=True)
        self.nova.behave('vm-2', gated=True)
        ex = self.executor(start=True)
        wait_for(lambda: len(ex.in_progress()) == 2, 5, 'two migrations')
        self.assertTrue(ex.stop(5))
        for action in plan.actions:
            stored = self.action(action.uuid)
            self.assertEqual((plan_states.ACTION_RUNNING, 'replica-a'),
                             (stored.state, stored.owner))
        self.assertEqual(2, ex.stats()['given_up'])
        self.assertEqual(plan_states.PLAN_APPLYING,
                         self.db.get_plan(plan.uuid, False).state)
        self.assertEqual({}, ex.in_progress())
        # and it starts nothing more
        self.applying_plan([('vm-3', 'host-5', 'host-6')])
        ex.scan()
        self.assertNotIn('vm-3', self.nova.started())
