# SPDX-License-Identifier: Apache-2.0
"""The load test's simulated agents send what the balancer accepts."""

import json
import time

from oslotest import base

from nova_drs.balancer.intake import listener
from nova_drs.loadtest import agents
from nova_drs.notifications import partition
from nova_drs.notifications import signing
from tests.unit import clusters

SECRET = '5ecret-for-the-load-test-0123456789abcdef'


class Recorder:
    """A notifier per host: what oslo.messaging would send, recorded."""

    def __init__(self):
        self.sent = []

    def factory(self, topic, publisher_id):
        recorder = self

        class Notifier:
            def sample(self, ctxt, event_type, payload):
                # through JSON, as the broker carries it
                recorder.sent.append((topic, {
                    'ctxt': {}, 'publisher_id': publisher_id,
                    'event_type': event_type,
                    'payload': json.loads(json.dumps(payload)),
                    'metadata': {'message_id': 'm', 'timestamp': 'x'}}))
        return Notifier()


class Handler(listener.MetricsHandler):
    def on_metrics(self, reports):
        pass

    def on_hotspots(self, reports):
        pass


PLACEMENT = {
    'lt-00000': [('a0000000-0000-4000-8000-000000000001', 4, 8192),
                 ('a0000000-0000-4000-8000-000000000002', 4, 8192),
                 ('a0000000-0000-4000-8000-000000000003', 2, 4096),
                 ('a0000000-0000-4000-8000-000000000004', 8, 16384)],
    'lt-00001': [('b0000000-0000-4000-8000-000000000001', 1, 2048)],
}


class AgentFleetTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_signing__secret=SECRET,
                                  drs_agent__partitions=8,
                                  drs_agent__interval=10.0)
        self.rec = Recorder()
        self.fleet = agents.AgentFleet(self.conf, PLACEMENT, host_vcpus=16,
                                       host_memory_mb=131072,
                                       notifier_factory=self.rec.factory)
        self.endpoint = listener.MetricsEndpoint(
            Handler(), verifier=signing.Verifier(SECRET,
                                                 require_host_keys=True))

    def check(self, message):
        report = self.endpoint.check(message, time.monotonic())
        self.assertIsNotNone(report, self.endpoint.stats()['dropped'])
        return report

    def test_reports_pass_the_balancer_s_checks(self):
        now = time.time()
        self.fleet.start(now - 10.0)
        self.assertEqual(2, self.fleet.due(now))
        self.assertEqual(0, self.fleet.due(now))
        self.assertEqual(2, len(self.rec.sent))
        for topic, message in self.rec.sent:
            report = self.check(message)
            # each host on its partition's topic, signed with its own key
            self.assertEqual(partition.topic_for(
                'drs_notifications', report.host, 8), topic)
            self.assertEqual(1, report.sequence)
        doc = self.rec.sent[0][1]['payload']
        self.assertEqual(4, len(doc['guests']))
        load = doc['host']['load']['cpu']
        demand = sum(g['cpu_util'] * g['vcpus'] for g in doc['guests'])
        self.assertAlmostEqual(demand / 16, load, places=3)
        self.assertFalse(doc['host']['hotspot']['cpu'])

    def test_a_host_made_hot_reports_at_once_and_its_load_moves(self):
        now = time.time()
        self.fleet.start(now)
        onset = self.fleet.make_hot('lt-00000')
        self.assertIsNotNone(onset)
        (_, metrics), (_, event) = self.rec.sent
        self.assertTrue(metrics['payload']['host']['hotspot']['cpu'])
        self.assertGreater(metrics['payload']['host']['load']['cpu'], 0.9)
        self.assertEqual(['cpu'], self.check(event).payload['raised'])
        # one vCPU cannot load 16 CPUs; a hot host is not made hot again
        self.assertIsNone(self.fleet.make_hot('lt-00001'))
        self.assertIsNone(self.fleet.make_hot('lt-00000'))
        # a hot guest moves: its load goes with it
        moved = 'a0000000-0000-4000-8000-000000000004'
        self.fleet.move(moved, 'lt-00000', 'lt-00001')
        self.assertIn(moved, self.fleet.hosts['lt-00001'].guests)
        self.fleet.due(now + 11)
        last = {m['payload']['host']['name']: m['payload']
                for _, m in self.rec.sent
                if isinstance(m['payload']['host'], dict)}
        self.assertEqual(2, len(last['lt-00001']['guests']))
        self.assertGreater(last['lt-00001']['host']['load']['cpu'], 0.3)
        # cooled, the guests go back to their own level
        self.fleet.cool_all()
        for _ in range(20):
            now += 10
            self.fleet.due(now + 11)
        doc = [m['payload'] for _, m in self.rec.sent
               if isinstance(m['payload']['host'], dict)][-1]
        self.assertLess(doc['host']['load']['cpu'], 0.5)


class SenderThreadsTest(base.BaseTestCase):
    """Reports sent by sender threads: all of them, each host's in order."""

    def test_each_host_in_order_and_counted(self):
        conf = clusters.conf(drs_signing__secret=SECRET,
                             drs_agent__partitions=8,
                             drs_agent__interval=10.0)
        rec = Recorder()
        placement = {'lt-%05d' % h: [(
            'c0000000-0000-4000-8000-%012d' % h, 2, 4096)]
            for h in range(12)}
        fleet = agents.AgentFleet(conf, placement, host_vcpus=16,
                                  host_memory_mb=131072,
                                  notifier_factory=rec.factory, senders=3)
        self.addCleanup(fleet.stop)
        now = time.time()
        fleet.start(now - 10.0)
        for cycle in range(5):
            self.assertEqual(12, fleet.due(now + 10.0 * cycle))
        deadline = time.monotonic() + 10.0
        while fleet.published < 60 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(60, fleet.published)
        self.assertEqual(60, len(rec.sent))
        endpoint = listener.MetricsEndpoint(
            Handler(), verifier=signing.Verifier(SECRET,
                                                 require_host_keys=True))
        sequences = {}
        for _topic, message in rec.sent:
            report = endpoint.check(message, time.monotonic())
            self.assertIsNotNone(report, endpoint.stats()['dropped'])
            sequences.setdefault(report.host, []).append(report.sequence)
        self.assertEqual({h: [1, 2, 3, 4, 5] for h in placement}, sequences)
        fleet.stop()
        self.assertEqual(0, fleet.send_errors)
