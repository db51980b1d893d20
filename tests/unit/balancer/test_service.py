# SPDX-License-Identifier: Apache-2.0
"""nova-drs-balancer's cotyledon service: start, retry, stop."""

import threading
from unittest import mock

import fixtures
from oslotest import base

from nova_drs.balancer import manager as manager_mod
from nova_drs.balancer import service
from tests.unit import clusters


class FakeManager:
    """Fails to start ``failures[0]`` times, then runs until stopped."""

    failures = [0]
    made = []

    def __init__(self, conf):
        self.conf = conf
        self.cycles = 0
        self.running = threading.Event()
        self.stopped = False
        FakeManager.made.append(self)

    def start(self):
        if FakeManager.failures[0] > 0:
            FakeManager.failures[0] -= 1
            raise manager_mod.ServiceError('database unreachable')

    def run(self, stop_event):
        self.running.set()
        while not stop_event.wait(0.01):
            self.cycles += 1

    def stop(self):
        self.stopped = True


class FakeStopEvent:
    """A stop event whose waits return at once and are recorded."""

    def __init__(self, set_after=None):
        self.waits = []
        self.set_after = set_after

    def is_set(self):
        return self.set_after is not None and len(self.waits) >= \
            self.set_after

    def wait(self, seconds):
        self.waits.append(seconds)
        return self.is_set()


class Failing:
    """Raises ``error`` the first ``times`` calls, then returns 'manager'."""

    def __init__(self, times, error):
        self.times, self.error, self.calls = times, error, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return 'manager'


class TestStartPolicy(base.BaseTestCase):

    def test_waits_double_jittered_up_to_the_cap(self):
        stop = FakeStopEvent()
        start = Failing(8, manager_mod.ServiceError('database unreachable'))
        with self.assertLogs('nova_drs.balancer.service', 'ERROR') as logs:
            self.assertEqual('manager', service.start_policy(stop)(start))
        self.assertEqual(9, start.calls)
        self.assertEqual(8, len(stop.waits))
        # 2, 4, 8, 16, 32 s plus up to 1 s, then at most 60 s
        for n, wait in enumerate(stop.waits[:5]):
            self.assertTrue(2 * 2 ** n <= wait <= 2 * 2 ** n + 1, wait)
        for wait in stop.waits[5:]:
            self.assertTrue(59 <= wait <= service.START_RETRY_MAX, wait)
        # each failure logged, with its wait; no traceback for a known
        # cause
        self.assertEqual(8, len(logs.output))
        self.assertIn('cannot start (database unreachable); trying again '
                      'in %.0f s' % stop.waits[0], logs.output[0])
        self.assertNotIn('Traceback', logs.output[0])

    def test_unexpected_error_is_logged_with_its_traceback(self):
        start = Failing(1, RuntimeError('bug'))
        with self.assertLogs('nova_drs.balancer.service', 'ERROR') as logs:
            service.start_policy(FakeStopEvent())(start)
        self.assertIn('cannot start (bug)', logs.output[0])
        self.assertIn('Traceback', logs.output[0])

    def test_stopped_while_failing(self):
        stop = FakeStopEvent(set_after=3)
        start = Failing(10 ** 6, RuntimeError('down'))
        with self.assertLogs('nova_drs.balancer.service', 'ERROR'):
            self.assertIsNone(service.start_policy(stop)(start))
        # the stop is seen after the third wait's attempt
        self.assertEqual(4, start.calls)
        self.assertEqual(3, len(stop.waits))


class TestBalancerService(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        FakeManager.failures = [0]
        FakeManager.made = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova_drs.balancer.service.START_RETRY_MIN', 0.01))

    def run_service(self):
        svc = service.BalancerService(0, clusters.conf(),
                                      manager_factory=FakeManager)
        thread = threading.Thread(target=svc.run)
        thread.start()
        self.addCleanup(thread.join, 5)
        return svc, thread

    def wait_running(self):
        for _ in range(500):
            if FakeManager.made and FakeManager.made[-1].running.is_set():
                return FakeManager.made[-1]
            threading.Event().wait(0.01)
        self.fail('the manager never ran')

    def test_run_then_terminate(self):
        svc, thread = self.run_service()
        manager = self.wait_running()
        svc.terminate()
        thread.join(5)
        self.assertFalse(thread.is_alive())
        self.assertTrue(manager.stopped)

    def test_failed_start_is_retried_and_logged(self):
        FakeManager.failures = [2]
        with self.assertLogs('nova_drs.balancer.service', 'ERROR') as logs:
            svc, thread = self.run_service()
            manager = self.wait_running()
        self.assertEqual(3, len(FakeManager.made))
        self.assertIn('cannot start (database unreachable); trying again',
                      logs.output[0])
        # the managers that failed were cleaned up
        self.assertTrue(all(m.stopped for m in FakeManager.made[:2]))
        svc.terminate()
        thread.join(5)
        self.assertTrue(manager.stopped)

    def test_terminate_while_retrying(self):
        FakeManager.failures = [10 ** 6]
        svc, thread = self.run_service()
        threading.Event().wait(0.1)
        svc.terminate()
        thread.join(5)
        self.assertFalse(thread.is_alive())
        self.assertIsNone(svc.manager)

    def test_run_uses_cotyledon(self):
        conf = clusters.conf()
        with mock.patch.object(service.cotyledon, 'ServiceManager') as sm, \
                mock.patch.object(service.oslo_config_glue,
                                  'setup') as setup:
            service.run(conf)
        setup.assert_called_once_with(sm.return_value, conf)
        sm.return_value.add.assert_called_once_with(
            service.BalancerService, workers=1, args=(conf,))
        sm.return_value.run.assert_called_once_with()
