# SPDX-License-Identifier: Apache-2.0
"""Bounded retries for the coordination backend's client.

redis-py (6 and later) retries a failed connection three times with a
backoff of up to ten seconds each, and tooz gives no way to change it: with
Redis unreachable, every tooz call then blocked for about a minute
(measured: 57 s for ``start()`` against a closed port), longer than a
replica's membership lease. A replica must see the failure in seconds, log
it and retry on its own heartbeat; the API must answer 503 at once.

:func:`bound` gives the client tooz makes one quick retry (a lost
connection is re-opened once, as a Redis restart needs) and leaves every
other backend alone.
"""

#: retries after the first attempt, and the longest wait between two
RETRIES = 1
BACKOFF_CAP_S = 0.5
BACKOFF_BASE_S = 0.1


def bound(driver):
    """Bound the retries of ``driver``'s client, if it is tooz's Redis.

    Call before ``driver.start()``; returns ``driver``.
    """
    try:
        from tooz.drivers import redis as tooz_redis
    except ImportError:  # redis-py not installed: no Redis backend
        return driver
    if not isinstance(driver, tooz_redis.RedisDriver):
        return driver
    make_client = driver._make_client

    # NOTE: redis-py's own Retry, not a tenacity policy: it is the only
    # hook into the reconnects inside the client tooz calls
    def make_bounded_client(*args, **kwargs):
        from redis import backoff
        from redis import retry

        client = make_client(*args, **kwargs)
        client.set_retry(retry.Retry(
            backoff.ExponentialBackoff(cap=BACKOFF_CAP_S,
                                       base=BACKOFF_BASE_S), RETRIES))
        return client

    # NOTE: tooz builds the client in start(); this instance's factory is
    # replaced, the class is untouched
    driver._make_client = make_bounded_client
    return driver
