# SPDX-License-Identifier: Apache-2.0
"""The pieces of the retry policies: bounded jittered back-off, logging."""

import logging

from oslo_log import log as oslo_logging
from oslotest import base
import tenacity

from nova_drs import retry_policy


class Failing:
    """Raises ``error`` the first ``times`` calls, then returns 'done'."""

    def __init__(self, times, error=RuntimeError('down')):
        self.times = times
        self.error = error
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.times:
            raise self.error
        return 'done'


def waits(wait, attempts):
    """The waits ``wait`` gives before attempts 2 .. attempts + 1."""
    out = []
    for n in range(1, attempts + 1):
        state = tenacity.RetryCallState(None, None, (), {})
        state.attempt_number = n
        out.append(wait(state))
    return out


class TestBackoff(base.BaseTestCase):

    def test_doubles_from_first_to_cap_with_a_bounded_jitter(self):
        wait = retry_policy.backoff(2.0, 60.0)
        for _ in range(50):
            got = waits(wait, 10)
            # 2, 4, 8, 16, 32 seconds plus up to 1 s, then 60 at most
            for n, value in enumerate(got[:5]):
                self.assertGreaterEqual(value, 2.0 * 2 ** n)
                self.assertLessEqual(value, 2.0 * 2 ** n + 1.0)
            for value in got[5:]:
                self.assertGreaterEqual(value, 59.0)
                self.assertLessEqual(value, 60.0)

    def test_jitter_spreads_the_waits(self):
        wait = retry_policy.backoff(2.0, 60.0)
        self.assertGreater(len({waits(wait, 1)[0] for _ in range(20)}), 1)

    def test_never_more_than_the_cap(self):
        # a first wait longer than the cap, and one equal to it
        for first, cap in ((10.0, 2.5), (1.0, 1.0)):
            for value in waits(retry_policy.backoff(first, cap), 30):
                self.assertEqual(cap, value)

    def test_many_attempts_do_not_overflow(self):
        self.assertLessEqual(
            waits(retry_policy.backoff(0.2, 2.0), 5000)[-1], 2.0)


class TestLogRetry(base.BaseTestCase):

    def policy(self, attempts=None):
        return tenacity.Retrying(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_fixed(1.5), sleep=lambda s: None,
            before_sleep=retry_policy.log_retry(
                oslo_logging.getLogger('nova_drs.test'), 'Reading x',
                logging.WARNING, attempts=attempts),
            reraise=True)

    def test_what_failed_the_attempt_and_the_wait(self):
        with self.assertLogs('nova_drs.test', 'WARNING') as logs:
            self.assertEqual('done', self.policy(attempts=3)(Failing(2)))
        self.assertEqual(
            ['WARNING:nova_drs.test:Reading x failed (attempt %d of 3): '
             'down; retrying in 1.5 s' % n for n in (1, 2)], logs.output)

    def test_without_a_number_of_attempts(self):
        with self.assertLogs('nova_drs.test', 'WARNING') as logs:
            self.policy()(Failing(1))
        self.assertEqual(['WARNING:nova_drs.test:Reading x failed '
                          '(attempt 1): down; retrying in 1.5 s'],
                         logs.output)
