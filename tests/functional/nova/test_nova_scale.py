# SPDX-License-Identifier: Apache-2.0
"""The balancer's reads of the Nova lab with more compute nodes.

The reads of :mod:`nova_drs.bench.nova_reads` (the benchmark, which goes
to a thousand nodes), made against the real Nova and Placement with
every request counted on the wire, first on the lab as it is (its
computes of one node each), then with one more nova-compute,
``drs-scale``, that reports :data:`NODES` fake nodes
(``tools/lab/nova-nodes.sh``, an Ironic-style multi-node compute; deleted
after). The balancer's calls per refresh must be the same at both
sizes (a full read's, one more: for the host drs-scale), and every read
must see every compute node; the reader of before (one Placement request
per compute node) is measured beside it. Most of the time is Nova
starting the compute and creating its nodes. Figures are printed
(``pytest -s``).
"""

from nova_drs.bench import nova_reads
from tests.functional.nova import fixtures as nova_fixtures

#: fake nodes of drs-scale. Few, since Nova creates each in 0.4-1.2 s on
#: the test machine, yet enough: every check below is an exact count, so a
#: cost per compute node would show as NODES - 1 calls more (the reader
#: of before shows NODES more), and a node not seen as a miss
NODES = 6


class TestReadsAtScale(nova_fixtures.NovaLabTestCase):

    def test_calls_per_refresh_do_not_depend_on_the_node_count(self):
        # a drs-scale left by an interrupted run would be counted at the
        # lab's own size: deleted first (nothing to do without one)
        nova_reads.nodes('delete')
        # registered before the start, so that a failed start is undone
        self.addCleanup(nova_reads.nodes, 'delete')
        rows = []
        for size in (0, NODES):
            if size:
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
        # a full read: one more for drs-scale's first node (a host more),
        # none for its other nodes
        self.assertEqual(small['full_calls'] + 1, large['full_calls'])
        self.assertEqual(small['hosts'] + 1, large['hosts'])
        self.assertLess(large['inc_calls'], large['full_calls'])
        # before: one more Placement request per compute node
        self.assertEqual(NODES,
                         large['before_calls'] - small['before_calls'])
        self.assertEqual([], nova_reads.check(rows))
