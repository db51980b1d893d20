# SPDX-License-Identifier: Apache-2.0
"""The polling helper's timeouts, on wall time and on another clock."""

from unittest import mock

from oslotest import base

from tests import polling


class FakeWall:
    """time.monotonic and time.sleep of the polling module, in step."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class TestWaitFor(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.wall = FakeWall()
        self.patches = [
            mock.patch.object(polling.time, 'monotonic',
                              self.wall.monotonic),
            mock.patch.object(polling.time, 'sleep', self.wall.sleep)]
        for patch in self.patches:
            patch.start()
            self.addCleanup(patch.stop)

    def test_returns_the_value_once_true(self):
        answers = iter([None, 0, 'ready'])
        self.assertEqual('ready', polling.wait_for(lambda: next(answers)))

    def test_wall_timeout_names_what(self):
        with self.assertRaisesRegex(AssertionError,
                                    'timed out after 30 s waiting for x'):
            polling.wait_for(lambda: False, timeout=5, what='x')
        # the floor: never sooner than MIN_TIMEOUT
        self.assertGreaterEqual(self.wall.now, polling.MIN_TIMEOUT)
        self.assertLess(self.wall.now, polling.MIN_TIMEOUT + 1)

    def test_a_starved_worker_is_not_failed_on_wall_time(self):
        # the guest gets 1 s of CPU per 10 s of wall time: it needs 40 s
        # of CPU, i.e. 400 s of wall time, more than the 60 s timeout
        def cpu():
            return self.wall.now / 10.0

        value = polling.wait_for(lambda: cpu() >= 40 and 'booted', 60,
                                 what='boot', clock=cpu)
        self.assertEqual('booted', value)
        self.assertGreater(self.wall.now, 400)

    def test_gives_up_after_the_clock_timeout(self):
        def cpu():
            return self.wall.now / 2.0

        with self.assertRaisesRegex(AssertionError,
                                    'gave up after 60 s of its clock'):
            polling.wait_for(lambda: False, 60, what='boot', clock=cpu)
        self.assertGreater(self.wall.now, 120)
        self.assertLess(self.wall.now, 122)

    def test_wall_cap_when_the_clock_stands_still(self):
        with self.assertRaisesRegex(AssertionError,
                                    'timed out after 480 s waiting for b'):
            polling.wait_for(lambda: False, 60, what='b',
                             clock=lambda: 7.0)
