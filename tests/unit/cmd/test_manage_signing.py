# SPDX-License-Identifier: Apache-2.0
"""``nova-drs-manage signing host-key``."""

import os
import stat

import fixtures
from oslotest import base

from nova_drs.notifications import payload
from nova_drs.notifications import signing
from tests.unit.agent import test_payload as agent_payloads
from tests.unit.db import test_manage

SECRET = 'manage test secret'


class TestHostKey(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.conf = os.path.join(self.tmp, 'nova-drs.conf')
        with open(self.conf, 'w') as f:
            f.write('[drs_signing]\nsecret = %s\n' % SECRET)

    def test_prints_the_key_the_balancer_derives(self):
        rc, out, err = test_manage.run_manage(
            '--config-file', self.conf, 'signing', 'host-key', 'compute-1')
        self.assertEqual((0, ''), (rc, err))
        key = out.strip()
        self.assertEqual(signing.host_key(SECRET, 'compute-1').hex(), key)
        self.assertNotIn(SECRET, out)
        # an agent signing with it is believed for compute-1 only
        doc = signing.Signer(bytes.fromhex(key), signing.HOST,
                             'nova-drs-agent:compute-1').sign(
            payload.METRICS_EVENT, agent_payloads.metrics_payload())
        verifier = signing.Verifier(SECRET, require_host_keys=True)
        verifier.verify(payload.METRICS_EVENT, 'nova-drs-agent:compute-1',
                        'compute-1', doc)
        self.assertRaises(signing.SignatureError, verifier.verify,
                          payload.METRICS_EVENT, 'nova-drs-agent:compute-2',
                          'compute-2', doc)

    def test_writes_a_private_key_file(self):
        path = os.path.join(self.tmp, 'compute-1.key')
        rc, out, err = test_manage.run_manage(
            'signing', 'host-key', 'compute-1', '--output', path,
            '--config-file', self.conf)
        self.assertEqual((0, ''), (rc, err))
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))
        self.assertEqual(signing.host_key(SECRET, 'compute-1'),
                         signing.read_key_file(path))
        # never over an existing file
        rc, out, err = test_manage.run_manage(
            'signing', 'host-key', 'compute-1', '--output', path,
            '--config-file', self.conf)
        self.assertEqual(2, rc)
        self.assertIn('cannot create', err)

    def test_errors(self):
        empty = os.path.join(self.tmp, 'empty.conf')
        open(empty, 'w').close()
        rc, out, err = test_manage.run_manage(
            '--config-file', empty, 'signing', 'host-key', 'compute-1')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('[drs_signing] secret is not set', err)
        rc, out, err = test_manage.run_manage(
            '--config-file', self.conf, 'signing', 'host-key', 'bad host')
        self.assertEqual((2, ''), (rc, out))
        self.assertIn('is not a host name Nova accepts', err)
        self.assertNotIn('Traceback', err)
