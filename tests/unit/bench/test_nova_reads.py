# SPDX-License-Identifier: Apache-2.0
"""The Nova reads benchmark's judgement of partial reads."""

from oslotest import base

from nova_drs.bench import nova_reads


def partial(inventories, hosts, seen_equal=True):
    return {'inventories': inventories, 'hosts': hosts,
            'calls': [7] * len(inventories),
            'shared': [0] * len(inventories), 'seen_equal': seen_equal,
            'seconds': [0.1] * len(inventories)}


class TestCheckPartial(base.BaseTestCase):

    def test_disjoint_reads_of_one_full_read_pass(self):
        self.assertEqual([], nova_reads.check_partial(
            partial([['a', 'b'], ['c'], []], 3)))

    def test_misses(self):
        self.assertEqual(
            ['partial reads: a provider read by two replicas',
             'partial reads: 4 inventories read by the replicas together '
             'for 3 hosts (one full read)'],
            nova_reads.check_partial(partial([['a', 'b'], ['b', 'c']], 3)))
        self.assertEqual(
            ['partial reads: 2 inventories read by the replicas together '
             'for 3 hosts (one full read)'],
            nova_reads.check_partial(partial([['a'], ['c']], 3)))
        self.assertEqual(
            ["partial reads: a replica's capacities differ from a whole "
             "read's"],
            nova_reads.check_partial(partial([['a'], ['b']], 2,
                                             seen_equal=False)))


class TestReadConcurrency(base.BaseTestCase):

    def test_the_readers_configuration_has_the_option_asked(self):
        for asked, configured in ((None, 8), (1, 1), (16, 16)):
            text = nova_reads.with_concurrency(nova_reads.CLIENT_CONF,
                                               asked)
            conf, _ = nova_reads.connect(client_conf=text)
            self.assertEqual(configured,
                             conf.drs_balancer.placement_read_concurrency)
            # the client settings are kept
            self.assertEqual('http://127.0.0.1:8778',
                             conf.drs_placement.endpoint_override)
