# SPDX-License-Identifier: Apache-2.0
"""Trace loaders: good files, and bad files named with file and line."""

import os

import fixtures
import numpy as np
from oslotest import base

from nova_drs.simulator import locate
from nova_drs.simulator import traces

HEADER = ';\t'.join(traces.BITBRAINS_COLUMNS)


def bb_row(ts, cores=2, pct=50.0, mem_prov_kb=4194304, mem_kb=1048576,
           disk_r=1024, disk_w=1024, rx=512, tx=512):
    return ';\t'.join(str(v) for v in (
        ts, cores, cores * 2600.0, cores * 2600.0 * pct / 100, pct,
        mem_prov_kb, mem_kb, disk_r, disk_w, rx, tx))


class TraceTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def write(self, name, lines):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        return path


class TestPlanetLab(TraceTestCase):

    def test_load(self):
        self.write('day/vm-a', ['10', '20', '30'])
        self.write('day/vm-b', ['0', '100', '50'])
        self.write('day/LICENSE.txt', ['not a trace'])
        trace = traces.load_planetlab(os.path.join(self.tmp, 'day'))
        self.assertEqual(['vm-a', 'vm-b'], trace.names)
        np.testing.assert_allclose([[0.1, 0.2, 0.3], [0.0, 1.0, 0.5]],
                                   trace.cpu)
        self.assertEqual(300.0, trace.interval_s)
        self.assertIsNone(trace.mem_used_mb)

    def test_sample_period(self):
        day = os.path.join(self.tmp, 'day')
        # a whole CoMon day, or part of one: 300 s
        self.write('day/vm-a', ['10'] * 288)
        self.assertEqual(300.0, traces.load_planetlab(day).interval_s)
        # 1440 samples cannot be a day at 300 s: one a minute
        self.write('day/vm-a', ['10'] * 1440)
        trace = traces.load_planetlab(day)
        self.assertEqual(60.0, trace.interval_s)
        self.assertEqual(['1440 samples per file: one every 60 s'],
                         trace.notes)
        # what the caller says wins
        self.assertEqual(30.0, traces.load(traces.PLANETLAB, day,
                                           30.0).interval_s)
        # neither a day at 300 s nor a whole number of seconds
        self.write('day/vm-a', ['10'] * 1000)
        e = self.assertRaises(traces.TraceError, traces.load_planetlab, day)
        self.assertIn('1000 samples', str(e))
        self.assertIn('--trace-interval', str(e))
        self.assertEqual(86.4, traces.load_planetlab(day, 86.4).interval_s)

    def test_missing_directory(self):
        path = os.path.join(self.tmp, 'nope')
        e = self.assertRaises(traces.TraceError, traces.load_planetlab, path)
        self.assertEqual('%s: no such trace directory' % path, str(e))

    def test_no_files(self):
        os.mkdir(os.path.join(self.tmp, 'day'))
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.join(self.tmp, 'day'))
        self.assertIn('no PlanetLab trace files', str(e))

    def test_not_a_number(self):
        self.write('day/vm-a', ['10', '20', '30'])
        path = self.write('day/vm-b', ['10', 'abc', '30'])
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.join(self.tmp, 'day'))
        self.assertEqual("%s:2: CPU utilisation: not a number: 'abc'" % path,
                         str(e))

    def test_out_of_range(self):
        path = self.write('day/vm-a', ['10', '150'])
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.join(self.tmp, 'day'))
        self.assertTrue(str(e).startswith('%s:2: CPU utilisation must be '
                                          '0-100' % path), str(e))

    def test_negative_and_nan(self):
        for bad in ('-1', 'nan'):
            path = self.write('day/vm-a', ['10', bad])
            e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                                  os.path.join(self.tmp, 'day'))
            self.assertTrue(str(e).startswith('%s:2: ' % path), str(e))

    def test_truncated(self):
        self.write('day/vm-a', ['10', '20', '30'])
        path = self.write('day/vm-b', ['10'])
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.join(self.tmp, 'day'))
        self.assertEqual('%s:2: truncated: 1 samples where the other files '
                         'of the day have 3' % path, str(e))

    def test_empty_line_inside(self):
        path = self.write('day/vm-a', ['10', '', '30'])
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.join(self.tmp, 'day'))
        self.assertEqual('%s:2: empty line inside the trace' % path, str(e))

    def test_binary_file(self):
        path = os.path.join(self.tmp, 'day', 'vm-a')
        os.makedirs(os.path.dirname(path))
        with open(path, 'wb') as f:
            f.write(b'\xff\xfe\x00')
        e = self.assertRaises(traces.TraceError, traces.load_planetlab,
                              os.path.dirname(path))
        self.assertTrue(str(e).startswith('%s: not a text file' % path))


class TestBitbrains(TraceTestCase):

    def test_load(self):
        self.write('m/1.csv', [HEADER, bb_row(0), bb_row(300, pct=100.0)])
        # off for one sample, then 4 cores at 50%; resized VM
        self.write('m/2.csv', [HEADER, bb_row(0, cores=0, pct=0),
                               bb_row(300, cores=4, pct=50.0)])
        trace = traces.load_bitbrains(os.path.join(self.tmp, 'm'))
        self.assertEqual(['1.csv', '2.csv'], trace.names)
        self.assertEqual([2, 4], trace.vcpus.tolist())
        self.assertEqual([4096, 4096], trace.memory_mb.tolist())
        # VM 2: 50% of 4 cores = 2 cores = 0.5 of its 4 vCPUs
        np.testing.assert_allclose([[0.5, 1.0], [0.0, 0.5]], trace.cpu)
        np.testing.assert_allclose([[1024, 1024], [0, 1024]],
                                   trace.mem_used_mb)
        # (1024 + 1024) KB/s = 2 MB/s; (512 + 512) KB/s = 1 MB/s
        np.testing.assert_allclose([[2, 2], [0, 2]], trace.disk_mb_s)
        np.testing.assert_allclose([[1, 1], [0, 1]], trace.net_mb_s)
        self.assertEqual(300.0, trace.interval_s)

    def test_capped_cpu_and_memory(self):
        self.write('m/1.csv',
                   [HEADER, bb_row(0, pct=126.0, mem_kb=8388608)])
        trace = traces.load_bitbrains(os.path.join(self.tmp, 'm'))
        self.assertEqual(1.0, trace.cpu[0, 0])
        self.assertEqual(4096.0, trace.mem_used_mb[0, 0])

    def test_never_provisioned_is_skipped_and_listed(self):
        self.write('m/1.csv', [HEADER, bb_row(0)])
        self.write('m/2.csv', [HEADER, bb_row(0, cores=0, mem_prov_kb=0)])
        trace = traces.load_bitbrains(os.path.join(self.tmp, 'm'))
        self.assertEqual(['1.csv'], trace.names)
        self.assertEqual(['2.csv'], [name for name, _r in trace.skipped])

    def test_shorter_file_idles_after_its_end(self):
        self.write('m/1.csv', [HEADER, bb_row(0), bb_row(300), bb_row(600)])
        self.write('m/2.csv', [HEADER, bb_row(0)])
        trace = traces.load_bitbrains(os.path.join(self.tmp, 'm'))
        np.testing.assert_allclose([0.5, 0.0, 0.0], trace.cpu[1])
        self.assertEqual(1, len(trace.notes))

    def test_sample_period_from_the_timestamps(self):
        # one sample a minute, with a missed sample (a 120 s gap) that the
        # median ignores; a one-sample file has no period to compare
        self.write('m/1.csv', [HEADER] + [bb_row(t) for t in
                                          (0, 60, 120, 240, 300, 360)])
        self.write('m/2.csv', [HEADER, bb_row(1000), bb_row(1060)])
        self.write('m/3.csv', [HEADER, bb_row(5)])
        directory = os.path.join(self.tmp, 'm')
        self.assertEqual(60.0, traces.load_bitbrains(directory).interval_s)
        # a declared period that matches is accepted...
        self.assertEqual(60.0, traces.load(traces.BITBRAINS, directory,
                                           60.0).interval_s)
        # ...one that does not is an error, not a replay at another speed
        e = self.assertRaises(traces.TraceError, traces.load,
                              traces.BITBRAINS, directory, 300.0)
        self.assertEqual(
            '%s: --trace-interval 300 s does not match the timestamps of '
            'the trace, one sample every 60 s' % directory, str(e))

    def test_files_with_different_periods(self):
        self.write('m/1.csv', [HEADER, bb_row(0), bb_row(300)])
        path = self.write('m/2.csv', [HEADER, bb_row(0), bb_row(60)])
        e = self.assertRaises(traces.TraceError, traces.load_bitbrains,
                              os.path.join(self.tmp, 'm'))
        self.assertTrue(str(e).startswith(
            '%s: samples every 60 s where ' % path), e)
        self.assertIn('every 300 s', str(e))

    def test_no_file_with_two_samples(self):
        self.write('m/1.csv', [HEADER, bb_row(0)])
        self.assertEqual(traces.DEFAULT_INTERVAL_S, traces.load_bitbrains(
            os.path.join(self.tmp, 'm')).interval_s)

    def test_truncated_row(self):
        path = self.write('m/1.csv', [HEADER, bb_row(0), '300;\t2;\t5200'])
        e = self.assertRaises(traces.TraceError, traces.load_bitbrains,
                              os.path.join(self.tmp, 'm'))
        self.assertEqual('%s:3: truncated row: 3 of 11 columns' % path,
                         str(e))

    def test_header_only(self):
        path = self.write('m/1.csv', [HEADER])
        e = self.assertRaises(traces.TraceError, traces.load_bitbrains,
                              os.path.join(self.tmp, 'm'))
        self.assertEqual('%s:2: truncated: no sample after the header'
                         % path, str(e))

    def test_not_a_number(self):
        row = bb_row(300).split(';\t')
        row[4] = 'high'
        path = self.write('m/1.csv', [HEADER, bb_row(0), ';\t'.join(row)])
        e = self.assertRaises(traces.TraceError, traces.load_bitbrains,
                              os.path.join(self.tmp, 'm'))
        self.assertEqual("%s:3: CPU usage [%%]: not a number: 'high'" % path,
                         str(e))

    def test_bad_header(self):
        path = self.write('m/1.csv', ['a;b;c', bb_row(0)])
        e = self.assertRaises(traces.TraceError, traces.load_bitbrains,
                              os.path.join(self.tmp, 'm'))
        self.assertTrue(str(e).startswith('%s:1: not a Bitbrains header'
                                          % path), str(e))


class TestResample(base.BaseTestCase):

    def _trace(self):
        return traces.Trace(traces.PLANETLAB, 'x', ['a'], 300.0,
                            np.array([[0.1, 0.3, 0.5, 0.7]]))

    def test_same_interval_is_unchanged(self):
        trace = self._trace()
        self.assertIs(trace, traces.resample(trace, 300.0))

    def test_longer_steps_average(self):
        out = traces.resample(self._trace(), 600.0)
        np.testing.assert_allclose([[0.2, 0.6]], out.cpu)
        self.assertEqual(600.0, out.interval_s)

    def test_shorter_steps_hold(self):
        out = traces.resample(self._trace(), 150.0)
        np.testing.assert_allclose(
            [[0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.7, 0.7]], out.cpu)

    def test_uneven_steps_weight_by_time(self):
        # 450 s steps: [0.1 for 300 s, 0.3 for 150 s], [0.3 for 150 s,
        # 0.5 for 300 s]
        out = traces.resample(self._trace(), 450.0)
        np.testing.assert_allclose(
            [[(0.1 * 300 + 0.3 * 150) / 450, (0.3 * 150 + 0.5 * 300) / 450]],
            out.cpu)

    def test_interval_longer_than_trace(self):
        self.assertRaises(traces.TraceError, traces.resample, self._trace(),
                          5000.0)


class TestLocate(TraceTestCase):

    def test_bundled_samples(self):
        path, day = locate.find(traces.PLANETLAB)
        self.assertEqual('20110303', day)
        self.assertTrue(path.startswith(locate.sample_dir()))
        self.assertEqual(40, len(traces.load_planetlab(path)))
        path, month = locate.find(traces.BITBRAINS)
        self.assertEqual('2013-7', month)
        trace = traces.load_bitbrains(path)
        self.assertEqual(24, len(trace))
        self.assertEqual(288, trace.samples)

    def test_forms_of_trace_dir(self):
        self.write('root/planetlab/20110101/vm-a', ['1'])
        self.write('root/planetlab/20110102/vm-a', ['1'])
        root = os.path.join(self.tmp, 'root')
        day_dir = os.path.join(root, 'planetlab', '20110102')
        for trace_dir in (root, os.path.join(root, 'planetlab')):
            self.assertEqual((day_dir, '20110102'), locate.find(
                traces.PLANETLAB, trace_dir, '20110102'))
        self.assertEqual((os.path.join(root, 'planetlab', '20110101'),
                          '20110101'), locate.find(traces.PLANETLAB, root))
        self.assertEqual((day_dir, '20110102'),
                         locate.find(traces.PLANETLAB, day_dir))

    def test_unknown_day(self):
        self.write('root/planetlab/20110101/vm-a', ['1'])
        e = self.assertRaises(traces.TraceError, locate.find,
                              traces.PLANETLAB,
                              os.path.join(self.tmp, 'root'), '20990101')
        self.assertIn('no planetlab trace for 20990101 (there: 20110101)',
                      str(e))

    def test_missing(self):
        path = os.path.join(self.tmp, 'nope')
        e = self.assertRaises(traces.TraceError, locate.find,
                              traces.BITBRAINS, path)
        self.assertEqual('%s: no such trace directory' % path, str(e))
