# SPDX-License-Identifier: Apache-2.0
"""The actuator, with openstacksdk faked at the Connection."""

import threading
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
from oslo_config import cfg
from oslotest import base

from nova_drs.balancer import actuator
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
