# SPDX-License-Identifier: Apache-2.0
"""``nova-drs simulate``: the bundled sample, outputs and error paths."""

import io
import json
import os
from unittest import mock

import fixtures
from oslotest import base

from nova_drs.cmd import drs
from nova_drs.simulator import report

REQUIRED_KEYS = ('overload_time_fraction', 'hotspot_host_time_fraction',
                 'pdm', 'slav', 'migrations', 'gib_moved',
                 'mean_active_hosts', 'memory_reclaimed_gib',
                 'pressure_events', 'unplaced_instances', 'wall_s')


class CliTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', self.stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))

    def simulate(self, *args):
        return drs.main(['simulate'] + list(args))

    def assertUsageError(self, rc, *expected):
        err = self.stderr.getvalue()
        self.assertEqual(2, rc, err)
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        self.assertTrue(lines[0].startswith('nova-drs: error: '), err)
        self.assertNotIn('Traceback', err)
        for text in expected:
            self.assertIn(text, lines[0])
        return lines[0]

    def write(self, rel, lines):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        return path


class TestSample(CliTestCase):

    def test_default_run_on_the_bundled_sample(self):
        report = os.path.join(self.tmp, 'report')
        out = os.path.join(self.tmp, 'sim.json')
        rc = self.simulate('--report', report, '--json', out)
        self.assertEqual(0, rc, self.stderr.getvalue())
        text = self.stdout.getvalue()
        self.assertIn('planetlab trace 20110303: 40 instances', text)
        for name in ('none', 'hotspot', 'balance'):
            self.assertIn('\n%s ' % name, text)
        self.assertIn('report: %s' % os.path.join(report, 'index.html'),
                      text)
        doc = _read_json(out)
        self.assertEqual({'input', 'strategies'}, set(doc))
        self.assertEqual(['none', 'hotspot', 'balance'],
                         list(doc['strategies']))
        for metrics in doc['strategies'].values():
            self.assertEqual(list(REQUIRED_KEYS),
                             list(metrics)[:len(REQUIRED_KEYS)])
        self.assertEqual(0, doc['strategies']['none']['migrations'])
        self.assertGreater(doc['strategies']['hotspot']['migrations'], 0)
        self.assertTrue(doc['input']['sample'])
        for name in ('index.html', 'results.json', 'host-load.png',
                     'hotspots-migrations.png', 'memory.png'):
            self.assertTrue(os.path.getsize(os.path.join(report, name)))
        with open(os.path.join(report, 'index.html'), encoding='utf-8') as f:
            page = f.read()
        self.assertIn('<img src="host-load.png"', page)
        self.assertIn('<td>hotspot</td>', page)

    def test_bitbrains_sample_without_report(self):
        cwd = os.getcwd()
        self.addCleanup(os.chdir, cwd)
        os.chdir(self.tmp)
        rc = self.simulate('--trace', 'bitbrains', '--strategies',
                           'none,hotspot', '--balloon', 'off',
                           '--no-report', '--interval', '600')
        self.assertEqual(0, rc, self.stderr.getvalue())
        text = self.stdout.getvalue()
        self.assertIn('bitbrains trace 2013-7: 24 instances', text)
        self.assertIn('288 samples of 300 s (24.0 h), agents every 600 s, '
                      'measured every 10 s', text)
        self.assertIn('disk 500 MB/s, network 1250 MB/s', text)
        self.assertNotIn('report:', text)
        self.assertEqual([], os.listdir(self.tmp))

    def test_migration_options(self):
        out = os.path.join(self.tmp, 'sim.json')
        rc = self.simulate(
            '--strategies', 'hotspot', '--no-report', '--json', out,
            '--seed', '7', '--migration-failure-rate', '1',
            '--live-migration-completion-timeout', '0',
            '--live-migration-timeout-action', 'force_complete',
            '--live-migration-downtime', '300',
            '--live-migration-downtime-steps', '5',
            '--live-migration-downtime-delay', '30',
            '--host-link-mb-s', '500', '--cluster-link-mb-s', '2000')
        self.assertEqual(0, rc, self.stderr.getvalue())
        with open(out, encoding='utf-8') as f:
            results = json.load(f)
        self.assertEqual({
            'host_link_mb_s': 500.0, 'cluster_link_mb_s': 2000.0,
            'live_migration_completion_timeout': 0,
            'live_migration_timeout_action': 'force_complete',
            'live_migration_downtime': 300,
            'live_migration_downtime_steps': 5,
            'live_migration_downtime_delay': 30, 'failure_rate': 1.0,
            'seed': 7}, results['input']['options']['migration'])
        m = results['strategies']['hotspot']
        # every migration fails: none completes, the guests stay put
        self.assertGreater(m['migrations_failed'], 0)
        self.assertEqual(0, m['migrations_completed'])
        for key in ('swap_gib_h', 'swap_host_time_fraction',
                    'cpu_overload_time_fraction', 'downtime_s'):
            self.assertIn(key, m)

    def test_migration_option_bounds(self):
        for args, text in (
                (('--migration-failure-rate', '1.5'),
                 '--migration-failure-rate: must be at most 1.0'),
                (('--live-migration-downtime', '50'),
                 '--live-migration-downtime: must be at least 100'),
                (('--live-migration-downtime-steps', '2'),
                 '--live-migration-downtime-steps: must be at least 3'),
                (('--live-migration-completion-timeout', '-1'),
                 '--live-migration-completion-timeout: must be at least 0')):
            self.stderr.seek(0)
            self.stderr.truncate()
            rc = self.simulate('--no-report', *args)
            self.assertUsageError(rc, text)

    def test_config_file_is_read(self):
        conf = self.write('nova-drs.conf', [
            '[drs_balancer]', 'migration_bandwidth_mb_s = 10'])
        out = os.path.join(self.tmp, 'a.json')
        rc = self.simulate('--strategies', 'hotspot', '--no-report',
                           '--json', out, '--config-file', conf)
        self.assertEqual(0, rc, self.stderr.getvalue())
        slow = _read_json(out)
        rc = self.simulate('--strategies', 'hotspot', '--no-report',
                           '--json', out)
        fast = _read_json(out)
        # 100 times less bandwidth: migrations last 100 times longer
        self.assertGreater(slow['strategies']['hotspot']['pdm'],
                           10 * fast['strategies']['hotspot']['pdm'])


class TestErrors(CliTestCase):

    def test_non_numeric_trace(self):
        self.write('pl/day/vm-a', ['1', '2', '3'])
        path = self.write('pl/day/vm-b', ['1', 'x2', '3'])
        rc = self.simulate('--trace-dir', os.path.join(self.tmp, 'pl'),
                           '--no-report')
        self.assertUsageError(rc, '%s:2: CPU utilisation: not a number'
                              % path)

    def test_trace_without_a_sample_period(self):
        path = os.path.join(self.tmp, 'pl', 'day')
        self.write('pl/day/vm-a', ['1'] * 1000)
        rc = self.simulate('--trace-dir', os.path.join(self.tmp, 'pl'),
                           '--no-report')
        self.assertUsageError(rc, '%s: 1000 samples per file' % path,
                              '--trace-interval')

    def test_truncated_trace(self):
        self.write('pl/day/vm-a', ['1', '2', '3'])
        path = self.write('pl/day/vm-b', ['1', '2'])
        rc = self.simulate('--trace-dir', os.path.join(self.tmp, 'pl'),
                           '--no-report')
        self.assertUsageError(rc, '%s:3: truncated' % path)

    def test_truncated_bitbrains_row(self):
        path = self.write('bb/2013-7/1.csv', [
            'Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\t'
            'CPU usage [MHZ];\tCPU usage [%];\t'
            'Memory capacity provisioned [KB];\tMemory usage [KB];\t'
            'Disk read throughput [KB/s];\tDisk write throughput [KB/s];\t'
            'Network received throughput [KB/s];\t'
            'Network transmitted throughput [KB/s]',
            '0;\t2;\t5200;\t52;\t1.0;\t4194304;\t1048576;\t0;\t0;\t0;\t0',
            '300;\t2;\t5200;\t52'])
        rc = self.simulate('--trace', 'bitbrains', '--trace-dir',
                           os.path.join(self.tmp, 'bb'), '--no-report')
        self.assertUsageError(rc, '%s:3: truncated row' % path)

    def test_missing_trace_dir(self):
        path = os.path.join(self.tmp, 'nope')
        rc = self.simulate('--trace-dir', path, '--no-report')
        self.assertUsageError(rc, '%s: no such trace directory' % path)

    def test_unknown_day(self):
        rc = self.simulate('--day', '20990101', '--no-report')
        self.assertUsageError(rc, 'no planetlab trace for 20990101',
                              '20110303')

    def test_unknown_strategy(self):
        rc = self.simulate('--strategies', 'none,nope', '--no-report')
        self.assertUsageError(rc, "unknown strategy 'nope'")

    def test_bad_numbers(self):
        for args, text in (
                (('--hosts', '0'), '--hosts: must be at least 1, got 0'),
                (('--hosts', 'ten'), "--hosts: 'ten' is not a whole number"),
                (('--cpu-allocation-ratio', '0'),
                 '--cpu-allocation-ratio: must be greater than 0'),
                (('--interval', 'inf'), '--interval: '),
                (('--trace-interval', '0'),
                 '--trace-interval: must be greater than 0'),
                (('--reserved-host-memory-mb', '70000'),
                 'must be less than the host memory')):
            self.stderr.seek(0)
            self.stderr.truncate()
            rc = self.simulate('--no-report', *args)
            self.assertUsageError(rc, text)

    def test_bad_choice(self):
        rc = self.simulate('--balloon', 'maybe')
        self.assertEqual(2, rc)
        self.assertIn("invalid choice: 'maybe'", self.stderr.getvalue())
        self.assertNotIn('Traceback', self.stderr.getvalue())

    def test_mode(self):
        out = os.path.join(self.tmp, 'sim.json')
        rc = self.simulate('--strategies', 'hotspot', '--no-report',
                           '--json', out, '--mode', 'manual')
        self.assertEqual(0, rc, self.stderr.getvalue())
        self.assertIn('balancer mode manual', self.stdout.getvalue())
        doc = _read_json(out)
        self.assertEqual('manual', doc['input']['mode'])
        self.assertEqual(0, doc['strategies']['hotspot']['migrations'])
        rc = self.simulate('--mode', 'sometimes')
        self.assertEqual(2, rc)
        self.assertIn("invalid choice: 'sometimes'", self.stderr.getvalue())

    def test_severe_below_hotspot_threshold(self):
        conf = self.write('severe.conf', [
            '[drs_balancer]', 'severe_cpu_threshold = 0.5'])
        rc = self.simulate('--config-file', conf, '--no-report')
        self.assertUsageError(rc, 'severe_cpu_threshold (0.5) must not be '
                              'below [drs] cpu_threshold')

    def test_bad_config_file(self):
        conf = self.write('bad.conf', ['[drs]', 'cpu_threshold = lots'])
        rc = self.simulate('--config-file', conf, '--no-report')
        self.assertUsageError(rc, 'cpu_threshold')

    def test_json_directory_missing(self):
        rc = self.simulate('--json', os.path.join(self.tmp, 'no', 'x.json'),
                           '--no-report')
        self.assertUsageError(rc, 'cannot write')

    def test_report_is_a_file(self):
        path = self.write('file', ['x'])
        rc = self.simulate('--report', path)
        self.assertUsageError(rc, 'is not a directory')


class TestBench(CliTestCase):

    def test_bench_reports_the_figure(self):
        from nova_drs.simulator import bench
        from tests.unit import clusters

        out = io.StringIO()
        day_dir = _sample_day()
        # NOTE: the format, not the speed (the bench itself checks that):
        # a target no busy machine misses
        replay = _Recorder(bench._replay)
        with mock.patch.object(bench, '_replay', replay):
            passed, _elapsed, results = bench.run(
                day_dir, clusters.conf(), hosts=8, target_s=3600.0, out=out)
        self.assertTrue(passed)
        self.assertIn('simulator benchmark: PlanetLab day 20110303, 40 VMs',
                      out.getvalue())
        self.assertIn('PASS', out.getvalue())
        # a missed target fails (the same replay again, not run twice)
        replayed = replay.returned
        with mock.patch.object(report, 'write_report'), \
                mock.patch.object(bench, '_replay', return_value=replayed):
            passed, _elapsed, _results = bench.run(
                day_dir, clusters.conf(), hosts=8, target_s=0.0,
                out=io.StringIO())
        self.assertFalse(passed)

    def test_full_cluster_run(self):
        from nova_drs.simulator import bench
        from tests.unit import clusters

        out = io.StringIO()
        replay = _Recorder(bench._replay)
        with mock.patch.object(bench, '_replay', replay):
            passed, elapsed = bench.run_full(_sample_day(), clusters.conf(),
                                             out=out)
        self.assertTrue(passed)
        text = out.getvalue()
        self.assertIn('full cluster: PlanetLab day 20110303, 40 VMs on 120 '
                      'hosts, strategies hotspot,balance: %.1f s' % elapsed,
                      text)
        self.assertRegex(text, r'planning hotspot \d+ plans [0-9.]+ s, '
                               r'balance \d+ plans [0-9.]+ s\); target < 60 '
                               r's: PASS')
        # a missed target fails (the same replay again, not run twice)
        with mock.patch.object(bench, '_replay',
                               return_value=replay.returned):
            passed, _elapsed = bench.run_full(
                _sample_day(), clusters.conf(), target_s=0.0,
                out=io.StringIO())
        self.assertFalse(passed)


class _Recorder:
    """Calls ``func`` and keeps what it returned."""

    def __init__(self, func):
        self.func = func
        self.returned = None

    def __call__(self, *args, **kwargs):
        self.returned = self.func(*args, **kwargs)
        return self.returned


def _read_json(path):
    with open(path, encoding='utf-8') as f:
        return json.load(f)


def _sample_day():
    from nova_drs.simulator import locate
    from nova_drs.simulator import traces
    return locate.find(traces.PLANETLAB)[0]
