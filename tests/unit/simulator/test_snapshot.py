# SPDX-License-Identifier: Apache-2.0
"""``nova-drs simulate --snapshot``: the cluster, the mapping, the errors.

The snapshots here are written in the export format
(``doc/source/snapshot-format.rst``) and read by the one snapshot reader;
the trace is a PlanetLab day of identical VMs (50% CPU throughout), so
that the outcome does not depend on which VM an instance draws.
"""

import copy
import io
import json
import os
from unittest import mock

import fixtures
import numpy as np
from oslotest import base

from nova_drs.balancer.strategies import hotspot
from nova_drs.cmd import drs
from nova_drs.model import cluster
from nova_drs.model import snapshot
from nova_drs.simulator import engine
from nova_drs.simulator import report
from nova_drs.simulator import scenario
from nova_drs.simulator import traces
from nova_drs.simulator import workload
from tests.unit import clusters

#: a small host (4 cores) and a large one (16), a disabled third; web-1
#: and web-2 in an anti-affinity group; db opted out
SNAPSHOT = {
    'version': 1,
    'hosts': [
        {'name': 'small', 'vcpus': 4, 'memory_mb': 16384,
         'cpu_allocation_ratio': 4.0, 'ram_allocation_ratio': 1.0,
         'availability_zone': 'az1', 'base_load': {
             'cpu': 3.0, 'memory': 0, 'disk': 0, 'network': 0}},
        {'name': 'large', 'vcpus': 16, 'memory_mb': 65536,
         'reserved_host_memory_mb': 2048, 'cpu_allocation_ratio': 2.0,
         'ram_allocation_ratio': 1.5, 'availability_zone': 'az1'},
        {'name': 'spare', 'vcpus': 16, 'memory_mb': 65536,
         'cpu_allocation_ratio': 2.0, 'ram_allocation_ratio': 1.5,
         'availability_zone': 'az1', 'aggregates': ['spare'],
         'disabled': True},
    ],
    'instances': [
        # 8 vCPUs at 50%: 4 cores, the whole small host
        {'name': 'web-1', 'host': 'small', 'vcpus': 8, 'memory_mb': 2048,
         'cpu_util': 1.0, 'mem_used_mb': 100.0, 'server_group': 'web'},
        {'name': 'web-2', 'host': 'large', 'vcpus': 8, 'memory_mb': 2048,
         'cpu_util': 99.0, 'mem_used_mb': 100.0, 'server_group': 'web'},
        {'name': 'db', 'host': 'large', 'vcpus': 4, 'memory_mb': 4096,
         'cpu_util': 1.0, 'mem_used_mb': 100.0, 'opt_out': True},
    ],
    'server_groups': [{'name': 'web', 'policy': 'anti-affinity'}],
}


class SnapshotTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.day = os.path.join(self.tmp, 'planetlab', '20110303')
        os.makedirs(self.day)
        for n in range(5):
            self.write(os.path.join(self.day, 'vm-%d' % n), ['50'] * 4)

    def write(self, path, lines):
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        return path

    def write_snapshot(self, doc, name='snap.json'):
        path = os.path.join(self.tmp, name)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(doc, f)
        return path


class TestCli(SnapshotTestCase):

    def setUp(self):
        super().setUp()
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def simulate(self, *args):
        return drs.main(['simulate', '--trace-dir', self.day] + list(args))

    def error(self, rc):
        err = self.stderr.getvalue()
        self.assertEqual(2, rc, err)
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertNotIn('Traceback', err)
        self.assertTrue(lines[0].startswith('nova-drs: error: '), err)
        return lines[0][len('nova-drs: error: '):]

    def test_round_trip(self):
        path = self.write_snapshot(SNAPSHOT)
        out = os.path.join(self.tmp, 'sim.json')
        rc = self.simulate('--snapshot', path, '--json', out, '--no-report',
                           '--strategies', 'none')
        self.assertEqual(0, rc, self.stderr.getvalue())
        text = self.stdout.getvalue()
        self.assertIn('planetlab trace 20110303: 3 instances (0 unplaced)',
                      text)
        kinds = ['1 x 16 cores, 65536 MiB (2048 reserved), ratios 2/1.5',
                 '1 x 16 cores, 65536 MiB (0 reserved), ratios 2/1.5',
                 '1 x 4 cores, 16384 MiB (0 reserved), ratios 4/1']
        self.assertIn('3 hosts from snapshot %s: %s (1 disabled)'
                      % (path, '; '.join(kinds)), text)
        with open(out, encoding='utf-8') as f:
            doc = json.load(f)
        i = doc['input']
        self.assertEqual({'count': 3, 'kinds': kinds, 'disabled': 1,
                          'snapshot': path}, i['hosts'])
        self.assertEqual(['web-1', 'web-2', 'db'],
                         list(i['snapshot']['trace_mapping']))
        self.assertEqual(1, i['snapshot']['opted_out_instances'])
        self.assertEqual(['az1'], i['snapshot']['availability_zones'])
        # the snapshot's placement, each host its own size: the small
        # host at 4 of 4 cores (overloaded, hot), the large one at
        # (4 + 2) / 16; the snapshot's loads and base load are not
        # replayed (the small host would be at 7 of 4 cores)
        m = doc['strategies']['none']
        self.assertAlmostEqual(0.5, m['overload_time_fraction'])
        self.assertAlmostEqual(0.5, m['hotspot_host_time_fraction'])
        self.assertEqual(2.0, m['mean_active_hosts'])

    def test_exported_again_same_run(self):
        # the exporter's serialisation of the model read (what "nova-drs
        # snapshot export" writes for it) simulates the same
        first = self.write_snapshot(SNAPSHOT)
        again = self.write_snapshot(snapshot.to_dict(snapshot.from_dict(
            copy.deepcopy(SNAPSHOT))), 'again.json')
        out = []
        for n, path in enumerate((first, again)):
            out.append(os.path.join(self.tmp, 'sim-%d.json' % n))
            self.assertEqual(0, self.simulate(
                '--snapshot', path, '--json', out[-1], '--no-report',
                '--strategies', 'none,hotspot', '--seed', '2'))
        docs = []
        for path in out:
            with open(path, encoding='utf-8') as f:
                doc = json.load(f)
            for metrics in doc['strategies'].values():
                del metrics['wall_s'], metrics['decision_s']
            docs.append(doc)
        self.assertEqual(docs[0]['strategies'], docs[1]['strategies'])
        self.assertEqual(docs[0]['input']['snapshot']['trace_mapping'],
                         docs[1]['input']['snapshot']['trace_mapping'])

    def test_host_options_refused(self):
        path = self.write_snapshot(SNAPSHOT)
        message = self.error(self.simulate('--snapshot', path, '--hosts', '4',
                                           '--host-vcpus', '8',
                                           '--no-report'))
        self.assertEqual('--hosts, --host-vcpus: not with --snapshot (the '
                         'snapshot\'s hosts are simulated)', message)

    def test_not_with_the_benchmarks(self):
        path = self.write_snapshot(SNAPSHOT)
        for bench in ('--bench', '--pack-bench'):
            self.stderr.truncate(0)
            self.stderr.seek(0)
            self.assertEqual('--snapshot: not with --bench or --pack-bench',
                             self.error(self.simulate('--snapshot', path,
                                                      bench)))

    def test_invalid_snapshot(self):
        doc = copy.deepcopy(SNAPSHOT)
        del doc['hosts'][1]['vcpus']
        path = self.write_snapshot(doc)
        message = self.error(self.simulate('--snapshot', path,
                                           '--no-report'))
        self.assertEqual('%s: hosts[1].vcpus: required field is missing'
                         % path, message)

    def test_unknown_host(self):
        doc = copy.deepcopy(SNAPSHOT)
        doc['instances'][2]['host'] = 'elsewhere'
        path = self.write_snapshot(doc)
        message = self.error(self.simulate('--snapshot', path,
                                           '--no-report'))
        self.assertEqual("%s: instances[2].host: unknown host 'elsewhere'"
                         % path, message)

    def test_not_json(self):
        path = os.path.join(self.tmp, 'snap.json')
        self.write(path, ['{"hosts": ['])
        message = self.error(self.simulate('--snapshot', path,
                                           '--no-report'))
        self.assertTrue(message.startswith('%s: not valid JSON' % path),
                        message)

    def test_missing_file(self):
        path = os.path.join(self.tmp, 'nope.json')
        message = self.error(self.simulate('--snapshot', path,
                                           '--no-report'))
        self.assertTrue(message.startswith('%s: cannot read snapshot' % path),
                        message)

    def test_no_instances(self):
        doc = dict(SNAPSHOT, instances=[])
        path = self.write_snapshot(doc)
        message = self.error(self.simulate('--snapshot', path,
                                           '--no-report'))
        self.assertEqual('%s: the snapshot has no instances to simulate'
                         % path, message)

    def test_declared_interval_mismatch(self):
        path = self.write_snapshot(SNAPSHOT)
        bb = os.path.join(self.tmp, 'bb', '2013-7')
        os.makedirs(bb)
        header = ';\t'.join(traces.BITBRAINS_COLUMNS)
        self.write(os.path.join(bb, '1.csv'), [header] + [
            ';\t'.join(str(v) for v in (t, 2, 5200, 2600, 50, 4194304,
                                        1048576, 0, 0, 0, 0))
            for t in (0, 60, 120)])
        message = self.error(drs.main([
            'simulate', '--trace', 'bitbrains', '--trace-dir', bb,
            '--trace-interval', '300', '--snapshot', path, '--no-report']))
        self.assertIn('--trace-interval 300 s does not match', message)
        self.assertIn('one sample every 60 s', message)


class TestScenario(SnapshotTestCase):

    def _scenario(self, doc=SNAPSHOT, seed=0, **conf):
        trace = traces.load_planetlab(self.day)
        return scenario.build_snapshot(
            trace, snapshot.from_dict(copy.deepcopy(doc)), 'snap.json',
            clusters.conf(**conf), engine.Options(balloon=False),
            seed=seed)

    def test_hosts_and_placement_are_the_snapshots(self):
        scen = self._scenario()
        sim = scen.simulation
        self.assertEqual(['small', 'large', 'spare'], sim.hosts.names)
        self.assertEqual([4, 16, 16], sim.hosts.vcpus.tolist())
        self.assertEqual([0, 2048, 0],
                         sim.hosts.reserved_host_memory_mb.tolist())
        self.assertEqual([False, False, True], sim.hosts.disabled.tolist())
        # measured state is not replayed; no disk or network in the trace
        self.assertIsNone(sim.hosts.base_load)
        self.assertEqual([0.0] * 3, sim.hosts.disk_capacity_mb_s.tolist())
        self.assertEqual([0, 1, 1], sim.placement.tolist())
        self.assertEqual(['web-1', 'web-2', 'db'], sim.workload.names)
        self.assertEqual([8, 8, 4], sim.workload.vcpus.tolist())
        # 50% of each instance's own vCPUs
        np.testing.assert_allclose([[4.0] * 4, [4.0] * 4, [2.0] * 4],
                                   sim.workload.cpu)
        self.assertEqual([], scen.unplaced)

    def test_report_settings(self):
        scen = self._scenario(seed=5)
        results, _histories = scenario.run(scen, ['none'])
        sections = dict(report.settings(results))
        run = {key: (value, source) for key, value, source in sections['Run']}
        self.assertEqual(('snap.json', '1 server groups, 1 instances opted '
                          'out, zones az1'), run['snapshot'])
        self.assertEqual(('5', 'trace mapping, memory model'), run['seed'])
        self.assertEqual([
            ('count', '3', ''), ('disabled', '1', ''),
            ('snapshot', 'snap.json', ''),
            ('size', '1 x 16 cores, 65536 MiB (2048 reserved), ratios '
                     '2/1.5', ''),
            ('size', '1 x 16 cores, 65536 MiB (0 reserved), ratios 2/1.5',
             ''),
            ('size', '1 x 4 cores, 16384 MiB (0 reserved), ratios 4/1', '')],
            sections['Hosts'])
        # the page renders it
        self.assertIn('1 x 4 cores, 16384 MiB', report.render_html(
            results, []))

    def test_agent_interval_as_with_generated_hosts(self):
        # --interval is the agents' interval; the trace stays at its own
        # 300 s samples (no resampling), as with --hosts
        trace = traces.load_planetlab(self.day)
        scen = scenario.build_snapshot(
            trace, snapshot.from_dict(copy.deepcopy(SNAPSHOT)), 'snap.json',
            clusters.conf(), engine.Options(balloon=False), interval_s=60.0)
        self.assertEqual(60.0, scen.simulation.options.agent_interval_s)
        self.assertEqual(trace.interval_s,
                         scen.simulation.workload.interval_s)
        info = scen.info
        self.assertEqual((60.0, trace.interval_s, 10.0),
                         (info['interval_s'], info['history_interval_s'],
                          info['measure_interval_s']))
        self.assertEqual({'ewma_half_life_s': 10.0, 'persistence_s': 20.0,
                          'persistence_window_s': 30.0}, info['detector'])

    def test_the_strategy_sees_groups_zones_and_opt_outs(self):
        seen = []
        real = hotspot.HotspotStrategy.plan

        def spy(strategy, model):
            seen.append(model)
            return real(strategy, model)

        scen = self._scenario(drs__ewma_alpha=1.0, drs__persistence_count=1,
                              drs__persistence_window=1)
        with mock.patch.object(hotspot.HotspotStrategy, 'plan',
                               autospec=True, side_effect=spy):
            result = scen.simulation.run('hotspot')
        self.assertTrue(seen)
        model = seen[0]
        self.assertEqual(['web'], [g.name for g in model.groups])
        self.assertEqual([0, 0, cluster.NO_GROUP],
                         model.instances.group.tolist())
        self.assertTrue(model.instances.opt_out[2])
        self.assertEqual(['az1'], model.zones)
        self.assertEqual([(), ('spare',)], model.aggregate_sets)
        self.assertEqual([0, 0, 1], model.hosts.aggregates.tolist())
        # web-1 must leave the small host but cannot join web-2 (anti-
        # affinity) and the spare host is disabled: nothing moves
        self.assertEqual(0, result.metrics['migrations'])
        # out of the group, it moves to the large host
        doc = copy.deepcopy(SNAPSHOT)
        del doc['instances'][1]['server_group']
        scen = self._scenario(doc, drs__ewma_alpha=1.0,
                              drs__persistence_count=1,
                              drs__persistence_window=1)
        self.assertEqual(1, scen.simulation.run('hotspot').metrics[
            'migrations'])


class TestMapping(base.BaseTestCase):

    def test_deterministic_for_a_seed(self):
        names = ['vm-%d' % i for i in range(20)]
        one = workload.map_traces(names, 7, seed=3)
        self.assertEqual(one.tolist(),
                         workload.map_traces(names, 7, seed=3).tolist())
        self.assertNotEqual(one.tolist(),
                            workload.map_traces(names, 7, seed=4).tolist())

    def test_by_name_not_by_position(self):
        names = ['vm-%d' % i for i in range(20)]
        mapped = dict(zip(names, workload.map_traces(names, 7, seed=3)))
        shuffled = names[7:] + names[:7]
        again = dict(zip(shuffled, workload.map_traces(shuffled, 7,
                                                       seed=3)))
        self.assertEqual(mapped, again)

    def test_without_replacement_then_cycling(self):
        names = ['vm-%02d' % i for i in range(17)]
        counts = np.bincount(workload.map_traces(names, 5), minlength=5)
        # 17 instances on 5 VMs: three full passes and 2 more
        self.assertEqual([3, 3, 3, 4, 4], sorted(counts.tolist()))
        # the first 5 names (in name order) replay 5 distinct VMs
        first = workload.map_traces(names, 5)[:5]
        self.assertEqual(5, len(set(first.tolist())))
        # fewer instances than VMs: all distinct
        self.assertEqual(4, len(set(workload.map_traces(
            names[:4], 10).tolist())))
        self.assertEqual([], workload.map_traces([], 3).tolist())

    def test_memory_scaled_to_the_flavor(self):
        # a Bitbrains VM of 4,096 MiB using 1,024 (a quarter) and 2 MB/s
        # of disk, replayed by an instance of 16,384 MiB and 8 vCPUs
        trace = traces.Trace(
            traces.BITBRAINS, 'bb', ['1.csv'], 300.0,
            np.array([[0.5, 1.0]]), vcpus=np.array([2]),
            memory_mb=np.array([4096]),
            mem_used_mb=np.array([[1024.0, 4096.0]]),
            disk_mb_s=np.array([[2.0, 2.0]]), net_mb_s=np.zeros((1, 2)))
        work, pick = workload.from_instances(trace, ['big'], [8], [16384])
        self.assertEqual([0], pick.tolist())
        np.testing.assert_allclose([[4.0, 8.0]], work.cpu)
        np.testing.assert_allclose([[4096.0, 16384.0]], work.mem)
        np.testing.assert_allclose([[2.0, 2.0]], work.disk)
        self.assertTrue(work.has_io)
