# SPDX-License-Identifier: Apache-2.0
"""Partitioned intake: two replicas on a real RabbitMQ and Redis.

Each replica is a child process (:data:`REPLICA`: a Coordinator on Redis
and a :class:`nova_drs.balancer.intake.partitions.PartitionedIntake` on
RabbitMQ) that prints the partitions it reads and every report it takes
in. The agents are the agent's own publisher with ``[drs_agent]
partitions``, plus one still publishing the old way (no partitions). A
replica is killed with SIGKILL; the other must take its partitions over
with no report lost.

Needs RabbitMQ (``tools/lab/rabbitmq.sh``) and Redis
(``tools/lab/redis.sh``), as the listener and coordination suites.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import fixtures
from oslotest import base
import redis

from nova_drs.agent import publisher
from nova_drs import config
from nova_drs.notifications import partition
from nova_drs.notifications import payload as payload_mod
from tests.functional.agent import lab
from tests.functional.balancer import test_coordination as coord_suite
from tests.functional.balancer import test_listener as listener_suite
from tests.functional import broker
from tests import polling
from tests.unit.balancer import test_host_view as docs

PARTITIONS = 8
HOSTS = ['ft-part-%02d' % n for n in range(12)]
LEGACY_HOST = 'ft-part-legacy'
INTERVAL = 0.5
TIMEOUT = 3

REPLICA = r'''
import json, sys, time
from nova_drs import config
from nova_drs.balancer.coordination import membership as coordination
from nova_drs.balancer.intake import listener, partitions
conf = config.load([sys.argv[1]])
out_lock = __import__('threading').Lock()

def say(**doc):
    doc['t'] = time.time()
    with out_lock:
        print(json.dumps(doc), flush=True)

class Handler(listener.MetricsHandler):
    def on_metrics(self, reports):
        for r in reports:
            say(host=r.host, seq=r.sequence, run=r.run_id, kind='metrics')
    def on_hotspots(self, reports):
        for r in reports:
            say(host=r.host, seq=r.sequence, run=r.run_id, kind='hotspot')

coord = coordination.Coordinator(
    conf, partitions=conf.drs_listener.partitions).start()
intake = partitions.PartitionedIntake(conf, Handler(), coord)
intake.start()
last = None
while True:
    owned = sorted(intake.owned)
    if owned != last:
        last = owned
        say(owned=owned, active=coord.is_active())
    time.sleep(0.02)
'''


class Replica(coord_suite.Replica):
    """A replica child process reading its partitions."""

    def __init__(self, conf_path, replica_id):
        self.replica_id = replica_id
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, '-c', REPLICA, conf_path],
            cwd=coord_suite.REPO, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def state(self):
        states = [s for s in list(self.lines) if 'owned' in s]
        return states[-1] if states else {'owned': []}

    def reports(self):
        return [line for line in list(self.lines) if 'host' in line]


class PartitionedIntakeTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        listener_suite._check_broker()
        try:
            coord_suite.redis_client().ping()
        except redis.RedisError as e:
            if os.environ.get('NOVA_DRS_SKIP_REDIS') == '1':
                raise cls.skipException('NOVA_DRS_SKIP_REDIS=1: %s' % e)
            raise AssertionError('Redis does not answer at %s (%s): run %s'
                                 % (coord_suite.REDIS_URL, e,
                                    coord_suite.SETUP))

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        suffix = uuid.uuid4().hex[:8]
        self.topic = 'drs_ft_partitions_%s' % suffix
        self.namespace = 'drs-ft-%s' % suffix
        self.group = 'drs-ft-part-%s' % suffix
        self.replicas = []
        self.published = []          # (host, run, seq)
        queues = ['%s.sample' % self.topic] + [
            '%s.sample' % partition.partition_topic(self.topic, p,
                                                    PARTITIONS)
            for p in range(PARTITIONS)]
        self.addCleanup(broker.delete_queues, lab.TRANSPORT_URL, queues)
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for replica in self.replicas:
            replica.kill()
        client = coord_suite.redis_client()
        for key in client.scan_iter(match=self.namespace + '*'):
            client.delete(key)

    def conf_file(self, name, extra):
        path = os.path.join(self.tmp, name)
        with open(path, 'w') as f:
            f.write(textwrap.dedent("""\
                [DEFAULT]
                transport_url = %(url)s
                [drs_agent]
                topic = %(topic)s
                partitions = %(partitions)d
                [drs_listener]
                topic = %(topic)s
                partitions = %(partitions)d
                batch_timeout = 0.05
                [oslo_messaging_rabbit]
                rabbit_retry_interval = 1
                rabbit_interval_max = 2
                """) % {'url': lab.TRANSPORT_URL, 'topic': self.topic,
                        'partitions': PARTITIONS})
            f.write(textwrap.dedent(extra))
        return path

    def replica(self, name):
        redis_url = '%s?namespace=%s' % (coord_suite.REDIS_URL.split('?')[0],
                                         self.namespace)
        path = self.conf_file('%s.conf' % name, """\
            [drs_coordination]
            backend_url = %s
            group = %s
            replica_id = %s
            heartbeat_interval = %s
            member_timeout = %d
            """ % (redis_url, self.group, name, INTERVAL, TIMEOUT))
        replica = Replica(path, name)
        self.replicas.append(replica)
        return replica

    def agent(self, host, partitions=PARTITIONS):
        conf = config.load([self.conf_file('agent.conf', '')])
        conf.set_override('host', host, 'drs_agent')
        conf.set_override('partitions', partitions, 'drs_agent')
        pub = publisher.Publisher(conf, signer=None)
        pub.start()
        self.addCleanup(pub.stop, 5.0)
        return pub

    def publish_round(self, agents):
        for host, pub in agents.items():
            pub.publish(payload_mod.METRICS_EVENT,
                        docs.metrics_doc(host, at=time.time()))
            self.published.append((host, pub.run_id, pub.sequence))

    def wait_shared(self, replicas, timeout=20):
        def shared():
            owned = [set(r.state()['owned']) for r in replicas]
            return (all(owned) and sum(map(len, owned)) == PARTITIONS
                    and set().union(*owned) == set(range(PARTITIONS)))
        polling.wait_for(shared, timeout, 'the replicas to share the '
                         'partitions')
        return {r.replica_id: set(r.state()['owned']) for r in replicas}

    def received(self):
        seen = {}
        for replica in self.replicas:
            for line in replica.reports():
                key = (line['host'], line['run'], line['seq'])
                seen.setdefault(key, []).append(replica.replica_id)
        return seen

    def wait_all_received(self, timeout=30):
        polling.wait_for(
            lambda: set(self.published) <= set(self.received()), timeout,
            'every published report to be received')

    def test_each_reads_its_partitions_and_a_kill_loses_nothing(self):
        r1, r2 = self.replica('r1'), self.replica('r2')
        owned = self.wait_shared([r1, r2])
        agents = {host: self.agent(host) for host in HOSTS}
        agents[LEGACY_HOST] = self.agent(LEGACY_HOST, partitions=0)
        for _ in range(3):
            self.publish_round(agents)
            time.sleep(0.2)
        self.wait_all_received()

        # each replica took in exactly the hosts of its partitions,
        # and every report once; the legacy agent's reports reached the
        # owner of its host's partition (the other replica forwarded them)
        for replica in (r1, r2):
            hosts = {line['host'] for line in replica.reports()}
            expected = {h for h in list(HOSTS) + [LEGACY_HOST]
                        if partition.partition_of(h, PARTITIONS)
                        in owned[replica.replica_id]}
            self.assertEqual(expected, hosts, replica.replica_id)
        twice = {k: v for k, v in self.received().items() if len(v) > 1}
        self.assertEqual({}, twice)

        # kill r2; keep publishing while r1 takes its partitions over
        killed_at = time.time()
        r2.kill()
        for _ in range(int(TIMEOUT / 0.5) + 4):
            self.publish_round(agents)
            time.sleep(0.5)
        polling.wait_for(
            lambda: set(r1.state()['owned']) == set(range(PARTITIONS)),
            TIMEOUT * 4, 'r1 to own every partition')
        took_over = [line['t'] for line in r1.lines
                     if line.get('owned') == list(range(PARTITIONS))
                     and line['t'] >= killed_at][0]
        # the lease rule: not before r2's membership expired
        self.assertGreaterEqual(took_over - killed_at, TIMEOUT - INTERVAL)
        for _ in range(2):
            self.publish_round(agents)
            time.sleep(0.2)
        self.wait_all_received()

        received = self.received()
        # nothing lost: every report published reached a replica; one
        # handled by r2 and not yet acknowledged when it was killed is
        # delivered again to r1 (at-least-once; the host view ignores a
        # sequence number it has seen), never taken twice by one replica
        self.assertEqual(set(), set(self.published) - set(received))
        again = {k: v for k, v in received.items() if len(v) > 1}
        for key, by in again.items():
            self.assertEqual(['r2', 'r1'], by, key)
        print('\n%d reports from %d agents; r2 killed, r1 read every '
              'partition %.1f s later (member_timeout %d s); %d redelivered'
              % (len(self.published), len(agents), took_over - killed_at,
                 TIMEOUT, len(again)))
        self.assertEqual(-signal.SIGKILL, r2.proc.returncode)
