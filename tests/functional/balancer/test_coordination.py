# SPDX-License-Identifier: Apache-2.0
"""Balancer replicas as separate processes coordinating through Redis.

Each replica is a child process running :data:`REPLICA` (a Coordinator
that prints the hosts it owns whenever that changes). Each test uses its
own tooz namespace and group, whose keys are deleted afterwards.

Redis is reached at ``NOVA_DRS_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379``), which ``tools/lab/redis.sh`` provides. A
server that cannot be reached fails the tests, with a message naming that
script; they are skipped only when ``NOVA_DRS_SKIP_REDIS=1``.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

from oslotest import base
import redis

from nova_drs.balancer.coordination import membership as coordination
from nova_drs import config
from tests.functional.agent import lab
from tests import polling

SETUP = 'tools/lab/redis.sh'
REDIS_URL = os.environ.get('NOVA_DRS_TEST_REDIS_URL',
                           'redis://127.0.0.1:6379')
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..',
                                    '..'))
HOSTS = ['compute-%02d' % i for i in range(24)]
INTERVAL = 0.5
TIMEOUT = 3
#: scheduling noise allowed on top of a bound (shared CI machines)
SLACK = 0.5

REPLICA = r'''
import json, sys, time
from nova_drs import config
from nova_drs.balancer.coordination import membership as coordination
url, group, replica_id, interval, timeout, hosts, hold = sys.argv[1:8]
conf = config.load(groups=['drs', 'coordination'])
for name, value in (('backend_url', url), ('group', group),
                    ('replica_id', replica_id),
                    ('heartbeat_interval', float(interval)),
                    ('member_timeout', int(timeout))):
    conf.set_override(name, value, 'drs_coordination')
coord = coordination.Coordinator(conf).start()
hosts = hosts.split(',')
last = held = None
while True:
    if hold and held is None and coord.is_active():
        held = coord.lock(hold)
        held.__enter__()
        print(json.dumps({'t': time.time(), 'locked': hold}), flush=True)
    state = (coord.is_active(), sorted(coord.owned_hosts(hosts)))
    if state != last:
        last = state
        print(json.dumps({'t': time.time(), 'active': state[0],
                          'owned': state[1]}), flush=True)
    time.sleep(0.02)
'''


def redis_client():
    return redis.Redis.from_url(REDIS_URL.split('?')[0],
                                socket_timeout=3)


class Replica:
    """One balancer replica in a child process."""

    def __init__(self, url, group, replica_id, hold=''):
        self.replica_id = replica_id
        self.lines = []
        self.proc = subprocess.Popen(
            [sys.executable, '-c', REPLICA, url, group, replica_id,
             str(INTERVAL), str(TIMEOUT), ','.join(HOSTS), hold],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def state(self):
        states = [s for s in self.lines if 'owned' in s]
        return states[-1] if states else {'active': False, 'owned': []}

    def owned(self):
        return set(self.state()['owned'])

    def locked(self):
        return any('locked' in line for line in self.lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class RedisCoordinationTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            redis_client().ping()
        except redis.RedisError as e:
            if os.environ.get('NOVA_DRS_SKIP_REDIS') == '1':
                raise cls.skipException('NOVA_DRS_SKIP_REDIS=1: %s' % e)
            raise AssertionError(
                'Redis does not answer at %s (%s). Run %s (as root) first, '
                'or set NOVA_DRS_SKIP_REDIS=1 to skip these tests.'
                % (REDIS_URL, e, SETUP))

    def setUp(self):
        super().setUp()
        suffix = uuid.uuid4().hex[:8]
        self.namespace = 'drs-ft-%s' % suffix
        self.group = 'drs-ft-group-%s' % suffix
        self.replicas = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for replica in self.replicas:
            replica.kill()
        client = redis_client()
        for key in client.scan_iter(match=self.namespace + '*'):
            client.delete(key)

    def url(self, port=None):
        parts = urllib.parse.urlsplit(REDIS_URL)
        netloc = parts.netloc
        if port is not None:
            netloc = '127.0.0.1:%d' % port
        query = 'namespace=%s' % self.namespace
        return urllib.parse.urlunsplit(
            (parts.scheme, netloc, parts.path,
             '&'.join(filter(None, [parts.query, query])), ''))

    def start(self, replica_id, url=None, hold=''):
        replica = Replica(url or self.url(), self.group, replica_id, hold)
        self.replicas.append(replica)
        return replica

    def wait_partition(self, replicas, timeout=15):
        def complete():
            if not all(r.state()['active'] for r in replicas):
                return False
            owned = [r.owned() for r in replicas]
            return (sum(len(o) for o in owned) == len(HOSTS)
                    and set().union(*owned) == set(HOSTS)
                    and all(owned))
        polling.wait_for(complete, timeout,
                         'the replicas to share all hosts')
        return [r.owned() for r in replicas]

    @staticmethod
    def first_time(replicas, predicate, after):
        """When the replicas' reports first made ``predicate`` true."""
        events = sorted((line['t'], r) for r in replicas
                        for line in list(r.lines) if 'owned' in line)
        for t, _r in events:
            if t < after:
                continue
            latest = {}
            for r in replicas:
                states = [s for s in r.lines if 'owned' in s
                          and s['t'] <= t]
                latest[r] = set(states[-1]['owned']) if states else set()
            if predicate(latest):
                return t
        return None

    def coordinator(self, replica_id):
        conf = config.load(groups=['drs', 'coordination'])
        for name, value in (('backend_url', self.url()),
                            ('group', self.group),
                            ('replica_id', replica_id),
                            ('heartbeat_interval', INTERVAL),
                            ('member_timeout', TIMEOUT)):
            conf.set_override(name, value, 'drs_coordination')
        coord = coordination.Coordinator(conf).start()
        self.addCleanup(coord.stop)
        self.assertTrue(coord.wait_active(10), 'coordinator not active')
        return coord

    def test_takeover_after_kill(self):
        replicas = [self.start('replica-%d' % i) for i in range(3)]
        owned = self.wait_partition(replicas)
        victim, survivors = replicas[0], replicas[1:]
        killed_at = time.time()
        victim.kill()
        polling.wait_for(
            lambda: set().union(*(r.owned() for r in survivors))
            == set(HOSTS), TIMEOUT + INTERVAL + 10,
            'the survivors to own the killed replica\'s hosts')
        took = self.first_time(
            survivors, lambda latest: owned[0] <= set().union(
                *latest.values()), killed_at) - killed_at
        print('\ntakeover after kill -9: %.2f s for %d hosts (bound '
              'member_timeout + heartbeat_interval = %.1f s)'
              % (took, len(owned[0]), TIMEOUT + INTERVAL))
        self.assertLessEqual(took, TIMEOUT + INTERVAL + SLACK)
        self.wait_partition(survivors)

    def test_lock_refused_to_another_process(self):
        name = coordination.instance_lock_name(uuid.uuid4())
        holder = self.start('holder', hold=name)
        polling.wait_for(holder.locked, 15, 'the holder to lock')
        coord = self.coordinator('other')
        e = self.assertRaises(coordination.LockNotAcquired,
                              coord.lock(name).__enter__)
        self.assertIn('held by another replica', str(e))
        # the holder dies: its lock expires with its membership
        killed_at = time.time()
        holder.kill()
        with coord.lock(name, wait=TIMEOUT + INTERVAL + 5):
            freed = time.time() - killed_at
        print('\nlock of a killed replica free after %.2f s' % freed)
        self.assertLessEqual(freed, TIMEOUT + INTERVAL + SLACK)

    def test_backend_unreachable(self):
        target = urllib.parse.urlsplit(REDIS_URL)
        proxy = lab.TcpProxy((target.hostname, target.port or 6379))
        proxy.start()
        self.addCleanup(proxy.stop)
        cut_off = self.start('cut-off', url=self.url(proxy.port))
        others = [self.start('other-%d' % i) for i in range(2)]
        owned = self.wait_partition([cut_off] + others)
        cut_at = time.time()
        proxy.stop()
        polling.wait_for(lambda: not cut_off.state()['active'],
                         TIMEOUT + 10, 'the cut-off replica to let go')
        dropped = cut_off.state()['t'] - cut_at
        polling.wait_for(
            lambda: set().union(*(r.owned() for r in others))
            == set(HOSTS), TIMEOUT + INTERVAL + 10,
            'the others to own the cut-off replica\'s hosts')
        taken = self.first_time(
            others, lambda latest: owned[0] & set().union(
                *latest.values()), cut_at) - cut_at
        print('\nbackend cut: the replica stopped owning after %.2f s, '
              'the others took its hosts after %.2f s' % (dropped, taken))
        self.assertEqual(set(), cut_off.owned())
        self.assertLessEqual(dropped, TIMEOUT - INTERVAL + SLACK)
        # never two owners: it let go before anyone took one of its hosts
        self.assertLess(dropped, taken)
        # the backend comes back: it joins again and owns its hosts again
        proxy.start()
        self.assertEqual(owned, self.wait_partition([cut_off] + others))
