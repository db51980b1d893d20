# SPDX-License-Identifier: Apache-2.0
"""The schema document and the validation of received payloads."""

import copy
import io
import json
from unittest import mock

import jsonschema
from oslotest import base

from nova_drs.notifications import payload
from nova_drs.notifications import schema
from tests.unit.agent import test_payload as agent_payloads


def metrics_doc():
    return agent_payloads.metrics_payload()


def set_path(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


class TestSchemaDocument(base.BaseTestCase):

    def test_document_is_a_valid_draft7_schema(self):
        jsonschema.Draft7Validator.check_schema(schema.DOCUMENT)
        for event_type in payload.EVENT_TYPES:
            jsonschema.Draft7Validator.check_schema(
                schema.for_event(event_type))
        self.assertEqual(set(payload.EVENT_TYPES),
                         set(schema.DOCUMENT['definitions']))

    def test_every_object_is_closed_and_every_value_bounded(self):
        def walk(node, where):
            types = node.get('type')
            types = types if isinstance(types, list) else [types]
            if 'object' in types:
                self.assertIs(False, node.get('additionalProperties'),
                              where)
                for key, sub in node['properties'].items():
                    walk(sub, '%s.%s' % (where, key))
            elif 'array' in types:
                self.assertIn('maxItems', node, where)
                walk(node['items'], where + '[]')
            elif 'number' in types or 'integer' in types:
                self.assertIn('minimum', node, where)
                self.assertIn('maximum', node, where)
            elif 'string' in types:
                self.assertTrue('maxLength' in node or 'enum' in node,
                                where)
            else:
                self.assertEqual(['boolean'], types, where)
        for event_type in payload.EVENT_TYPES:
            walk(schema.DOCUMENT['definitions'][event_type], event_type)

    def test_the_validator_agrees_with_jsonschema(self):
        # the compiled schema is the document: the reference
        # implementation finds the same payloads good and bad
        reference = jsonschema.Draft7Validator(
            schema.for_event(payload.METRICS_EVENT))
        good = metrics_doc()
        self.assertTrue(reference.is_valid(good))
        payload.validate(good)
        for path, value in ((('host', 'load', 'cpu'), 1e308),
                            (('guests', 0, 'memory', 'actual_mb'), -1),
                            (('guests', 1, 'balloon', 'evil'), 1),
                            (('agent', 'cycle_ms'), 'fast')):
            bad = set_path(metrics_doc(), path, value)
            self.assertFalse(reference.is_valid(bad), path)
            self.assertRaises(payload.PayloadError, payload.validate, bad)

    def test_printed(self):
        out = io.StringIO()
        with mock.patch('sys.stdout', out):
            schema.main()
        self.assertEqual(schema.DOCUMENT, json.loads(out.getvalue()))


class TestValidate(base.BaseTestCase):

    def error(self, doc, event_type=payload.METRICS_EVENT):
        e = self.assertRaises(payload.PayloadError, payload.validate, doc,
                              event_type)
        return str(e)

    def test_missing_key(self):
        doc = metrics_doc()
        del doc['guests'][1]['memory']['actual_mb']
        self.assertEqual("guests[1].memory: missing required key "
                         "'actual_mb'", self.error(doc))

    def test_errors_name_the_path(self):
        for path, value, expected in (
                (('host', 'cpu', 'count'), 0,
                 'host.cpu.count: must be bigger than or equal to 1'),
                (('host', 'cpu', 'util'), 1.5,
                 'host.cpu.util: must be smaller than or equal to 1'),
                (('host', 'memory', 'free_mb'), -1,
                 'host.memory.free_mb: must be bigger than or equal to 0'),
                (('host', 'memory', 'free_mb'), None,
                 'host.memory.free_mb: must be number'),
                (('host', 'memory', 'free_mb'), True,
                 'host.memory.free_mb: must be number'),
                (('guests', 1, 'memory', 'actual_mb'), 2.0 ** 40,
                 'guests[1].memory.actual_mb: must be smaller than or '
                 'equal to 67108864'),
                (('host', 'timestamp'), '27/11/2026',
                 'host.timestamp: must match pattern'),
                (('host', 'hotspot', 'cpu'), 1,
                 'host.hotspot.cpu: must be boolean'),
                (('guests',), {}, 'guests: must be array'),
                (('balloon', 'policy'), '',
                 'balloon.policy: must be longer than or equal to 1'),
                (('guests', 0, 'state'), 'exploded',
                 "guests[0].state: must be one of ['nostate', 'running'"),
                (('guests', 0, 'uuid'), 'u1',
                 'guests[0].uuid: must match pattern'),
                (('host', 'name'), 'compute 1',
                 'host.name: must match pattern'),
                (('host', 'name'), 'compute-1\n',
                 'host.name: must match pattern')):
            doc = set_path(metrics_doc(), path, value)
            self.assertIn(expected, self.error(doc), path)

    def test_unknown_keys_are_refused(self):
        doc = metrics_doc()
        doc['guests'][0]['balloon']['owner'] = 'mallory'
        self.assertEqual("guests[0].balloon: unknown key owner",
                         self.error(doc))
        doc = metrics_doc()
        doc['host']['gpu'] = 1
        doc['host']['fpga'] = 2
        self.assertEqual("host: unknown keys fpga, gpu", self.error(doc))

    def test_forged_extremes_are_refused(self):
        # the hand-tried forgeries of issue 13: a CPU load of 1e308, an
        # infinite and a NaN one (Python's JSON decoder reads both)
        for value in (1e308, float('inf'), -1e-9, float('nan')):
            doc = metrics_doc()
            doc['host']['load']['cpu'] = value
            self.assertIn('host.load.cpu' if value == value
                          else 'not finite', self.error(doc))
        doc = metrics_doc()
        doc['guests'][0]['memory']['used_mb'] = json.loads('NaN')
        self.assertIn('not finite', self.error(doc))

    def test_deep_nesting_is_refused_without_recursion_errors(self):
        deep = []
        for _ in range(100000):
            deep = [deep]
        doc = metrics_doc()
        doc['host']['disks'] = deep
        self.assertIn('host.disks[0]', self.error(doc))
        # in a key of a newer version: dropped, never walked
        doc = metrics_doc()
        doc['version'] = '1.9'
        doc['extra'] = deep
        self.assertNotIn('extra', payload.validate(doc))
        self.assertIn('not JSON data', str(self.assertRaises(
            payload.PayloadError, payload.check_finite, {'x': deep})))

    def test_lengths_are_limited(self):
        doc = metrics_doc()
        doc['guests'] = doc['guests'][:1] * (schema.MAX_GUESTS + 1)
        self.assertIn('guests: must contain less than or equal to 4096',
                      self.error(doc))
        doc = metrics_doc()
        doc['guests'][0]['name'] = 'n' * 256
        self.assertIn('guests[0].name: must be shorter than or equal to '
                      '255', self.error(doc))
        doc = metrics_doc()
        doc['guests'][0]['balloon']['reason'] = 'r' * 1025
        self.assertIn('guests[0].balloon.reason', self.error(doc))

    def test_long_values_are_shortened_in_messages(self):
        doc = metrics_doc()
        doc['host']['name'] = ['x' * 200]
        self.assertLess(len(self.error(doc)), 150)

    def test_older_versions_are_read(self):
        doc = metrics_doc()
        doc['version'] = '1.0'
        del doc['guests'][0]['cpu_ready']
        del doc['guests'][0]['smoothed']['cpu_demand']
        self.assertIs(doc, payload.validate(doc))

    def test_host_thresholds_are_required_from_1_2(self):
        # the thresholds the agent judged its host by: the balancer
        # judges the host by them too
        doc = metrics_doc()
        self.assertEqual({'cpu': 0.85, 'memory': 0.9, 'disk': 0.9,
                          'network': 0.9}, doc['host']['thresholds'])
        del doc['host']['thresholds']
        self.assertEqual("host: missing required key 'thresholds'",
                         self.error(doc))
        doc['version'] = '1.3'
        self.assertIn("missing required key 'thresholds'", self.error(doc))
        # the agents before 1.2 did not send them
        for version in ('1.0', '1.1'):
            doc['version'] = version
            self.assertIs(doc, payload.validate(doc))
        # shares, like the loads
        doc = metrics_doc()
        doc['host']['thresholds']['memory'] = 1.2
        self.assertIn('host.thresholds.memory', self.error(doc))
        doc['host']['thresholds']['memory'] = -0.1
        self.assertIn('host.thresholds.memory', self.error(doc))
        del doc['host']['thresholds']['memory']
        self.assertIn("host.thresholds: missing required key 'memory'",
                      self.error(doc))

    def test_newer_minor_version_keeps_only_known_keys(self):
        doc = metrics_doc()
        doc['version'] = '1.7'
        doc['host']['gpu'] = {'util': 0.5}
        doc['guests'][0]['numa'] = [0, 1]
        doc['guests'][0]['balloon']['owner'] = 'x'
        doc['tenant_data'] = {'a': 1}
        before = copy.deepcopy(doc)
        used = payload.validate(doc)
        self.assertEqual(before, doc)
        self.assertNotIn('gpu', used['host'])
        self.assertNotIn('numa', used['guests'][0])
        self.assertNotIn('owner', used['guests'][0]['balloon'])
        self.assertNotIn('tenant_data', used)
        expected = metrics_doc()
        expected['version'] = '1.7'
        self.assertEqual(expected, used)
        # what is kept is still checked
        doc['host']['load']['cpu'] = 2.0
        self.assertIn('host.load.cpu', self.error(doc))

    def test_other_major_version_is_refused(self):
        doc = metrics_doc()
        doc['version'] = '2.0'
        e = self.assertRaises(payload.UnsupportedVersion, payload.validate,
                              doc)
        self.assertIn('2.0', str(e))
        self.assertIsInstance(e, payload.PayloadError)

    def test_bad_version(self):
        for version in (None, 1.0, '1', 'v1.0', '', '1.0\n', '1.00000'):
            doc = metrics_doc()
            doc['version'] = version
            self.assertIn('version: expected a "MAJOR.MINOR" string',
                          self.error(doc))
        doc = metrics_doc()
        del doc['version']
        self.assertIn('version', self.error(doc))

    def test_not_an_object(self):
        self.assertIn('expected an object', self.error([1, 2]))

    def test_unknown_event_type(self):
        self.assertIn('unknown event type',
                      self.error(metrics_doc(), 'drs.host.other'))

    def test_hotspot_payload(self):
        doc = agent_payloads.hotspot_payload()
        doc['hot'] = ['gpu']
        self.assertIn('hot[0]', self.error(doc, payload.HOTSPOT_EVENT))
        doc = agent_payloads.hotspot_payload()
        doc['raised'] = ['cpu', 'cpu']
        self.assertIn('raised', self.error(doc, payload.HOTSPOT_EVENT))

    def test_origin_fields(self):
        doc = metrics_doc()
        doc.update(run_id='5f1b8d3e-2a4c-4e6f-8a9b-0c1d2e3f4a5b',
                   sequence=7, signature={'key': 'host',
                                          'hmac_sha256': 'ab' * 32})
        payload.validate(doc)
        for key, value in (('sequence', -1), ('sequence', 2 ** 53),
                           ('run_id', 'run-1'),
                           ('signature', {'key': 'root',
                                          'hmac_sha256': 'ab' * 32}),
                           ('signature', {'key': 'host',
                                          'hmac_sha256': 'AB' * 32})):
            bad = dict(doc, **{key: value})
            self.assertIn(key, self.error(bad))

    def test_validate_does_not_modify(self):
        doc = metrics_doc()
        before = copy.deepcopy(doc)
        payload.validate(doc)
        self.assertEqual(before, doc)
