# SPDX-License-Identifier: Apache-2.0
"""The metrics listener: checks, counters, delivery, fake transport."""

import copy
import time
from unittest import mock

import oslo_messaging
from oslo_messaging import conffixture
from oslotest import base

from nova_drs.agent import publisher as agent_publisher
from nova_drs.balancer.intake import listener
from nova_drs.balancer.view import host_view
from nova_drs.notifications import payload as payload_mod
from nova_drs.notifications import signing
from tests import polling
from tests.unit.balancer import test_host_view as docs
from tests.unit import clusters

HANDLED = oslo_messaging.NotificationResult.HANDLED


class RecordingHandler(listener.MetricsHandler):

    def __init__(self):
        self.metrics = []
        self.hotspots = []
        self.fail = False

    def on_metrics(self, reports):
        if self.fail:
            raise RuntimeError('view bug')
        self.metrics += reports

    def on_hotspots(self, reports):
        self.hotspots += reports


def message(doc, event_type=None, publisher_id=None, message_id='m-1'):
    """The dict oslo.messaging hands to a batch endpoint."""
    if event_type is None:
        event_type = (payload_mod.METRICS_EVENT
                      if isinstance(doc.get('host'), dict)
                      else payload_mod.HOTSPOT_EVENT)
    if publisher_id is None:
        host = doc['host']['name'] if isinstance(doc.get('host'), dict) \
            else doc['host']
        publisher_id = 'nova-drs-agent:%s' % host
    return {'ctxt': {}, 'publisher_id': publisher_id,
            'event_type': event_type, 'payload': doc,
            'metadata': {'message_id': message_id, 'timestamp': 'x'}}


wait_for = polling.wait_for


class TestParseTimestamp(base.BaseTestCase):

    def test_forms(self):
        t0 = 1_800_000_000.0
        self.assertEqual(t0, listener.parse_timestamp(docs.iso(t0)))
        self.assertEqual(t0 + 0.5, listener.parse_timestamp(
            docs.iso(t0 + 0.5)))
        z = listener.parse_timestamp('2026-11-27T10:00:00Z')
        self.assertEqual(z, listener.parse_timestamp(
            '2026-11-27T11:30:00+01:30'))
        self.assertEqual(z, listener.parse_timestamp(
            '2026-11-27T08:00:00-02:00'))
        self.assertAlmostEqual(z + 0.123456789, listener.parse_timestamp(
            '2026-11-27T10:00:00.123456789Z'))

    def test_invalid(self):
        for text in ('2026-13-27T10:00:00Z', '2026-11-27 10:00:00',
                     '2026-02-30T10:00:00Z', None, 12,
                     '2026-00-27T10:00:00Z', '2026-11-00T10:00:00Z',
                     '2026-11-27T24:00:00Z', '2026-11-27T10:60:00Z',
                     '2026-11-27T10:00:60Z', '0000-11-27T10:00:00Z',
                     '2025-02-29T10:00:00Z'):
            self.assertRaises(ValueError, listener.parse_timestamp, text)


class TestPoolName(base.BaseTestCase):

    def test_choice(self):
        conf = clusters.conf()
        self.assertIsNone(listener.pool_name(conf))
        self.assertEqual('drs-balancer-2', listener.pool_name(conf, 2))
        self.assertEqual('drs-balancer-ctl-1',
                         listener.pool_name(conf, 'ctl-1'))
        conf.set_override('pool', 'shared', 'drs_listener')
        self.assertEqual('shared', listener.pool_name(conf, 2))

    def test_queue(self):
        conf = clusters.conf()
        handler = RecordingHandler()
        self.assertEqual('drs_notifications.sample',
                         listener.MetricsListener(conf, handler).queue)
        self.assertEqual('drs-balancer-a', listener.MetricsListener(
            conf, handler, replica_id='a').queue)


class TestEndpoint(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.handler = RecordingHandler()
        self.clock = docs.Clock(50.0)
        self.wall = docs.Clock(docs.T0)
        self.endpoint = listener.MetricsEndpoint(self.handler,
                                                 log_interval=60.0,
                                                 clock=self.clock,
                                                 wall_clock=self.wall)
        patcher = mock.patch.object(listener.LOG, 'warning')
        self.warn = patcher.start()
        self.addCleanup(patcher.stop)

    def deliver(self, *messages):
        result = self.endpoint.sample(list(messages))
        self.assertEqual(HANDLED, result)

    def dropped(self):
        return {k: v for k, v in self.endpoint.stats()['dropped'].items()
                if v}

    def test_filter_rule(self):
        rule = listener.MetricsEndpoint.filter_rule
        for event, ok in (('drs.host.metrics', True),
                          ('drs.host.hotspot', True),
                          ('drs.host.future', True),
                          ('compute.instance.create.end', False),
                          ('drs.hostile', False)):
            self.assertEqual(ok, rule.match({}, 'p', event, {}, {}), event)

    def test_good_batch_is_delivered(self):
        metrics = docs.metrics_doc('c1', guests=[docs.U1])
        hotspot = docs.hotspot_doc('c1')
        self.deliver(message(metrics), message(hotspot, message_id='m-2'))
        self.assertEqual(1, len(self.handler.metrics))
        m = self.handler.metrics[0]
        self.assertEqual(('c1', payload_mod.METRICS_EVENT, metrics,
                          'nova-drs-agent:c1', docs.T0, 50.0, 'm-1'),
                         (m.host, m.event_type, m.payload, m.publisher_id,
                          m.sampled_at, m.received_at, m.message_id))
        self.assertEqual(['m-2'],
                         [r.message_id for r in self.handler.hotspots])
        stats = self.endpoint.stats()
        self.assertEqual({payload_mod.METRICS_EVENT: 1,
                          payload_mod.HOTSPOT_EVENT: 1}, stats['accepted'])
        self.assertEqual({}, self.dropped())
        self.assertEqual((1, 50.0), (stats['batches'],
                                     stats['last_batch_at']))
        self.warn.assert_not_called()

    def test_the_publisher_binary_is_the_agents(self):
        self.assertEqual('nova-drs-agent', agent_publisher.BINARY)

    def test_bad_messages_are_dropped_and_counted(self):
        good = docs.metrics_doc('c1')
        missing = copy.deepcopy(good)
        del missing['host']['load']
        negative = copy.deepcopy(good)
        negative['guests'] = [docs.guest_doc(docs.U1)]
        negative['guests'][0]['memory']['actual_mb'] = -1
        v2 = copy.deepcopy(good)
        v2['version'] = '2.0'
        no_version = copy.deepcopy(good)
        del no_version['version']
        bad_date = copy.deepcopy(good)
        bad_date['host']['timestamp'] = '2026-02-30T00:00:00Z'
        other_host = docs.metrics_doc('c2')
        hot_other_host = docs.hotspot_doc('c2')
        self.deliver(
            message(missing), message(negative),
            message('not a dict', payload_mod.METRICS_EVENT,
                    'nova-drs-agent:c1'),
            message(no_version), message(bad_date),
            message(v2),
            message(good, publisher_id='evil:c1'),
            message(good, publisher_id='nova-drs-agent'),
            message(good, publisher_id='nova-drs-agent:'),
            dict(message(good), publisher_id=None),
            message(other_host, publisher_id='nova-drs-agent:c1'),
            message(hot_other_host, publisher_id='nova-drs-agent:c1'),
            message(good, event_type='drs.host.future'),
            dict(message(good), event_type=None),
            message(good))
        self.assertEqual({'malformed': 5, 'unsupported_version': 1,
                          'bad_publisher': 4, 'host_mismatch': 2,
                          'unknown_event': 2}, self.dropped())
        # the good one went through
        self.assertEqual(['c1'], [r.host for r in self.handler.metrics])
        self.assertEqual({payload_mod.METRICS_EVENT: 1},
                         self.endpoint.stats()['accepted'])
        # one warning per kind, the rest counted silently
        self.assertEqual(5, self.warn.call_count)
        text = ' '.join(c[0][0] % c[0][1] for c in self.warn.call_args_list)
        self.assertIn("host: missing required key 'load'", text)
        self.assertIn('payload version 2.0 is not supported', text)
        self.assertIn("'evil:c1'", text)
        self.assertIn("the payload is about host 'c2'", text)

    def test_warnings_are_rate_limited(self):
        bad = docs.metrics_doc('c1')
        bad['version'] = '3.0'
        for _ in range(3):
            self.deliver(message(bad))
        self.assertEqual(1, self.warn.call_count)
        self.clock.now += 61
        self.deliver(message(bad))
        self.assertEqual(2, self.warn.call_count)
        fmt, args = self.warn.call_args[0]
        self.assertIn('2 more of this kind in the last 60 s were not '
                      'logged', fmt % args)
        self.assertEqual(4, self.endpoint.stats()['dropped'][
            'unsupported_version'])

    def test_zero_interval_logs_every_drop(self):
        endpoint = listener.MetricsEndpoint(self.handler, log_interval=0.0,
                                            clock=self.clock,
                                            wall_clock=self.wall)
        bad = docs.metrics_doc('c1')
        bad['version'] = '3.0'
        for _ in range(3):
            endpoint.sample([message(bad)])
        self.assertEqual(3, self.warn.call_count)

    def test_handler_failure_never_raises(self):
        self.handler.fail = True
        with mock.patch.object(listener.LOG, 'exception') as log:
            self.deliver(message(docs.metrics_doc('c1')),
                         message(docs.metrics_doc('c2')),
                         message(docs.hotspot_doc('c1')))
        log.assert_called_once()
        self.assertEqual({'handler_error': 2}, self.dropped())
        # the hotspot report of the same batch still went through
        self.assertEqual(1, len(self.handler.hotspots))

    def test_unexpected_error_never_raises(self):
        with mock.patch.object(self.endpoint, 'check',
                               side_effect=KeyError('x')), \
                mock.patch.object(listener.LOG, 'exception') as log:
            self.deliver(message(docs.metrics_doc('c1')))
        log.assert_called_once()
        self.assertEqual({'handler_error': 1}, self.dropped())


SECRET = 'listener test secret'


def signed(doc, event_type=None, host=None, kind=signing.HOST,
           secret=SECRET):
    """``doc`` signed as the agent of ``host`` would (in place)."""
    if event_type is None:
        event_type = (payload_mod.METRICS_EVENT
                      if isinstance(doc.get('host'), dict)
                      else payload_mod.HOTSPOT_EVENT)
    if host is None:
        host = doc['host']['name'] if isinstance(doc['host'], dict) \
            else doc['host']
    key = (signing.host_key(secret, host) if kind == signing.HOST
           else signing.secret_bytes(secret))
    return signing.Signer(key, kind, 'nova-drs-agent:%s' % host).sign(
        event_type, doc)


class TestSignedAndBoundedIntake(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.handler = RecordingHandler()
        self.wall = docs.Clock(docs.T0)
        self.endpoint = listener.MetricsEndpoint(
            self.handler, clock=docs.Clock(50.0), wall_clock=self.wall,
            verifier=signing.Verifier(SECRET), max_clock_skew=60.0)
        patcher = mock.patch.object(listener.LOG, 'warning')
        self.warn = patcher.start()
        self.addCleanup(patcher.stop)

    def deliver(self, *messages):
        self.assertEqual(HANDLED, self.endpoint.sample(list(messages)))

    def dropped(self):
        return {k: v for k, v in self.endpoint.stats()['dropped'].items()
                if v}

    def warnings(self):
        return ' '.join(c[0][0] % c[0][1] for c in self.warn.call_args_list)

    def test_signed_messages_are_accepted(self):
        run = docs.RUN_A
        self.deliver(
            message(signed(docs.metrics_doc('c1', run_id=run, sequence=5))),
            message(signed(docs.metrics_doc('c2'), kind=signing.SHARED)),
            message(signed(docs.hotspot_doc('c1', run_id=run,
                                            sequence=6))))
        self.assertEqual({}, self.dropped())
        self.assertEqual([('c1', run, 5), ('c2', None, None)],
                         [(r.host, r.run_id, r.sequence)
                          for r in self.handler.metrics])
        self.assertEqual([6], [r.sequence for r in self.handler.hotspots])
        self.assertEqual('shared or host keys',
                         self.endpoint.stats()['signatures'])

    def test_unsigned_and_forged_messages_are_dropped_and_counted(self):
        tampered = signed(docs.metrics_doc('c1'))
        tampered['host']['load']['cpu'] = 1.0
        # c2's agent signs with its own key and claims to be c1
        impostor = signed(docs.metrics_doc('c1'), host='c2')
        # a good signature of c1, replayed as another event type
        replayed = signed(docs.metrics_doc('c1'))
        wrong_secret = signed(docs.metrics_doc('c1'), secret='guess')
        nan = signed(docs.metrics_doc('c1'))
        nan['host']['load']['cpu'] = float('nan')
        self.deliver(
            message(docs.metrics_doc('c1')), message(tampered),
            message(impostor, publisher_id='nova-drs-agent:c1'),
            message(replayed, event_type=payload_mod.HOTSPOT_EVENT),
            message(wrong_secret), message(nan))
        self.assertEqual({'unsigned': 1, 'bad_signature': 4,
                          'malformed': 1}, self.dropped())
        self.assertEqual([], self.handler.metrics)
        text = self.warnings()
        self.assertIn('the payload is not signed', text)
        self.assertIn('the host-key signature does not match', text)
        self.assertIn('not finite', text)

    def test_host_keys_only(self):
        self.endpoint.verifier = signing.Verifier(SECRET,
                                                  require_host_keys=True)
        self.deliver(
            message(signed(docs.metrics_doc('c1'), kind=signing.SHARED)),
            message(signed(docs.metrics_doc('c2'))))
        self.assertEqual({'bad_signature': 1}, self.dropped())
        self.assertEqual(['c2'], [r.host for r in self.handler.metrics])
        self.assertIn('require_host_keys', self.warnings())
        self.assertEqual('host keys', self.endpoint.stats()['signatures'])

    def test_future_samples_are_dropped_and_counted(self):
        self.deliver(
            message(signed(docs.metrics_doc('c1', at=docs.T0 + 3600))),
            message(signed(docs.hotspot_doc('c1', at=docs.T0 + 61))),
            message(signed(docs.metrics_doc('c2', at=docs.T0 + 59))))
        self.assertEqual({'future': 2}, self.dropped())
        self.assertEqual(['c2'], [r.host for r in self.handler.metrics])
        self.assertIn('stamped 3600 s ahead', self.warnings())

    def test_future_samples_with_sequence_numbers_go_to_the_view(self):
        # ordered by their run and number, they cannot hide the host's
        # next samples: the host view judges whether they are current
        # (a host whose clock is ahead is learned there)
        self.deliver(message(signed(docs.metrics_doc(
            'c1', at=docs.T0 + 3600, run_id=docs.RUN_A, sequence=1))))
        self.assertEqual({}, self.dropped())
        self.assertEqual([('c1', 1)], [(r.host, r.sequence)
                                       for r in self.handler.metrics])

    def test_out_of_bounds_values_are_dropped(self):
        # issue 13: a load of 1e308 kept a host hot for 1.4 hours
        huge = docs.metrics_doc('c1')
        huge['host']['load']['cpu'] = 1e308
        self.deliver(message(signed(huge)))
        self.assertEqual({'malformed': 1}, self.dropped())
        self.assertIn('host.load.cpu: must be smaller than or equal to 1',
                      self.warnings())

    def test_deeply_nested_input_is_dropped_not_an_error(self):
        deep = []
        for _ in range(100000):
            deep = [deep]
        doc = signed(docs.metrics_doc('c1'))
        doc['guests'] = deep
        self.deliver(dict(message(doc), publisher_id=deep),
                     dict(message(doc), event_type=deep), message(doc))
        self.assertEqual({'bad_publisher': 1, 'unknown_event': 1,
                          'malformed': 1}, self.dropped())

    def test_newer_minor_version_is_verified_whole_and_used_known(self):
        doc = docs.metrics_doc('c1', guests=[docs.U1])
        doc['version'] = '1.5'
        doc['gpu'] = {'util': 0.5}
        doc['guests'][0]['balloon']['note'] = 'x'
        self.deliver(message(signed(doc)))
        (r,) = self.handler.metrics
        self.assertNotIn('gpu', r.payload)
        self.assertNotIn('note', r.payload['guests'][0]['balloon'])
        self.assertNotIn('signature', r.payload['guests'][0])
        # the keys it drops were signed: changing them is a forgery
        doc['gpu'] = {'util': 0.9}
        self.deliver(message(doc))
        self.assertEqual({'bad_signature': 1}, self.dropped())


class TestListenerOnFakeTransport(base.BaseTestCase):
    """The real oslo.messaging machinery on the fake:/ driver."""

    def setUp(self):
        super().setUp()
        self.conf = clusters.conf(drs_listener__batch_timeout=0.05,
                                  drs_listener__stale_after=60.0)
        self.transport = oslo_messaging.get_notification_transport(
            self.conf, url='fake:/')
        self.addCleanup(self.transport.cleanup)
        self.view = host_view.HostView(self.conf)
        self.urgent = []
        self.view.add_urgent_callback(self.urgent.append)

    def listen(self, **kw):
        metrics = listener.MetricsListener(self.conf, self.view,
                                           transport=self.transport, **kw)
        metrics.start()
        self.addCleanup(metrics.stop)
        return metrics

    def notifier(self, host):
        """A Notifier as the agent's publisher builds it."""
        return oslo_messaging.Notifier(
            self.transport, publisher_id='nova-drs-agent:%s' % host,
            driver='messagingv2', topics=['drs_notifications'])

    def now_doc(self, host, offset=0.0, **kw):
        return docs.metrics_doc(host, at=time.time() + offset, **kw)

    def test_notifications_reach_the_view(self):
        metrics = self.listen()
        self.notifier('c1').sample({}, payload_mod.METRICS_EVENT,
                                   self.now_doc('c1', guests=[docs.U1]))
        self.notifier('c1').sample({}, 'compute.instance.update',
                                   {'not': 'ours'})
        # a forged one among good ones
        self.notifier('c9').sample({}, payload_mod.METRICS_EVENT,
                                   self.now_doc('c1', 0.001))
        self.notifier('c2').sample({}, payload_mod.METRICS_EVENT,
                                   self.now_doc('c2'))
        wait_for(lambda: len(self.view.hosts()) == 2, what='two hosts')
        self.assertEqual(['c1', 'c2'], self.view.fresh_hosts())
        self.assertEqual({docs.U1}, set(self.view.loads()))
        stats = wait_for(lambda: metrics.stats()['dropped'][
            'host_mismatch'] and metrics.stats(), what='the forged one')
        self.assertEqual(2, stats['accepted'][payload_mod.METRICS_EVENT])
        # the other event type was filtered out by oslo.messaging
        self.assertEqual(1, sum(stats['dropped'].values()))
        self.assertEqual('drs_notifications.sample', stats['queue'])

    def test_hotspot_notification_calls_back(self):
        self.listen()
        started = time.monotonic()
        doc = docs.hotspot_doc('c1', at=time.time())
        self.notifier('c1').sample({}, payload_mod.HOTSPOT_EVENT, doc)
        wait_for(lambda: self.urgent, what='the urgent callback')
        event = self.urgent[0]
        self.assertEqual(('c1', host_view.SOURCE_HOTSPOT),
                         (event.host, event.source))
        self.assertLess(event.received_at - started, 5.0)

    def test_replicas_each_get_everything(self):
        other = host_view.HostView(self.conf)
        first = self.listen(replica_id='r1')
        second = listener.MetricsListener(self.conf, other,
                                          transport=self.transport,
                                          replica_id='r2')
        second.start()
        self.addCleanup(second.stop)
        for host in ('c1', 'c2', 'c3'):
            self.notifier(host).sample({}, payload_mod.METRICS_EVENT,
                                       self.now_doc(host))
        for view in (self.view, other):
            wait_for(lambda: len(view.hosts()) == 3, what='three hosts')
        # the default queue was emptied by the drains
        wait_for(lambda: first.stats()['drained']
                 + second.stats()['drained'] == 3, what='the drain')
        self.assertEqual('drs-balancer-r1', first.queue)

    def test_without_drain(self):
        self.conf.set_override('drain_default_queue', False, 'drs_listener')
        metrics = self.listen(replica_id='r1')
        self.notifier('c1').sample({}, payload_mod.METRICS_EVENT,
                                   self.now_doc('c1'))
        wait_for(lambda: self.view.hosts(), what='a host')
        self.assertEqual(0, metrics.stats()['drained'])
        self.assertEqual(1, len(metrics._servers))

    def test_says_when_nothing_is_verified(self):
        with mock.patch.object(listener.LOG, 'warning') as warn:
            metrics = self.listen()
        self.assertIn('[drs_signing] secret is not set',
                      warn.call_args_list[0][0][0])
        self.assertEqual('off', metrics.stats()['signatures'])

    def test_signed_intake_on_the_fake_transport(self):
        self.conf.set_override('secret', SECRET, 'drs_signing')
        with mock.patch.object(listener.LOG, 'warning') as warn:
            metrics = self.listen()
        warn.assert_not_called()
        self.notifier('c1').sample({}, payload_mod.METRICS_EVENT, signed(
            self.now_doc('c1')))
        self.notifier('c2').sample({}, payload_mod.METRICS_EVENT,
                                   self.now_doc('c2'))
        wait_for(lambda: metrics.stats()['dropped']['unsigned'],
                 what='the unsigned one')
        wait_for(lambda: self.view.hosts(), what='the signed one')
        self.assertEqual(['c1'], list(self.view.hosts()))

    def test_stop_and_own_transport(self):
        fixture = self.useFixture(conffixture.ConfFixture(self.conf))
        fixture.transport_url = 'fake:/'
        metrics = listener.MetricsListener(self.conf, self.view)
        metrics.start()
        metrics.start()   # idempotent
        self.assertIsNotNone(metrics._transport)
        metrics.stop()
        self.assertIsNone(metrics._transport)
        metrics.stop()
