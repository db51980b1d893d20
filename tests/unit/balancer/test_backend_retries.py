# SPDX-License-Identifier: Apache-2.0
"""The coordination backend's client retries a failure once, quickly."""

from oslotest import base
from redis import backoff
from tooz import coordination as tooz_coordination

from nova_drs.balancer.coordination import backend_retries


class TestBound(base.BaseTestCase):

    def test_redis_client_gets_one_quick_retry(self):
        driver = backend_retries.bound(tooz_coordination.get_coordinator(
            'redis://127.0.0.1:6390?socket_timeout=2', b'member'))
        # the client tooz would make at start(), made without connecting
        client = driver._make_client(driver._parsed_url, driver._options,
                                     driver.timeout)
        retry = client.get_retry()
        self.assertEqual(backend_retries.RETRIES, retry._retries)
        self.assertIsInstance(retry._backoff, backoff.ExponentialBackoff)
        self.assertEqual(backend_retries.BACKOFF_CAP_S, retry._backoff._cap)
        # every connection of the pool uses it, not redis-py's default
        connection = client.connection_pool.make_connection()
        self.assertEqual(backend_retries.RETRIES, connection.retry._retries)

    def test_other_backends_are_left_alone(self):
        driver = tooz_coordination.get_coordinator(
            'file:///tmp/nova-drs-unused', b'member')
        make_client = getattr(driver, '_make_client', None)
        self.assertIs(driver, backend_retries.bound(driver))
        self.assertEqual(make_client, getattr(driver, '_make_client', None))
