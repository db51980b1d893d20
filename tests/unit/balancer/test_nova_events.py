# SPDX-License-Identifier: Apache-2.0
"""Nova's versioned notifications: parsing, filtering, drops, fake:/."""

import itertools
import time
from unittest import mock

import oslo_messaging
from oslo_messaging import conffixture
from oslotest import base

from nova_drs.balancer.intake import nova_events
from nova_drs import config
from tests import polling
from tests.unit import clusters

HANDLED = oslo_messaging.NotificationResult.HANDLED
SERVER = '6b2c7a52-36b4-4c1e-9d43-2b0f3c9c4d11'
NOVA_STAMP = '2026-11-27 10:00:00.250000'
#: NOVA_STAMP in seconds since the epoch
EPOCH = 1795773600.25
_TOPICS = itertools.count()


def nova_payload(object_name, **data):
    """A payload as Nova serialises its versioned notification objects."""
    return {'nova_object.name': object_name, 'nova_object.namespace': 'nova',
            'nova_object.version': '1.0', 'nova_object.data': data}


def instance_payload(uuid=SERVER, host='fake-host-1', **data):
    return nova_payload('InstanceActionPayload', uuid=uuid, host=host,
                        node=host, state='active', task_state=None, **data)


def service_payload(host='fake-host-2', binary='nova-compute', **data):
    return nova_payload('ServiceStatusPayload', host=host, binary=binary,
                        disabled=True, forced_down=False, **data)


def message(event_type, payload, publisher_id='nova-compute:fake-host-1',
            timestamp=NOVA_STAMP):
    """The dict oslo.messaging hands to a batch endpoint."""
    return {'ctxt': {}, 'publisher_id': publisher_id,
            'event_type': event_type, 'payload': payload,
            'metadata': {'message_id': 'm-1', 'timestamp': timestamp}}


class RecordingHandler(nova_events.NovaEventHandler):

    def __init__(self):
        self.batches = []
        self.fail = False

    def on_nova_events(self, events):
        if self.fail:
            raise RuntimeError('service bug')
        self.batches.append(list(events))

    @property
    def events(self):
        return [e for batch in self.batches for e in batch]


wait_for = polling.wait_for


class TestEventTypes(base.BaseTestCase):

    def filtered(self, event_type):
        """Whether oslo.messaging's filter lets ``event_type`` through."""
        return nova_events.NovaEventEndpoint.filter_rule.match(
            {}, 'nova-compute:h', event_type, {}, {})

    def test_what_is_read(self):
        for event_type, kind in (
                ('instance.create.end', 'inventory'),
                ('instance.create.error', 'inventory'),
                ('instance.delete.end', 'inventory'),
                ('instance.update', 'inventory'),
                ('instance.evacuate', 'inventory'),
                ('instance.resize_confirm.end', 'inventory'),
                ('instance.shelve_offload.end', 'inventory'),
                ('instance.power_off.end', 'inventory'),
                ('instance.live_migration_pre.start', 'migration'),
                ('instance.live_migration_post.end', 'migration'),
                ('instance.live_migration_post_dest.end', 'migration'),
                ('instance.live_migration_rollback.start', 'migration'),
                ('instance.live_migration_rollback_dest.end', 'migration'),
                ('instance.live_migration_abort.end', 'migration'),
                ('instance.live_migration_force_complete.end',
                 'migration'),
                ('service.update', 'inventory'),
                ('service.create', 'inventory'),
                ('service.delete', 'inventory'),
                ('aggregate.add_host.end', 'inventory'),
                ('aggregate.update_metadata.end', 'inventory'),
                ('server_group.add_member', 'inventory'),
                ('server_group.delete', 'inventory')):
            self.assertEqual(kind, nova_events.EVENT_TYPES.get(event_type),
                             event_type)
            self.assertTrue(self.filtered(event_type), event_type)

    def test_what_is_not(self):
        for event_type in (
                # the change is not done yet at these phases
                'instance.create.start', 'instance.delete.start',
                'aggregate.add_host.start',
                # nothing the balancer's inventory holds
                'instance.exists', 'instance.volume_attach.end',
                'instance.interface_attach.end', 'instance.snapshot.end',
                'instance.lock', 'keypair.create.end', 'flavor.update',
                'compute.instance.update', 'compute_task.build_instances',
                # anchored: no prefix or suffix matches
                'instance.create.end.x', 'xinstance.create.end',
                'instance.update.end', 'service.update.end'):
            self.assertNotIn(event_type, nova_events.EVENT_TYPES, event_type)
            self.assertFalse(self.filtered(event_type), event_type)


class TestParsing(base.BaseTestCase):

    def test_timestamps(self):
        self.assertEqual(EPOCH, nova_events.parse_timestamp(NOVA_STAMP))
        for text in ('2026-11-27T10:00:00.25', '2026-11-27T10:00:00.25Z',
                     '2026-11-27T11:00:00.25+01:00'):
            self.assertEqual(EPOCH, nova_events.parse_timestamp(text), text)
        for text in (None, '', 12, '2026-13-27 10:00:00', 'yesterday'):
            self.assertRaises(ValueError, nova_events.parse_timestamp, text)

    def test_pool_names(self):
        conf = clusters.conf()
        self.assertEqual('drs-balancer-nova', nova_events.pool_name(conf))
        self.assertEqual('drs-balancer-nova-r2',
                         nova_events.pool_name(conf, 'r2'))
        conf.set_override('nova_pool', 'shared', 'drs_listener')
        self.assertEqual('shared', nova_events.pool_name(conf, 'r2'))

    def test_options(self):
        opts = clusters.conf().drs_listener
        self.assertTrue(opts.nova_notifications)
        self.assertEqual('versioned_notifications', opts.nova_topic)
        self.assertEqual('nova', opts.nova_exchange)
        self.assertIsNone(opts.nova_transport_url)
        self.assertIsNone(opts.nova_pool)


class TestEndpoint(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.handler = RecordingHandler()
        self.endpoint = nova_events.NovaEventEndpoint(self.handler,
                                                      log_interval=60.0)
        patcher = mock.patch.object(nova_events.LOG, 'warning')
        self.warn = patcher.start()
        self.addCleanup(patcher.stop)

    def deliver(self, *messages, priority='info'):
        result = getattr(self.endpoint, priority)(list(messages))
        self.assertEqual(HANDLED, result)

    def dropped(self):
        return {k: v for k, v in self.endpoint.stats()['dropped'].items()
                if v}

    def test_instance_event(self):
        self.deliver(message('instance.create.end', instance_payload()))
        self.assertEqual([nova_events.NovaEvent(
            event_type='instance.create.end', instance=SERVER,
            host='fake-host-1', timestamp=EPOCH, kind='inventory')],
            self.handler.events)

    def test_instance_without_host(self):
        # a server deleted before it was scheduled has no host
        self.deliver(message('instance.delete.end',
                             instance_payload(host=None),
                             publisher_id='nova-api:ctl'))
        self.assertIsNone(self.handler.events[0].host)
        self.assertEqual(SERVER, self.handler.events[0].instance)

    def test_migration_event_and_error_priority(self):
        self.deliver(message('instance.live_migration_rollback.end',
                             instance_payload()))
        self.deliver(message('instance.live_migration_pre.error',
                             instance_payload(host='fake-host-2')),
                     priority='error')
        self.assertEqual([('migration', 'fake-host-1'),
                          ('migration', 'fake-host-2')],
                         [(e.kind, e.host) for e in self.handler.events])
        stats = self.endpoint.stats()
        self.assertEqual({'inventory': 0, 'migration': 2},
                         stats['accepted'])
        self.assertEqual(1, stats['event_types'][
            'instance.live_migration_pre.error'])

    def test_service_event(self):
        self.deliver(message('service.update', service_payload(),
                             publisher_id='nova-compute:fake-host-2'))
        event = self.handler.events[0]
        self.assertEqual(('service.update', None, 'fake-host-2',
                          'inventory'),
                         (event.event_type, event.instance, event.host,
                          event.kind))

    def test_other_services_are_ignored(self):
        self.deliver(message('service.update',
                             service_payload(binary='nova-scheduler')))
        self.assertEqual([], self.handler.batches)
        self.assertEqual(1, self.endpoint.stats()['ignored'])
        self.assertEqual({}, self.dropped())
        self.warn.assert_not_called()

    def test_aggregate_and_group_events_name_no_host(self):
        self.deliver(
            message('aggregate.add_host.end', nova_payload(
                'AggregatePayload', uuid=SERVER, name='agg',
                hosts=['fake-host-1'], metadata={})),
            message('server_group.add_member', nova_payload(
                'ServerGroupPayload', uuid=SERVER, name='g',
                members=[SERVER], policy='anti-affinity')))
        self.assertEqual(1, len(self.handler.batches))
        self.assertEqual([(None, None), (None, None)],
                         [(e.instance, e.host)
                          for e in self.handler.events])

    def test_malformed_are_dropped_counted_and_logged(self):
        good = message('instance.delete.end', instance_payload())
        bad = [
            message('instance.delete.end', {'uuid': SERVER}),
            message('instance.delete.end', 'text'),
            message('instance.delete.end', None),
            message('instance.delete.end', nova_payload('X', data=[])),
            message('instance.delete.end', instance_payload(uuid='srv-1')),
            message('instance.delete.end', instance_payload(uuid=None)),
            message('instance.delete.end', instance_payload(host=7)),
            message('instance.delete.end', instance_payload(host='')),
            message('service.update', service_payload(host=None)),
            message('instance.delete.end', instance_payload(),
                    timestamp='soon'),
            message('instance.delete.end', instance_payload(),
                    timestamp=None),
        ]
        self.deliver(good, *bad)
        self.assertEqual(1, len(self.handler.events))
        self.assertEqual({'malformed': len(bad)}, self.dropped())
        # rate-limited: one warning for the kind, the rest counted
        self.assertEqual(1, self.warn.call_count)
        logged = self.warn.call_args[0][0] % self.warn.call_args[0][1]
        self.assertIn('instance.delete.end', logged)
        self.assertIn('nova_object.data', logged)

    def test_unknown_event_type_when_filter_bypassed(self):
        self.deliver(message('instance.exists', instance_payload()),
                     message(None, instance_payload()))
        self.assertEqual({'unknown_event': 2}, self.dropped())
        self.assertEqual([], self.handler.batches)

    def test_handler_exception_is_logged_and_counted(self):
        self.handler.fail = True
        with mock.patch.object(nova_events.LOG, 'exception') as log:
            self.deliver(message('instance.create.end', instance_payload()),
                         message('service.update', service_payload()))
        log.assert_called_once()
        self.assertEqual({'handler_error': 2}, self.dropped())
        # the next batch is delivered again
        self.handler.fail = False
        self.deliver(message('instance.create.end', instance_payload()))
        self.assertEqual(1, len(self.handler.events))

    def test_a_bug_in_the_endpoint_never_escapes(self):
        with mock.patch.object(self.endpoint, 'check',
                               side_effect=KeyError('x')), \
                mock.patch.object(nova_events.LOG, 'exception') as log:
            self.deliver(message('instance.create.end', instance_payload()))
        log.assert_called_once()
        self.assertEqual({'handler_error': 1}, self.dropped())


class TestListenerOnFakeTransport(base.BaseTestCase):
    """The real oslo.messaging machinery on the fake:/ driver."""

    def setUp(self):
        super().setUp()
        self.topic = 'versioned_ut_%d' % next(_TOPICS)
        self.conf = clusters.conf(drs_listener__batch_timeout=0.05,
                                  drs_listener__nova_topic=self.topic)
        self.transport = oslo_messaging.get_notification_transport(
            self.conf, url='fake:/')
        self.addCleanup(self.transport.cleanup)
        self.handler = RecordingHandler()

    def nova_notifier(self, publisher_id='nova-compute:fake-host-1'):
        """A Notifier as Nova's: messagingv2 to the exchange 'nova'."""
        conf = config.load()
        self.useFixture(conffixture.ConfFixture(conf))
        conf.set_override('control_exchange', 'nova')
        transport = oslo_messaging.get_notification_transport(
            conf, url='fake:/')
        self.addCleanup(transport.cleanup)
        return oslo_messaging.Notifier(transport, publisher_id=publisher_id,
                                       driver='messagingv2',
                                       topics=[self.topic])

    def listen(self, handler=None, **kw):
        events = nova_events.NovaEventListener(
            self.conf, handler or self.handler, transport=self.transport,
            **kw)
        events.start()
        self.addCleanup(events.stop)
        return events

    def test_notifications_reach_the_handler_filtered(self):
        events = self.listen()
        nova = self.nova_notifier()
        nova.info({}, 'instance.create.start', instance_payload())
        nova.info({}, 'instance.exists', instance_payload())
        nova.info({}, 'instance.create.end', instance_payload())
        nova.error({}, 'instance.live_migration_pre.error',
                   instance_payload())
        nova.info({}, 'service.update', service_payload())
        nova.info({}, 'instance.delete.end', {'not': 'nova'})
        wait_for(lambda: len(self.handler.events) == 3, what='3 events')
        self.assertEqual(['instance.create.end',
                          'instance.live_migration_pre.error',
                          'service.update'],
                         sorted(e.event_type for e in self.handler.events))
        created = [e for e in self.handler.events
                   if e.event_type == 'instance.create.end'][0]
        # the notifier's own timestamp, seconds since the epoch
        self.assertLess(abs(time.time() - created.timestamp), 30)
        stats = wait_for(lambda: events.stats()['dropped']['malformed']
                         and events.stats(), what='the malformed one')
        # create.start and exists never reached the endpoint
        self.assertEqual(1, sum(stats['dropped'].values()))
        self.assertEqual({'inventory': 2, 'migration': 1},
                         stats['accepted'])
        self.assertEqual('drs-balancer-nova', stats['queue'])
        self.assertTrue(stats['enabled'])

    def test_other_exchange_is_not_read(self):
        self.conf.set_override('nova_exchange', 'other', 'drs_listener')
        self.listen()
        self.nova_notifier().info({}, 'instance.create.end',
                                  instance_payload())
        time.sleep(0.3)
        self.assertEqual([], self.handler.events)

    def test_replicas_each_get_everything(self):
        other = RecordingHandler()
        first = self.listen(replica_id='r1')
        second = self.listen(other, replica_id='r2')
        self.assertEqual('drs-balancer-nova-r1', first.queue)
        self.assertEqual('drs-balancer-nova-r2', second.queue)
        for n in range(3):
            self.nova_notifier().info({}, 'instance.delete.end',
                                      instance_payload(host='h%d' % n))
        for handler in (self.handler, other):
            wait_for(lambda: len(handler.events) == 3, what='3 events')

    def test_disabled(self):
        self.conf.set_override('nova_notifications', False, 'drs_listener')
        events = self.listen()
        self.nova_notifier().info({}, 'instance.create.end',
                                  instance_payload())
        time.sleep(0.3)
        self.assertEqual([], self.handler.events)
        self.assertFalse(events.stats()['enabled'])
        events.stop()

    def test_handler_failure_does_not_stop_the_listener(self):
        self.handler.fail = True
        events = self.listen()
        nova = self.nova_notifier()
        with mock.patch.object(nova_events.LOG, 'exception') as log:
            nova.info({}, 'instance.create.end', instance_payload())
            wait_for(lambda: events.stats()['dropped']['handler_error'],
                     what='the handler error')
        log.assert_called()
        self.handler.fail = False
        nova.info({}, 'instance.delete.end', instance_payload())
        wait_for(lambda: self.handler.events, what='the next event')

    def test_transport_from_the_configuration(self):
        fixture = self.useFixture(conffixture.ConfFixture(self.conf))
        fixture.transport_url = 'rabbit://nowhere:1/'
        # nova_transport_url wins over the notification transport
        self.conf.set_override('nova_transport_url', 'fake:/',
                               'drs_listener')
        events = nova_events.NovaEventListener(self.conf, self.handler)
        events.start()
        self.addCleanup(events.stop)
        self.nova_notifier().info({}, 'instance.create.end',
                                  instance_payload())
        wait_for(lambda: self.handler.events, what='the event')
        events.stop()
        self.assertIsNone(events._transport)


class TestServerFacts(base.BaseTestCase):
    """What an instance payload says of its server, for the view."""

    def payload(self, **data):
        flavor = nova_payload('FlavorPayload', vcpus=2, memory_mb=1024,
                              name='m1.small', flavorid='f2')
        fields = dict(uuid=SERVER, host='fake-host-1', state='active',
                      task_state=None, flavor=flavor,
                      metadata={'drs:opt_out': 'true'},
                      display_name='web-1', tenant_id='p1')
        fields.update(data)
        return nova_payload('InstanceActionPayload', **fields)

    def event(self, payload, event_type='instance.create.end'):
        endpoint = nova_events.NovaEventEndpoint(RecordingHandler())
        return endpoint.check(message(event_type, payload))

    def test_full_payload(self):
        event = self.event(self.payload(task_state='migrating'))
        self.assertEqual(nova_events.ServerFacts(
            host='fake-host-1', vm_state='active', task_state='migrating',
            vcpus=2, ram_mb=1024, flavor_name='m1.small',
            metadata=(('drs:opt_out', 'true'),), name='web-1',
            project_id='p1'), event.server)

    def test_payload_lacking_what_the_view_needs(self):
        # the event is kept (the balancer reads Nova), without facts
        for bad in ({'flavor': None},
                    {'flavor': nova_payload('FlavorPayload', vcpus=0,
                                            memory_mb=1024)},
                    {'flavor': nova_payload('FlavorPayload', vcpus='2',
                                            memory_mb=1024)},
                    {'metadata': ['not', 'a', 'dict']},
                    {'metadata': {'k': 3}},
                    {'state': None}):
            event = self.event(self.payload(**bad))
            self.assertEqual(SERVER, event.instance, bad)
            self.assertIsNone(event.server, bad)

    def test_service_events_have_none(self):
        event = self.event(service_payload(), 'service.update')
        self.assertIsNone(event.server)
