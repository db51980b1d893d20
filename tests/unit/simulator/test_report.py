# SPDX-License-Identifier: Apache-2.0
"""The simulation's HTML report (a jinja2 template, autoescaped)."""

from html import parser as html_parser
import os

import fixtures
import numpy as np
from oslotest import base

from nova_drs.simulator import engine
from nova_drs.simulator import plots
from nova_drs.simulator import report
from nova_drs.simulator import scenario
from nova_drs.simulator import settings
from nova_drs.simulator import traces
from tests.unit import clusters

SCRIPT = '<script>alert("x")</script>'


def _results(trace_dir='/srv/traces/day-1', skipped=(), unplaced=()):
    metrics = {key: 0 for key, _title, _fmt in report.COLUMNS}
    return {
        'input': {
            'trace': 'planetlab', 'day': None, 'trace_dir': trace_dir,
            'instances': 3, 'unplaced_instances': len(unplaced),
            'unplaced_names': list(unplaced), 'steps': 12,
            'interval_s': 300.0, 'duration_h': 1.0, 'seed': 4,
            'hosts': {'count': 2, 'vcpus': 8, 'memory_mb': 65536,
                      'reserved_host_memory_mb': 512,
                      'cpu_allocation_ratio': 4.0,
                      'ram_allocation_ratio': 1.5,
                      'disk_mb_s': 0.0, 'net_mb_s': 0.0},
            'balloon_policy': None, 'notes': [],
            'vms_skipped': [{'name': n, 'reason': 'no samples'}
                            for n in skipped]},
        'strategies': {'none': dict(metrics),
                       'hotspot': dict(metrics, migrations=3)},
    }


class TestHtmlReport(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def write(self, results, figures=()):
        path = report.write_html(results, self.tmp, list(figures))
        self.assertEqual(os.path.join(self.tmp, 'index.html'), path)
        with open(path, encoding='utf-8') as f:
            return f.read()

    def test_content(self):
        page = self.write(_results(), [('host-load.png', 'Host load')])
        self.assertTrue(page.startswith('<!DOCTYPE html>\n'))
        self.assertTrue(page.endswith('</html>\n'))
        self.assertIn('<p>planetlab trace /srv/traces/day-1: 3 instances '
                      '(0 unplaced), 12 samples of 300 s (1.0 h), agents '
                      'every 300 s, measured every 300 s, seed 4</p>',
                      page)
        self.assertIn('<tr><th>strategy</th><th>SLATAH %</th>', page)
        self.assertIn('<tr><td>hotspot</td><td>0.000</td>', page)
        self.assertIn('<td>3</td>', page)
        self.assertIn('<h2>Host load</h2>\n'
                      '<img src="host-load.png" alt="Host load">', page)
        # the legend, escaped like any text
        self.assertIn('CPU demand &gt;= 100%', page)
        self.assertIn('<a href="results.json">results.json</a>', page)

    def test_user_strings_are_escaped(self):
        # trace directory, VM names of the trace and figure captions are
        # the user's; none may become markup
        page = self.write(
            _results(trace_dir='/tmp/' + SCRIPT, skipped=[SCRIPT],
                     unplaced=['<img src=x onerror=alert(1)>']),
            [('a".png', 'load & <b>x</b>')])
        self.assertNotIn('<script>', page)
        self.assertNotIn('<img src=x', page)
        self.assertNotIn('<b>x', page)
        self.assertIn('/tmp/&lt;script&gt;alert(&#34;x&#34;)'
                      '&lt;/script&gt;', page)
        self.assertIn('skipped, no samples: &lt;script&gt;', page)
        self.assertIn('&lt;img src=x onerror=alert(1)&gt;', page)
        self.assertIn('<img src="a&#34;.png" alt="load &amp; '
                      '&lt;b&gt;x&lt;/b&gt;">', page)


class _Page(html_parser.HTMLParser):
    """The parts of ``index.html`` the tests read: figures and tables."""

    def __init__(self, text):
        super().__init__()
        self.figures = []  # (src, alt)
        self.tables = {}  # h3 title -> [[cell, ...], ...]
        self._heading = None
        self._text = None
        self._table = None
        self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'img':
            self.figures.append((attrs['src'], attrs['alt']))
        elif tag in ('h3', 'td'):
            self._text = ''
        elif tag == 'table' and self._heading is not None:
            self._table = self.tables.setdefault(self._heading, [])
        elif tag == 'tr' and self._table is not None:
            self._row = []

    def handle_endtag(self, tag):
        if tag == 'h3':
            self._heading, self._text = self._text, None
        elif tag == 'td' and self._row is not None:
            self._row.append(self._text)
            self._text = None
        elif tag == 'tr' and self._row is not None:
            if self._row:
                self._table.append(self._row)
            self._row = None
        elif tag == 'table':
            self._table = None
            self._heading = None

    def handle_data(self, data):
        if self._text is not None:
            self._text += data


def _trace(vms=8, samples=12, seed=3):
    rng = np.random.default_rng(seed)
    return traces.Trace(
        kind=traces.PLANETLAB, source='/srv/synthetic',
        names=['vm-%02d' % i for i in range(vms)], interval_s=300.0,
        cpu=rng.uniform(0.2, 1.0, size=(vms, samples)))


class TestRealReport(base.BaseTestCase):
    """A small simulation through to the page: settings and the plots."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def simulate(self, names, hosts=4, **overrides):
        conf = clusters.conf(**overrides)
        spec = scenario.host_spec(traces.PLANETLAB, hosts, vcpus=4,
                                  memory_mb=16384)
        scen = scenario.build(_trace(), spec, conf, engine.Options(
            balloon=False), seed=5, extra_info={'strategies': names})
        return scenario.run(scen, names)

    def page(self, results, histories, limit):
        path = report.write_report(results, histories, self.tmp,
                                   host_rows_limit=limit)
        with open(path, encoding='utf-8') as f:
            return _Page(f.read())

    def test_settings_are_the_options_read(self):
        results, histories = self.simulate(
            ['none', 'hotspot', 'hotspot:spread'],
            drs__cpu_threshold=0.7, drs_balancer__relief_margin=0.12)
        page = self.page(results, histories, limit=None)
        drs = {row[0]: row[1:] for row in page.tables[
            '[drs] (read by the simulation)']}
        self.assertEqual(['0.7', 'override'], drs['cpu_threshold'])
        self.assertEqual(['0.9', 'default'], drs['memory_threshold'])
        balancer = {row[0]: row[1:] for row in page.tables[
            '[drs_balancer] (read by the simulation)']}
        self.assertEqual(['0.12', 'override'], balancer['relief_margin'])
        self.assertIn('destination_headroom', balancer)
        # the simulated balancer plans every planning_interval
        self.assertEqual(['60', 'default'], balancer['planning_interval'])
        # read by the service only: the simulation does not use it
        self.assertNotIn('inventory_refresh_interval', balancer)
        # balloon off: its options decided nothing and are not listed
        self.assertNotIn('[drs_balloon] (read by the simulation)',
                         page.tables)
        run = {row[0]: row[1:] for row in page.tables['Run']}
        self.assertEqual(['destination policy pack',
                          '[drs_balancer] destination_policy'],
                         run['strategy hotspot'])
        self.assertEqual(['destination policy spread', 'strategy name'],
                         run['strategy hotspot:spread'])
        self.assertEqual('5', run['seed'][0])
        hosts = {row[0]: row[1] for row in page.tables['Hosts']}
        self.assertEqual('4', hosts['count'])
        # hotspot:spread overrode it for its run only: the value and the
        # source are the configured ones
        self.assertEqual(['pack', 'default'],
                         balancer['destination_policy'])

    def test_no_strategy_no_ceiling(self):
        # relief_margin is read by the strategies only: with "none" alone
        # it decided nothing, and no ceiling is drawn
        results, _ = self.simulate(['none'], drs__cpu_threshold=0.7)
        self.assertNotIn('relief_margin',
                         results['input']['settings']['drs_balancer'])
        self.assertEqual({'cpu': (0.7, None), 'memory': (0.9, None)},
                         plots.limits(results))
        results, _ = self.simulate(['hotspot'], drs__cpu_threshold=0.7)
        cpu = plots.limits(results)['cpu']
        self.assertEqual(0.7, cpu[0])
        self.assertAlmostEqual(0.65, cpu[1])

    def test_host_load_view_by_host_count(self):
        results, histories = self.simulate(['none', 'hotspot'],
                                           drs__cpu_threshold=0.7)
        src, alt = self.page(results, histories, limit=4).figures[0]
        self.assertEqual('host-load.png', src)
        self.assertEqual('Host load over time: one row per host', alt)
        src, alt = self.page(results, histories, limit=3).figures[0]
        self.assertEqual('host-load.png', src)
        self.assertEqual('Host load over time: percentiles over the active '
                         'hosts (more than 3 hosts)', alt)

    def test_thresholds_drawn(self):
        results, histories = self.simulate(['hotspot'],
                                           drs__cpu_threshold=0.7)
        fig, _ = plots.host_load_figure(results, histories, limit=1)
        try:
            cpu_ax, memory_ax = fig.axes[0], fig.axes[1]
            lines = {line.get_label(): line.get_ydata()[0]
                     for line in cpu_ax.get_lines()}
            self.assertEqual(0.7, lines[plots.THRESHOLD_LABEL])
            self.assertAlmostEqual(0.65, lines[plots.CEILING_LABEL])
            self.assertIn('threshold 0.7, ceiling 0.65',
                          cpu_ax.get_ylabel())
            lines = {line.get_label(): line.get_ydata()[0]
                     for line in memory_ax.get_lines()}
            self.assertEqual(0.9, lines[plots.THRESHOLD_LABEL])
        finally:
            plots.plt.close(fig)
        fig, _ = plots.host_load_figure(results, histories, limit=10)
        try:
            # per-host heat map: the lines are on the colour bars
            labels = [ax.get_ylabel() for ax in fig.axes]
            self.assertIn('CPU load (threshold 0.7, ceiling 0.65)', labels)
            self.assertIn('memory load (threshold 0.9, ceiling 0.85)',
                          labels)
        finally:
            plots.plt.close(fig)


class TestLoadBands(base.BaseTestCase):

    def test_percentiles_of_active_hosts(self):
        # step 0: hosts 0-9 active at 0.1 ... 1.0, host 10 empty (0)
        load = np.zeros((2, 11))
        load[0, :10] = np.arange(1, 11) / 10.0
        active = np.zeros((2, 11), dtype=bool)
        active[0, :10] = True
        # step 1: one active host at 0.4
        load[1, 3] = 0.4
        active[1, 3] = True
        bands = plots.load_bands(load, active)
        # linear interpolation between the 5th and 6th of 10 values
        self.assertAlmostEqual(0.55, bands['p50'][0])
        self.assertAlmostEqual(0.91, bands['p90'][0])
        self.assertAlmostEqual(1.0, bands['max'][0])
        for key in ('p50', 'p90', 'p99', 'max'):
            self.assertAlmostEqual(0.4, bands[key][1])

    def test_no_active_host(self):
        bands = plots.load_bands(np.zeros((1, 3)),
                                 np.zeros((1, 3), dtype=bool))
        self.assertTrue(np.isnan(bands['p50'][0]))
        self.assertTrue(np.isnan(bands['max'][0]))


class TestRecordingConf(base.BaseTestCase):

    def test_records_reads_and_sources(self):
        conf = clusters.conf(drs__cpu_threshold=0.6)
        rec = settings.RecordingConf(conf)
        self.assertEqual(0.6, rec.drs.cpu_threshold)
        self.assertEqual(0.6, rec['drs']['cpu_threshold'])
        group = rec.drs_balancer
        self.assertEqual(conf.drs_balancer.relief_margin,
                         group.relief_margin)
        # overrides go to the wrapped object
        rec.set_override('relief_margin', 0.2, 'drs_balancer')
        self.assertEqual(0.2, conf.drs_balancer.relief_margin)
        self.assertEqual({'drs': ['cpu_threshold'],
                          'drs_balancer': ['relief_margin']}, rec.read())
        self.assertEqual(
            {'drs': {'cpu_threshold': {'value': 0.6,
                                       'source': 'override'}},
             'drs_balancer': {'relief_margin': {'value': 0.2,
                                                'source': 'override'}}},
            settings.collect(rec))
        rec.clear_override('relief_margin', 'drs_balancer')
        self.assertEqual('default', settings.collect(rec)['drs_balancer'][
            'relief_margin']['source'])

    def test_configuration_file_is_named(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[drs]\nmemory_threshold = 0.75\n')
        from nova_drs import config
        conf = config.load(config_files=[path], default_files=False)
        rec = settings.RecordingConf(conf)
        self.assertEqual(0.75, rec.drs.memory_threshold)
        self.assertEqual({'value': 0.75,
                          'source': 'configuration file %s' % path},
                         settings.collect(rec)['drs']['memory_threshold'])
