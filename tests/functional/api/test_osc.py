# SPDX-License-Identifier: Apache-2.0
"""``openstack drs ...`` against a real ``nova-drs-api``.

The real ``openstack`` command (python-openstackclient with this plugin,
each command its own process, forked from one that imported
python-openstackclient once: :mod:`tests.functional.openstack_cli`)
talks to a real ``nova-drs-api`` subprocess in its
``noauth`` mode, on a SQLite database the test fills through
``nova_drs.db.api.Database``. No Keystone: ``--os-auth-type none``, the
endpoint from ``OS_DRS_ENDPOINT`` and the identity from the
development-only ``NOVA_DRS_NOAUTH_HEADERS``.

A balancer replica's part in plan requests (claim, plan, finish) is
played by :class:`FakeReplica`, a thread of the test writing through the
same database API the replicas use; the API's list pages are two items
long (``[drs_api] max_limit = 2``) so that every list of more than two
goes through the client's paging.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types

from oslotest import base

from nova_drs.balancer.planning import plan as plan_mod
from nova_drs.db import api as db_api
from nova_drs.db import migration
from tests.functional import openstack_cli
from tests import polling

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
ADMIN = {'X-Roles': 'admin', 'X-Project-Id': 'demo', 'X-User-Id': 'alice'}
READER = {'X-Roles': 'reader', 'X-Project-Id': 'demo', 'X-User-Id': 'bob'}
INSTANCES = ['6f1d7a52-0d0b-4f0c-9a8e-2b1f0c6d3e1%d' % i for i in range(4)]
REPLICA = 'balancer-ft'
# The host whose evacuation the fake replica refuses, and why.
NO_ROOM_HOST = 'compute-3'
NO_ROOM = 'no host has room for 2 instances of compute-3'

API_CONF = """\
[DEFAULT]
log_file = {tmp}/api.log
[drs_api]
auth_strategy = noauth
max_limit = 2
# the host states are written once for the whole class: they must not
# turn stale while it runs on a busy machine
host_stale_after = 86400
[drs_database]
connection = {db}
[drs_coordination]
backend_url = file://{tmp}/coordination
"""


def host_state(name, cpu, memory, hot=(), guests=4, balloon=None):
    """What a balancer replica writes for a host (duck-typed)."""
    return types.SimpleNamespace(
        name=name, stale=False, sampled_at=time.time() - 2,
        load={'cpu': cpu, 'memory': memory, 'disk': 0.02, 'network': 0.01},
        smoothed={'cpu': cpu, 'memory': memory, 'disk': 0.02,
                  'network': 0.01},
        hot=tuple(hot), cpu_count=16, memory_total_mb=65536,
        guests=tuple('g%d' % i for i in range(guests)), balloon=balloon)


class FakeReplica(object):
    """Carries out pending plan requests as a balancer replica would."""

    def __init__(self, db):
        self.db = db
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(0.2):
            try:
                for request in self.db.list_plan_requests(state='pending'):
                    if self.db.claim_plan_request(request.uuid, REPLICA):
                        self._carry_out(request)
            except Exception as exc:     # reported by the test's cleanup
                self.errors.append(repr(exc))

    def _carry_out(self, request):
        if request.kind == 'evacuation' and request.host == NO_ROOM_HOST:
            self.db.finish_plan_request(request.uuid, REPLICA,
                                        error=NO_ROOM)
            return
        source = request.host or 'compute-1'
        plan = plan_mod.Plan(request.strategy or 'hotspot', [
            plan_mod.Migration(INSTANCES[3], source, 'compute-2',
                               request.kind, 1024.0, 5.0)])
        origin = 'evacuation' if request.kind == 'evacuation' else \
            'operator'
        stored = self.db.create_plan(plan, origin, request.created_by,
                                     supersede=False)
        if request.apply:
            self.db.transition_plan(stored.uuid, 'recommended', 'applying',
                                    REPLICA)
        self.db.finish_plan_request(request.uuid, REPLICA,
                                    plan_uuid=stored.uuid)

    def close(self):
        self.stop.set()
        self.thread.join(5)


class OpenStackDrsTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.openstack_bin = os.path.join(BIN, 'openstack')
        if not os.path.exists(cls.openstack_bin):
            raise AssertionError(
                '%s is missing: install test-requirements.txt '
                '(python-openstackclient)' % cls.openstack_bin)
        cls.tmp = tempfile.mkdtemp(prefix='drs-osc-ft-')
        try:
            cls._start()
        except BaseException:
            cls._stop()
            raise

    @classmethod
    def _start(cls):
        url = 'sqlite:///%s/drs.sqlite' % cls.tmp
        migration.upgrade(None, connection=url)
        cls.db = db_api.Database(connection=url)
        cls.db.save_host_states([
            host_state('compute-1', 0.93, 0.61, hot=['cpu'], guests=9,
                       balloon={'reclaimed_mb': 1536, 'guests': 2}),
            host_state('compute-2', 0.35, 0.40),
            host_state('compute-3', 0.12, 0.22, guests=2)], REPLICA)
        conf = os.path.join(cls.tmp, 'api.conf')
        with open(conf, 'w') as f:
            f.write(API_CONF.format(tmp=cls.tmp, db=url))
        cls.api = subprocess.Popen(
            [os.path.join(BIN, 'nova-drs-api'), '--config-file', conf,
             '--host', '127.0.0.1', '--port', '0'],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True)
        cls.lines = []
        threading.Thread(target=cls._read_api, daemon=True).start()
        line = polling.wait_for(
            lambda: cls.api.poll() is not None or next(
                (s for s in cls.lines if 'listening on' in s), None),
            timeout=60, what='nova-drs-api to listen')
        if cls.api.poll() is not None:
            raise AssertionError('nova-drs-api exited with %s; see %s'
                                 % (cls.api.returncode, cls.tmp))
        cls.endpoint = line.split('listening on ')[1].strip()
        cls.replica = FakeReplica(cls.db)
        # the commands run in this process's directory, HOME the class's
        cls.cli = openstack_cli.WarmOpenStack(cls.tmp, os.getcwd())

    @classmethod
    def _read_api(cls):
        for line in cls.api.stdout:
            cls.lines.append(line)

    @classmethod
    def tearDownClass(cls):
        cls._stop()
        super().tearDownClass()

    @classmethod
    def _stop(cls):
        if getattr(cls, 'cli', None) is not None:
            cls.cli.close()
        replica = getattr(cls, 'replica', None)
        if replica is not None:
            replica.close()
        api = getattr(cls, 'api', None)
        if api is not None and api.poll() is None:
            api.terminate()
            try:
                api.wait(10)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait()
        if getattr(cls, 'db', None) is not None:
            cls.db.dispose()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.addCleanup(lambda: self.assertEqual([], self.replica.errors))

    # -- helpers -------------------------------------------------------

    def openstack(self, *argv, identity=ADMIN, expect=0):
        """Run ``openstack ARGV``; returns (stdout, stderr)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env.update(OS_AUTH_TYPE='none', OS_DRS_ENDPOINT=self.endpoint,
                   NOVA_DRS_NOAUTH_HEADERS=json.dumps(identity),
                   HOME=self.tmp)
        proc = self.cli.run(argv, env)
        self.assertEqual(expect, proc.returncode,
                         'openstack %s\nstdout: %s\nstderr: %s'
                         % (' '.join(argv), proc.stdout, proc.stderr))
        self.assertNotIn('Traceback', proc.stderr)
        return proc.stdout, proc.stderr

    def json(self, *argv, **kwargs):
        out, _err = self.openstack(*(argv + ('-f', 'json')), **kwargs)
        return json.loads(out)

    def error(self, *argv, **kwargs):
        """The one line an operator sees when the command fails."""
        out, err = self.openstack(*argv, expect=kwargs.pop('expect', 1),
                                  **kwargs)
        self.assertEqual('', out)
        lines = err.strip().splitlines()
        self.assertEqual(1, len(lines), err)
        return lines[0]

    def make_plan(self, instance):
        plan = plan_mod.Plan('hotspot', [plan_mod.Migration(
            instance, 'compute-1', 'compute-3', 'cpu', 2100.0, 9.5)],
            unresolved=['compute-9'], decision_s=0.004)
        return self.db.create_plan(plan, 'hotspot', REPLICA,
                                   supersede=False).uuid

    # -- hosts -----------------------------------------------------------

    def test_host_list_table_shows_percentages(self):
        out, _err = self.openstack('drs', 'host', 'list')
        row = [line for line in out.splitlines() if 'compute-1' in line][0]
        cells = [c.strip() for c in row.split('|')[1:-1]]
        self.assertEqual(['compute-1', 'cpu', '93.0%', '61.0%', '2.0%',
                          '1.0%', '9', '0', 'False'], cells[:9])

    def test_host_list_json_pages_through_every_host(self):
        hosts = self.json('drs', 'host', 'list')
        self.assertEqual(['compute-1', 'compute-2', 'compute-3'],
                         sorted(h['Name'] for h in hosts))
        first = [h for h in hosts if h['Name'] == 'compute-1'][0]
        self.assertEqual(0.93, first['CPU'])
        self.assertEqual(['cpu'], first['Hot'])
        self.assertIs(False, first['Stale'])
        self.assertEqual(1, len(self.json('drs', 'host', 'list',
                                          '--limit', '1')))

    def test_host_list_filters(self):
        self.assertEqual(['compute-1'], [h['Name'] for h in self.json(
            'drs', 'host', 'list', '--hot')])
        self.assertEqual(['compute-2', 'compute-3'], sorted(
            h['Name'] for h in self.json('drs', 'host', 'list',
                                         '--not-hot', '--not-stale')))

    def test_host_show(self):
        host = self.json('drs', 'host', 'show', 'compute-1')
        self.assertEqual({'cpu': 0.93, 'memory': 0.61, 'disk': 0.02,
                          'network': 0.01}, host['Load'])
        self.assertEqual({'reclaimed_mb': 1536, 'guests': 2},
                         host['Balloon'])
        self.assertEqual(16, host['CPU Count'])
        self.assertEqual(REPLICA, host['Reported By'])
        out, _err = self.openstack('drs', 'host', 'show', 'compute-1')
        self.assertIn('cpu=93.0%, memory=61.0%, disk=2.0%, network=1.0%',
                      out)

    def test_unknown_host_is_one_line_exit_1(self):
        message = self.error('drs', 'host', 'show', 'compute-404')
        self.assertIn('compute-404', message)
        self.assertTrue(message.endswith('(HTTP 404)'), message)

    # -- status and versions ------------------------------------------------

    def test_status(self):
        status = self.json('drs', 'status')
        self.assertEqual(3, status['Hosts'])
        self.assertEqual(1, status['Hot Hosts'])
        self.assertEqual(0, status['Stale Hosts'])
        self.assertIsInstance(status['Replicas'], list)

    def test_unsupported_microversion(self):
        message = self.error('--os-drs-api-version', '1.999', 'drs',
                             'status')
        self.assertTrue(message.endswith('(HTTP 406)'), message)
        self.assertIn('1.0', message)

    def test_a_projects_reader_gets_no_cluster_data(self):
        # plans name every project's instances: admins only (as Nova)
        plan = self.make_plan(INSTANCES[0])
        for argv in (('plan', 'show', plan), ('plan', 'cancel', plan)):
            message = self.error('drs', *argv, identity=READER)
            self.assertTrue(message.endswith('(HTTP 403)'), message)
        self.assertEqual('recommended', self.db.get_plan(plan).state)

    # -- plans -----------------------------------------------------------

    def test_plan_list_show_apply_cancel(self):
        plan = self.make_plan(INSTANCES[1])
        listed = self.json('drs', 'plan', 'list', '--state', 'recommended',
                           '--origin', 'hotspot')
        self.assertIn(plan, [p['UUID'] for p in listed])
        shown = self.json('drs', 'plan', 'show', plan)
        self.assertEqual(['compute-9'], shown['Unresolved'])
        self.assertEqual([INSTANCES[1]],
                         [a['instance_uuid'] for a in shown['Actions']])
        out, _err = self.openstack('drs', 'plan', 'show', plan)
        self.assertIn('%s: compute-1 -> compute-3 [pending]' % INSTANCES[1],
                      out)

        self.assertEqual('applying', self.json(
            'drs', 'plan', 'apply', plan)['State'])
        message = self.error('drs', 'plan', 'apply', plan)
        self.assertTrue(message.endswith('(HTTP 409)'), message)
        self.assertEqual('cancelled', self.json(
            'drs', 'plan', 'cancel', plan)['State'])
        self.assertEqual('cancelled', self.db.get_plan(plan).state)

    def test_plan_create_and_request_show(self):
        request = self.json('drs', 'plan', 'create', '--strategy',
                            'hotspot')
        self.assertEqual('plan', request['Kind'])
        self.assertEqual('alice', request['Created By'])
        done = polling.wait_for(
            lambda: (lambda r: r if r['State'] == 'done' else None)(
                self.json('drs', 'plan', 'request', 'show',
                          request['UUID'])),
            timeout=60, what='the plan request to be done')
        self.assertIsNotNone(done['Plan UUID'])

    def test_plan_create_wait_shows_the_plan(self):
        plan = self.json('drs', 'plan', 'create', '--wait', '--timeout',
                         '60')
        self.assertEqual('operator', plan['Origin'])
        self.assertEqual('recommended', plan['State'])
        self.assertEqual(1, len(plan['Actions']))

    def test_unknown_strategy(self):
        message = self.error('drs', 'plan', 'create', '--strategy',
                             'no-such-strategy')
        self.assertTrue(message.endswith('(HTTP 400)'), message)

    # -- evacuation ------------------------------------------------------

    def test_evacuate_wait_applies_the_plan(self):
        plan = self.json('drs', 'host', 'evacuate', 'compute-2', '--wait')
        self.assertEqual('evacuation', plan['Origin'])
        self.assertEqual('applying', plan['State'])
        self.assertEqual('compute-2', plan['Actions'][0]['source'])
        self.db.cancel_plan(plan['UUID'], 'test')

    def test_evacuate_no_apply(self):
        request = self.json('drs', 'host', 'evacuate', 'compute-2',
                            '--no-apply')
        self.assertEqual('evacuation', request['Kind'])
        self.assertIs(False, request['Apply'])

    def test_evacuation_that_fails_is_one_line_exit_1(self):
        message = self.error('drs', 'host', 'evacuate', NO_ROOM_HOST,
                             '--wait')
        self.assertIn(NO_ROOM, message)

    # -- migrations ------------------------------------------------------

    def test_migration_list_and_show(self):
        plan = self.make_plan(INSTANCES[2])
        rows = self.json('drs', 'migration', 'list', '--plan', plan,
                         '--long')
        self.assertEqual(1, len(rows))
        self.assertEqual(INSTANCES[2], rows[0]['Instance'])
        self.assertEqual(plan, rows[0]['Plan'])
        self.assertEqual(rows, self.json(
            'drs', 'migration', 'list', '--instance', INSTANCES[2],
            '--long'))
        shown = self.json('drs', 'migration', 'show', rows[0]['UUID'])
        self.assertEqual(2100.0, shown['Transfer MB'])
        self.assertEqual('pending', shown['State'])
        many = self.json('drs', 'migration', 'list', '--host', 'compute-1')
        self.assertIn(rows[0]['UUID'], [m['UUID'] for m in many])

    # -- balloon -----------------------------------------------------------

    def test_balloon_without_nova_is_a_clear_error(self):
        # NOTE: this API has no [drs_nova] credentials; the instance
        # resource needs Nova, and says so.
        message = self.error('drs', 'balloon', 'show', INSTANCES[0])
        self.assertIn('Nova', message)
        self.assertNotIn('Traceback', message)

    def test_balloon_set_needs_a_change(self):
        message = self.error('drs', 'balloon', 'set', INSTANCES[0])
        self.assertIn('nothing to set', message)

    # -- operator control (API 1.2) ------------------------------------------

    def test_balancer_mode_and_pause(self):
        self.addCleanup(self.db.update_balancer_settings, 'test', mode=None,
                        paused=False)
        shown = self.json('drs', 'balancer', 'show')
        self.assertEqual(('partial', 'config', False),
                         (shown['Mode'], shown['Mode Source'],
                          shown['Paused']))
        shown = self.json('drs', 'balancer', 'set', '--mode', 'full',
                          '--reason', 'night shift')
        self.assertEqual(('full', 'operator', 'alice', 'night shift'),
                         (shown['Mode'], shown['Mode Source'],
                          shown['Updated By'], shown['Reason']))
        self.assertEqual('full', self.db.balancer_settings().mode)
        shown = self.json('drs', 'balancer', 'pause', '--reason',
                          'SAN upgrade')
        self.assertIs(True, shown['Paused'])
        status = self.json('drs', 'status')
        self.assertEqual(('full', 'operator', True),
                         (status['Mode'], status['Mode Source'],
                          status['Paused']))
        self.assertIs(False, self.json('drs', 'balancer', 'resume')[
            'Paused'])
        shown = self.json('drs', 'balancer', 'unset', '--mode')
        self.assertEqual(('partial', 'config'),
                         (shown['Mode'], shown['Mode Source']))
        # the audit trail has who did what, and why
        events = [(e.kind, e.actor, e.message) for e in
                  self.db.list_events(kind='balancer.', actor='alice')]
        self.assertEqual(
            [('balancer.mode', 'alice', 'mode configured -> full: night '
                                        'shift'),
             ('balancer.paused', 'alice', 'automatic balancing paused: SAN '
                                          'upgrade'),
             ('balancer.resumed', 'alice', 'automatic balancing resumed'),
             ('balancer.mode', 'alice', 'mode full -> configured')],
            events)
        _out, err = self.openstack('drs', 'balancer', 'set', '--mode',
                                   'auto', expect=2)
        self.assertIn("invalid choice: 'auto'", err)

    def test_host_pause_and_resume(self):
        host = self.json('drs', 'host', 'pause', 'compute-3', '--reason',
                         'BIOS update')
        self.assertEqual((True, 'BIOS update', 'alice'),
                         (host['Paused'], host['Pause Reason'],
                          host['Paused By']))
        listed = {h['Name']: h['Paused']
                  for h in self.json('drs', 'host', 'list')}
        self.assertEqual({'compute-1': False, 'compute-2': False,
                          'compute-3': True}, listed)
        out, _err = self.openstack('drs', 'balancer', 'show')
        self.assertIn('compute-3 (by alice at ', out)
        self.assertTrue(self.db.balancer_settings().host_paused('compute-3'))
        host = self.json('drs', 'host', 'resume', 'compute-3')
        self.assertIs(False, host['Paused'])
        self.assertEqual({}, self.db.balancer_settings().paused_hosts)
        message = self.error('drs', 'host', 'pause', 'compute-404')
        self.assertTrue(message.endswith('(HTTP 404)'), message)

    def test_status_shows_each_replicas_own_report(self):
        self.addCleanup(self.db.delete_replica_state, REPLICA)
        self.db.report_replica(
            REPLICA, host='ctl-1', pid=4242, version='1.2.0', mode='full',
            mode_source='config', strategy='balance', paused=False,
            started_at=self.db.now(), cycles=7, cycle_errors=1,
            last_cycle={'origin': 'hotspot', 'mode': 'full',
                        'started_at': '2026-03-01T10:00:00Z',
                        'finished_at': '2026-03-01T10:00:01Z',
                        'duration_s': 1.0, 'migrations': 1,
                        'applied': [INSTANCES[0]], 'recommended': [],
                        'unresolved': 0, 'skipped': None,
                        'failed': False})
        status = self.json('drs', 'status')
        (replica,) = [r for r in status['Replicas'] if r['id'] == REPLICA]
        self.assertEqual(('full', 'config', 'balance', 7, 1, False),
                         (replica['mode'], replica['mode_source'],
                          replica['strategy'], replica['cycles'],
                          replica['cycle_errors'], replica['stale']))
        # what the replica runs, not the API's own [drs_balancer]
        self.assertEqual(('full', 'balance'),
                         (status['Mode'], status['Strategy']))
        out, _err = self.openstack('drs', 'status', '-c', 'Replicas',
                                   '--max-width', '400')
        self.assertIn('full mode (config), balance strategy, 7 cycles (1 '
                      'failed), ctl-1 pid 4242', out)
        self.assertIn('last: hotspot cycle at 2026-03-01T10:00:01Z, 1.00 s, '
                      'full mode: 1 migration(s), 1 applied, 0 recommended',
                      out)
        # at 1.0 the status keeps its old shape: the members of the group
        # only (none here), no report; its mode is the replicas' still
        status = self.json('--os-drs-api-version', '1.0', 'drs', 'status')
        self.assertEqual(([], None, 'full'),
                         (status['Replicas'], status['Mode Source'],
                          status['Mode']))

    def test_a_reader_changes_nothing(self):
        for argv in (('balancer', 'pause'), ('host', 'pause', 'compute-1'),
                     ('balancer', 'show')):
            message = self.error('drs', *argv, identity=READER)
            self.assertTrue(message.endswith('(HTTP 403)'), message)
        self.assertFalse(self.db.balancer_settings().paused)
        self.assertEqual({}, self.db.balancer_settings().paused_hosts)
