# SPDX-License-Identifier: Apache-2.0
"""Authorization with real Keystone tokens: every endpoint, every role.

``nova-drs-api`` runs with ``[drs_api] auth_strategy = keystone`` behind
keystonemiddleware, validating real tokens against the Nova lab's
Keystone (tools/lab, doc/source/nova-lab.rst) with the lab's service user
``nova-drs``; the catalog's ``drs`` endpoint is pointed at it, and its
instance resource reaches Nova (the lab's nova-api that validates tokens,
the catalog's ``compute``) with the caller's token. A server is booted in
project drs-alpha by ``alpha-member`` itself, through that Nova.

:data:`CASES` is the expected matrix, endpoint × role, as data: the
policy of doc/source/api.rst (cluster-wide data for admins only, with a
project-scoped or a system-scoped token; an instance for the readers of
its project and admins, its host for admins only; changing an instance
for admins; 401 without a valid token). Each case is sent with a real
token of each lab user, over HTTP and through ``openstack drs`` (password
authentication from the lab's clouds.yaml, the endpoint from the
catalog; each command its own process, forked from one that imported
python-openstackclient once: :mod:`tests.functional.openstack_cli`), and
the statuses seen are printed as a table (``pytest -s``).
Changes are checked in the database or in Nova: an allowed one happened,
a refused one did not.

The lab is held for the whole class (the Nova tests' lock): the catalog
entry and the server are the class's.
"""

import concurrent.futures
import dataclasses
import json
import os
import re
import time

from nova_drs.api import app as api_app
from nova_drs.balancer import plan_states
from nova_drs.db import models
from tests.functional import keystone
from tests.functional.nova import fixtures as nova_fixtures
from tests.functional import openstack_cli
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))

# -- the roles (the matrix's columns) -----------------------------------------

ADMIN = 'admin'
SYSTEM_ADMIN = 'system-admin'
MEMBER = 'alpha-member'
READER = 'alpha-reader'
OTHER = 'beta-member'
#: the lab clouds (users and scopes) of the roles
CLOUDS = {ADMIN: keystone.ADMIN, SYSTEM_ADMIN: keystone.SYSTEM_ADMIN,
          MEMBER: keystone.ALPHA_MEMBER, READER: keystone.ALPHA_READER,
          OTHER: keystone.BETA_MEMBER}
ROLES = list(CLOUDS)
#: requests without a valid token (HTTP only: OSC always authenticates)
NO_TOKEN = 'no token'
GARBAGE = 'garbage token'
EXPIRED = 'expired token'
UNAUTHENTICATED = [NO_TOKEN, GARBAGE, EXPIRED]

HOST = 'fake-host-1'
UNKNOWN = '00000000-0000-4000-8000-00000000dead'
REPLICA = 'replica-ft'
OSC_WORKERS = 3


def admin_only(status):
    """Cluster-wide: admins (project or system scope) only."""
    return {ADMIN: status, SYSTEM_ADMIN: status, MEMBER: 403, READER: 403,
            OTHER: 403}


@dataclasses.dataclass
class Case:
    """One row of the matrix: a request and what each role gets."""

    name: str
    #: the route of nova_drs.api.app.ROUTES it exercises
    method: str
    route: str
    #: ``path(test, role)`` -> the path (fresh resources made here)
    path: object
    expect: dict
    body: object = None
    #: ``osc(test, role, path)`` -> ``openstack`` arguments; None: no command
    osc: object = None
    #: ``effect(test, role, path, allowed)``: the change happened exactly
    #: when allowed (None: a read)
    effect: object = None
    #: changes shared state: requests of this case are never concurrent
    serial: bool = False
    #: the microversion sent over HTTP (None: the default, 1.0); OSC's
    #: client asks for the one an operation needs
    version: str = None


def _last(path):
    return path.rstrip('/').split('/')[-1]


def _plan_path(suffix=''):
    return lambda t, role: '/v1/plans/%s%s' % (t.fresh_plan(), suffix)


def _plan_state(expected_if_allowed):
    def effect(t, role, path, allowed):
        plan = path.split('/')[3]
        state = t.db.get_plan(plan, with_actions=False).state
        t.assertEqual(expected_if_allowed if allowed
                      else plan_states.PLAN_RECOMMENDED, state,
                      '%s: plan %s' % (role, plan))
    return effect


def _new_request(kind):
    def effect(t, role, path, allowed):
        mine = [r for r in t.db.list_plan_requests(kind=kind)
                if r.uuid not in t.known_requests]
        t.known_requests.update(r.uuid for r in mine)
        t.assertEqual(1 if allowed else 0, len(mine),
                      '%s: new %s requests %s' % (role, kind, mine))
    return effect


def _floor_for(column):
    """A balloon floor only ``column`` ever sets."""
    return 300 + (ROLES + UNAUTHENTICATED).index(column)


def _reason(column):
    """The reason of a change only ``column`` ever makes."""
    return 'keystone test as %s' % column


def _balancer_effect(t, role, path, allowed):
    settings = t.db.balancer_settings()
    if allowed:
        t.assertEqual((True, _reason(role)),
                      (settings.paused, settings.reason), role)
    else:
        t.assertNotEqual(_reason(role), settings.reason, role)


def _host_pause_effect(t, role, path, allowed):
    paused = t.db.balancer_settings().paused_hosts.get(HOST)
    reason = paused.reason if paused is not None else None
    if allowed:
        t.assertEqual(_reason(role), reason, role)
    else:
        t.assertNotEqual(_reason(role), reason, role)


def _floor_effect(t, role, path, allowed):
    metadata = t.nova_admin.compute.get_server(t.server_id).metadata or {}
    floor = metadata.get('drs:balloon_floor_mb')
    if allowed:
        t.assertEqual(str(_floor_for(role)), floor, role)
        t.nova_admin.compute.delete_server_metadata(
            t.server_id, ['drs:balloon_floor_mb'])
    else:
        t.assertNotEqual(str(_floor_for(role)), floor, role)


def _instance_path(t, role):
    return '/v1/instances/' + t.server_id


CASES = [
    Case('host list', 'GET', '/v1/hosts',
         lambda t, role: '/v1/hosts', admin_only(200),
         osc=lambda t, role, path: ['drs', 'host', 'list']),
    Case('host show', 'GET', '/v1/hosts/{host}',
         lambda t, role: '/v1/hosts/' + HOST, admin_only(200),
         osc=lambda t, role, path: ['drs', 'host', 'show', HOST]),
    Case('host show (no such host)', 'GET', '/v1/hosts/{host}',
         lambda t, role: '/v1/hosts/no-such-host', admin_only(404)),
    Case('host pause', 'PATCH', '/v1/hosts/{host}',
         lambda t, role: '/v1/hosts/' + HOST, admin_only(200),
         body=lambda column: {'paused': True, 'reason': _reason(column)},
         osc=lambda t, role, path: ['drs', 'host', 'pause', HOST,
                                    '--reason', _reason(role)],
         effect=_host_pause_effect, serial=True, version='1.2'),
    Case('host evacuate', 'POST', '/v1/hosts/{host}/evacuate',
         lambda t, role: '/v1/hosts/%s/evacuate' % HOST, admin_only(202),
         body={'apply': False},
         osc=lambda t, role, path: ['drs', 'host', 'evacuate', HOST,
                                    '--no-apply'],
         effect=_new_request(models.REQUEST_EVACUATION), serial=True),
    Case('instance show', 'GET', '/v1/instances/{uuid}',
         _instance_path,
         # the system scope is no project's: Nova's servers policies and
         # the instance rules are project-scoped
         {ADMIN: 200, SYSTEM_ADMIN: 403, MEMBER: 200, READER: 200,
          OTHER: 404},
         osc=lambda t, role, path: ['drs', 'balloon', 'show', _last(path)]),
    Case('instance show (no such server)', 'GET', '/v1/instances/{uuid}',
         lambda t, role: '/v1/instances/' + UNKNOWN,
         {ADMIN: 404, SYSTEM_ADMIN: 403, MEMBER: 404, READER: 404,
          OTHER: 404}),
    Case('instance update', 'PATCH', '/v1/instances/{uuid}',
         _instance_path,
         {ADMIN: 200, SYSTEM_ADMIN: 403, MEMBER: 403, READER: 403,
          OTHER: 404},
         body=lambda role: {'balloon_floor_mb': _floor_for(role)},
         osc=lambda t, role, path: ['drs', 'balloon', 'set', _last(path),
                                    '--floor', str(_floor_for(role))],
         effect=_floor_effect, serial=True),
    Case('plan list', 'GET', '/v1/plans',
         lambda t, role: '/v1/plans', admin_only(200),
         osc=lambda t, role, path: ['drs', 'plan', 'list']),
    Case('plan create', 'POST', '/v1/plans',
         lambda t, role: '/v1/plans', admin_only(202), body={},
         osc=lambda t, role, path: ['drs', 'plan', 'create'],
         effect=_new_request(models.REQUEST_PLAN), serial=True),
    Case('plan show', 'GET', '/v1/plans/{uuid}',
         lambda t, role: '/v1/plans/' + t.plan, admin_only(200),
         osc=lambda t, role, path: ['drs', 'plan', 'show', _last(path)]),
    Case('plan show (no such plan)', 'GET', '/v1/plans/{uuid}',
         lambda t, role: '/v1/plans/' + UNKNOWN, admin_only(404)),
    Case('plan apply', 'POST', '/v1/plans/{uuid}/apply',
         _plan_path('/apply'), admin_only(200),
         osc=lambda t, role, path: ['drs', 'plan', 'apply',
                                    path.split('/')[3]],
         effect=_plan_state(plan_states.PLAN_APPLYING)),
    Case('plan cancel', 'POST', '/v1/plans/{uuid}/cancel',
         _plan_path('/cancel'), admin_only(200),
         osc=lambda t, role, path: ['drs', 'plan', 'cancel',
                                    path.split('/')[3]],
         effect=_plan_state(plan_states.PLAN_CANCELLED)),
    Case('plan request show', 'GET', '/v1/plan-requests/{uuid}',
         lambda t, role: '/v1/plan-requests/' + t.plan_request,
         admin_only(200),
         osc=lambda t, role, path: ['drs', 'plan', 'request', 'show',
                                    _last(path)]),
    Case('migration list', 'GET', '/v1/migrations',
         lambda t, role: '/v1/migrations', admin_only(200),
         osc=lambda t, role, path: ['drs', 'migration', 'list']),
    Case('migration show', 'GET', '/v1/migrations/{uuid}',
         lambda t, role: '/v1/migrations/' + t.migration, admin_only(200),
         osc=lambda t, role, path: ['drs', 'migration', 'show',
                                    _last(path)]),
    Case('event list', 'GET', '/v1/events',
         lambda t, role: '/v1/events?limit=5', admin_only(200),
         osc=lambda t, role, path: ['drs', 'event', 'list', '--limit', '5'],
         version='1.3'),
    Case('status', 'GET', '/v1/status',
         lambda t, role: '/v1/status', admin_only(200),
         osc=lambda t, role, path: ['drs', 'status']),
    Case('balancer show', 'GET', '/v1/balancer',
         lambda t, role: '/v1/balancer', admin_only(200),
         osc=lambda t, role, path: ['drs', 'balancer', 'show'],
         version='1.2'),
    Case('balancer pause', 'PATCH', '/v1/balancer',
         lambda t, role: '/v1/balancer', admin_only(200),
         body=lambda column: {'paused': True, 'reason': _reason(column)},
         osc=lambda t, role, path: ['drs', 'balancer', 'pause', '--reason',
                                    _reason(role)],
         effect=_balancer_effect, serial=True, version='1.2'),
    # public: no token needed (version discovery, the document)
    Case('versions', 'GET', '/', lambda t, role: '/',
         dict.fromkeys(ROLES, 200)),
    Case('version 1', 'GET', '/v1', lambda t, role: '/v1',
         dict.fromkeys(ROLES, 200)),
    Case('openapi document', 'GET', '/openapi.yaml',
         lambda t, role: '/openapi.yaml', dict.fromkeys(ROLES, 200)),
]


def expected(case, column):
    """What ``column`` (a role or a kind of missing token) gets."""
    if column in UNAUTHENTICATED:
        public = all(v == 200 for v in case.expect.values())
        return 200 if public else 401
    return case.expect[column]


def table(title, columns, rows):
    """A text table; ``rows``: [(name, {column: (seen, expected)})]."""
    width = max(len(name) for name, _ in rows)
    cells = {c: max(len(c), 9) for c in columns}
    lines = [title, '%-*s  %s' % (width, 'endpoint', '  '.join(
        c.ljust(cells[c]) for c in columns))]
    for name, results in rows:
        out = []
        for column in columns:
            seen, wanted = results.get(column, ('', ''))
            text = str(seen) if seen == wanted else '%s!=%s' % (seen, wanted)
            out.append(text.ljust(cells[column]))
        lines.append('%-*s  %s' % (width, name, '  '.join(out)))
    return '\n'.join(lines)


class TestKeystone(keystone.KeystoneLabTestCase):
    """The API on real tokens; the lab is held for the class."""

    @classmethod
    def start_class(cls):
        cls.nova_admin = cls.lab.conn
        cls.cli = openstack_cli.WarmOpenStack(cls.tmp, REPO)
        cls.add_class_cleanup(cls.cli.close)
        cls.db, url = cls.database()
        cls._seed()
        cls.api = cls.start_api(url)
        cls.identities = {role: keystone.identity(cloud)
                          for role, cloud in CLOUDS.items()}
        expired, forget = keystone.expired_token(keystone.ALPHA_MEMBER)
        cls.add_class_cleanup(forget)
        cls.auth_headers = {role: who.headers
                            for role, who in cls.identities.items()}
        cls.auth_headers.update({
            NO_TOKEN: {},
            GARBAGE: {'X-Auth-Token': 'gAAAAABnot-a-real-token'},
            EXPIRED: expired.headers})

        # a server of drs-alpha, booted by alpha-member itself
        server = cls.boot_server(keystone.ALPHA_MEMBER, 'keystone-alpha')
        cls.server_id = server.id
        cls.server_host = server.compute_host
        cls.server_project = server.project_id
        # the agent's balloon state of the server, as the balancer stores
        # it; a member finds it through the server's hostId
        cls.balloon = {'target_mb': 1024, 'actual_mb': 1100}
        cls.db.save_host_states([test_host_states.host_state(
            cls.server_host, balloon={'reclaimed_mb': 0, 'guests': {
                server.id: cls.balloon}})], REPLICA)

    @classmethod
    def _seed(cls):
        cls.db.save_host_states(
            [test_host_states.host_state(h) for h in nova_fixtures.HOSTS],
            REPLICA)
        plan = cls.db.create_plan(db_base.make_plan(2, source=HOST),
                                  models.ORIGIN_HOTSPOT, REPLICA)
        cls.plan = plan.uuid
        cls.migration = cls.db.list_actions(plan_uuid=plan.uuid)[0].uuid
        cls.plan_request = cls.db.create_plan_request(
            models.REQUEST_PLAN, 'seed').uuid
        cls.known_requests = {cls.plan_request}

    # -- helpers -------------------------------------------------------------

    def fresh_plan(self):
        """A recommended plan nobody else touches."""
        return self.db.create_plan(db_base.make_plan(1, source=HOST),
                                   models.ORIGIN_OPERATOR, REPLICA,
                                   supersede=False).uuid

    def http(self, case, column):
        """(status, JSON, path) of ``case`` sent as ``column``."""
        path = case.path(self, column)
        body = case.body(column) if callable(case.body) else case.body
        headers = dict(self.auth_headers[column])
        if case.version:
            headers['OpenStack-API-Version'] = 'drs ' + case.version
        status, data, _resp = self.api.call(case.method, path,
                                            headers=headers, json=body)
        return status, data, path

    def openstack(self, role, argv):
        """(exit status, stdout, stderr) of ``openstack ARGV`` as ``role``."""
        proc = self.cli.run(argv, keystone.openstack_env(CLOUDS[role],
                                                         self.tmp))
        return proc.returncode, proc.stdout, proc.stderr

    # -- the matrix ----------------------------------------------------------

    def test_matrix_covers_every_route(self):
        routes = {(r.method, r.template) for r in api_app.ROUTES}
        covered = {(c.method, c.route) for c in CASES}
        self.assertEqual(set(), routes - covered,
                         'routes without a case in the matrix')

    def test_http(self):
        columns = ROLES + UNAUTHENTICATED
        rows, wrong = [], []
        for case in CASES:
            results = {}
            for column in columns:
                status, data, path = self.http(case, column)
                want = expected(case, column)
                results[column] = (status, want)
                if status != want:
                    wrong.append('%s as %s: %s %s -> %s (expected %s): %s'
                                 % (case.name, column, case.method, path,
                                    status, want, data))
                    continue
                if status >= 400:
                    self.assertEqual(status, data['error']['code'], data)
                if case.effect is not None and column in ROLES:
                    case.effect(self, column, path, status < 400)
            rows.append((case.name, results))
        print('\n' + table('nova-drs API over HTTP, real Keystone tokens '
                           '(status seen; seen!=expected on a mismatch)',
                           columns, rows))
        self.assertEqual([], wrong)

    def _osc_one(self, case, role, path):
        status, out, err = self.openstack(role, case.osc(self, role, path))
        if status == 0:
            return 'ok', out, err
        found = re.findall(r'\(HTTP (\d{3})\)', err)
        return ('HTTP %s' % found[-1] if found else 'exit %d' % status,
                out, err)

    def test_openstack_drs(self):
        calls = []     # (case, role, path), resources made in this thread
        for case in CASES:
            if case.osc is not None:
                calls.extend((case, role, case.path(self, role))
                             for role in ROLES)
        results, wrong = {}, []

        def record(case, role, path, outcome):
            seen, out, err = outcome
            want = expected(case, role)
            want = 'ok' if want < 400 else 'HTTP %d' % want
            results.setdefault(case.name, {})[role] = (seen, want)
            if seen != want:
                wrong.append('openstack %s as %s: %s (expected %s)\n%s%s'
                             % (' '.join(case.osc(self, role, path)), role,
                                seen, want, out, err))
            else:
                self.assertNotIn('Traceback', err)
                if case.effect is not None:
                    case.effect(self, role, path, seen == 'ok')

        parallel = [c for c in calls if not c[0].serial]
        with concurrent.futures.ThreadPoolExecutor(OSC_WORKERS) as pool:
            futures = [(c, pool.submit(self._osc_one, *c)) for c in parallel]
            for (case, role, path), future in futures:
                record(case, role, path, future.result())
        for case, role, path in calls:
            if case.serial:
                record(case, role, path, self._osc_one(case, role, path))
        rows = [(c.name, results[c.name]) for c in CASES
                if c.name in results]
        print('\n' + table('openstack drs, password authentication from '
                           'clouds.yaml (ok: exit 0; HTTP n: the error '
                           'line\'s status)', ROLES, rows))
        self.assertEqual([], wrong)

    # -- what each role sees of the server, through Nova with its token --

    def get(self, role):
        status, data, _resp = self.api.call(
            'GET', '/v1/instances/' + self.server_id,
            headers=self.auth_headers[role])
        return status, data

    def test_server_is_alpha_members(self):
        self.assertEqual(self.identities[MEMBER].project_id,
                         self.server_project)
        self.assertIn(self.server_host, nova_fixtures.HOSTS)

    def test_admin_sees_the_host(self):
        status, data = self.get(ADMIN)
        self.assertEqual(200, status, data)
        self.assertEqual({'uuid': self.server_id, 'host': self.server_host,
                          'opt_out': False, 'balloon_floor_mb': None,
                          'balloon': self.balloon}, data['instance'])

    def test_project_readers_see_no_host(self):
        for role in (MEMBER, READER):
            status, data = self.get(role)
            self.assertEqual(200, status, (role, data))
            # the balloon state is found without showing the host
            self.assertEqual({'uuid': self.server_id, 'host': None,
                              'opt_out': False, 'balloon_floor_mb': None,
                              'balloon': self.balloon}, data['instance'],
                             role)

    def test_other_project_gets_nova_404(self):
        status, data = self.get(OTHER)
        self.assertEqual(404, status, data)
        self.assertIn(self.server_id, data['error']['message'])

    def test_openstack_balloon_show(self):
        shown = {}
        for role in (ADMIN, MEMBER):
            status, out, err = self.openstack(
                role, ['drs', 'balloon', 'show', self.server_id,
                       '-f', 'json'])
            self.assertEqual(0, status, err)
            shown[role] = json.loads(out)
        self.assertEqual(self.server_host, shown[ADMIN]['Host'])
        self.assertIsNone(shown[MEMBER]['Host'])

    def test_member_may_not_change_it_admin_may(self):
        path = '/v1/instances/' + self.server_id
        status, data, _ = self.api.call(
            'PATCH', path, headers=self.auth_headers[MEMBER],
            json={'opt_out': True})
        self.assertEqual(403, status, data)
        self.assertNotIn('drs:opt_out', self.nova_admin.compute.get_server(
            self.server_id).metadata)
        status, data, _ = self.api.call(
            'PATCH', path, headers=self.auth_headers[ADMIN],
            json={'opt_out': True})
        self.assertEqual(200, status, data)
        self.addCleanup(self.nova_admin.compute.delete_server_metadata,
                        self.server_id, ['drs:opt_out'])
        self.assertTrue(data['instance']['opt_out'])
        self.assertEqual('true', self.nova_admin.compute.get_server(
            self.server_id).metadata['drs:opt_out'])

    # -- without a valid token -----------------------------------------------

    def test_401_is_json_with_keystone_hint(self):
        for column in UNAUTHENTICATED:
            status, data, resp = self.api.call(
                'GET', '/v1/hosts', headers=self.auth_headers[column])
            self.assertEqual(401, status, (column, data))
            self.assertEqual(401, data['error']['code'], column)
            self.assertTrue(resp.headers['Content-Type'].startswith(
                'application/json'), column)
            self.assertIn('WWW-Authenticate', resp.headers, column)

    def test_expired_token_was_real(self):
        # the same user's valid token passes where the expired one fails
        status, _data, _ = self.api.call(
            'GET', '/v1/instances/' + self.server_id,
            headers=self.auth_headers[MEMBER])
        self.assertEqual(200, status)
        status, data, _ = self.api.call(
            'GET', '/v1/instances/' + self.server_id,
            headers=self.auth_headers[EXPIRED])
        self.assertEqual(401, status, data)

    def test_no_traceback_in_the_log(self):
        self.api.call('GET', '/v1/status', headers={})
        time.sleep(0.1)
        self.assertNotIn('Traceback', self.api.log())
