# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the API with schemathesis, from its OpenAPI document.

schemathesis generates requests from the document (valid ones, and
invalid ones in every place the schemas allow: bodies, query strings,
paths, headers) and sends them to a real ``nova-drs-api`` on a SQLite
database that holds hosts, plans, migrations and plan requests:

* :class:`TestFuzz`: the ``noauth`` API, as an admin (headers);
* :class:`TestFuzzKeystone`: the API behind keystonemiddleware on the
  Nova lab's Keystone, once with an admin's token and once with a project
  member's, the instance resource reaching the lab's Nova with that
  token. Half of the generated path identifiers are real ones (a server
  the member booted, the database's plan, migration and request, a host)
  so that requests get past the 404s into the resources' logic.

No answer may be a server error (5xx), nor break the document (status,
content type and body; the check is schemathesis' own, and the recorded
interactions are counted again here), and with Keystone a request without
the token must be refused (schemathesis' ``ignored_auth``). The number of
examples per operation is bounded: about 20 s per run on 2 cores. Each
run prints its figures (requests, statuses).
"""

import collections
import os
import subprocess
import sys

import fixtures
from oslotest import base as oslo_base
import yaml

from nova_drs.balancer import plan_states
from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.api import base
from tests.functional import keystone
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

#: examples per operation and phase: 19 operations, about 20 s a run
MAX_EXAMPLES = int(os.environ.get('NOVA_DRS_FUZZ_EXAMPLES', '25'))
TIMEOUT = 300
SEED = '20261204'
CHECKS = ['not_a_server_error', 'status_code_conformance',
          'response_schema_conformance', 'content_type_conformance']
REPLICA = 'replica-a'
HOST = 'fake-host-1'


def seed(db):
    """Hosts, plans, a migration, a plan request; their identifiers."""
    db.save_host_states([test_host_states.host_state(HOST, hot=['cpu'])],
                        REPLICA)
    plan = db.create_plan(db_base.make_plan(2, source=HOST),
                          models.ORIGIN_HOTSPOT, REPLICA)
    request = db.create_plan_request(models.REQUEST_PLAN, 'u')
    db.transition_plan(plan.uuid, plan_states.PLAN_RECOMMENDED,
                       plan_states.PLAN_APPLYING, 'u')
    actions = db.list_actions(plan_uuid=plan.uuid)
    return [plan.uuid, request.uuid] + [a.uuid for a in actions]


def figures(cassette):
    """(requests, {status: count}, [5xx interactions]) of a VCR cassette."""
    with open(cassette, encoding='utf-8') as f:
        recorded = yaml.load(f, Loader=getattr(yaml, 'CSafeLoader',
                                               yaml.SafeLoader))
    statuses = collections.Counter()
    errors = []
    for interaction in recorded.get('http_interactions') or ():
        response = interaction.get('response')
        code = int(response['status']['code']) if response else 0
        statuses[code] += 1
        if code >= 500 or code == 0:
            request = interaction['request']
            errors.append('%s %s -> %s' % (request['method'], request['uri'],
                                           code or 'no answer'))
    return sum(statuses.values()), dict(sorted(statuses.items())), errors


def run_schemathesis(test, server, tmp, label, headers, checks=CHECKS,
                     exclude_path_regex=None, config=None):
    """Run schemathesis on ``server``; return its figures (see above)."""
    report = os.path.join(tmp, '%s-junit.xml' % label)
    cassette = os.path.join(tmp, '%s-cassette.yaml' % label)
    command = [sys.executable, '-m', 'schemathesis.cli']
    if config:
        command += ['--config-file', config]
    command += [
        'run', server.url + '/openapi.yaml',
        '--url', server.url,
        '--checks', ','.join(checks),
        '--max-examples', str(MAX_EXAMPLES),
        '--seed', SEED,
        '--request-timeout', '20',
        '--no-color',
        '--report', 'junit,vcr', '--report-junit-path', report,
        '--report-vcr-path', cassette,
    ]
    for name, value in headers.items():
        command += ['--header', '%s: %s' % (name, value)]
    if exclude_path_regex:
        command += ['--exclude-path-regex', exclude_path_regex]
    proc = subprocess.run(command, capture_output=True, text=True,
                          timeout=TIMEOUT, cwd=tmp)
    # NOTE: the token is in the command line, not in the output
    test.assertEqual(0, proc.returncode,
                     'schemathesis found problems (%s):\n%s\n%s'
                     % (label, proc.stdout[-6000:], proc.stderr[-2000:]))
    requests, statuses, errors = figures(cassette)
    print('\nfuzz %s: %d requests, statuses %s, 5xx: %d'
          % (label, requests, statuses, len(errors)))
    test.assertEqual([], errors)
    test.assertNotIn('Traceback', server.log())
    return requests, statuses


class TestFuzz(oslo_base.BaseTestCase):
    """The ``noauth`` API (no Keystone, no Nova)."""

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        db = db_api.Database(connection=url)
        self.addCleanup(db.dispose)
        seed(db)
        self.server = self.useFixture(base.ApiServer(url))
        self.tmp = tmp

    def test_no_server_error(self):
        # instances: without Keystone the API forwards the request's token
        # to Nova, which is not configured here: excluded
        requests, statuses = run_schemathesis(
            self, self.server, self.tmp, 'noauth',
            {'X-Roles': 'admin', 'X-Project-Id': 'fuzz-project',
             'X-User-Id': 'fuzz-user'},
            exclude_path_regex='^/v1/instances/')
        self.assertGreater(statuses.get(200, 0), 0)


class TestFuzzKeystone(keystone.KeystoneLabTestCase):
    """The API on the lab's Keystone, with an admin's and a member's token.

    The member's token is ``alpha-member``'s, whose server the instance
    requests read and change (through Nova, with that token).
    """

    @classmethod
    def start_class(cls):
        db, url = cls.database()
        identifiers = seed(db)
        server = cls.boot_server(keystone.ALPHA_MEMBER, 'fuzz-alpha')
        cls.api = cls.start_api(url)
        # half of the path identifiers generated are real ones
        cls.config = os.path.join(cls.tmp, 'schemathesis.toml')
        with open(cls.config, 'w', encoding='utf-8') as f:
            f.write('[dictionaries.uuids]\nvalues = [%s]\n'
                    '[dictionaries.hosts]\nvalues = ["%s"]\n'
                    '[parameters]\n'
                    '"path.uuid" = { dictionary = "uuids", '
                    'probability = 0.5 }\n'
                    '"path.host" = { dictionary = "hosts", '
                    'probability = 0.5 }\n'
                    % (', '.join('"%s"' % i for i in
                                 identifiers + [server.id]),
                       HOST))

    def fuzz(self, cloud):
        who = keystone.identity(cloud)
        # the newest microversion, so that its operations (1.2: the
        # balancer's settings, a host's pause) are fuzzed too; the noauth
        # run above speaks 1.0
        return run_schemathesis(
            self, self.api, self.tmp, cloud,
            {'X-Auth-Token': who.token,
             'OpenStack-API-Version': 'drs latest'},
            checks=CHECKS + ['ignored_auth'], config=self.config)

    def test_admin_token(self):
        _requests, statuses = self.fuzz(keystone.ADMIN)
        # the token was used: cluster-wide resources answered
        self.assertGreater(statuses.get(200, 0), 0, statuses)

    def test_member_token(self):
        _requests, statuses = self.fuzz(keystone.ALPHA_MEMBER)
        # refused the cluster-wide resources; shown its own server
        self.assertGreater(statuses.get(403, 0), 0, statuses)
        self.assertGreater(statuses.get(200, 0), 0, statuses)
