# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-balancer``: what stops it before the service starts.

Each problem ends with one line on standard error and exit code 2, and
the service is never started.
"""

import io
import os
import textwrap

import fixtures
from oslotest import base

from nova_drs.cmd import balancer
from nova_drs.db import migration

AUTH = """\
[drs_nova]
auth_type = admin_token
endpoint = http://127.0.0.1:8774/v2.1
token = admin
"""


class BalancerCommandTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))
        self.started = []
        self.useFixture(fixtures.MonkeyPatch(
            'nova_drs.balancer.service.run', self.started.append))
        self.db = 'sqlite:///' + os.path.join(self.tmp, 'drs.sqlite')

    def run_with(self, text, sync=True):
        if sync:
            migration.upgrade(None, connection=self.db)
        path = os.path.join(self.tmp, 'balancer.conf')
        with open(path, 'w') as f:
            f.write(textwrap.dedent(text))
        return balancer.main(['--config-file', path])

    def assertRefused(self, rc, *fragments):
        self.assertEqual(balancer.EXIT_USAGE, rc)
        self.assertEqual([], self.started)
        err = self.stderr.getvalue()
        self.assertEqual(1, len(err.strip().splitlines()), err)
        self.assertTrue(err.startswith('nova-drs-balancer: '), err)
        self.assertNotIn('Traceback', err)
        for fragment in fragments:
            self.assertIn(fragment, err)

    def test_starts_with_a_good_configuration(self):
        rc = self.run_with(AUTH + '[drs_database]\nconnection = %s\n'
                           % self.db)
        self.assertEqual(balancer.EXIT_OK, rc)
        self.assertEqual(1, len(self.started))
        self.assertEqual('', self.stderr.getvalue())

    def test_invalid_value(self):
        rc = self.run_with(AUTH + '[drs_balancer]\nmode = automatic\n')
        self.assertRefused(rc, 'mode', 'automatic')

    def test_severe_threshold_below_threshold(self):
        rc = self.run_with(AUTH + '[drs_balancer]\n'
                           'severe_cpu_threshold = 0.5\n'
                           '[drs_database]\nconnection = %s\n' % self.db)
        self.assertRefused(rc, 'severe_cpu_threshold (0.5) must not be '
                           'below [drs] cpu_threshold')

    def test_takeover_after_too_short(self):
        rc = self.run_with(AUTH + '[drs_actuator]\npoll_interval = 2\n'
                           'takeover_after = 3\n'
                           '[drs_database]\nconnection = %s\n' % self.db)
        self.assertRefused(rc, 'takeover_after')

    def test_no_credentials(self):
        rc = self.run_with('[drs_database]\nconnection = %s\n' % self.db)
        self.assertRefused(rc, '[drs_nova] auth_type is not set')

    def test_schema_not_synced(self):
        rc = self.run_with(AUTH + '[drs_database]\nconnection = %s\n'
                           % self.db, sync=False)
        self.assertRefused(rc, 'schema revision none',
                           'run nova-drs-manage db sync')

    def test_database_unreachable(self):
        rc = self.run_with(
            AUTH + '[drs_database]\nconnection = '
            'sqlite:////nonexistent/dir/drs.sqlite\n', sync=False)
        self.assertRefused(rc, 'cannot open the SQLite database')
