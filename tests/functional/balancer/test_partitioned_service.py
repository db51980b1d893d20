# SPDX-License-Identifier: Apache-2.0
"""Two real balancers with partitioned intake, on the Nova lab.

The agents publish to their hosts' partitions, the two
``nova-drs-balancer`` processes share the partitions through Redis, and
the replica ids are chosen so that the hot host's owner owns no other
host: every destination it can choose is judged by the state the other
replica shares through the database (``host_states``), since it receives
no metrics of those hosts. Same requirements as ``test_service``.
"""

import itertools
import os

from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer import plan_states
from nova_drs.notifications import partition
from tests.functional.agent import lab as agent_lab
from tests.functional.balancer import service_lab
from tests.functional.balancer import test_service

HOSTS = test_service.HOSTS
HOT = test_service.HOT
PARTITIONS = 8
EXTRA = """
    [drs_listener]
    partitions = %d
    [drs_agent]
    partitions = %d
    """ % (PARTITIONS, PARTITIONS)


def replica_ids(tag):
    """Two replica ids whose ring gives the hot host's owner no other host.

    :returns: (id of the hot host's owner, id of the other)
    """
    for n in itertools.count():
        ids = ['r1-%s-%d' % (tag, n), 'r2-%s-%d' % (tag, n)]
        ring = coordination.ring(ids)
        owner = {h: coordination.owner_of(h, ring, PARTITIONS)
                 for h in HOSTS}
        if all(owner[h] != owner[HOT] for h in HOSTS if h != HOT):
            other = [i for i in ids if i != owner[HOT]][0]
            return owner[HOT], other


class PartitionedServiceTest(test_service.ServiceTestCase):

    DATABASE = 'mysql'

    def setUp(self):
        super().setUp()
        if len(HOSTS) < 2:
            self.skipTest('needs 2 fake computes')
        # the agents publish to their partitions
        self.agent_conf = service_lab.write_conf(
            os.path.join(self.tmp, 'agents.conf'),
            **self.values('agents', transport=agent_lab.TRANSPORT_URL,
                          extra=EXTRA))
        self.queues.extend(
            '%s.sample' % partition.partition_topic(self.topic, p,
                                                    PARTITIONS)
            for p in range(PARTITIONS))

    def test_hot_host_relieved_onto_another_replicas_host(self):
        owner_id, other_id = replica_ids(self.tag)
        servers = self.boot_hot_servers()
        procs = {name: self.balancer(name, replica_id=rid, extra=EXTRA)
                 for name, rid in (('owner', owner_id),
                                   ('other', other_id))}
        agents = self.agents()
        self.wait_at_rest(agents, procs.values())
        # each replica writes the state of its own hosts only
        self.wait_for(
            'every host shared by its owner',
            lambda: {s.host: s.reported_by
                     for s in self.db.list_host_states()}
            == {h: owner_id if h == HOT else other_id for h in HOSTS},
            procs=procs.values())
        self.make_hot(agents, servers)
        done = self.wait_for(
            'a completed migration',
            lambda: self.finished(plan_states.ACTION_COMPLETED),
            procs=procs.values())
        self.assertEqual([], self.finished(plan_states.ACTION_FAILED))
        action = done[0]
        self.assertEqual(HOT, action.source)
        # a host the planning replica gets no metrics of
        self.assertIn(action.target, HOSTS[1:])
        self.assertEqual(owner_id, action.owner)
        server = self.lab.conn.compute.get_server(action.instance_uuid)
        self.assertEqual(action.target, server.compute_host)
        log = procs['owner'].log()
        self.assertIn('Partitioned intake: reading', log)
