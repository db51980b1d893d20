# SPDX-License-Identifier: Apache-2.0
"""What the retry policies of nova-drs are made of (tenacity).

Every place that tries an operation again has one named policy, a small
function of its module that builds a :class:`tenacity.Retrying` (its
attempts, its waits, which errors it retries and how it logs them): the
balancer's start, the executor's workers' database calls, the agent's
libvirt event loop. Periodic tasks that fail (the coordination heartbeat,
the executor's scan) back off by skipping turns instead
(:func:`nova_drs.periodic.backoff`): a retry inside a turn would hold up
the runner's other tasks. No policy runs
inside another: the transactions of :mod:`nova_drs.db` retry a deadlock
themselves (oslo.db's ``wrap_db_retry``, :mod:`nova_drs.db.retry`) and
the callers do not retry it again.

Each policy takes ``tenacity``'s ``sleep`` (the stop event's ``wait``, so
that stopping interrupts a wait; a fake in unit tests).
"""

import tenacity

#: the random share added to a wait, as a fraction of the first wait:
#: processes that failed together (a database or a Redis restart) do not
#: all try again at the same instant
JITTER = 0.5


def backoff(first, cap):
    """Waits of ``first``, ``2 first``, ``4 first``... seconds, jittered.

    Each wait is between ``first`` and ``cap`` seconds (``cap`` included):
    the doubling stops short of ``cap`` by the random share, which is at
    most ``JITTER * first`` and never pushes a wait over ``cap``.
    """
    first = min(first, cap)
    jitter = min(JITTER * first, cap - first)
    return (tenacity.wait_exponential(multiplier=first, min=first,
                                      max=cap - jitter)
            + tenacity.wait_random(0, jitter))


def next_wait(retry_state):
    """Seconds of the wait about to start (in a ``before_sleep``)."""
    return retry_state.next_action.sleep


def log_retry(log, what, level, attempts=None):
    """A ``before_sleep`` logging what failed, the attempt and the wait.

    :param log: an oslo.log logger
    :param what: the operation, as the log line names it
    :param level: a :mod:`logging` level
    :param attempts: the attempts the policy makes, for "attempt 2 of
        5" (None: it tries until it works or is stopped)
    """
    def before_sleep(retry_state):
        attempt = retry_state.attempt_number
        log.log(level, '%s failed (attempt %s): %s; retrying in %.1f s',
                what, attempt if attempts is None
                else '%d of %d' % (attempt, attempts),
                retry_state.outcome.exception(), next_wait(retry_state))
    return before_sleep
