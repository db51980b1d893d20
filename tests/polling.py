# SPDX-License-Identifier: Apache-2.0
"""Waiting on a condition: the one polling helper of every suite.

A test waits for what it expects to happen (a thread's work, a message, a
real service's answer), never for a fixed time. The wait ends as soon as
the condition holds, so a generous bound costs a passing test nothing; it
only decides how long a failing one takes to say so. On a busy 2-core CI
machine a thread may not be scheduled for seconds, hence the floor.
"""

import time

#: no wait gives up sooner than this (seconds)
MIN_TIMEOUT = 30.0


def wait_for(predicate, timeout=MIN_TIMEOUT, what='condition', step=0.2):
    """Poll ``predicate`` until it returns a true value; return that value.

    The first polls come 10 ms apart, then ever further apart up to
    ``step``: a condition a thread meets at once is seen at once, and one
    that takes a real service seconds is not polled hundreds of times.

    :param timeout: seconds before giving up; at least :data:`MIN_TIMEOUT`
    :param step: the longest pause between two polls (seconds)
    :raises AssertionError: after the timeout, naming ``what``
    """
    timeout = max(timeout, MIN_TIMEOUT)
    deadline = time.monotonic() + timeout
    pause = min(0.01, step)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.0f s waiting for %s'
                                 % (timeout, what))
        time.sleep(pause)
        pause = min(pause * 1.5, step)
