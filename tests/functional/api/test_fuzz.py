# SPDX-License-Identifier: Apache-2.0
"""Fuzzing the API with schemathesis, from its OpenAPI document.

schemathesis generates requests from the document (valid ones, and
invalid ones in every place the schemas allow: bodies, query strings,
paths, headers) and sends them to a real ``nova-drs-api`` on a SQLite
database that holds hosts, plans, migrations and plan requests, as an
admin (``noauth`` headers). No answer may be a server error (5xx), and
every answer must match the document. The number of examples per
operation is bounded so that the run stays under a minute.
"""

import os
import subprocess
import sys

import fixtures
from oslotest import base as oslo_base

from nova_drs.db import api as db_api
from nova_drs.db import migration
from nova_drs.db import models
from tests.functional.api import base
from tests.unit.db import base as db_base
from tests.unit.db import test_host_states

#: examples per operation: 17 operations, about 60 s on 2 cores
MAX_EXAMPLES = int(os.environ.get('NOVA_DRS_FUZZ_EXAMPLES', '25'))
TIMEOUT = 300


class TestFuzz(oslo_base.BaseTestCase):

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        url = 'sqlite:///' + os.path.join(tmp, 'nova-drs.sqlite')
        migration.upgrade(None, connection=url)
        db = db_api.Database(connection=url)
        self.addCleanup(db.dispose)
        db.save_host_states([test_host_states.host_state('host-1',
                                                         hot=['cpu'])],
                            'replica-a')
        plan = db.create_plan(db_base.make_plan(2), models.ORIGIN_HOTSPOT,
                              'replica-a')
        db.create_plan_request(models.REQUEST_PLAN, 'u')
        db.transition_plan(plan.uuid, models.PLAN_RECOMMENDED,
                           models.PLAN_APPLYING, 'u')
        # instances: Nova is not configured here, which the API must
        # answer with a 503, not a fault: excluded from the 5xx check
        self.server = self.useFixture(base.ApiServer(url))
        self.tmp = tmp

    def test_no_server_error(self):
        report = os.path.join(self.tmp, 'junit.xml')
        command = [
            sys.executable, '-m', 'schemathesis.cli', 'run',
            self.server.url + '/openapi.yaml',
            '--url', self.server.url,
            '--checks', 'not_a_server_error,response_schema_conformance,'
                        'content_type_conformance',
            '--max-examples', str(MAX_EXAMPLES),
            '--seed', '20261204',
            '--exclude-path-regex', '^/v1/instances/',
            '--header', 'X-Roles: admin',
            '--header', 'X-Project-Id: fuzz-project',
            '--header', 'X-User-Id: fuzz-user',
            '--request-timeout', '20',
            '--no-color',
            '--report', 'junit', '--report-junit-path', report,
        ]
        proc = subprocess.run(command, capture_output=True, text=True,
                              timeout=TIMEOUT, cwd=self.tmp)
        self.assertEqual(0, proc.returncode,
                         'schemathesis found problems:\n%s\n%s'
                         % (proc.stdout[-6000:], proc.stderr[-2000:]))
        self.assertNotIn('Traceback', self.server.log())
