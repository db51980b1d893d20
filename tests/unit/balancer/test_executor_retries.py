# SPDX-License-Identifier: Apache-2.0
"""The executor's retry policies: its workers' database calls, its scans."""

import fixtures
from oslo_db import exception as db_exc
from oslotest import base

from nova_drs.balancer.execution import executor as executor_mod
from nova_drs.db import retry as db_retry
from tests.unit.balancer import test_executor

LOGGER = executor_mod.__name__


class Failing:
    """Raises ``error`` the first ``times`` calls, then returns 'done'."""

    def __init__(self, times, error):
        self.times, self.error, self.calls = times, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return 'done'


FOREVER = 10 ** 6


class TestDbCallPolicy(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.waits = []

    def policy(self):
        return executor_mod.db_call_policy('finish_action',
                                           sleep=self.waits.append)

    def test_an_outage_is_retried_with_a_bounded_backoff(self):
        call = Failing(4, db_exc.DBConnectionError('gone away'))
        with self.assertLogs(LOGGER,
                             'WARNING') as logs:
            self.assertEqual('done', self.policy()(call))
        self.assertEqual(executor_mod.DB_ATTEMPTS, call.calls)
        # 0.2, 0.4, 0.8, 1.6 s, each plus up to 0.1 s
        self.assertEqual(4, len(self.waits))
        for n, wait in enumerate(self.waits):
            self.assertTrue(0.2 * 2 ** n <= wait <= 0.2 * 2 ** n + 0.1,
                            self.waits)
        self.assertEqual(4, len(logs.output))
        self.assertIn('Executor: finish_action failed (attempt 1 of 5): '
                      'gone away; retrying in 0.', logs.output[0])

    def test_the_last_error_surfaces(self):
        call = Failing(FOREVER, db_exc.DBConnectionError('gone away'))
        with self.assertLogs(LOGGER, 'WARNING'):
            e = self.assertRaises(db_exc.DBConnectionError,
                                  self.policy(), call)
        self.assertEqual('gone away', str(e))
        self.assertEqual(executor_mod.DB_ATTEMPTS, call.calls)
        self.assertLessEqual(max(self.waits), executor_mod.DB_RETRY_MAX)

    def test_what_the_database_retried_is_not_retried_again(self):
        for error in (db_exc.DBDeadlock(), db_exc.DBDuplicateEntry()):
            call = Failing(FOREVER, error)
            self.assertRaises(type(error), self.policy(), call)
            self.assertEqual(1, call.calls)
        self.assertEqual([], self.waits)

    def test_one_policy_for_a_deadlock(self):
        # a database method that deadlocks every time: oslo.db's
        # wrap_db_retry alone tries it again, the executor does not
        db_sleeps = self.useFixture(fixtures.MockPatch(
            'oslo_db.api.time.sleep')).mock
        calls = []

        @db_retry.retry_on_deadlock
        def finish_action():
            calls.append(1)
            raise db_exc.DBDeadlock()

        self.assertRaises(db_exc.DBDeadlock, self.policy(), finish_action)
        self.assertEqual(db_retry.DEADLOCK_RETRIES + 1, len(calls))
        self.assertEqual(db_retry.DEADLOCK_RETRIES, db_sleeps.call_count)
        self.assertEqual([], self.waits)


class TestExecutorRetries(test_executor.ExecutorTestCase):

    def test_db_retry_gives_up_with_none(self):
        waits = []
        ex = self.executor(sleep=waits.append)
        call = Failing(FOREVER, db_exc.DBConnectionError('gone away'))
        with self.assertLogs(LOGGER, 'ERROR') as logs:
            self.assertIsNone(ex._db_retry('complete_plan', call, 'p'))
        self.assertEqual(executor_mod.DB_ATTEMPTS, call.calls)
        self.assertEqual(executor_mod.DB_ATTEMPTS - 1, len(waits))
        self.assertEqual(executor_mod.DB_ATTEMPTS, ex.stats()['db_errors'])
        self.assertIn('Executor: complete_plan failed (attempt 5 of 5), '
                      'giving up: gone away', logs.output[-1])

    def test_db_retry_after_a_database_retry_gives_up_at_once(self):
        waits = []
        ex = self.executor(sleep=waits.append)
        call = Failing(FOREVER, db_exc.DBDeadlock('deadlock'))
        with self.assertLogs(LOGGER, 'ERROR') as logs:
            self.assertIsNone(ex._db_retry('complete_plan', call, 'p'))
        self.assertEqual((1, [], 1),
                         (call.calls, waits, ex.stats()['db_errors']))
        self.assertIn('(attempt 1 of 5), giving up: deadlock',
                      logs.output[-1])

    def test_db_retry_returns_what_the_call_returns(self):
        waits = []
        ex = self.executor(sleep=waits.append)
        call = Failing(1, db_exc.DBConnectionError('gone away'))
        with self.assertLogs(LOGGER, 'WARNING'):
            self.assertEqual('done', ex._db_retry('set_migration', call))
        self.assertEqual(1, len(waits))
        self.assertEqual(1, ex.stats()['db_errors'])
