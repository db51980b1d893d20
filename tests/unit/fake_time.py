# SPDX-License-Identifier: Apache-2.0
"""Periodic runners on a fake clock (:mod:`nova_drs.periodic`).

With :class:`FakeTime`, every :class:`nova_drs.periodic.Periodic` started
in the test reads ``FakeTime.now``, and its worker's waits advance it at
once instead of blocking: a runner goes through hours of its schedule in
milliseconds, and each run sees the exact time it was due. The tasks run
in the worker's thread, one after the other (a synchronous executor), so
the times they see are deterministic; ``run_soon`` calls run in the
caller's thread.

The worker never stops by itself: stop it from a task (deterministic) or
stop it from the test and assert no more than what happened before.
Runners started before the fixture keep the real clock.
"""

import threading

import fixtures
import futurist

from nova_drs import periodic


class FakeTime(fixtures.Fixture):

    def __init__(self, now=0.0):
        super().__init__()
        self.now = now
        self._lock = threading.Lock()

    def clock(self):
        return self.now

    def advance(self, seconds):
        with self._lock:
            self.now += seconds

    def _setUp(self):
        fake = self

        class Condition(threading.Condition):
            def wait(self, timeout=None):
                if timeout is None:
                    # a barrier waiting for runs in progress: real
                    return super().wait()
                # let another thread take the lock (stop()) meanwhile
                super().wait(0)
                fake.advance(max(timeout, 0.0))
                return False

        self.useFixture(fixtures.MockPatchObject(
            periodic.Periodic, 'clock', staticmethod(self.clock)))
        self.useFixture(fixtures.MockPatchObject(
            periodic.Periodic, 'condition_class', Condition))
        self.useFixture(fixtures.MockPatchObject(
            periodic.Periodic, 'make_executor',
            staticmethod(lambda name: futurist.SynchronousExecutor())))
