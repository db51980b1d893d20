# SPDX-License-Identifier: Apache-2.0
"""The agent's payloads, as its own functions build them, fit the schema.

The agent does not validate what it sends (the balancer does), so these
tests are what keeps its payloads within the schema's bounds.
"""

import json

from oslotest import base

from nova_drs.agent import balloon
from nova_drs.agent import manager
from nova_drs.agent import metrics
from nova_drs.notifications import payload
from nova_drs.notifications import schema
from tests.unit.agent import fakes

UUID_1 = '8f4e1d64-3c9a-4a3b-9a57-1e2f0c6b7d01'
UUID_2 = '8f4e1d64-3c9a-4a3b-9a57-1e2f0c6b7d02'
THRESHOLDS = {'cpu': 0.85, 'memory': 0.9, 'disk': 0.9, 'network': 0.9}


def host_metrics(disks=None, nics=None):
    host = metrics.host_metrics(
        'compute-1', fakes.host_sample(1.0, busy=10, idle=10),
        fakes.host_sample(11.0, busy=20, idle=30,
                          disks=disks or {'vda': (1, 1, 1, 1)}, nics=nics))
    host.pressure = {'cpu_some': 0.5, 'memory_some': 0.0,
                     'memory_full': 0.0, 'io_some': 1.0, 'io_full': 0.5}
    return host


def metrics_payload():
    """A metrics payload as the agent builds it, through JSON."""
    guest = metrics.guest_metrics(
        fakes.sample(1.0, UUID_1, vcpu_delays=[0]),
        fakes.sample(11.0, UUID_1, cpu_time=2 * 10 ** 9,
                     vcpu_delays=[10 ** 8]))
    first = metrics.guest_metrics(None, fakes.sample(11.0, UUID_2))
    doc = {
        'version': payload.VERSION,
        'host': manager.host_payload(host_metrics(), THRESHOLDS),
        'guests': [manager.guest_payload(guest, balloon.GuestBalloon(
            target_mb=3900.0, action='shrink', applied=True, reason='x')),
            manager.guest_payload(first, balloon.GuestBalloon())],
        'balloon': {'policy': 'adaptive', 'dry_run': False,
                    'shrunk_mb': 196.0, 'grown_mb': 0.0,
                    'fpr_reclaimed_mb': 0.0, 'without_autodeflate': [],
                    'without_free_page_reporting': [UUID_1, UUID_2]},
        'agent': {'cycle_ms': 3.2, 'libvirt_connected': True,
                  'dropped_notifications': 0},
    }
    return json.loads(json.dumps(doc))


def hotspot_payload():
    return {'version': '1.0', 'host': 'compute-1',
            'timestamp': '2026-11-27T10:00:00.000000Z',
            'hot': ['memory'], 'raised': ['memory'], 'cleared': [],
            'load_smoothed': {'cpu': 0.1, 'memory': 0.95, 'disk': 0.0,
                              'network': 0.0},
            'thresholds': {'cpu': 0.85, 'memory': 0.9, 'disk': 0.9,
                           'network': 0.9}}


class TestAgentPayloads(base.BaseTestCase):

    def test_metrics_payload_is_valid(self):
        doc = metrics_payload()
        self.assertEqual('1.2', doc['version'])
        self.assertIs(doc, payload.validate(doc))
        guest = doc['guests'][0]
        self.assertEqual(0.01, guest['cpu_ready'])
        self.assertIsNotNone(guest['smoothed']['cpu_demand'])

    def test_first_sample_rates_are_null(self):
        guest = metrics_payload()['guests'][1]
        self.assertIsNone(guest['cpu_util'])
        self.assertIsNone(guest['disk']['read_mb_s'])
        payload.validate(metrics_payload())

    def test_long_texts_are_cut_to_the_schema_limits(self):
        # a libvirt error message in the reason, an odd domain name
        sample = fakes.sample(11.0, UUID_1)
        sample.name = 'x' * 1000
        g = metrics.guest_metrics(None, sample)
        entry = manager.guest_payload(g, balloon.GuestBalloon(
            action='shrink', reason='failed: ' + 'e' * 5000))
        self.assertEqual(schema.MAX_REASON,
                         len(entry['balloon']['reason']))
        self.assertTrue(entry['balloon']['reason'].endswith('...'))
        self.assertEqual(schema.MAX_NAME, len(entry['name']))
        doc = metrics_payload()
        doc['guests'] = [entry]
        payload.validate(doc)

    def test_device_lists_are_cut_to_the_schema_limit(self):
        many = {'sd%05d' % i: (1, 1, 1, 1)
                for i in range(schema.MAX_DEVICES + 5)}
        host = manager.host_payload(host_metrics(disks=many), THRESHOLDS)
        self.assertEqual(schema.MAX_DEVICES, len(host['disks']))
        doc = metrics_payload()
        doc['host'] = host
        payload.validate(doc)

    def test_long_interval_is_bounded(self):
        host = host_metrics()
        host.interval_s = 10 * schema.MAX_INTERVAL_S
        self.assertEqual(schema.MAX_INTERVAL_S,
                         manager.host_payload(
                             host, THRESHOLDS)['interval_s'])

    def test_hotspot_payload_is_valid(self):
        payload.validate(hotspot_payload(), payload.HOTSPOT_EVENT)
