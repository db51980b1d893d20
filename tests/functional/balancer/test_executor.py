# SPDX-License-Identifier: Apache-2.0
"""The executor against a real Nova (the Nova lab), with a SQLite database
and a file-backend tooz coordinator in a temporary directory.

Run with ``pytest -s`` to see the timings.
"""

import os
import time
import uuid

import fixtures

from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.execution import actuator
from nova_drs.balancer.execution import executor as executor_mod
from nova_drs.balancer import plan_states
from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.nova import fixtures as nova_fixtures

HOSTS = nova_fixtures.HOSTS
POLL = 0.3
TAKEOVER_AFTER = 3.0

EXTRA_CONF = """
[drs_actuator]
poll_interval = %s
takeover_after = %s
scan_interval = 0.5
pending_timeout = 60
""" % (POLL, TAKEOVER_AFTER)


class ExecutorLabTestCase(nova_fixtures.NovaLabTestCase):

    extra_conf = EXTRA_CONF

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        self.db = db_api.Database(connection=url)
        self.addCleanup(self.db.dispose)
        for name, value in (('backend_url', 'file://' + tmp),
                            ('group', 'drs-ft-%s' % uuid.uuid4().hex[:8]),
                            ('replica_id', 'replica-a'),
                            ('heartbeat_interval', 0.2),
                            ('member_timeout', 2)):
            self.conf.set_override(name, value, 'drs_coordination')
        self.coordinator = coordination.Coordinator(self.conf).start()
        self.addCleanup(self.coordinator.stop)
        self.assertTrue(self.coordinator.wait_active(10))
        self.actuator = actuator.Actuator(self.conn, self.conf)
        self.flavor = self.lab.flavor('small', vcpus=1, ram=256)
        self.finished = []

    def executor(self):
        ex = executor_mod.Executor(
            self.conf, self.db, self.actuator, self.coordinator,
            'replica-a',
            on_finished=lambda a, r: self.finished.append((a, r)))
        self.addCleanup(ex.stop, 30)
        return ex.start()

    def applying_plan(self, server, source, target):
        plan = self.db.create_plan(
            plan_mod.Plan(strategy='hotspot', migrations=[
                plan_mod.Migration(instance=server.id, source=source,
                                   target=target, reason='test')]),
            models.ORIGIN_OPERATOR, 'test', supersede=False)
        self.assertTrue(self.db.transition_plan(
            plan.uuid, plan_states.PLAN_RECOMMENDED, plan_states.PLAN_APPLYING,
            'test'))
        return plan, plan.actions[0]

    def wait_final(self, action_uuid, timeout=90):
        return nova_fixtures.wait_for(
            lambda: self._final(action_uuid), timeout,
            'action %s to end' % action_uuid)

    def _final(self, action_uuid):
        action = self.db.get_action(action_uuid)
        if action.state in plan_states.ACTION_FINAL_STATES:
            return action
        return None

    def host_of(self, server):
        return self.conn.compute.get_server(server.id).compute_host

    def nova_record(self, server, migration_id):
        return [m for m in self.conn.compute.migrations(server_id=server.id)
                if m.id == migration_id]


class TestExecutor(ExecutorLabTestCase):

    def test_plan_migrates_a_server(self):
        server = self.lab.boot('exec-mover', self.flavor, host=HOSTS[0])
        plan, action = self.applying_plan(server, HOSTS[0], HOSTS[1])
        t0 = time.monotonic()
        self.executor()
        nova_fixtures.wait_for(
            lambda: self.db.get_action(action.uuid).migration_id, 30,
            'the migration id')
        recorded = time.monotonic() - t0
        done = self.wait_final(action.uuid)
        total = time.monotonic() - t0
        self.assertEqual(plan_states.ACTION_COMPLETED, done.state, done.error)
        self.assertEqual('completed', done.nova_status)
        self.assertEqual('replica-a', done.owner)
        records = self.nova_record(server, done.migration_id)
        self.assertEqual(1, len(records))
        self.assertEqual('completed', records[0].status)
        self.assertEqual(records[0].uuid, done.migration_uuid)
        self.assertEqual(HOSTS[1], self.host_of(server))
        nova_fixtures.wait_for(
            lambda: self.db.get_plan(plan.uuid, False).state
            == plan_states.PLAN_APPLIED, 10, 'the plan applied')
        self.assertTrue(self.finished and self.finished[0][1].succeeded)
        print('\nexecutor: migration id stored %.2f s after start, action '
              'completed after %.2f s (Nova: %.2f s)'
              % (recorded, total, (done.finished_at - done.started_at)
                 .total_seconds()))

    def test_refused_migration_fails_and_marks_the_pair(self):
        server = self.lab.boot('exec-refused', self.flavor, host=HOSTS[0])
        self.lab.disable(HOSTS[1])
        plan, action = self.applying_plan(server, HOSTS[0], HOSTS[1])
        t0 = time.monotonic()
        self.executor()
        done = self.wait_final(action.uuid)
        elapsed = time.monotonic() - t0
        self.assertEqual(plan_states.ACTION_FAILED, done.state)
        self.assertEqual(actuator.REJECTED, done.nova_status)
        self.assertIn('No valid host was found', done.error)
        self.assertIsNone(done.migration_id)
        self.assertIn((server.id, HOSTS[1]), self.db.bad_pairs())
        nova_fixtures.wait_for(
            lambda: self.db.get_plan(plan.uuid, False).state
            == plan_states.PLAN_FAILED, 10, 'the plan failed')
        self.assertEqual(HOSTS[0], self.host_of(server))
        print('\nexecutor: refusal recorded %.2f s after start' % elapsed)

    def test_dead_replicas_migration_is_taken_over(self):
        server = self.lab.boot('exec-orphan', self.flavor, host=HOSTS[0])
        plan, action = self.applying_plan(server, HOSTS[0], HOSTS[1])
        # a replica starts the action, asks Nova, and dies before it
        # could store the migration id
        self.assertTrue(self.db.start_action(action.uuid, 'dead-replica'))
        asked = time.monotonic()
        self.conn.compute.live_migrate_server(server, host=HOSTS[1],
                                              block_migration='auto')
        ex = self.executor()
        nova_fixtures.wait_for(
            lambda: self.db.get_action(action.uuid).owner == 'replica-a',
            TAKEOVER_AFTER + 10, 'the takeover')
        taken = time.monotonic() - asked
        done = self.wait_final(action.uuid)
        total = time.monotonic() - asked
        self.assertEqual(plan_states.ACTION_COMPLETED, done.state, done.error)
        self.assertIsNotNone(done.migration_id)
        records = self.nova_record(server, done.migration_id)
        self.assertEqual('completed', records[0].status)
        self.assertEqual(HOSTS[1], self.host_of(server))
        self.assertEqual(1, ex.stats()['taken_over'])
        kinds = [e.kind for e in self.db.list_events(
            object_uuid=action.uuid)]
        self.assertIn('action.takeover', kinds)
        nova_fixtures.wait_for(
            lambda: self.db.get_plan(plan.uuid, False).state
            == plan_states.PLAN_APPLIED, 10, 'the plan applied')
        # the bound: takeover_after after the last heartbeat, plus a scan
        self.assertLess(taken, TAKEOVER_AFTER + 0.5 + 2.0)
        print('\nexecutor: taken over %.2f s after the dead replica asked '
              'Nova (takeover_after %.1f s), recorded completed after '
              '%.2f s' % (taken, TAKEOVER_AFTER, total))

    def test_stop_leaves_the_migration_to_the_next_owner(self):
        server = self.lab.boot('exec-stop', self.flavor, host=HOSTS[0])
        plan, action = self.applying_plan(server, HOSTS[0], HOSTS[1])
        first = self.executor()
        nova_fixtures.wait_for(
            lambda: self.db.get_action(action.uuid).migration_id, 30,
            'the migration id')
        stopped = time.monotonic()
        self.assertTrue(first.stop(30))
        stored = self.db.get_action(action.uuid)
        self.assertEqual(plan_states.ACTION_RUNNING, stored.state)
        # the same replica, restarted
        self.executor()
        done = self.wait_final(action.uuid)
        self.assertEqual(plan_states.ACTION_COMPLETED, done.state, done.error)
        self.assertEqual(stored.migration_id, done.migration_id)
        self.assertEqual(HOSTS[1], self.host_of(server))
        print('\nexecutor: stopped during the migration, recorded '
              'completed by the restarted replica %.2f s later'
              % (time.monotonic() - stopped))
