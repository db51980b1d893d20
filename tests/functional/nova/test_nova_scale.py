# SPDX-License-Identifier: Apache-2.0
"""The balancer's reads of the Nova lab with more compute nodes.

One more nova-compute, ``drs-scale``, runs on the lab with first
:data:`SMALL` then :data:`LARGE` fake nodes (``tools/lab/nova-nodes.sh``,
an Ironic-style multi-node compute) and is deleted after. At each size
the reads of :mod:`nova_drs.bench.nova_reads` (the benchmark, which goes
to a thousand nodes and more) are made against the real Nova and
Placement, every request counted on the wire: the balancer's calls per
refresh, and per full read, must be the same at both sizes, and every
read must see every compute node; the reader of before (one Placement
request per compute node) is measured beside it. About 50 s on the
2-core test machine, most of it Nova creating the nodes. Figures are
printed (``pytest -s``).
"""

from nova_drs.bench import nova_reads
from tests.functional.nova import fixtures as nova_fixtures

SMALL = 8
LARGE = 32


class TestReadsAtScale(nova_fixtures.NovaLabTestCase):

    def test_calls_per_refresh_do_not_depend_on_the_node_count(self):
        # registered before the start, so that a failed start is undone
        self.addCleanup(nova_reads.nodes, 'delete')
        rows = []
        for size in (SMALL, LARGE):
            nova_reads.nodes('start', size)
            row = nova_reads.measure(size, refreshes=2)
            print('%(nodes)d nodes: full read %(full_calls)d calls '
                  '%(full_s).2f s, refresh %(inc_calls)d calls %(inc_s).2f '
                  's, before %(before_calls)d calls %(before_s).2f s' % row)
            rows.append(row)
            # the lab's computes and every node of drs-scale
            self.assertEqual(len(nova_fixtures.HOSTS) + size, row['nodes'])
            for seen in ('full_seen', 'inc_seen', 'before_seen'):
                self.assertEqual(row['nodes'], row[seen], seen)
            # the reader reports what it sends
            self.assertEqual(row['full_calls'], row['full_counted'])
            self.assertEqual(row['inc_calls'], row['inc_counted'])
        small, large = rows
        self.assertEqual(small['inc_calls'], large['inc_calls'])
        self.assertEqual(small['full_calls'], large['full_calls'])
        self.assertLess(large['inc_calls'], large['full_calls'])
        # before: one more Placement request per compute node
        self.assertEqual(LARGE - SMALL,
                         large['before_calls'] - small['before_calls'])
        self.assertEqual([], nova_reads.check(rows))
