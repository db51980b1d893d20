# SPDX-License-Identifier: Apache-2.0
"""``nova_drs.wsgi.api`` (through :mod:`nova_drs.api.deploy`) and
``nova-drs-api``: configuration and errors.
"""

import os
import subprocess
import sys

import fixtures
from oslotest import base

from nova_drs.api import app
from nova_drs.api import deploy as wsgi_api


class TestWsgiModule(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def test_config_files_from_the_environment(self):
        # nothing named: nova_drs.config's default lookup applies
        self.assertEqual([], wsgi_api.config_files({}))
        self.assertEqual(['/a.conf', '/b.conf'], wsgi_api.config_files(
            {wsgi_api.ENV: '/a.conf; /b.conf'}))

    def test_init_application(self):
        path = os.path.join(self.tmp, 'api.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[drs_api]\nauth_strategy = noauth\n')
        application = wsgi_api.init_application({wsgi_api.ENV: path})
        self.assertIsInstance(application, app.Application)

    def test_bad_configuration_is_one_line(self):
        path = os.path.join(self.tmp, 'api.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('[drs_api]\nauth_strategy = nobody\n')
        env = dict(os.environ, **{wsgi_api.ENV: path})
        proc = subprocess.run(
            [sys.executable, '-c', 'import nova_drs.wsgi.api'],
            env=env, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(0, proc.returncode)
        self.assertIn('nova-drs-api: invalid value for [drs_api] '
                      'auth_strategy', proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)


class TestDevelopmentServerCommand(base.BaseTestCase):

    def run_api(self, *args):
        return subprocess.run(
            [sys.executable, '-m', 'nova_drs.cmd.api'] + list(args),
            capture_output=True, text=True, timeout=60)

    def test_missing_config_file(self):
        proc = self.run_api('--config-file', '/nonexistent/x.conf')
        self.assertEqual(2, proc.returncode)
        self.assertIn('x.conf', proc.stderr)
        self.assertNotIn('Traceback', proc.stderr)

    def test_bad_port(self):
        proc = self.run_api('--port', '70000')
        self.assertEqual(2, proc.returncode)
        self.assertIn('not a TCP port', proc.stderr)
