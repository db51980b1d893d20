# SPDX-License-Identifier: Apache-2.0
"""The balancer's metrics intake against a real RabbitMQ.

Agents are played by the agent's own publisher
(:class:`nova_drs.agent.publisher.Publisher`: a real oslo.messaging
``Notifier``, priority ``sample``, publisher id ``nova-drs-agent:<host>``)
talking straight to the broker. The listener reaches the broker through a
TCP relay (:class:`tests.functional.agent.lab.TcpProxy`) that a test cuts
and restores: for the listener that is a broker restart, while the shared
broker itself (also used by CI and other tests) is never touched. Every
test has its own topic and queues, and deletes its queues at the end.

Needs RabbitMQ at ``NOVA_DRS_TRANSPORT_URL`` (default
``rabbit://guest:guest@127.0.0.1:5672/``; ``tools/lab/rabbitmq.sh`` starts
one). ``NOVA_DRS_SKIP_RABBITMQ=1`` skips these tests.
"""

import itertools
import os
import random
import socket
import statistics
import textwrap
import threading
import time
import unittest
import uuid

import fixtures
import oslo_messaging
from oslotest import base

from nova_drs.agent import publisher
from nova_drs.balancer.intake import listener
from nova_drs.balancer.view import host_view
from nova_drs import config
from nova_drs.notifications import payload as payload_mod
from nova_drs.notifications import signing
from tests.functional.agent import lab
from tests.functional import broker
from tests.unit.balancer import test_host_view as docs

_COUNTER = itertools.count()
GUEST = '11111111-0000-0000-0000-000000000001'


def _check_broker():
    if os.environ.get('NOVA_DRS_SKIP_RABBITMQ') == '1':
        raise unittest.SkipTest('NOVA_DRS_SKIP_RABBITMQ=1')
    host, port = lab.broker_address()
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as e:
        raise AssertionError(
            'RabbitMQ does not answer at %s:%s (%s): run '
            'tools/lab/rabbitmq.sh (as root) first, or set '
            'NOVA_DRS_SKIP_RABBITMQ=1 to skip these tests' % (host, port, e))


def delete_queues(names):
    """Delete queues on the real broker (not through any relay)."""
    broker.delete_queues(lab.TRANSPORT_URL, names)


SECRET = 'functional test secret %s' % uuid.uuid4().hex
#: the balancer's [drs_signing]: host keys only
SIGNING = """\
    [drs_signing]
    secret = %s
    require_host_keys = true
    """ % SECRET


class ListenerTestCase(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _check_broker()

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        n = next(_COUNTER)
        self.topic = 'drs_ft_listener_%d_%d' % (os.getpid(), n)
        self.replica = 'ft-%d-%d-%s' % (os.getpid(), n, uuid.uuid4().hex[:6])
        self.proxy = lab.TcpProxy(lab.broker_address()).start()
        self.addCleanup(self.proxy.stop)
        self.addCleanup(delete_queues, [
            '%s.sample' % self.topic, '%s-%s' % (listener.POOL_PREFIX,
                                                 self.replica)])

    def conf_file(self, name, transport_url, extra=''):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent("""\
                [DEFAULT]
                transport_url = %(url)s
                [drs_agent]
                topic = %(topic)s
                [drs_listener]
                topic = %(topic)s
                [oslo_messaging_rabbit]
                rabbit_retry_interval = 1
                rabbit_retry_backoff = 1
                rabbit_interval_max = 2
                """) % {'url': transport_url, 'topic': self.topic})
            f.write(textwrap.dedent(extra))
        return path

    def start_view(self, replica=False, extra=''):
        """A HostView fed by a MetricsListener through the relay."""
        conf = config.load([self.conf_file(
            'balancer.conf', lab.proxied_transport_url(self.proxy.port),
            extra)])
        view = host_view.HostView(conf)
        metrics = listener.MetricsListener(
            conf, view, replica_id=self.replica if replica else None)
        metrics.start()
        self.addCleanup(metrics.stop)
        return view, metrics

    def agent(self, host, extra=''):
        """The agent's publisher for ``host``, straight to the broker."""
        conf = config.load([self.conf_file('agent.conf', lab.TRANSPORT_URL,
                                           extra)])
        conf.set_override('host', host, 'drs_agent')
        pub = publisher.Publisher(conf)
        pub.start()
        self.addCleanup(pub.stop, 5.0)
        return pub

    def signed_agent(self, host):
        """A real agent publisher signing with its own host key."""
        path = os.path.join(self.tmp, '%s.key' % host)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as f:
            f.write(signing.host_key(SECRET, host).hex())
        return self.agent(host, '[drs_agent]\nsigning_key_file = %s\n'
                          % path)

    def raw_notifier(self, publisher_id):
        """A Notifier that sends whatever it is given (no validation)."""
        conf = config.load([self.conf_file('agent.conf', lab.TRANSPORT_URL)])
        transport = oslo_messaging.get_notification_transport(conf)
        self.addCleanup(transport.cleanup)
        return oslo_messaging.Notifier(transport, publisher_id=publisher_id,
                                       driver='messagingv2',
                                       topics=[self.topic])

    @staticmethod
    def metrics(host, **kw):
        return docs.metrics_doc(host, at=time.time(), **kw)


class TestMetricsIntake(ListenerTestCase):

    def test_metrics_reach_the_view_and_forgeries_do_not(self):
        view, metrics = self.start_view()
        a, b = self.agent('ft-a'), self.agent('ft-b')
        self.assertTrue(a.publish(payload_mod.METRICS_EVENT, self.metrics(
            'ft-a', load=(0.4, 0.5, 0, 0),
            guests=[docs.guest_doc(GUEST, cpu=0.25, mem=700.0)])))
        lab.wait_for(lambda: view.host('ft-a'), 30, what='host ft-a')

        # forged and broken messages, then good ones
        evil = self.raw_notifier('nova-drs-agent:ft-evil')
        evil.sample({}, payload_mod.METRICS_EVENT, self.metrics('ft-a'))
        stranger = self.raw_notifier('someone:ft-a')
        stranger.sample({}, payload_mod.METRICS_EVENT, self.metrics('ft-a'))
        broken = self.metrics('ft-b')
        del broken['guests']
        self.raw_notifier('nova-drs-agent:ft-b').sample(
            {}, payload_mod.METRICS_EVENT, broken)
        future = self.metrics('ft-b')
        future['version'] = '2.0'
        self.raw_notifier('nova-drs-agent:ft-b').sample(
            {}, payload_mod.METRICS_EVENT, future)
        b.publish(payload_mod.METRICS_EVENT, self.metrics('ft-b'))
        a.publish(payload_mod.METRICS_EVENT, self.metrics(
            'ft-a', load=(0.6, 0.5, 0, 0),
            guests=[docs.guest_doc(GUEST, cpu=0.5, mem=700.0)]))

        lab.wait_for(lambda: view.host('ft-b') and view.host(
            'ft-a').load['cpu'] == 0.6, 30, what='the good ones')
        stats = lab.wait_for(
            lambda: sum(metrics.stats()['dropped'].values()) == 4
            and metrics.stats(), 30, what='four drops')
        self.assertEqual({'malformed': 1, 'unsupported_version': 1,
                          'unknown_event': 0, 'bad_publisher': 1,
                          'host_mismatch': 1, 'unsigned': 0,
                          'bad_signature': 0, 'future': 0,
                          'handler_error': 0},
                         stats['dropped'])
        self.assertEqual(3, stats['accepted'][payload_mod.METRICS_EVENT])
        self.assertEqual(['ft-a', 'ft-b'], view.fresh_hosts())
        self.assertNotIn('ft-evil', view.hosts())
        self.assertEqual(0.5, view.loads()[GUEST].cpu_util)
        self.assertEqual('%s.sample' % self.topic, stats['queue'])

    def test_hotspot_latency(self):
        # the default batch_timeout (0.25 s) bounds the wait in the listener;
        # signed and checked end to end
        view, metrics = self.start_view(extra=SIGNING)
        pub = self.signed_agent('ft-hot')
        pub.publish(payload_mod.METRICS_EVENT, self.metrics('ft-hot'))
        lab.wait_for(lambda: view.host('ft-hot'), 30, what='host ft-hot')
        arrived = {}
        lock = threading.Lock()

        def on_urgent(event):
            with lock:
                arrived[event.sampled_at] = time.monotonic()
        view.add_urgent_callback(on_urgent)
        rng = random.Random(42)
        sent = {}
        rounds = 20
        for n in range(rounds):
            doc = docs.hotspot_doc('ft-hot', at=time.time(),
                                   hot=('cpu',), raised=('cpu',))
            stamp = listener.parse_timestamp(doc['timestamp'])
            sent[stamp] = time.monotonic()
            pub.publish(payload_mod.HOTSPOT_EVENT, doc)
            # and over, as an agent says before the next one: only a
            # rising edge is urgent
            pub.publish(payload_mod.HOTSPOT_EVENT, docs.hotspot_doc(
                'ft-hot', at=time.time(), hot=(), raised=(),
                cleared=('cpu',)))
            # a random phase against the listener's batch window
            time.sleep(0.3 + rng.random() * 0.3)
        lab.wait_for(lambda: len(arrived) == rounds, 30,
                     what='%d urgent callbacks' % rounds)
        latencies = sorted((arrived[s] - sent[s]) * 1000.0 for s in sent)
        median = statistics.median(latencies)
        p90 = latencies[int(0.9 * (rounds - 1))]
        self.assertEqual(0, sum(metrics.stats()['dropped'].values()))
        print('\nsigned hotspot notification -> urgent callback through '
              'RabbitMQ (batch_timeout %.2f s, %d events): median %.0f ms, '
              'p90 %.0f ms, min %.0f ms, max %.0f ms' % (
                  metrics.conf.drs_listener.batch_timeout, rounds, median,
                  p90, latencies[0], latencies[-1]))
        timeout_ms = metrics.conf.drs_listener.batch_timeout * 1000.0
        self.assertLess(median, timeout_ms + 250)
        self.assertLess(latencies[-1], timeout_ms + 2000)

    def test_the_agents_flag_in_a_metrics_report_is_urgent(self):
        # the agent's k-of-n rule flags the host at its second busy
        # sample: one urgent event, and the host is hot in the view
        view, _metrics = self.start_view()
        events = []
        view.add_urgent_callback(events.append)
        pub = self.agent('ft-busy')
        for flags in ((), ('cpu',), ('cpu',)):
            pub.publish(payload_mod.METRICS_EVENT, self.metrics(
                'ft-busy', load=(0.97, 0.1, 0, 0), hotspot=flags))
            time.sleep(0.05)
        lab.wait_for(lambda: events, 30, what='an urgent event')
        lab.wait_for(lambda: view.stats()['samples'] == 3, 30,
                     what='the three samples')
        self.assertEqual([('ft-busy', ('cpu',), host_view.SOURCE_METRICS)],
                         [(e.host, e.resources, e.source) for e in events])
        self.assertEqual({'ft-busy': ('cpu',)}, view.hot_hosts())


class TestBrokerRestart(ListenerTestCase):

    def test_listener_survives_a_broker_restart(self):
        # a replica: its own pool, whose queue keeps what is sent while the
        # connection is down, and the drain on the default queue
        view, metrics = self.start_view(replica=True)
        self.assertEqual('drs-balancer-%s' % self.replica, metrics.queue)
        pub = self.agent('ft-r')

        def cpu():
            state = view.host('ft-r')
            return state.load['cpu'] if state else None

        pub.publish(payload_mod.METRICS_EVENT,
                    self.metrics('ft-r', load=(0.1, 0, 0, 0)))
        lab.wait_for(lambda: cpu() == 0.1, 30, what='the first sample')

        # the broker "restarts" for the listener: every connection of it
        # is cut and none can be made
        self.proxy.stop()
        time.sleep(1.0)
        pub.publish(payload_mod.METRICS_EVENT,
                    self.metrics('ft-r', load=(0.2, 0, 0, 0)))
        lab.wait_for(lambda: pub.sent == 2, 10, what='the agent to send')
        time.sleep(1.5)
        self.assertEqual(0.1, cpu())
        cut = time.monotonic()
        self.proxy.start()

        # sent during the outage: waited in the pool's queue
        lab.wait_for(lambda: cpu() == 0.2, 60,
                     what='the sample sent during the outage')
        reconnected = time.monotonic() - cut
        pub.publish(payload_mod.METRICS_EVENT,
                    self.metrics('ft-r', load=(0.3, 0, 0, 0)))
        lab.wait_for(lambda: cpu() == 0.3, 30,
                     what='a sample sent after the restart')
        print('\nlistener back %.1f s after the broker came back'
              % reconnected)
        stats = metrics.stats()
        self.assertEqual(3, stats['accepted'][payload_mod.METRICS_EVENT])
        self.assertEqual(0, sum(stats['dropped'].values()))
        self.assertEqual(['ft-r'], view.fresh_hosts())
        # the drain emptied the agents' default queue, over the restart too
        lab.wait_for(lambda: metrics.stats()['drained'] == 3, 30,
                     what='the drain to discard the default queue copies')


class TestSignedClockSafeIntake(ListenerTestCase):
    """Issue 13 over RabbitMQ: forged, unsigned and misdated samples."""

    @staticmethod
    def sign(doc, host, key=None, event=payload_mod.METRICS_EVENT):
        """``doc`` signed as ``host``'s agent, or with another ``key``."""
        doc['version'] = payload_mod.VERSION
        return signing.Signer(
            key or signing.host_key(SECRET, host), signing.HOST,
            'nova-drs-agent:%s' % host).sign(event, doc)

    def publish_and_time(self, pub, view, host, cpu, at=None):
        """Publish one real sample; seconds until the view shows it."""
        sent = time.monotonic()
        pub.publish(payload_mod.METRICS_EVENT, docs.metrics_doc(
            host, at=time.time() if at is None else at,
            load=(cpu, 0.1, 0, 0)))
        lab.wait_for(lambda: view.host(host) is not None
                     and view.host(host).load['cpu'] == cpu, 30,
                     what='the sample with CPU %s' % cpu)
        return time.monotonic() - sent

    def test_forgeries_are_dropped_and_the_host_stays_current(self):
        view, metrics = self.start_view(extra=SIGNING)
        events = []
        view.add_urgent_callback(events.append)
        host = 'ft-sig'
        pub = self.signed_agent(host)
        interval = pub.conf.drs_agent.interval
        self.publish_and_time(pub, view, host, 0.1)

        forger = self.raw_notifier('nova-drs-agent:%s' % host)
        # 1. unsigned: what any holder of broker credentials could send
        forger.sample({}, payload_mod.METRICS_EVENT,
                      self.metrics(host, load=(1.0, 0, 0, 0)))
        # 2. signed with a guessed key
        forger.sample({}, payload_mod.METRICS_EVENT, self.sign(
            self.metrics(host, load=(1.0, 0, 0, 0)), host, key=b'guess'))
        # 3. another node signing with its own key, claiming to be ft-sig
        forger.sample({}, payload_mod.METRICS_EVENT, self.sign(
            self.metrics(host, load=(1.0, 0, 0, 0)), host,
            key=signing.host_key(SECRET, 'ft-other')))
        # 4. a genuine signature on a changed payload
        tampered = self.sign(self.metrics(host), host)
        tampered['host']['load']['cpu'] = 1.0
        forger.sample({}, payload_mod.METRICS_EVENT, tampered)
        # 5. a genuine metrics signature replayed as a hotspot
        forger.sample({}, payload_mod.HOTSPOT_EVENT,
                      self.sign(self.metrics(host), host))
        # 6. validly signed but stamped an hour ahead: the sample that
        #    froze a host before (a node's wrong clock does the same)
        forger.sample({}, payload_mod.METRICS_EVENT, self.sign(
            docs.metrics_doc(host, at=time.time() + 3600,
                             load=(1.0, 0, 0, 0)), host))
        # 7. validly signed, with a CPU load of 1e308
        huge = self.metrics(host)
        huge['host']['load']['cpu'] = 1e308
        forger.sample({}, payload_mod.METRICS_EVENT, self.sign(huge, host))

        stats = lab.wait_for(
            lambda: sum(metrics.stats()['dropped'].values()) == 7
            and metrics.stats(), 30, what='seven drops')
        # the host's real samples go on being taken at once
        latencies = [self.publish_and_time(pub, view, host, cpu)
                     for cpu in (0.2, 0.3, 0.4)]
        self.assertLess(max(latencies), interval)
        pub.publish(payload_mod.HOTSPOT_EVENT,
                    docs.hotspot_doc(host, at=time.time()))
        lab.wait_for(lambda: events, 30, what='the urgent callback')

        dropped = stats['dropped']
        print('\nmetrics intake over RabbitMQ, [drs_signing] with host '
              'keys: dropped %d unsigned, %d badly signed (forged), %d '
              'future, %d out of bounds; the host\'s next real samples '
              'taken %.2f s max after publication (agent interval %g s)'
              % (dropped['unsigned'], dropped['bad_signature'],
                 dropped['future'], dropped['malformed'],
                 max(latencies), interval))
        self.assertEqual({'malformed': 1, 'unsupported_version': 0,
                          'unknown_event': 0, 'bad_publisher': 0,
                          'host_mismatch': 0, 'unsigned': 1,
                          'bad_signature': 4, 'future': 1,
                          'handler_error': 0}, dropped)
        self.assertEqual([host], view.fresh_hosts())
        self.assertEqual(0.4, view.host(host).load['cpu'])
        self.assertEqual([(host, host_view.SOURCE_HOTSPOT)],
                         [(e.host, e.source) for e in events])
        self.assertEqual(4, metrics.stats()['accepted'][
            payload_mod.METRICS_EVENT])
        self.assertEqual('host keys', stats['signatures'])

    def test_clock_step_back_and_agent_restart(self):
        view, metrics = self.start_view(extra=SIGNING)
        host = 'ft-clock'
        pub = self.signed_agent(host)
        interval = pub.conf.drs_agent.interval
        # the host's clock runs 50 s ahead (within max_clock_skew)...
        for cpu in (0.1, 0.2):
            self.publish_and_time(pub, view, host, cpu,
                                  at=time.time() + 50)
        # ...then NTP steps it back: ordered by sequence number, the next
        # sample is taken at once, not 50 s later
        stepped = self.publish_and_time(pub, view, host, 0.3)
        self.assertLess(stepped, interval)
        self.assertEqual(1, view.stats()['clock_steps_back'])

        # the agent restarts (a new run) with its clock behind a little
        restarted = self.signed_agent(host)
        self.assertNotEqual(pub.run_id, restarted.run_id)
        after_restart = self.publish_and_time(restarted, view, host, 0.4,
                                              at=time.time() - 5)
        self.assertLess(after_restart, interval)
        self.assertEqual(1, view.stats()['agent_restarts'])
        # a message of the old run, late, changes nothing
        pub.publish(payload_mod.METRICS_EVENT, self.metrics(
            host, load=(0.9, 0, 0, 0)))
        lab.wait_for(lambda: view.stats().get('out_of_order'), 30,
                     what='the old run\'s message to be dropped')
        self.assertEqual(0.4, view.host(host).load['cpu'])
        self.assertEqual([host], view.fresh_hosts())
        self.assertEqual(0, sum(metrics.stats()['dropped'].values()))
        print('\nclock stepped back 50 s: next sample taken after %.2f s; '
              'agent restarted: first sample taken after %.2f s (agent '
              'interval %g s)' % (stepped, after_restart, interval))
