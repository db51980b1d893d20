# SPDX-License-Identifier: Apache-2.0
"""nova_drs.periodic: spacing, start, overrun, failures, stop, run_soon."""

import threading

from oslotest import base

from nova_drs import periodic
from tests.unit import fake_time

LOGGER = 'nova_drs.periodic'
#: seconds a test waits for a thread at most (never a pause)
BOUND = 10


class TestSchedule(base.BaseTestCase):
    """On a fake clock: the times each task runs at."""

    def setUp(self):
        super().setUp()
        self.time = self.useFixture(fake_time.FakeTime(1000.0))
        self.runs = []

    def recorder(self, name, until=None, effect=None):
        def run():
            self.runs.append((name, self.time.now))
            if effect is not None:
                effect()
            if until is not None and self.time.now >= until:
                runner.stop()
        runner = None

        def bind(r):
            nonlocal runner
            runner = r
        run.bind = bind
        return run

    def run_until(self, tasks, until, stopper):
        """Run ``tasks`` until ``stopper`` sees the clock reach ``until``."""
        runner = periodic.Periodic('test-periodic', tasks)
        stopper.bind(runner)
        runner.start()
        self.assertTrue(runner.wait(BOUND))
        return runner

    def times(self, name):
        return [t - 1000.0 for n, t in self.runs if n == name]

    def test_spacing_and_run_immediately(self):
        fast = self.recorder('fast', until=1110.0)
        self.run_until([periodic.Task(fast, 10.0, run_immediately=True),
                        periodic.Task(self.recorder('slow'), 25.0)],
                       1110.0, fast)
        self.assertEqual([10.0 * n for n in range(12)], self.times('fast'))
        # the first run only one spacing after the start
        self.assertEqual([25.0, 50.0, 75.0, 100.0], self.times('slow'))

    def test_overrun_is_logged_and_the_next_run_starts_at_once(self):
        calls = []

        def slow():
            calls.append(1)
            # the first run takes 15 s of its 10 s interval
            if len(calls) == 1:
                self.time.advance(15.0)
        task = self.recorder('task', until=1040.0, effect=slow)
        with self.assertLogs(LOGGER, 'WARNING') as logs:
            self.run_until([periodic.Task(task, 10.0, run_immediately=True,
                                          name='the task')], 1040.0, task)
        # spacing counts from the start of a run: 0 -> 15 (at once), then
        # on the interval again
        self.assertEqual([0.0, 15.0, 25.0, 35.0, 45.0], self.times('task'))
        self.assertEqual(1, len(logs.records))
        self.assertIn('test-periodic: the task took 15.0 s, more than its '
                      'interval (10.0 s)', logs.output[0])

    def test_a_failure_is_logged_and_the_task_runs_again(self):
        def boom():
            if len(self.runs) == 1:
                raise RuntimeError('boom')
        task = self.recorder('task', until=1020.0, effect=boom)
        with self.assertLogs(LOGGER, 'ERROR') as logs:
            self.run_until([periodic.Task(task, 10.0, run_immediately=True,
                                          name='the task')], 1020.0, task)
        self.assertEqual([0.0, 10.0, 20.0], self.times('task'))
        self.assertIn('test-periodic: the task failed; it runs again at its '
                      'next turn', logs.output[0])
        self.assertIn('RuntimeError: boom', logs.output[0])

    def test_spacing_must_be_positive(self):
        self.assertRaises(ValueError, periodic.Periodic, 'test-periodic',
                          [periodic.Task(lambda: None, 0)])


class TestThreads(base.BaseTestCase):
    """On the real clock, synchronised on events: stop and run_soon."""

    def blocking_runner(self):
        """A runner whose task runs at once and blocks until released."""
        self.entered = threading.Event()
        self.release = threading.Event()
        self.order = []

        def task():
            self.order.append('task')
            self.entered.set()
            self.release.wait(BOUND)
        runner = periodic.Periodic('test-periodic', [
            periodic.Task(task, 3600.0, run_immediately=True)])
        self.addCleanup(runner.wait, BOUND)
        self.addCleanup(self.release.set)
        self.addCleanup(runner.stop)
        runner.start()
        self.assertTrue(self.entered.wait(BOUND))
        return runner

    def test_stop_does_not_wait_for_the_task_and_wait_does(self):
        runner = self.blocking_runner()
        self.assertTrue(runner.running())
        names = {t.name for t in threading.enumerate()}
        self.assertIn('test-periodic', names)
        self.assertIn('test-periodic_0', names)
        runner.stop()
        self.assertFalse(runner.running())
        # the task still runs
        self.assertFalse(runner.wait(0))
        self.release.set()
        self.assertTrue(runner.wait(BOUND))
        names = {t.name for t in threading.enumerate()}
        self.assertFalse({'test-periodic', 'test-periodic_0'} & names)
        self.assertEqual(['task'], self.order)

    def test_run_soon_runs_after_the_task_once(self):
        runner = self.blocking_runner()
        done = threading.Event()

        def urgent():
            self.order.append('urgent')
            done.set()
        # queued behind the task in progress; the second call adds nothing
        self.assertTrue(runner.run_soon(urgent))
        self.assertTrue(runner.run_soon(urgent))
        self.assertEqual(['task'], self.order)
        self.release.set()
        self.assertTrue(done.wait(BOUND))
        # once started, it can be queued again
        done.clear()
        self.assertTrue(runner.run_soon(urgent))
        self.assertTrue(done.wait(BOUND))
        runner.stop()
        self.assertTrue(runner.wait(BOUND))
        self.assertEqual(['task', 'urgent', 'urgent'], self.order)

    def test_run_soon_failure_is_logged(self):
        runner = self.blocking_runner()
        self.release.set()
        failed = threading.Event()

        def broken():
            failed.set()
            raise KeyError('a bug')
        with self.assertLogs(LOGGER, 'ERROR') as logs:
            runner.run_soon(broken)
            self.assertTrue(failed.wait(BOUND))
            runner.stop()
            self.assertTrue(runner.wait(BOUND))
        self.assertIn('broken failed', logs.output[0])
        self.assertIn("KeyError: 'a bug'", logs.output[0])

    def test_nothing_runs_after_stop(self):
        runner = self.blocking_runner()
        ran = []
        self.assertTrue(runner.run_soon(lambda: ran.append(1)))
        runner.stop()
        self.assertFalse(runner.run_soon(lambda: ran.append(2)))
        self.release.set()
        self.assertTrue(runner.wait(BOUND))
        # queued before the stop, started after: not run
        self.assertEqual([], ran)
        self.assertEqual(['task'], self.order)

    def test_run_soon_before_start(self):
        runner = periodic.Periodic('test-periodic', [])
        self.assertFalse(runner.run_soon(lambda: None))
        self.assertTrue(runner.wait(0))


class BackoffTest(base.BaseTestCase):

    def test_doubles_up_to_the_cap_in_whole_turns(self):
        # first 2 s, cap 9 s, a task every 2 s: 2, 4, 8, 9, 9 s, reached
        # by skipping 0, 1, 3, 4, 4 turns
        self.assertEqual(
            [(2, 0), (4, 1), (8, 3), (9, 4), (9, 4)],
            [periodic.backoff(n, 2.0, 2.0, 9.0) for n in range(1, 6)])
        # a delay between turns waits for the next turn after it
        self.assertEqual((3.0, 1), periodic.backoff(1, 2.0, 3.0, 60.0))
