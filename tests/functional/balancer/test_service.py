# SPDX-License-Identifier: Apache-2.0
"""nova-drs-balancer end to end on real parts.

Every test runs the real ``nova-drs-balancer`` command in separate
processes, against the Nova lab (nova-api, conductor, scheduler, placement
and three ``FakeLiveMigrateDriver`` computes; ``tools/lab/nova-start.sh``),
RabbitMQ for the agents' metrics and Nova's notifications, Redis for tooz,
and a real database (SQLite, PostgreSQL or MariaDB). The agents of the
three fake hosts are played by :class:`service_lab.FakeAgents`, which
publish with the agent's own publisher the loads the test sets.

Run with ``pytest -s`` to see the timelines. Needs what
``tools/run-tests.sh`` starts; ``NOVA_DRS_SKIP_NOVA=1``,
``NOVA_DRS_SKIP_REDIS=1`` or ``NOVA_DRS_SKIP_DB=1`` skip them.
"""

import datetime
import os
import socket
import time
import unittest
import uuid

import fixtures
from tooz import hashring

from nova_drs.balancer.intake import listener
from nova_drs.balancer.intake import nova_events
from nova_drs.balancer import plan_states
from nova_drs import config
from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.agent import lab as agent_lab
from tests.functional.balancer import service_lab
from tests.functional import broker
from tests.functional.db import base as db_base
from tests.functional.nova import fixtures as nova_fixtures
from tests.functional.nova import test_nova_events

REDIS = ('127.0.0.1', 6379)
HOSTS = nova_fixtures.HOSTS
HOT = 'fake-host-1'
#: the fake agents' sampling interval; "at most two agent intervals" from
#: a hotspot's onset to the migration request is checked against it. Every
#: wait of these scenarios is a few intervals: the shorter, the faster
#: (3 s: the default 10 s is an operator's choice, not a requirement)
INTERVAL = 3.0
#: the balancers' [drs_balancer] planning_interval (default 60 s): the
#: scenarios that wait for a planning cycle wait at most this
PLANNING_INTERVAL = 5


def _check_redis():
    if os.environ.get('NOVA_DRS_SKIP_REDIS') == '1':
        raise unittest.SkipTest('NOVA_DRS_SKIP_REDIS=1')
    try:
        socket.create_connection(REDIS, timeout=3).close()
    except OSError as e:
        raise AssertionError('Redis does not answer at %s:%d (%s): run '
                             'tools/lab/redis.sh' % (REDIS + (e,)))


def _naive_utc(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).replace(tzinfo=None)


def _epoch(naive_utc):
    return naive_utc.replace(tzinfo=datetime.timezone.utc).timestamp()


class ServiceTestCase(nova_fixtures.NovaLabTestCase):

    #: the balancer's database: 'sqlite', 'postgresql' or 'mysql'
    DATABASE = 'sqlite'

    def setUp(self):
        super().setUp()
        _check_redis()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        tag = '%d_%s' % (os.getpid(), uuid.uuid4().hex[:6])
        self.topic = 'drs_ft_service_%s' % tag
        self.group = 'drs-ft-service-%s' % tag
        self.tag = tag
        self.db_url = self._database()
        self.db = db_api.Database(connection=self.db_url)
        self.addCleanup(self.db.dispose)
        self.agent_conf = service_lab.write_conf(
            os.path.join(self.tmp, 'agents.conf'),
            **self.values('agents', transport=agent_lab.TRANSPORT_URL))
        # queues to delete at the end: the agents' and the balancers' on
        # the broker's "/", the Nova notification pools on the lab's vhost
        self.queues = ['%s.sample' % self.topic]
        self.nova_queues = []
        self.addCleanup(lambda: broker.delete_queues(
            agent_lab.TRANSPORT_URL, self.queues))
        self.addCleanup(lambda: broker.delete_queues(
            test_nova_events.lab_notification_url(), self.nova_queues))
        self.flavor = self.lab.flavor('drs-big', vcpus=300, ram=1024)
        self._balancers = []

    def _database(self):
        if self.DATABASE == 'sqlite':
            url = 'sqlite:///' + os.path.join(self.tmp, 'nova-drs.sqlite')
        else:
            backend = db_base.Backend.get(self.DATABASE)
            ident, url = backend.create_database()
            self.addCleanup(backend.drop_database, ident)
        migration.upgrade(None, connection=url)
        return url

    def values(self, replica, transport=None, mode='full', **kw):
        values = {
            'transport_url': transport or agent_lab.TRANSPORT_URL,
            'log_file': os.path.join(self.tmp, '%s.log' % replica),
            'topic': self.topic, 'interval': INTERVAL,
            'stale_after': 3 * INTERVAL, 'mode': mode,
            'planning_interval': PLANNING_INTERVAL, 'takeover_after': 3,
            'backend_url': 'redis://%s:%d' % REDIS, 'group': self.group,
            'replica_id': '%s-%s' % (replica, self.tag),
            'database': self.db_url,
            'nova_transport_url': test_nova_events.lab_notification_url(),
            'extra': ''}
        values.update(kw)
        return values

    def balancer(self, replica, **kw):
        values = self.values(replica, **kw)
        path = service_lab.write_conf(
            os.path.join(self.tmp, '%s.conf' % replica), **values)
        self.queues.append(
            '%s-%s' % (listener.POOL_PREFIX, values['replica_id']))
        self.nova_queues.append(
            '%s-%s' % (nova_events.POOL_PREFIX, values['replica_id']))
        if not self._balancers:
            # one cleanup stops them all, together
            self.addCleanup(self._stop_balancers)
        proc = service_lab.BalancerProcess(path, values['log_file']).start()
        self._balancers.append(proc)
        return proc

    def _stop_balancers(self):
        procs, self._balancers = self._balancers[::-1], []
        # the servers go while the replicas shut down (seconds)
        service_lab.stop_all(procs, meanwhile=self.lab.delete_booted)
        if os.environ.get('NOVA_DRS_FT_SHOW_LOGS'):
            for proc in procs:
                print(proc.log())

    def agents(self):
        agents = service_lab.FakeAgents(self.lab.conn, self.agent_conf,
                                        HOSTS, interval=INTERVAL).start()
        self.addCleanup(agents.stop)
        return agents

    def boot_hot_servers(self, count=3):
        """Boot ``count`` servers on the hot host (all at once)."""
        servers = [self.lab.boot('svc-%d' % n, self.flavor, host=HOT,
                                 wait=False) for n in range(count)]
        for server in servers:
            self.assertEqual(HOT, self.lab.wait_active(server).compute_host)
        return [s.id for s in servers]

    def wait_at_rest(self, agents, procs, hosts=HOSTS):
        """Until the replicas have the idle hosts' metrics.

        Two rounds of the agents, and the state of each of ``hosts``
        stored by a replica: a replica stores the state of the hosts it
        owns once it is an active member of its group (and has re-planned
        for it), so a load the test sets afterwards reaches a replica that
        is under way, however slowly its process started.
        """
        self.wait_for('two rounds of metrics', lambda: agents.rounds >= 2,
                      procs=procs)
        self.wait_for('the state of %s stored' % ', '.join(hosts),
                      lambda: set(hosts) <= {
                          s.host for s in self.db.list_host_states()},
                      procs=procs)

    def wait_for(self, what, predicate, timeout=120.0, procs=()):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            for proc in procs:
                if not proc.running():
                    self.fail('%s: the balancer exited (%s) while waiting '
                              'for %s:\n%s' % (proc.conf_path,
                                               proc.proc.returncode, what,
                                               proc.log()[-4000:]))
            if time.monotonic() > deadline:
                logs = '\n'.join(p.log()[-3000:] for p in procs)
                self.fail('timed out after %.0f s waiting for %s\n%s'
                          % (timeout, what, logs))
            time.sleep(0.2)

    def actions(self, **kw):
        return self.db.list_actions(**kw)

    def finished(self, state=None):
        done = [a for a in self.actions()
                if a.state in (plan_states.ACTION_COMPLETED,
                               plan_states.ACTION_FAILED,
                               plan_states.ACTION_ABORTED)]
        if state:
            done = [a for a in done if a.state == state]
        return done

    def nova_migrations(self, server_id):
        return [m for m in self.lab.conn.compute.migrations(
            instance_uuid=server_id) if m.migration_type == 'live-migration']

    def make_hot(self, agents, servers, cpu=0.95):
        """Load the servers: the agents report it in a round sent now."""
        for server in servers:
            agents.cpu[server] = cpu
        agents.round_now()

    def timeline(self, title, events):
        """Print a timeline, times relative to the first event."""
        t0 = events[0][1]
        print('\n%s' % title)
        for name, at in events:
            print('  %+7.2f s  %s' % (at - t0, name))


class HotspotScenarioTest(ServiceTestCase):
    """Metrics in → plan → live migration through Nova → action done."""

    DATABASE = 'sqlite'

    def test_hot_host_is_relieved_through_nova(self):
        servers = self.boot_hot_servers()
        events = []
        conf = config.load([self.agent_conf])
        nova_listener = nova_events.NovaEventListener(
            conf, _Collect(events), replica_id='ft-observer-%s' % self.tag)
        self.nova_queues.append(nova_events.pool_name(
            conf, 'ft-observer-%s' % self.tag))
        nova_listener.start()
        self.addCleanup(nova_listener.stop)

        proc = self.balancer('r1')
        agents = self.agents()
        # at rest: every host is reporting and idle
        self.wait_at_rest(agents, [proc])
        self.make_hot(agents, servers)
        onset = self.wait_for('the hotspot event',
                              lambda: agents.onsets.get(HOT), procs=[proc])
        done = self.wait_for(
            'a completed migration',
            lambda: self.finished(plan_states.ACTION_COMPLETED), procs=[proc])
        self.assertEqual([], self.finished(plan_states.ACTION_FAILED))
        action = done[0]
        self.assertEqual(HOT, action.source)
        self.assertIn(action.target, HOSTS[1:])
        self.assertIsNotNone(action.migration_id)
        plan = self.db.get_plan(action.plan_uuid)
        self.assertEqual(models.ORIGIN_HOTSPOT, plan.origin)
        self.wait_for('the plan applied',
                      lambda: self.db.get_plan(plan.uuid).state
                      == plan_states.PLAN_APPLIED)

        # Nova's migrations API and the server agree
        record = [m for m in self.nova_migrations(action.instance_uuid)
                  if m.id == action.migration_id]
        self.assertEqual(['completed'], [m.status for m in record])
        self.assertEqual(action.target, record[0].dest_compute)
        server = self.lab.conn.compute.get_server(action.instance_uuid)
        self.assertEqual(action.target, server.compute_host)
        # and so do Nova's versioned notifications
        seen = self.wait_for(
            'live_migration_post notification',
            lambda: [e for e in events
                     if e.instance == action.instance_uuid
                     and 'live_migration_post' in e.event_type])
        # the agents now report the server from its new host, and the
        # hotspot is gone: nothing else moves
        self.wait_for('the agent of %s reporting it' % action.target,
                      lambda: agents.where.get(action.instance_uuid)
                      == action.target)
        time.sleep(2 * INTERVAL)
        self.assertEqual(1, len(self.actions()))

        request_delay = _epoch(action.started_at) - onset
        self.timeline('hotspot scenario (agent interval %.0f s)' % INTERVAL,
                      [('hotspot onset (agent event published)', onset),
                       ('plan stored', _epoch(plan.created_at)),
                       ('migration requested (action running)',
                        _epoch(action.started_at)),
                       ('Nova migration record created',
                        _epoch(_parse(record[0].created_at))),
                       ('Nova notification %s' % seen[0].event_type,
                        seen[0].timestamp),
                       ('action completed', _epoch(action.finished_at))])
        self.assertLess(request_delay, 2 * INTERVAL,
                        'from onset to migration request: %.1f s'
                        % request_delay)

        # the host state written for the scheduler plugin and the API
        states = {s.host: s for s in self.db.list_host_states()}
        self.assertEqual(set(HOSTS), set(states))


class ManualModeTest(ServiceTestCase):
    """In manual mode nothing moves until an operator applies the plan."""

    DATABASE = 'postgresql'

    def test_recommendation_waits_for_the_operator(self):
        servers = self.boot_hot_servers()
        proc = self.balancer('r1', mode='manual')
        agents = self.agents()
        self.wait_at_rest(agents, [proc])
        self.make_hot(agents, servers)
        plans = self.wait_for(
            'a recommended plan',
            lambda: self.db.list_plans(state=plan_states.PLAN_RECOMMENDED),
            procs=[proc])
        # three agent intervals later: still only a recommendation
        time.sleep(3 * INTERVAL)
        self.assertEqual([], self.actions(state=plan_states.ACTION_RUNNING))
        self.assertEqual([], self.finished())
        for server in servers:
            self.assertEqual([], self.nova_migrations(server))
        plans = self.db.list_plans(state=plan_states.PLAN_RECOMMENDED)
        self.assertEqual(1, len(plans))

        # the operator applies it (what `openstack drs plan apply` does)
        self.assertTrue(self.db.transition_plan(
            plans[0].uuid, plan_states.PLAN_RECOMMENDED,
            plan_states.PLAN_APPLYING, 'operator'))
        done = self.wait_for(
            'the migration',
            lambda: self.finished(plan_states.ACTION_COMPLETED),
            procs=[proc])
        self.assertEqual(plans[0].uuid, done[0].plan_uuid)


class FailedMigrationTest(ServiceTestCase):
    """Nova refuses a migration: failed, pair marked bad, re-planned."""

    DATABASE = 'sqlite'

    def test_refused_destination_is_marked_bad_and_replanned(self):
        servers = self.boot_hot_servers()
        # Nova's notifications off and a slow periodic refresh: the
        # balancer keeps its (now wrong) view of which hosts are enabled
        # until a failed migration makes it read Nova again
        proc = self.balancer('r1', extra="""
            [drs_listener]
            nova_notifications = false
            [drs_balancer]
            inventory_refresh_interval = 10
            """)
        agents = self.agents()
        self.wait_at_rest(agents, [proc])
        for host in HOSTS[1:]:
            self.lab.disable(host)
        self.make_hot(agents, servers)
        first = self.wait_for('the first migration request',
                              lambda: self.actions(), procs=[proc])[0]
        other = [h for h in HOSTS[1:] if h != first.target][0]
        self.lab.conn.compute.enable_service(self.lab.service(other))

        failed = self.wait_for(
            'the refused migration',
            lambda: self.finished(plan_states.ACTION_FAILED), procs=[proc])
        self.assertEqual(first.uuid, failed[0].uuid)
        self.assertIn('No valid host', failed[0].error)
        self.assertIn((first.instance_uuid, first.target),
                      self.db.bad_pairs())
        done = self.wait_for(
            'the migration re-planned elsewhere',
            lambda: self.finished(plan_states.ACTION_COMPLETED),
            timeout=90, procs=[proc])
        self.assertEqual(other, done[0].target)
        kinds = [e.kind for e in self.db.list_events(
            object_uuid=first.instance_uuid)]
        self.assertIn('pair.bad', kinds)


class TakeoverTest(ServiceTestCase):
    """A replica killed during a migration: another one finishes it."""

    DATABASE = 'mysql'

    def owner_of(self, host, replicas):
        ring = hashring.HashRing(replicas)
        return list(ring.get_nodes(host.encode('utf-8')))[0]

    def test_killed_replica_is_taken_over(self):
        servers = self.boot_hot_servers()
        procs = {name: self.balancer(name) for name in ('r1', 'r2')}
        ids = {name: '%s-%s' % (name, self.tag) for name in procs}
        agents = self.agents()
        self.wait_at_rest(agents, procs.values())
        owner_id = self.owner_of(HOT, [i.encode() for i in ids.values()])
        owner = [n for n, i in ids.items() if i.encode() == owner_id][0]
        survivor = [n for n in ids if n != owner][0]
        self.make_hot(agents, servers)
        running = self.wait_for(
            'a migration in progress',
            lambda: [a for a in self.actions(state=plan_states.ACTION_RUNNING)
                     if a.migration_id is not None], procs=procs.values())
        action = running[0]
        self.assertEqual(ids[owner], action.owner)
        procs[owner].kill()
        killed = time.time()
        taken = self.wait_for(
            'the takeover',
            lambda: [e for e in self.db.list_events(object_uuid=action.uuid,
                                                    kind='action.takeover')],
            timeout=60, procs=[procs[survivor]])
        done = self.wait_for(
            'the migration recorded done',
            lambda: self.db.get_action(action.uuid).state
            != plan_states.ACTION_RUNNING, timeout=90, procs=[procs[survivor]])
        action = self.db.get_action(action.uuid)
        self.assertTrue(done)
        self.assertEqual(plan_states.ACTION_COMPLETED, action.state)
        self.assertEqual(ids[survivor], action.owner)
        took = _epoch(taken[0].created_at) - killed
        self.timeline('takeover (member_timeout 3 s, heartbeat 0.5 s, '
                      'takeover_after 3 s)',
                      [('owner %s killed (SIGKILL)' % owner, killed),
                       ('action taken over by %s' % survivor,
                        _epoch(taken[0].created_at)),
                       ('action completed', _epoch(action.finished_at))])
        self.assertLess(took, 30.0)
        # one migration of that server in Nova, not two
        self.assertEqual(1, len(self.nova_migrations(action.instance_uuid)))


class SharedHostTest(ServiceTestCase):
    """Two replicas acting for one host never migrate a server twice.

    Per-host mode misconfigured on purpose: both claim the hot host.
    """

    DATABASE = 'mysql'

    def test_two_replicas_never_act_on_the_same_instance(self):
        servers = self.boot_hot_servers()
        extra = """
            [drs_coordination]
            mode = per_host
            host = %s
            """ % HOT
        procs = [self.balancer(name, extra=extra) for name in ('r1', 'r2')]
        agents = self.agents()
        # per host: both own the hot host only
        self.wait_at_rest(agents, procs, hosts=[HOT])
        self.make_hot(agents, servers)
        self.wait_for('a completed migration',
                      lambda: self.finished(plan_states.ACTION_COMPLETED),
                      procs=procs)
        time.sleep(3 * INTERVAL)
        per_server = {s: len(self.nova_migrations(s)) for s in servers}
        self.assertEqual(1, sum(per_server.values()), per_server)
        owners = {a.owner for a in self.finished(plan_states.ACTION_COMPLETED)}
        self.assertEqual(1, len(owners))


class BrokerRestartTest(ServiceTestCase):
    """The broker goes away and comes back: the balancer acts as before."""

    DATABASE = 'sqlite'

    def test_broker_restart(self):
        servers = self.boot_hot_servers()
        proxy = agent_lab.TcpProxy(agent_lab.broker_address()).start()
        self.addCleanup(proxy.stop)
        proc = self.balancer(
            'r1', transport=agent_lab.proxied_transport_url(proxy.port))
        agents = self.agents()
        self.wait_at_rest(agents, [proc])
        proxy.stop()          # the broker is gone for the balancer
        time.sleep(2 * INTERVAL)
        proxy.start()         # and back
        self.make_hot(agents, servers)
        done = self.wait_for(
            'a completed migration',
            lambda: self.finished(plan_states.ACTION_COMPLETED),
            procs=[proc])
        self.assertEqual(HOT, done[0].source)


def _parse(value):
    """Nova's timestamps: ISO text without zone, UTC."""
    text = str(value).replace('Z', '')
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError('not a Nova timestamp: %r' % value)


class _Collect(nova_events.NovaEventHandler):
    def __init__(self, events):
        self.events = events

    def on_nova_events(self, events):
        self.events.extend(events)


class PlanRequestTest(ServiceTestCase):
    """An operator's requests (what the API stores) carried out for real."""

    DATABASE = 'sqlite'

    def test_evacuation_and_dry_run_requests(self):
        servers = self.boot_hot_servers(count=2)
        proc = self.balancer('r1', mode='manual')
        agents = self.agents()
        self.wait_at_rest(agents, [proc])
        dry = self.db.create_plan_request('plan', 'alice',
                                          strategy='balance')
        evac = self.db.create_plan_request('evacuation', 'alice', host=HOT,
                                           apply=True)
        done = self.wait_for(
            'both requests carried out',
            lambda: all(self.db.get_plan_request(r.uuid).state
                        in (models.REQUEST_DONE, models.REQUEST_FAILED)
                        for r in (dry, evac)) and True, procs=[proc])
        self.assertTrue(done)
        dry = self.db.get_plan_request(dry.uuid)
        evac = self.db.get_plan_request(evac.uuid)
        self.assertEqual((models.REQUEST_DONE, None), (dry.state, dry.error))
        self.assertEqual((models.REQUEST_DONE, None),
                         (evac.state, evac.error))
        self.assertEqual(plan_states.PLAN_RECOMMENDED,
                         self.db.get_plan(dry.plan_uuid).state)
        # the evacuation is applied even in manual mode: it was asked for
        self.wait_for('the evacuation applied',
                      lambda: self.db.get_plan(evac.plan_uuid).state
                      == plan_states.PLAN_APPLIED, timeout=120, procs=[proc])
        for server in servers:
            self.assertNotEqual(
                HOT, self.lab.conn.compute.get_server(server).compute_host)
