# SPDX-License-Identifier: Apache-2.0
"""The OSC plugin module, and whole ``openstack drs`` runs in-process.

The in-process runs go through python-openstackclient's real shell: its
plugin loading (this package's entry points), option parsing, the
client's construction and the error handling, with requests-mock in
place of the API.
"""

import argparse
import io
import json
import os
import types

import fixtures
from keystoneauth1 import session as ks_session
from openstackclient.common import clientmanager as osc_clientmanager
from openstackclient import shell
from osc_lib import exceptions
from oslotest import base
from requests_mock.contrib import fixture as rm_fixture

from nova_drs.balancer import plan_states
from nova_drs.db import models
from nova_drs.osc import plugin
from nova_drs.osc.v1 import balancer
from nova_drs.osc.v1 import states
from tests.unit.osc import fakes

ENDPOINT = 'http://drs.test:9700'


class PluginTest(base.BaseTestCase):

    def test_check_api_version(self):
        for good in ('1.0', '1.7', '1.12'):
            self.assertIs(True, plugin.check_api_version(good))
        for bad in ('1', '2.0', 'latest', '1.x', '01.0', ''):
            self.assertRaises(exceptions.CommandError,
                              plugin.check_api_version, bad)

    def test_noauth_headers(self):
        self.assertEqual({}, plugin.noauth_headers({}))
        self.assertEqual(
            {'X-Roles': 'admin', 'X-User-Id': 'u'},
            plugin.noauth_headers({plugin.NOAUTH_HEADERS_ENV:
                                   '{"X-Roles": "admin", "X-User-Id": "u"}'}))
        for bad in ('X-Roles=admin', '["X-Roles"]', '{"Authorization": "x"}',
                    '{"X-Roles": ["admin"]}'):
            exc = self.assertRaises(
                exceptions.CommandError, plugin.noauth_headers,
                {plugin.NOAUTH_HEADERS_ENV: bad})
            self.assertIn(plugin.NOAUTH_HEADERS_ENV, str(exc))

    def test_option_parser_defaults_from_environment(self):
        self.useFixture(fixtures.EnvironmentVariable('OS_DRS_API_VERSION',
                                                     '1.2'))
        self.useFixture(fixtures.EnvironmentVariable('OS_DRS_ENDPOINT',
                                                     ENDPOINT))
        parser = plugin.build_option_parser(argparse.ArgumentParser())
        options = parser.parse_args([])
        self.assertEqual('1.2', options.os_drs_api_version)
        self.assertEqual(ENDPOINT, options.os_drs_endpoint)
        options = parser.parse_args(['--os-drs-endpoint', 'http://x'])
        self.assertEqual('http://x', options.os_drs_endpoint)

    def test_default_is_the_newest_version_the_client_knows(self):
        self.useFixture(fixtures.EnvironmentVariable('OS_DRS_API_VERSION'))
        parser = plugin.build_option_parser(argparse.ArgumentParser())
        self.assertEqual('1.4', parser.parse_args([]).os_drs_api_version)

    def test_make_client(self):
        self.useFixture(fixtures.EnvironmentVariable(
            plugin.NOAUTH_HEADERS_ENV, '{"X-Roles": "reader"}'))
        instance = types.SimpleNamespace(
            session=ks_session.Session(), interface='internal',
            region_name='RegionTwo', _api_version={'drs': '1.4'},
            get_configuration=lambda: {'drs_endpoint': ENDPOINT})
        client = plugin.make_client(instance)
        self.assertEqual('1.4', client.api_version)
        self.assertEqual({'X-Roles': 'reader'}, client.headers)
        self.assertEqual(ENDPOINT, client.adapter.endpoint_override)
        self.assertEqual('internal', client.adapter.interface)
        self.assertEqual('RegionTwo', client.adapter.region_name)
        self.assertEqual('drs', client.adapter.service_type)

    def test_filter_choices_match_the_database(self):
        self.assertEqual(set(plan_states.PLAN_STATES), set(states.PLAN_STATES))
        self.assertEqual(set(models.ORIGINS), set(states.PLAN_ORIGINS))
        self.assertEqual(set(plan_states.ACTION_STATES),
                         set(states.MIGRATION_STATES))
        self.assertEqual(models.MODES, balancer.MODES)


class OpenStackShellTest(base.BaseTestCase):
    """``openstack drs ...`` run by python-openstackclient itself."""

    def setUp(self):
        super().setUp()
        for name in list(os.environ):
            if name.startswith('OS_'):
                self.useFixture(fixtures.EnvironmentVariable(name))
        # No clouds.yaml of the machine's user may change the options.
        home = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('HOME', home))
        self.useFixture(fixtures.EnvironmentVariable('XDG_CONFIG_HOME',
                                                     home))
        self.http = self.useFixture(rm_fixture.Fixture())

    def openstack(self, *argv):
        stdout, stderr = io.StringIO(), io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stdout', stdout))
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', stderr))
        self.forget_client()
        self.addCleanup(self.forget_client)
        try:
            rc = shell.main(['--os-auth-type', 'none',
                             '--os-drs-endpoint', ENDPOINT] + list(argv))
        except SystemExit as exc:
            # argparse's usage errors; the console script turns this into
            # the exit status.
            rc = exc.code
        return rc, stdout.getvalue(), stderr.getvalue()

    @staticmethod
    def forget_client():
        # NOTE: osc-lib caches each plugin's client on the ClientManager
        # class, i.e. for the whole process; each run here is a new
        # "openstack" command and must make its own.
        for klass in osc_clientmanager.ClientManager.__mro__:
            cache = klass.__dict__.get('drs')
            if cache is not None:
                cache._handle = None

    def test_json_output(self):
        self.http.get(ENDPOINT + '/v1/status',
                      json={'status': fakes.STATUS})
        rc, out, err = self.openstack('--os-drs-api-version', '1.1',
                                      'drs', 'status', '-f', 'json')
        self.assertEqual(0, rc, err)
        self.assertEqual(2, json.loads(out)['Hosts'])
        request = self.http.request_history[-1]
        self.assertEqual('drs 1.1', request.headers['OpenStack-API-Version'])

    def test_api_error_is_one_line_and_exit_1(self):
        self.http.post(
            ENDPOINT + '/v1/plans/p/apply', status_code=409,
            json={'error': {'code': 409, 'title': 'Conflict',
                            'message': 'plan p is applied, not recommended'}})
        rc, out, err = self.openstack('drs', 'plan', 'apply', 'p')
        self.assertEqual(1, rc)
        self.assertEqual('', out)
        self.assertEqual('plan p is applied, not recommended (HTTP 409)',
                         err.strip())

    def test_usage_error_exit_2(self):
        rc, out, err = self.openstack('drs', 'host', 'list', '--hot',
                                      '--not-hot')
        self.assertEqual(2, rc)
        self.assertIn('not allowed with argument', err)
        self.assertNotIn('Traceback', err)
        self.assertEqual([], self.http.request_history)

    def test_bad_api_version(self):
        rc, out, err = self.openstack('--os-drs-api-version', '3', 'drs',
                                      'status')
        self.assertEqual(1, rc)
        self.assertIn("invalid nova-drs API version '3'", err)
        self.assertNotIn('Traceback', err)
