# SPDX-License-Identifier: Apache-2.0
"""The load test's verdicts."""

import fixtures
from oslotest import base

from nova_drs.loadtest import run


def results(r1=500.0, r2=500.0, published=1000.0, p95=5.0, relieved=10,
            owned_again=20.0, lost=(), duplicates=(),
            reads=((12, 6, 1.1), (8, 2, 0.9))):
    return {
        'alone': {'r1': {'intake_per_s': 600.0}},
        'shared': {'r1': {'intake_per_s': r1}, 'r2': {'intake_per_s': r2},
                   '_agents': {'published_per_s': published}},
        'hotspots': {'hotspots': 10, 'relieved': relieved, 'p95_s': p95},
        'kill': {'owned_again_s': owned_again, 'lost': list(lost),
                 'hotspots': 3},
        'duplicates': list(duplicates),
        'reads': {'r1': {'incremental': list(reads)}}}


class TargetsTest(base.BaseTestCase):

    def verdicts(self, **kw):
        return [ok for _, _, ok in run.check_targets(results(**kw), 10.0)]

    def test_all_met(self):
        self.assertEqual([True] * 8, self.verdicts())
        # the hash spread of the hosts over the partitions is allowed
        self.assertEqual([True] * 8, self.verdicts(r1=520.0, r2=480.0))

    def test_each_missed(self):
        # uneven: one replica takes most
        self.assertEqual([False, True, True], self.verdicts(
            r1=700.0, r2=300.0)[:3])
        # each takes everything: the work is copied, not divided
        self.assertEqual([True, True, False], self.verdicts(
            r1=1000.0, r2=1000.0)[:3])
        self.assertFalse(self.verdicts(p95=25.0)[3])
        # a hotspot never relieved fails the latency target too
        self.assertFalse(self.verdicts(relieved=9)[3])
        # a refresh that costs more: per compute node, say
        self.assertFalse(self.verdicts(reads=((16, 6, 1.0),))[4])
        # no refresh seen: not a pass
        self.assertFalse(self.verdicts(reads=())[4])
        self.assertFalse(self.verdicts(owned_again=31.0)[5])
        self.assertFalse(self.verdicts(lost=['lt-00001'])[6])
        self.assertFalse(self.verdicts(duplicates=[('s', 'r1', 'r2')])[7])
        # nothing measured: not a pass
        self.assertFalse(self.verdicts(published=0.0, r1=0.0, r2=0.0)[0])
        self.assertFalse(self.verdicts(published=0.0)[2])

    def test_a_lone_replica_behind_is_not_copying(self):
        # r1 alone kept up with 600 of 1000 reports/s (the fixture's
        # 'alone'); the two drain its backlog: 1,100/s against 1,000
        # published is within the margin, 2,000/s is copying
        self.assertTrue(self.verdicts(r1=550.0, r2=550.0)[2])
        self.assertFalse(self.verdicts(r1=1000.0, r2=1000.0)[2])

    def test_percentile(self):
        self.assertIsNone(run._percentile([], 0.95))
        self.assertEqual(5.0, run._percentile([5.0], 0.95))
        self.assertAlmostEqual(9.55, run._percentile(
            [float(v) for v in range(11)], 0.955))


class IncrementalReadsTest(base.BaseTestCase):

    def test_read_lines_of_a_replica_log(self):
        path = self.useFixture(fixtures.TempDir()).join('r1.log')
        with open(path, 'w') as f:
            f.write(
                '2026-12-06 12:03:40.1 1 INFO '
                'nova_drs.balancer.view.nova_view '
                '[-] read Nova (full): 10000 hosts; 10076 API calls '
                '(inventories 10000, servers 61), in 40.2 s\n'
                '2026-12-06 12:04:40.1 1 INFO '
                'nova_drs.balancer.view.nova_view '
                '[-] read Nova (incremental): 10000 hosts, 60000 '
                'instances, 240 server groups (0 left out); 12 API calls '
                '(aggregates 1, inventories 6, migrations 1, '
                'resource_providers 1, server_groups 1, servers 1, '
                'services 1), 6 servers and 6 providers\' inventories '
                'read, in 1.12 s\n')
        self.assertEqual([(12, 6, 1.12)], run.incremental_reads(path))
        self.assertEqual([], run.incremental_reads(path + '.missing'))


class QueuesTest(base.BaseTestCase):
    """The queues a run deletes at its end are those its processes use."""

    def test_every_agent_topic_and_replica_pool_is_deleted(self):
        from nova_drs.notifications import partition

        args = run.parse_args(['--hosts', '300', '--partitions', '16',
                               '--work-dir', self.useFixture(
                                   fixtures.TempDir()).path])
        test = run.LoadTest(args)
        test.replicas = {'r1': None, 'r2': None}
        names = set(test._queues())
        topic = 'drs_loadtest_%s' % test.run_id
        # where each simulated agent publishes (its Publisher: topic_for)
        published = {'%s.sample' % partition.topic_for(
            topic, 'lt-%05d' % i, 16) for i in range(300)}
        self.assertLessEqual(published, names)
        self.assertIn('%s.sample' % topic, names)   # the unpartitioned one
        self.assertIn(test._nova_pool('r2'), names)
        # this run's own names only
        self.assertTrue(all(test.run_id in n for n in names), names)


class SpeedScalingTest(base.BaseTestCase):
    """On a slower machine the agents publish less often, as much slower."""

    def scaled(self, reference_ms, *argv):
        from nova_drs import machine_speed
        args = run.parse_args(['--interval', '30', '--window', '20']
                              + list(argv))
        self.useFixture(fixtures.MockPatchObject(
            machine_speed, 'reference_ms',
            lambda: reference_ms * machine_speed.REFERENCE_BASE_MS))
        run._scale_to_machine_speed(args)
        return args

    def test_slower_machine_stretches_interval_and_window(self):
        args = self.scaled(1.6)
        self.assertEqual((48.0, 32.0, 1.6), (args.interval, args.window,
                                             round(args.speed_factor, 2)))
        self.assertEqual((30.0, 20.0), (args.reference_interval,
                                        args.reference_window))

    def test_faster_machine_keeps_the_figures(self):
        args = self.scaled(0.7)
        self.assertEqual((30.0, 20.0, 1.0), (args.interval, args.window,
                                             args.speed_factor))

    def test_scaling_can_be_turned_off(self):
        args = self.scaled(2.0, '--no-speed-scaling')
        self.assertEqual((30.0, 20.0, 1.0), (args.interval, args.window,
                                             args.speed_factor))


class FallingBehindTest(base.BaseTestCase):
    """A lone replica that falls behind: the test starts again slower."""

    def window(self, published, taken_in):
        return {'_agents': {'published_per_s': published},
                'r1': {'intake_per_s': taken_in}}

    def test_keeping_up_is_not_falling_behind(self):
        self.assertIsNone(run.falling_behind(self.window(334, 328)))
        self.assertIsNone(run.falling_behind(self.window(334, 301)))
        self.assertIsNone(run.falling_behind({}))
        self.assertIsNone(run.falling_behind(self.window(334, None)))
        self.assertEqual((334, 216),
                         run.falling_behind(self.window(334, 216)))

    def args(self, *argv):
        args = run.parse_args(['--interval', '30', '--window', '20']
                              + list(argv))
        args.reference_interval, args.reference_window = 30.0, 20.0
        args.speed_factor = 1.05
        return args

    def fake_tests(self, outcomes):
        """A LoadTest factory whose runs end as ``outcomes`` say."""
        made = []

        class FakeTest:
            def __init__(self, args):
                self.results = {}
                self.work_dir = '/tmp/x'
                self.interval = args.interval
                made.append(self)

            def run(self):
                outcome = outcomes[len(made) - 1]
                if isinstance(outcome, Exception):
                    raise outcome
                return dict(self.results, outcome=outcome)
        return FakeTest, made

    def test_restarts_slower_until_it_keeps_up(self):
        args = self.args()
        factory, made = self.fake_tests([run.FallingBehind(334, 216), 'ok'])
        results = run.run_until_it_keeps_up(args, factory)
        self.assertEqual('ok', results['outcome'])
        # 1.05 x 1.15 x 334 / 216
        factor = 1.05 * run.KEEP_UP_MARGIN * 334 / 216
        self.assertAlmostEqual(factor, args.speed_factor)
        self.assertEqual([30.0, round(30 * factor, 1)],
                         [t.interval for t in made])
        self.assertEqual(round(20 * factor, 1), args.window)
        self.assertEqual({'factor': args.speed_factor,
                          'interval_at_reference_s': 30.0,
                          'window_at_reference_s': 20.0, 'restarts': 1},
                         results['speed'])

    def test_gives_up_when_the_machine_is_too_slow(self):
        # behind at every try
        factory, made = self.fake_tests([run.FallingBehind(334, 300)] * 5)
        e = self.assertRaises(run.LoadTestError, run.run_until_it_keeps_up,
                              self.args(), factory)
        self.assertIn('too slow', str(e))
        self.assertEqual(1 + run.MAX_RESTARTS, len(made))
        # or at once, when the factor needed is beyond the bound
        factory, made = self.fake_tests([run.FallingBehind(334, 50)])
        self.assertRaises(run.LoadTestError, run.run_until_it_keeps_up,
                          self.args(), factory)
        self.assertEqual(1, len(made))


class NoEventletTest(base.BaseTestCase):
    """The load test's own process runs no eventlet (as the services)."""

    def test_importing_the_load_test_imports_no_eventlet(self):
        import subprocess
        import sys
        # a fresh interpreter: this one's modules are the test run's
        code = ('import sys\n'
                'from nova_drs.loadtest import run\n'
                'assert sys.modules.get("eventlet") is None, "imported"\n'
                'run.agent.use_native_threads()\n'
                'from nova_drs.notifications import queues\n'
                'assert sys.modules.get("eventlet") is None, "after queues"\n')
        out = subprocess.run([sys.executable, '-c', code],
                             capture_output=True, text=True, check=False)
        self.assertEqual(0, out.returncode, out.stderr[-2000:])
