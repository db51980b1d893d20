# SPDX-License-Identifier: Apache-2.0
"""Nova's versioned notifications from the real Nova lab.

The lab's Nova services must send them: ``[oslo_messaging_notifications]
driver = messagingv2`` (``NOVA_DRS_NOVA_NOTIFICATIONS``, by default
``messagingv2``, when the lab is started) with ``[notifications]
notification_format = versioned``. The listener reads the lab's broker
and virtual host, both taken from the lab's own nova.conf, from a pool of
its own that the test deletes at the end. Run with ``pytest -s`` to see
the delays measured from each API call to its notification's arrival.
"""

import configparser
import os
import threading
import time
import uuid

import fixtures

from nova_drs.balancer.intake import nova_events
from tests.functional import broker
from tests.functional.nova import fixtures as nova_fixtures

HOSTS = nova_fixtures.HOSTS
NOVA_CONF = os.path.join(os.environ.get('NOVA_DRS_LAB_RUN',
                                        '/tmp/nova-drs-lab'),
                         'nova', 'etc', 'nova.conf')
EVENT_TIMEOUT = 60


def lab_notification_url():
    """The transport URL the lab's Nova notifies on; fails if it does not."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if not parser.read(NOVA_CONF):
        raise AssertionError('cannot read the Nova lab\'s %s' % NOVA_CONF)
    driver = parser.get('oslo_messaging_notifications', 'driver',
                        fallback='')
    driver_ok = any(d.strip() in ('messagingv2', 'messaging')
                    for d in driver.split(','))
    versioned = parser.get('notifications', 'notification_format',
                           fallback='both') in ('versioned', 'both')
    if not (driver_ok and versioned):
        raise AssertionError(
            'the Nova lab sends no versioned notifications ([oslo_messaging_'
            'notifications] driver = %r in %s): restart it with '
            'NOVA_DRS_NOVA_NOTIFICATIONS=messagingv2 (the default) '
            'tools/lab/nova-stop.sh && tools/lab/nova-start.sh'
            % (driver, NOVA_CONF))
    return (parser.get('oslo_messaging_notifications', 'transport_url',
                       fallback=None)
            or parser.get('DEFAULT', 'transport_url'))


class Recorder(nova_events.NovaEventHandler):
    """Keeps every event with its arrival time (wall clock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []

    def on_nova_events(self, events):
        now = time.time()
        with self.lock:
            self.events.extend((event, now) for event in events)

    def find(self, event_type, instance=None, host=None, since=0.0):
        with self.lock:
            for event, arrived in self.events:
                if (event.event_type == event_type and arrived >= since
                        and instance in (None, event.instance)
                        and host in (None, event.host)):
                    return event, arrived
        return None


class NovaEventsTestCase(nova_fixtures.NovaLabTestCase):

    def setUp(self):
        super().setUp()
        url = lab_notification_url()
        replica = 'ft-%d-%s' % (os.getpid(), uuid.uuid4().hex[:8])
        self.listener_conf = nova_fixtures.load_conf(
            self.useFixture(fixtures.TempDir()).path, """
            [drs_listener]
            nova_transport_url = %s
            batch_timeout = 0.05
            """ % url)
        self.recorder = Recorder()
        self.events = nova_events.NovaEventListener(
            self.listener_conf, self.recorder, replica_id=replica)
        self.addCleanup(broker.delete_queues, url, [self.events.queue])
        self.events.start()
        self.addCleanup(self.events.stop)
        self.delays = []

    def wait_event(self, event_type, since, instance=None, host=None):
        """The first such event arrived after ``since``; its delay noted."""
        what = '%s%s%s' % (event_type,
                           ' of %s' % instance if instance else '',
                           ' on %s' % host if host else '')
        event, arrived = nova_fixtures.wait_for(
            lambda: self.recorder.find(event_type, instance, host, since),
            EVENT_TIMEOUT, what, step=0.05)
        self.delays.append((event_type, arrived - since,
                            arrived - event.timestamp))
        return event

    def print_delays(self, title):
        print('\n%s: from the API call to the event (and from Nova\'s '
              'timestamp to the event)' % title)
        for event_type, from_call, from_stamp in self.delays:
            print('  %-44s %6.2f s  (%.3f s)'
                  % (event_type, from_call, from_stamp))


class TestNovaEvents(NovaEventsTestCase):

    def test_server_lifecycle(self):
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        flavor = self.lab.flavor('small', vcpus=1, ram=256)

        t0 = time.time()
        server = self.lab.boot('events', flavor, host=HOSTS[0])
        created = self.wait_event('instance.create.end', t0, server.id)
        self.assertEqual((HOSTS[0], nova_events.KIND_INVENTORY),
                         (created.host, created.kind))
        self.assertLess(abs(created.timestamp - time.time()), 120)

        t1 = time.time()
        self.conn.compute.live_migrate_server(server, host=HOSTS[1],
                                              block_migration='auto')
        pre = self.wait_event('instance.live_migration_pre.start', t1,
                              server.id)
        post = self.wait_event('instance.live_migration_post.end', t1,
                               server.id)
        dest = self.wait_event('instance.live_migration_post_dest.end', t1,
                               server.id)
        self.assertEqual({nova_events.KIND_MIGRATION},
                         {pre.kind, post.kind, dest.kind})
        # the host is the instance's at that moment: the source until
        # the destination takes it over
        self.assertEqual(HOSTS[0], pre.host)
        self.assertEqual(HOSTS[1], dest.host)
        self.assertLessEqual(pre.timestamp, dest.timestamp)

        t2 = time.time()
        self.conn.compute.delete_server(server)
        deleted = self.wait_event('instance.delete.end', t2, server.id)
        self.assertEqual(HOSTS[1], deleted.host)
        self.conn.compute.wait_for_delete(server, interval=0.3, wait=60)

        stats = self.events.stats()
        self.assertEqual(0, sum(stats['dropped'].values()), stats)
        self.assertGreaterEqual(stats['accepted']['migration'], 3)
        self.print_delays('server lifecycle')

    def test_compute_service_and_aggregate(self):
        host = HOSTS[-1]
        t0 = time.time()
        svc = self.lab.disable(host, reason='nova-drs events test')
        disabled = self.wait_event('service.update', t0, host=host)
        self.assertEqual((None, nova_events.KIND_INVENTORY),
                         (disabled.instance, disabled.kind))

        t1 = time.time()
        self.conn.compute.enable_service(svc)
        self.wait_event('service.update', t1, host=host)

        t2 = time.time()
        self.lab.aggregate('events', [host])
        added = self.wait_event('aggregate.add_host.end', t2)
        self.assertIsNone(added.host)
        self.print_delays('service and aggregate')
