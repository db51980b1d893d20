# SPDX-License-Identifier: Apache-2.0
import copy
import json

from oslotest import base

from nova_drs.agent import balloon
from nova_drs.agent import manager
from nova_drs.agent import metrics
from nova_drs.notifications import payload
from tests.unit.agent import fakes


def metrics_payload():
    """A metrics payload as the agent builds it, through JSON."""
    host = metrics.host_metrics(
        'compute-1', fakes.host_sample(1.0, busy=10, idle=10),
        fakes.host_sample(11.0, busy=20, idle=30,
                          disks={'vda': (1, 1, 1, 1)}))
    host.pressure = {'cpu_some': 0.5, 'memory_some': 0.0,
                     'memory_full': 0.0, 'io_some': 1.0, 'io_full': 0.5}
    guest = metrics.guest_metrics(fakes.sample(1.0),
                                  fakes.sample(11.0, cpu_time=2 * 10 ** 9))
    first = metrics.guest_metrics(None, fakes.sample(11.0, 'u2'))
    doc = {
        'version': payload.VERSION,
        'host': manager.host_payload(host),
        'guests': [manager.guest_payload(guest, balloon.GuestBalloon(
            target_mb=3900.0, action='shrink', applied=True, reason='x')),
            manager.guest_payload(first, balloon.GuestBalloon())],
        'balloon': {'policy': 'adaptive', 'dry_run': False,
                    'shrunk_mb': 196.0, 'grown_mb': 0.0,
                    'fpr_reclaimed_mb': 0.0, 'without_autodeflate': [],
                    'without_free_page_reporting': ['u1', 'u2']},
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


class TestValidate(base.BaseTestCase):

    def error(self, doc, event_type=payload.METRICS_EVENT):
        e = self.assertRaises(payload.PayloadError, payload.validate, doc,
                              event_type)
        return str(e)

    def test_agent_payloads_are_valid(self):
        doc = metrics_payload()
        self.assertIs(doc, payload.validate(doc))
        payload.validate(hotspot_payload(), payload.HOTSPOT_EVENT)

    def test_first_sample_rates_are_null(self):
        guest = metrics_payload()['guests'][1]
        self.assertIsNone(guest['cpu_util'])
        self.assertIsNone(guest['disk']['read_mb_s'])

    def test_missing_key(self):
        doc = metrics_payload()
        del doc['guests'][1]['memory']['actual_mb']
        self.assertEqual("guests[1].memory: missing required key "
                         "'actual_mb'", self.error(doc))

    def test_wrong_types(self):
        for path, value, expected in (
                (('host', 'cpu', 'count'), 0, 'an integer >= 1'),
                (('host', 'cpu', 'util'), 1.5, 'a number >= 0.0 <= 1.0'),
                (('host', 'memory', 'free_mb'), -1, 'a number >= 0.0'),
                (('host', 'memory', 'free_mb'), None, 'a number >= 0.0'),
                (('host', 'memory', 'free_mb'), True, 'a number'),
                (('host', 'memory', 'free_mb'), float('nan'), 'a number'),
                (('host', 'timestamp'), '27/11/2026', 'a non-empty'),
                (('host', 'hotspot', 'cpu'), 1, 'true or false'),
                (('guests',), {}, 'a list'),
                (('balloon', 'policy'), '', 'a non-empty string')):
            doc = metrics_payload()
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            message = self.error(doc)
            self.assertIn('.'.join(path), message)
            self.assertIn(expected, message)

    def test_choices(self):
        doc = metrics_payload()
        doc['guests'][0]['state'] = 'exploded'
        self.assertIn('guests[0].state: expected one of nostate, running',
                      self.error(doc))

    def test_newer_minor_version_and_unknown_keys_are_accepted(self):
        doc = metrics_payload()
        doc['version'] = '1.7'
        doc['host']['gpu'] = {'util': 0.5}
        doc['guests'][0]['numa'] = [0, 1]
        payload.validate(doc)

    def test_other_major_version_is_refused(self):
        doc = metrics_payload()
        doc['version'] = '2.0'
        e = self.assertRaises(payload.UnsupportedVersion, payload.validate,
                              doc)
        self.assertIn('2.0', str(e))
        self.assertIsInstance(e, payload.PayloadError)

    def test_bad_version(self):
        for version in (None, 1.0, '1', 'v1.0', ''):
            doc = metrics_payload()
            doc['version'] = version
            self.assertIn('version: expected a "MAJOR.MINOR" string',
                          self.error(doc))
        doc = metrics_payload()
        del doc['version']
        self.assertIn('version', self.error(doc))

    def test_not_an_object(self):
        self.assertIn('expected an object', self.error([1, 2]))

    def test_unknown_event_type(self):
        self.assertIn('unknown event type',
                      self.error(metrics_payload(), 'drs.host.other'))

    def test_hotspot_payload(self):
        doc = hotspot_payload()
        doc['hot'] = ['gpu']
        self.assertIn('hot[0]', self.error(doc, payload.HOTSPOT_EVENT))

    def test_long_values_are_shortened_in_messages(self):
        doc = metrics_payload()
        doc['host']['name'] = ['x' * 200]
        self.assertLess(len(self.error(doc)), 150)

    def test_validate_does_not_modify(self):
        doc = metrics_payload()
        before = copy.deepcopy(doc)
        payload.validate(doc)
        self.assertEqual(before, doc)
