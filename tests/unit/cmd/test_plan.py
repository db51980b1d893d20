# SPDX-License-Identifier: Apache-2.0
"""``nova-drs plan``: every error path and the documented outputs."""

import copy
import importlib.resources
import io
import json
import os
import shutil
import subprocess
import sys

import fixtures
from oslotest import base

from nova_drs.cmd import drs

EXAMPLE = str(importlib.resources.files('nova_drs').joinpath(
    'data', 'example-snapshot.json'))

# Small but complete: two hosts in one zone, the first one CPU-hot.
SNAPSHOT = {
    'version': 1,
    'server_groups': [{'name': 'web', 'policy': 'anti-affinity'}],
    'hosts': [
        {'name': 'host-1', 'vcpus': 16, 'memory_mb': 65536,
         'cpu_allocation_ratio': 4.0, 'ram_allocation_ratio': 1.5},
        {'name': 'host-2', 'vcpus': 16, 'memory_mb': 65536,
         'cpu_allocation_ratio': 4.0, 'ram_allocation_ratio': 1.5},
    ],
    'instances': [
        {'name': 'vm-1', 'host': 'host-1', 'vcpus': 8, 'memory_mb': 8192,
         'cpu_util': 90, 'mem_used_mb': 4096, 'server_group': 'web'},
        {'name': 'vm-2', 'host': 'host-1', 'vcpus': 8, 'memory_mb': 8192,
         'cpu_util': 90, 'mem_used_mb': 4096},
        {'name': 'vm-3', 'host': 'host-2', 'vcpus': 2, 'memory_mb': 4096,
         'cpu_util': 10, 'mem_used_mb': 1024},
    ],
}

PLAN_KEYS = {'strategy', 'decision_s', 'migrations', 'unresolved',
             'cooling'}
MIGRATION_KEYS = {'instance', 'source', 'target', 'reason', 'transfer_mb',
                  'duration_s'}


class PlanTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def write(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, 'w', encoding='utf-8') as f:
            if isinstance(content, str):
                f.write(content)
            else:
                json.dump(content, f)
        return path

    def snapshot(self, change=None):
        """Write a copy of SNAPSHOT, after ``change(doc)``, to a file."""
        doc = copy.deepcopy(SNAPSHOT)
        if change is not None:
            change(doc)
        return self.write('snapshot.json', doc)

    def run_plan(self, *args):
        return drs.main(['plan'] + list(args))


class TestPlanErrors(PlanTestCase):
    """Bad input: one line on stderr naming the problem, exit code 2."""

    def assertUsageError(self, rc, *expected):
        err = self.stderr.getvalue()
        self.assertEqual(2, rc, 'exit code; stderr: %s' % err)
        self.assertNotIn('Traceback', err)
        self.assertIn('nova-drs: error: ', err)
        for text in expected:
            self.assertIn(text, err)

    def test_missing_snapshot_argument(self):
        self.assertUsageError(self.run_plan(), '--snapshot')

    def test_nonexistent_file(self):
        path = os.path.join(self.tmp, 'missing.json')
        self.assertUsageError(self.run_plan('--snapshot', path), path,
                              'cannot read snapshot')

    def test_invalid_json(self):
        path = self.write('snapshot.json', '{"hosts": [')
        self.assertUsageError(self.run_plan('--snapshot', path), path,
                              'not valid JSON')

    def test_not_an_object(self):
        path = self.write('snapshot.json', '[1, 2, 3]')
        self.assertUsageError(self.run_plan('--snapshot', path), path,
                              'snapshot: must be a JSON object')

    def test_missing_hosts(self):
        path = self.snapshot(lambda doc: doc.pop('hosts'))
        self.assertUsageError(self.run_plan('--snapshot', path), 'hosts')

    def test_empty_hosts(self):
        path = self.snapshot(lambda doc: doc.update(hosts=[]))
        self.assertUsageError(self.run_plan('--snapshot', path), 'hosts')

    def test_host_missing_vcpus(self):
        path = self.snapshot(lambda doc: doc['hosts'][0].pop('vcpus'))
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'hosts[0].vcpus', 'missing')

    def test_wrong_type(self):
        def change(doc):
            doc['instances'][2]['cpu_util'] = 'high'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'instances[2].cpu_util', 'number')

    def test_cpu_util_out_of_range(self):
        def change(doc):
            doc['instances'][1]['cpu_util'] = 150
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'instances[1].cpu_util', '100')

    def test_unknown_host(self):
        def change(doc):
            doc['instances'][2]['host'] = 'host-9'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'instances[2].host', 'host-9')

    def test_unknown_server_group(self):
        def change(doc):
            doc['instances'][1]['server_group'] = 'db'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'instances[1].server_group', 'db')

    def test_bad_policy(self):
        def change(doc):
            doc['server_groups'][0]['policy'] = 'spread'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'server_groups[0].policy', 'spread')

    def test_duplicate_host(self):
        def change(doc):
            doc['hosts'][1]['name'] = 'host-1'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'hosts[1].name', 'duplicate')

    def test_duplicate_instance(self):
        def change(doc):
            doc['instances'][2]['name'] = 'vm-1'
        path = self.snapshot(change)
        self.assertUsageError(self.run_plan('--snapshot', path),
                              'instances[2].name', 'duplicate')

    def test_unknown_strategy(self):
        path = self.snapshot()
        self.assertUsageError(
            self.run_plan('--snapshot', path, '--strategy', 'nosuch'),
            'nosuch', 'hotspot')

    def test_bad_config_file(self):
        conf = self.write('nova-drs.conf', '[drs]\ncpu_threshold = 1.7\n')
        path = self.snapshot()
        self.assertUsageError(
            self.run_plan('--snapshot', path, '--config-file', conf),
            '[drs] cpu_threshold')

    def test_missing_config_file(self):
        conf = os.path.join(self.tmp, 'missing.conf')
        path = self.snapshot()
        self.assertUsageError(
            self.run_plan('--snapshot', path, '--config-file', conf),
            'missing.conf')

    def test_unwritable_output(self):
        out = os.path.join(self.tmp, 'no-such-dir', 'plan.json')
        path = self.snapshot()
        self.assertUsageError(
            self.run_plan('--snapshot', path, '--output', out),
            'cannot write', out)


class TestPlanOutput(PlanTestCase):

    def test_table(self):
        rc = self.run_plan('--snapshot', self.snapshot())
        self.assertEqual(0, rc, self.stderr.getvalue())
        out = self.stdout.getvalue()
        rows = [[cell.strip() for cell in line.split('|')[1:-1]]
                for line in out.splitlines() if line.startswith('|')]
        self.assertEqual(['#', 'instance', 'source', 'target', 'reason'],
                         rows[0])
        # vm-1 and vm-2 are alike: one of them leaves host-1 for host-2
        self.assertEqual(2, len(rows))
        self.assertEqual('1', rows[1][0])
        self.assertIn(rows[1][1], ('vm-1', 'vm-2'))
        self.assertEqual(['host-1', 'host-2'], rows[1][2:4])
        self.assertTrue(rows[1][4].startswith('hotspot'), rows[1][4])
        self.assertIn('strategy: hotspot', out)
        self.assertIn('unresolved hotspots: none', out)
        self.assertEqual('', self.stderr.getvalue())

    def test_json(self):
        rc = self.run_plan('--snapshot', self.snapshot(), '--format', 'json')
        self.assertEqual(0, rc, self.stderr.getvalue())
        plan = json.loads(self.stdout.getvalue())
        self.assertEqual(PLAN_KEYS, set(plan))
        self.assertEqual('hotspot', plan['strategy'])
        self.assertIsInstance(plan['decision_s'], float)
        self.assertEqual([], plan['unresolved'])
        self.assertEqual(1, len(plan['migrations']))
        move = plan['migrations'][0]
        self.assertEqual(MIGRATION_KEYS, set(move))
        self.assertEqual(('host-1', 'host-2'),
                         (move['source'], move['target']))
        self.assertGreater(move['transfer_mb'], 0)
        self.assertGreater(move['duration_s'], 0)

    def test_output_file(self):
        out = os.path.join(self.tmp, 'plan.json')
        rc = self.run_plan('--snapshot', self.snapshot(), '--format', 'json',
                           '--output', out)
        self.assertEqual(0, rc, self.stderr.getvalue())
        self.assertEqual('', self.stdout.getvalue())
        with open(out, encoding='utf-8') as f:
            self.assertEqual(PLAN_KEYS, set(json.load(f)))

    def test_strategy_balance(self):
        rc = self.run_plan('--snapshot', EXAMPLE, '--strategy', 'balance',
                           '--format', 'json')
        self.assertEqual(0, rc, self.stderr.getvalue())
        plan = json.loads(self.stdout.getvalue())
        self.assertEqual('balance', plan['strategy'])
        self.assertEqual([], plan['unresolved'])

    def test_strategy_from_config(self):
        conf = self.write('nova.conf',
                          '[DEFAULT]\nmy_ip = 192.0.2.1\n'
                          '[drs_balancer]\nstrategy = balance\n')
        rc = self.run_plan('--snapshot', self.snapshot(), '--format', 'json',
                           '--config-file', conf)
        self.assertEqual(0, rc, self.stderr.getvalue())
        self.assertEqual('balance',
                         json.loads(self.stdout.getvalue())['strategy'])

    def test_example_snapshot_resolves_hotspots(self):
        rc = self.run_plan('--snapshot', EXAMPLE, '--format', 'json')
        self.assertEqual(0, rc, self.stderr.getvalue())
        plan = json.loads(self.stdout.getvalue())
        self.assertEqual([], plan['unresolved'])
        moved = {m['instance'] for m in plan['migrations']}
        self.assertTrue(moved, 'the example has hotspots to resolve')
        # opted out, cooling down after a recent migration, pinned by a
        # hard-affinity group, or on a disabled host: never moved
        self.assertFalse(moved & {'erp-legacy', 'cache-2', 'db-1', 'db-2'})
        self.assertNotIn('compute-b4',
                         {m['target'] for m in plan['migrations']})


class TestConsoleScript(base.BaseTestCase):

    def _script(self):
        bindir = os.path.dirname(sys.executable)
        candidate = os.path.join(bindir, 'nova-drs')
        if os.path.exists(candidate):
            return candidate
        found = shutil.which('nova-drs')
        self.assertIsNotNone(found, 'nova-drs console script not installed '
                                    '(pip install -e .)')
        return found

    def test_plan_example(self):
        proc = subprocess.run(
            [self._script(), 'plan', '--snapshot', EXAMPLE],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertIn('unresolved hotspots: none', proc.stdout)
        self.assertNotIn('Traceback', proc.stderr)
