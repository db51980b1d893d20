# SPDX-License-Identifier: Apache-2.0
"""The openstacksdk connection built from [drs_nova] / [drs_placement]."""

import os

import fixtures
from keystoneauth1 import session as ks_session
from oslotest import base

from nova_drs.balancer import clients
from nova_drs import config


class TestConnect(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def conf(self, text):
        path = os.path.join(self.tmp, 'nova-drs.conf')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return config.load([path])

    def test_defaults(self):
        conf = config.load()
        self.assertIsNone(conf.drs_nova.auth_type)
        self.assertEqual(['internal', 'public'],
                         conf.drs_nova.valid_interfaces)
        self.assertEqual(['internal', 'public'],
                         conf.drs_placement.valid_interfaces)
        self.assertEqual(120.0, conf.drs_nova.timeout)
        self.assertEqual(2.0, conf.drs_actuator.poll_interval)
        self.assertEqual('abort', conf.drs_actuator.timeout_action)

    def test_no_auth_type(self):
        e = self.assertRaises(clients.ClientConfigError, clients.connect,
                              config.load())
        self.assertIn('[drs_nova] auth_type is not set', str(e))

    def test_unknown_plugin(self):
        conf = self.conf('[drs_nova]\nauth_type = no-such-plugin\n')
        e = self.assertRaises(clients.ClientConfigError, clients.connect,
                              conf)
        self.assertIn('cannot load the auth plugin', str(e))

    def test_password_plugin_without_auth_url(self):
        conf = self.conf('[drs_nova]\nauth_type = password\n'
                         'username = drs\npassword = secret\n')
        e = self.assertRaises(clients.ClientConfigError, clients.connect,
                              conf)
        self.assertIn('auth', str(e))

    def test_admin_token_lab_settings(self):
        conf = self.conf("""\
[drs_nova]
auth_type = admin_token
endpoint = http://127.0.0.1:8774/v2.1
token = admin
timeout = 30

[drs_placement]
endpoint_override = http://127.0.0.1:8778
valid_interfaces = admin
""")
        session = clients.load_session(conf)
        self.assertEqual(30.0, session.timeout)
        region = clients.cloud_config(conf, session)
        self.assertEqual('http://127.0.0.1:8778',
                         region.get_endpoint('placement'))
        self.assertIsNone(region.get_endpoint('compute'))
        self.assertEqual(['admin'], region.get_interface('placement'))
        self.assertEqual(['internal', 'public'],
                         region.get_interface('compute'))
        conn = clients.connect(conf)
        # admin_token: every request goes to the configured endpoint
        self.assertEqual('http://127.0.0.1:8774/v2.1',
                         conn.session.get_endpoint(service_type='compute'))

    def test_http_pools_hold_a_connection_per_placement_reader(self):
        lab = ('[drs_nova]\nauth_type = admin_token\n'
               'endpoint = http://127.0.0.1:8774/v2.1\ntoken = admin\n')
        for concurrency, pool in ((1, 10), (8, 10), (10, 10), (32, 32)):
            conn = clients.connect(self.conf(
                lab + '[drs_balancer]\nplacement_read_concurrency = %d\n'
                % concurrency))
            for scheme in ('http://', 'https://'):
                adapter = conn.session.session.get_adapter(scheme)
                # keystoneauth's (TCP keep-alive), one connection a reader
                self.assertIsInstance(adapter,
                                      ks_session.TCPKeepAliveAdapter)
                self.assertEqual(pool, adapter._pool_maxsize)

    def test_region_and_compute_override(self):
        conf = self.conf("""\
[drs_nova]
auth_type = admin_token
endpoint = http://nova.example:8774/v2.1
token = t
region_name = RegionTwo
endpoint_override = http://nova-internal.example:8774/v2.1

[drs_placement]
region_name = RegionThree
""")
        region = clients.cloud_config(conf, clients.load_session(conf))
        self.assertEqual('RegionTwo', region.get_region_name())
        self.assertEqual('RegionTwo', region.get_region_name('compute'))
        self.assertEqual('RegionThree', region.get_region_name('placement'))
        self.assertEqual('http://nova-internal.example:8774/v2.1',
                         region.get_endpoint('compute'))
