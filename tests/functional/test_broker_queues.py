# SPDX-License-Identifier: Apache-2.0
"""nova_drs.notifications.queues against the real RabbitMQ.

The load test and the functional suites delete their throwaway queues
with it; a queue left behind keeps its messages on the broker for good.
"""

import socket
import uuid

import kombu
from oslotest import base

from nova_drs.notifications import queues
from tests.functional.agent import lab


def _kombu_url():
    host, port = lab._broker_address()
    return 'amqp://guest:guest@%s:%d//' % (host, port)


class DeleteQueuesTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        host, port = lab._broker_address()
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as e:
            self.skipTest('RabbitMQ at %s:%s: %s (tools/lab/rabbitmq.sh)'
                          % (host, port, e))
        self.conn = kombu.Connection(_kombu_url())
        self.addCleanup(self.conn.release)

    def _declare(self, name, messages=0):
        q = kombu.Queue(name, durable=False, auto_delete=False)
        q(self.conn.channel()).declare()
        with self.conn.Producer() as producer:
            for n in range(messages):
                producer.publish({'n': n}, routing_key=name)
        return name

    def _exists(self, name):
        try:
            self.conn.channel().queue_declare(queue=name, passive=True)
            return True
        except Exception:  # NOT_FOUND closes the channel
            return False

    def test_queues_with_messages_are_deleted(self):
        names = [self._declare('drs-ft-q-%s-%d' % (uuid.uuid4().hex[:8], n),
                               messages=3) for n in range(2)]
        self.assertTrue(all(self._exists(n) for n in names))
        self.assertEqual(2, queues.delete_queues(lab.TRANSPORT_URL, names))
        self.assertEqual([False, False], [self._exists(n) for n in names])

    def test_a_missing_queue_is_not_an_error(self):
        there = self._declare('drs-ft-q-%s' % uuid.uuid4().hex[:8])
        missing = 'drs-ft-q-never-%s' % uuid.uuid4().hex[:8]
        self.assertEqual(2, queues.delete_queues(lab.TRANSPORT_URL,
                                                 [missing, there]))
        self.assertFalse(self._exists(there))

    def test_unreachable_broker_is_logged_not_raised(self):
        # a port nothing listens on: 0 deleted, a warning, no exception
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        url = 'rabbit://guest:guest@127.0.0.1:%d/' % port
        with self.assertLogs('nova_drs.notifications.queues',
                             level='WARNING') as logs:
            self.assertEqual(0, queues.delete_queues(url, ['a', 'b'],
                                                     timeout=2))
        self.assertIn('cannot delete 2 queue(s)', logs.output[0])

    def test_not_a_rabbitmq_url(self):
        with self.assertLogs('nova_drs.notifications.queues',
                             level='WARNING') as logs:
            self.assertEqual(0, queues.delete_queues('kafka://h:9092/',
                                                     ['a']))
        self.assertIn('not a RabbitMQ transport URL', logs.output[0])
