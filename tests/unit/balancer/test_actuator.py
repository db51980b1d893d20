# SPDX-License-Identifier: Apache-2.0
"""The actuator, with openstacksdk faked at the Connection."""

import datetime
import threading
import time
from unittest import mock

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_config import cfg
from oslotest import base

from nova_drs.balancer.execution import actuator
from nova_drs import conf as drs_conf
from tests.unit.balancer import nova_fakes as fakes


def make_conf(**actuator_opts):
    conf = cfg.ConfigOpts()
    drs_conf.register_opts(conf)
    conf([], project='nova-drs', default_config_files=[],
         default_config_dirs=[])
    actuator_opts.setdefault('poll_interval', 0.5)
    for key, value in actuator_opts.items():
        conf.set_override(key, value, 'drs_actuator')
    return conf


class ActuatorTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conn = fakes.FakeConnection()
        self.clock = self.conn.clock
        self.conn.add_host('src')
        self.conn.add_host('dst')
        self.server = self.conn.add_server('s1', 'src')

    def actuator(self, **opts):
        return actuator.Actuator(self.conn, make_conf(**opts),
                                 clock=self.clock, sleep=self.clock.sleep)

    def migrate(self, target='dst', **opts):
        return self.actuator(**opts).live_migrate(self.server, target)

    def behave(self, **behaviour):
        self.conn.compute.behaviours.append(behaviour)


class TestCompleted(ActuatorTestCase):

    def test_live_migration_to_named_host(self):
        result = self.migrate()
        self.assertTrue(result.succeeded)
        self.assertEqual('completed', result.status)
        self.assertEqual(('src', 'dst', 'dst'),
                         (result.source, result.target, result.host))
        self.assertEqual(1, result.migration_id)
        self.assertIsNotNone(result.migration_uuid)
        self.assertIsNone(result.error)
        self.assertFalse(result.timed_out)
        self.assertIsNone(result.timeout_action)
        # never forced: Nova's scheduler checks the destination
        self.assertIn(('live_migrate_server', 's1', 'dst', False, 'auto'),
                      self.conn.compute.calls)
        # followed through both APIs, no action taken
        names = self.conn.compute.call_names()
        self.assertIn('server_migrations', names)
        self.assertIn('migrations', names)
        self.assertNotIn('abort', names)
        self.assertNotIn('force_complete', names)
        self.assertGreaterEqual(result.finished_at, result.started_at)
        self.assertGreaterEqual(result.duration_s, 0.0)

    def test_server_id_and_scheduler_choice(self):
        result = self.actuator().live_migrate('s1')
        self.assertTrue(result.succeeded)
        self.assertIsNone(result.target)
        self.assertIn(('live_migrate_server', 's1', None, False, 'auto'),
                      self.conn.compute.calls)

    def test_older_migrations_of_the_server_are_not_confused(self):
        self.behave(steps=((0.0, 'error'),))
        first = self.migrate()
        self.assertEqual('error', first.status)
        second = self.migrate()
        self.assertEqual(2, second.migration_id)
        self.assertTrue(second.succeeded)

    def test_to_dict(self):
        out = self.migrate().to_dict()
        self.assertEqual('completed', out['status'])
        self.assertTrue(out['succeeded'])
        self.assertIsInstance(out['started_at'], str)
        self.assertIsInstance(out['duration_s'], float)

    def test_transient_read_errors_are_tolerated(self):
        # the search for the new record, then the first status read fail
        self.behave(read_errors=[fakes.http_error(503, 'busy'),
                                 sdk_exc.SDKException('connection reset')])
        result = self.migrate()
        self.assertTrue(result.succeeded, result)


class TestRefused(ActuatorTestCase):

    def test_no_valid_host(self):
        self.behave(refused=True,
                    **{'raise': fakes.http_error(400,
                                                 'No valid host was found.')})
        result = self.migrate()
        self.assertFalse(result.succeeded)
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertEqual(400, result.http_status)
        self.assertEqual('Nova refused the live migration (HTTP 400): No '
                         'valid host was found.', result.error)
        self.assertEqual('src', result.host)
        self.assertIsNone(result.migration_id)

    def test_conflict(self):
        self.behave(refused=True, **{'raise': fakes.http_error(
            409, "Cannot 'os-migrateLive' instance s1 while it is in "
                 "task_state migrating")})
        result = self.migrate()
        self.assertEqual((actuator.REJECTED, 409),
                         (result.status, result.http_status))
        self.assertIn('task_state migrating', result.error)

    def test_server_not_found(self):
        result = self.actuator().live_migrate('nope', 'dst')
        self.assertEqual((actuator.REJECTED, 404),
                         (result.status, result.http_status))
        self.assertIn('nope could not be found', result.error)
        self.assertNotIn('live_migrate_server',
                         self.conn.compute.call_names())

    def test_migrations_cannot_be_listed(self):
        self.conn.compute.read_errors = [fakes.http_error(403, 'Policy '
                                                          'does not allow')]
        result = self.migrate()
        self.assertEqual((actuator.REJECTED, 403),
                         (result.status, result.http_status))
        self.assertEqual("cannot list the server's migrations: Policy does "
                         "not allow", result.error)
        self.assertNotIn('live_migrate_server',
                         self.conn.compute.call_names())

    def test_nova_unreachable_before_the_request(self):
        self.conn.compute.get_server = self.unreachable
        result = self.migrate()
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertIsNone(result.http_status)
        self.assertIn('cannot read the server: Unable to establish',
                      result.error)

    def test_keystone_refuses_the_credentials(self):
        def refuse(server_id):
            raise ks_exc.Unauthorized('The request you have made requires '
                                      'authentication.', http_status=401)
        self.conn.compute.get_server = refuse
        result = self.migrate()
        self.assertEqual((actuator.REJECTED, 401),
                         (result.status, result.http_status))

    @staticmethod
    def unreachable(*args, **kwargs):
        raise ks_exc.ConnectFailure('Unable to establish connection')

    def test_sdk_value_error(self):
        self.behave(refused=True, **{'raise': ValueError(
            'Live migration on this cloud implies force')})
        result = self.migrate()
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertIn('implies force', result.error)


class TestAcceptedThenFailed(ActuatorTestCase):

    def test_error_details_from_the_instance_action(self):
        self.behave(steps=((0.0, 'queued'), (1.0, 'error')))
        self.conn.compute.actions['s1'] = [
            fakes.res(action='create', request_id='r0', start_time='1',
                      message=None, events=[]),
            fakes.res(action='live-migration', request_id='r1',
                      start_time='2', message='Error', events=[
                          fakes.res(event='compute_check_can_live_migrate',
                                    result='Success', details=None,
                                    traceback=None),
                          fakes.res(event='conductor_live_migrate_instance',
                                    result='Error',
                                    details='Migration pre-check error: '
                                            'CPU does not match',
                                    traceback='Traceback...')]),
        ]
        result = self.migrate()
        self.assertEqual('error', result.status)
        self.assertFalse(result.succeeded)
        self.assertEqual('conductor_live_migrate_instance: Migration '
                         'pre-check error: CPU does not match', result.error)
        self.assertEqual('src', result.host)

    def test_error_details_from_traceback_or_message(self):
        self.behave(steps=((0.0, 'failed'),))
        self.conn.compute.actions['s1'] = [fakes.res(
            action='live-migration', request_id='r1', start_time='2',
            message='Error', events=[{
                'event': 'compute_live_migration', 'result': 'Error',
                'details': None,
                'traceback': '  File "x"\n    raise Boom\nBoom: disk\n'}])]
        result = self.migrate()
        self.assertEqual('failed', result.status)
        self.assertEqual('compute_live_migration: Boom: disk', result.error)
        self.conn.compute.actions['s1'][0].events = []
        self.behave(steps=((0.0, 'failed'),))
        self.assertEqual('Error', self.migrate().error)

    def test_error_without_details(self):
        self.behave(steps=((0.0, 'error'),))
        result = self.migrate()
        self.assertEqual('migration 1 ended error', result.error)

    def test_server_error_on_request_but_migration_runs(self):
        self.behave(**{'raise': fakes.http_error(504, 'gateway timeout')})
        result = self.migrate()
        self.assertTrue(result.succeeded, result)

    def test_no_answer_and_no_record(self):
        self.behave(record=False, **{'raise': sdk_exc.SDKException(
            'Connection aborted')})
        result = self.migrate()
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertIn('Connection aborted', result.error)
        self.assertEqual('src', result.host)

    def test_connection_failure_on_request(self):
        self.behave(record=False, **{'raise': ks_exc.ConnectFailure(
            'Unable to establish connection to http://nova')})
        result = self.migrate()
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertIn('Unable to establish connection', result.error)

    def test_connection_failure_while_following(self):
        self.behave(read_errors=[ks_exc.ConnectTimeout('timed out')] * 3)
        result = self.migrate()
        self.assertTrue(result.succeeded, result)

    def test_accepted_but_no_record_appears(self):
        self.behave(record=False)
        result = self.migrate()
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertIn('no live-migration record appeared', result.error)

    def test_cancelled_by_someone_else(self):
        self.behave(steps=((0.0, 'running'), (2.0, 'cancelled')))
        result = self.migrate()
        self.assertEqual('cancelled', result.status)
        self.assertEqual('migration 1 was cancelled', result.error)
        self.assertFalse(result.timed_out)


class TestTimeout(ActuatorTestCase):

    RUNS_FOREVER = ((0.0, 'queued'), (0.5, 'preparing'), (1.0, 'running'))

    def test_abort(self):
        self.behave(steps=self.RUNS_FOREVER)
        result = self.migrate(migration_timeout=10, timeout_action='abort')
        self.assertEqual('cancelled', result.status)
        self.assertTrue(result.timed_out)
        self.assertEqual('abort', result.timeout_action)
        self.assertEqual('aborted after migration_timeout (10 s)',
                         result.error)
        self.assertEqual('src', result.host)
        aborts = [c for c in self.conn.compute.calls if c[0] == 'abort']
        self.assertEqual([('abort', 1, 's1', False)], aborts)
        self.assertLess(self.clock.now - 1000.0, 12.0)

    def test_abort_while_still_queued(self):
        self.behave(steps=((0.0, 'queued'),))
        result = self.migrate(migration_timeout=2, timeout_action='abort')
        self.assertEqual(('cancelled', 'abort'),
                         (result.status, result.timeout_action))

    def test_force_complete_waits_for_running(self):
        self.behave(steps=((0.0, 'queued'), (15.0, 'running')))
        result = self.migrate(migration_timeout=10,
                              timeout_action='force_complete')
        self.assertTrue(result.succeeded, result)
        self.assertTrue(result.timed_out)
        self.assertEqual('force_complete', result.timeout_action)
        self.assertEqual('dst', result.host)
        forced = [c for c in self.conn.compute.calls
                  if c[0] == 'force_complete']
        self.assertEqual([('force_complete', 1, 's1')], forced)
        self.assertGreaterEqual(self.clock.now - 1000.0, 15.0)

    def test_action_refused_then_accepted(self):
        self.behave(steps=self.RUNS_FOREVER)
        self.conn.compute.action_errors = [fakes.http_error(409, 'busy')]
        result = self.migrate(migration_timeout=10, timeout_action='abort')
        self.assertEqual(('cancelled', 'abort'),
                         (result.status, result.timeout_action))
        aborts = [c for c in self.conn.compute.calls if c[0] == 'abort']
        self.assertEqual(2, len(aborts))

    def test_action_always_refused(self):
        self.behave(steps=self.RUNS_FOREVER)
        self.conn.compute.action_errors = [
            fakes.http_error(400, 'no') for _ in range(1000)]
        result = self.migrate(migration_timeout=10, timeout_action='abort',
                              timeout_action_wait=30)
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertTrue(result.timed_out)
        self.assertIsNone(result.timeout_action)
        self.assertEqual('migration 1 still running: Nova refused to abort '
                         'it for 30 s; no longer followed', result.error)
        self.assertLess(self.clock.now - 1000.0, 42.0)

    def test_no_final_state_after_the_action(self):
        self.behave(steps=((0.0, 'running'), (5.0, 'post-migrating')))
        result = self.migrate(migration_timeout=10, timeout_action='abort',
                              timeout_action_wait=20)
        # post-migrating cannot be aborted: Nova refuses, and the
        # migration never ends in this fake
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertIsNone(result.timeout_action)

    def test_gives_up_after_action_wait(self):
        self.behave(steps=self.RUNS_FOREVER)
        act = self.actuator(migration_timeout=10, timeout_action='abort',
                            timeout_action_wait=5)
        # Nova accepts the abort but the migration stays running
        self.conn.compute.abort_server_migration = \
            lambda *a, **k: None
        result = act.live_migrate(self.server, 'dst')
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertEqual('abort', result.timeout_action)
        self.assertIn('still running 5 s after abort', result.error)


class TestThreads(base.BaseTestCase):

    def test_concurrent_migrations(self):
        conn = fakes.FakeConnection(clock=time.monotonic)
        conn.add_host('src')
        conn.add_host('dst')
        for n in range(8):
            conn.add_server('s%d' % n, 'src')
            conn.compute.behaviours.append(
                {'steps': ((0.0, 'running'), (0.05, 'completed'))})
        act = actuator.Actuator(conn, make_conf(poll_interval=0.1))
        results = {}

        def run(sid):
            results[sid] = act.live_migrate(sid, 'dst')

        threads = [threading.Thread(target=run, args=('s%d' % n,))
                   for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(8, len(results))
        self.assertTrue(all(r.succeeded for r in results.values()),
                        results)
        self.assertEqual(8, len({r.migration_id for r in results.values()}))
        for sid, result in results.items():
            self.assertEqual(sid, result.server)
            self.assertEqual('dst', result.host)


def _iso(seconds_ago=0.0):
    """A Nova-style naive UTC timestamp, ``seconds_ago`` before now."""
    when = (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(seconds=seconds_ago))
    return when.replace(tzinfo=None).isoformat()


class TestCallbacks(ActuatorTestCase):

    def test_record_then_polls(self):
        events = []

        def on_record(result):
            events.append(('record', result.migration_id, result.source,
                           result.status))

        def on_poll(status):
            events.append(('poll', status))
            return True

        result = self.actuator().live_migrate(
            self.server, 'dst', on_record=on_record, on_poll=on_poll)
        self.assertTrue(result.succeeded, result)
        self.assertFalse(result.given_up)
        # once, before any poll, with the record known
        self.assertEqual(('record', 1, 'src', actuator.UNKNOWN), events[0])
        self.assertEqual(1, len([e for e in events if e[0] == 'record']))
        polls = [e[1] for e in events[1:]]
        self.assertEqual('queued', polls[0])
        self.assertEqual('completed', polls[-1])
        self.assertIn('running', polls)

    def test_record_called_once_when_refused(self):
        self.behave(refused=True,
                    **{'raise': fakes.http_error(400, 'No valid host')})
        records, polls = [], []
        result = self.actuator().live_migrate(
            self.server, 'dst', on_record=records.append,
            on_poll=polls.append)
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertEqual([result], records)
        self.assertIsNone(records[0].migration_id)
        self.assertEqual([], polls)

    def test_record_called_when_no_record_appears(self):
        self.behave(record=False)
        records, polls = [], []

        def on_poll(status):
            polls.append(status)
            return True

        result = self.actuator().live_migrate(
            self.server, 'dst', on_record=records.append, on_poll=on_poll)
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertEqual([result], records)
        # heartbeats go on while the record is awaited
        self.assertGreater(len(polls), 10)
        self.assertEqual({None}, set(polls))

    def test_giving_up_aborts_nothing(self):
        self.behave(steps=((0.0, 'running'),))
        polls = []

        def on_poll(status):
            polls.append(status)
            return len(polls) < 3

        result = self.actuator(migration_timeout=10).live_migrate(
            self.server, 'dst', on_poll=on_poll)
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertTrue(result.given_up)
        self.assertEqual(1, result.migration_id)
        self.assertIn('given up by the caller while it was running',
                      result.error)
        self.assertEqual(3, len(polls))
        names = self.conn.compute.call_names()
        self.assertNotIn('abort', names)
        self.assertNotIn('force_complete', names)
        # Nova's migration goes on
        self.assertEqual('running', self.conn.compute.migration_list[0]
                         .status)

    def test_giving_up_while_waiting_for_the_record(self):
        self.behave(record=False)
        result = self.actuator().live_migrate(
            self.server, 'dst', on_poll=lambda status: False)
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertTrue(result.given_up)
        self.assertIn('before its record appeared', result.error)
        # no waiting for RECORD_WAIT
        self.assertLess(self.clock.now - 1000.0, 1.0)

    def test_final_status_wins_over_giving_up(self):
        self.behave(steps=((0.0, 'completed'),))
        result = self.actuator().live_migrate(
            self.server, 'dst', on_poll=lambda status: False)
        self.assertTrue(result.succeeded, result)
        self.assertFalse(result.given_up)

    def test_callback_errors_do_not_stop_the_migration(self):
        def broken(*args):
            raise RuntimeError('bug in the caller')

        with mock.patch.object(actuator.LOG, 'exception') as logged:
            result = self.actuator().live_migrate(
                self.server, 'dst', on_record=broken, on_poll=broken)
        self.assertTrue(result.succeeded, result)
        self.assertGreaterEqual(logged.call_count, 2)


class TestFollow(ActuatorTestCase):
    """Following a migration someone else asked for."""

    def start_elsewhere(self, steps=fakes.DEFAULT_STEPS, target='dst',
                        created_ago=0.0):
        """A migration asked for by another process; its record."""
        self.behave(steps=steps)
        self.conn.compute.live_migrate_server('s1', host=target,
                                              block_migration='auto')
        record = self.conn.compute.migration_list[-1]
        record.created_at = _iso(created_ago)
        return record

    def since(self, seconds_ago=1.0):
        return (datetime.datetime.now(datetime.timezone.utc)
                - datetime.timedelta(seconds=seconds_ago))

    def test_by_id(self):
        record = self.start_elsewhere()
        polls = []

        def on_poll(status):
            polls.append(status)
            return True

        result = self.actuator().follow('s1', migration_id=record.id,
                                        target='dst', on_poll=on_poll)
        self.assertTrue(result.succeeded, result)
        self.assertEqual((record.id, record.uuid, 'src', 'dst'),
                         (result.migration_id, result.migration_uuid,
                          result.source, result.host))
        self.assertEqual('completed', polls[-1])
        # followed, never asked for again
        self.assertEqual(1, self.conn.compute.call_names().count(
            'live_migrate_server'))
        self.assertIsNone(result.note)

    def test_by_time_when_the_id_was_never_stored(self):
        older = self.start_elsewhere(steps=((0.0, 'error'),),
                                     created_ago=600)
        record = self.start_elsewhere()
        self.assertNotEqual(older.id, record.id)
        result = self.actuator().follow('s1', since=self.since(),
                                        target='dst')
        self.assertTrue(result.succeeded, result)
        self.assertEqual(record.id, result.migration_id)

    def test_by_time_naive_since_is_utc(self):
        record = self.start_elsewhere()
        since = self.since().replace(tzinfo=None)
        result = self.actuator().follow('s1', since=since, target='dst')
        self.assertEqual(record.id, result.migration_id)

    def test_record_to_another_host_is_not_taken(self):
        self.conn.add_host('other')
        self.start_elsewhere(target='other',
                             steps=((0.0, 'running'),))
        result = self.actuator().follow('s1', since=self.since(0.0),
                                        target='dst')
        self.assertEqual(actuator.REJECTED, result.status, result)

    def test_timeout_counts_from_the_record_creation(self):
        record = self.start_elsewhere(steps=((0.0, 'running'),),
                                      created_ago=100)
        result = self.actuator(migration_timeout=10).follow(
            's1', migration_id=record.id)
        self.assertEqual(('cancelled', 'abort', True),
                         (result.status, result.timeout_action,
                          result.timed_out))
        # at once, not 10 s after the follow started
        self.assertLess(self.clock.now - 1000.0, 1.0)
        self.assertEqual(100.0, round((result.finished_at
                                       - result.started_at)
                                      .total_seconds()))

    def test_no_record_and_still_on_source(self):
        polls = []

        def on_poll(status):
            polls.append(status)
            return True

        act = self.actuator()
        result = act.follow('s1', since=self.since(10), target='dst',
                            on_poll=on_poll)
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertIsNone(result.http_status)
        self.assertIn('the request never reached Nova', result.error)
        self.assertEqual('src', result.host)
        # a request of the dead follower could still have created one:
        # waited until none can, heartbeating meanwhile
        waited = self.clock.now - 1000.0
        bound = act.request_timeout + actuator.RECORD_WAIT - 10
        self.assertGreaterEqual(waited, bound - 1)
        self.assertLess(waited, bound + 2)
        self.assertEqual({None}, set(polls))

    def test_no_record_long_ago_is_decided_at_once(self):
        result = self.actuator().follow('s1', since=self.since(3600),
                                        target='dst')
        self.assertEqual(actuator.REJECTED, result.status)
        self.assertEqual(0.0, self.clock.now - 1000.0)

    def test_no_record_but_on_target(self):
        self.server.compute_host = 'dst'
        result = self.actuator().follow('s1', since=self.since(3600),
                                        target='dst')
        self.assertTrue(result.succeeded, result)
        self.assertIsNone(result.error)
        self.assertIn('counted as completed', result.note)

    def test_server_deleted(self):
        result = self.actuator().follow('gone', since=self.since(3600),
                                        target='dst')
        self.assertEqual((actuator.REJECTED, 404),
                         (result.status, result.http_status))
        self.assertIn('no longer exists', result.error)

    def test_migrations_cannot_be_listed(self):
        self.conn.compute.read_errors = [
            fakes.http_error(503, 'busy') for _ in range(1000)]
        result = self.actuator().follow('s1', since=self.since(3600),
                                        target='dst')
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertIn('cannot be listed', result.error)

    def test_stored_record_gone_and_not_on_target(self):
        result = self.actuator().follow('s1', migration_id=42,
                                        target='dst')
        self.assertEqual('failed', result.status)
        self.assertIn('migration 42 is no longer in Nova', result.error)
        # looked for RECORD_WAIT (Nova might not answer at once)
        self.assertGreaterEqual(self.clock.now - 1000.0,
                                actuator.RECORD_WAIT)

    def test_give_up(self):
        record = self.start_elsewhere(steps=((0.0, 'running'),))
        result = self.actuator().follow('s1', migration_id=record.id,
                                        on_poll=lambda status: False)
        self.assertEqual(actuator.UNKNOWN, result.status)
        self.assertTrue(result.given_up)
        self.assertNotIn('abort', self.conn.compute.call_names())

    def test_needs_an_id_or_a_time(self):
        self.assertRaises(ValueError, self.actuator().follow, 's1')

    def test_api_errors_never_raise(self):
        record = self.start_elsewhere()
        self.conn.compute.get_server = TestRefused.unreachable
        result = self.actuator().follow('s1', migration_id=record.id)
        self.assertTrue(result.succeeded, result)
        self.assertIsNone(result.host)
