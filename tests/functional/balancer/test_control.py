# SPDX-License-Identifier: Apache-2.0
"""Operator control through the API, honoured by real balancer replicas.

Two ``nova-drs-balancer`` processes share the Nova lab's hosts (Redis,
MariaDB, RabbitMQ, the fake agents of :mod:`service_lab`), and a real
``nova-drs-api`` reads the same database and Redis group. Everything the
test changes goes through the API, as ``openstack drs balancer ...`` and
``openstack drs host pause`` send it (microversion 1.2), and everything it
checks of the replicas is what they report in ``GET /v1/status``, plus
the database and Nova for what moved:

1. each replica reports its own mode (``full``, from its configuration;
   the API's own configuration says ``partial``) and its cycles;
2. ``manual`` set through the API: both replicas' next cycles plan in
   manual mode, and a hotspot gets a recommended plan, nothing moves;
3. the hot host paused and ``full`` set: the hot host is left alone;
4. the cluster paused and the host resumed: cycles plan nothing, nothing
   moves;
5. resumed: the owner's next cycle applies a plan and Nova migrates.

Run with ``pytest -s`` to see the timeline. Needs what
``tools/run-tests.sh`` starts (``NOVA_DRS_SKIP_NOVA=1``,
``NOVA_DRS_SKIP_REDIS=1`` or ``NOVA_DRS_SKIP_DB=1`` skip it).
"""

import datetime
import time

from tooz import hashring

from nova_drs.balancer import plan_states
from tests.functional.api import base as api_base
from tests.functional.balancer import test_service

HOT = test_service.HOT
INTERVAL = test_service.INTERVAL
ADMIN = dict(api_base.ADMIN, **{'OpenStack-API-Version': 'drs 1.2'})
PAUSED = 'automatic balancing is paused'

API_CONF = """\
[drs_coordination]
backend_url = redis://%s:%d
group = %s
"""


def _parse(text):
    return datetime.datetime.strptime(text.rstrip('Z'),
                                      '%Y-%m-%dT%H:%M:%S.%f')


class OperatorControlTest(test_service.ServiceTestCase):

    DATABASE = 'mysql'

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(api_base.ApiServer(
            self.db_url,
            extra_conf=API_CONF % (test_service.REDIS + (self.group,))))
        self.events = []

    # -- the API --

    def call(self, method, path, body=None):
        status, data, _resp = self.api.call(method, path, headers=ADMIN,
                                            json=body)
        self.assertEqual(200, status, data)
        return data

    def change(self, what, path, body):
        """Send a change; a time it was in effect at (naive UTC).

        Taken once the API answered: a cycle that began after it read
        the change (a replica reads the settings at each cycle's start).
        """
        self.call('PATCH', path, body)
        at = self.db.now()
        self.events.append((what, time.time()))
        return at

    def reports(self):
        replicas = self.call('GET', '/v1/status')['status']['replicas']
        return {r['id']: r for r in replicas if r['id'] in self.ids.values()}

    def wait_reports(self, what, predicate, timeout=90.0):
        """Until every replica's report passes ``predicate``."""
        def check():
            reports = self.reports()
            if len(reports) == len(self.ids) and all(
                    predicate(r) for r in reports.values()):
                return reports
            return None
        reports = self.wait_for(what, check, timeout=timeout,
                                procs=self.procs.values())
        self.events.append((what, time.time()))
        return reports

    @staticmethod
    def cycled_since(report, at, mode):
        """The replica began a cycle after ``at``, in ``mode``."""
        cycle = report.get('last_cycle')
        return bool(cycle) and _parse(cycle['started_at']) > at and \
            cycle['mode'] == mode

    # -- what moved --

    def nothing_moved(self, servers):
        self.assertEqual(
            [], self.db.list_plans(state=plan_states.PLAN_APPLYING))
        self.assertEqual([], self.actions(
            state=(plan_states.ACTION_RUNNING, plan_states.ACTION_COMPLETED)))
        for server in servers:
            self.assertEqual([], self.nova_migrations(server))

    def owner_of(self, host):
        ring = hashring.HashRing([i.encode() for i in self.ids.values()])
        owner = list(ring.get_nodes(host.encode('utf-8')))[0].decode()
        return [n for n, i in self.ids.items() if i == owner][0]

    def test_mode_and_pauses_reach_both_replicas(self):
        servers = self.boot_hot_servers()
        self.procs = {n: self.balancer(n) for n in ('r1', 'r2')}
        self.ids = {n: '%s-%s' % (n, self.tag) for n in self.procs}
        agents = self.agents()
        self.wait_at_rest(agents, self.procs.values())
        owner = self.owner_of(HOT)
        owner_id = self.ids[owner]

        # 1. each replica reports itself: full, from its configuration
        self.wait_reports(
            'both replicas reporting full mode (config)',
            lambda r: (r['member'] and not r['stale'] and r['mode'] == 'full'
                       and r['mode_source'] == 'config'
                       and r['last_cycle']))
        status = self.call('GET', '/v1/status')['status']
        # the replicas' mode, not the API's [drs_balancer] mode (partial)
        self.assertEqual(('full', 'config', False),
                         (status['mode'], status['mode_source'],
                          status['paused']))

        # 2. manual, through the API: both plan in manual mode at their
        # next cycle, and the hotspot only gets a recommendation
        at = self.change('mode manual set', '/v1/balancer',
                         {'mode': 'manual', 'reason': 'functional test'})
        reports = self.wait_reports(
            'both replicas cycling in manual mode',
            lambda r: (r['mode'] == 'manual'
                       and r['mode_source'] == 'operator'
                       and self.cycled_since(r, at, 'manual')))
        self.make_hot(agents, servers)
        self.events.append(('hotspot', time.time()))
        plans = self.wait_for(
            'a recommended plan',
            lambda: self.db.list_plans(state=plan_states.PLAN_RECOMMENDED),
            procs=self.procs.values())
        self.events.append(('plan recommended', time.time()))
        self.assertEqual(owner_id, plans[0].created_by)
        time.sleep(2 * INTERVAL)
        self.nothing_moved(servers)

        # 3. the hot host paused, full mode: the host is left alone
        at = self.change('host paused', '/v1/hosts/%s' % HOT,
                         {'paused': True, 'reason': 'firmware'})
        self.change('mode full set', '/v1/balancer', {'mode': 'full'})
        reports = self.wait_reports(
            'both replicas cycling in full mode',
            lambda r: self.cycled_since(r, at, 'full'))
        cycle = reports[owner_id]['last_cycle']
        self.assertEqual(([], None), (cycle['applied'], cycle['skipped']))
        self.assertLessEqual(1, cycle['unresolved'])
        host = self.call('GET', '/v1/hosts/%s' % HOT)['host']
        self.assertEqual((True, 'firmware', 'admin-user'),
                         (host['paused'], host['pause_reason'],
                          host['paused_by']))
        self.nothing_moved(servers)

        # 4. the cluster paused, the host resumed: nothing is planned
        at = self.change('balancing paused', '/v1/balancer',
                         {'paused': True, 'reason': 'change freeze'})
        self.change('host resumed', '/v1/hosts/%s' % HOT, {'paused': False})
        reports = self.wait_reports(
            'both replicas paused',
            lambda r: r['paused'] and self.cycled_since(r, at, 'full'))
        self.assertEqual(PAUSED, reports[owner_id]['last_cycle']['skipped'])
        status = self.call('GET', '/v1/status')['status']
        self.assertEqual((True, [], 'operator'),
                         (status['paused'], status['paused_hosts'],
                          status['mode_source']))
        self.nothing_moved(servers)

        # 5. resumed: the owner's next cycle applies a plan
        self.change('balancing resumed', '/v1/balancer', {'paused': False})
        done = self.wait_for(
            'a completed migration',
            lambda: self.finished(plan_states.ACTION_COMPLETED),
            timeout=120, procs=self.procs.values())
        self.events.append(('migration completed', time.time()))
        plan = self.db.get_plan(done[0].plan_uuid)
        self.assertTrue(plan.applied_automatically)
        self.assertEqual((owner_id, HOT), (plan.created_by, done[0].source))
        self.assertEqual(
            [('balancer.mode', 'mode configured -> manual: functional '
                               'test'),
             ('host.paused', 'balancing of %s paused: firmware' % HOT),
             ('balancer.mode', 'mode manual -> full'),
             ('balancer.paused', 'automatic balancing paused: change '
                                 'freeze'),
             ('host.resumed', 'balancing of %s resumed' % HOT),
             ('balancer.resumed', 'automatic balancing resumed')],
            [(e.kind, e.message) for e in self.db.list_events(
                actor='admin-user')])

        # a replica that stops cleanly is no longer listed
        other = [n for n in self.procs if n != owner][0]
        self.procs.pop(other).stop()
        del self.ids[other]
        self.wait_for('the stopped replica gone from the status',
                      lambda: self.ids.get(other) is None and all(
                          r['id'] != '%s-%s' % (other, self.tag)
                          for r in self.call('GET', '/v1/status')[
                              'status']['replicas']),
                      procs=self.procs.values())
        self.timeline('operator control (agent interval %.0f s, planning '
                      'every %d s)' % (INTERVAL,
                                       test_service.PLANNING_INTERVAL),
                      self.events)
