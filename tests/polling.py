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


#: with a clock other than wall time, the wall-clock cap is this many
#: times the timeout (a guest that gets no CPU at all still fails)
WALL_CAP_FACTOR = 8


def wait_for(predicate, timeout=MIN_TIMEOUT, what='condition', step=0.2,
             clock=None):
    """Poll ``predicate`` until it returns a true value; return that value.

    The first polls come 10 ms apart, then ever further apart up to
    ``step``: a condition a thread meets at once is seen at once, and one
    that takes a real service seconds is not polled hundreds of times.

    :param timeout: seconds before giving up; at least :data:`MIN_TIMEOUT`
    :param step: the longest pause between two polls (seconds)
    :param clock: what ``timeout`` is measured on: a callable returning
        seconds (default: wall time). A QEMU guest's CPU time, say: under
        TCG a boot costs CPU, and on a busy machine a guest gets a share
        of a core, so it is failed for working that long without result,
        not for being slow; wall time is then capped at
        :data:`WALL_CAP_FACTOR` x ``timeout``.
    :raises AssertionError: after the timeout, naming ``what``
    """
    timeout = max(timeout, MIN_TIMEOUT)
    started = time.monotonic()
    wall_cap = timeout if clock is None else WALL_CAP_FACTOR * timeout
    clock_start = None if clock is None else clock()
    pause = min(0.01, step)
    while True:
        value = predicate()
        if value:
            return value
        waited = time.monotonic() - started
        if clock is not None and clock() - clock_start > timeout:
            raise AssertionError(
                'gave up after %.0f s of its clock (%.0f s of wall time) '
                'waiting for %s' % (timeout, waited, what))
        if waited > wall_cap:
            raise AssertionError('timed out after %.0f s waiting for %s'
                                 % (wall_cap, what))
        time.sleep(pause)
        pause = min(pause * 1.5, step)
