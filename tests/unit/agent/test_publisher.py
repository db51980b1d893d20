# SPDX-License-Identifier: Apache-2.0
import os
import threading
import time
from unittest import mock
import uuid

import fixtures
import oslo_messaging
from oslo_messaging import conffixture
from oslotest import base

from nova_drs.agent import publisher
from nova_drs.notifications import payload
from nova_drs.notifications import signing
from tests import polling
from tests.unit.agent import test_payload
from tests.unit import clusters


class BlockingNotifier:
    """Records what it sends; blocks while ``down`` (a broker outage)."""

    def __init__(self):
        self.sent = []
        self.up = threading.Event()
        self.up.set()
        self.calls = 0

    def sample(self, ctxt, event_type, doc):
        self.calls += 1
        self.up.wait()
        self.sent.append((event_type, doc))


wait_for = polling.wait_for


class TestPublisher(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_agent__buffer_size=3,
                                  drs_agent__host='compute-1')
        self.notifier = BlockingNotifier()
        self.pub = publisher.Publisher(self.conf, notifier=self.notifier)
        self.pub.start()
        self.addCleanup(self.pub.stop, 0.5)
        self.addCleanup(self.notifier.up.set)

    def doc(self, n):
        doc = test_payload.metrics_payload()
        doc['agent']['cycle_ms'] = float(n)
        return doc

    def sent_numbers(self):
        return [d['agent']['cycle_ms'] for _e, d in self.notifier.sent]

    def test_publisher_id(self):
        self.assertEqual('nova-drs-agent:compute-1', self.pub.publisher_id)

    def test_sends_in_order(self):
        for n in range(5):
            self.assertTrue(self.pub.publish(payload.METRICS_EVENT,
                                             self.doc(n)))
            wait_for(lambda: self.pub.sent == n + 1)
        self.assertEqual([0, 1, 2, 3, 4], self.sent_numbers())
        self.assertEqual(0, self.pub.pending)

    def test_numbered_in_one_run(self):
        for n in range(3):
            self.pub.publish(payload.METRICS_EVENT, self.doc(n))
            wait_for(lambda: self.pub.sent == n + 1)
        self.pub.publish(payload.HOTSPOT_EVENT,
                         test_payload.hotspot_payload())
        wait_for(lambda: self.pub.sent == 4)
        docs = [d for _e, d in self.notifier.sent]
        self.assertEqual([1, 2, 3, 4], [d['sequence'] for d in docs])
        self.assertEqual({self.pub.run_id}, {d['run_id'] for d in docs})
        # unsigned without a secret, and still valid
        self.assertNotIn('signature', docs[0])
        payload.validate(docs[0])
        # a restart is a new run
        other = publisher.Publisher(self.conf, notifier=self.notifier)
        self.assertNotEqual(self.pub.run_id, other.run_id)
        uuid.UUID(other.run_id)

    def test_nothing_is_validated_on_the_way_out(self):
        # the agent's cycle does not pay for validation: the balancer
        # checks what it receives
        doc = self.doc(1)
        del doc['host']
        self.assertTrue(self.pub.publish(payload.METRICS_EVENT, doc))
        wait_for(lambda: self.pub.sent == 1)

    def test_bounded_buffer_drops_oldest_while_broker_is_down(self):
        self.notifier.up.clear()
        self.pub.publish(payload.METRICS_EVENT, self.doc(0))
        # 0 is being sent (blocked in oslo.messaging): never dropped
        wait_for(lambda: self.notifier.calls == 1)
        for n in range(1, 8):
            self.pub.publish(payload.METRICS_EVENT, self.doc(n))
        self.assertEqual(3, self.pub.pending)
        self.assertEqual(5, self.pub.dropped)
        # the broker is back: the one in flight, then the newest two
        self.notifier.up.set()
        wait_for(lambda: self.pub.pending == 0)
        self.assertEqual([0, 6, 7], self.sent_numbers())
        self.assertEqual(3, self.pub.sent)
        self.assertEqual(5, self.pub.dropped)

    def test_notifier_errors_are_retried(self):
        notifier = mock.Mock()
        notifier.sample.side_effect = [RuntimeError('boom'), None]
        pub = publisher.Publisher(self.conf, notifier=notifier)
        pub.start()
        self.addCleanup(pub.stop, 0.5)
        pub.publish(payload.METRICS_EVENT, self.doc(1))
        wait_for(lambda: pub.sent == 1, timeout=5)
        self.assertEqual(2, notifier.sample.call_count)

    def test_stop_flushes(self):
        for n in range(3):
            self.pub.publish(payload.METRICS_EVENT, self.doc(n))
        self.pub.stop(5.0)
        self.assertEqual(3, len(self.notifier.sent))

    def test_stop_gives_up_when_broker_is_down(self):
        self.notifier.up.clear()
        self.pub.publish(payload.METRICS_EVENT, self.doc(0))
        start = time.monotonic()
        self.pub.stop(0.2)
        self.assertLess(time.monotonic() - start, 2.0)


class TestSigning(base.BaseTestCase):

    def publish(self, conf):
        notifier = BlockingNotifier()
        pub = publisher.Publisher(conf, notifier=notifier)
        pub.start()
        self.addCleanup(pub.stop, 0.5)
        pub.publish(payload.METRICS_EVENT, test_payload.metrics_payload())
        wait_for(lambda: pub.sent == 1)
        return pub, notifier.sent[0][1]

    def test_signed_with_the_shared_secret(self):
        conf = clusters.conf(drs_agent__host='compute-1',
                             drs_signing__secret='s3cret')
        pub, doc = self.publish(conf)
        self.assertEqual('shared', doc['signature']['key'])
        signing.Verifier('s3cret').verify(
            payload.METRICS_EVENT, pub.publisher_id, 'compute-1', doc)
        payload.validate(doc)

    def test_signed_with_the_host_key(self):
        key_file = os.path.join(self.useFixture(fixtures.TempDir()).path,
                                'key')
        with open(key_file, 'w') as f:
            f.write(signing.host_key('s3cret', 'compute-1').hex())
        os.chmod(key_file, 0o600)
        conf = clusters.conf(drs_agent__host='compute-1',
                             drs_agent__signing_key_file=key_file)
        pub, doc = self.publish(conf)
        self.assertEqual('host', doc['signature']['key'])
        signing.Verifier('s3cret', require_host_keys=True).verify(
            payload.METRICS_EVENT, pub.publisher_id, 'compute-1', doc)

    def test_a_payload_that_cannot_be_signed_is_refused(self):
        conf = clusters.conf(drs_agent__host='compute-1',
                             drs_signing__secret='s3cret')
        pub = publisher.Publisher(conf, notifier=BlockingNotifier())
        doc = test_payload.metrics_payload()
        doc['host']['load']['cpu'] = float('nan')
        with self.assertLogs('nova_drs.agent.publisher', 'ERROR') as logs:
            self.assertFalse(pub.publish(payload.METRICS_EVENT, doc))
        self.assertIn('not finite', logs.output[0])
        self.assertEqual((1, 0), (pub.invalid, pub.pending))

    def test_unsigned_is_warned_of(self):
        conf = clusters.conf(drs_agent__host='compute-1')
        with self.assertLogs('nova_drs.agent.publisher', 'WARNING') as logs:
            pub = publisher.Publisher(conf, notifier=BlockingNotifier())
            pub.start()
            pub.stop(0.5)
        self.assertIn('NOT signed', logs.output[0])


class TestNotifierFromConf(base.BaseTestCase):

    def test_oslo_messaging_notifier(self):
        conf = clusters.conf(drs_agent__host='compute-1')
        with mock.patch.object(publisher.oslo_messaging,
                               'get_notification_transport') as transport, \
                mock.patch.object(publisher.oslo_messaging,
                                  'Notifier') as notifier:
            pub = publisher.Publisher(conf)
            pub.start()
            pub.stop(0.1)
        transport.assert_called_once_with(conf)
        notifier.assert_called_once_with(
            transport.return_value,
            publisher_id='nova-drs-agent:compute-1', driver='messagingv2',
            topics=['drs_notifications'])
        transport.return_value.cleanup.assert_called_once_with()

    def test_fake_transport(self):
        conf = clusters.conf(drs_agent__host='compute-1')
        fixture = self.useFixture(conffixture.ConfFixture(conf))
        fixture.transport_url = 'fake:/'
        received = []

        class Endpoint:
            def sample(self, ctxt, publisher_id, event_type, doc, metadata):
                received.append((publisher_id, event_type, doc))

        transport = oslo_messaging.get_notification_transport(conf)
        self.addCleanup(transport.cleanup)
        listener = oslo_messaging.get_notification_listener(
            transport, [oslo_messaging.Target(topic='drs_notifications')],
            [Endpoint()], executor='threading')
        listener.start()
        self.addCleanup(listener.wait)
        self.addCleanup(listener.stop)
        pub = publisher.Publisher(conf)
        pub.start()
        pub.publish(payload.METRICS_EVENT, test_payload.metrics_payload())
        wait_for(lambda: received)
        pub.stop(1.0)
        publisher_id, event_type, doc = received[0]
        self.assertEqual('nova-drs-agent:compute-1', publisher_id)
        self.assertEqual(payload.METRICS_EVENT, event_type)
        payload.validate(doc)
