# SPDX-License-Identifier: Apache-2.0
"""The snapshot's JSON Schema and the messages of its errors."""

import copy
import io
import json
import os
from unittest import mock

import fastjsonschema
import jsonschema
from oslotest import base

from nova_drs.model import cluster
from nova_drs.model import snapshot
from nova_drs.model import snapshot_check
from nova_drs.model import snapshot_schema
from tests.unit import clusters as c

EXAMPLE = os.path.join(os.path.dirname(snapshot.__file__), '..', 'data',
                       'example-snapshot.json')


def _doc():
    return {'hosts': [c.host('a', base_load=dict.fromkeys(
                          cluster.RESOURCES, 0.0)),
                      c.host('b', aggregates=['ssd'], hot=['cpu'])],
            'instances': [c.vm('v', 'a', server_group='g'),
                          c.vm('w', 'b', peak={'cpu_util': 90.0})],
            'server_groups': [{'name': 'g', 'policy': 'anti-affinity'}]}


class TestSchemaDocument(base.BaseTestCase):

    def test_is_a_valid_draft_7_schema(self):
        jsonschema.Draft7Validator.check_schema(snapshot_schema.DOCUMENT)

    def test_example_and_exports_are_valid(self):
        with open(EXAMPLE, encoding='utf-8') as f:
            example = json.load(f)
        for doc in (example, snapshot.to_dict(snapshot.from_dict(example)),
                    _doc()):
            self.assertIsNone(snapshot_check.first_problem(doc))
            jsonschema.Draft7Validator(snapshot_schema.DOCUMENT).validate(
                doc)

    def test_main_prints_the_document(self):
        out = io.StringIO()
        with mock.patch('sys.stdout', out):
            snapshot_schema.main()
        self.assertEqual(snapshot_schema.DOCUMENT,
                         json.loads(out.getvalue()))


class TestSchemaErrors(base.BaseTestCase):

    def assertError(self, change, message):
        doc = _doc()
        change(doc)
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertEqual(message, str(e))
        # the compiled check refuses what the Draft7Validator words (but
        # NaN and infinities)
        self.assertRaises(fastjsonschema.JsonSchemaValueException,
                          fastjsonschema.compile(snapshot_schema.DOCUMENT),
                          doc)

    def test_errors_at_depth_name_the_path(self):
        def at(*path):
            def change(doc):
                node = doc
                for key in path[:-2]:
                    node = node[key]
                node[path[-2]] = path[-1]
            return change

        for change, message in (
                (at('hosts', 1, 'memory_mb', 0),
                 'hosts[1].memory_mb: must be at least 1, got 0'),
                (at('hosts', 0, 'base_load', 'disk', -2.5),
                 'hosts[0].base_load.disk: must be at least 0, got -2.5'),
                (at('hosts', 0, 'base_load', 'network', 'x'),
                 "hosts[0].base_load.network: must be a number, got 'x'"),
                (at('hosts', 0, 'base_load', 'cpu', None),
                 'hosts[0].base_load.cpu: required field is missing'),
                (at('hosts', 1, 'aggregates', 0, 7),
                 'hosts[1].aggregates[0]: must be a string'),
                (at('hosts', 1, 'aggregates', 'ssd'),
                 'hosts[1].aggregates: must be a list of strings'),
                (at('hosts', 1, 'hot', 0, 'gpu'),
                 "hosts[1].hot: unknown resource 'gpu' "
                 "(one of cpu, memory, disk, network)"),
                (at('hosts', 0, 'availability_zone', ''),
                 'hosts[0].availability_zone: must be a non-empty string'),
                (at('hosts', 0, 'disabled', 1),
                 'hosts[0].disabled: must be true or false'),
                (at('hosts', 0, 'ram_allocation_ratio', 0),
                 'hosts[0].ram_allocation_ratio: must be greater than 0, '
                 'got 0'),
                (at('instances', 1, 'peak', 'net_mb_s', -1),
                 'instances[1].peak.net_mb_s: must be at least 0, got -1'),
                (at('instances', 1, 'peak', 'cpu_util', 101),
                 'instances[1].peak.cpu_util: must be at most 100, got 101'),
                (at('instances', 1, 'peak', 'cpu', 1),
                 "instances[1].peak: unknown key 'cpu' (one of cpu_util, "
                 "mem_used_mb, disk_mb_s, net_mb_s)"),
                (at('instances', 1, 'peak', 'high'),
                 'instances[1].peak: must be an object with some of the '
                 'keys cpu_util, mem_used_mb, disk_mb_s, net_mb_s'),
                (at('instances', 0, 'vcpus', 1.5),
                 'instances[0].vcpus: must be a whole number, got 1.5'),
                (at('instances', 1, 'x'),
                 'instances[1]: must be an object'),
                (at('server_groups', 0, 'max_server_per_host', 0),
                 'server_groups[0].max_server_per_host: must be at least 1, '
                 'got 0'),
                (at('server_groups', 0, 'policy', 'spread'),
                 'server_groups[0].policy: must be one of affinity, '
                 "anti-affinity, soft-affinity, soft-anti-affinity, "
                 "got 'spread'"),
                (at('server_groups', 'g'),
                 'server_groups: must be a list'),
                (lambda doc: doc.pop('hosts'),
                 'hosts: required list is missing'),
                (lambda doc: doc['instances'][1].pop('mem_used_mb'),
                 'instances[1].mem_used_mb: required field is missing')):
            self.assertError(change, message)

    def test_best_match_within_the_entry(self):
        # a missing field is worded before a wrong value deeper down, the
        # first entry at fault before a later one
        def change(doc):
            doc['hosts'][1]['base_load'] = {'cpu': -1}
            del doc['hosts'][1]['vcpus']
            doc['instances'][1]['vcpus'] = 0
        self.assertError(change, 'hosts[1].vcpus: required field is missing')

    def test_null_is_absent(self):
        doc = _doc()
        doc['version'] = 1
        doc['instances'] = None
        doc['hosts'][0].update(reserved_host_cpus=None, aggregates=None,
                               base_load=None, disabled=None, hot=None)
        m = snapshot.from_dict(doc)
        self.assertEqual(0, m.hosts.reserved_host_cpus[0])
        self.assertEqual(0, len(m.instances.names))

    def test_unknown_keys_are_ignored_even_non_finite(self):
        doc = _doc()
        doc['exporter'] = {'took_s': float('nan')}
        doc['hosts'][0]['uptime_s'] = float('inf')
        doc['instances'][0]['flavor'] = {'name': 'm1', 'rxtx': float('nan')}
        m = snapshot.from_dict(doc)
        self.assertEqual(['a', 'b'], m.hosts.names)

    def test_non_finite_in_a_checked_field_after_one_ignored(self):
        doc = _doc()
        doc['instances'][0]['flavor'] = {'rxtx': float('nan')}
        doc['instances'][1]['peak']['cpu_util'] = float('nan')
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertEqual('instances[1].peak.cpu_util: must be finite',
                         str(e))
        # which the compiled check alone lets through
        del doc['instances'][1]['peak']
        doc['instances'][1]['last_migrated_s'] = float('inf')
        snapshot_check._compiled()[0](doc)
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertEqual('instances[1].last_migrated_s: must be finite',
                         str(e))

    def test_cross_references_stay_after_the_schema(self):
        doc = _doc()
        doc['instances'][0]['memory_mb'] = 400
        doc['instances'][1]['peak']['mem_used_mb'] = 2500
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              copy.deepcopy(doc))
        self.assertEqual('instances[0].mem_used_mb: must be at most 400, '
                         'got 500.0', str(e))
        doc['instances'][0]['memory_mb'] = 2000
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertEqual('instances[1].peak.mem_used_mb: must be at most '
                         '2000, got 2500.0', str(e))
        doc = _doc()
        doc['hosts'][1]['reserved_host_cpus'] = 10
        e = self.assertRaises(snapshot.SnapshotError, snapshot.from_dict,
                              doc)
        self.assertEqual('hosts[1].reserved_host_cpus: must be at most 9, '
                         'got 10', str(e))

    def test_string_flags_and_whole_floats(self):
        doc = _doc()
        doc['hosts'][0].update(maintenance=' Yes ', vcpus=12.0)
        doc['instances'][0]['opt_out'] = 'off'
        doc['instances'][1]['opt_out'] = 'on'
        m = snapshot.from_dict(doc)
        self.assertEqual([True, False], m.hosts.disabled.tolist())
        self.assertEqual(12, m.hosts.vcpus[0])
        self.assertEqual([False, True], m.instances.opt_out.tolist())

    def test_version(self):
        for version in (2, True, None, '1'):
            doc = dict(_doc(), version=version)
            e = self.assertRaises(snapshot.SnapshotError,
                                  snapshot.from_dict, doc)
            self.assertIn('version: unsupported snapshot version', str(e))
