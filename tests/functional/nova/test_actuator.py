# SPDX-License-Identifier: Apache-2.0
"""The actuator against a real Nova (the Nova lab).

The lab's computes run ``fake.FakeLiveMigrateDriver``: a live migration
stays ``running`` for about 5 s unless it is aborted (it then ends
``cancelled``) or forced to complete (it then ends ``completed`` at once).
"""

import datetime
import threading
import time

from nova_drs.balancer.execution import actuator
from tests.functional.nova import fixtures as nova_fixtures

HOSTS = nova_fixtures.HOSTS

FAST_POLL = """
[drs_actuator]
poll_interval = 0.3
"""


class ActuatorTestCase(nova_fixtures.NovaLabTestCase):

    extra_conf = FAST_POLL

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        self.flavor = self.lab.flavor('small', vcpus=1, ram=256)
        self.actuator = actuator.Actuator(self.conn, self.conf)

    def boot_on(self, host, name='mover'):
        return self.lab.boot(name, self.flavor, host=host)

    def host_of(self, server):
        return self.conn.compute.get_server(server.id).compute_host

    def start_elsewhere(self, server, target='fake-host-2'):
        """Ask Nova directly, as another balancer would; its record."""
        self.conn.compute.live_migrate_server(server, host=target,
                                              block_migration='auto')
        records = nova_fixtures.wait_for(
            lambda: [m for m in self.conn.compute.migrations(
                server_id=server.id)
                if m.migration_type == 'live-migration'],
            30, 'the migration record')
        return max(records, key=lambda m: m.id)

    def wait_idle(self, server):
        nova_fixtures.wait_for(
            lambda: self.conn.compute.get_server(server.id).task_state
            is None, 60, 'the migration to end')

    def assert_migration_record(self, result, status):
        records = [m for m in self.conn.compute.migrations(
            server_id=result.server) if m.id == result.migration_id]
        self.assertEqual(1, len(records), result)
        self.assertEqual(status, records[0].status)
        self.assertEqual('live-migration', records[0].migration_type)


class TestLiveMigration(ActuatorTestCase):

    def test_to_named_host_completes(self):
        server = self.boot_on('fake-host-1')
        result = self.actuator.live_migrate(server, 'fake-host-2')
        self.assertTrue(result.succeeded, result)
        self.assertEqual('completed', result.status)
        self.assertEqual('fake-host-1', result.source)
        self.assertEqual('fake-host-2', result.host)
        self.assertEqual('fake-host-2', self.host_of(server))
        self.assertIsNone(result.error)
        self.assertFalse(result.timed_out)
        self.assertIsNotNone(result.migration_uuid)
        # the fake driver takes about 5 s
        self.assertGreater(result.duration_s, 4.0)
        self.assert_migration_record(result, 'completed')

    def test_disabled_destination_is_refused(self):
        server = self.boot_on('fake-host-1')
        self.lab.disable('fake-host-2')
        result = self.actuator.live_migrate(server.id, 'fake-host-2')
        self.assertFalse(result.succeeded)
        self.assertEqual(actuator.REJECTED, result.status, result)
        self.assertEqual(400, result.http_status)
        self.assertIn('No valid host was found', result.error)
        self.assertEqual('fake-host-1', result.host)
        self.assertEqual('fake-host-1', self.host_of(server))

    def test_unknown_destination_is_refused(self):
        server = self.boot_on('fake-host-1')
        result = self.actuator.live_migrate(server, 'no-such-host')
        self.assertEqual(actuator.REJECTED, result.status, result)
        self.assertEqual(400, result.http_status)
        self.assertIn('no-such-host', result.error)
        self.assertEqual('fake-host-1', self.host_of(server))

    def test_busy_server_conflict(self):
        server = self.boot_on('fake-host-1')
        self.conn.compute.live_migrate_server(server, host='fake-host-2',
                                              block_migration='auto')
        # the first migration is still running (the fake driver: ~5 s)
        result = self.actuator.live_migrate(server, 'fake-host-2')
        self.assertEqual(actuator.REJECTED, result.status, result)
        self.assertEqual(409, result.http_status)
        self.assertIn('migrating', result.error)
        nova_fixtures.wait_for(
            lambda: self.conn.compute.get_server(server.id).task_state
            is None, 60, 'the first migration to end')

    def test_concurrent_migrations_from_threads(self):
        servers = [self.boot_on('fake-host-1', 'mover-%d' % n)
                   for n in range(2)]
        results = {}

        def run(server):
            results[server.id] = self.actuator.live_migrate(server,
                                                            'fake-host-2')

        threads = [threading.Thread(target=run, args=(s,)) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual({s.id for s in servers}, set(results))
        for server in servers:
            result = results[server.id]
            self.assertTrue(result.succeeded, result)
            self.assertEqual('fake-host-2', self.host_of(server))
        self.assertNotEqual(*[results[s.id].migration_id for s in servers])


class TestTimeoutAbort(ActuatorTestCase):

    extra_conf = FAST_POLL + """
migration_timeout = 1
timeout_action = abort
"""

    def test_aborted_after_timeout(self):
        server = self.boot_on('fake-host-1')
        result = self.actuator.live_migrate(server, 'fake-host-2')
        self.assertTrue(result.timed_out, result)
        self.assertEqual('abort', result.timeout_action)
        self.assertEqual('cancelled', result.status)
        self.assertFalse(result.succeeded)
        self.assertIn('aborted', result.error)
        self.assertEqual('fake-host-1', result.host)
        self.assertEqual('fake-host-1', self.host_of(server))
        self.assertLess(result.duration_s, 4.5)
        self.assert_migration_record(result, 'cancelled')


class TestTimeoutForceComplete(ActuatorTestCase):

    extra_conf = FAST_POLL + """
migration_timeout = 1
timeout_action = force_complete
"""

    def test_forced_to_complete_after_timeout(self):
        server = self.boot_on('fake-host-1')
        result = self.actuator.live_migrate(server, 'fake-host-2')
        self.assertTrue(result.timed_out, result)
        self.assertEqual('force_complete', result.timeout_action)
        self.assertTrue(result.succeeded, result)
        self.assertEqual('fake-host-2', result.host)
        self.assertEqual('fake-host-2', self.host_of(server))
        self.assertLess(result.duration_s, 4.5)
        self.assert_migration_record(result, 'completed')


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class TestCallbacks(ActuatorTestCase):

    def test_record_then_polls(self):
        server = self.boot_on('fake-host-1')
        records, polls = [], []

        def on_poll(status):
            polls.append(status)
            return True

        result = self.actuator.live_migrate(
            server, 'fake-host-2', on_record=records.append, on_poll=on_poll)
        self.assertTrue(result.succeeded, result)
        self.assertEqual([result], records)
        self.assertIsNotNone(result.migration_id)
        self.assertIn('running', polls)
        self.assertEqual('completed', polls[-1])

    def test_giving_up_leaves_the_migration_to_nova(self):
        server = self.boot_on('fake-host-1')
        polls = []

        def on_poll(status):
            polls.append(status)
            return status != 'running'

        result = self.actuator.live_migrate(server, 'fake-host-2',
                                            on_poll=on_poll)
        self.assertEqual(actuator.UNKNOWN, result.status, result)
        self.assertTrue(result.given_up)
        self.assertEqual('running', polls[-1])
        # nothing was aborted: Nova completes it (the record's status
        # may reach 'completed' a moment after the server's task ends)
        self.wait_idle(server)
        self.assertEqual('fake-host-2', self.host_of(server))
        nova_fixtures.wait_for(
            lambda: [m for m in self.conn.compute.migrations(
                server_id=result.server) if m.id == result.migration_id
                and m.status == 'completed'], 30, 'the record completed')
        self.assert_migration_record(result, 'completed')


class TestFollow(ActuatorTestCase):

    def test_by_id(self):
        server = self.boot_on('fake-host-1')
        record = self.start_elsewhere(server)
        result = self.actuator.follow(server, migration_id=record.id,
                                      target='fake-host-2')
        self.assertTrue(result.succeeded, result)
        self.assertEqual(('fake-host-1', 'fake-host-2'),
                         (result.source, result.host))
        self.assertEqual(record.id, result.migration_id)
        self.assertIsNotNone(result.migration_uuid)
        self.assertIsNone(result.note)

    def test_by_time(self):
        server = self.boot_on('fake-host-1')
        since = _utcnow()
        record = self.start_elsewhere(server)
        result = self.actuator.follow(server, since=since,
                                      target='fake-host-2')
        self.assertTrue(result.succeeded, result)
        self.assertEqual(record.id, result.migration_id)
        self.assertEqual('fake-host-2', self.host_of(server))

    def test_already_ended(self):
        server = self.boot_on('fake-host-1')
        record = self.start_elsewhere(server)
        self.wait_idle(server)
        t0 = time.monotonic()
        result = self.actuator.follow(server, migration_id=record.id)
        self.assertTrue(result.succeeded, result)
        self.assertLess(time.monotonic() - t0, 5.0)

    def test_no_record(self):
        server = self.boot_on('fake-host-1')
        long_ago = _utcnow() - datetime.timedelta(hours=1)
        result = self.actuator.follow(server, since=long_ago,
                                      target='fake-host-2')
        self.assertEqual(actuator.REJECTED, result.status, result)
        self.assertIn('the request never reached Nova', result.error)
        self.assertEqual('fake-host-1', result.host)


class TestFollowTimeout(ActuatorTestCase):

    extra_conf = FAST_POLL + """
migration_timeout = 2
timeout_action = abort
"""

    def test_timeout_counts_from_the_record(self):
        server = self.boot_on('fake-host-1')
        record = self.start_elsewhere(server)
        time.sleep(2.5)
        t0 = time.monotonic()
        result = self.actuator.follow(server, migration_id=record.id)
        self.assertEqual(('cancelled', 'abort'),
                         (result.status, result.timeout_action), result)
        # aborted at the first look, not 2 s after it
        self.assertLess(time.monotonic() - t0, 4.0)
        self.assertEqual('fake-host-1', self.host_of(server))
