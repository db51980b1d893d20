# SPDX-License-Identifier: Apache-2.0
"""Waiting for the real parts: one polling helper for every suite."""

import time


def wait_for(predicate, timeout, what='condition', step=0.2):
    """Poll ``predicate`` until it returns a true value; return that value.

    :raises AssertionError: after ``timeout`` seconds, naming ``what``.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %.0f s waiting for %s'
                                 % (timeout, what))
        time.sleep(step)
