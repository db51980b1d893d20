# SPDX-License-Identifier: Apache-2.0
"""The simulation's HTML report (a jinja2 template, autoescaped)."""

import os

import fixtures
from oslotest import base

from nova_drs.simulator import report

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
                      '(0 unplaced), 12 steps of 300 s (1.0 h), seed 4</p>',
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
